//! The commands behind `dashledger-requester`'s argument parser (`main.rs`): the shared context
//! (global flags, wallet key, chain connection, output) here, one module per job below.

mod bundle;
mod escrow;
mod fetch;
mod keys;
mod search;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use alloy::signers::local::PrivateKeySigner;
use dashledger_requester::chain::{Chain, RequestState, fmt_eth, fmt_time};
use dashledger_requester::config::Deployment;
use dashledger_requester::keys::KeyStore;
use dashledger_requester::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use zeroize::Zeroizing;

use crate::Global;

/// A failed command: the error and the process exit code.
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: Error,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self { code: 1, error }
    }
}

pub(crate) type CmdResult = std::result::Result<(), Failure>;

pub(crate) struct Ctx {
    pub(crate) g: Global,
}

/// Prints a record: JSON with --json, else `key: value` lines.
pub(crate) fn emit(json_mode: bool, v: &serde_json::Value) {
    if json_mode {
        println!("{v}");
        return;
    }
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            match val {
                serde_json::Value::String(s) => println!("{k}: {s}"),
                other => println!("{k}: {other}"),
            }
        }
    } else {
        println!("{v}");
    }
}

pub(crate) fn bytes_bar(msg: &'static str) -> ProgressBar {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid progress template")
        .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

impl Ctx {
    pub(crate) fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.g.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("dashledger-requester");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".local/share/dashledger-requester")
    }

    pub(crate) fn keystore(&self) -> KeyStore {
        KeyStore::new(&self.data_dir())
    }

    pub(crate) fn signer(&self) -> Result<Option<PrivateKeySigner>> {
        let text = if let Some(p) = &self.g.key_file {
            Zeroizing::new(
                std::fs::read_to_string(p).map_err(Error::io("reading the wallet key file", p))?,
            )
        } else if let Ok(k) = std::env::var("DASHLEDGER_PRIVATE_KEY") {
            Zeroizing::new(k)
        } else {
            return Ok(None);
        };
        let t = text.trim();
        PrivateKeySigner::from_str(t).map(Some).map_err(|_| {
            Error::Config(
                "the wallet key must be 32 bytes of hex (64 characters, optional 0x)".into(),
            )
        })
    }

    pub(crate) fn need_signer(&self) -> Result<PrivateKeySigner> {
        self.signer()?.ok_or_else(|| {
            Error::Config("this command needs your wallet key: pass --key-file FILE or set DASHLEDGER_PRIVATE_KEY".into())
        })
    }

    pub(crate) async fn chain(&self, signer: Option<PrivateKeySigner>) -> Result<Chain> {
        let dep = Deployment::load(&self.g.deployments)?;
        Chain::connect(&self.g.rpc_url, dep, signer).await
    }

    pub(crate) fn state_json(s: &RequestState) -> serde_json::Value {
        json!({
            "reqc": s.reqc.to_string(),
            "status": s.status,
            "ec": s.ec.to_string(),
            "owner": s.owner.to_string(),
            "reward_eth": fmt_eth(s.reward_wei.parse().unwrap_or_default()),
            "deposit_eth": fmt_eth(s.deposit_wei.parse().unwrap_or_default()),
            "respond_by": fmt_time(s.respond_by),
            "deadline": if s.deadline == 0 { String::new() } else { fmt_time(s.deadline) },
            "owed_eth": fmt_eth(s.owed_wei.parse().unwrap_or_default()),
        })
    }
}

pub(crate) fn write_new_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(Error::io("creating (it must not exist yet)", path))?;
    f.write_all(contents.as_bytes())
        .map_err(Error::io("writing", path))?;
    f.sync_all().map_err(Error::io("syncing", path))
}
