// The whole requester flow in Debian's Chromium against a REAL cloud: the `dashledger-cloud`
// binary (SQLite, temp blob dir, its verifier/relayer/indexer on the test's anvil with the real
// contracts) serving the page at `/` (or, for a cloud binary without `web.dir`, the page served
// beside it with the API forwarded to it), and a real accident reported the way a dashcam agent
// reports it (requester crate's `report_accident` example: signed evidence record, EIP-712 EC
// creation relayed by the cloud, resumable chunked upload of a real MP4, the cloud's verifier
// lists it).
//
// search (cloud, thumbnail) → request (Umbral key made in the browser, reward) → the owner
// approves as the agent does (kfrag made outside any page; no page asks for a secret key) → the requester's page recovers the key,
// confirms → downloads from the cloud (signed by the wallet) → opens chunk by chunk → "verified"
// → saves the video (byte-identical) → saves the evidence bundle, which the real `dashledger-verify`
// verifies (offline and against anvil; a flipped byte of its clip fails, named; a node refusing
// eth_getProof is named and nothing is saved) → the owner withdraws. Then the cloud goes down: search
// and download say so. Screenshots of every step: web/test-results/flow-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseEther } from 'viem';
import { artifact, deploy, devAccount, startAnvil } from '../support/devnet.js';
import { launch } from '../support/browser.js';
import { makeClip, reportAccident, startCloud } from '../support/cloud.js';
import { assertAccessible, cloudSite, DIST, openPage, screenshots, WEB } from '../support/page.js';
import { agentApproves, assertNoSecretFields, bundleRefused, downloadVerifySave, ownerViewOpen, ownerWithdraws, recoverAndConfirm, requestFootage, saveBundle, searchCloud } from '../support/steps.js';
import { rewriteEntry, runVerify } from '../support/verify.js';
import { unzipStored } from '../../src/zip.js';

const snap = screenshots('flow-');

const verifier = devAccount(0);
const owner = devAccount(1);
const requester = devAccount(2);
// Vienna, Stephansplatz.
const PLACE = { lat: 48.208493, lon: 16.373118 };

let anvil, d, cloud, site, br, acc, clipBytes, requesterPage, ownerPage, reqc;
const open = (account) => openPage(br, anvil, site.url, account, { connect: true });

before(async () => {
  anvil = await startAnvil();
  d = await deploy(anvil);
  cloud = await startCloud({ anvil, d, verifierKey: verifier.privateKey, webDir: DIST });
  const { clip, thumb } = makeClip(cloud.dir);
  clipBytes = readFileSync(clip);
  const now = Number((await d.pub.getBlock()).timestamp);
  acc = await reportAccident(cloud, { ownerKey: owner.privateKey, clip, thumbnail: thumb, ...PLACE, recordedAt: now - 900 });
  site = await cloudSite(cloud, anvil, d);
  br = await launch();
});

after(async () => {
  await br?.close();
  await site?.close();
  await cloud?.cleanup();
  await anvil?.stop();
});

test('the accident reported through the cloud is a verified, listed EC owned by the owner', async () => {
  assert.equal(acc.listing.status, 'verified');
  assert.ok(acc.resumed_at > 0, 'the upload was interrupted and resumed');
  const ecAbi = artifact('EvidenceContract').abi;
  assert.equal(await d.pub.readContract({ address: acc.ec, abi: ecAbi, functionName: 'owner' }), owner.address);
  // The page at `/` and its configuration come from the same origin as the API.
  const cfg = await (await fetch(`${site.url}/config.json`)).json();
  assert.equal(Number(cfg.chainId ?? cfg.chain_id), anvil.chainId);
  assert.equal((await fetch(`${site.url}/`)).headers.get('content-type')?.startsWith('text/html'), true);
});

test('search through the cloud: the result card has the thumbnail, time and place', async () => {
  requesterPage = await open(requester.address);
  const p = requesterPage;
  await snap(p, 'connected');
  const now = Number((await d.pub.getBlock()).timestamp);
  // ~74 m east; the thumbnail is the uploaded 320×240 JPEG.
  const card = await searchCloud(p, { from: now - 3600, to: now + 120, place: `${PLACE.lat}, ${PLACE.lon + 0.001}`, radius: 250, ec: acc.ec, thumbWidth: 320 });
  assert.match(await card.textContent(), /48\.208493, 16\.373118/);
  await snap(p, 'search-results');
});

test('request: the Umbral key is made in the browser and a Request Contract holds the reward', async () => {
  reqc = await requestFootage(requesterPage, { d, reward: '0.05', requester: requester.address, owner: owner.address, ec: acc.ec, snap });
  // The guided card shows the clip: its thumbnail from the cloud (decoded), time and place.
  const card = requesterPage.locator(`[data-reqc="${reqc}"]`);
  await requesterPage.waitForFunction((r) => {
    const img = document.querySelector(`[data-reqc="${r}"] img.thumb`);
    return img && img.complete && img.naturalWidth > 0;
  }, reqc);
  assert.match(await card.getByTestId('clip-facts').textContent(), /^Recorded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
});

test('the owner approves as the agent does (no secret key in any page); the owner view follows', async () => {
  ownerPage = await open(owner.address);
  const p = ownerPage;
  await assertNoSecretFields(p);
  const card = await ownerViewOpen(p, reqc);
  assert.match(await card.getByTestId('approve-with-agent').textContent(), /dashledger-agent approve/);
  await snap(p, 'owner-pending');
  // The link the agent puts in its response: the cloud's download route.
  await agentApproves(d, reqc, { owner, umbralSecret: acc.owner_umbral_secret, link: `${cloud.url}/v1/clips/${acc.ec}/download?reqc=${reqc}` });
  await p.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await snap(p, 'owner-approved');
});

test('the requester recovers the key (checked against keyCommitment) and confirms', async () => {
  await recoverAndConfirm(requesterPage, reqc, { d, snap });
});

test('download from the cloud (signed by the wallet), open chunk by chunk, verified, saved', async () => {
  const download = await downloadVerifySave(requesterPage, reqc, {
    clipBytes,
    videoHash: acc.video_hash,
    snap,
    check: async (card, text) => {
      assert.equal(await card.getByTestId('progress').evaluate((e) => e.max), acc.sealed_bytes);
      const chunks = Math.ceil(clipBytes.length / 65536);
      assert.ok(chunks > 1, `the clip spans ${chunks} chunks`);
      assert.ok(text.includes(`(${chunks} chunks, ${clipBytes.length} bytes)`), text);
    },
  });
  assert.equal(download.suggestedFilename(), `dashledger-${acc.ec}.mp4`);
});

test('a node that refuses eth_getProof: the bundle names it, and nothing is saved', async () => {
  const p = requesterPage;
  await p.evaluate(() => window.__testWallet.refuse('eth_getProof'));
  try {
    const text = await bundleRefused(p, reqc);
    assert.match(text, /^No bundle saved: the node refused eth_getProof \(the EC\)/, text);
  } finally {
    await p.evaluate(() => window.__testWallet.allow('eth_getProof'));
  }
  await snap(p, 'bundle-refused');
});

test('the records request declined in the wallet: the bundle is saved without records.bin, which dashledger-verify lists as not checked', async () => {
  const p = requesterPage;
  const card = p.locator(`[data-reqc="${reqc}"]`);
  // The bundle's only wallet request is the signature for the device's records.
  await p.evaluate(() => window.__testWallet.rejectNext());
  const signsBefore = await p.evaluate(() => window.__testWallet.signatures());
  const { zip } = await saveBundle(p, reqc);
  assert.equal(await p.evaluate(() => window.__testWallet.signatures()), signsBefore + 1);
  assert.match(await card.getByTestId('bundle-status').textContent(), /It has no device records \(records\.bin\): dashledger-verify lists them as not checked/);
  const names = unzipStored(new Uint8Array(zip)).map(([n]) => n);
  assert.ok(!names.includes('records.bin') && !names.includes('device.json'), names.join(', '));
  const html = Buffer.from(unzipStored(new Uint8Array(zip)).find(([n]) => n === 'report.html')[1]).toString();
  assert.match(html, /not in this bundle \(the request was not signed in the wallet\): dashledger-verify lists them as not checked/);
  const v = runVerify(zip);
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.verdict.result, 'verified');
  assert.equal(v.byName.records, undefined);
  assert.ok(v.verdict.not_checked.some((n) => /evidence records/.test(n.what)), JSON.stringify(v.verdict.not_checked));
});

test('the evidence bundle saved from the page: dashledger-verify says verified (offline and against the node); a flipped byte of clip.mp4 fails, named', async () => {
  const p = requesterPage;
  const card = p.locator(`[data-reqc="${reqc}"]`);
  // Found by its accessible name, and pressed from the keyboard.
  assert.equal(await card.getByRole('button', { name: 'Save evidence bundle' }).count(), 1);
  const { zip, download } = await saveBundle(p, reqc, { keyboard: true });
  assert.equal(download.suggestedFilename(), `dashledger-bundle-${acc.ec}.zip`);
  const entries = unzipStored(new Uint8Array(zip));
  const names = entries.map(([n]) => n);
  assert.equal(names[0], 'manifest.json');
  for (const f of ['clip.mp4', 'frames.json', 'thumbnail.jpg', 'evidence.json', 'records.bin', 'device.json', 'chain/state-proof.json', 'report.html', 'report.pdf']) assert.ok(names.includes(f), `${f} in ${names}`);
  assert.ok(names.some((n) => /^chain\/block-\d+\.json$/.test(n)), names.join(', '));
  assert.ok(Buffer.from(entries.find(([n]) => n === 'clip.mp4')[1]).equals(clipBytes), 'clip.mp4 is the recorded clip');
  assert.match(await card.getByTestId('bundle-status').textContent(), /checks held: clip, frames, .*dashledger-verify/);
  await snap(p, 'bundle-saved');
  // Kept for a look: web/test-results/flow-bundle.zip.
  writeFileSync(path.join(WEB, 'test-results', 'flow-bundle.zip'), zip);

  const offline = runVerify(zip);
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal(offline.verdict.result, 'verified');
  assert.equal(offline.verdict.ec.toLowerCase(), acc.ec.toLowerCase());
  for (const name of ['manifest', 'clip', 'frames', 'thumbnail', 'evidence-hash', 'state-proof-header', 'ec-code', 'ec-account-proof', 'ec-status-proof', 'search-account-proof', 'search-listing-proof', 'created-tx', 'verified-tx', 'records']) {
    assert.equal(offline.byName[name]?.ok, true, `${name}: ${offline.byName[name]?.detail}`);
  }
  assert.ok(!offline.verdict.not_checked.some((n) => /evidence records/.test(n.what)), JSON.stringify(offline.verdict.not_checked));
  const live = runVerify(zip, ['--rpc', anvil.url]);
  assert.equal(live.status, 0, live.stderr);
  assert.equal(live.verdict.result, 'verified');
  assert.equal(live.byName['live-header']?.ok, true, JSON.stringify(live.verdict.checks));

  // One byte of the clip flipped inside the zip (the entry rewritten, the manifest left).
  const bent = rewriteEntry(zip, 'clip.mp4', (b) => {
    b[b.length >> 1] ^= 0x01;
    return b;
  });
  const bad = runVerify(bent);
  assert.equal(bad.status, 3, bad.stderr);
  assert.equal(bad.verdict.result, 'failed');
  assert.equal(bad.byName.clip.ok, false);
  assert.match(bad.byName.clip.detail, /clip\.mp4 has Keccak-256 0x[0-9a-f]{64}, but the EC's videoHash is/);
  assert.equal(bad.byName.manifest.ok, false);
  assert.match(bad.byName.manifest.detail, /clip\.mp4 has Keccak-256/);

  // The verified card with the bundle offered and its status: no serious or critical axe finding.
  await assertAccessible(p, 'my requests: a verified clip with the evidence bundle saved');
});

test('the owner withdraws reward + deposit', async () => {
  await ownerWithdraws(ownerPage, reqc, { d, owner: owner.address, more: parseEther('0.059'), snap });
});

test('the cloud goes down: search falls back to the chain, download names the problem', async () => {
  await cloud.stop();
  const p = requesterPage;
  await p.getByTestId('tab-find').click();
  await p.getByTestId('search').click();
  const down = /The cloud at http:\/\/127\.0\.0\.1:\d+ is (not reachable|down)/;
  await p.getByTestId('search-status').filter({ hasText: down }).waitFor();
  assert.match(await p.getByTestId('search-status').textContent(), /from the chain/);
  assert.equal(await p.getByTestId('result-card').count(), 1);
  await snap(p, 'cloud-down-search');
  await p.getByTestId('tab-requests').click();
  const card = p.locator(`[data-reqc="${reqc}"]`);
  const signsBefore = await p.evaluate(() => window.__testWallet.signatures());
  await card.getByTestId('download').click();
  await card.getByTestId('card-status').filter({ hasText: down }).waitFor();
  // The cloud was checked first: no download signature was asked for; the owner's link is offered.
  assert.equal(await p.evaluate(() => window.__testWallet.signatures()), signsBefore);
  assert.equal(await card.getByTestId('owner-link').getAttribute('href'), `${cloud.url}/v1/clips/${acc.ec}/download?reqc=${reqc}`);
  await snap(p, 'cloud-down-download');
});
