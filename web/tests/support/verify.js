// Test support: the real `dashledger-verify` binary (cargo target directory, $CARGO_TARGET_DIR
// honoured; scripts/test-web builds it with the workspace) on a bundle, and rewriting one entry
// of a bundle zip as someone tampering with it would (the manifest left as it was).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { targetDebug } from './cloud.js';
import { unzipStored, zipStored } from '../../src/zip.js';

export const verifyBin = () => path.join(targetDebug(), 'dashledger-verify');
export const haveVerify = () => existsSync(verifyBin());

/**
 * Runs `dashledger-verify [args…] BUNDLE` on `zip` (bytes): { status, verdict (its stdout JSON),
 * stderr, byName (checks by name) }.
 */
export function runVerify(zip, args = []) {
  if (!haveVerify()) throw new Error(`${verifyBin()} is missing: scripts/test-web builds it (cargo build --workspace --bins --examples)`);
  const dir = mkdtempSync(path.join(tmpdir(), 'dashledger-bundle-'));
  try {
    const file = path.join(dir, 'bundle.zip');
    writeFileSync(file, zip);
    const r = spawnSync(verifyBin(), [...args, file], { encoding: 'utf8', timeout: 120000 });
    if (!r.stdout) throw new Error(`dashledger-verify printed nothing (exit ${r.status}): ${r.stderr}`);
    const verdict = JSON.parse(r.stdout);
    return { status: r.status, verdict, stderr: r.stderr, byName: Object.fromEntries((verdict.checks ?? []).map((c) => [c.name, c])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The zip with entry `name` replaced by `edit(bytes)` (a copy), every other entry as it was. */
export function rewriteEntry(zip, name, edit) {
  const entries = unzipStored(new Uint8Array(zip));
  if (!entries.some(([n]) => n === name)) throw new Error(`${name} is not in the bundle`);
  return Buffer.from(zipStored(entries.map(([n, b]) => [n, n === name ? edit(Uint8Array.from(b)) : b])));
}
