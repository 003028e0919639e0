// Test support: an owner's accident on-chain, as the agent and the cloud would leave it —
// a clip sealed under a fresh session key, the key wrapped to the owner's Umbral key in WASM,
// an Evidence Contract created by the owner account, verified (listed) by the verifier account.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { getAddress, parseEventLogs, toHex } from 'viem';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { artifact, REPO } from './devnet.js';
import { sealBytes } from './seal.js';
import { encryptTo, generateKeyPair, loadUmbral } from '../../src/umbral.js';

export async function umbralReady() {
  await loadUmbral(readFileSync(path.join(REPO, 'web/node_modules/@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.wasm')));
}

/** A deterministic fake "video" of `size` bytes (real bytes, just not a real MP4). */
export function clipBytes(size, seed = 7) {
  const b = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * Creates and verifies an EC. Returns { ec, sealed, clip, sessionKey, ownerUmbral, params }.
 * @param d the deploy() result
 * @param owner { address } an unlocked anvil account
 */
export async function createAccident(d, owner, { lat, lon, recordedAt, size = 300_000, chunkSize = 65536 }) {
  await umbralReady();
  const ownerUmbral = generateKeyPair();
  const sessionKey = crypto.getRandomValues(new Uint8Array(32));
  const clip = clipBytes(size, recordedAt);
  const sealed = await sealBytes(clip, sessionKey, { chunkSize });
  const wrapped = encryptTo(ownerUmbral.publicKey, sessionKey);
  const rnd = () => toHex(crypto.getRandomValues(new Uint8Array(32)));
  const params = {
    videoHash: toHex(keccak_256(clip)),
    cipherHash: toHex(keccak_256(sealed)),
    frameHash: rnd(),
    framesRoot: rnd(),
    keyCommitment: toHex(keccak_256(sessionKey)),
    recordedAt: BigInt(recordedAt),
    latitude: Math.round(lat * 1e6),
    longitude: Math.round(lon * 1e6),
    capsule: wrapped.capsule,
    wrappedKey: wrapped.ciphertext,
    ownerUmbralKey: ownerUmbral.publicKey,
  };
  const ef = artifact('EvidenceFactory');
  const hash = await d.wallet(owner.address).writeContract({ address: d.contracts.evidenceFactory, abi: ef.abi, functionName: 'createEvidence', args: [params] });
  const receipt = await d.pub.waitForTransactionReceipt({ hash });
  const [created] = parseEventLogs({ abi: ef.abi, logs: receipt.logs, eventName: 'EvidenceCreated' });
  const ec = getAddress(created.args.ec);
  const ecAbi = artifact('EvidenceContract').abi;
  const h2 = await d.wallet(d.verifier).writeContract({ address: ec, abi: ecAbi, functionName: 'verify' });
  await d.pub.waitForTransactionReceipt({ hash: h2 });
  return { ec, sealed, clip, sessionKey, ownerUmbral, params };
}
