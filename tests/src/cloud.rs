//! The real cloud (`dashledger-cloud serve`): SQLite and a local blob directory under one data
//! directory, the devnet's verifier key, a fixed loopback port so it can be stopped and started
//! again at the same URL (the agent keeps its configured URL).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::devnet::{ANVIL_KEYS, Devnet};
use crate::proc::{self, Proc};

/// A cloud that can be started, stopped and killed; stopped when dropped.
#[derive(Debug)]
pub struct Cloud {
    proc: Option<Proc>,
    dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    admin_token: String,
    rpc_url: String,
    deployment_file: PathBuf,
    extra: Vec<String>,
    starts: u32,
}

impl Cloud {
    /// Prepares a cloud in `dir` (data, keys, logs) on a free port, verifier = anvil account 1.
    /// Not started yet: see [`Cloud::start`].
    pub fn new(dir: &Path, devnet: &Devnet) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("data"))?;
        let port = proc::free_port()?;
        let admin_token = format!("e2e-admin-{port}-{}", std::process::id());
        write_secret(&dir.join("admin.token"), &admin_token)?;
        write_secret(&dir.join("verifier.key"), ANVIL_KEYS[1])?;
        Ok(Self {
            proc: None,
            dir: dir.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            admin_token,
            rpc_url: devnet.rpc_url.clone(),
            deployment_file: devnet.deployment_file.clone(),
            extra: Vec::new(),
            starts: 0,
        })
    }

    /// Adds a `--set key=value` for the next starts (e.g. `web.dir=…`).
    pub fn set(&mut self, kv: &str) {
        self.extra.push(kv.to_owned());
    }

    /// The data directory (SQLite file `cloud.db`, `blobs/`, `spool/`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Starts `dashledger-cloud serve` and waits until `/readyz` answers 200.
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.proc.is_none(), "the cloud is already running");
        let mut cmd = Command::new(crate::bin("dashledger-cloud")?);
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--set")
            .arg(format!(
                "admin_token_file={}",
                self.dir.join("admin.token").display()
            ))
            .arg("--set")
            .arg(format!("chain.rpc_url={}", self.rpc_url))
            .arg("--set")
            .arg(format!(
                "chain.deployment_file={}",
                self.deployment_file.display()
            ))
            .arg("--set")
            .arg(format!(
                "chain.signer_key_file={}",
                self.dir.join("verifier.key").display()
            ))
            .args([
                "--set",
                "chain.confirmations=0",
                "--set",
                "chain.poll_interval_ms=300",
            ]);
        for kv in &self.extra {
            cmd.arg("--set").arg(kv);
        }
        cmd.arg("serve")
            .env("DASHLEDGER_CLOUD_LOG", "info,sqlx=warn");
        self.starts += 1;
        let mut p = Proc::spawn(&format!("cloud-{}", self.starts), cmd, &self.dir)?;
        let url = format!("{}/readyz", self.url);
        proc::wait_for("the cloud to be ready", Duration::from_secs(60), || {
            p.ensure_running()?;
            Ok(proc::http("GET", &url, &[], &[])
                .ok()
                .filter(|r| r.status == 200)
                .map(|_| ()))
        })?;
        self.proc = Some(p);
        Ok(())
    }

    /// SIGTERM (graceful), waits for the exit.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.proc.take() {
            p.stop(Duration::from_secs(30))?;
        }
        Ok(())
    }

    /// SIGKILL: a crash in the middle of whatever it was doing.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.proc.take() {
            p.kill9()?;
        }
        Ok(())
    }

    /// Fails with the log tail if the cloud has exited.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        self.proc
            .as_mut()
            .context("the cloud is not started")?
            .ensure_running()
    }

    /// An operator API call (`Authorization: Bearer <admin token>`), JSON answer, 2xx required.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let auth = format!("Bearer {}", self.admin_token);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = vec![("Authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        proc::http(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.as_bytes(),
        )?
        .ok()?
        .json()
    }

    /// Registers and approves a device.
    pub fn approve_device(&self, address: &str, label: &str) -> anyhow::Result<()> {
        self.admin(
            "POST",
            "/v1/admin/devices",
            Some(&serde_json::json!({"address": address, "label": label, "approve": true})),
        )?;
        Ok(())
    }

    /// A public GET, JSON answer (any status; see [`proc::Response::ok`]).
    pub fn get(&self, path: &str) -> anyhow::Result<proc::Response> {
        proc::http("GET", &format!("{}{path}", self.url), &[], &[])
    }

    /// Runs a read-only SQL query on the cloud's SQLite database; rows as JSON objects.
    pub fn query(&self, sql: &str) -> anyhow::Result<Vec<serde_json::Value>> {
        crate::sqlite_json(&self.data_dir().join("cloud.db"), sql)
    }

    /// The last lines of the current (or last) cloud log.
    pub fn log_tail(&self) -> String {
        self.proc
            .as_ref()
            .map(|p| p.log_tail(40))
            .unwrap_or_default()
    }
}

fn write_secret(path: &Path, value: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("{value}\n"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
