// A minimal zip writer for evidence bundles (docs/formats.md "Evidence bundle"): *stored*
// (uncompressed) entries in the order given, fixed timestamps (1980-01-01 00:00:00, the earliest
// DOS date), CRC-32 (IEEE, as PKZIP's APPNOTE 4.4.7), no extra fields, no zip64 (a bundle is far
// below 4 GiB; larger input is refused). Same files in, same bytes out.

let table = null;
function crcTable() {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 of `bytes` (the zip / PNG / gzip polynomial). */
export function crc32(bytes) {
  const t = crcTable();
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

/**
 * The zip archive of `entries` ([[path, Uint8Array]], in archive order) as one Uint8Array.
 */
export function zipStored(entries) {
  const enc = new TextEncoder();
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [path, data] of entries) {
    const name = enc.encode(path);
    const utf8 = /[^\x20-\x7e]/.test(path);
    const crc = crc32(data);
    if (data.length >= 0xffffffff || offset >= 0xffffffff) throw new Error('the bundle is larger than a zip without zip64 holds (4 GiB)');
    const head = (sig, central) => {
      const b = new Uint8Array((central ? 46 : 30) + name.length);
      const v = new DataView(b.buffer);
      let p = 0;
      const u16 = (x) => {
        v.setUint16(p, x, true);
        p += 2;
      };
      const u32 = (x) => {
        v.setUint32(p, x, true);
        p += 4;
      };
      u32(sig);
      if (central) u16(20); // version made by: 2.0, MS-DOS attributes
      u16(10); // version needed: 1.0 (stored)
      u16(utf8 ? 0x0800 : 0); // flags: bit 11 = UTF-8 name
      u16(0); // method: stored
      u16(DOS_TIME);
      u16(DOS_DATE);
      u32(crc);
      u32(data.length); // compressed size
      u32(data.length); // uncompressed size
      u16(name.length);
      u16(0); // extra length
      if (central) {
        u16(0); // comment length
        u16(0); // disk number start
        u16(0); // internal attributes
        u32(0); // external attributes
        u32(offset); // local header offset
      }
      b.set(name, p);
      return b;
    };
    const local = head(0x04034b50, false);
    centrals.push(head(0x02014b50, true));
    locals.push(local, data);
    offset += local.length + data.length;
  }
  if (entries.length > 0xffff) throw new Error('too many files for a zip without zip64');
  const cdSize = centrals.reduce((n, c) => n + c.length, 0);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(4, 0, true); // this disk
  v.setUint16(6, 0, true); // disk with the central directory
  v.setUint16(8, entries.length, true);
  v.setUint16(10, entries.length, true);
  v.setUint32(12, cdSize, true);
  v.setUint32(16, offset, true);
  v.setUint16(20, 0, true); // comment length
  const parts = [...locals, ...centrals, end];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

/**
 * Reads a stored-only zip (as zipStored writes it) back into [[path, Uint8Array]] by its central
 * directory, checking each entry's CRC-32; for tests and for rewriting an entry.
 */
export function unzipStored(zip) {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= 0; i--) {
    if (v.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  const dec = new TextDecoder();
  const out = [];
  for (let i = 0; i < count; i++) {
    if (v.getUint32(p, true) !== 0x02014b50) throw new Error(`central directory entry ${i} has a bad signature`);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    const size = v.getUint32(p + 20, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const local = v.getUint32(p + 42, true);
    const name = dec.decode(zip.subarray(p + 46, p + 46 + nameLen));
    if (method !== 0) throw new Error(`${name} is not stored (method ${method})`);
    if (v.getUint32(local, true) !== 0x04034b50) throw new Error(`${name}: bad local header`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    const data = zip.subarray(start, start + size);
    if (crc32(data) !== crc) throw new Error(`${name}: CRC-32 mismatch`);
    out.push([name, data]);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
