// The whole flow with the REAL dashcam agent as the owner, in Debian's Chromium against the real
// cloud (`dashledger-cloud`: SQLite, temp blob dir, verifier/relayer/indexer on the test's anvil
// with the real contracts, serving the page at `/`).
//
// The agent (`dashledger-agent`, from the cargo target directory) is set up as a driver does:
// `init` (keystore), the operator approves its device key at the cloud, its owner wallet is funded
// from an anvil account, and `run` watches a directory into which a crash segment (a real H.264
// MP4 made with ffmpeg, named by its UTC start time) is delivered; the event file (the manual
// event button) makes it an accident, so the model's decision does not matter. The agent sends
// the record, seals the clip, has the cloud relay the EC creation (per-accident owner key),
// uploads; the cloud verifies and lists it.
//
// In the browser: search (cloud, thumbnail) → request (Umbral key made in the page, reward) →
// `dashledger-agent approve REQC` (kfrag from the owner's Umbral key, deposit, owner key funded
// from the wallet) → the page recovers the key, confirms → downloads from the cloud (signed by
// the wallet) → opens chunk by chunk → "verified" with the EC's videoHash → saves the video
// (byte-identical to the segment) → `dashledger-agent withdraw` pays reward + deposit to the
// owner wallet. Screenshots of every step: web/test-results/agent-flow-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatEther, getAddress, parseEther, toHex } from 'viem';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { artifact, deploy, devAccount, startAnvil } from '../support/devnet.js';
import { launch } from '../support/browser.js';
import { makeClip, startCloud } from '../support/cloud.js';
import { segmentName, setupAgent } from '../support/agent.js';
import { cloudSite, DIST, openPage, requestStatus, screenshots } from '../support/page.js';
import { downloadVerifySave, recoverAndConfirm, requestFootage, searchCloud } from '../support/steps.js';

const snap = screenshots('agent-flow-');
const reqcStatus = (r) => requestStatus(d, r);
const ecAbi = artifact('EvidenceContract').abi;
const REWARD = parseEther('0.05');

const verifier = devAccount(0);
const requester = devAccount(2);
const funder = devAccount(3);
// Vienna, Stephansplatz (the agent's GPS fix).
const PLACE = { lat: 48.208493, lon: 16.373118 };

let anvil, d, cloud, site, br, agent, agentDir, clipBytes, recordedAt, ec, ecOwner, requesterPage, reqc, approval;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const open = (account) => openPage(br, anvil, site.url, account, { connect: true });
/** Polls `probe` until it returns something truthy; fails naming `what` and the logs after `secs`. */
async function until(what, secs, probe) {
  const deadline = Date.now() + secs * 1000;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} (waited ${secs} s)\nagent log:\n${agent.log()}\ncloud log:\n${cloud.log()}`);
    await sleep(300);
  }
}

before(async () => {
  anvil = await startAnvil();
  d = await deploy(anvil);
  cloud = await startCloud({ anvil, d, verifierKey: verifier.privateKey, webDir: DIST });
  const { clip } = makeClip(cloud.dir);
  clipBytes = readFileSync(clip);
  agentDir = mkdtempSync(path.join(tmpdir(), 'dashledger-web-agent-'));
  agent = await setupAgent(agentDir, { cloud, anvil, ...PLACE });
  agent.clip = clip;
  site = await cloudSite(cloud, anvil, d);
  br = await launch();
});

after(async () => {
  await agent?.daemon()?.stop();
  await br?.close();
  await site?.close();
  await cloud?.cleanup();
  await anvil?.stop();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

test('agent init; the operator approves the device; the owner wallet is funded', async () => {
  const { init } = agent;
  for (const k of ['device_address', 'wallet_address', 'umbral_public_key']) assert.ok(init[k], `init printed ${k}: ${JSON.stringify(init)}`);
  const token = readFileSync(cloud.adminTokenFile, 'utf8').trim();
  const r = await fetch(`${cloud.url}/v1/admin/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ address: init.device_address, approve: true }),
  });
  assert.ok(r.ok, `device approval: ${r.status} ${await r.text()}`);
  const hash = await d.wallet(funder.address).sendTransaction({ to: init.wallet_address, value: parseEther('1') });
  await d.pub.waitForTransactionReceipt({ hash });
  assert.equal(await d.pub.getBalance({ address: init.wallet_address }), parseEther('1'));
});

test('a crash segment + the event button: the agent relays the EC, uploads, the cloud verifies and lists it', async () => {
  // The segment the camera is recording started two minutes ago (chain time).
  recordedAt = Number((await d.pub.getBlock()).timestamp) - 120;
  agent.deliverSegment(agent.clip, segmentName(recordedAt));
  agent.pressEvent();
  const daemon = agent.start();
  const status = await until('the agent did not finish the accident', 240, async () => {
    if (daemon.exited()) throw new Error(`the agent daemon exited (${JSON.stringify(daemon.exited())}):\n${agent.log()}`);
    const s = await agent.run(['status']).catch(() => null);
    return s?.accidents_done === 1 ? s : null;
  });
  assert.equal(status.accidents_done, 1);
  const q = new URLSearchParams({ from: String(recordedAt - 60), to: String(recordedAt + 120), lat: String(PLACE.lat), lon: String(PLACE.lon), radius_m: '250' });
  const item = await until('the cloud did not list the agent\'s EC', 120, async () => {
    const r = await fetch(`${cloud.url}/v1/clips?${q}`);
    if (!r.ok) return null;
    const items = (await r.json()).items ?? [];
    return items.find((i) => i.status === 'verified');
  });
  ec = getAddress(item.ec_address);
  assert.equal(await daemon.stop(), 0, 'SIGTERM stops the daemon cleanly');
  // On chain: Verified, the agent's per-accident owner key (not the wallet), the segment's start
  // time; in the listing the GPS fix. (The videoHash is checked by the page's verdict below.)
  assert.equal(Number(await d.pub.readContract({ address: ec, abi: ecAbi, functionName: 'status' })), 1);
  ecOwner = await d.pub.readContract({ address: ec, abi: ecAbi, functionName: 'owner' });
  assert.ok(!same(ecOwner, agent.init.wallet_address), 'the EC owner is a per-accident key, not the wallet');
  assert.equal(Number(await d.pub.readContract({ address: ec, abi: ecAbi, functionName: 'recordedAt' })), recordedAt);
  assert.equal(Number(await d.pub.readContract({ address: ec, abi: ecAbi, functionName: 'latitude' })), Math.round(PLACE.lat * 1e6));
  assert.ok(Math.abs(item.lat - PLACE.lat) < 1e-5 && Math.abs(item.lon - PLACE.lon) < 1e-5, JSON.stringify(item));
});

test('search through the cloud finds the agent\'s accident, with its thumbnail', async () => {
  requesterPage = await open(requester.address);
  const p = requesterPage;
  await snap(p, 'connected');
  // ~74 m east; the thumbnail is the agent's first-frame JPEG.
  await searchCloud(p, { from: recordedAt - 3600, to: recordedAt + 600, place: `${PLACE.lat}, ${(PLACE.lon + 0.001).toFixed(6)}`, radius: 250, ec });
  await snap(p, 'search-results');
});

test('request: the Umbral key is made in the browser, the reward is held for the EC owner key', async () => {
  reqc = await requestFootage(requesterPage, { d, reward: formatEther(REWARD), requester: requester.address, owner: ecOwner, ec, snap });
});

test('the owner approves with `dashledger-agent approve`: kfrag + deposit, the owner key funded from the wallet', async () => {
  // The agent sees the request through the cloud's owner API (signed by the EC's owner key).
  const listed = await until('`dashledger-agent requests` did not list the request', 60, async () => {
    const list = await agent.run(['requests']);
    return list.find((r) => same(r.reqc, reqc));
  });
  assert.ok(same(listed.ec_address, ec), JSON.stringify(listed));
  approval = await agent.run(['approve', reqc]);
  assert.ok(same(approval.request, reqc), JSON.stringify(approval));
  assert.ok(same(approval.ec, ec), JSON.stringify(approval));
  assert.ok(same(approval.owner, ecOwner), JSON.stringify(approval));
  assert.match(approval.tx, /^0x[0-9a-f]{64}$/i);
  assert.equal(BigInt(approval.deposit_wei), d.minDeposit);
  assert.ok(BigInt(approval.funded_wei) >= d.minDeposit, `the empty owner key was funded by the wallet: ${JSON.stringify(approval)}`);
  assert.equal(await reqcStatus(reqc), 'Responded');
  // The page's live state follows the chain.
  await requesterPage.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await snap(requesterPage, 'agent-approved');
});

test('the requester recovers the key from the agent\'s kfrag (checked against keyCommitment) and confirms', async () => {
  await recoverAndConfirm(requesterPage, reqc, { d, snap });
});

test('download from the cloud (signed by the wallet), open chunk by chunk, verified, saved', async () => {
  await downloadVerifySave(requesterPage, reqc, { clipBytes, videoHash: toHex(keccak_256(clipBytes)), snap });
});

test('`dashledger-agent withdraw` pays reward + deposit to the owner wallet', async () => {
  const wallet = agent.init.wallet_address;
  const before = await d.pub.getBalance({ address: wallet });
  const out = await agent.run(['withdraw']);
  assert.ok(same(out.to, wallet), JSON.stringify(out));
  assert.equal(BigInt(out.total_wei), REWARD + d.minDeposit, JSON.stringify(out));
  const mine = out.withdrawn.find((w) => same(w.request, reqc));
  assert.ok(mine, JSON.stringify(out));
  assert.equal(BigInt(mine.amount_wei), REWARD + d.minDeposit);
  const gained = (await d.pub.getBalance({ address: wallet })) - before;
  // The wallet pays the owner key's gas for the withdrawal out of what it receives.
  assert.ok(gained >= REWARD, `the wallet gained ${formatEther(gained)} ETH, at least the reward ${formatEther(REWARD)} expected`);
  assert.ok(gained <= REWARD + d.minDeposit, `the wallet gained ${formatEther(gained)} ETH`);
});

test("the agent's own owner page: no secret asked, token and Host checked; it lists a request and approves it", async () => {
  // A second request for the same clip (the page asks first: it is a second escrow).
  const p = requesterPage;
  await p.getByTestId('tab-find').click();
  await p.getByTestId('search').click();
  const card = p.getByTestId('result-card').first();
  await card.getByTestId('already-requested').waitFor();
  await card.getByTestId('reward').fill('0.02');
  await card.getByTestId('request').click();
  await p.getByTestId('confirm-ok').click();
  await card.getByTestId('new-reqc').waitFor();
  const r2 = (await card.getByTestId('new-reqc').textContent()).trim();
  assert.notEqual(r2, reqc);
  const admin = await agent.admin();
  try {
    // Without the token, or by a host name (DNS rebinding), it refuses.
    assert.equal((await fetch(admin.origin)).status, 403);
    const { request } = await import('node:http');
    const byName = await new Promise((resolve, reject) => {
      const u = new URL(admin.url);
      const q = request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers: { host: `evil.example:${u.port}` } }, (res) => resolve(res.statusCode));
      q.on('error', reject);
      q.end();
    });
    assert.equal(byName, 403);
    const forged = await fetch(`${admin.origin}/act`, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${new URL(admin.url).searchParams.get('token')}&action=withdraw&request=` });
    assert.equal(forged.status, 403, 'a form from another site is refused even with the token');
    // In the browser: the request is listed with Approve, and nothing asks for a key.
    const { page: ap } = await import('../support/browser.js').then((m) => m.walletPage(br.browser, anvil.url, requester.address));
    const row = ap.locator(`tr[data-reqc="${r2.toLowerCase()}"], tr[data-reqc="${r2}"]`);
    await until('the owner page did not list the new request', 60, async () => {
      await ap.goto(admin.url);
      return (await row.count()) > 0;
    });
    assert.equal(await ap.locator('input[type="password"]').count(), 0);
    assert.equal(await ap.locator('input:not([type="hidden"])').count(), 1, 'only the REQC field of Claim');
    await snap(ap, 'agent-owner-page');
    const { assertAccessible } = await import('../support/page.js');
    await assertAccessible(ap, "the agent's owner page");
    await row.locator('button[data-action="approve"]').click();
    await ap
      .getByTestId('result')
      .waitFor({ timeout: 60000 })
      .catch(async (e) => {
        throw new Error(`no result on the owner page: ${(await ap.content()).slice(0, 3000)}\nadmin stderr:\n${admin.stderr()}`, { cause: e });
      });
    assert.match(await ap.getByTestId('result').textContent(), /^Approved 0x[0-9a-fA-F]{40} \(transaction 0x[0-9a-f]{64}\)$/);
    assert.equal(await reqcStatus(r2), 'Responded');
    await snap(ap, 'agent-owner-approved');
    await ap.context().close();
    // The requester's page follows.
    await p.getByTestId('tab-requests').click();
    await p.locator(`[data-reqc="${r2}"]`).getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  } finally {
    await admin.stop();
  }
});
