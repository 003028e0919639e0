// Test support: the real dashledger cloud (the `dashledger-cloud` binary from the cargo target
// directory) on a free loopback port, with SQLite and a blob directory in a temp dir, the chain
// features on (verifier, relayer, indexer, gated downloads) against the test's anvil, and — when
// the binary supports `web.dir` — serving the built page at `/` with `/config.json`.
//
// The accident itself is reported by `examples/report_accident.rs` of the requester crate,
// exactly as a dashcam agent does it (evidence record, relayed EC creation, resumable upload).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './devnet.js';
import { runJson, startDaemon } from './proc.js';

/** The cargo target directory's debug folder (CARGO_TARGET_DIR honoured, as scripts/test-web does). */
export function targetDebug() {
  const t = process.env.CARGO_TARGET_DIR ? path.resolve(process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  return path.join(t, 'debug');
}

function need(file, how) {
  if (!existsSync(file)) throw new Error(`${file} is missing: ${how} (scripts/test-web builds it)`);
  return file;
}

export const cloudBin = () => need(path.join(targetDebug(), 'dashledger-cloud'), 'run `cargo build -p dashledger-cloud`');
export const reportBin = () => need(path.join(targetDebug(), 'examples', 'report_accident'), 'run `cargo build -p dashledger-requester --example report_accident`');

export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * Starts the cloud. `d` is the deploy() result, `verifierKey` the verifier's private key,
 * `webDir` the built page. Resolves to { url, dir, servesPage, adminTokenFile, deploymentFile,
 * log(), stop() }.
 */
export async function startCloud({ anvil, d, verifierKey, webDir }) {
  const bin = cloudBin();
  const dir = mkdtempSync(path.join(tmpdir(), 'dashledger-web-cloud-'));
  const deploymentFile = path.join(dir, `${anvil.chainId}.json`);
  writeFileSync(
    deploymentFile,
    JSON.stringify({ chainId: anvil.chainId, ...d.contracts, verifier: d.verifier, startBlock: d.fromBlock }, null, 2),
  );
  const keyFile = path.join(dir, 'verifier.key');
  writeFileSync(keyFile, verifierKey, { mode: 0o600 });
  const adminTokenFile = path.join(dir, 'admin.token');
  writeFileSync(adminTokenFile, `web-test-${Math.random().toString(36).slice(2)}-operator-token`, { mode: 0o600 });
  const port = await freePort();
  const sets = [
    `listen=127.0.0.1:${port}`,
    `data_dir=${path.join(dir, 'data')}`,
    `admin_token_file=${adminTokenFile}`,
    `chain.chain_id=${anvil.chainId}`,
    `chain.rpc_url=${anvil.url}`,
    `chain.deployment_file=${deploymentFile}`,
    `chain.signer_key_file=${keyFile}`,
    'chain.confirmations=0',
    'chain.poll_interval_ms=200',
  ];
  // Serve the page at `/` if this cloud knows `web.dir` (unknown keys are refused, so ask it).
  const probe = spawnSync(bin, ['--set', `web.dir=${webDir}`, 'print-config'], { encoding: 'utf8' });
  const servesPage = probe.status === 0;
  if (servesPage) sets.push(`web.dir=${webDir}`);
  const args = sets.flatMap((kv) => ['--set', kv]);
  // Its own process group: stop() ends exactly this process.
  const daemon = startDaemon(bin, [...args, 'serve'], { logFile: path.join(dir, 'cloud.log'), env: { ...process.env, DASHLEDGER_CLOUD_LOG: 'info,sqlx=warn' } });
  const { log, stop } = daemon;
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (daemon.exited()) throw new Error(`the cloud exited (${JSON.stringify(daemon.exited())}) before answering:\n${log()}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`the cloud did not answer /healthz within 60 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dir,
    servesPage,
    adminTokenFile,
    deploymentFile,
    log,
    stop,
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Reports an accident through the cloud as a dashcam agent would (the requester crate's
 * `report_accident` example). Resolves to its JSON output (ec, owner_umbral_secret, …).
 */
export function reportAccident(cloud, { ownerKey, clip, thumbnail, lat, lon, recordedAt }) {
  const keyFile = path.join(cloud.dir, 'owner.key');
  writeFileSync(keyFile, ownerKey, { mode: 0o600 });
  const args = [
    '--cloud', cloud.url,
    '--admin-token-file', cloud.adminTokenFile,
    '--deployments', cloud.deploymentFile,
    '--owner-key-file', keyFile,
    '--clip', clip,
    '--thumbnail', thumbnail,
    '--lat', String(lat),
    '--lon', String(lon),
    '--recorded-at', String(recordedAt),
  ];
  return runJson(reportBin(), args, { what: 'report_accident', cloud });
}

/** A small real MP4 (H.264, 3 s, 320×240, every frame a key frame: ~150 kB, 3 sealed chunks) and its first frame as JPEG, made with ffmpeg. */
export function makeClip(dir) {
  const clip = path.join(dir, 'crash.mp4');
  const thumb = path.join(dir, 'first.jpg');
  const ff = (args) => {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed (is ffmpeg installed? scripts/setup): ${r.stderr ?? r.error}`);
  };
  ff(['-f', 'lavfi', '-i', 'testsrc=duration=3:size=320x240:rate=10', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', '1', '-crf', '8', '-movflags', '+faststart', clip]);
  ff(['-i', clip, '-frames:v', '1', '-q:v', '4', thumb]);
  return { clip, thumb };
}
