//! `dashledger-requester`: obtain dashcam footage of an accident you were in, from a terminal.
//! stdout carries machine-readable output (plain `key: value` lines, or JSON with `--json`);
//! logs and progress bars go to stderr. See docs/requester.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::UNIX_EPOCH;

use alloy::primitives::{Address, U256, utils::parse_ether};
use alloy::signers::local::PrivateKeySigner;
use clap::{Args, Parser, Subcommand};
use dashledger_protocol::wrap::{self, UmbralPublicKey, WrappedKey};
use dashledger_requester::bundle::{self, BundleRequest};
use dashledger_requester::chain::{Chain, RequestState, fmt_eth, fmt_time, status, status_name};
use dashledger_requester::cloud::{Area, Cloud};
use dashledger_requester::config::Deployment;
use dashledger_requester::keys::{KeyStore, parse_secret_hex};
use dashledger_requester::open::open_and_verify;
use dashledger_requester::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use zeroize::Zeroizing;

/// Exit code when the footage or the owner's key did not verify (after a dispute, if any).
const EXIT_VERIFY: u8 = 3;

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
struct Failure {
    code: u8,
    error: Error,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self { code: 1, error }
    }
}

type CmdResult = std::result::Result<(), Failure>;

struct Ctx {
    g: Global,
}

/// Prints a record: JSON with --json, else `key: value` lines.
fn emit(json_mode: bool, v: &serde_json::Value) {
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

fn parse_time(s: &str, what: &str) -> Result<u64> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return Ok(n);
    }
    let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
        Error::Config(format!(
            "--{what} {s:?} is neither unix seconds nor RFC 3339 time: {e}"
        ))
    })?;
    Ok(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

fn parse_box(s: &str) -> Result<Area> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            Error::Config(format!(
                "--box {s:?}: {e}; expected MIN_LAT,MAX_LAT,MIN_LON,MAX_LON"
            ))
        })?;
    let [min_lat, max_lat, min_lon, max_lon] = v[..] else {
        return Err(Error::Config(format!(
            "--box {s:?} needs 4 numbers: MIN_LAT,MAX_LAT,MIN_LON,MAX_LON"
        )));
    };
    if min_lat > max_lat || min_lon > max_lon {
        return Err(Error::Config(
            "--box: MIN_LAT must be <= MAX_LAT and MIN_LON <= MAX_LON".into(),
        ));
    }
    Ok(Area::Box {
        min_lat,
        max_lat,
        min_lon,
        max_lon,
    })
}

fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let a = ((p2 - p1) / 2.0).sin().powi(2)
        + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

fn in_area(area: Area, lat: f64, lon: f64) -> bool {
    match area {
        Area::Circle {
            lat: c,
            lon: l,
            radius_m,
        } => haversine_m(c, l, lat, lon) <= radius_m,
        Area::Box {
            min_lat,
            max_lat,
            min_lon,
            max_lon,
        } => (min_lat..=max_lat).contains(&lat) && (min_lon..=max_lon).contains(&lon),
    }
}

fn bytes_bar(msg: &'static str) -> ProgressBar {
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
    fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.g.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("dashledger-requester");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".local/share/dashledger-requester")
    }

    fn keystore(&self) -> KeyStore {
        KeyStore::new(&self.data_dir())
    }

    fn signer(&self) -> Result<Option<PrivateKeySigner>> {
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

    fn need_signer(&self) -> Result<PrivateKeySigner> {
        self.signer()?.ok_or_else(|| {
            Error::Config("this command needs your wallet key: pass --key-file FILE or set DASHLEDGER_PRIVATE_KEY".into())
        })
    }

    async fn chain(&self, signer: Option<PrivateKeySigner>) -> Result<Chain> {
        let dep = Deployment::load(&self.g.deployments)?;
        Chain::connect(&self.g.rpc_url, dep, signer).await
    }

    fn state_json(s: &RequestState) -> serde_json::Value {
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

    async fn search(&self, a: SearchArgs) -> CmdResult {
        let from = parse_time(&a.from, "from")?;
        let to = parse_time(&a.to, "to")?;
        if from > to {
            return Err(Error::Config("--from must not be after --to".into()).into());
        }
        let area = match (a.lat, a.lon, a.radius_m, &a.bbox) {
            (Some(lat), Some(lon), Some(radius_m), None) => {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(
                        Error::Config(format!("--lat {lat} / --lon {lon} out of range")).into(),
                    );
                }
                if !(radius_m > 0.0 && radius_m.is_finite()) {
                    return Err(Error::Config(format!(
                        "--radius-m must be a positive number of metres, got {radius_m}"
                    ))
                    .into());
                }
                Area::Circle { lat, lon, radius_m }
            }
            (None, None, None, Some(b)) => parse_box(b)?,
            _ => {
                return Err(Error::Config(
                    "give a place: --lat, --lon and --radius-m, or --box".into(),
                )
                .into());
            }
        };
        let hits: Vec<serde_json::Value> = if a.chain {
            let chain = self.chain(None).await?;
            let mut v: Vec<_> = chain
                .listings()
                .await?
                .into_iter()
                .filter(|l| (from..=to).contains(&l.recorded_at) && in_area(area, l.lat, l.lon))
                .collect();
            v.sort_by_key(|l| l.recorded_at);
            v.truncate(a.max);
            v.into_iter()
                .map(|l| json!({"ec": l.ec.to_string(), "recorded_at": fmt_time(l.recorded_at), "lat": l.lat, "lon": l.lon, "status": "Verified"}))
                .collect()
        } else {
            let cloud = Cloud::new(&self.g.cloud_url)?;
            cloud
                .search(from, to, area, a.max)
                .await?
                .into_iter()
                .map(|h| {
                    json!({"ec": h.ec_address, "recorded_at": fmt_time(u64::try_from(h.recorded_at).unwrap_or(0)),
                           "lat": h.lat, "lon": h.lon, "status": h.status, "thumbnail": h.thumbnails.first})
                })
                .collect()
        };
        eprintln!("{} clip(s) found", hits.len());
        if self.g.json {
            println!("{}", serde_json::Value::Array(hits));
        } else {
            for h in hits {
                println!(
                    "{} {} {},{} {}",
                    h["ec"].as_str().unwrap_or_default(),
                    h["recorded_at"].as_str().unwrap_or_default(),
                    h["lat"],
                    h["lon"],
                    h["status"].as_str().unwrap_or_default()
                );
            }
        }
        Ok(())
    }

    async fn request(&self, ec: Address, reward: &str) -> CmdResult {
        let reward: U256 = parse_ether(reward.trim())
            .map_err(|e| Error::Config(format!("--reward {reward:?} is not an ETH amount: {e}")))?;
        if reward.is_zero() {
            return Err(Error::Config("--reward must be more than 0".into()).into());
        }
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let ks = self.keystore();
        let (pk, _sk, fresh) = ks.active_or_generate()?;
        if fresh {
            eprintln!(
                "generated a new Umbral key {} in {}; back it up with `keys export` — without it the footage cannot be opened",
                hex::encode(pk.to_bytes()),
                ks.dir().display()
            );
        }
        let (reqc, sent) = chain.create_request(ec, &pk.to_bytes(), reward).await?;
        emit(
            self.g.json,
            &json!({"reqc": reqc.to_string(), "tx": sent.tx.to_string(), "ec": ec.to_string(),
                    "reward_eth": fmt_eth(reward), "umbral_key": format!("0x{}", hex::encode(pk.to_bytes()))}),
        );
        Ok(())
    }

    async fn status(&self, reqc: Option<Address>) -> CmdResult {
        let signer = self.signer()?;
        let chain = self.chain(signer).await?;
        let list = match reqc {
            Some(r) => vec![r],
            None => chain
                .requests_by(chain.me()?)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
        };
        let mut out = Vec::new();
        for r in list {
            out.push(Self::state_json(&chain.request_state(r).await?));
        }
        if self.g.json {
            println!("{}", serde_json::Value::Array(out));
        } else {
            for s in out {
                println!(
                    "{} {} ec={} reward={} owed={} respond_by={} deadline={}",
                    s["reqc"].as_str().unwrap_or_default(),
                    s["status"].as_str().unwrap_or_default(),
                    s["ec"].as_str().unwrap_or_default(),
                    s["reward_eth"].as_str().unwrap_or_default(),
                    s["owed_eth"].as_str().unwrap_or_default(),
                    s["respond_by"].as_str().unwrap_or_default(),
                    s["deadline"].as_str().unwrap_or_default(),
                );
            }
        }
        Ok(())
    }

    async fn fetch(&self, a: FetchArgs) -> CmdResult {
        let signer = self.need_signer()?;
        let chain = self.chain(Some(signer.clone())).await?;
        let me = chain.me()?;
        let st = chain.request_state(a.reqc).await?;
        if st.requester != me {
            return Err(Error::State(format!(
                "request {} was opened by {}, not by your wallet {me}",
                a.reqc, st.requester
            ))
            .into());
        }
        match st.status_code {
            status::OPEN => {
                return Err(Error::State(format!(
                    "the owner has not responded yet; they have until {}. After that you can `cancel` and `withdraw` the reward",
                    fmt_time(st.respond_by)
                ))
                .into());
            }
            status::RESPONDED | status::COMPLETED => {}
            status::DISPUTED => {
                return Err(Error::State(format!(
                    "the request is Disputed; the verifier resolves it until {}, then `withdraw`",
                    fmt_time(st.deadline)
                ))
                .into());
            }
            other => {
                tracing::warn!("the request is {}; trying anyway", status_name(other));
            }
        }
        // Key recovery.
        let pk_bytes = chain.request_umbral_key(a.reqc).await?;
        let pk = UmbralPublicKey::from_bytes(&pk_bytes).map_err(Error::from)?;
        let ks = self.keystore();
        let sk = ks.find(&pk)?.ok_or_else(|| {
            Error::Config(format!(
                "this request was made for Umbral key 0x{}, which is not in {}; `keys import` its secret first",
                hex::encode(pk.to_bytes()),
                ks.dir().display()
            ))
        })?;
        let resp = chain.response(a.reqc).await?.ok_or_else(|| {
            Error::State(format!("request {} has no RequestResponded event", a.reqc))
        })?;
        let ev = chain.evidence(st.ec).await?;
        let recovered = (|| -> Result<_> {
            let signer_pk = UmbralPublicKey::from_bytes(&resp.signer_key)?;
            if signer_pk.eth_address() != st.owner {
                return Err(Error::Verification(format!(
                    "the kfrag signing key belongs to {}, but the EC's owner is {}",
                    signer_pk.eth_address(),
                    st.owner
                )));
            }
            let owner_pk = UmbralPublicKey::from_bytes(&ev.owner_umbral_key)?;
            let wrapped = WrappedKey::from_parts(&ev.capsule, &ev.wrapped_key)?;
            Ok(wrap::recover(
                &sk,
                &owner_pk,
                &signer_pk,
                &wrapped,
                &resp.kfrag,
                &ev.key_commitment,
            )?)
        })();
        let key = match recovered {
            Ok(k) => k,
            Err(e) => {
                let reason = e.to_string();
                if st.status_code == status::RESPONDED && !a.no_dispute {
                    let sent = chain.dispute(a.reqc).await?;
                    eprintln!(
                        "the owner's key fragment does not recover the footage key ({reason}). Disputed on-chain in {}: the verifier checks the kfrag; run `withdraw` once it is resolved",
                        sent.tx
                    );
                    emit(
                        self.g.json,
                        &json!({"reqc": a.reqc.to_string(), "result": "disputed", "reason": reason, "tx": sent.tx.to_string()}),
                    );
                } else {
                    emit(
                        self.g.json,
                        &json!({"reqc": a.reqc.to_string(), "result": "bad-kfrag", "reason": reason}),
                    );
                }
                return Err(Failure {
                    code: EXIT_VERIFY,
                    error: Error::Verification(format!("the owner's kfrag is wrong: {reason}")),
                });
            }
        };
        eprintln!(
            "session key recovered; it matches the EC's keyCommitment {}",
            ev.key_commitment
        );
        let mut confirm_tx = None;
        if st.status_code == status::RESPONDED {
            let sent = chain.confirm(a.reqc).await?;
            eprintln!("confirmed on-chain in {} (the owner is paid)", sent.tx);
            confirm_tx = Some(sent.tx.to_string());
        }
        // The sealed clip: given, or downloaded (resumable).
        let downloaded = a.sealed.is_none();
        let sealed = match &a.sealed {
            Some(p) => p.clone(),
            None => {
                let p = sealed_path_for(&a.out);
                let cloud = Cloud::new(&self.g.cloud_url)?;
                let pb = bytes_bar("download");
                let link = a
                    .download_url
                    .clone()
                    .unwrap_or_else(|| Cloud::download_path(st.ec, a.reqc));
                if !resp.download_link.is_empty() {
                    tracing::info!(owner_link = %resp.download_link, %link, "downloading from the cloud route");
                }
                let res = cloud
                    .download(&link, chain.deployment().chain_id, &signer, &p, &pb)
                    .await;
                pb.finish_and_clear();
                let n = res.map_err(|e| {
                    Error::State(format!(
                        "{e}. The request is confirmed; run the same fetch again to download (partial data is kept in {})",
                        p.display()
                    ))
                })?;
                let (n, resumed) = n;
                if resumed > 0 {
                    eprintln!(
                        "downloaded {n} bytes to {} (resumed at byte {resumed})",
                        p.display()
                    );
                } else {
                    eprintln!("downloaded {n} bytes to {}", p.display());
                }
                p
            }
        };
        let pb = bytes_bar("open");
        let res = open_and_verify(&sealed, &a.out, &key, ev.cipher_hash, ev.video_hash, &pb);
        pb.finish_and_clear();
        match res {
            Ok(v) => {
                if downloaded && !a.keep_sealed {
                    let _ = std::fs::remove_file(&sealed);
                }
                emit(
                    self.g.json,
                    &json!({"reqc": a.reqc.to_string(), "result": "verified", "out": v.out.display().to_string(),
                            "video_hash": v.video_hash.to_string(), "bytes": v.plaintext_len, "chunks": v.chunks,
                            "confirm_tx": confirm_tx}),
                );
                eprintln!(
                    "verified: Keccak-256 {} matches the EC's videoHash",
                    v.video_hash
                );
                Ok(())
            }
            Err(e) => {
                let reason = e.to_string();
                emit(
                    self.g.json,
                    &json!({"reqc": a.reqc.to_string(), "result": "failed", "reason": reason, "sealed": sealed.display().to_string()}),
                );
                eprintln!("the sealed file is kept at {}", sealed.display());
                Err(Failure {
                    code: EXIT_VERIFY,
                    error: e,
                })
            }
        }
    }

    async fn simple_tx(&self, reqc: Address, what: &str) -> CmdResult {
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let sent = match what {
            "cancel" => {
                let st = chain.request_state(reqc).await?;
                let now = chain.now().await?;
                if st.status_code == status::OPEN && now <= st.respond_by {
                    return Err(Error::State(format!(
                        "the owner may still respond until {} (chain time {}); cancel after that",
                        fmt_time(st.respond_by),
                        fmt_time(now)
                    ))
                    .into());
                }
                chain.cancel(reqc).await?
            }
            _ => chain.dispute(reqc).await?,
        };
        let st = chain.request_state(reqc).await?;
        emit(
            self.g.json,
            &json!({"reqc": reqc.to_string(), "tx": sent.tx.to_string(), "status": st.status, "owed_eth": fmt_eth(st.owed_wei.parse().unwrap_or_default())}),
        );
        Ok(())
    }

    async fn withdraw(&self, reqcs: Vec<Address>) -> CmdResult {
        let chain = self.chain(Some(self.need_signer()?)).await?;
        let me = chain.me()?;
        let explicit = !reqcs.is_empty();
        let list = if explicit {
            reqcs
        } else {
            chain
                .requests_by(me)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect()
        };
        let mut rows = Vec::new();
        let mut total = U256::ZERO;
        for r in list {
            let st = chain.request_state(r).await?;
            let owed: U256 = st.owed_wei.parse().unwrap_or_default();
            if owed.is_zero() {
                if explicit {
                    eprintln!("{r} owes you nothing ({})", st.status);
                }
                continue;
            }
            let sent = chain.withdraw(r).await?;
            total += owed;
            rows.push(json!({"reqc": r.to_string(), "amount_eth": fmt_eth(owed), "tx": sent.tx.to_string()}));
        }
        eprintln!(
            "withdrew {} ETH from {} request(s)",
            fmt_eth(total),
            rows.len()
        );
        if self.g.json {
            println!(
                "{}",
                json!({"total_eth": fmt_eth(total), "withdrawals": rows})
            );
        } else {
            for r in rows {
                println!(
                    "{} {} {}",
                    r["reqc"].as_str().unwrap_or_default(),
                    r["amount_eth"].as_str().unwrap_or_default(),
                    r["tx"].as_str().unwrap_or_default()
                );
            }
            println!("total: {}", fmt_eth(total));
        }
        Ok(())
    }

    async fn bundle(&self, a: BundleArgs) -> CmdResult {
        let chain = self.chain(None).await?;
        let cloud = if a.no_thumbnail {
            None
        } else {
            Some(Cloud::new(&self.g.cloud_url)?)
        };
        let req = BundleRequest {
            target: a.target,
            clip: a.clip,
            records: a.records,
            device: a.device,
            signer: self.signer()?,
            block: a.block,
            out: a.out,
        };
        let w = match bundle::bundle(&chain, cloud.as_ref(), &req).await {
            Ok(w) => w,
            Err(e @ Error::Verification(_)) => {
                emit(
                    self.g.json,
                    &json!({"result": "failed", "reason": e.to_string()}),
                );
                return Err(Failure {
                    code: EXIT_VERIFY,
                    error: e,
                });
            }
            Err(e) => return Err(e.into()),
        };
        for n in &w.verdict.not_checked {
            eprintln!("not checked offline: {} ({})", n.what, n.how);
        }
        emit(
            self.g.json,
            &json!({"result": "written", "out": w.out.display().to_string(), "ec": w.ec.to_string(),
                    "bytes": w.bytes, "files": w.files, "proof_block": w.proof_block,
                    "checks": w.verdict.checks.len()}),
        );
        Ok(())
    }

    fn keys(&self, k: KeysCmd) -> CmdResult {
        let ks = self.keystore();
        match k {
            KeysCmd::Show => {
                let (pk, _, fresh) = ks.active_or_generate()?;
                if fresh {
                    eprintln!("generated a new Umbral key in {}", ks.dir().display());
                }
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "dir": ks.dir().display().to_string()}),
                );
            }
            KeysCmd::List => {
                let active = ks.active()?.map(|(pk, _)| hex::encode(pk.to_bytes()));
                let keys = ks.list()?;
                if self.g.json {
                    println!(
                        "{}",
                        json!({"active": active.map(|a| format!("0x{a}")), "keys": keys.iter().map(|k| format!("0x{k}")).collect::<Vec<_>>()})
                    );
                } else {
                    for k in keys {
                        let mark = if active.as_deref() == Some(k.as_str()) {
                            " (active)"
                        } else {
                            ""
                        };
                        println!("0x{k}{mark}");
                    }
                }
            }
            KeysCmd::New => {
                let sk = dashledger_protocol::wrap::UmbralSecretKey::generate();
                let pk = ks.add(&sk)?;
                ks.set_active(&pk)?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes()))}),
                );
            }
            KeysCmd::Export { out } => {
                let (pk, sk, _) = ks.active_or_generate()?;
                write_new_private(
                    &out,
                    &Zeroizing::new(hex::encode(sk.to_be_bytes().as_ref())),
                )?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "exported_to": out.display().to_string()}),
                );
            }
            KeysCmd::Import { file } => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(&file).map_err(Error::io("reading", &file))?,
                );
                let sk = parse_secret_hex(&text)?;
                let pk = ks.add(&sk)?;
                ks.set_active(&pk)?;
                emit(
                    self.g.json,
                    &json!({"umbral_key": format!("0x{}", hex::encode(pk.to_bytes())), "active": true}),
                );
            }
        }
        Ok(())
    }
}

fn sealed_path_for(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".sealed");
    out.with_file_name(name)
}

fn write_new_private(path: &Path, contents: &str) -> Result<()> {
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
    fn times_and_boxes() {
        assert_eq!(parse_time("1700000000", "from").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", "from").unwrap(),
            1_700_000_000
        );
        assert!(
            parse_time("yesterday", "from")
                .unwrap_err()
                .to_string()
                .contains("--from")
        );
        assert!(matches!(parse_box("48,49,2,3").unwrap(), Area::Box { .. }));
        assert!(
            parse_box("48,49,2")
                .unwrap_err()
                .to_string()
                .contains("4 numbers")
        );
        assert!(
            parse_box("49,48,2,3")
                .unwrap_err()
                .to_string()
                .contains("MIN_LAT")
        );
        assert!(in_area(
            Area::Circle {
                lat: 48.0,
                lon: 2.0,
                radius_m: 200.0
            },
            48.001,
            2.0
        ));
        assert!(!in_area(
            Area::Circle {
                lat: 48.0,
                lon: 2.0,
                radius_m: 100.0
            },
            48.001,
            2.0
        ));
    }

    #[test]
    fn cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
