//! A local chain: anvil on 127.0.0.1 with the dashledger contracts deployed, via `scripts/devnet`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::proc::{self, Proc};

/// Anvil's well-known development keys (mnemonic "test test … junk"): public test keys, never
/// for real funds. Index 0 deploys, 1 is the verifier (the cloud), 2 is a requester, 3 a relayer
/// payer, 4 funds owner keys in the demo.
pub const ANVIL_KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// Their addresses, in the same order.
pub const ANVIL_ADDRESSES: [&str; 5] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
];

/// A running anvil with the contracts deployed. Stops anvil when dropped.
#[derive(Debug)]
pub struct Devnet {
    proc: Proc,
    /// `http://127.0.0.1:<port>`.
    pub rpc_url: String,
    /// The deployment file (`deployments/<chainId>.json` shape).
    pub deployment_file: PathBuf,
    /// Its contents.
    pub deployment: serde_json::Value,
}

impl Devnet {
    /// Starts anvil on a free port and deploys; `dir` receives the deployment file and the log.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = proc::free_port()?;
        let deployment_file = dir.join("deployment.json");
        let _ = std::fs::remove_file(&deployment_file);
        let mut cmd = Command::new(crate::repo_root().join("scripts/devnet"));
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--out")
            .arg(&deployment_file);
        let mut proc = Proc::spawn("devnet", cmd, dir)?;
        let deployment =
            proc::wait_for("the contracts to deploy", Duration::from_secs(120), || {
                proc.ensure_running()?;
                match std::fs::read(&deployment_file) {
                    Ok(bytes) if !bytes.is_empty() => Ok(serde_json::from_slice(&bytes).ok()),
                    _ => Ok(None),
                }
            })?;
        Ok(Self {
            proc,
            rpc_url: format!("http://127.0.0.1:{port}"),
            deployment_file,
            deployment,
        })
    }

    /// An address from the deployment file, e.g. `evidenceFactory`.
    pub fn address(&self, name: &str) -> anyhow::Result<String> {
        self.deployment
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("deployment has no '{name}'"))
    }

    /// Runs `cast` with the devnet's RPC URL appended; returns trimmed stdout.
    pub fn cast(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(crate::repo_root().join("node_modules/.bin/cast"))
            .args(args)
            .args(["--rpc-url", &self.rpc_url])
            .output()
            .context("cannot run cast (scripts/setup installs it)")?;
        anyhow::ensure!(
            out.status.success(),
            "cast {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `cast send` from the account with private key `key`; returns the receipt (JSON) or the
    /// revert message as the error.
    pub fn send(
        &self,
        key: &str,
        to: &str,
        sig: &str,
        args: &[&str],
        value_wei: u128,
    ) -> anyhow::Result<serde_json::Value> {
        let value = value_wei.to_string();
        let mut all = vec![
            "send",
            "--json",
            "--private-key",
            key,
            "--value",
            value.as_str(),
            to,
        ];
        if !sig.is_empty() {
            all.push(sig);
        }
        all.extend_from_slice(args);
        let out = self.cast(&all)?;
        let receipt: serde_json::Value =
            serde_json::from_str(&out).with_context(|| format!("cast send printed {out}"))?;
        anyhow::ensure!(
            receipt["status"].as_str() == Some("0x1"),
            "transaction {sig} to {to} failed: {receipt}"
        );
        Ok(receipt)
    }

    /// Sends `wei` from anvil account `from` (an index into [`ANVIL_KEYS`]) to `to`.
    pub fn fund(&self, from: usize, to: &str, wei: u128) -> anyhow::Result<()> {
        self.send(ANVIL_KEYS[from], to, "", &[], wei).map(|_| ())
    }

    /// `cast call` of a view with a return type in `sig` (e.g. `status()(uint8)`); the first
    /// output line, without cast's `[1e18]`-style annotations.
    pub fn call(&self, to: &str, sig: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["call", to, sig];
        all.extend_from_slice(args);
        let out = self.cast(&all)?;
        let first = out
            .lines()
            .next()
            .unwrap_or("")
            .split(' ')
            .next()
            .unwrap_or("")
            .to_owned();
        Ok(first)
    }

    /// A view returning an unsigned integer.
    pub fn call_u128(&self, to: &str, sig: &str, args: &[&str]) -> anyhow::Result<u128> {
        let s = self.call(to, sig, args)?;
        s.parse()
            .with_context(|| format!("{sig} on {to} returned '{s}'"))
    }

    /// Gas used × effective gas price of a receipt, in wei.
    pub fn fee(receipt: &serde_json::Value) -> anyhow::Result<u128> {
        let hex = |k: &str| -> anyhow::Result<u128> {
            let s = receipt[k]
                .as_str()
                .with_context(|| format!("receipt has no {k}"))?;
            Ok(u128::from_str_radix(s.trim_start_matches("0x"), 16)?)
        };
        Ok(hex("gasUsed")? * hex("effectiveGasPrice")?)
    }

    /// The receipt of transaction `tx` (JSON).
    pub fn receipt(&self, tx: &str) -> anyhow::Result<serde_json::Value> {
        let out = self.cast(&["receipt", "--json", tx])?;
        serde_json::from_str(&out).with_context(|| format!("cast receipt printed {out}"))
    }

    /// Balance of `address` in wei.
    pub fn balance(&self, address: &str) -> anyhow::Result<u128> {
        let s = self.cast(&["balance", address])?;
        s.parse()
            .with_context(|| format!("cast balance printed '{s}'"))
    }

    /// The number of transactions `address` has sent.
    pub fn nonce(&self, address: &str) -> anyhow::Result<u64> {
        let s = self.cast(&["nonce", address])?;
        s.parse()
            .with_context(|| format!("cast nonce printed '{s}'"))
    }

    /// Advances the chain's clock by `secs` and mines a block.
    pub fn advance(&self, secs: u64) -> anyhow::Result<()> {
        self.cast(&["rpc", "evm_increaseTime", &secs.to_string()])?;
        self.cast(&["rpc", "evm_mine"])?;
        Ok(())
    }

    /// The devnet log so far.
    pub fn log(&self) -> String {
        self.proc.log()
    }
}
