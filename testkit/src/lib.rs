//! Test set-up shared by the agent's, the cloud's and the requester's integration tests (dev-only,
//! never published): [`Chain`] starts anvil (port 0) and deploys the real contracts (bytecode from
//! the forge artifacts in `protocol/abi`) and writes the deployment file and the verifier key;
//! [`Cloud`] runs the real cloud server in-process against that chain (or without one). Everything
//! panics with a message naming what failed: these are test fixtures.

use std::path::PathBuf;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use dashledger_cloud::RunningServer;
use dashledger_protocol::bindings::{EvidenceFactory, RequestFactory};

/// The repository's anvil (`npm install` in the repo root puts it there).
pub const ANVIL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../node_modules/.bin/anvil");
/// Chain id of anvil.
pub const CHAIN_ID: u64 = 31337;
/// Operator (admin) token of the cloud [`Cloud::start`] runs.
pub const ADMIN_TOKEN: &str = "dashledger-testkit-admin-token-0123456789";

/// RequestFactory parameters of a test deployment.
#[derive(Debug, Clone, Copy)]
pub struct ChainParams {
    /// Minimum owner deposit (wei).
    pub min_deposit: U256,
    /// Response window (seconds).
    pub response_window: u64,
    /// Confirm window (seconds).
    pub confirm_window: u64,
    /// Resolve window (seconds).
    pub resolve_window: u64,
}

impl Default for ChainParams {
    /// 0.01 ETH deposit; 1 day to respond, 2 days to confirm, 3 days to resolve.
    fn default() -> Self {
        Self {
            min_deposit: U256::from(10_000_000_000_000_000u64),
            response_window: 86_400,
            confirm_window: 172_800,
            resolve_window: 259_200,
        }
    }
}

/// Anvil with the contracts deployed (by account 0; account 1 is the verifier), the deployment
/// file and the verifier key file in a temporary directory. Dropping it stops anvil.
#[derive(Debug)]
pub struct Chain {
    /// The anvil process.
    pub anvil: AnvilInstance,
    /// A provider signing with anvil account 0 (the deployer).
    pub deployer: DynProvider,
    /// The verifier's key (anvil account 1).
    pub verifier_key: PrivateKeySigner,
    /// EvidenceFactory address.
    pub evidence_factory: Address,
    /// SearchContract address.
    pub search: Address,
    /// RequestFactory address.
    pub request_factory: Address,
    /// ResponseContract address.
    pub response_contract: Address,
    /// The RequestFactory parameters deployed.
    pub params: ChainParams,
    /// The deployment file (`<dir>/31337.json`, the fields `scripts/devnet` writes).
    pub deployment_file: PathBuf,
    /// The verifier's key file (`0x` hex).
    pub verifier_key_file: PathBuf,
    /// Temporary directory holding the files above; tests may put their own files in it.
    pub dir: tempfile::TempDir,
}

impl Chain {
    /// Starts anvil and deploys with [`ChainParams::default`].
    pub async fn start() -> Self {
        Self::start_with(ChainParams::default()).await
    }

    /// Starts anvil and deploys the contracts with `params`.
    pub async fn start_with(params: ChainParams) -> Self {
        let anvil = Anvil::at(ANVIL)
            .arg("--host")
            .arg("127.0.0.1")
            .port(0u16)
            .try_spawn()
            .unwrap_or_else(|e| panic!("anvil starts from {ANVIL} (npm install ran?): {e}"));
        let key = |i: usize| PrivateKeySigner::from(anvil.keys()[i].clone());
        let deployer = provider_at(&anvil, key(0));
        let verifier_key = key(1);
        let ef = EvidenceFactory::deploy(&deployer, verifier_key.address())
            .await
            .expect("deploy EvidenceFactory");
        let search = ef.search().call().await.expect("EvidenceFactory.search");
        let rf = RequestFactory::deploy(
            &deployer,
            search,
            verifier_key.address(),
            params.min_deposit,
            params.response_window,
            params.confirm_window,
            params.resolve_window,
        )
        .await
        .expect("deploy RequestFactory");
        let response_contract = rf
            .responseContract()
            .call()
            .await
            .expect("RequestFactory.responseContract");
        let (evidence_factory, request_factory) = (*ef.address(), *rf.address());
        let dir = tempfile::tempdir().expect("temporary directory");
        let chain = Self {
            deployment_file: dir.path().join(format!("{CHAIN_ID}.json")),
            verifier_key_file: dir.path().join("verifier.key"),
            anvil,
            deployer,
            verifier_key,
            evidence_factory,
            search,
            request_factory,
            response_contract,
            params,
            dir,
        };
        std::fs::write(
            &chain.deployment_file,
            serde_json::to_string_pretty(&chain.deployment_json()).expect("deployment JSON"),
        )
        .expect("write the deployment file");
        std::fs::write(&chain.verifier_key_file, key_hex(&chain.verifier_key))
            .expect("write the verifier key file");
        chain
    }

    /// The deployment file's content (`chainId`, contract addresses, `verifier`, `startBlock`).
    pub fn deployment_json(&self) -> serde_json::Value {
        serde_json::json!({
            "chainId": CHAIN_ID,
            "evidenceFactory": self.evidence_factory.to_string(),
            "searchContract": self.search.to_string(),
            "requestFactory": self.request_factory.to_string(),
            "responseContract": self.response_contract.to_string(),
            "verifier": self.verifier_key.address().to_string(),
            "startBlock": 0,
        })
    }

    /// anvil's HTTP endpoint.
    pub fn endpoint(&self) -> String {
        self.anvil.endpoint()
    }

    /// Funded anvil account `i`.
    pub fn key(&self, i: usize) -> PrivateKeySigner {
        PrivateKeySigner::from(self.anvil.keys()[i].clone())
    }

    /// A provider signing with `key`.
    pub fn provider_for(&self, key: &PrivateKeySigner) -> DynProvider {
        provider_at(&self.anvil, key.clone())
    }

    /// A provider signing with anvil account `i`.
    pub fn provider(&self, i: usize) -> DynProvider {
        self.provider_for(&self.key(i))
    }

    /// Sends `wei` from anvil account 0 to `to` and waits for the receipt.
    pub async fn fund(&self, to: Address, wei: U256) {
        let tx = TransactionRequest::default().with_to(to).with_value(wei);
        let r = self
            .deployer
            .send_transaction(tx)
            .await
            .expect("send the funding transaction")
            .get_receipt()
            .await
            .expect("funding receipt");
        assert!(r.status(), "funding {to} with {wei} wei reverted");
    }

    /// Advances anvil's clock by `secs` and mines a block.
    pub async fn increase_time(&self, secs: u64) {
        let _: serde_json::Value = self
            .deployer
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = self
            .deployer
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

fn provider_at(anvil: &AnvilInstance, key: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(key))
        .connect_http(anvil.endpoint_url())
        .erased()
}

/// Sends a contract call as a transaction, waits for its receipt and asserts it succeeded.
pub async fn mined<P: Provider, D: CallDecoder>(call: CallBuilder<P, D>) -> TransactionReceipt {
    let receipt = call
        .send()
        .await
        .expect("send the transaction")
        .get_receipt()
        .await
        .expect("transaction receipt");
    assert!(
        receipt.status(),
        "transaction {} reverted",
        receipt.transaction_hash
    );
    receipt
}

/// A key as `0x` + hex (key files, `DASHLEDGER_PRIVATE_KEY`).
pub fn key_hex(key: &PrivateKeySigner) -> String {
    format!("0x{}", hex::encode(key.to_bytes()))
}

/// The real cloud server, in-process, on `127.0.0.1:0` against a [`Chain`] (verifier + relayer
/// on, 0 confirmations, 200 ms polling) or without one ([`Cloud::start_without_chain`]),
/// operator token [`ADMIN_TOKEN`].
#[derive(Debug)]
pub struct Cloud {
    /// The running server (`None` after [`Cloud::shutdown`]).
    pub server: Option<RunningServer>,
    /// The server's `data_dir`.
    pub data_dir: PathBuf,
    /// The operator token.
    pub admin_token: String,
    _dir: tempfile::TempDir,
}

impl Cloud {
    /// Starts the cloud; `extra_sets` are further `key=value` config overrides.
    pub async fn start(chain: &Chain, extra_sets: &[&str]) -> Self {
        let chain_sets = [
            format!("chain.rpc_url={}", chain.endpoint()),
            format!("chain.deployment_file={}", chain.deployment_file.display()),
            format!(
                "chain.signer_key_file={}",
                chain.verifier_key_file.display()
            ),
            "chain.confirmations=0".to_string(),
            "chain.poll_interval_ms=200".to_string(),
        ];
        Self::start_sets(&chain_sets, extra_sets).await
    }

    /// Starts the cloud without a chain (no verifier, no relayer: records, uploads and the
    /// operator API only); `extra_sets` are further `key=value` config overrides, applied last
    /// (e.g. `listen=127.0.0.1:<port>` for a port chosen before the cloud starts).
    pub async fn start_without_chain(extra_sets: &[&str]) -> Self {
        Self::start_sets(&[], extra_sets).await
    }

    async fn start_sets(chain_sets: &[String], extra_sets: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data_dir = dir.path().join("cloud");
        let mut sets = vec![
            "listen=127.0.0.1:0".to_string(),
            format!("data_dir={}", data_dir.display()),
        ];
        sets.extend_from_slice(chain_sets);
        sets.extend(extra_sets.iter().map(|s| (*s).to_string()));
        let cfg =
            dashledger_cloud::config::Config::load(None, Vec::new(), &sets).expect("cloud config");
        let server = dashledger_cloud::spawn(
            cfg,
            vec![("DASHLEDGER_CLOUD_ADMIN_TOKEN".into(), ADMIN_TOKEN.into())],
        )
        .await
        .expect("the cloud starts");
        Self {
            server: Some(server),
            data_dir,
            admin_token: ADMIN_TOKEN.to_string(),
            _dir: dir,
        }
    }

    /// The cloud's base URL.
    pub fn url(&self) -> String {
        self.server.as_ref().expect("the cloud is running").url()
    }

    /// The operator approves a device (`address` as `0x` hex).
    pub async fn approve_device(&self, address: &serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/admin/devices", self.url()))
            .bearer_auth(&self.admin_token)
            .json(&serde_json::json!({"address": address, "approve": true}))
            .send()
            .await
            .expect("POST /v1/admin/devices");
        let status = r.status();
        assert!(
            status.is_success(),
            "approving device {address}: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// An operator `GET` (`path` such as `/v1/admin/alarms`); asserts success, returns the JSON.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.url()))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "GET {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// Graceful shutdown; asserts it ends cleanly.
    pub async fn shutdown(&mut self) {
        self.server
            .take()
            .expect("the cloud is running")
            .shutdown()
            .await
            .expect("the cloud shuts down cleanly");
    }
}
