//! Reports one accident through a running dashledger cloud as a dashcam agent would: operator
//! approval of a fresh device key, the segment's signed evidence record, the owner's EIP-712
//! EC creation relayed by the cloud, the sealed clip through the resumable chunked upload; then
//! waits until the cloud's verifier has listed the EC. For tests and demos that need a real
//! accident without running the agent's detector (the web page's whole-flow browser test).
//!
//! ```sh
//! cargo run -p dashledger-requester --example report_accident -- \
//!   --cloud http://127.0.0.1:8080 --admin-token-file admin.token \
//!   --deployments deployments/31337.json --owner-key-file owner.key \
//!   --clip crash.mp4 --thumbnail first.jpg --lat 52.52 --lon 13.41 --recorded-at 1795400000
//! ```
//!
//! stdout: one JSON object (`ec`, `relay_tx`, `owner`, `owner_umbral_secret`,
//! `owner_umbral_public`, `video_hash`, `cipher_hash`, `sealed_bytes`, `resumed_at`, `listing`).
//! The owner's Umbral secret is printed because a test needs it to approve: use test keys only.

#[path = "../tests/support/device.rs"]
mod device;

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, Result};
use clap::Parser;
use dashledger_protocol::wrap::UmbralSecretKey;
use dashledger_requester::config::Deployment;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Report an accident through the cloud as a dashcam agent would (test helper)")]
struct Args {
    /// The cloud's base URL.
    #[arg(long)]
    cloud: String,
    /// File with the cloud's operator token.
    #[arg(long)]
    admin_token_file: PathBuf,
    /// Deployment file (deployments/<chainId>.json).
    #[arg(long)]
    deployments: PathBuf,
    /// File with the EC owner's private key (hex).
    #[arg(long)]
    owner_key_file: PathBuf,
    /// The clip (an MP4 segment: its per-second leaves are computed from its samples).
    #[arg(long)]
    clip: PathBuf,
    /// First-frame JPEG.
    #[arg(long)]
    thumbnail: PathBuf,
    /// Latitude (degrees).
    #[arg(long, allow_hyphen_values = true)]
    lat: f64,
    /// Longitude (degrees).
    #[arg(long, allow_hyphen_values = true)]
    lon: f64,
    /// Recording time (unix seconds).
    #[arg(long)]
    recorded_at: u64,
    /// Upload chunk size.
    #[arg(long, default_value_t = 65_536)]
    chunk_bytes: usize,
    /// How long to wait for the cloud to list the EC (seconds).
    #[arg(long, default_value_t = 60)]
    wait_secs: u64,
}

fn read_hex_key(path: &Path) -> Result<PrivateKeySigner> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("{} does not hold a hex private key", path.display()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let a = Args::parse();
    let dep = Deployment::load(&a.deployments)?;
    let token = std::fs::read_to_string(&a.admin_token_file)
        .with_context(|| format!("reading {}", a.admin_token_file.display()))?;
    let owner = read_hex_key(&a.owner_key_file)?;
    let clip = std::fs::read(&a.clip).with_context(|| format!("reading {}", a.clip.display()))?;
    let thumbnail = std::fs::read(&a.thumbnail)
        .with_context(|| format!("reading {}", a.thumbnail.display()))?;
    let leaves = dashledger_protocol::frames::frame_leaves_file(&a.clip)
        .with_context(|| format!("{} is not an MP4 with frames", a.clip.display()))?;
    let device = PrivateKeySigner::random();
    let owner_umbral = UmbralSecretKey::generate();
    let micro = |deg: f64| (deg * 1e6).round() as i32;
    let r = device::report(&device::AccidentInput {
        cloud: &a.cloud,
        admin_token: token.trim(),
        chain_id: dep.chain_id,
        factory: dep.evidence_factory,
        device: &device,
        owner: &owner,
        owner_umbral: &owner_umbral,
        clip: &clip,
        leaves: &leaves,
        thumbnail: &thumbnail,
        recorded_at: a.recorded_at,
        latitude: micro(a.lat),
        longitude: micro(a.lon),
        chunk_bytes: a.chunk_bytes,
    })
    .await?;
    let listing = device::wait_listed(&a.cloud, r.ec, Duration::from_secs(a.wait_secs)).await?;
    let out = json!({
        "ec": r.ec.to_checksum(None),
        "relay_tx": r.relay_tx,
        "owner": owner.address().to_checksum(None),
        "device": device.address().to_checksum(None),
        "owner_umbral_secret": format!("0x{}", hex::encode(*owner_umbral.to_be_bytes())),
        "owner_umbral_public": format!("0x{}", hex::encode(owner_umbral.public_key().to_bytes())),
        "video_hash": r.evidence.videoHash,
        "cipher_hash": r.evidence.cipherHash,
        "sealed_bytes": r.sealed.len(),
        "leaves": leaves.len(),
        "resumed_at": r.resumed_at,
        "listing": listing,
    });
    println!("{out}");
    Ok(())
}
