//! The requester CLI (`dashledger-requester`) as a subprocess, for one wallet.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Context;

use crate::devnet::Devnet;

/// One requester: a wallet key, an Umbral key directory, the devnet and a cloud URL.
#[derive(Debug, Clone)]
pub struct Requester {
    key: String,
    /// The wallet address.
    pub address: String,
    data_dir: PathBuf,
    rpc_url: String,
    cloud_url: String,
    deployment_file: PathBuf,
}

impl Requester {
    /// A requester with wallet `key` (address `address`) keeping its Umbral keys in `data_dir`.
    pub fn new(
        key: &str,
        address: &str,
        data_dir: &Path,
        devnet: &Devnet,
        cloud_url: &str,
    ) -> Self {
        Self {
            key: key.to_owned(),
            address: address.to_owned(),
            data_dir: data_dir.to_path_buf(),
            rpc_url: devnet.rpc_url.clone(),
            cloud_url: cloud_url.to_owned(),
            deployment_file: devnet.deployment_file.clone(),
        }
    }

    /// Runs `dashledger-requester --json ARGS…`, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new(crate::bin("dashledger-requester")?)
            .arg("--rpc-url")
            .arg(&self.rpc_url)
            .arg("--cloud-url")
            .arg(&self.cloud_url)
            .arg("--deployments")
            .arg(&self.deployment_file)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--json")
            .args(args)
            .env("DASHLEDGER_PRIVATE_KEY", &self.key)
            .env_remove("DASHLEDGER_KEY_FILE")
            .output()
            .context("cannot run dashledger-requester")
    }

    /// Runs a command that must succeed; stdout as JSON.
    pub fn json(&self, args: &[&str]) -> anyhow::Result<serde_json::Value> {
        let out = self.run(args)?;
        anyhow::ensure!(
            out.status.success(),
            "dashledger-requester {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "dashledger-requester {} printed no JSON: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
