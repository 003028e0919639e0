// Test support: the built page as the browser tests use it — served for a test chain (by the
// real cloud at `/`, or beside it), opened in wallet pages, numbered screenshots of each step,
// the Request Contracts' states by name and the page's date-time input format.

import path from 'node:path';
import { artifact, REPO } from './devnet.js';
import { shotDir, walletPage } from './browser.js';
import { serveDist } from './server.js';

export const WEB = path.join(REPO, 'web');
/** The built page (scripts/test-web runs `vite build` first). */
export const DIST = path.join(WEB, 'dist');

const reqcAbi = artifact('RequestContract').abi;
/** RequestContract.Status, by index. */
export const STATUS = ['Open', 'Responded', 'Declined', 'Cancelled', 'Completed', 'Disputed', 'Claimed'];

/** The state of Request Contract `reqc` by name ('Open', 'Responded', …). `d` is the deploy() result. */
export async function requestStatus(d, reqc) {
  return STATUS[Number(await d.pub.readContract({ address: reqc, abi: reqcAbi, functionName: 'status' }))];
}

/** `snap(page, name)`: a full-page screenshot web/test-results/<prefix>NN-<name>.png, numbered in order. */
export function screenshots(prefix = '') {
  const dir = shotDir(WEB);
  let shot = 0;
  return async (page, name) => {
    shot += 1;
    await page.screenshot({ path: path.join(dir, `${prefix}${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  };
}

/** A unix time as the page's `datetime-local` inputs take it (local time, to the minute). */
export function localInput(unix) {
  const t = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}`;
}

/** The page's /config.json for the test's anvil and contracts (`extra`: cloudUrl, …). */
export function pageConfig(anvil, d, extra = {}) {
  return { chainId: anvil.chainId, chainName: 'anvil (test)', fromBlock: d.fromBlock, contracts: d.contracts, ...extra };
}

/**
 * Where the page of a cloud test is: the cloud itself at `/` with its /config.json, or, for a
 * cloud binary that does not serve the page, the page served beside it with the API forwarded
 * unchanged (same origin, so the wallet-signed download is checked by the cloud). Resolves to
 * { url, close() }.
 */
export async function cloudSite(cloud, anvil, d) {
  if (cloud.servesPage) return { url: cloud.url, close: async () => {} };
  return serveDist(DIST, pageConfig(anvil, d, { cloudUrl: '' }), { proxy: cloud.url });
}

/**
 * Opens `url` in a new wallet page for `account` (see walletPage) and waits until the page is
 * ready. With `connect`, connects the wallet and waits until the page shows anvil's chain.
 */
export async function openPage(br, anvil, url, account, { connect = false, chainIdOverride = null, contextOptions = {} } = {}) {
  const { page } = await walletPage(br.browser, anvil.url, account, { chainIdOverride, contextOptions });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  if (connect) {
    await page.getByTestId('connect').click();
    await page.getByTestId('network').filter({ hasText: String(anvil.chainId) }).waitFor();
  }
  return page;
}

/**
 * axe-core (through @axe-core/playwright) on the page as it is now: asserts no serious or
 * critical violation (WCAG 2.x A/AA rules and best practices), naming each rule and element.
 * Returns the violations of lower impact, for the record.
 */
export async function assertAccessible(page, screen) {
  const { default: AxeBuilder } = await import('@axe-core/playwright');
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`).join('\n');
  if (bad.length) throw new Error(`axe-core on "${screen}": ${bad.length} serious/critical violation(s):\n${detail}`);
  return results.violations;
}
