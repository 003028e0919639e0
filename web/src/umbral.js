// Umbral proxy re-encryption in WASM (@nucypher/umbral-pre 0.10.0, which reads what the Rust
// umbral-pre 0.11 writes with msgpack `default-serialization`).
//
// The package's `pkg-bundler` entry imports the .wasm as an ES module (a bundler feature Vite
// does not have), so we load the wasm-bindgen glue ourselves and instantiate the module with it.
// `loadUmbral(bytesOrUrl)` works in the browser (URL) and in Node (bytes) alike.

import * as glue from '@nucypher/umbral-pre/pkg-bundler/umbral_pre_wasm_bg.js';
import { fromHex, keccakHex, toHex } from './sealed.js';

let ready = null;

/** Instantiates the WASM module once. `source`: a URL string or the module's bytes. */
export function loadUmbral(source) {
  if (!ready) {
    ready = (async () => {
      const imports = { './umbral_pre_wasm_bg.js': glue };
      let instance;
      if (typeof source === 'string' || source instanceof URL) {
        const resp = await fetch(source);
        if (!resp.ok) throw new Error(`could not load the Umbral WASM module (${resp.status} from ${source})`);
        ({ instance } = await WebAssembly.instantiate(await resp.arrayBuffer(), imports));
      } else {
        ({ instance } = await WebAssembly.instantiate(source, imports));
      }
      glue.__wbg_set_wasm(instance.exports);
      return glue;
    })();
  }
  return ready;
}

function u() {
  if (!ready) throw new Error('Umbral WASM not loaded (call loadUmbral first)');
  return glue;
}

// Free WASM objects that were not consumed (wasm-bindgen zeroes the pointer of moved values).
function release(...objs) {
  for (const o of objs) if (o && o.__wbg_ptr) o.free();
}

const bytes = (x, what) => (typeof x === 'string' ? fromHex(x, what) : x);

/** A fresh Umbral key pair as hex: { secretKey, publicKey } (33-byte compressed public key). */
export function generateKeyPair() {
  const sk = u().SecretKey.random();
  try {
    return { secretKey: toHex(sk.toBEBytes()), publicKey: toHex(sk.publicKey().toCompressedBytes()) };
  } finally {
    release(sk);
  }
}

/** Validates a 32-byte secret key (hex) and returns its public key (hex). */
export function publicKeyOf(secretKeyHex) {
  const b = bytes(secretKeyHex, 'Umbral secret key');
  if (b.length !== 32) throw new Error(`an Umbral secret key is 32 bytes, this one is ${b.length}`);
  let sk;
  try {
    sk = u().SecretKey.fromBEBytes(b);
  } catch (e) {
    throw new Error(`not a valid Umbral secret key (secp256k1 scalar): ${e?.message ?? e}`);
  }
  try {
    return toHex(sk.publicKey().toCompressedBytes());
  } finally {
    release(sk);
  }
}

function publicKey(b, what) {
  const raw = bytes(b, what);
  if (raw.length !== 33 || (raw[0] !== 2 && raw[0] !== 3)) {
    throw new Error(`${what} must be a 33-byte compressed point starting 0x02/0x03 (got ${raw.length} bytes)`);
  }
  try {
    return u().PublicKey.fromCompressedBytes(raw);
  } catch (e) {
    throw new Error(`${what} is not a valid secp256k1 point: ${e?.message ?? e}`);
  }
}

/** Thrown by `recoverSessionKey`; `stage` says which step failed. */
export class RecoverError extends Error {
  constructor(stage, message) {
    super(message);
    this.name = 'RecoverError';
    this.stage = stage;
  }
}

/**
 * Requester: verify the kfrag, re-encrypt the capsule, decrypt and check the key commitment.
 *
 * @param p.requesterSecretKey hex 32 bytes
 * @param p.ownerUmbralKey the owner's delegating public key (EC's ownerUmbralKey)
 * @param p.signerKey the kfrag signer's verifying key (from RequestResponded.ownerUmbralKey)
 * @param p.capsule the EC's capsule bytes
 * @param p.wrappedKey the EC's wrappedKey (DEM ciphertext)
 * @param p.kfrag the kfrag bytes from RequestResponded
 * @param p.keyCommitment the EC's keyCommitment (hex)
 * @returns Uint8Array(32) the session key
 */
export function recoverSessionKey(p) {
  const m = u();
  const sk = m.SecretKey.fromBEBytes(bytes(p.requesterSecretKey, 'requester secret key'));
  const owner = publicKey(p.ownerUmbralKey, "the EC's owner Umbral key");
  const signer = publicKey(p.signerKey, "the response's kfrag signing key");
  const receiving = sk.publicKey();
  let capsule, kfrag, vkfrag, vcfrag, plaintext;
  try {
    try {
      capsule = m.Capsule.fromBytes(bytes(p.capsule, 'capsule'));
    } catch (e) {
      throw new RecoverError('capsule', `the EC's capsule cannot be read: ${e?.message ?? e}`);
    }
    try {
      kfrag = m.KeyFrag.fromBytes(bytes(p.kfrag, 'kfrag'));
    } catch (e) {
      throw new RecoverError('kfrag', `the owner's kfrag cannot be read: ${e?.message ?? e}`);
    }
    try {
      vkfrag = kfrag.verify(signer, owner, receiving);
    } catch (e) {
      throw new RecoverError(
        'kfrag',
        `the owner's kfrag does not verify (not signed by the owner's key, or not made for your Umbral key): ${e?.message ?? e}`,
      );
    }
    vcfrag = m.reencrypt(capsule, vkfrag);
    try {
      plaintext = m.decryptReencrypted(sk, owner, capsule, [vcfrag], bytes(p.wrappedKey, 'wrapped key'));
    } catch (e) {
      throw new RecoverError('decrypt', `re-encrypted decryption failed: ${e?.message ?? e}`);
    }
    if (plaintext.length !== 32) {
      throw new RecoverError('decrypt', `the decrypted session key is ${plaintext.length} bytes, not 32`);
    }
    const got = keccakHex(plaintext);
    if (got.toLowerCase() !== p.keyCommitment.toLowerCase()) {
      throw new RecoverError(
        'commitment',
        `the recovered key does not match the EC's keyCommitment (expected ${p.keyCommitment}, got ${got})`,
      );
    }
    return plaintext;
  } finally {
    release(sk, owner, signer, receiving, capsule, kfrag, vkfrag, vcfrag);
  }
}

/**
 * Owner: a kfrag (threshold 1 of 1) delegating from the owner's Umbral key to the requester's,
 * signed by the per-accident owner key. Returns { kfrag, signerKey } as hex.
 */
export function grantKfrag({ ownerSecretKey, signerSecretKey, requesterPublicKey }) {
  const m = u();
  const delegating = m.SecretKey.fromBEBytes(bytes(ownerSecretKey, 'owner Umbral secret key'));
  const signingSk = m.SecretKey.fromBEBytes(bytes(signerSecretKey, 'owner signing key'));
  const signer = new m.Signer(signingSk);
  const receiving = publicKey(requesterPublicKey, "the requester's Umbral key");
  try {
    const kfrags = m.generateKFrags(delegating, receiving, signer, 1, 1, true, true);
    const kfrag = toHex(kfrags[0].toBytes());
    const signerKey = toHex(signer.verifyingKey().toCompressedBytes());
    return { kfrag, signerKey };
  } finally {
    release(delegating, signingSk, signer, receiving);
  }
}

/** Encrypts `plaintext` to `publicKeyHex` (what the agent does; used by tests and tools). */
export function encryptTo(publicKeyHex, plaintext) {
  const m = u();
  const pk = publicKey(publicKeyHex, 'public key');
  try {
    const [capsule, ciphertext] = m.encrypt(pk, plaintext);
    return { capsule: toHex(capsule.toBytes()), ciphertext: toHex(ciphertext) };
  } finally {
    release(pk);
  }
}
