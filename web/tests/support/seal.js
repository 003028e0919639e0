// Test support: seals bytes in the sealed-clip format (docs/formats.md) with WebCrypto, so the
// page's opener can be tested on clips of any size. The Rust sealer's output is checked
// separately against the known-answer vectors in protocol/vectors/.

import { keccak_256 } from '@noble/hashes/sha3.js';

export async function sealBytes(plaintext, key, { chunkSize = 65536, noncePrefix = crypto.getRandomValues(new Uint8Array(7)) } = {}) {
  const header = new Uint8Array(56);
  header.set([0x44, 0x4c, 0x53, 0x45, 0x41, 0x4c], 0);
  header[6] = 1;
  header[7] = 1;
  new DataView(header.buffer).setUint32(8, chunkSize, false);
  header.set(noncePrefix, 12);
  header.set(keccak_256(key), 24);
  const k = await crypto.subtle.importKey('raw', key, { name: 'AES-GCM' }, false, ['encrypt']);
  const parts = [header];
  const count = plaintext.length === 0 ? 1 : Math.ceil(plaintext.length / chunkSize);
  for (let i = 0; i < count; i++) {
    const iv = new Uint8Array(12);
    iv.set(noncePrefix, 0);
    new DataView(iv.buffer).setUint32(7, i, false);
    iv[11] = i === count - 1 ? 1 : 0;
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: header }, k, plaintext.subarray(i * chunkSize, (i + 1) * chunkSize));
    parts.push(new Uint8Array(ct));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
