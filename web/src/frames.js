// Per-second frame leaves and the frames Merkle tree of a plaintext MP4 segment, written from
// docs/formats.md "Per-second frame leaves and `framesRoot`" (the reference is the Rust
// `dashledger_protocol::{mp4, frames}`; tests/unit/frames.test.js compares with its output).
//
// Sample reader: non-fragmented MP4 only; per moov/trak: tkhd track_ID, mdhd timescale (≠ 0),
// hdlr handler, stbl/{stts, stsz|stz2, stsc, stco|co64}; edit lists and ctts are ignored. Every
// sample gets (offset, size, dts). Tracks without samples are skipped.
//
// leaf_i = keccak256("dashledger:frame-leaf:v1" || u32 BE i || for each track by ascending
//          track_ID, each of its samples in decode order with floor(dts / timescale) == i:
//          u32 BE track_ID || u32 BE size || sample bytes)
// node(l, r) = keccak256(0x01 || l || r); an odd last element is carried up unchanged;
// framesRoot = keccak256(0x02 || u32 BE leaf_count || treeRoot).

import { keccak_256 } from '@noble/hashes/sha3.js';

export const MAX_SAMPLES = 1 << 22;
export const MAX_MOOV_LEN = 64 * 1024 * 1024;
export const MAX_SECONDS = 86400;
const LEAF_TAG = new TextEncoder().encode('dashledger:frame-leaf:v1');

export class Mp4Error extends Error {
  constructor(message) {
    super(`MP4: ${message}`);
    this.name = 'Mp4Error';
  }
}
const bad = (m) => new Mp4Error(m);
const fourcc = (b, o) => String.fromCharCode(b[o], b[o + 1], b[o + 2], b[o + 3]);

/** Checked big-endian reads over one box payload. */
class Cur {
  constructor(b, what) {
    this.b = b;
    this.pos = 0;
    this.what = what;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  remaining() {
    return this.b.length - this.pos;
  }
  take(n) {
    if (this.remaining() < n) throw bad(`${this.what} box is truncated`);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  u8() {
    return this.take(1)[0];
  }
  u32() {
    this.take(4);
    return this.dv.getUint32(this.pos - 4);
  }
  u64() {
    this.take(8);
    const v = this.dv.getBigUint64(this.pos - 8);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${this.what}: a 64-bit value beyond 2^53`);
    return Number(v);
  }
  count(entryLen) {
    const n = this.u32();
    if (n * entryLen > this.remaining()) throw bad(`${this.what} box claims ${n} entries but holds ${this.remaining()} bytes`);
    return n;
  }
}

/** The child boxes of an in-memory payload: [[type, payload]]. */
function children(b, parent) {
  const out = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let pos = 0;
  while (pos < b.length) {
    if (b.length - pos < 8) throw bad(`trailing ${b.length - pos} bytes in ${parent} box`);
    const size32 = dv.getUint32(pos);
    const typ = fourcc(b, pos + 4);
    let hdr = 8;
    let size;
    if (size32 === 0) size = b.length - pos;
    else if (size32 === 1) {
      if (b.length - pos < 16) throw bad(`truncated large box header in ${parent}`);
      hdr = 16;
      size = Number(dv.getBigUint64(pos + 8));
    } else size = size32;
    if (size < hdr || size > b.length - pos) throw bad(`box "${typ}" in ${parent} has size ${size}, outside its parent`);
    out.push([typ, b.subarray(pos + hdr, pos + size)]);
    pos += size;
  }
  return out;
}

function child(kids, typ, parent) {
  const found = kids.filter(([t]) => t === typ);
  if (!found.length) throw bad(`${parent} has no ${typ} box`);
  if (found.length > 1) throw bad(`${parent} has more than one ${typ} box`);
  return found[0][1];
}
const optChild = (kids, typ) => kids.find(([t]) => t === typ)?.[1];

function sampleSizes(stbl, trackId) {
  const stsz = optChild(stbl, 'stsz');
  if (stsz) {
    const c = new Cur(stsz, 'stsz');
    c.take(4);
    const fixed = c.u32();
    if (fixed === 0) {
      const n = c.count(4);
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = c.u32();
      return out;
    }
    const n = c.u32();
    if (n > MAX_SAMPLES) throw bad(`track ${trackId} has ${n} samples (max ${MAX_SAMPLES})`);
    return new Array(n).fill(fixed);
  }
  const stz2 = optChild(stbl, 'stz2');
  if (!stz2) throw bad(`track ${trackId} has neither stsz nor stz2`);
  const c = new Cur(stz2, 'stz2');
  c.take(7);
  const field = c.u8();
  const n = c.u32();
  const bytes = field === 4 ? Math.ceil(n / 2) : field === 8 ? n : field === 16 ? n * 2 : null;
  if (bytes === null) throw bad(`stz2 field size ${field} (must be 4, 8 or 16)`);
  if (bytes > c.remaining()) throw bad(`stz2 claims ${n} samples but holds ${c.remaining()} bytes`);
  const raw = c.take(bytes);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    if (field === 4) out[i] = i % 2 === 0 ? raw[i >> 1] >> 4 : raw[i >> 1] & 0x0f;
    else if (field === 8) out[i] = raw[i];
    else out[i] = (raw[2 * i] << 8) | raw[2 * i + 1];
  }
  return out;
}

function decodeTimes(stbl, trackId, n) {
  const c = new Cur(child(stbl, 'stts', 'stbl'), 'stts');
  c.take(4);
  const entries = c.count(8);
  const dts = [];
  let t = 0;
  for (let e = 0; e < entries; e++) {
    const count = c.u32();
    const delta = c.u32();
    if (count > n - dts.length) throw bad(`track ${trackId}: stts describes more samples than stsz (${n})`);
    for (let k = 0; k < count; k++) {
      dts.push(t);
      t += delta;
      if (!Number.isSafeInteger(t)) throw bad('decode time overflows');
    }
  }
  if (dts.length !== n) throw bad(`track ${trackId}: stts describes ${dts.length} samples, stsz ${n}`);
  return dts;
}

function chunkOffsets(stbl, trackId) {
  const stco = optChild(stbl, 'stco');
  if (stco) {
    const c = new Cur(stco, 'stco');
    c.take(4);
    const k = c.count(4);
    return Array.from({ length: k }, () => c.u32());
  }
  const co64 = optChild(stbl, 'co64');
  if (!co64) throw bad(`track ${trackId} has neither stco nor co64`);
  const c = new Cur(co64, 'co64');
  c.take(4);
  const k = c.count(8);
  return Array.from({ length: k }, () => c.u64());
}

function samplesPerChunk(stbl, trackId) {
  const c = new Cur(child(stbl, 'stsc', 'stbl'), 'stsc');
  c.take(4);
  const runs = c.count(12);
  const table = [];
  for (let r = 0; r < runs; r++) {
    const first = c.u32();
    const per = c.u32();
    c.u32();
    if (first === 0 || (table.length && first <= table[table.length - 1][0])) throw bad(`track ${trackId}: stsc first_chunk values must start at 1 and increase`);
    table.push([first, per]);
  }
  if (table[0]?.[0] !== 1) throw bad(`track ${trackId}: stsc must start at chunk 1`);
  return table;
}

function placeSamples(sizes, dts, offsets, table, trackId, fileLen) {
  const n = sizes.length;
  const samples = [];
  let s = 0;
  let run = 0;
  outer: for (let ci = 0; ci < offsets.length; ci++) {
    const chunkNo = ci + 1;
    while (run + 1 < table.length && table[run + 1][0] <= chunkNo) run++;
    const per = table[run][0] <= chunkNo ? table[run][1] : 0;
    let off = offsets[ci];
    for (let k = 0; k < per; k++) {
      if (s === n) break outer;
      const size = sizes[s];
      const end = off + size;
      if (end > fileLen) throw bad(`track ${trackId} sample ${s} (offset ${off}, size ${size}) lies outside the ${fileLen}-byte file`);
      samples.push({ offset: off, size, dts: dts[s] });
      off = end;
      s++;
    }
  }
  if (s !== n) throw bad(`track ${trackId}: chunks hold ${s} samples, stsz says ${n}`);
  return samples;
}

function parseTrack(trak, fileLen, total) {
  const kids = children(trak, 'trak');
  const tkhd = new Cur(child(kids, 'tkhd', 'trak'), 'tkhd');
  const tv = tkhd.u8();
  tkhd.take(3);
  tkhd.take(tv === 1 ? 16 : 8);
  const trackId = tkhd.u32();
  const mdia = children(child(kids, 'mdia', 'trak'), 'mdia');
  const mdhd = new Cur(child(mdia, 'mdhd', 'mdia'), 'mdhd');
  const mv = mdhd.u8();
  mdhd.take(3);
  mdhd.take(mv === 1 ? 16 : 8);
  const timescale = mdhd.u32();
  if (timescale === 0) throw bad(`track ${trackId} has timescale 0`);
  const hdlr = new Cur(child(mdia, 'hdlr', 'mdia'), 'hdlr');
  hdlr.take(8);
  const handler = fourcc(hdlr.take(4), 0);
  const minf = children(child(mdia, 'minf', 'mdia'), 'minf');
  const stbl = children(child(minf, 'stbl', 'minf'), 'stbl');
  const sizes = sampleSizes(stbl, trackId);
  if (!sizes.length) return null;
  total.n += sizes.length;
  if (total.n > MAX_SAMPLES) throw bad(`more than ${MAX_SAMPLES} samples`);
  const dts = decodeTimes(stbl, trackId, sizes.length);
  const samples = placeSamples(sizes, dts, chunkOffsets(stbl, trackId), samplesPerChunk(stbl, trackId), trackId, fileLen);
  return { trackId, handler, timescale, samples };
}

/** The tracks of a non-fragmented MP4 file (bytes), sorted by track_ID, empty ones omitted. */
export function readTracks(file) {
  const len = file.length;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let pos = 0;
  let moov = null;
  while (pos < len) {
    if (len - pos < 8) throw bad(`${len - pos} trailing bytes after the last box`);
    const size32 = dv.getUint32(pos);
    const typ = fourcc(file, pos + 4);
    let hdr = 8;
    let size;
    if (size32 === 0) size = len - pos;
    else if (size32 === 1) {
      if (len - pos < 16) throw bad(`top-level box "${typ}" at offset ${pos} has size beyond the ${len}-byte file`);
      hdr = 16;
      size = Number(dv.getBigUint64(pos + 8));
    } else size = size32;
    if (size < hdr || size > len - pos) throw bad(`top-level box "${typ}" at offset ${pos} has size ${size}, beyond the ${len}-byte file`);
    if (typ === 'moov') {
      if (moov) throw bad('more than one moov box');
      if (size - hdr > MAX_MOOV_LEN) throw bad(`moov box of ${size} bytes (max ${MAX_MOOV_LEN})`);
      moov = file.subarray(pos + hdr, pos + size);
    } else if (typ === 'moof') throw bad('fragmented MP4 (moof); record non-fragmented segments');
    pos += size;
  }
  if (!moov) throw bad('no moov box (not an MP4 file, or an unfinished recording)');
  const kids = children(moov, 'moov');
  if (optChild(kids, 'mvex')) throw bad('fragmented MP4 (mvex); record non-fragmented segments');
  const total = { n: 0 };
  const tracks = [];
  for (const [t, payload] of kids) {
    if (t !== 'trak') continue;
    const tr = parseTrack(payload, len, total);
    if (tr) tracks.push(tr);
  }
  tracks.sort((a, b) => a.trackId - b.trackId);
  for (let i = 1; i < tracks.length; i++) if (tracks[i].trackId === tracks[i - 1].trackId) throw bad('two tracks share a track_ID');
  return tracks;
}

const u32be = (n) => new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** The per-second leaves (Uint8Array(32) each) of the MP4 `file` (Uint8Array). */
export function frameLeaves(file) {
  const tracks = readTracks(file);
  let max = -1;
  for (const t of tracks) for (const s of t.samples) max = Math.max(max, Math.floor(s.dts / t.timescale));
  if (max < 0) throw bad('no samples in any track');
  if (max + 1 > MAX_SECONDS) throw bad(`more than ${MAX_SECONDS} seconds`);
  const cursors = tracks.map(() => 0);
  const leaves = [];
  for (let sec = 0; sec <= max; sec++) {
    const k = keccak_256.create();
    k.update(LEAF_TAG);
    k.update(u32be(sec));
    tracks.forEach((t, ti) => {
      for (;;) {
        const s = t.samples[cursors[ti]];
        if (!s || Math.floor(s.dts / t.timescale) !== sec) break;
        k.update(u32be(t.trackId));
        k.update(u32be(s.size));
        k.update(file.subarray(s.offset, s.offset + s.size));
        cursors[ti]++;
      }
    });
    leaves.push(k.digest());
  }
  return leaves;
}

const node = (l, r) => {
  const k = keccak_256.create();
  k.update(new Uint8Array([1]));
  k.update(l);
  k.update(r);
  return k.digest();
};
const bind = (count, root) => {
  const k = keccak_256.create();
  k.update(new Uint8Array([2]));
  k.update(u32be(count));
  k.update(root);
  return k.digest();
};

function checkCount(n) {
  if (n === 0 || n > MAX_SECONDS) throw new Error(`a frames tree has 1..=${MAX_SECONDS} leaves, got ${n}`);
}

/** Every level of the tree, leaves first. */
function levels(leaves) {
  const out = [leaves];
  while (out[out.length - 1].length > 1) {
    const l = out[out.length - 1];
    const next = [];
    for (let i = 0; i < l.length; i += 2) next.push(i + 1 < l.length ? node(l[i], l[i + 1]) : l[i]);
    out.push(next);
  }
  return out;
}

/** framesRoot of the leaves. */
export function framesRoot(leaves) {
  checkCount(leaves.length);
  const lv = levels(leaves);
  return bind(leaves.length, lv[lv.length - 1][0]);
}

/** The tree's root and the inclusion proof ({ index, siblings }) of every leaf. */
export function framesTree(leaves) {
  checkCount(leaves.length);
  const lv = levels(leaves);
  const proofs = leaves.map((_, index) => {
    const siblings = [];
    let i = index;
    for (const level of lv) {
      if (level.length <= 1) break;
      if (i % 2 === 1) siblings.push(level[i - 1]);
      else if (i + 1 < level.length) siblings.push(level[i + 1]);
      i = Math.floor(i / 2);
    }
    return { index, siblings };
  });
  return { root: bind(leaves.length, lv[lv.length - 1][0]), proofs };
}

/** Recomputes framesRoot from one proof (leaf_count = the number of leaves). */
export function proofRoot(leaf, { index, siblings }, leafCount) {
  checkCount(leafCount);
  if (index >= leafCount) throw new Error(`index ${index} outside ${leafCount} leaves`);
  let acc = leaf;
  let i = index;
  let len = leafCount;
  let k = 0;
  while (len > 1) {
    if (i % 2 === 1) {
      if (k >= siblings.length) throw new Error('too few siblings');
      acc = node(siblings[k++], acc);
    } else if (i + 1 < len) {
      if (k >= siblings.length) throw new Error('too few siblings');
      acc = node(acc, siblings[k++]);
    }
    i = Math.floor(i / 2);
    len = Math.ceil(len / 2);
  }
  if (k !== siblings.length) throw new Error('too many siblings');
  return bind(leafCount, acc);
}
