// The browser-side evidence bundle (src/bundle.js, frames.js, zip.js, pdf.js) against the format's
// references: the manifest vector of docs/formats.md byte for byte, the zip read back by Info-ZIP
// `unzip -t` and Python's zipfile, and the frame leaves of protocol/tests/data/tiny.mp4 judged
// by the Rust verifier (`dashledger-verify` from the cargo target directory): its `frames` check
// recomputes the leaves from the clip with dashledger-protocol and compares them with ours.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleZip, canonicalJson, checkRecords, framesFile, keccakHex, manifestOf, ownerOfSlot, reportPdf } from '../../src/bundle.js';
import { crc32, unzipStored, zipStored } from '../../src/zip.js';
import { frameLeaves, framesRoot, proofRoot } from '../../src/frames.js';
import { jpegSize } from '../../src/pdf.js';
import { REPO } from '../support/devnet.js';
import { haveVerify, runVerify, verifyBin } from '../support/verify.js';

const enc = new TextEncoder();
const TINY = new Uint8Array(readFileSync(path.join(REPO, 'protocol/tests/data/tiny.mp4')));

test('manifest.json of a bundle holding only a.txt = "hello" is the docs/formats.md vector byte for byte', () => {
  const docs = readFileSync(path.join(REPO, 'docs/formats.md'), 'utf8');
  const at = docs.indexOf('The manifest of a bundle holding only `a.txt`');
  assert.ok(at > 0, 'the vector is in docs/formats.md');
  const m = docs.slice(at).match(/```json\n([\s\S]*?)```/);
  assert.ok(m, 'the vector block');
  const want = m[1]; // ends with the final newline
  const got = new TextDecoder().decode(manifestOf(new Map([['a.txt', enc.encode('hello')]])));
  assert.equal(got, want);
  assert.ok(got.endsWith('}\n') && !got.endsWith('\n\n'));
});

test('canonical JSON: 2-space pretty, empty arrays and objects as serde_json writes them, one final newline', () => {
  const s = new TextDecoder().decode(canonicalJson({ a: [], b: {}, c: [1, 'x'], d: { e: null } }));
  assert.equal(s, '{\n  "a": [],\n  "b": {},\n  "c": [\n    1,\n    "x"\n  ],\n  "d": {\n    "e": null\n  }\n}\n');
});

test('crc32 known answers (IEEE: "123456789" → 0xcbf43926; empty → 0)', () => {
  assert.equal(crc32(enc.encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

test('the bundle zip: stored entries, manifest first then path order, fixed timestamps, CRCs that unzip and zipfile accept', (t) => {
  const files = new Map([
    ['report.html', enc.encode('<p>x</p>')],
    ['chain/block-7.json', enc.encode('{}\n')],
    ['clip.mp4', TINY],
    ['a.txt', enc.encode('hello')],
  ]);
  const zip = bundleZip(files);
  // Same files, same bytes.
  assert.deepEqual(bundleZip(new Map([...files].reverse())), zip);
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-zip-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'b.zip');
  writeFileSync(file, zip);
  const unzip = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
  if (unzip.error?.code !== 'ENOENT') {
    assert.equal(unzip.status, 0, unzip.stdout + unzip.stderr);
    assert.match(unzip.stdout, /No errors detected/);
  }
  const py = spawnSync(
    'python3',
    [
      '-c',
      `import zipfile, json, sys
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps([[i.filename, i.compress_type, i.date_time, i.file_size, i.CRC] for i in z.infolist()]))
print(json.dumps(z.read('manifest.json').decode()))`,
      file,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(py.status, 0, py.stderr);
  const [list, manifest] = py.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(list.map((e) => e[0]), ['manifest.json', 'a.txt', 'chain/block-7.json', 'clip.mp4', 'report.html']);
  for (const [name, method, date, size, crc] of list) {
    assert.equal(method, 0, `${name} is stored`);
    assert.deepEqual(date, [1980, 1, 1, 0, 0, 0]);
    if (name !== 'manifest.json') {
      assert.equal(size, files.get(name).length);
      assert.equal(crc, crc32(files.get(name)));
    }
  }
  assert.equal(manifest, new TextDecoder().decode(manifestOf(files)));
  // Our own reader gives the same entries back.
  assert.deepEqual(unzipStored(zip).map(([n]) => n), list.map((e) => e[0]));
  assert.deepEqual(zipStored([]).length, 22);
});

test('frames: proofs verify, a carried-up odd node and one leaf', () => {
  const leaves = frameLeaves(TINY);
  assert.equal(leaves.length, 4, '3.5 s of media → seconds 0..=3');
  const f = framesFile(TINY);
  assert.equal(f.proofs.length, 4);
  for (const p of f.proofs) {
    const leaf = leaves[p.index];
    assert.equal(keccakHex(new Uint8Array(0)).length, 66);
    const sib = p.siblings.map((s) => Uint8Array.from(Buffer.from(s.slice(2), 'hex')));
    assert.equal(Buffer.from(proofRoot(leaf, { index: p.index, siblings: sib }, 4)).toString('hex'), f.frames_root.slice(2));
  }
  const three = leaves.slice(0, 3);
  assert.notEqual(Buffer.from(framesRoot(three)).toString('hex'), Buffer.from(framesRoot(leaves)).toString('hex'));
  assert.throws(() => framesRoot([]), /1\.\.=86400 leaves/);
  assert.throws(() => frameLeaves(TINY.subarray(0, TINY.length / 2)), /MP4/);
});

test('the SearchContract listing slot of EC 0x1111…1111 is the docs vector (cast index address … 1)', () => {
  const docs = readFileSync(path.join(REPO, 'docs/formats.md'), 'utf8');
  const want = docs.match(/the listing slot of EC\s+`0x1111…1111` is `(0x[0-9a-f]{64})`/)[1];
  assert.equal(ownerOfSlot(`0x${'11'.repeat(20)}`), want);
});

test('report.pdf is a PDF with the JPEG as DCTDecode at its size', () => {
  // A minimal JPEG header: SOI, SOF0 (8-bit, 64×48, 3 components).
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0, 48, 0, 64, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xff, 0xd9]);
  assert.deepEqual(jpegSize(jpeg), { width: 64, height: 48, components: 3 });
  const info = {
    chain_id: 1, ec: '0x', owner: '0x', status: 'Verified', evidence_factory: '0x',
    params: { recorded_at: 1700000000, latitude: 48208493, longitude: 16373118, video_hash: '0x', cipher_hash: '0x', frame_hash: '0x', frames_root: '0x' },
    created: { tx: '0x', block: 1 }, verified: { tx: '0x', block: 2 },
  };
  const pdf = Buffer.from(reportPdf({ info, checks: [{ name: 'clip', ok: true, detail: 'x'.repeat(400) }], notes: ['n'], thumbnail: jpeg, clipBytes: 5, proofBlock: { number: 3, hash: '0x' }, madeAt: '2026-12-06T00:00:00Z' }));
  const s = pdf.toString('latin1');
  assert.ok(s.startsWith('%PDF-1.4\n') && s.endsWith('%%EOF\n'));
  assert.match(s, /\/Width 64 \/Height 48 \/ColorSpace \/DeviceRGB \/BitsPerComponent 8 \/Filter \/DCTDecode/);
  assert.ok(pdf.includes(Buffer.from(jpeg)));
  assert.match(s, /\(Dashcam evidence: 2023-11-14T22:13:20Z\) Tj/);
  // The xref offsets point at the objects.
  const xref = Number(s.match(/startxref\n(\d+)\n/)[1]);
  assert.ok(s.slice(xref).startsWith('xref\n'));
  for (const m of s.slice(xref).matchAll(/^(\d{10}) 00000 n $/gm).toArray?.() ?? [...s.slice(xref).matchAll(/^(\d{10}) 00000 n $/gm)]) {
    assert.match(s.slice(Number(m[1])), /^\d+ 0 obj\n/);
  }
});

/** A bundle of tiny.mp4 with our frames.json and an evidence.json naming our framesRoot. */
function tinyBundle(frames) {
  const z = `0x${'00'.repeat(32)}`;
  const a = `0x${'00'.repeat(20)}`;
  const evidence = {
    chain_id: 31337, evidence_factory: a, search_contract: a, ec: a, owner: a, status: 'Verified', evidence_hash: z,
    params: { video_hash: keccakHex(TINY), cipher_hash: z, frame_hash: z, frames_root: frames.frames_root, key_commitment: z, recorded_at: 1700000000, latitude: 0, longitude: 0, capsule: '0x', wrapped_key: '0x', owner_umbral_key: '0x' },
    created: { tx: z, block: 1 }, verified: { tx: z, block: 1 },
  };
  return bundleZip(new Map([['clip.mp4', TINY], ['frames.json', canonicalJson(frames)], ['evidence.json', canonicalJson(evidence)]]));
}

test('the frame leaves of tiny.mp4 equal dashledger-protocol\'s (the Rust verifier recomputes them from the clip)', { skip: !haveVerify() && `${verifyBin()} is not built` }, () => {
  const frames = framesFile(TINY);
  const { byName } = runVerify(tinyBundle(frames));
  assert.equal(byName.manifest.ok, true, byName.manifest.detail);
  assert.equal(byName.clip.ok, true, byName.clip.detail);
  // The verifier's leaves from the clip = ours, their framesRoot = ours, every proof verifies.
  assert.equal(byName.frames.ok, true, byName.frames.detail);
  // And it does compare: one changed leaf is named by its second.
  const bent = structuredClone(frames);
  bent.leaves[2] = `0x${'ab'.repeat(32)}`;
  const bad = runVerify(tinyBundle(bent)).byName.frames;
  assert.equal(bad.ok, false);
  assert.match(bad.detail, /seconds changed \[2\]/);
});

test("the page's records checks: one device, consecutive seq, the hash chain, the segment's record (signatures are dashledger-verify's)", () => {
  const rec = (seq, prev, seg, device = 0x22) => {
    const b = new Uint8Array(161);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, seq);
    b[4] = 1;
    b.fill(device, 5, 25);
    dv.setUint16(25, 2023);
    b.set([11, 14, 22, 13, 20 + seq], 27);
    b.set(prev, 32);
    b.set(seg, 64);
    return b;
  };
  const h = (i) => new Uint8Array(32).fill(i);
  const hx = (i) => `0x${Buffer.from(h(i)).toString('hex')}`;
  const cat = (...r) => Uint8Array.from(Buffer.concat(r));
  const good = cat(rec(4, h(3), h(4)), rec(5, h(4), h(5)), rec(6, h(5), h(6)));
  assert.match(checkRecords(good, hx(5), 1700000005), /3 records of one device \(seq 4\.\.=6\).*seq 5 carries/);
  assert.throws(() => checkRecords(good.subarray(0, 200), hx(5), 1700000005), /200 bytes, not a sequence of 161-byte/);
  assert.throws(() => checkRecords(cat(rec(4, h(3), h(4)), rec(5, h(9), h(5))), hx(5), 1700000005), /hash chain breaks at seq 5/);
  assert.throws(() => checkRecords(cat(rec(4, h(3), h(4)), rec(6, h(4), h(5))), hx(5), 1700000005), /seq 6 after 4/);
  assert.throws(() => checkRecords(cat(rec(4, h(3), h(4)), rec(5, h(4), h(5), 0x33)), hx(5), 1700000005), /another device/);
  assert.throws(() => checkRecords(good, hx(8), 1700000005), /no record carries/);
  assert.throws(() => checkRecords(good, hx(5), 1700000002), /starts at 1700000005, the EC's recordedAt is 1700000002/);
});
