// The requester's Umbral key pairs, kept in this browser's localStorage (newest first) with
// export to / import from a JSON file, so a key is never lost with the browser profile.
// Old keys stay: a request made with an older key can still be recovered.

import { publicKeyOf } from './umbral.js';

const STORE = 'dashledger.umbralKeys.v1';
export const EXPORT_KIND = 'dashledger-umbral-keys';

export function loadKeys(storage = globalThis.localStorage) {
  try {
    const v = JSON.parse(storage.getItem(STORE) ?? '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function saveKeys(keys, storage) {
  storage.setItem(STORE, JSON.stringify(keys));
}

/** Adds a key pair (validated) as the current one; returns the list. */
export function addKey({ secretKey, label }, storage = globalThis.localStorage) {
  const publicKey = publicKeyOf(secretKey);
  const keys = loadKeys(storage).filter((k) => k.publicKey !== publicKey);
  keys.unshift({ publicKey, secretKey: secretKey.toLowerCase(), created: new Date().toISOString(), label: label ?? '' });
  saveKeys(keys, storage);
  return keys;
}

export function currentKey(storage = globalThis.localStorage) {
  return loadKeys(storage)[0] ?? null;
}

export function findKey(publicKey, storage = globalThis.localStorage) {
  return loadKeys(storage).find((k) => k.publicKey.toLowerCase() === String(publicKey).toLowerCase()) ?? null;
}

/** The JSON text of an export file holding every key. */
export function exportKeys(storage = globalThis.localStorage) {
  return JSON.stringify({ kind: EXPORT_KIND, version: 1, keys: loadKeys(storage) }, null, 2);
}

/**
 * Imports an export file's text, or a bare 32-byte secret key in hex. Returns how many keys
 * were added; throws naming what is wrong.
 */
export function importKeys(text, storage = globalThis.localStorage) {
  const t = String(text).trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(t)) {
    addKey({ secretKey: t.startsWith('0x') ? t : `0x${t}` }, storage);
    return 1;
  }
  let doc;
  try {
    doc = JSON.parse(t);
  } catch {
    throw new Error('not a key file: expected the JSON this page exports, or a 32-byte secret key in hex');
  }
  if (doc?.kind !== EXPORT_KIND || !Array.isArray(doc.keys)) throw new Error(`not a dashledger key file (kind must be "${EXPORT_KIND}")`);
  let n = 0;
  for (const k of [...doc.keys].reverse()) {
    const pk = publicKeyOf(k.secretKey);
    if (k.publicKey && k.publicKey.toLowerCase() !== pk.toLowerCase()) {
      throw new Error(`key file entry ${k.publicKey} does not match its secret key`);
    }
    addKey({ secretKey: k.secretKey, label: k.label }, storage);
    n += 1;
  }
  return n;
}
