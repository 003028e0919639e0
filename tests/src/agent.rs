//! The real dashcam agent (`dashledger-agent`): a keystore made with `init`, a config file, the
//! `run` daemon as a process, the owner commands, a GPS feed (NMEA file) and read-only looks into
//! its SQLite outbox.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::devnet::Devnet;
use crate::proc::Proc;

/// Keystore password of test agents (the keystore is made with the insecure fast KDF).
pub const PASSWORD: &str = "e2e password (not for real devices)";

/// Where the fake GPS receiver is: Brandenburger Tor, Berlin.
pub const LAT: f64 = 52.516275;
/// Longitude of the fake GPS receiver.
pub const LON: f64 = 13.377704;

/// A configured agent; the daemon is stopped when dropped.
#[derive(Debug)]
pub struct Agent {
    /// Its directory: `agent.toml`, `keystore.json`, `watch/`, `state/`, logs.
    pub dir: PathBuf,
    /// The device address (register it at the cloud).
    pub device: String,
    /// The owner wallet (`init`'s `wallet_address`; funds per-EC owner keys), when the agent has one.
    pub wallet: Option<String>,
    daemon: Option<Proc>,
    gps: Gps,
    runs: u32,
}

impl Agent {
    /// Writes the config (cloud at `cloud_url`, the devnet, light backbone, fast settle and
    /// retry; `cloud_toml` adds keys to its `[cloud]` table; `detect` false turns the detector
    /// off, leaving the manual event) and creates the keystore with `init`.
    pub fn init(
        dir: &Path,
        cloud_url: &str,
        devnet: &Devnet,
        cloud_toml: &str,
        detect: bool,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("watch"))?;
        let nmea = dir.join("gps.nmea");
        let config = format!(
            r#"watch_dir = "{dir}/watch"
state_dir = "{dir}/state"
keystore = "{dir}/keystore.json"
settle_secs = 1
poll_interval_ms = 200

[cloud]
url = "{cloud_url}"
{cloud_toml}

[chain]
rpc_url = "{rpc}"
deployments = "{deployment}"

[detect]
enabled = {detect}
models_dir = "{models}"
backbone = "effnet-lite0"

[location]
source = "file:{nmea}"

[retry]
base_ms = 200
max_ms = 2000
"#,
            dir = dir.display(),
            rpc = devnet.rpc_url,
            deployment = devnet.deployment_file.display(),
            models = crate::repo_root().join("models").display(),
            nmea = nmea.display(),
        );
        std::fs::write(dir.join("agent.toml"), config)?;
        let gps = Gps::start(&nmea)?;
        let mut agent = Self {
            dir: dir.to_path_buf(),
            device: String::new(),
            wallet: None,
            daemon: None,
            gps,
            runs: 0,
        };
        let init: serde_json::Value =
            serde_json::from_str(&agent.cmd(&["init", "--insecure-fast-kdf"])?)
                .context("agent init printed no JSON")?;
        agent.device = init["device_address"]
            .as_str()
            .context("init: no device_address")?
            .to_owned();
        agent.wallet = init["wallet_address"].as_str().map(str::to_owned);
        Ok(agent)
    }

    fn command(&self) -> anyhow::Result<Command> {
        let mut cmd = Command::new(crate::bin("dashledger-agent")?);
        cmd.arg("--config")
            .arg(self.dir.join("agent.toml"))
            .env("DASHLEDGER_AGENT_KEYSTORE_PASSWORD", PASSWORD)
            .env_remove("DASHLEDGER_AGENT_CONFIG");
        Ok(cmd)
    }

    /// Gives the agent a motion channel: a `lines:` feed at `feed` (call before `start`).
    pub fn use_motion_feed(&self, feed: &Path) -> anyhow::Result<()> {
        let path = self.dir.join("agent.toml");
        let mut config = std::fs::read_to_string(&path)?;
        config.push_str(&format!(
            "\n[motion]\nsource = \"lines:{}\"\n",
            feed.display()
        ));
        std::fs::write(path, config)?;
        Ok(())
    }

    /// Gives the agent a C2PA signing certificate issued for its device by the test device CA
    /// (`provenance/tests/data`, with `scripts/device-cert`); returns the CA's PEM path (call
    /// before `start`).
    pub fn use_c2pa(&self, chain_id: u64) -> anyhow::Result<PathBuf> {
        let repo = crate::repo_root();
        let ca = repo.join("provenance/tests/data/ca.pem");
        let out = self.dir.join("c2pa");
        let st = Command::new(repo.join("scripts/device-cert"))
            .arg("--ca")
            .arg(&ca)
            .arg("--ca-key")
            .arg(repo.join("provenance/tests/data/ca-key.pem"))
            .args([
                "--device",
                &self.device,
                "--chain-id",
                &chain_id.to_string(),
            ])
            .arg("--out-dir")
            .arg(&out)
            .status()?;
        anyhow::ensure!(st.success(), "scripts/device-cert failed");
        let path = self.dir.join("agent.toml");
        let mut config = std::fs::read_to_string(&path)?;
        config.push_str(&format!(
            "\n[c2pa]\ncert_chain = \"{}\"\nkey = \"{}\"\n",
            out.join("device-chain.pem").display(),
            out.join("device-key.pem").display()
        ));
        std::fs::write(path, config)?;
        Ok(ca)
    }

    /// Runs a one-shot command (`status`, `approve …`); returns stdout, fails with stderr.
    pub fn cmd(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command()?
            .args(args)
            .arg("--log")
            .arg("warn")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "dashledger-agent {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Like [`Agent::cmd`], stdout parsed as JSON.
    pub fn cmd_json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = self.cmd(args)?;
        serde_json::from_str(&out)
            .with_context(|| format!("dashledger-agent {} printed no JSON: {out}", args.join(" ")))
    }

    /// Whether this build of the agent has the owner commands (`approve`, `claim`, `withdraw`).
    pub fn has_owner_commands(&self) -> bool {
        self.command()
            .and_then(|mut c| Ok(c.args(["approve", "--help"]).output()?))
            .is_ok_and(|o| o.status.success())
    }

    /// Starts the daemon (`run`).
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.daemon.is_none(), "the agent is already running");
        let mut cmd = self.command()?;
        cmd.arg("run").env("DASHLEDGER_AGENT_LOG", "info");
        self.runs += 1;
        self.daemon = Some(Proc::spawn(
            &format!("agent-{}", self.runs),
            cmd,
            &self.dir,
        )?);
        Ok(())
    }

    /// SIGTERM, waits for a clean exit.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.daemon.take() {
            p.stop(Duration::from_secs(60))?;
        }
        Ok(())
    }

    /// Fails with the log tail if the daemon has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.daemon
            .as_mut()
            .context("the agent is not started")?
            .ensure_running()
    }

    /// The last lines of the daemon's log.
    pub fn log_tail(&self) -> String {
        self.daemon
            .as_ref()
            .map(|p| p.log_tail(40))
            .unwrap_or_default()
    }

    /// The last lines of the daemon's log and of `cloud`'s, for a failed wait's context.
    pub fn logs_with(&self, cloud: &crate::cloud::Cloud) -> String {
        format!(
            "agent log:\n{}\ncloud log:\n{}",
            self.log_tail(),
            cloud.log_tail()
        )
    }

    /// Puts a segment into the watch directory the way a camera does.
    pub fn deliver(&self, segment: &Path) -> anyhow::Result<PathBuf> {
        crate::media::deliver(segment, &self.dir.join("watch"))
    }

    /// Presses the event button (creates the event file): the newest segment is an accident.
    pub fn event(&self) -> anyhow::Result<()> {
        Ok(std::fs::write(self.dir.join("watch/EVENT"), b"")?)
    }

    /// The outbox database.
    pub fn outbox_path(&self) -> PathBuf {
        self.dir.join("state/outbox.sqlite")
    }

    /// A read-only SQL query on the outbox; rows as JSON objects.
    pub fn query(&self, sql: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        crate::sqlite_json(&self.outbox_path(), sql)
    }

    /// A write to the outbox (the daemon must be stopped): for simulating lost data.
    pub fn tamper_outbox(&self, sql: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.daemon.is_none(),
            "stop the agent before editing its outbox"
        );
        crate::sqlite_exec(&self.outbox_path(), sql)
    }

    /// The outbox's accidents: segment name, stage and the stage detail (EC address, paths…).
    pub fn accidents(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let rows = self.query(
            "SELECT s.name AS name, a.stage AS stage, a.detail AS detail, a.last_error AS last_error \
             FROM accidents a JOIN segments s ON s.id = a.segment_id ORDER BY a.segment_id",
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| {
                let detail = r["detail"]
                    .as_str()
                    .and_then(|d| serde_json::from_str(d).ok());
                r["detail"] = detail.unwrap_or(serde_json::Value::Null);
                r
            })
            .collect())
    }

    /// Stops the GPS feed (no more fixes).
    pub fn stop_gps(&mut self) {
        self.gps.stop();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stop();
        self.gps.stop();
    }
}

/// A GPS receiver: one `$GPRMC` sentence a second appended to a file, from a thread.
#[derive(Debug)]
struct Gps {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gps {
    fn start(path: &Path) -> anyhow::Result<Self> {
        let mut file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let _ = file.write_all(rmc_now().as_bytes());
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `$GPRMC` sentence for now at [`LAT`], [`LON`], with its checksum and CRLF.
fn rmc_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (y, m, d) = civil_from_days((now / 86_400) as i64);
    let s = now % 86_400;
    let lat_min = (LAT.fract() * 60.0 * 10_000.0).round() / 10_000.0;
    let lon_min = (LON.fract() * 60.0 * 10_000.0).round() / 10_000.0;
    let body = format!(
        "GPRMC,{:02}{:02}{:02}.00,A,{:02}{:07.4},N,{:03}{:07.4},E,0.0,0.0,{:02}{:02}{:02},,,A",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        LAT.trunc() as u32,
        lat_min,
        LON.trunc() as u32,
        lon_min,
        d,
        m,
        y % 100
    );
    let sum = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{sum:02X}\r\n")
}

/// Days since 1970-01-01 → (year, month, day) (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn rmc_has_a_valid_checksum() {
        let s = rmc_now();
        let body = &s[1..s.find('*').unwrap()];
        let sum = body.bytes().fold(0u8, |a, b| a ^ b);
        assert_eq!(
            &s[s.find('*').unwrap() + 1..s.len() - 2],
            format!("{sum:02X}")
        );
        assert!(body.contains(",5230.9765,N,01322.6622,E,"), "{body}");
    }
}
