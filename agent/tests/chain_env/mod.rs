//! Real chain + cloud for the agent's on-chain tests: anvil (port 0) with the forge-compiled
//! contracts deployed by alloy, the real cloud server (verifier + relayer) and an agent config
//! pointing at both, with an approved device and a funded owner wallet.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use dashledger_agent::accident::Prepared;
use dashledger_agent::outbox::Outbox;
use dashledger_protocol::bindings::{EvidenceContract, EvidenceFactory, RequestFactory};

use crate::common;

const ANVIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/.bin/anvil");
const ADMIN: &str = "agent-chain-env-admin-token-0123456789";

/// Minimum owner deposit of the test RequestFactory.
pub const MIN_DEPOSIT: u64 = 10_000_000_000_000_000;
/// Confirm window of the test RequestFactory (seconds).
pub const CONFIRM_WINDOW: u64 = 172_800;

/// Everything a test needs; dropping it stops anvil.
pub struct Env {
    pub anvil: AnvilInstance,
    pub deployer: DynProvider,
    pub factory: Address,
    pub request_factory: Address,
    pub response_contract: Address,
    pub server: Option<dashledger_cloud::RunningServer>,
    pub root: tempfile::TempDir,
    pub agent_root: PathBuf,
    pub config: PathBuf,
    pub init: serde_json::Value,
}

impl Env {
    /// Starts anvil, deploys, starts the cloud, writes the agent config (`extra` TOML appended:
    /// it may add keys to `[chain]`, which is written last) and approves the device.
    pub async fn start(extra_top: &str, extra_chain: &str) -> Self {
        let anvil = Anvil::at(ANVIL)
            .arg("--host")
            .arg("127.0.0.1")
            .port(0u16)
            .try_spawn()
            .expect("anvil starts");
        let key = |i: usize| PrivateKeySigner::from(anvil.keys()[i].clone());
        let deployer = ProviderBuilder::new()
            .wallet(EthereumWallet::from(key(0)))
            .connect_http(anvil.endpoint_url())
            .erased();
        let verifier = key(1);
        let factory = EvidenceFactory::deploy(&deployer, verifier.address())
            .await
            .unwrap();
        let search = factory.search().call().await.unwrap();
        let rf = RequestFactory::deploy(
            &deployer,
            search,
            verifier.address(),
            U256::from(MIN_DEPOSIT),
            86_400,
            CONFIRM_WINDOW,
            259_200,
        )
        .await
        .unwrap();
        let response = rf.responseContract().call().await.unwrap();
        let (factory, rf) = (*factory.address(), *rf.address());
        let root = tempfile::tempdir().unwrap();
        let deployment = root.path().join("deployment.json");
        std::fs::write(
            &deployment,
            serde_json::json!({
                "chainId": 31337, "evidenceFactory": factory.to_string(), "searchContract": search.to_string(),
                "requestFactory": rf.to_string(), "responseContract": response.to_string(),
                "verifier": verifier.address().to_string(), "startBlock": 0,
            })
            .to_string(),
        )
        .unwrap();
        let verifier_key = root.path().join("verifier.key");
        std::fs::write(
            &verifier_key,
            format!("0x{}", hex::encode(verifier.to_bytes())),
        )
        .unwrap();
        let data = root.path().join("cloud");
        let cfg = dashledger_cloud::config::Config::load(
            None,
            Vec::new(),
            &[
                "listen=127.0.0.1:0".to_string(),
                format!("data_dir={}", data.display()),
                format!("chain.rpc_url={}", anvil.endpoint()),
                format!("chain.deployment_file={}", deployment.display()),
                format!("chain.signer_key_file={}", verifier_key.display()),
                "chain.confirmations=0".to_string(),
                "chain.poll_interval_ms=200".to_string(),
            ],
        )
        .unwrap();
        let server = dashledger_cloud::spawn(
            cfg,
            vec![("DASHLEDGER_CLOUD_ADMIN_TOKEN".into(), ADMIN.into())],
        )
        .await
        .unwrap();
        let agent_root = root.path().join("agent");
        std::fs::create_dir_all(&agent_root).unwrap();
        let config = common::setup(
            &agent_root,
            &format!(
                "{extra_top}\n[cloud]\nurl = \"{}\"\nupload_chunk_bytes = 300000\n[detect]\nenabled = false\n\
                 [retry]\nbase_ms = 100\nmax_ms = 500\n[chain]\ndeployments = {:?}\nrpc_url = \"{}\"\n{extra_chain}\n",
                server.url(),
                deployment,
                anvil.endpoint(),
            ),
        );
        let init: serde_json::Value =
            serde_json::from_slice(&std::fs::read(agent_root.join("init.json")).unwrap()).unwrap();
        let http = reqwest::Client::new();
        let r = http
            .post(format!("{}/v1/admin/devices", server.url()))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"address": init["device_address"], "approve": true}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        Self {
            anvil,
            deployer,
            factory,
            request_factory: rf,
            response_contract: response,
            server: Some(server),
            root,
            agent_root,
            config,
            init,
        }
    }

    /// The cloud's base URL.
    pub fn cloud_url(&self) -> String {
        self.server.as_ref().unwrap().url()
    }

    /// An anvil account.
    pub fn key(&self, i: usize) -> PrivateKeySigner {
        PrivateKeySigner::from(self.anvil.keys()[i].clone())
    }

    /// A provider signing with anvil account `i`.
    pub fn provider_for(&self, i: usize) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.key(i)))
            .connect_http(self.anvil.endpoint_url())
            .erased()
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
        let tx = TransactionRequest::default().with_to(to).with_value(wei);
        let r = self
            .deployer
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status());
    }

    /// Copies a crash minute into the watch dir as the segment being recorded, presses the event
    /// button, runs the daemon until the accident is done and the EC is verified and listed.
    /// Returns the stored accident and the segment path.
    pub async fn accident(&self) -> (Prepared, PathBuf) {
        let watch = self.agent_root.join("watch");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let start = dashledger_protocol::record::SegmentTime::from_unix(now - 120).unwrap();
        let seg = watch.join(format!("{start}.mp4"));
        std::fs::copy(common::minute_of("crash_cctv.mp4"), &seg).unwrap();
        std::fs::write(watch.join("EVENT"), b"").unwrap();
        let daemon = common::Daemon::start(&self.config);
        let prepared = self.wait_accident_done(1).await;
        assert!(daemon.stop(), "SIGTERM stops the daemon cleanly");
        self.wait_verified_and_listed(&prepared).await;
        (prepared, seg)
    }

    /// Waits until `n` accidents are done; returns the first one's detail.
    pub async fn wait_accident_done(&self, n: i64) -> Prepared {
        let outbox_path = self.outbox_path();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            assert!(Instant::now() < deadline, "accident not done in time");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let Ok(o) = Outbox::open(&outbox_path) else {
                continue;
            };
            if o.counts().unwrap().accidents_done >= n {
                return serde_json::from_str(&o.accident_detail_of_done().unwrap()).unwrap();
            }
        }
    }

    /// Waits until the EC is Verified on chain and listed by the cloud.
    pub async fn wait_verified_and_listed(&self, prepared: &Prepared) {
        let ec: Address = prepared.ec_address.as_deref().unwrap().parse().unwrap();
        let contract = EvidenceContract::new(ec, &self.deployer);
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
                .get(format!("{}/v1/clips/{ec}", self.cloud_url()))
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
        let _: serde_json::Value = self
            .deployer
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .unwrap();
        let _: serde_json::Value = self
            .deployer
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
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
