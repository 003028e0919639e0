// Test support: running the real binaries (from the cargo target directory) — one-shot commands
// that print JSON, and daemons in their own process group that never outlive the test process.

import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';

/**
 * Runs `bin args` to its end. Resolves to its stdout parsed as JSON; rejects naming `what`, its
 * exit code, its stderr and the cloud's log when it fails or prints no JSON.
 */
export function runJson(bin, args, { what, cloud, env = process.env }) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${what} exited with ${code}:\n${stderr}\ncloud log:\n${cloud.log()}`));
      try {
        resolve(JSON.parse(stdout));
      } catch (e) {
        reject(new Error(`${what} printed no JSON (${e.message}): ${stdout}\n${stderr}`));
      }
    });
  });
}

/**
 * Starts `bin args` in its own process group, its stderr (the logs) appended to `logFile`; it is
 * killed (SIGKILL) if the test process exits first. Returns { exited() (null while running, else
 * { code, sig }), stop() (SIGTERM to exactly this process group; resolves to the exit code),
 * log() (the log file so far) }.
 */
export function startDaemon(bin, args, { logFile, env = process.env }) {
  const out = openSync(logFile, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', out], detached: true, env });
  let exited = null;
  child.on('exit', (code, sig) => (exited = { code, sig }));
  // Never leave it behind, even when the test process dies early.
  process.once('exit', () => {
    if (!exited) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  return {
    exited: () => exited,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve(exited.code);
        child.once('exit', (code) => resolve(code));
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          resolve(null);
        }
      }),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}
