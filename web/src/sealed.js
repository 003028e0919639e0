// Opening dashledger sealed clips in the browser (and in Node for tests) with WebCrypto,
// chunk by chunk, with an incremental Keccak-256 of the plaintext and of the sealed bytes.
//
// Layout (docs/formats.md, "Sealed clip"; protocol/src/seal.rs):
//   file    = header (56 bytes) || chunk_0 || ... || chunk_last
//   header  = "DLSEAL" | version 0x01 | alg 0x01 (AES-256-GCM) | chunk_size u32 BE
//             | nonce_prefix (7) | 5 zero bytes | keccak256(session key) (32)
//   chunk_i = AES-256-GCM(key, iv = nonce_prefix || i u32 BE || final flag, aad = header)
// Every non-final chunk is exactly chunk_size + 16 bytes; the final one 16..=chunk_size + 16.

import { keccak_256 } from '@noble/hashes/sha3.js';

export const HEADER_LEN = 56;
export const TAG_LEN = 16;
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const MAGIC = [0x44, 0x4c, 0x53, 0x45, 0x41, 0x4c]; // "DLSEAL"

/** An error naming exactly what failed while opening a sealed clip. */
export class SealedError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SealedError';
    this.code = code;
  }
}

export function toHex(bytes) {
  let s = '0x';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex, what = 'hex value') {
  const h = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) {
    throw new Error(`${what} is not valid hex: '${hex.slice(0, 20)}${hex.length > 20 ? '…' : ''}'`);
  }
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function keccakHex(bytes) {
  return toHex(keccak_256(bytes));
}

/** Parses and validates the 56-byte header. */
export function parseHeader(bytes) {
  if (bytes.length < HEADER_LEN) {
    throw new SealedError('truncated', `the file is ${bytes.length} bytes: shorter than the 56-byte sealed-clip header`);
  }
  const b = bytes.subarray(0, HEADER_LEN);
  for (let i = 0; i < MAGIC.length; i++) {
    if (b[i] !== MAGIC[i]) throw new SealedError('magic', 'not a dashledger sealed clip (bad magic; expected "DLSEAL")');
  }
  if (b[6] !== 1) throw new SealedError('version', `unsupported sealed-clip version ${b[6]} (this page reads version 1)`);
  if (b[7] !== 1) throw new SealedError('algorithm', `unknown algorithm ${b[7]} (1 = AES-256-GCM)`);
  for (let i = 19; i < 24; i++) {
    if (b[i] !== 0) throw new SealedError('reserved', 'reserved header bytes 19..24 must be zero');
  }
  const chunkSize = new DataView(b.buffer, b.byteOffset + 8, 4).getUint32(0, false);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new SealedError('chunk_size', `chunk size ${chunkSize} outside ${MIN_CHUNK_SIZE}..=${MAX_CHUNK_SIZE}`);
  }
  return {
    bytes: b.slice(),
    chunkSize,
    noncePrefix: b.slice(12, 19),
    keyCommitment: toHex(b.subarray(24, 56)),
  };
}

/** The 12-byte IV of chunk `index`. */
export function chunkNonce(header, index, isFinal) {
  const n = new Uint8Array(12);
  n.set(header.noncePrefix, 0);
  new DataView(n.buffer).setUint32(7, index, false);
  n[11] = isFinal ? 1 : 0;
  return n;
}

/**
 * Reads exactly `n` bytes (or fewer at the end of the stream) from a ReadableStream reader,
 * keeping leftovers between calls.
 */
class ByteReader {
  constructor(reader) {
    this.reader = reader;
    this.pending = [];
    this.pendingLen = 0;
    this.done = false;
  }
  async read(n) {
    while (this.pendingLen < n && !this.done) {
      const { value, done } = await this.reader.read();
      if (done) {
        this.done = true;
        break;
      }
      if (value && value.length) {
        this.pending.push(value instanceof Uint8Array ? value : new Uint8Array(value));
        this.pendingLen += value.length;
      }
    }
    const take = Math.min(n, this.pendingLen);
    const out = new Uint8Array(take);
    let off = 0;
    while (off < take) {
      const head = this.pending[0];
      const k = Math.min(head.length, take - off);
      out.set(head.subarray(0, k), off);
      off += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    this.pendingLen -= take;
    return out;
  }
}

/** Wraps a Uint8Array, Blob/File, Response or ReadableStream as a ReadableStream. */
export function asStream(source) {
  if (source instanceof Uint8Array) {
    return new ReadableStream({
      start(c) {
        // Hand it over in 64 KiB pieces so progress and chunk boundaries are exercised.
        for (let i = 0; i < source.length; i += 65536) c.enqueue(source.subarray(i, i + 65536));
        c.close();
      },
    });
  }
  if (typeof source?.getReader === 'function') return source;
  if (typeof source?.stream === 'function') return source.stream();
  if (source?.body && typeof source.body.getReader === 'function') return source.body;
  throw new TypeError('sealed clip source must be bytes, a Blob/File, a Response or a ReadableStream');
}

/**
 * Opens a sealed clip chunk by chunk.
 *
 * @param source bytes, Blob/File, Response or ReadableStream of the sealed file
 * @param keyBytes the 32-byte session key
 * @param opts.totalBytes sealed length if known (for progress)
 * @param opts.onChunk(plaintextChunk, index) receives each authenticated plaintext chunk
 * @param opts.onProgress({ sealedBytes, totalBytes, chunks })
 * @param opts.subtle WebCrypto SubtleCrypto (defaults to globalThis.crypto.subtle)
 * @returns { plaintextLength, sealedLength, chunks, videoHash, cipherHash, keyCommitment }
 */
export async function openSealed(source, keyBytes, opts = {}) {
  const subtle = opts.subtle ?? globalThis.crypto.subtle;
  if (!(keyBytes instanceof Uint8Array) || keyBytes.length !== 32) {
    throw new SealedError('key', 'the session key must be 32 bytes');
  }
  const reader = asStream(source).getReader();
  const br = new ByteReader(reader);
  const cipherHasher = keccak_256.create();
  const plainHasher = keccak_256.create();
  try {
    const headerBytes = await br.read(HEADER_LEN);
    const header = parseHeader(headerBytes);
    cipherHasher.update(headerBytes);
    const commitment = keccakHex(keyBytes);
    if (commitment !== header.keyCommitment) {
      throw new SealedError(
        'wrong_key',
        `the recovered session key does not match this file: the header commits to ${header.keyCommitment}, the key hashes to ${commitment}`,
      );
    }
    const key = await subtle.importKey('raw', keyBytes, { name: 'AES-GCM' }, false, ['decrypt']);
    const full = header.chunkSize + TAG_LEN;
    let cur = await br.read(full);
    let index = 0;
    let sealedLength = HEADER_LEN;
    let plaintextLength = 0;
    for (;;) {
      if (cur.length < TAG_LEN) {
        throw new SealedError(
          'truncated',
          index === 0 && cur.length === 0
            ? 'the file ends after its header: no chunks'
            : `the file is truncated after chunk ${index} (${cur.length} stray bytes)`,
        );
      }
      let next = null;
      let isFinal = cur.length < full;
      if (!isFinal) {
        next = await br.read(full);
        isFinal = next.length === 0;
      }
      cipherHasher.update(cur);
      sealedLength += cur.length;
      let pt;
      try {
        pt = new Uint8Array(
          await subtle.decrypt(
            { name: 'AES-GCM', iv: chunkNonce(header, index, isFinal), additionalData: header.bytes, tagLength: 128 },
            key,
            cur,
          ),
        );
      } catch {
        throw new SealedError(
          'chunk_auth',
          isFinal
            ? `chunk ${index} (the last one) failed authentication: the file is corrupted, truncated or reordered`
            : `chunk ${index} failed authentication: the file is corrupted, truncated or reordered`,
        );
      }
      plainHasher.update(pt);
      plaintextLength += pt.length;
      if (opts.onChunk) await opts.onChunk(pt, index);
      if (opts.onProgress) opts.onProgress({ sealedBytes: sealedLength, totalBytes: opts.totalBytes ?? null, chunks: index + 1 });
      if (isFinal) break;
      cur = next;
      index += 1;
    }
    return {
      plaintextLength,
      sealedLength,
      chunks: index + 1,
      videoHash: toHex(plainHasher.digest()),
      cipherHash: toHex(cipherHasher.digest()),
      keyCommitment: header.keyCommitment,
    };
  } finally {
    reader.releaseLock?.();
  }
}

/**
 * Compares the result of `openSealed` with the EC's hashes; returns a list of problems
 * (empty = verified).
 */
export function checkAgainstEvidence(result, evidence) {
  const problems = [];
  const eq = (a, b) => a && b && a.toLowerCase() === b.toLowerCase();
  if (evidence.keyCommitment && !eq(result.keyCommitment, evidence.keyCommitment)) {
    problems.push(`the file's key commitment ${result.keyCommitment} differs from the EC's keyCommitment ${evidence.keyCommitment}`);
  }
  if (evidence.cipherHash && !eq(result.cipherHash, evidence.cipherHash)) {
    problems.push(`Keccak-256 of the sealed file is ${result.cipherHash}, the EC's cipherHash is ${evidence.cipherHash}`);
  }
  if (!eq(result.videoHash, evidence.videoHash)) {
    problems.push(`Keccak-256 of the video is ${result.videoHash}, the EC's videoHash is ${evidence.videoHash}`);
  }
  return problems;
}
