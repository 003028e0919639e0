//! `dashledger-requester`: obtain dashcam footage of an accident you were in, from a terminal.
//! stdout carries machine-readable output (plain `key: value` lines, or JSON with `--json`);
//! logs and progress bars go to stderr. See docs/requester.md.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use alloy::primitives::Address;
use clap::{Args, Parser, Subcommand};
use cli::{CmdResult, Ctx};

/// Exit code when the footage or the owner's key did not verify (after a dispute, if any).
pub(crate) const EXIT_VERIFY: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "dashledger-requester",
    version,
    about = "dashledger requester: search, request, recover, confirm, download, verify"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Args)]
struct Global {
    /// Ethereum JSON-RPC endpoint.
    #[arg(
        long,
        global = true,
        env = "DASHLEDGER_RPC_URL",
        default_value = "http://127.0.0.1:8545"
    )]
    rpc_url: String,
    /// dashledger cloud base URL.
    #[arg(
        long,
        global = true,
        env = "DASHLEDGER_CLOUD_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    cloud_url: String,
    /// Deployment file written by scripts/devnet (contract addresses).
    #[arg(
        long,
        global = true,
        env = "DASHLEDGER_DEPLOYMENTS",
        default_value = "deployments/31337.json"
    )]
    deployments: PathBuf,
    /// File holding the wallet's private key (hex). Alternatively set DASHLEDGER_PRIVATE_KEY.
    #[arg(long, global = true, env = "DASHLEDGER_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Where the Umbral keys live (default: $XDG_DATA_HOME/dashledger-requester or
    /// ~/.local/share/dashledger-requester).
    #[arg(long, global = true, env = "DASHLEDGER_REQUESTER_DIR")]
    data_dir: Option<PathBuf>,
    /// JSON on stdout instead of `key: value` lines.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Search verified clips by time range and place (through the cloud, or the chain with --chain).
    Search(SearchArgs),
    /// Open a Request Contract for an Evidence Contract with a reward.
    Request {
        /// The Evidence Contract (from `search`).
        ec: Address,
        /// Reward in ETH, e.g. 0.05.
        #[arg(long)]
        reward: String,
    },
    /// States of your requests (all of them, or one).
    Status {
        /// One Request Contract.
        reqc: Option<Address>,
    },
    /// Recover the key, confirm (or dispute a wrong kfrag), download, open and verify.
    Fetch(FetchArgs),
    /// Cancel a request the owner did not answer in time (then `withdraw`).
    Cancel {
        /// The Request Contract.
        reqc: Address,
    },
    /// Dispute a response whose kfrag does not open the footage.
    Dispute {
        /// The Request Contract.
        reqc: Address,
    },
    /// Collect what your requests owe you (refunds); all of yours when none are given.
    Withdraw {
        /// Request Contracts.
        reqc: Vec<Address>,
    },
    /// Manage the Umbral keys requests are made with.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Write an evidence bundle (zip) of a verified clip, checkable offline with dashledger-verify.
    Bundle(BundleArgs),
}

#[derive(Debug, Args)]
struct BundleArgs {
    /// The Evidence Contract, or a Request Contract for it.
    target: Address,
    /// The clip `fetch` verified (its Keccak-256 must be the EC's videoHash).
    #[arg(long)]
    clip: PathBuf,
    /// Where to write the bundle (zip).
    #[arg(long)]
    out: PathBuf,
    /// The device's signed evidence records around the segment: 161-byte records concatenated
    /// (the body of the cloud's `POST /v1/evidence`), as the owner or the operator gives them.
    /// Default, for a Request Contract target: asked from the cloud (`GET
    /// /v1/clips/{ec}/records`, signed with the requester's key) with the device's standing.
    #[arg(long)]
    records: Option<PathBuf>,
    /// The device as the cloud recorded it (JSON of `GET /v1/admin/devices/{address}`).
    #[arg(long)]
    device: Option<PathBuf>,
    /// The device's C2PA sidecar of the clip (`application/c2pa`). Default, for a Request
    /// Contract target: asked from the cloud (`GET /v1/clips/{ec}/c2pa`, signed with the
    /// requester's key); none when the device has no C2PA certificate.
    #[arg(long, value_name = "FILE")]
    c2pa: Option<PathBuf>,
    /// Prove the EC's state at this block (default: the latest).
    #[arg(long)]
    block: Option<u64>,
    /// Do not fetch the thumbnail from the cloud.
    #[arg(long)]
    no_thumbnail: bool,
}

#[derive(Debug, Args)]
struct SearchArgs {
    /// Start of the time range: unix seconds or RFC 3339 (2026-11-23T10:00:00Z).
    #[arg(long)]
    from: String,
    /// End of the time range.
    #[arg(long)]
    to: String,
    /// Centre latitude (degrees).
    #[arg(long, allow_hyphen_values = true, requires_all = ["lon", "radius_m"], conflicts_with = "box")]
    lat: Option<f64>,
    /// Centre longitude (degrees).
    #[arg(long, allow_hyphen_values = true, requires_all = ["lat", "radius_m"])]
    lon: Option<f64>,
    /// Radius (metres).
    #[arg(long)]
    radius_m: Option<f64>,
    /// Box: MIN_LAT,MAX_LAT,MIN_LON,MAX_LON (degrees).
    #[arg(
        long = "box",
        id = "box",
        allow_hyphen_values = true,
        value_name = "MIN_LAT,MAX_LAT,MIN_LON,MAX_LON"
    )]
    bbox: Option<String>,
    /// Read the SearchContract listings from the chain instead of asking the cloud.
    #[arg(long)]
    chain: bool,
    /// At most this many results.
    #[arg(long, default_value_t = 500)]
    max: usize,
}

#[derive(Debug, Args)]
struct FetchArgs {
    /// The Request Contract.
    reqc: Address,
    /// Where to write the verified clip.
    #[arg(long)]
    out: PathBuf,
    /// Open this sealed file (obtained another way) instead of downloading from the cloud.
    #[arg(long)]
    sealed: Option<PathBuf>,
    /// Do not dispute on-chain when the owner's kfrag is wrong; only report it.
    #[arg(long)]
    no_dispute: bool,
    /// Download from this URL (or path on --cloud-url) instead of the cloud's
    /// `/v1/clips/{ec}/download?reqc={reqc}`; the request is still signed by your wallet.
    #[arg(long)]
    download_url: Option<String>,
    /// Keep the downloaded sealed file after a successful verification.
    #[arg(long)]
    keep_sealed: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Print the active Umbral public key (generating one if none exists).
    Show,
    /// List stored Umbral public keys.
    List,
    /// Generate a new key pair and make it the active one.
    New,
    /// Write the active secret key (hex) to a file (mode 0600), for backup.
    Export {
        /// Destination file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a secret key (hex file) and make it the active one.
    Import {
        /// File with the secret key in hex.
        file: PathBuf,
    },
}

/// A failure with its exit code (1 = error, 3 = verification failed).
async fn run(cli: Cli) -> CmdResult {
    let ctx = Ctx { g: cli.global };
    match cli.cmd {
        Cmd::Search(a) => ctx.search(a).await,
        Cmd::Request { ec, reward } => ctx.request(ec, &reward).await,
        Cmd::Status { reqc } => ctx.status(reqc).await,
        Cmd::Fetch(a) => ctx.fetch(a).await,
        Cmd::Cancel { reqc } => ctx.simple_tx(reqc, "cancel").await,
        Cmd::Dispute { reqc } => ctx.simple_tx(reqc, "dispute").await,
        Cmd::Withdraw { reqc } => ctx.withdraw(reqc).await,
        Cmd::Keys(k) => ctx.keys(k),
        Cmd::Bundle(a) => ctx.bundle(a).await,
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DASHLEDGER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.error);
            ExitCode::from(f.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
