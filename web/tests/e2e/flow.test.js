// The whole requester flow in Debian's Chromium against a REAL cloud: the `dashledger-cloud`
// binary (SQLite, temp blob dir, its verifier/relayer/indexer on the test's anvil with the real
// contracts) serving the page at `/` (or, for a cloud binary without `web.dir`, the page served
// beside it with the API forwarded to it), and a real accident reported the way a dashcam agent
// reports it (requester crate's `report_accident` example: signed evidence record, EIP-712 EC
// creation relayed by the cloud, resumable chunked upload of a real MP4, the cloud's verifier
// lists it).
//
// search (cloud, thumbnail) → request (Umbral key made in the browser, reward) → the owner
// approves in the page's owner view (kfrag in WASM) → the requester's page recovers the key,
// confirms → downloads from the cloud (signed by the wallet) → opens chunk by chunk → "verified"
// → saves the video (byte-identical) → the owner withdraws. Then the cloud goes down: search
// and download say so. Screenshots of every step: web/test-results/flow-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEther, parseEther } from 'viem';
import { artifact, deploy, devAccount, startAnvil } from '../support/devnet.js';
import { launch, shotDir, walletPage } from '../support/browser.js';
import { serveDist } from '../support/server.js';
import { makeClip, reportAccident, startCloud } from '../support/cloud.js';
import { downloadVerifySave, recoverAndConfirm } from '../support/steps.js';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = shotDir(WEB);
const reqcAbi = artifact('RequestContract').abi;
const STATUS = ['Open', 'Responded', 'Declined', 'Cancelled', 'Completed', 'Disputed', 'Claimed'];

const verifier = devAccount(0);
const owner = devAccount(1);
const requester = devAccount(2);
// Vienna, Stephansplatz.
const PLACE = { lat: 48.208493, lon: 16.373118 };

let anvil, d, cloud, site, br, acc, clipBytes, requesterPage, ownerPage, reqc;
let shot = 0;
async function snap(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(SHOTS, `flow-${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}
async function reqcStatus(r) {
  return STATUS[Number(await d.pub.readContract({ address: r, abi: reqcAbi, functionName: 'status' }))];
}
const localInput = (unix) => {
  const t = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}`;
};
async function openPage(account) {
  const { page } = await walletPage(br.browser, anvil.url, account);
  await page.goto(site.url);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByTestId('connect').click();
  await page.getByTestId('network').filter({ hasText: String(anvil.chainId) }).waitFor();
  return page;
}

before(async () => {
  anvil = await startAnvil();
  d = await deploy(anvil);
  cloud = await startCloud({ anvil, d, verifierKey: verifier.privateKey, webDir: path.join(WEB, 'dist') });
  const { clip, thumb } = makeClip(cloud.dir);
  clipBytes = readFileSync(clip);
  const now = Number((await d.pub.getBlock()).timestamp);
  acc = await reportAccident(cloud, { ownerKey: owner.privateKey, clip, thumbnail: thumb, ...PLACE, recordedAt: now - 900 });
  if (cloud.servesPage) {
    // The cloud itself serves the page at `/` and its /config.json.
    site = { url: cloud.url, close: async () => {} };
  } else {
    // This cloud binary does not serve the page yet: serve it beside the cloud, same origin for
    // the API (forwarded unchanged, so the wallet-signed download is checked by the cloud).
    const config = { chainId: anvil.chainId, chainName: 'anvil (test)', fromBlock: d.fromBlock, contracts: d.contracts, cloudUrl: '' };
    site = await serveDist(path.join(WEB, 'dist'), config, { proxy: cloud.url });
  }
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
  requesterPage = await openPage(requester.address);
  const p = requesterPage;
  await snap(p, 'connected');
  const now = Number((await d.pub.getBlock()).timestamp);
  await p.getByTestId('from').fill(localInput(now - 3600));
  await p.getByTestId('to').fill(localInput(now + 120));
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon + 0.001}`); // ~74 m east
  await p.getByTestId('radius').fill('250');
  await p.getByTestId('search').click();
  const card = p.getByTestId('result-card').first();
  await card.waitFor();
  assert.equal(await p.getByTestId('result-card').count(), 1);
  assert.equal(await card.getAttribute('data-ec'), acc.ec);
  // From the cloud, not the chain fallback.
  const status = await p.getByTestId('search-status').textContent();
  assert.match(status, /^1 result\.$/);
  // The thumbnail is the uploaded JPEG, served by the cloud, decoded by the browser.
  await p.waitForFunction(() => {
    const img = document.querySelector('[data-testid="result-card"] img.thumb');
    return img && img.complete && img.naturalWidth === 320;
  });
  assert.match(await card.textContent(), /48\.208493, 16\.373118/);
  await snap(p, 'search-results');
});

test('request: the Umbral key is made in the browser and a Request Contract holds the reward', async () => {
  const p = requesterPage;
  const card = p.getByTestId('result-card').first();
  await card.getByTestId('reward').fill('0.05');
  await card.getByTestId('request').click();
  await card.getByTestId('new-reqc').waitFor();
  reqc = (await card.getByTestId('new-reqc').textContent()).trim();
  const info = await d.pub.readContract({ address: reqc, abi: reqcAbi, functionName: 'info' });
  assert.equal(info.requester, requester.address);
  assert.equal(info.owner, owner.address);
  assert.equal(info.ec, acc.ec);
  assert.equal(info.reward, parseEther('0.05'));
  assert.equal(await reqcStatus(reqc), 'Open');
  await snap(p, 'requested');
  await p.getByTestId('tab-requests').click();
  await p.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  await snap(p, 'my-requests-open');
});

test('the owner approves in the owner view: a kfrag made in WASM', async () => {
  ownerPage = await openPage(owner.address);
  const p = ownerPage;
  await p.getByTestId('tab-owner').click();
  const card = p.locator(`[data-reqc="${reqc}"]`);
  await card.getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  await p.getByTestId('owner-umbral').fill(acc.owner_umbral_secret);
  await p.getByTestId('owner-signing').fill(owner.privateKey);
  await snap(p, 'owner-pending');
  await card.getByTestId('approve').click();
  await card.getByTestId('card-status').filter({ hasText: 'Approved' }).waitFor();
  assert.equal(await reqcStatus(reqc), 'Responded');
  await snap(p, 'owner-approved');
});

test('the requester recovers the key (checked against keyCommitment) and confirms', async () => {
  await recoverAndConfirm(requesterPage, reqc, { snap, reqcStatus });
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

test('the owner withdraws reward + deposit', async () => {
  const p = ownerPage;
  const card = p.locator(`[data-reqc="${reqc}"]`);
  await card.getByTestId('withdraw').waitFor({ timeout: 15000 });
  const before = await d.pub.getBalance({ address: owner.address });
  await card.getByTestId('withdraw').click();
  await card.getByTestId('card-status').filter({ hasText: 'Withdrawn' }).waitFor();
  const gained = (await d.pub.getBalance({ address: owner.address })) - before;
  assert.ok(gained > parseEther('0.059'), `owner got ${formatEther(gained)} ETH`);
  await snap(p, 'owner-withdrawn');
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
  await card.getByTestId('download').click();
  await card.getByTestId('card-status').filter({ hasText: down }).waitFor();
  await snap(p, 'cloud-down-download');
});
