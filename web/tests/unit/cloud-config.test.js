// The signed-request text (src/cloud.js) against the documented layout (docs/formats.md,
// "Signed API requests"), signed and recovered with viem; the page configuration parser
// (src/config.js) on the deployment file scripts/devnet writes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recoverMessageAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { canonicalText, newNonce } from '../../src/cloud.js';
import { parseConfig } from '../../src/config.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('canonical request text is the documented one, and a wallet signature recovers the signer', async () => {
  const text = canonicalText({ chainId: 31337, method: 'get', path: '/v1/clips/0xabc/download?reqc=0xdef', nonce: 'abcdefABCDEF0123_-', expires: 1700000000 });
  assert.equal(
    text,
    [
      'dashledger API request v1',
      'chain-id: 31337',
      'method: GET',
      'path: /v1/clips/0xabc/download?reqc=0xdef',
      // keccak256 of the empty body
      'body-keccak256: 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
      'nonce: abcdefABCDEF0123_-',
      'expires: 1700000000',
    ].join('\n'),
  );
  const acct = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
  const sig = await acct.signMessage({ message: text });
  assert.equal(await recoverMessageAddress({ message: text, signature: sig }), acct.address);
  assert.match(newNonce(), /^[0-9a-f]{32}$/);
  assert.throws(() => canonicalText({ chainId: 1, method: 'GET', path: '/x', nonce: 'short', expires: 1 }), /nonce/);
  assert.throws(() => canonicalText({ chainId: 1, method: 'GET', path: 'x y', nonce: 'a'.repeat(16), expires: 1 }), /path/);
});

test('the page reads the deployment file scripts/devnet writes, and names a bad field', () => {
  const sample = {
    chainId: 31337,
    evidenceFactory: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    requestFactory: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
    responseContract: '0xCafac3dD18aC6c6e92c921884f9E4176737C052c',
    searchContract: '0xa16E02E87b7454126E5E10d957A927A7F5B5d2be',
    startBlock: 7,
  };
  const c = parseConfig(sample);
  assert.equal(c.chainId, 31337);
  assert.equal(c.fromBlock, 7);
  assert.equal(c.contracts.searchContract, sample.searchContract);
  const file = path.join(REPO, 'deployments/31337.json');
  if (existsSync(file)) assert.equal(parseConfig(JSON.parse(readFileSync(file, 'utf8'))).chainId, 31337);
  assert.throws(() => parseConfig({ ...sample, requestFactory: 'nope' }), /contracts\.requestFactory must be an address/);
  assert.throws(() => parseConfig({ ...sample, chainId: 'x' }), /chainId must be a positive integer/);
});
