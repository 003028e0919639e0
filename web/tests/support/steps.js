// Test support: the requester's steps after the owner has responded, shared by the whole-flow
// browser tests (owner in the page: flow.test.js; owner = the agent: agent-flow.test.js).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** Recovers the session key on the request's card (checked against keyCommitment) and confirms. */
export async function recoverAndConfirm(page, reqc, { snap, reqcStatus }) {
  const card = () => page.locator(`[data-reqc="${reqc}"]`);
  await card().getByTestId('request-state').filter({ hasText: 'Responded' }).waitFor({ timeout: 15000 });
  await card().getByTestId('recover').click();
  await card().getByTestId('card-status').filter({ hasText: "matches the EC's keyCommitment" }).waitFor();
  await snap(page, 'key-recovered');
  await card().getByTestId('confirm').click();
  await card().getByTestId('request-state').filter({ hasText: 'Completed' }).waitFor({ timeout: 15000 });
  assert.equal(await reqcStatus(reqc), 'Completed');
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
  await check(card, text);
  await snap(page, 'verified');
  const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('save').click()]);
  const saved = readFileSync(await download.path());
  assert.ok(saved.equals(clipBytes), 'the saved video is the clip the camera recorded, byte for byte');
  await snap(page, 'saved');
  return download;
}
