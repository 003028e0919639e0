// Test support: the steps of the browser tests that the flows share (page.test.js, flow.test.js,
// agent-flow.test.js, usability.test.js). No page asks an owner for a secret key: in page.test.js
// and flow.test.js the owner answers as the dashcam agent does (`agentApproves`: the kfrag made
// from the owner's keys outside the page, `respond` sent from the owner's account); in
// agent-flow.test.js the real agent does.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatEther, parseEther } from 'viem';
import { artifact, REPO } from './devnet.js';
import { grantKfrag, loadUmbral } from '../../src/umbral.js';
import { localInput, requestStatus } from './page.js';

const reqcAbi = artifact('RequestContract').abi;

/**
 * Searches through the cloud from `from` to `to` (unix) around `place` ("lat, lon") within
 * `radius` metres and checks it finds exactly the card of `ec`, from the cloud (not the chain
 * fallback), with its thumbnail decoded by the browser (`thumbWidth` pixels wide when given).
 * Returns the card.
 */
export async function searchCloud(page, { from, to, place, radius, ec, thumbWidth = null }) {
  await page.getByTestId('from').fill(localInput(from));
  await page.getByTestId('to').fill(localInput(to));
  await page.getByTestId('place').fill(place);
  await page.getByTestId('radius').fill(String(radius));
  await page.getByTestId('search').click();
  const card = page.getByTestId('result-card').first();
  await card.waitFor();
  assert.equal(await page.getByTestId('result-card').count(), 1);
  assert.equal(await card.getAttribute('data-ec'), ec);
  assert.match(await page.getByTestId('search-status').textContent(), /^1 result\.$/);
  // The uploaded JPEG, served by the cloud, decoded by the browser.
  await page.waitForFunction((width) => {
    const img = document.querySelector('[data-testid="result-card"] img.thumb');
    return img && img.complete && (width === null ? img.naturalWidth > 0 : img.naturalWidth === width);
  }, thumbWidth);
  return card;
}

/**
 * Requests the footage of the first result card with `reward` (ETH, as typed): checks the new
 * Request Contract's requester, owner, EC, reward and that it is Open; `check(card, reqc)` adds
 * the caller's own checks. Then the requester's list shows it Open. Returns its address.
 */
export async function requestFootage(page, { d, reward, requester, owner, ec, snap, check = async () => {} }) {
  const card = page.getByTestId('result-card').first();
  await card.getByTestId('reward').fill(reward);
  await card.getByTestId('request').click();
  await card.getByTestId('new-reqc').waitFor();
  const reqc = (await card.getByTestId('new-reqc').textContent()).trim();
  const info = await d.pub.readContract({ address: reqc, abi: reqcAbi, functionName: 'info' });
  assert.equal(info.requester, requester);
  assert.equal(info.owner, owner);
  assert.equal(info.ec, ec);
  assert.equal(info.reward, parseEther(reward));
  assert.equal(await requestStatus(d, reqc), 'Open');
  await check(card, reqc);
  await snap(page, 'requested');
  await page.getByTestId('tab-requests').click();
  await page.locator(`[data-reqc="${reqc}"]`).getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  await snap(page, 'my-requests-open');
  return reqc;
}

/** The owner view (tab) with the card of `reqc` Open in it. Returns the card. */
export async function ownerViewOpen(page, reqc) {
  await page.getByTestId('tab-owner').click();
  const card = page.locator(`[data-reqc="${reqc}"]`);
  await card.getByTestId('request-state').filter({ hasText: 'Open' }).waitFor();
  return card;
}

/** The requester's Umbral public key of `reqc`, from its RequestOpened event (as the agent reads it). */
export async function requesterKeyOf(d, reqc) {
  const logs = await d.pub.getContractEvents({ address: d.contracts.responseContract, abi: artifact('ResponseContract').abi, eventName: 'RequestOpened', fromBlock: BigInt(d.fromBlock ?? 0) });
  const log = logs.find((l) => l.args.reqc.toLowerCase() === reqc.toLowerCase());
  assert.ok(log, `no RequestOpened event for ${reqc}`);
  return log.args.requesterUmbralKey;
}

/**
 * The owner approves `reqc` as the dashcam agent does (`dashledger-agent approve`): the kfrag for
 * the requester's key is made from the owner's Umbral secret and the EC owner key outside any
 * page, and `respond` is sent from the owner's account with `deposit` (default: the minimum) and
 * `link`. Checks the contract is Responded; returns the transaction hash. `requesterKey`
 * overrides the key the kfrag is made for (a wrong answer).
 */
export async function agentApproves(d, reqc, { owner, umbralSecret, link = `https://cloud.invalid/v1/clips/download?reqc=${reqc}`, deposit = d.minDeposit, requesterKey = null }) {
  await loadUmbral(readFileSync(path.join(REPO, 'web/node_modules/@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm')));
  const { kfrag, signerKey } = grantKfrag({ ownerSecretKey: umbralSecret, signerSecretKey: owner.privateKey, requesterPublicKey: requesterKey ?? (await requesterKeyOf(d, reqc)) });
  // Simulated first, as the agent checks before sending: a refusal comes back by its error name.
  const { request } = await d.pub.simulateContract({ account: owner.address, address: reqc, abi: reqcAbi, functionName: 'respond', args: [kfrag, signerKey, link], value: deposit });
  const hash = await d.wallet(owner.address).writeContract(request);
  assert.equal((await d.pub.waitForTransactionReceipt({ hash })).status, 'success');
  if (!requesterKey) assert.equal(await requestStatus(d, reqc), 'Responded');
  return hash;
}

/** No page asks for a secret key: no password field, nothing labelled as a secret or private key, on any tab. */
export async function assertNoSecretFields(page) {
  for (const tab of ['find', 'requests', 'owner', 'keys']) {
    await page.getByTestId(`tab-${tab}`).click();
    assert.equal(await page.locator('input[type="password"]').count(), 0, `a password field on the ${tab} tab`);
    const labels = await page.locator('section:not([hidden]) label, section:not([hidden]) input[aria-label]').evaluateAll((els) => els.map((e) => e.textContent + (e.getAttribute('aria-label') ?? '')));
    // The Keys tab imports the requester's own Umbral key file (made by this page); nothing else.
    const secretLabels = labels.filter((t) => /private key|signing key|secret key|seed/i.test(t));
    assert.deepEqual(secretLabels, [], `secret-key inputs on the ${tab} tab`);
  }
}

/**
 * Recovers the session key on the request's card (checked against keyCommitment) and pays: one
 * action, "Recover key and pay" (the confirm transaction follows the recovery).
 */
export async function recoverAndConfirm(page, reqc, { d, snap }) {
  const card = () => page.locator(`[data-reqc="${reqc}"]`);
  await card().getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await card().getByTestId('recover').click();
  await card().getByTestId('card-status').filter({ hasText: "matches the EC's keyCommitment" }).waitFor();
  await snap(page, 'key-recovered');
  await card().getByTestId('request-state').filter({ hasText: 'Completed' }).waitFor({ timeout: 15000 });
  assert.equal(await requestStatus(d, reqc), 'Completed');
  assert.match(await card().getByTestId('card-status').textContent(), /matches the EC's keyCommitment\. Confirmed and paid/);
  await snap(page, 'confirmed');
}

/**
 * Downloads the sealed clip, waits for the verdict and checks it names `videoHash` and the clip's
 * size with a full progress bar; `check(card, text)` adds the caller's own checks. Then saves the
 * video and checks it is `clipBytes` byte for byte. Returns the Playwright download.
 */
export async function downloadVerifySave(page, reqc, { clipBytes, videoHash, snap, check = async () => {} }) {
  const card = page.locator(`[data-reqc="${reqc}"]`);
  await card.getByTestId('download').click();
  const verdict = card.getByTestId('verdict');
  await verdict.waitFor({ timeout: 30000 });
  const text = await verdict.textContent();
  assert.match(text, /^Verified: Keccak-256 0x[0-9a-f]{64} matches the Evidence Contract's videoHash/, text);
  assert.ok(text.includes(videoHash), text);
  assert.ok(text.includes(`${clipBytes.length} bytes`), text);
  assert.equal(await card.getByTestId('progress').evaluate((e) => e.value === e.max), true);
  // The verified video plays in the page, and the step bar is complete.
  await card.getByTestId('player').waitFor();
  assert.deepEqual(await card.getByTestId('steps').locator('li').evaluateAll((li) => li.map((l) => l.dataset.state)), ['done', 'done', 'done', 'done']);
  await check(card, text);
  await snap(page, 'verified');
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('save').click()]);
  const saved = readFileSync(await download.path());
  assert.ok(saved.equals(clipBytes), 'the saved video is the clip the camera recorded, byte for byte');
  await snap(page, 'saved');
  return download;
}

/**
 * The owner withdraws on the owner-view card of `reqc` (a completed request): the card says
 * Withdrawn and `owner`'s balance grew by more than `more` (wei; reward + deposit minus gas);
 * `check()` adds the caller's own checks.
 */
export async function ownerWithdraws(page, reqc, { d, owner, more, snap, check = async () => {} }) {
  const card = page.locator(`[data-reqc="${reqc}"]`);
  await card.getByTestId('withdraw').waitFor({ timeout: 15000 });
  const before = await d.pub.getBalance({ address: owner });
  await card.getByTestId('withdraw').click();
  await card.getByTestId('card-status').filter({ hasText: 'Withdrawn' }).waitFor();
  const gained = (await d.pub.getBalance({ address: owner })) - before;
  assert.ok(gained > more, `owner got ${formatEther(gained)} ETH`);
  await check();
  await snap(page, 'owner-withdrawn');
}

/**
 * "Save evidence bundle" on the verified card of `reqc` (clicked, or with `keyboard` focused and
 * Enter pressed): waits for the download and its "Saved …" status; returns the zip's bytes (Buffer) and the Playwright download.
 */
export async function saveBundle(page, reqc, { keyboard = false } = {}) {
  const card = page.locator(`[data-reqc="${reqc}"]`);
  const button = card.getByTestId('save-bundle');
  // From the keyboard: focused, then Enter (a native button).
  const press = keyboard ? button.press('Enter') : button.click();
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), press]);
  await card.getByTestId('bundle-status').filter({ hasText: /^Saved / }).waitFor();
  return { zip: readFileSync(await download.path()), download };
}

/**
 * Clicks "Save evidence bundle" on the card of `reqc` where it must fail: waits for the status
 * "No bundle saved: …", checks no download started, returns the status text.
 */
export async function bundleRefused(page, reqc) {
  const card = page.locator(`[data-reqc="${reqc}"]`);
  let downloads = 0;
  const count = () => (downloads += 1);
  page.on('download', count);
  try {
    await card.getByTestId('save-bundle').click();
    const status = card.getByTestId('bundle-status');
    await status.filter({ hasText: /^No bundle saved: / }).waitFor({ timeout: 60000 });
    // Give a stray download a moment to show up.
    await page.waitForTimeout(300);
    assert.equal(downloads, 0, 'nothing is saved when the bundle fails');
    assert.equal(await card.getByTestId('save-bundle').isEnabled(), true, 'the button is offered again');
    return await status.textContent();
  } finally {
    page.off('download', count);
  }
}
