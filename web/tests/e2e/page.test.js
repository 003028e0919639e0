// The built page in Debian's Chromium (playwright-core) against a real anvil with the real
// contracts. A test EIP-1193 wallet in the page forwards to anvil's unlocked dev accounts:
// account 0 is the verifier (the cloud's role), 1 the footage owner, 2 the requester.
//
// Covered: connect + network check, wrong network refused, search by time and place, request
// (REQC with reward), rejected transaction, the owner page without secret keys and approval as
// the agent makes it, live state change, key recovery against keyCommitment and confirm as one
// action, opening + verifying a sealed clip chunk by chunk, tampered clip, saving the video and
// the player, owner withdraw, expired deadline (Cancel available at …, then cancel), the
// duplicate-request guard, owner decline and claim (available after the confirm window), a wrong
// kfrag disputed, insufficient funds, key export/import, a cloud that is down. Screenshots go to
// web/test-results/. The map, field errors, keyboard, axe-core and phone checks are in
// usability.test.js.
//
// The cloud's search (thumbnails), the signed download from the real cloud and the whole flow
// with an accident reported through the cloud are in flow.test.js.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatEther, parseEther } from 'viem';
import { artifact, deploy, devAccount, rpc, startAnvil } from '../support/devnet.js';
import { createAccident } from '../support/evidence.js';
import { generateKeyPair } from '../../src/umbral.js';
import { fmtDuration } from '../../src/view.js';
import { launch } from '../support/browser.js';
import { freePort } from '../support/cloud.js';
import { serveDist } from '../support/server.js';
import { DIST, localInput, openPage, pageConfig, requestStatus, screenshots } from '../support/page.js';
import { agentApproves, assertNoSecretFields, bundleRefused, ownerViewOpen, ownerWithdraws, requestFootage } from '../support/steps.js';

const snap = screenshots();
const reqcAbi = artifact('RequestContract').abi;
const reqcStatus = (r) => requestStatus(d, r);

const owner = devAccount(1);
const requester = devAccount(2);
// Berlin, Alexanderplatz; the other accident is in Munich.
const PLACE = { lat: 52.521918, lon: 13.413215 };

let anvil, d, site, downSite, br, acc, far, requesterPage, ownerPage;
const open = (account, opts = {}, url = site.url) => openPage(br, anvil, url, account, opts);

before(async () => {
  anvil = await startAnvil();
  d = await deploy(anvil);
  const now = Number((await d.pub.getBlock()).timestamp);
  acc = await createAccident(d, owner, { ...PLACE, recordedAt: now - 1800, size: 300_000 });
  // Same time, 500 km away: must not be found.
  far = await createAccident(d, owner, { lat: 48.137154, lon: 11.576124, recordedAt: now - 1700, size: 2000 });
  site = await serveDist(DIST, pageConfig(anvil, d));
  // Same page, but its cloud is on a loopback port nobody listens on.
  downSite = await serveDist(DIST, pageConfig(anvil, d, { cloudUrl: `http://127.0.0.1:${await freePort()}` }));
  br = await launch();
});

after(async () => {
  await br?.close();
  await site?.close();
  await downSite?.close();
  await anvil?.stop();
});

test('connect the wallet: the account and the right network are shown', async () => {
  requesterPage = await open(requester.address);
  const p = requesterPage;
  await p.getByTestId('connect').click();
  await p.getByTestId('network').filter({ hasText: '31337' }).waitFor();
  assert.match(await p.getByTestId('network').getAttribute('class'), /\bok\b/);
  assert.equal(await p.getByTestId('account').getAttribute('title'), requester.address);
  assert.equal(await p.getByTestId('banner').isVisible(), false);
  await snap(p, 'connected');
});

test('a wallet on another chain is refused until it switches', async () => {
  const p = await open(requester.address, { chainIdOverride: 1 });
  await p.getByTestId('banner').filter({ hasText: 'chain 1' }).waitFor();
  assert.match(await p.getByTestId('banner').textContent(), /on chain 1; dashledger here runs on chain 31337/);
  assert.match(await p.getByTestId('network').textContent(), /wrong network/);
  await snap(p, 'wrong-network');
  // Sending is refused too: search works from the chain, but a request names the problem.
  await p.getByTestId('connect').click();
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('search').click();
  await p.getByTestId('result-card').first().waitFor();
  await p.getByTestId('result-card').first().getByTestId('request').click();
  await p.getByTestId('request-status').filter({ hasText: 'chain 1' }).waitFor();
  await p.getByTestId('switch-network').click();
  await p.getByTestId('network').filter({ hasText: '31337' }).waitFor();
  assert.equal(await p.getByTestId('banner').isVisible(), false);
  await p.context().close();
});

test('search by time range and place finds the accident and not the one elsewhere', async () => {
  const p = requesterPage;
  const now = Number((await d.pub.getBlock()).timestamp);
  await p.getByTestId('from').fill(localInput(now - 3600));
  await p.getByTestId('to').fill(localInput(now + 60));
  await p.getByTestId('place').fill(`${PLACE.lat + 0.001}, ${PLACE.lon}`); // ~111 m north
  await p.getByTestId('radius').fill('300');
  await p.getByTestId('search').click();
  await p.getByTestId('result-card').first().waitFor();
  const cards = p.getByTestId('result-card');
  assert.equal(await cards.count(), 1);
  assert.equal(await cards.first().getAttribute('data-ec'), acc.ec);
  const text = await cards.first().textContent();
  assert.match(text, /52\.521918, 13\.413215/);
  assert.match(text, /11[0-9] m/);
  // No cloud search behind the static server: the page says so and used the chain.
  assert.match(await p.getByTestId('search-status').textContent(), /1 result\..*from the chain/);
  await snap(p, 'search-results');
  // A time range before the accident finds nothing; bad input is named.
  await p.getByTestId('to').fill(localInput(now - 2400));
  await p.getByTestId('search').click();
  await p.getByText('No verified footage in that time and place.').waitFor();
  await p.getByTestId('place').fill('91, 13');
  await p.getByTestId('search').click();
  await p.getByTestId('search-status').filter({ hasText: 'latitude must be between -90 and 90' }).waitFor();
  // A radius wide enough for Munich finds both.
  await p.getByTestId('to').fill(localInput(now + 60));
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('radius').fill('100000');
  await p.getByTestId('search').click();
  await p.getByTestId('search-status').filter({ hasText: '1 result' }).waitFor();
  await p.getByTestId('radius').fill('500');
  await p.getByTestId('search').click();
  await p.getByTestId('result-card').first().waitFor();
  void far;
});

test('a transaction rejected in the wallet says so and sends nothing', async () => {
  const p = requesterPage;
  const card = p.getByTestId('result-card').first();
  await p.evaluate(() => window.__testWallet.rejectNext());
  await card.getByTestId('request').click();
  await card.getByTestId('request-status').filter({ hasText: 'You rejected the request in your wallet' }).waitFor();
  const count = await d.pub.readContract({ address: d.contracts.responseContract, abi: artifact('ResponseContract').abi, functionName: 'requestCount', args: [owner.address] });
  assert.equal(count, 0n);
  await snap(p, 'rejected');
});

let reqc;
test('request the footage: a Request Contract holds the reward', async () => {
  const p = requesterPage;
  reqc = await requestFootage(p, {
    d,
    reward: '0.05',
    requester: requester.address,
    owner: owner.address,
    ec: acc.ec,
    snap,
    check: async (card) => {
      const tx = (await card.getByTestId('request-tx').textContent()).trim();
      const receipt = await d.pub.getTransactionReceipt({ hash: tx });
      assert.equal(receipt.status, 'success');
      // The Umbral key was made in the browser and stored there.
      const stored = await p.evaluate(() => JSON.parse(localStorage.getItem('dashledger.umbralKeys.v1')));
      assert.equal(stored.length, 1);
      assert.match(stored[0].publicKey, /^0x0[23][0-9a-f]{64}$/);
    },
  });
});

test('owner view: no secret key is asked; the owner approves as the agent does', async () => {
  ownerPage = await open(owner.address);
  const p = ownerPage;
  await p.getByTestId('connect').click();
  await assertNoSecretFields(p);
  const card = await ownerViewOpen(p, reqc);
  assert.match(await p.getByTestId('owner-status').textContent(), /1 pending/);
  // The page points to the agent's command for this request and offers no Approve button.
  assert.match(await card.getByTestId('approve-with-agent').textContent(), new RegExp(`dashledger-agent approve ${reqc}`));
  assert.equal(await card.getByTestId('approve').count(), 0);
  assert.match(await p.getByTestId('owner-agent-help').textContent(), /dashledger-agent requests/);
  await snap(p, 'owner-pending');
  await agentApproves(d, reqc, { owner, umbralSecret: acc.ownerUmbral.secretKey, link: 'https://owner.invalid/clip' });
  await p.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await snap(p, 'owner-approved');
});

test('requester: the state goes live to Responded, the key is recovered and checked, confirm pays', async () => {
  const p = requesterPage;
  const card = p.locator(`[data-reqc="${reqc}"]`);
  // No reload: the list polls the chain.
  await card.getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  assert.match(await card.getByTestId('confirm-countdown').textContent(), /^in \d/);
  await card.getByTestId('recover').click();
  await card.getByTestId('card-status').filter({ hasText: "matches the EC's keyCommitment" }).waitFor();
  await snap(p, 'key-recovered');
  // Recover and confirm are one action: the confirm transaction follows the recovery.
  await p.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Completed' }).waitFor({ timeout: 15000 });
  assert.equal(await reqcStatus(reqc), 'Completed');
  await snap(p, 'completed');
});

test('a tampered sealed clip is not verified and the page says which chunk failed', async () => {
  const p = requesterPage;
  const bad = Buffer.from(acc.sealed);
  bad[56 + 2 * (65536 + 16) + 100] ^= 0x01;
  await p.getByTestId('open-file').setInputFiles({ name: 'clip.sealed', mimeType: 'application/octet-stream', buffer: bad });
  const verdict = p.locator(`[data-reqc="${reqc}"]`).getByTestId('verdict');
  await verdict.filter({ hasText: 'Not verified' }).waitFor();
  assert.match(await verdict.textContent(), /chunk 2 failed authentication/);
  await snap(p, 'tampered');
});

test('the sealed clip opens chunk by chunk, its Keccak-256 matches videoHash, and it saves', async () => {
  const p = requesterPage;
  await p.getByTestId('open-file').setInputFiles({ name: 'clip.sealed', mimeType: 'application/octet-stream', buffer: Buffer.from(acc.sealed) });
  const card = p.locator(`[data-reqc="${reqc}"]`);
  const verdict = card.getByTestId('verdict');
  await verdict.filter({ hasText: /^Verified/ }).waitFor();
  assert.match(await verdict.textContent(), new RegExp(`Keccak-256 ${acc.params.videoHash} matches`));
  assert.match(await verdict.textContent(), /5 chunks, 300000 bytes/);
  assert.equal(await card.getByTestId('progress').evaluate((e) => e.value === e.max && e.max === 300000 + 56 + 5 * 16), true);
  // After "Verified": a player for the clip, and the step bar complete.
  assert.equal(await card.getByTestId('player').evaluate((v) => v.src.startsWith('blob:')), true);
  assert.deepEqual(await card.getByTestId('steps').locator('li').evaluateAll((li) => li.map((l) => l.dataset.state)), ['done', 'done', 'done', 'done']);
  await snap(p, 'verified');
  const [download] = await Promise.all([p.waitForEvent('download'), card.getByTestId('save').click()]);
  const saved = readFileSync(await download.path());
  assert.ok(Buffer.from(acc.clip).equals(saved), 'the saved video is the original clip');
  assert.equal(download.suggestedFilename(), `dashledger-${acc.ec}.mp4`);
  // The evidence bundle needs the clip's frame leaves: this test clip is not an MP4, so the page
  // says so and saves nothing.
  const text = await bundleRefused(p, reqc);
  assert.match(text, /^No bundle saved: cannot read the frame leaves of the clip: MP4: /, text);
});

test('owner withdraws reward + deposit', async () => {
  // reward 0.05 + deposit 0.01, minus gas.
  await ownerWithdraws(ownerPage, reqc, {
    d,
    owner: owner.address,
    more: parseEther('0.059'),
    snap,
    check: async () => assert.equal(await d.pub.readContract({ address: reqc, abi: reqcAbi, functionName: 'owed', args: [owner.address] }), 0n),
  });
});

test("Cancel is available only after the owner's deadline; then the requester cancels and withdraws", async () => {
  const late = await newRequest('0.02');
  const p = requesterPage;
  await p.getByTestId('tab-requests').click();
  const rc = () => p.locator(`[data-reqc="${late}"]`);
  // Before the deadline: no enabled Cancel that would fail "too early", but when it will be possible.
  await rc().getByTestId('cancel').waitFor();
  assert.equal(await rc().getByTestId('cancel').isDisabled(), true);
  assert.match(await rc().getByTestId('cancel').textContent(), /^Cancel available at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC[+-]?[\d:]* \(in /);
  assert.match(await rc().getByTestId('respond-countdown').textContent(), /^in \d/);
  assert.deepEqual(await rc().getByTestId('steps').locator('li').evaluateAll((li) => li.map((l) => l.dataset.state)), ['done', 'current', 'todo', 'todo']);
  await snap(p, 'cancel-not-yet');
  await rpc(anvil.url, 'evm_increaseTime', [d.windows.responseWindow + 10]);
  await rpc(anvil.url, 'evm_mine', []);
  // The owner's answer is now refused on-chain (as the agent would be told), and the owner page says so.
  await assert.rejects(agentApproves(d, late, { owner, umbralSecret: acc.ownerUmbral.secretKey }), /ResponseDeadlinePassed/);
  const op = ownerPage;
  await op.getByTestId('refresh-owner').click();
  const oc = op.locator(`[data-reqc="${late}"]`);
  await oc.getByTestId('owner-expired').filter({ hasText: "expired: the owner's response deadline passed" }).waitFor();
  await snap(op, 'expired');
  assert.equal(await reqcStatus(late), 'Open');
  // The page follows the chain's clock: Cancel becomes available by itself.
  await rc().getByTestId('cancel').filter({ hasText: 'Cancel (the owner did not answer in time)' }).waitFor({ timeout: 15000 });
  await rc().getByTestId('cancel').click();
  await p.locator(`[data-reqc="${late}"]`).getByTestId('request-state').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 15000 });
  await p.locator(`[data-reqc="${late}"]`).getByTestId('withdraw').click();
  await p.locator(`[data-reqc="${late}"]`).getByTestId('withdraw').waitFor({ state: 'detached', timeout: 15000 });
  assert.equal(await d.pub.readContract({ address: late, abi: reqcAbi, functionName: 'owed', args: [requester.address] }), 0n);
});

test('a second request for the same clip is marked and asked about before the wallet opens', async () => {
  const p = requesterPage;
  await p.getByTestId('tab-find').click();
  await p.getByTestId('search').click();
  await p.getByTestId('search-status').filter({ hasText: '1 result' }).waitFor();
  const card = p.getByTestId('result-card').first();
  // Marked with the states of this account's requests, linking to My requests.
  const already = card.getByTestId('already-requested');
  await already.waitFor();
  assert.match(await already.textContent(), /You already requested this: .*Completed/);
  assert.match(await already.textContent(), /Cancelled/);
  // The terms are on the card before any wallet prompt.
  const terms = await card.getByTestId('terms').textContent();
  assert.ok(terms.includes(`Owner's response window${fmtDuration(d.windows.responseWindow)}:`), terms);
  assert.ok(terms.includes(`Confirm or dispute window${fmtDuration(d.windows.confirmWindow)} after`), terms);
  assert.match(terms, /Confirm or dispute window/);
  assert.match(terms, /Refunds.*declines/);
  const count = async () => d.pub.readContract({ address: d.contracts.responseContract, abi: artifact('ResponseContract').abi, functionName: 'requestCount', args: [owner.address] });
  const before = await count();
  await card.getByTestId('reward').fill('0.04');
  await card.getByTestId('request').click();
  const dlg = p.getByTestId('confirm-dialog');
  await dlg.waitFor();
  assert.match(await dlg.textContent(), /You already requested this footage.*Completed.*second reward of 0\.04 ETH/s);
  assert.match(await dlg.getByTestId('terms').textContent(), /Reward0\.04 ETH/);
  await snap(p, 'duplicate-request-dialog');
  await dlg.getByTestId('confirm-cancel').click();
  await card.getByTestId('request-status').filter({ hasText: 'Nothing sent' }).waitFor();
  assert.equal(await count(), before, 'no second Request Contract was opened');
  await already.getByTestId('see-my-requests').click();
  assert.equal(await p.getByTestId('tab-requests').getAttribute('aria-selected'), 'true');
});

/** The duplicate-request dialog, when it shows: open another request (these tests mean to). */
async function confirmAnother(p) {
  const ok = p.getByTestId('confirm-ok');
  await ok.waitFor({ timeout: 5000 });
  await ok.click();
}

async function newRequest(reward) {
  const p = requesterPage;
  await p.getByTestId('tab-find').click();
  const card = p.getByTestId('result-card').first();
  await card.getByTestId('reward').fill(reward);
  await card.getByTestId('request').click();
  await confirmAnother(p);
  await card.getByTestId('new-reqc').filter({ hasNotText: /^$/ }).waitFor();
  // The card keeps the last request's address until the new one is mined: wait for a new one.
  let r;
  for (;;) {
    r = (await card.getByTestId('new-reqc').textContent()).trim();
    const info = await d.pub.readContract({ address: r, abi: reqcAbi, functionName: 'info' });
    if (info.reward === parseEther(reward)) break;
    await p.waitForTimeout(100);
  }
  return r;
}

test('owner view: decline refunds the requester', async () => {
  const r = await newRequest('0.03');
  const op = ownerPage;
  await op.getByTestId('refresh-owner').click();
  const oc = op.locator(`[data-reqc="${r}"]`);
  await oc.getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  await oc.getByTestId('decline').click();
  await op.locator(`[data-reqc="${r}"]`).getByTestId('request-state').filter({ hasText: 'Declined' }).waitFor({ timeout: 15000 });
  assert.equal(await reqcStatus(r), 'Declined');
  await snap(op, 'owner-declined');
  const p = requesterPage;
  await p.getByTestId('tab-requests').click();
  const rc = () => p.locator(`[data-reqc="${r}"]`);
  await rc().getByTestId('request-state').filter({ hasText: 'Declined' }).waitFor({ timeout: 15000 });
  assert.match(await rc().getByTestId('withdraw').textContent(), /Withdraw 0\.03 ETH/);
  await rc().getByTestId('withdraw').click();
  await rc().getByTestId('withdraw').waitFor({ state: 'detached', timeout: 15000 });
  assert.equal(await d.pub.readContract({ address: r, abi: reqcAbi, functionName: 'owed', args: [requester.address] }), 0n);
});

test('owner view: claim is refused while the requester may confirm, allowed after', async () => {
  const r = await newRequest('0.021');
  const op = ownerPage;
  await op.getByTestId('refresh-owner').click();
  const oc = () => op.locator(`[data-reqc="${r}"]`);
  await agentApproves(d, r, { owner, umbralSecret: acc.ownerUmbral.secretKey });
  await oc().getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  // While the requester may confirm or dispute, Claim says when it becomes possible.
  assert.equal(await oc().getByTestId('claim').isDisabled(), true);
  assert.match(await oc().getByTestId('claim').textContent(), /^Claim available at .* \(in /);
  await snap(op, 'owner-claim-too-early');
  await rpc(anvil.url, 'evm_increaseTime', [d.windows.confirmWindow + 10]);
  await rpc(anvil.url, 'evm_mine', []);
  await oc().getByTestId('claim').filter({ hasText: 'Claim (the confirm window is over)' }).waitFor({ timeout: 15000 });
  await oc().getByTestId('claim').click();
  await oc().getByTestId('request-state').filter({ hasText: 'Claimed' }).waitFor({ timeout: 15000 });
  assert.equal(await reqcStatus(r), 'Claimed');
  await oc().getByTestId('withdraw').click();
  await oc().getByTestId('withdraw').waitFor({ state: 'detached', timeout: 15000 });
  assert.equal(await d.pub.readContract({ address: r, abi: reqcAbi, functionName: 'owed', args: [owner.address] }), 0n);
  await snap(op, 'owner-claimed');
});

test('a wrong kfrag is named on recovery and the requester disputes it', async () => {
  const r = await newRequest('0.022');
  // The owner answers with a kfrag for somebody else's key (sent outside the page).
  const other = generateKeyPair();
  await agentApproves(d, r, { owner, umbralSecret: acc.ownerUmbral.secretKey, link: 'https://example.invalid/clip', requesterKey: other.publicKey });
  const p = requesterPage;
  await p.getByTestId('tab-requests').click();
  const rc = () => p.locator(`[data-reqc="${r}"]`);
  await rc().getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await rc().getByTestId('recover').click();
  await rc().getByTestId('card-status').filter({ hasText: 'you can dispute this response' }).waitFor();
  await snap(p, 'wrong-kfrag');
  await rc().getByTestId('dispute').click();
  await rc().getByTestId('request-state').filter({ hasText: 'Disputed' }).waitFor({ timeout: 15000 });
  assert.equal(await reqcStatus(r), 'Disputed');
});

test('insufficient funds are named before anything is sent', async () => {
  const p = requesterPage;
  await p.getByTestId('tab-find').click();
  const card = p.getByTestId('result-card').first();
  await card.getByTestId('reward').fill('100000');
  await card.getByTestId('request').click();
  await confirmAnother(p);
  await card.getByTestId('request-status').filter({ hasText: 'Insufficient funds' }).waitFor();
  await snap(p, 'insufficient-funds');
});

test('Umbral keys: export to a file, import into a fresh browser profile', async () => {
  const p = requesterPage;
  await p.getByTestId('tab-keys').click();
  const current = (await p.getByTestId('current-key').textContent()).trim();
  const [download] = await Promise.all([p.waitForEvent('download'), p.getByTestId('export-keys').click()]);
  const file = readFileSync(await download.path(), 'utf8');
  assert.equal(JSON.parse(file).keys[0].publicKey, current);
  await snap(p, 'keys');
  const fresh = await open(requester.address);
  await fresh.getByTestId('tab-keys').click();
  assert.match(await fresh.getByTestId('current-key').textContent(), /none yet/);
  await fresh.getByTestId('import-file').setInputFiles({ name: 'keys.json', mimeType: 'application/json', buffer: Buffer.from(file) });
  await fresh.getByTestId('keys-status').filter({ hasText: 'Imported 1 key' }).waitFor();
  assert.equal((await fresh.getByTestId('current-key').textContent()).trim(), current);
  await fresh.getByTestId('import-text').fill('not a key');
  await fresh.getByTestId('import-paste').click();
  await fresh.getByTestId('keys-status').filter({ hasText: 'not a key file' }).waitFor();
  await fresh.context().close();
});

test('a cloud that is down is named, and search falls back to the chain', async () => {
  const p = await open(requester.address, {}, downSite.url);
  await p.getByTestId('place').fill(`${PLACE.lat}, ${PLACE.lon}`);
  await p.getByTestId('search').click();
  await p.getByTestId('search-status').filter({ hasText: 'is not reachable' }).waitFor();
  assert.match(await p.getByTestId('search-status').textContent(), /The cloud at http:\/\/127\.0\.0\.1:\d+ is not reachable.*from the chain/);
  assert.equal(await p.getByTestId('result-card').count(), 1);
  await snap(p, 'cloud-down');
  await p.context().close();
});
