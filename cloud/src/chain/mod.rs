//! Chain access: contract bindings (the protocol crate's, from `protocol/abi`), the deployment
//! file, and a signing provider for the verifier account.

pub mod binding;
pub mod indexer;
pub mod requests;
pub mod verifier;

use std::path::Path;

use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use serde::Deserialize;

use crate::config::{Config, Secret};
use crate::error::CloudError;

/// Contract bindings: the protocol crate's [`dashledger_protocol::bindings`] (generated from the
/// forge artifacts in `protocol/abi`), re-exported under the names the cloud uses.
pub mod bindings {
    pub use dashledger_protocol::bindings::evidence_factory::IEvidenceFactory;
    pub use dashledger_protocol::bindings::{
        EvidenceContract, EvidenceFactory, RequestContract, RequestFactory, ResponseContract,
        SearchContract,
    };
}

/// `deployments/<chainId>.json`, as the deploy script writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id.
    pub chain_id: u64,
    /// EvidenceFactory.
    pub evidence_factory: Address,
    /// SearchContract.
    pub search_contract: Address,
    /// RequestFactory.
    pub request_factory: Address,
    /// ResponseContract.
    pub response_contract: Address,
    /// The verifier account fixed at deployment.
    pub verifier: Address,
    /// First block worth indexing.
    #[serde(default)]
    pub start_block: u64,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &Path) -> Result<Self, CloudError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CloudError::Config(format!(
                "cannot read deployment file {}: {e}",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            CloudError::Config(format!(
                "deployment file {} is malformed: {e}",
                path.display()
            ))
        })
    }
}

/// Everything the chain-facing tasks need.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Provider that signs with the verifier key.
    pub provider: DynProvider,
    /// The verifier/relayer account.
    pub account: Address,
    /// Contract addresses.
    pub deployment: Deployment,
    /// Confirmations the indexer waits for.
    pub confirmations: u64,
}

impl Chain {
    /// Connects from the configuration; `None` when `chain.rpc_url` is empty (chain features off).
    pub async fn from_config(cfg: &Config) -> Result<Option<Self>, CloudError> {
        if cfg.chain.rpc_url.is_empty() {
            return Ok(None);
        }
        let key_file = cfg.chain.signer_key_file.as_ref().ok_or_else(|| {
            CloudError::Config(
                "chain.rpc_url is set but chain.signer_key_file is not (the verifier key)".into(),
            )
        })?;
        let key = Secret::from_file(key_file)?;
        let signer: PrivateKeySigner = key.expose().parse().map_err(|_| {
            CloudError::Config(format!(
                "{} does not hold a hex secp256k1 private key",
                key_file.display()
            ))
        })?;
        let deployment_file = cfg.deployment_file();
        let deployment = Deployment::load(&deployment_file)?;
        Self::connect(
            &cfg.chain.rpc_url,
            signer,
            deployment,
            cfg.chain.confirmations,
            cfg.chain.chain_id,
        )
        .await
        .map(Some)
    }

    /// Connects with an explicit key and deployment; checks chain id and verifier account.
    pub async fn connect(
        rpc_url: &str,
        signer: PrivateKeySigner,
        deployment: Deployment,
        confirmations: u64,
        expected_chain_id: u64,
    ) -> Result<Self, CloudError> {
        let url = rpc_url.parse().map_err(|e| {
            CloudError::Config(format!("chain.rpc_url '{rpc_url}' is not a URL: {e}"))
        })?;
        let account = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(url)
            .erased();
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| CloudError::Chain(format!("cannot reach {rpc_url}: {e}")))?;
        if chain_id != expected_chain_id || chain_id != deployment.chain_id {
            return Err(CloudError::Config(format!(
                "chain id mismatch: node says {chain_id}, chain.chain_id is {expected_chain_id}, deployment is for {}",
                deployment.chain_id
            )));
        }
        if account != deployment.verifier {
            tracing::warn!(%account, verifier = %deployment.verifier, "signer key is not the deployment's verifier: verify/reject/resolve will revert");
        }
        Ok(Self {
            provider,
            account,
            deployment,
            confirmations,
        })
    }
}
