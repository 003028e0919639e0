// Test support: the real dashcam agent (the `dashledger-agent` binary from the cargo target
// directory) configured like its own integration tests do (agent/tests/common): a watch
// directory, a state directory, a keystore made by `init --insecure-fast-kdf` with the password
// in DASHLEDGER_AGENT_KEYSTORE_PASSWORD, the cloud and the chain of the test, detection off (the
// manual event file makes the accident, so the model's decision does not matter), and the
// location from an NMEA file.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { targetDebug } from './cloud.js';
import { runJson, startDaemon } from './proc.js';

export const agentBin = () => {
  const bin = path.join(targetDebug(), 'dashledger-agent');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`cargo build -p dashledger-agent\` (scripts/test-web builds it)`);
  return bin;
};

const PASSWORD = 'web flow test password';

/** The agent's environment: none of the caller's DASHLEDGER_AGENT_* settings, the keystore password. */
function env() {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DASHLEDGER_AGENT_')) e[k] = v;
  e.DASHLEDGER_AGENT_KEYSTORE_PASSWORD = PASSWORD;
  e.DASHLEDGER_AGENT_LOG = 'info';
  return e;
}

/** One NMEA RMC sentence (with its checksum) for a fix at lat/lon, now. */
export function rmc(lat, lon, when = new Date()) {
  const dm = (v, degDigits) => {
    const a = Math.abs(v);
    const deg = Math.floor(a);
    const min = (a - deg) * 60;
    return `${String(deg).padStart(degDigits, '0')}${min.toFixed(5).padStart(8, '0')}`;
  };
  const p = (n) => String(n).padStart(2, '0');
  const t = `${p(when.getUTCHours())}${p(when.getUTCMinutes())}${p(when.getUTCSeconds())}`;
  const d = `${p(when.getUTCDate())}${p(when.getUTCMonth() + 1)}${String(when.getUTCFullYear()).slice(2)}`;
  const body = `GPRMC,${t},A,${dm(lat, 2)},${lat >= 0 ? 'N' : 'S'},${dm(lon, 3)},${lon >= 0 ? 'E' : 'W'},0.0,0.0,${d},,`;
  let sum = 0;
  for (const c of body) sum ^= c.charCodeAt(0);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

/** A segment file name as a dashcam writes it: its start time in UTC (`20261123T171700Z.mp4`). */
export function segmentName(unix, ext = 'mp4') {
  return `${new Date(unix * 1000).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z.${ext}`;
}

/**
 * Writes the agent's config under `root` and creates its keystore (`init`). Resolves to
 * { root, config, watchDir, init (the JSON `init` printed), run(args), start(), daemon }.
 */
export async function setupAgent(root, { cloud, anvil, lat, lon }) {
  const watchDir = path.join(root, 'watch');
  mkdirSync(watchDir, { recursive: true });
  const nmea = path.join(root, 'gps.nmea');
  writeFileSync(nmea, rmc(lat, lon));
  const config = path.join(root, 'agent.toml');
  const q = JSON.stringify;
  writeFileSync(
    config,
    [
      `watch_dir = ${q(watchDir)}`,
      `state_dir = ${q(path.join(root, 'state'))}`,
      `keystore = ${q(path.join(root, 'keystore.json'))}`,
      'settle_secs = 1',
      'poll_interval_ms = 100',
      '[cloud]',
      `url = ${q(cloud.url)}`,
      '[chain]',
      `rpc_url = ${q(anvil.url)}`,
      `deployments = ${q(cloud.deploymentFile)}`,
      'ec_via = "relayer"',
      "[owner]",
      // The owner page and commands here take the direct route (the relayed one is covered by
      // the Rust tests: agent/tests/owner_e2e.rs, cloud/tests/chain.rs).
      'via = "direct"',
      '[detect]',
      'enabled = false',
      '[location]',
      `source = ${q(`file:${nmea}`)}`,
      'max_fix_age_secs = 3600',
      '[retry]',
      'base_ms = 100',
      'max_ms = 1000',
      '',
    ].join('\n'),
  );
  const logFile = path.join(root, 'agent.log');
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  /** Runs one agent command; resolves to its stdout parsed as JSON (rejects naming stderr). */
  const run = (args) => runJson(agentBin(), ['--config', config, ...args], { what: `dashledger-agent ${args.join(' ')}`, cloud, env: env() });

  const init = await run(['init', '--insecure-fast-kdf']);

  let daemon = null;
  /** Starts `run` (the daemon) in its own process group, logging to agent.log. */
  const start = () => {
    daemon = startDaemon(agentBin(), ['--config', config, 'run'], { logFile, env: env() });
    return daemon;
  };

  /** Delivers a finished segment the way a camera does (written elsewhere, renamed in). */
  const deliverSegment = (file, name) => {
    const tmp = path.join(root, `${name}.partial`);
    copyFileSync(file, tmp);
    renameSync(tmp, path.join(watchDir, name));
  };

  /** The event button: the agent's event file (`<watch_dir>/EVENT` by default). */
  const pressEvent = () => writeFileSync(path.join(watchDir, 'EVENT'), '');

  /**
   * Starts `dashledger-agent admin` (the owner's page) on a free loopback port; resolves to
   * { url (with the access token), origin, stop() } once it printed its URL.
   */
  const admin = async () => {
    const child = spawn(agentBin(), ['--config', config, 'admin', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: env() });
    let err = '';
    child.stderr.on('data', (b) => (err += b));
    process.once('exit', () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b) => {
        out += b;
        const m = out.match(/^(http:\/\/\S+)$/m);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`dashledger-agent admin exited (${code}): ${err}`)));
      setTimeout(() => reject(new Error(`dashledger-agent admin printed no URL in 30 s: ${err}`)), 30000);
    });
    return {
      url,
      origin: new URL(url).origin,
      stderr: () => err,
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            resolve();
          }
        }),
    };
  };

  return { root, config, watchDir, init, run, start, admin, deliverSegment, pressEvent, log, daemon: () => daemon };
}
