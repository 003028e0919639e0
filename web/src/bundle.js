// The evidence bundle (`dashledger-bundle/1`, docs/formats.md "Evidence bundle") made in the
// browser from the clip the page verified, the chain (JSON-RPC through the page's client:
// EvidenceCreated / EvidenceVerified, eth_getProof, eth_getBlockByNumber with every transaction,
// eth_getBlockReceipts, eth_getCode) and the cloud (the thumbnail). The same files as
// `dashledger-requester bundle` writes, checked by `dashledger-verify`. Loaded on demand
// (dynamic import from main.js), with frames.js, zip.js and pdf.js.
//
// records.bin and device.json come from the cloud's `GET /v1/clips/{ec}/records`, signed by the
// requester's wallet like the download (one more signature). When that fails (declined, the
// cloud down or refusing, records that do not hold together), the bundle leaves them out as the
// CLI does, says so, and `dashledger-verify` lists the records as not checked.

import { keccak_256 } from '@noble/hashes/sha3.js';
import { getAddress } from 'viem';
import { framesTree, frameLeaves, proofRoot } from './frames.js';
import { pdfDocument } from './pdf.js';
import { unzipStored, zipStored } from './zip.js';

export const FORMAT = 'dashledger-bundle/1';
export const PATHS = {
  manifest: 'manifest.json',
  clip: 'clip.mp4',
  frames: 'frames.json',
  thumbnail: 'thumbnail.jpg',
  evidence: 'evidence.json',
  stateProof: 'chain/state-proof.json',
  reportHtml: 'report.html',
  reportPdf: 'report.pdf',
  records: 'records.bin',
  device: 'device.json',
  block: (n) => `chain/block-${n}.json`,
};
/** The SearchContract's `_ownerOf` mapping slot, and the EC's `_status` slot. */
const OWNER_OF_SLOT = 1n;
const EC_STATUS_SLOT = `0x${'0'.repeat(64)}`;

/** A failure while making the bundle, naming what failed; nothing is saved. */
export class BundleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}

const enc = new TextEncoder();
export const hex = (b) => {
  let s = '0x';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
};
const lower = (s) => String(s).toLowerCase();
export const keccakHex = (b) => hex(keccak_256(b));
const hexBytes = (h) => {
  const s = h.slice(2);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
};

/**
 * Pretty JSON, 2-space indent, and one final newline: serde_json's `to_vec_pretty` form for the
 * values a bundle holds (objects, arrays, strings, integers), which the verifier requires of
 * manifest.json byte for byte.
 */
export function canonicalJson(value) {
  return enc.encode(`${JSON.stringify(value, null, 2)}\n`);
}

/** manifest.json of `files` (Map path → bytes; the manifest itself excluded), sorted by path. */
export function manifestOf(files) {
  const paths = [...files.keys()].filter((p) => p !== PATHS.manifest).sort(byteOrder);
  return canonicalJson({
    format: FORMAT,
    files: paths.map((path) => ({ path, bytes: files.get(path).length, keccak256: keccakHex(files.get(path)) })),
  });
}

/** Rust's `String` order (bytes; the same as UTF-16 code units for the ASCII paths we use). */
function byteOrder(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The zip of `files` (Map path → bytes) with a fresh manifest: manifest first, then path order. */
export function bundleZip(files) {
  const rest = new Map([...files].filter(([p]) => p !== PATHS.manifest));
  const manifest = manifestOf(rest);
  const order = [...rest.keys()].sort(byteOrder);
  return zipStored([[PATHS.manifest, manifest], ...order.map((p) => [p, rest.get(p)])]);
}

/** `frames.json` of a clip: the leaves, framesRoot and every second's proof (lower-case hex). */
export function framesFile(clip) {
  const leaves = frameLeaves(clip);
  const { root, proofs } = framesTree(leaves);
  return {
    frames_root: hex(root),
    leaves: leaves.map(hex),
    proofs: proofs.map((p) => ({ index: p.index, siblings: p.siblings.map(hex) })),
  };
}

/** The SearchContract storage slot of `_ownerOf[ec]`: keccak256(pad32(ec) || pad32(1)). */
export function ownerOfSlot(ec) {
  const buf = new Uint8Array(64);
  buf.set(hexBytes(lower(ec)), 12);
  buf[63] = Number(OWNER_OF_SLOT);
  return keccakHex(buf);
}

const rfc3339 = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const degrees = (micro) => Number(micro) / 1e6;
const osmLink = (lat, lon) => `https://www.openstreetmap.org/?mlat=${lat.toFixed(6)}&mlon=${lon.toFixed(6)}#map=17/${lat.toFixed(6)}/${lon.toFixed(6)}`;
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const b64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

export const RECHECK =
  'Re-check: `dashledger-verify BUNDLE.zip` (offline: exit 0 and "result": "verified"), then `dashledger-verify --rpc URL BUNDLE.zip` against a node you trust, which also confirms the block headers are on the chain.';
export const RECORD_LEN = 161;

/**
 * The page's checks of records.bin (the signatures are dashledger-verify's): whole 161-byte
 * records of one device, consecutive `seq` with each `prevHash` = the previous `segmentHash`, and
 * a record of this segment (segmentHash = videoHash, start = recordedAt). Returns what held, or
 * throws naming what did not.
 */
export function checkRecords(raw, videoHash, recordedAt) {
  if (!raw.length || raw.length % RECORD_LEN) throw new Error(`${raw.length} bytes, not a sequence of ${RECORD_LEN}-byte signed records`);
  const n = raw.length / RECORD_LEN;
  const recs = [];
  for (let i = 0; i < n; i++) {
    const r = raw.subarray(i * RECORD_LEN, i * RECORD_LEN + 96);
    const dv = new DataView(r.buffer, r.byteOffset, 96);
    const start = Date.UTC(dv.getUint16(25), r[27] - 1, r[28], r[29], r[30], r[31]) / 1000;
    recs.push({ seq: dv.getUint32(0), device: hex(r.subarray(4, 25)), prev: hex(r.subarray(32, 64)), seg: hex(r.subarray(64, 96)), start });
  }
  recs.forEach((r, i) => {
    if (r.device !== recs[0].device) throw new Error(`record ${i} is of another device`);
    if (i && r.seq !== recs[i - 1].seq + 1) throw new Error(`record ${i} has seq ${r.seq} after ${recs[i - 1].seq}`);
    if (i && r.prev !== recs[i - 1].seg) throw new Error(`the hash chain breaks at seq ${r.seq}`);
  });
  const mine = recs.find((r) => r.seg === videoHash);
  if (!mine) throw new Error("no record carries the clip's videoHash");
  if (mine.start !== recordedAt) throw new Error(`the segment's record starts at ${mine.start}, the EC's recordedAt is ${recordedAt}`);
  return `${n} records of one device (seq ${recs[0].seq}..=${recs[n - 1].seq}), hash chain unbroken; seq ${mine.seq} carries the clip's videoHash and starts at recordedAt (signatures: dashledger-verify)`;
}

function facts(info, proofBlock, clipBytes, madeAt) {
  const p = info.params;
  return [
    ['Evidence Contract', `${info.ec} (chain id ${info.chain_id})`],
    ['Status', info.status],
    ['Recorded', `${rfc3339(p.recorded_at)} (segment start, UTC)`],
    ['Place', `${degrees(p.latitude).toFixed(6)}, ${degrees(p.longitude).toFixed(6)} (as the EC states)`],
    ['Clip Keccak-256 (videoHash)', p.video_hash],
    ['Clip length', `${clipBytes} bytes`],
    ['Sealed clip (cipherHash)', p.cipher_hash],
    ['Thumbnail (frameHash)', p.frame_hash],
    ['Frames root (framesRoot)', p.frames_root],
    ['Owner', info.owner],
    ['EvidenceFactory', info.evidence_factory],
    ['Created', `tx ${info.created.tx} in block ${info.created.block}`],
    ['Verified', `tx ${info.verified.tx} in block ${info.verified.block}`],
    ...(info.request ? [['Request Contract', info.request]] : []),
    ['State proof block', `${proofBlock.number} (header hash ${proofBlock.hash})`],
    ['Bundle made', `${madeAt} by the dashledger web page`],
  ];
}

/** report.html: self-contained (the thumbnail inline), no tiles or scripts. */
export function reportHtml({ info, checks, notes, thumbnail, clipBytes, proofBlock, madeAt }) {
  const p = info.params;
  const [lat, lon] = [degrees(p.latitude), degrees(p.longitude)];
  const ok = checks.every((c) => c.ok);
  let h = '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n';
  h += `<title>dashledger evidence ${esc(info.ec)}</title>\n`;
  h += '<style>body{font-family:sans-serif;max-width:56em;margin:2em auto;padding:0 1em}td,th{text-align:left;vertical-align:top;padding:.15em .6em}code,td.h{font-family:monospace;word-break:break-all}.ok{color:#060}.bad{color:#a00}</style>\n</head><body>\n';
  h += `<h1>Dashcam evidence: ${esc(rfc3339(p.recorded_at))}</h1>\n<p>Result of the checks the web page made when this bundle was made: <b class="${ok ? 'ok' : 'bad'}">${ok ? 'verified' : 'failed'}</b>.</p>\n`;
  if (thumbnail) h += `<p><img alt="front-frame thumbnail" style="max-width:100%" src="data:image/jpeg;base64,${b64(thumbnail)}"></p>\n`;
  h += `<p>Place as the EC states it: ${lat.toFixed(6)}, ${lon.toFixed(6)} (no map tiles are embedded). <a href="${esc(osmLink(lat, lon))}">Open on OpenStreetMap</a>.</p>\n`;
  h += '<h2>Facts</h2>\n<table>\n';
  for (const [k, v] of facts(info, proofBlock, clipBytes, madeAt)) h += `<tr><th>${esc(k)}</th><td class="h">${esc(v)}</td></tr>\n`;
  h += '</table>\n<h2>What the page checked</h2>\n<table>\n';
  for (const c of checks) h += `<tr><td class="${c.ok ? 'ok' : 'bad'}">${c.ok ? 'ok' : 'FAILED'}</td><th>${esc(c.name)}</th><td>${esc(c.detail)}</td></tr>\n`;
  h += '</table>\n<p>The full offline checks (the manifest, every proof against the header, the transactions and receipts against their blocks\' roots, the EC\'s code) are made by <code>dashledger-verify</code>.</p>\n';
  h += '<h2>Not in this bundle, or not checkable offline</h2>\n<ul>\n';
  for (const n of notes) h += `<li>${esc(n)}</li>\n`;
  h += `</ul>\n<h2>How to re-check</h2>\n<p>${esc(RECHECK)}</p>\n<p>The bundle format is described in dashledger's docs/formats.md ("Evidence bundle").</p>\n</body></html>\n`;
  return enc.encode(h);
}

/** report.pdf: the same text, with the thumbnail. */
export function reportPdf({ info, checks, notes, thumbnail, clipBytes, proofBlock, madeAt }) {
  const p = info.params;
  const [lat, lon] = [degrees(p.latitude), degrees(p.longitude)];
  const ok = checks.every((c) => c.ok);
  const lines = [{ text: `Dashcam evidence: ${rfc3339(p.recorded_at)}`, size: 15, bold: true }];
  lines.push({ text: `Result of the checks the web page made when this bundle was made: ${ok ? 'verified' : 'failed'}`, size: 10 });
  lines.push({ text: 'Facts', size: 11, bold: true });
  for (const [k, v] of facts(info, proofBlock, clipBytes, madeAt)) lines.push({ text: `${k}: ${v}`, size: 8 });
  lines.push({ text: `Map: ${osmLink(lat, lon)}`, size: 8 });
  lines.push({ text: 'What the page checked', size: 11, bold: true });
  for (const c of checks) lines.push({ text: `[${c.ok ? 'ok' : 'FAILED'}] ${c.name}: ${c.detail}`, size: 7.5 });
  lines.push({ text: 'Not in this bundle, or not checkable offline', size: 11, bold: true });
  for (const n of notes) lines.push({ text: `- ${n}`, size: 7.5 });
  lines.push({ text: 'How to re-check', size: 11, bold: true });
  lines.push({ text: RECHECK, size: 7.5 });
  return pdfDocument(lines, thumbnail);
}

/** The block header of a JSON-RPC block: the block without its bodies. */
function headerOf(block) {
  const { transactions: _t, uncles: _u, withdrawals: _w, ...header } = block;
  return header;
}

/**
 * Gathers and makes the bundle of EC `ec` (obtained through Request Contract `reqc`) from the
 * verified plaintext `clip` (Uint8Array). `chain` is the page's Chain (chain.js), `abis` its ABIs
 * (chain.js `abis`), `cloud` its Cloud (cloud.js; may be null), `fetchRecords()` resolves to the
 * cloud's { records, device } (cloud.js deviceRecords, signed by the wallet; null: none),
 * `progress(text)` is told each step. Runs the page's checks
 * (clip hash = videoHash, framesRoot = the EC's, thumbnail = frameHash, the proven slots) before
 * returning; throws BundleError naming what failed. Resolves to
 * { zip: Uint8Array, fileName, files: Map, checks, notes }.
 */
export async function makeBundle({ chain, abis, cloud, ec, reqc = null, clip, fetchRecords = null, progress = () => {} }) {
  const pub = chain.public;
  const cfg = chain.config;
  const factory = getAddress(cfg.contracts.evidenceFactory);
  const search = getAddress(cfg.contracts.searchContract);
  ec = getAddress(ec);
  const rpc = async (method, params, what = '') => {
    try {
      const r = await pub.request({ method, params });
      if (r === null || r === undefined) throw new Error('no answer (null)');
      return r;
    } catch (e) {
      throw new BundleError(`the node refused ${method}${what ? ` (${what})` : ''}: ${e?.shortMessage ?? e?.message ?? e}`);
    }
  };
  // Each step named, then a moment for the page to show it (the leaves are hashed on this thread).
  const step = async (text) => {
    progress(text);
    await new Promise((r) => setTimeout(r, 0));
  };
  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok, detail });
    if (!ok) throw new BundleError(`${name}: ${detail} — the bundle was not saved`);
  };

  // The EC's fields first: the clip is checked against them.
  await step('Reading the EC from the chain…');
  let created;
  let verifiedLogs;
  let evidenceHash;
  try {
    [created, verifiedLogs, evidenceHash] = await Promise.all([
      pub.getContractEvents({ address: factory, abi: abis.evidenceFactory, eventName: 'EvidenceCreated', args: { ec }, fromBlock: chain.fromBlock }),
      pub.getContractEvents({ address: ec, abi: abis.evidenceContract, eventName: 'EvidenceVerified', fromBlock: chain.fromBlock }),
      pub.readContract({ address: ec, abi: abis.evidenceContract, functionName: 'evidenceHash' }),
    ]);
  } catch (e) {
    throw new BundleError(`the node refused the EC's events or evidenceHash (eth_getLogs / eth_call): ${e?.shortMessage ?? e?.message ?? e}`);
  }
  if (!created.length) throw new BundleError(`${ec} has no EvidenceCreated event of factory ${factory}: not an Evidence Contract of this deployment`);
  if (!verifiedLogs.length) throw new BundleError(`${ec} has no EvidenceVerified event: a bundle needs a verified EC`);
  const cl = created[0];
  const vl = verifiedLogs[0];
  const pr = cl.args.params;
  const info = {
    chain_id: cfg.chainId,
    evidence_factory: lower(factory),
    search_contract: lower(search),
    ec: lower(ec),
    owner: lower(cl.args.owner),
    status: 'Verified',
    evidence_hash: lower(evidenceHash),
    params: {
      video_hash: lower(pr.videoHash),
      cipher_hash: lower(pr.cipherHash),
      frame_hash: lower(pr.frameHash),
      frames_root: lower(pr.framesRoot),
      key_commitment: lower(pr.keyCommitment),
      recorded_at: Number(pr.recordedAt),
      latitude: Number(pr.latitude),
      longitude: Number(pr.longitude),
      capsule: lower(pr.capsule),
      wrapped_key: lower(pr.wrappedKey),
      owner_umbral_key: lower(pr.ownerUmbralKey),
    },
    created: { tx: lower(cl.transactionHash), block: Number(cl.blockNumber) },
    verified: { tx: lower(vl.transactionHash), block: Number(vl.blockNumber) },
    ...(reqc ? { request: lower(reqc) } : {}),
  };

  await step('Checking the clip and computing its per-second frame leaves…');
  const videoHash = keccakHex(clip);
  check('clip', videoHash === info.params.video_hash, videoHash === info.params.video_hash ? `Keccak-256 of clip.mp4 (${clip.length} bytes) = the EC's videoHash ${videoHash}` : `clip.mp4 has Keccak-256 ${videoHash}, but the EC's videoHash is ${info.params.video_hash}`);
  let frames;
  try {
    frames = framesFile(clip);
  } catch (e) {
    throw new BundleError(`cannot read the frame leaves of the clip: ${e.message}`);
  }
  const rootOk = frames.frames_root === info.params.frames_root;
  const proofsOk = rootOk && frames.proofs.every((p, i) => hex(proofRoot(hexBytes(frames.leaves[i]), { index: p.index, siblings: p.siblings.map(hexBytes) }, frames.leaves.length)) === frames.frames_root);
  check('frames', rootOk && proofsOk, rootOk ? `${frames.leaves.length} per-second leaves recomputed from the clip; their framesRoot = the EC's ${frames.frames_root}; every second's proof verifies` : `the clip's leaves give framesRoot ${frames.frames_root}, but the EC's framesRoot is ${info.params.frames_root}`);

  await step('Fetching the state proofs (eth_getProof)…');
  const numberHex = await rpc('eth_blockNumber', []);
  const number = Number(BigInt(numberHex));
  if (number < info.verified.block) throw new BundleError(`the node's latest block ${number} is before the verification in block ${info.verified.block}`);
  const tag = `0x${number.toString(16)}`;
  const headBlock = await rpc('eth_getBlockByNumber', [tag, false], `block ${number}`);
  const ecAccount = await rpc('eth_getProof', [lower(ec), [EC_STATUS_SLOT], tag], 'the EC');
  const slot = ownerOfSlot(ec);
  const searchAccount = await rpc('eth_getProof', [lower(search), [slot], tag], 'the SearchContract listing');
  const ecCode = await rpc('eth_getCode', [lower(ec), tag], 'the EC');
  const state = { header: headerOf(headBlock), ec_code: lower(ecCode), ec_account: ecAccount, search_account: searchAccount };
  const statusVal = BigInt(ecAccount.storageProof?.[0]?.value ?? '0x0');
  check('ec-status', statusVal === 0n, statusVal === 0n ? 'the EC status slot holds 0 (not Rejected) in the node\'s proof' : `the EC's status slot holds ${statusVal} (2 = Rejected)`);
  const listed = BigInt(searchAccount.storageProof?.[0]?.value ?? '0x0');
  check('search-listing', listed === BigInt(info.owner), listed === BigInt(info.owner) ? `the SearchContract lists the EC with owner ${info.owner} in the node's proof` : `the SearchContract's ownerOf[ec] is 0x${listed.toString(16)}, not the owner ${info.owner}`);
  check('ec-code', keccakHex(hexBytes(state.ec_code)) === lower(ecAccount.codeHash), `Keccak-256 of the EC's code = the codeHash in the node's proof`);

  await step('Fetching the creating and verifying blocks with every transaction and receipt…');
  const blocks = new Map();
  for (const n of [info.created.block, info.verified.block]) {
    if (blocks.has(n)) continue;
    const t = `0x${n.toString(16)}`;
    const b = await rpc('eth_getBlockByNumber', [t, true], `block ${n} with its transactions`);
    let receipts;
    try {
      receipts = await pub.request({ method: 'eth_getBlockReceipts', params: [t] });
      if (!Array.isArray(receipts)) throw new Error('no receipts');
    } catch {
      // Not every node has eth_getBlockReceipts: one receipt per transaction.
      receipts = [];
      for (const tx of b.transactions) receipts.push(await rpc('eth_getTransactionReceipt', [tx.hash], `a receipt of block ${n}`));
    }
    if (receipts.length !== b.transactions.length) throw new BundleError(`block ${n}: the node gave ${receipts.length} receipts for ${b.transactions.length} transactions`);
    blocks.set(n, { header: headerOf(b), transactions: b.transactions, receipts });
  }
  for (const [what, ref] of [['created-tx', info.created], ['verified-tx', info.verified]]) {
    const b = blocks.get(ref.block);
    const i = b.transactions.findIndex((t) => lower(t.hash) === ref.tx);
    check(what, i >= 0 && b.receipts[i]?.status === '0x1', i >= 0 ? `transaction ${ref.tx} is in block ${ref.block} and succeeded` : `transaction ${ref.tx} is not in the node's block ${ref.block}`);
  }

  const notes = [];
  await step('Fetching the thumbnail from the cloud…');
  let thumbnail = null;
  if (cloud) {
    try {
      const resp = await fetch(cloud.thumbnailUrl(ec, 'first'));
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      const t = new Uint8Array(await resp.arrayBuffer());
      const th = keccakHex(t);
      if (th === info.params.frame_hash) {
        thumbnail = t;
        checks.push({ name: 'thumbnail', ok: true, detail: `Keccak-256 of thumbnail.jpg = the EC's frameHash ${th}` });
      } else notes.push(`The cloud's thumbnail has Keccak-256 ${th}, not the EC's frameHash: it was left out (dashledger-verify lists the thumbnail as not checked).`);
    } catch (e) {
      notes.push(`The thumbnail could not be fetched from the cloud (${e.message}): the bundle has none (dashledger-verify lists it as not checked).`);
    }
  } else notes.push('No cloud configured: the bundle has no thumbnail (dashledger-verify lists it as not checked).');
  let records = null;
  if (fetchRecords) {
    await step("Sign the request for the device's evidence records in your wallet…");
    try {
      const r = await fetchRecords();
      const detail = checkRecords(r.records, info.params.video_hash, info.params.recorded_at);
      records = r;
      checks.push({ name: 'records', ok: true, detail });
    } catch (e) {
      const why = e?.code === 4001 || e?.cause?.code === 4001 || e?.name === 'UserRejectedRequestError' ? 'the request was not signed in the wallet' : e?.message ?? String(e);
      notes.push(`The device's evidence records (records.bin, device.json) are not in this bundle (${why}): dashledger-verify lists them as not checked.`);
    }
  } else notes.push("The device's evidence records (records.bin, device.json) are not in this bundle (no cloud to ask): dashledger-verify lists them as not checked.");
  if (records) notes.push(`device.json is the cloud's statement about the device (${records.device.status ?? 'status unknown'}), not signed: the operator can confirm that the device is an approved dashcam.`);
  notes.push(`Not checkable offline: that the block headers are chain ${info.chain_id}'s canonical chain (\`dashledger-verify --rpc URL\`), and that ${info.evidence_factory} is dashledger's EvidenceFactory on that chain (the operator's deployments/<chainId>.json).`);

  await step('Writing the bundle…');
  const proofBlock = { number, hash: lower(headBlock.hash) };
  const madeAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const files = new Map();
  files.set(PATHS.clip, clip);
  files.set(PATHS.frames, canonicalJson(frames));
  if (thumbnail) files.set(PATHS.thumbnail, thumbnail);
  if (records) {
    files.set(PATHS.records, records.records);
    files.set(PATHS.device, canonicalJson(records.device));
  }
  files.set(PATHS.evidence, canonicalJson(info));
  files.set(PATHS.stateProof, canonicalJson(state));
  for (const [n, b] of blocks) files.set(PATHS.block(n), canonicalJson(b));
  const report = { info, checks, notes, thumbnail, clipBytes: clip.length, proofBlock, madeAt };
  files.set(PATHS.reportHtml, reportHtml(report));
  files.set(PATHS.reportPdf, reportPdf(report));
  const zip = bundleZip(files);
  files.set(PATHS.manifest, manifestOf(files));
  // The archive read back: every entry (CRC-32 checked) as the manifest lists it.
  const back = new Map(unzipStored(zip));
  const inManifest = JSON.parse(new TextDecoder().decode(back.get(PATHS.manifest))).files;
  const same = back.size === files.size && inManifest.length === files.size - 1 && inManifest.every((e) => back.get(e.path)?.length === e.bytes && keccakHex(back.get(e.path)) === e.keccak256);
  check('manifest', same, same ? `the zip read back: ${inManifest.length} files, each length and Keccak-256 as manifest.json lists` : 'the zip read back does not match its manifest');
  return { zip, fileName: `dashledger-bundle-${ec}.zip`, files, checks, notes, hasRecords: Boolean(records) };
}
