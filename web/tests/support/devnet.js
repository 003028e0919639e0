// A real anvil chain with the real forge-compiled contracts, for the page's tests.
// Spawns node_modules/.bin/anvil (the repo's pinned Foundry) on a free loopback port and deploys
// EvidenceFactory (which deploys the SearchContract) and RequestFactory (which deploys the
// ResponseContract) from the artifacts in protocol/abi/.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createPublicClient, createWalletClient, http, getAddress, parseEther } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MNEMONIC = 'test test test test test test test test test test test junk';

export function artifact(name) {
  const a = JSON.parse(readFileSync(path.join(REPO, 'protocol/abi', `${name}.json`), 'utf8'));
  const bytecode = typeof a.bytecode === 'string' ? a.bytecode : a.bytecode?.object;
  return { abi: a.abi, bytecode };
}

/** anvil's development account `i` (address + private key; anvil unlocks the address). */
export function devAccount(i) {
  const acct = mnemonicToAccount(MNEMONIC, { addressIndex: i });
  const hd = acct.getHdKey();
  return { address: acct.address, privateKey: `0x${Buffer.from(hd.privateKey).toString('hex')}` };
}

/** Starts anvil; resolves to { url, port, chainId, stop() }. */
export async function startAnvil({ chainId = 31337 } = {}) {
  const bin = path.join(REPO, 'node_modules/.bin/anvil');
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', '0', '--chain-id', String(chainId), '--accounts', '10'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`anvil did not start within 30 s:\n${out}`)), 30000);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/Listening on 127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`anvil exited with ${code} before listening (is scripts/setup done?):\n${out}`));
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${e.message} (run scripts/setup)`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    chainId,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** JSON-RPC call to anvil. */
export async function rpc(url, method, params = []) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const body = await r.json();
  if (body.error) {
    const e = new Error(body.error.message);
    e.code = body.error.code;
    e.data = body.error.data;
    throw e;
  }
  return body.result;
}

/**
 * Deploys the dashledger contracts. Account 0 deploys and is the verifier (the cloud's role).
 * Returns { contracts, fromBlock, verifier, minDeposit, windows, clients }.
 */
export async function deploy(anvil, { minDeposit = parseEther('0.01'), responseWindow = 86400, confirmWindow = 3600, resolveWindow = 86400 } = {}) {
  const chain = { id: anvil.chainId, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [anvil.url] } } };
  const pub = createPublicClient({ chain, transport: http(anvil.url), pollingInterval: 100 });
  const verifier = devAccount(0).address;
  const wallet = createWalletClient({ chain, transport: http(anvil.url), account: verifier });
  const fromBlock = Number(await pub.getBlockNumber());
  const ef = artifact('EvidenceFactory');
  const h1 = await wallet.deployContract({ abi: ef.abi, bytecode: ef.bytecode, args: [verifier] });
  const evidenceFactory = getAddress((await pub.waitForTransactionReceipt({ hash: h1 })).contractAddress);
  const searchContract = getAddress(await pub.readContract({ address: evidenceFactory, abi: ef.abi, functionName: 'search' }));
  const rf = artifact('RequestFactory');
  const h2 = await wallet.deployContract({
    abi: rf.abi,
    bytecode: rf.bytecode,
    args: [searchContract, verifier, minDeposit, BigInt(responseWindow), BigInt(confirmWindow), BigInt(resolveWindow)],
  });
  const requestFactory = getAddress((await pub.waitForTransactionReceipt({ hash: h2 })).contractAddress);
  const responseContract = getAddress(await pub.readContract({ address: requestFactory, abi: rf.abi, functionName: 'responseContract' }));
  return {
    chain,
    pub,
    verifier,
    fromBlock,
    minDeposit,
    windows: { responseWindow, confirmWindow, resolveWindow },
    contracts: { evidenceFactory, searchContract, requestFactory, responseContract },
    wallet: (address) => createWalletClient({ chain, transport: http(anvil.url), account: address }),
  };
}
