//! `dashledger-agent`: the dashcam daemon and the owner's command line.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dashledger_agent::cloud::{CloudClient, Deployment};
use dashledger_agent::config::{CONFIG_ENV, Config, LOG_ENV, Overrides};
use dashledger_agent::outbox::Outbox;
use dashledger_agent::{AgentError, daemon, keystore, owner};
use dashledger_protocol::keys::{self as keys, KdfParams};

mod admin;

/// dashledger dashcam agent.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Layers: defaults, this file, DASHLEDGER_AGENT_* variables, flags.
    #[arg(long, global = true, env = CONFIG_ENV)]
    config: Option<PathBuf>,
    /// Directory the camera writes segments into (`watch_dir`).
    #[arg(long, global = true)]
    watch_dir: Option<PathBuf>,
    /// Directory for the outbox and sealed clips (`state_dir`).
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// Keystore file (`keystore`).
    #[arg(long, global = true)]
    keystore: Option<PathBuf>,
    /// Cloud base URL (`cloud.url`).
    #[arg(long, global = true)]
    cloud_url: Option<String>,
    /// Chain JSON-RPC URL (`chain.rpc_url`).
    #[arg(long, global = true)]
    rpc_url: Option<String>,
    /// Image backbone (`detect.backbone`): effnet-lite0 or vgg16.
    #[arg(long, global = true)]
    backbone: Option<String>,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `dashledger_agent=debug`.
    #[arg(long, global = true, env = LOG_ENV, default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the keystore (device key, owner seed, Umbral key) and print the addresses.
    Init {
        /// Weak scrypt parameters (tests only; never on a real device).
        #[arg(long, hide = true)]
        insecure_fast_kdf: bool,
    },
    /// Run the daemon: watch segments, queue and send evidence records.
    Run,
    /// Print the outbox counters as JSON.
    Status,
    /// List the open requests for all of the owner's evidence contracts (signed cloud API); JSON
    /// on stdout.
    Requests,
    /// Approve a request: make the kfrag for the requester's Umbral key and respond. Relayed by
    /// default (the EC owner key signs, the cloud sends it and fronts the minimum deposit, repaid
    /// with its fee from the reward); `--direct`: the owner key sends it with the deposit, funded
    /// from the owner wallet. JSON on stdout.
    Approve {
        /// The request contract (REQC) address.
        request: String,
        /// Deposit in wei (default: the request's minimum deposit; needs `--direct`).
        #[arg(long)]
        deposit_wei: Option<String>,
        /// Send from the owner key, funded from the owner wallet (links the two on chain).
        #[arg(long)]
        direct: bool,
    },
    /// Decline an Open request (the reward returns to the requester). JSON on stdout.
    Decline {
        /// The request contract (REQC) address.
        request: String,
        /// Send from the owner key, funded from the owner wallet (links the two on chain).
        #[arg(long)]
        direct: bool,
    },
    /// Claim a Responded request after its confirm window (then `withdraw`). JSON on stdout.
    Claim {
        /// The request contract (REQC) address.
        request: String,
        /// Send from the owner key, funded from the owner wallet (links the two on chain).
        #[arg(long)]
        direct: bool,
    },
    /// Withdraw what the used owner keys are owed (rewards, deposits). Relayed by default: each
    /// share, less the relayer's fee, to its own owner key (nothing links two accidents) or to
    /// `--to`; `--direct`: to the owner wallet or `--to`. JSON on stdout.
    Withdraw {
        /// Recipient (default: relayed, each request's owner key; direct, the owner wallet).
        /// One address for several accidents links them on chain.
        #[arg(long)]
        to: Option<String>,
        /// Only this request contract (REQC).
        #[arg(long)]
        request: Option<String>,
        /// Send from the owner keys, funded from the owner wallet (links them on chain).
        #[arg(long)]
        direct: bool,
    },
    /// Serve the owner's page (requests, approve, decline, claim, withdraw) with the keystore
    /// unlocked; prints the URL to open, which carries a fresh access token.
    Admin {
        /// Address to listen on (loopback by default; a LAN address to reach it from a phone).
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: std::net::SocketAddr,
    },
    /// Print the effective configuration as TOML.
    PrintConfig,
    /// Time every stage (hash, decode, inference, seal) on one segment; JSON on stdout.
    Bench {
        /// The segment to process.
        segment: PathBuf,
        /// Accelerometer feed for the segment: `t,ax,ay,az` lines, t in seconds from the
        /// segment's start, m/s² with gravity (the motion channel's line format). Scored with
        /// the configured `motion.bars` and decided with the segment.
        #[arg(long, value_name = "FILE")]
        motion: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|e| {
        eprintln!("invalid --log filter `{}` ({e}); using `info`", cli.log);
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("dashledger-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn json(v: &impl serde::Serialize) -> Result<(), AgentError> {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    Ok(())
}

/// A tokio runtime: on the current thread for one command's requests, or with `workers` threads
/// for the daemon and the owner's page.
fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, AgentError> {
    let mut builder = match workers {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| AgentError::system("cannot start the async runtime", e))
}

/// Opens the keystore and the outbox, connects to the chain with the wallet and every used
/// owner key, and runs `f` on the connected [`owner::OwnerChain`]; `direct` overrides
/// `owner.via`.
fn owner_command<F, Fut>(config: &Config, direct: bool, f: F) -> Result<(), AgentError>
where
    F: FnOnce(owner::OwnerChain, keys::Secrets, Vec<dashledger_agent::accident::Prepared>) -> Fut,
    Fut: std::future::Future<Output = Result<(), AgentError>>,
{
    let secrets = keystore::open(config)?;
    let (used, accidents) = {
        let outbox = Outbox::open(&config.outbox_path())?;
        (
            owner::used_owner_keys(&outbox)?,
            owner::accidents_with_ec(&outbox)?,
        )
    };
    runtime(None)?.block_on(async move {
        let mut chain = owner::OwnerChain::connect(config, &secrets, used).await?;
        if direct {
            chain = chain.with_via(dashledger_agent::config::EcVia::Direct);
        }
        f(chain, secrets, accidents).await
    })
}

fn real_main(cli: Cli) -> Result<(), AgentError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let flags = Overrides {
        watch_dir: cli.watch_dir,
        state_dir: cli.state_dir,
        keystore: cli.keystore,
        cloud_url: cli.cloud_url,
        rpc_url: cli.rpc_url,
        backbone: cli.backbone,
    };
    let config = Config::load(cli.config.as_deref(), &env, &flags)?;
    match cli.command {
        Command::PrintConfig => {
            print!("{}", config.to_toml()?);
            Ok(())
        }
        Command::Init { insecure_fast_kdf } => init(&config, insecure_fast_kdf),
        Command::Bench { segment, motion } => {
            let out = dashledger_agent::bench::run(&config, &segment, motion.as_deref())?;
            println!("{out}");
            Ok(())
        }
        Command::Requests => requests(&config),
        Command::Status => status(&config),
        Command::Admin { listen } => {
            let secrets = keystore::open(&config)?;
            runtime(Some(2))?.block_on(admin::serve(config, secrets, listen))
        }
        Command::Run => {
            let secrets = keystore::open(&config)?;
            runtime(Some(2))?.block_on(daemon::run(config, secrets))
        }
        Command::Approve {
            request,
            deposit_wei,
            direct,
        } => approve(&config, &request, deposit_wei.as_deref(), direct),
        Command::Decline { request, direct } => {
            let reqc = owner::parse_address(&request, "request")?;
            owner_command(&config, direct, |chain, _, _| async move {
                json(&chain.decline(reqc).await?)
            })
        }
        Command::Claim { request, direct } => {
            let reqc = owner::parse_address(&request, "request")?;
            owner_command(&config, direct, |chain, _, _| async move {
                json(&chain.claim(reqc).await?)
            })
        }
        Command::Withdraw {
            to,
            request,
            direct,
        } => withdraw(&config, to.as_deref(), request.as_deref(), direct),
    }
}

/// `init`: creates the keystore and prints the addresses and the Umbral key.
fn init(config: &Config, insecure_fast_kdf: bool) -> Result<(), AgentError> {
    let params = if insecure_fast_kdf {
        KdfParams::INSECURE_TEST
    } else {
        KdfParams::DEFAULT
    };
    let secrets = keystore::create(config, params)?;
    let owner0 = secrets.owner_seed().owner_key(0)?;
    let umbral = secrets.umbral_secret_key()?.public_key();
    let wallet = owner::wallet_key(&secrets)?;
    let out = serde_json::json!({
        "keystore": config.keystore.display().to_string(),
        "device_address": secrets.device_address().to_string(),
        "first_owner_address": owner0.address().to_string(),
        "wallet_address": wallet.address().to_string(),
        "umbral_public_key": umbral.to_string(),
    });
    println!("{out:#}");
    Ok(())
}

/// `requests`: every used owner key's requests from the cloud's signed API, tagged with the
/// owner key's index.
fn requests(config: &Config) -> Result<(), AgentError> {
    let secrets = keystore::open(config)?;
    let outbox = Outbox::open(&config.outbox_path())?;
    let used = outbox.owner_keys_used()?;
    let deployment = Deployment::load(&config.chain.deployments)?;
    let cloud = CloudClient::new(&config.cloud)?;
    let rt = runtime(None)?;
    let mut all = Vec::new();
    for index in 0..used {
        let owner = secrets.owner_seed().owner_key(index)?;
        let list = rt.block_on(cloud.owner_requests(owner.signer(), deployment.chain_id))?;
        for r in list {
            let mut r = serde_json::to_value(r).unwrap_or_default();
            r["owner_index"] = serde_json::json!(index);
            all.push(r);
        }
    }
    json(&all)
}

/// `status`: the outbox counters and the motion channel.
fn status(config: &Config) -> Result<(), AgentError> {
    let outbox = Outbox::open(&config.outbox_path())?;
    let counts = outbox.counts()?;
    let mut out = serde_json::to_value(&counts).unwrap_or_default();
    out["motion"] = motion_status(config);
    json(&out)
}

/// `approve`: the kfrag for the request's requester, sent relayed or `--direct`.
fn approve(
    config: &Config,
    request: &str,
    deposit_wei: Option<&str>,
    direct: bool,
) -> Result<(), AgentError> {
    let reqc = owner::parse_address(request, "request")?;
    let deposit = deposit_wei
        .map(|d| owner::parse_wei(d, "--deposit-wei"))
        .transpose()?;
    owner_command(config, direct, |chain, secrets, accidents| async move {
        json(&chain.approve(&secrets, &accidents, reqc, deposit).await?)
    })
}

/// `withdraw`: what the used owner keys are owed, to `to` or each share's default recipient.
fn withdraw(
    config: &Config,
    to: Option<&str>,
    request: Option<&str>,
    direct: bool,
) -> Result<(), AgentError> {
    let to = to.map(|t| owner::parse_address(t, "--to")).transpose()?;
    let only = request
        .map(|r| owner::parse_address(r, "--request"))
        .transpose()?;
    owner_command(config, direct, |chain, _, _| async move {
        json(&chain.withdraw(to, only).await?)
    })
}

/// The motion channel as `status` shows it: not configured, or the running daemon's last report.
fn motion_status(config: &Config) -> serde_json::Value {
    if config.motion.source == "none" || config.motion.source.is_empty() {
        return serde_json::json!({
            "source": "none",
            "note": "no motion sensor configured (motion.source): decisions use frames and sound only",
        });
    }
    let path = config.motion_status_path();
    match std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<dashledger_agent::motion::MotionStatus>(&b).ok())
    {
        Some(s) => {
            let age = s.last_sample_unix.map(|t| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                ((now - t) * 10.0).round() / 10.0
            });
            let mut v = serde_json::to_value(&s).unwrap_or_default();
            v["last_sample_age_s"] = serde_json::json!(age);
            v
        }
        None => serde_json::json!({
            "source": config.motion.source,
            "note": format!("no report from a running daemon yet ({} is missing)", path.display()),
        }),
    }
}
