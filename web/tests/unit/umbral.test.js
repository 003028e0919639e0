// Umbral in WASM (src/umbral.js): the requester's recovery and the owner's kfrag, each failure
// naming its stage; the key store's export/import. Rust-made vectors (protocol/vectors/) are
// opened when present.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { encryptTo, generateKeyPair, grantKfrag, publicKeyOf, recoverSessionKey, RecoverError } from '../../src/umbral.js';
import { addKey, currentKey, exportKeys, findKey, importKeys, loadKeys } from '../../src/keystore.js';
import { toHex, fromHex } from '../../src/sealed.js';
import { umbralReady } from '../support/evidence.js';

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../protocol/vectors');

before(umbralReady);

function scenario() {
  const owner = generateKeyPair();
  const signer = generateKeyPair();
  const requester = generateKeyPair();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const w = encryptTo(owner.publicKey, key);
  const { kfrag, signerKey } = grantKfrag({ ownerSecretKey: owner.secretKey, signerSecretKey: signer.secretKey, requesterPublicKey: requester.publicKey });
  const p = { requesterSecretKey: requester.secretKey, ownerUmbralKey: owner.publicKey, signerKey, capsule: w.capsule, wrappedKey: w.ciphertext, kfrag, keyCommitment: toHex(keccak_256(key)) };
  return { owner, signer, requester, key, p };
}

test('owner grants, requester recovers the committed session key', () => {
  const s = scenario();
  assert.equal(s.p.signerKey, s.signer.publicKey);
  assert.equal(fromHex(s.p.kfrag).length, 310, 'kfrag size as the Rust side writes it');
  assert.deepEqual(recoverSessionKey(s.p), s.key);
});

test('each wrong input fails at its stage', () => {
  const s = scenario();
  const other = generateKeyPair();
  const stage = (p, st) => assert.throws(() => recoverSessionKey(p), (e) => e instanceof RecoverError && e.stage === st, st);
  stage({ ...s.p, keyCommitment: `0x${'00'.repeat(32)}` }, 'commitment');
  stage({ ...s.p, signerKey: other.publicKey }, 'kfrag'); // not signed by the EC owner's key
  stage({ ...s.p, requesterSecretKey: other.secretKey }, 'kfrag'); // kfrag made for someone else
  stage({ ...s.p, ownerUmbralKey: other.publicKey }, 'kfrag');
  stage({ ...s.p, kfrag: '0x0102' }, 'kfrag');
  stage({ ...s.p, capsule: '0x00' }, 'capsule');
  const w2 = encryptTo(s.owner.publicKey, new Uint8Array(32));
  stage({ ...s.p, wrappedKey: w2.ciphertext }, 'decrypt'); // ciphertext of another capsule
  assert.throws(() => recoverSessionKey({ ...s.p, ownerUmbralKey: '0x04' }), /33-byte compressed point/);
});

test('secret keys are validated', () => {
  assert.throws(() => publicKeyOf(`0x${'00'.repeat(32)}`), /not a valid Umbral secret key/);
  assert.throws(() => publicKeyOf('0x1234'), /32 bytes/);
  const k = generateKeyPair();
  assert.equal(publicKeyOf(k.secretKey), k.publicKey);
});

class MemStorage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
}

test('key store: newest is current, export then import into an empty browser restores every key', () => {
  const a = new MemStorage();
  const k1 = generateKeyPair();
  const k2 = generateKeyPair();
  addKey({ secretKey: k1.secretKey }, a);
  addKey({ secretKey: k2.secretKey }, a);
  assert.equal(currentKey(a).publicKey, k2.publicKey);
  const file = exportKeys(a);
  const b = new MemStorage();
  assert.equal(importKeys(file, b), 2);
  assert.deepEqual(loadKeys(b).map((k) => k.publicKey), [k2.publicKey, k1.publicKey]);
  assert.equal(findKey(k1.publicKey.toUpperCase().replace('0X', '0x'), b).secretKey, k1.secretKey);
  // A bare secret key in hex imports too; junk is refused with a reason.
  const k3 = generateKeyPair();
  assert.equal(importKeys(k3.secretKey.slice(2), b), 1);
  assert.equal(currentKey(b).publicKey, k3.publicKey);
  assert.throws(() => importKeys('{"kind":"other","keys":[]}', b), /not a dashledger key file/);
  assert.throws(() => importKeys('hello', b), /not a key file/);
  const tampered = JSON.parse(file);
  tampered.keys[0].publicKey = k1.publicKey;
  assert.throws(() => importKeys(JSON.stringify(tampered), new MemStorage()), /does not match its secret key/);
});

// Capsule / kfrag / wrapped key written by the Rust umbral-pre 0.11 (protocol/vectors/wrap.json):
// the WASM build must recover the same session key, and a wrong requester key must fail.
test('Rust-made Umbral vectors recover in WASM', () => {
  const c = JSON.parse(readFileSync(path.join(VECTORS, 'wrap.json'), 'utf8'));
  const args = {
    requesterSecretKey: c.requester_umbral_secret_key,
    ownerUmbralKey: c.owner_umbral_public_key,
    signerKey: c.kfrag_signer_public_key,
    capsule: c.capsule,
    wrappedKey: c.wrapped_key,
    kfrag: c.kfrag,
    keyCommitment: c.key_commitment,
  };
  assert.equal(toHex(recoverSessionKey(args)), c.session_key.toLowerCase());
  assert.throws(() => recoverSessionKey({ ...args, requesterSecretKey: c.owner_umbral_secret_key }));
});
