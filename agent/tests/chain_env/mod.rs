//! Real chain + cloud for the agent's on-chain tests: anvil (port 0) with the forge-compiled
//! contracts deployed by alloy, the real cloud server (verifier + relayer) and an agent config
//! pointing at both, with an approved device and a funded owner wallet.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use dashledger_agent::accident::Prepared;
use dashledger_agent::outbox::Outbox;
use dashledger_protocol::bindings::EvidenceContract;
use dashledger_testkit::{Chain, Cloud};

use crate::common;

/// Minimum owner deposit of the test RequestFactory.
pub const MIN_DEPOSIT: u64 = 10_000_000_000_000_000;
/// Confirm window of the test RequestFactory (seconds).
pub const CONFIRM_WINDOW: u64 = 172_800;

/// Everything a test needs; dropping it stops the cloud and anvil.
pub struct Env {
    pub cloud: Cloud,
    pub chain: Chain,
    pub deployer: DynProvider,
    pub factory: Address,
    pub request_factory: Address,
    pub response_contract: Address,
    pub root: tempfile::TempDir,
    pub agent_root: PathBuf,
    pub config: PathBuf,
    pub init: serde_json::Value,
}

impl Env {
    /// Starts anvil, deploys, starts the cloud, writes the agent config (`extra` TOML appended:
    /// it may add keys to `[chain]`, which is written last) and approves the device.
    pub async fn start(extra_top: &str, extra_chain: &str) -> Self {
        Self::start_with(extra_top, extra_chain, true).await
    }

    /// As [`Env::start`]; without `rpc` the agent gets no `chain.rpc_url` and relies on the
    /// cloud's relayer alone (a device without an RPC endpoint).
    pub async fn start_with(extra_top: &str, extra_chain: &str, rpc: bool) -> Self {
        let chain = Chain::start().await;
        assert_eq!(chain.params.min_deposit, U256::from(MIN_DEPOSIT));
        assert_eq!(chain.params.confirm_window, CONFIRM_WINDOW);
        let cloud = Cloud::start(&chain, &[]).await;
        let root = tempfile::tempdir().unwrap();
        let agent_root = root.path().join("agent");
        std::fs::create_dir_all(&agent_root).unwrap();
        let config = common::setup(
            &agent_root,
            &format!(
                "{extra_top}\n[cloud]\nurl = \"{}\"\nupload_chunk_bytes = 300000\n[detect]\nenabled = false\n\
                 [retry]\nbase_ms = 100\nmax_ms = 500\n[chain]\ndeployments = {:?}\n{}{extra_chain}\n",
                cloud.url(),
                chain.deployment_file,
                if rpc {
                    format!("rpc_url = \"{}\"\n", chain.endpoint())
                } else {
                    String::new()
                },
            ),
        );
        let init: serde_json::Value =
            serde_json::from_slice(&std::fs::read(agent_root.join("init.json")).unwrap()).unwrap();
        cloud.approve_device(&init["device_address"]).await;
        Self {
            deployer: chain.deployer.clone(),
            factory: chain.evidence_factory,
            request_factory: chain.request_factory,
            response_contract: chain.response_contract,
            cloud,
            chain,
            root,
            agent_root,
            config,
            init,
        }
    }

    /// The cloud's base URL.
    pub fn cloud_url(&self) -> String {
        self.cloud.url()
    }

    /// An anvil account.
    pub fn key(&self, i: usize) -> PrivateKeySigner {
        self.chain.key(i)
    }

    /// A provider signing with anvil account `i`.
    pub fn provider_for(&self, i: usize) -> DynProvider {
        self.chain.provider(i)
    }

    /// The owner wallet address `init` printed.
    pub fn wallet(&self) -> Address {
        self.init["wallet_address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Sends `wei` from anvil account 0 to `to`.
    pub async fn fund(&self, to: Address, wei: U256) {
        self.chain.fund(to, wei).await;
    }

    /// Copies a crash minute into the watch dir as the segment being recorded, presses the event
    /// button, runs the daemon until the accident is done and the EC is verified and listed.
    /// Returns the stored accident and the segment path.
    pub async fn accident(&self) -> (Prepared, PathBuf) {
        let (_, seg) = crash_segment(&self.agent_root);
        let daemon = common::Daemon::start(&self.config);
        let prepared = self.wait_accident_done(1).await;
        assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");
        self.wait_verified_and_listed(&prepared).await;
        (prepared, seg)
    }

    /// Waits until `n` accidents are done; returns the first one's detail.
    pub async fn wait_accident_done(&self, n: i64) -> Prepared {
        wait_accident_done(&self.outbox_path(), n).await
    }

    /// Waits until the EC is Verified on chain and listed by the cloud.
    pub async fn wait_verified_and_listed(&self, prepared: &Prepared) {
        wait_verified_and_listed(&self.deployer, &self.cloud_url(), prepared).await;
    }

    /// The agent's outbox.
    pub fn outbox_path(&self) -> PathBuf {
        self.agent_root.join("state/outbox.sqlite")
    }

    /// Runs an agent command; returns (success, stdout JSON or Null, stderr).
    pub fn agent(&self, args: &[&str]) -> (bool, serde_json::Value, String) {
        run_agent(&self.config, args)
    }

    /// Advances anvil's clock.
    pub async fn increase_time(&self, secs: u64) {
        self.chain.increase_time(secs).await;
    }
}

/// Runs an agent command; returns (success, stdout JSON or Null, stderr).
pub fn run_agent(config: &Path, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = common::agent(config).args(args).output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Copies a crash minute into `agent_root/watch` as the segment being recorded (started two
/// minutes ago) and presses the event button. Returns the segment's start and path.
pub fn crash_segment(agent_root: &Path) -> (dashledger_protocol::record::SegmentTime, PathBuf) {
    event_segment(agent_root, "crash_cctv.mp4")
}

/// Copies a minute of the test video `name` into the watch dir as the segment being recorded
/// (started two minutes ago) and presses the event button.
pub fn event_segment(
    agent_root: &Path,
    name: &str,
) -> (dashledger_protocol::record::SegmentTime, PathBuf) {
    let watch = agent_root.join("watch");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = dashledger_protocol::record::SegmentTime::from_unix(now - 120).unwrap();
    let seg = watch.join(format!("{start}.mp4"));
    std::fs::copy(common::minute_of(name), &seg).unwrap();
    std::fs::write(watch.join("EVENT"), b"").unwrap();
    (start, seg)
}

/// Waits until `n` accidents are done; returns the first one's detail.
pub async fn wait_accident_done(outbox_path: &Path, n: i64) -> Prepared {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(Instant::now() < deadline, "accident not done in time");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(o) = Outbox::open(outbox_path) else {
            continue;
        };
        if o.counts().unwrap().accidents_done >= n {
            return serde_json::from_str(&o.accident_detail_of_done().unwrap()).unwrap();
        }
    }
}

/// Waits until the EC is Verified on chain and listed by the cloud.
pub async fn wait_verified_and_listed(
    deployer: &DynProvider,
    cloud_url: &str,
    prepared: &Prepared,
) {
    let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
    let contract = EvidenceContract::new(ec, deployer);
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let status = contract.status().call().await.unwrap();
        if status == 1 {
            break;
        }
        assert!(
            status == 0,
            "EC rejected: {:?}",
            contract.rejectReason().call().await.unwrap()
        );
        assert!(Instant::now() < wait, "EC not verified in time");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        contract.owner().call().await.unwrap().to_string(),
        prepared.owner
    );
    let http = reqwest::Client::new();
    let wait = Instant::now() + Duration::from_secs(60);
    loop {
        let clip = http
            .get(format!("{cloud_url}/v1/clips/{ec}"))
            .send()
            .await
            .unwrap();
        if clip.status() == 200 {
            break;
        }
        assert!(Instant::now() < wait, "EC not listed: {}", clip.status());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
