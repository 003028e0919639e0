// Test support: Debian's Chromium through playwright-core, and a test EIP-1193 wallet injected
// into the page that forwards to anvil, where the development accounts are unlocked.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { rpc } from './devnet.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// playwright-core's launch() adds --headless and gives every launch a fresh, empty profile
// directory of its own (it refuses --user-data-dir; that is for launchPersistentContext).
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: () => browser.close(),
  };
}

/**
 * A new page whose window.ethereum is a test wallet for `account`, forwarding JSON-RPC to
 * anvil. `window.__testWallet` lets a test switch accounts, make the next request fail with a
 * user rejection (4001), refuse a JSON-RPC method, or report another chain id.
 */
export async function walletPage(browser, anvilUrl, account, { chainIdOverride = null, contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, ...contextOptions });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error('[page console]', m.text());
  });
  await page.exposeFunction('__anvilRpc', async (method, params) => {
    try {
      return { result: await rpc(anvilUrl, method, params) };
    } catch (e) {
      return { error: { code: e.code ?? -32603, message: e.message, data: e.data } };
    }
  });
  await page.addInitScript(
    ({ account, chainIdOverride }) => {
      const listeners = {};
      const wallet = { account, connected: false, rejectNext: false, chainId: chainIdOverride, signatures: 0, refused: new Set() };
      const emit = (ev, arg) => (listeners[ev] ?? []).forEach((f) => f(arg));
      const fail = (code, message) => Object.assign(new Error(message), { code });
      window.__testWallet = {
        setAccount(a) {
          wallet.account = a;
          emit('accountsChanged', [a]);
        },
        rejectNext() {
          wallet.rejectNext = true;
        },
        /** How many personal_sign requests the page made. */
        signatures() {
          return wallet.signatures;
        },
        /** The wallet's node refuses JSON-RPC `method` (as a node without it does: -32601) until allowed again. */
        refuse(method) {
          wallet.refused.add(method);
        },
        allow(method) {
          wallet.refused.delete(method);
        },
        setChainId(id) {
          wallet.chainId = id;
          emit('chainChanged', `0x${id.toString(16)}`);
        },
      };
      window.ethereum = {
        isTestWallet: true,
        on(ev, f) {
          (listeners[ev] ??= []).push(f);
        },
        removeListener(ev, f) {
          listeners[ev] = (listeners[ev] ?? []).filter((g) => g !== f);
        },
        async request({ method, params = [] }) {
          if (wallet.refused.has(method)) throw fail(-32601, `the method ${method} does not exist/is not available`);
          switch (method) {
            case 'eth_requestAccounts':
              wallet.connected = true;
              return [wallet.account];
            case 'eth_accounts':
              return wallet.connected ? [wallet.account] : [];
            case 'eth_chainId':
              if (wallet.chainId) return `0x${wallet.chainId.toString(16)}`;
              break;
            case 'wallet_switchEthereumChain':
              wallet.chainId = null;
              emit('chainChanged', params[0].chainId);
              return null;
            case 'personal_sign':
              wallet.signatures += 1;
            // falls through
            case 'eth_sendTransaction':
            case 'eth_signTypedData_v4':
              if (wallet.rejectNext) {
                wallet.rejectNext = false;
                throw fail(4001, 'User rejected the request.');
              }
              if (method === 'eth_sendTransaction') params = [{ ...params[0], from: wallet.account }];
              break;
          }
          const r = await window.__anvilRpc(method, params);
          if (r.error) throw Object.assign(new Error(r.error.message), r.error);
          return r.result;
        },
      };
    },
    { account, chainIdOverride },
  );
  return { page, context };
}

export function shotDir(root) {
  const dir = path.join(root, 'test-results');
  mkdirSync(dir, { recursive: true });
  return dir;
}
