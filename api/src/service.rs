//! Health, readiness and the web page's `/config.json`.

use serde::{Deserialize, Serialize};

/// `GET /healthz`, and `GET /readyz` when ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` (healthz) or `ready` (readyz).
    pub status: String,
}

/// `GET /readyz` when not ready (503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotReady {
    /// `not ready`.
    pub status: String,
    /// What is wrong (database, schema version, blob storage).
    pub problems: Vec<String>,
}

/// `GET /config.json`: what the web page (`web/src/config.js`) reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageConfig {
    /// Chain id of the deployment.
    pub chain_id: u64,
    /// Human name of the chain.
    pub chain_name: String,
    /// First block worth reading logs from (the deployment's `startBlock`).
    pub from_block: u64,
    /// Contract addresses (checksummed).
    pub contracts: PageContracts,
    /// Base URL of the cloud API; empty = the origin that served the page.
    pub cloud_url: String,
}

/// The contract addresses of [`PageConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageContracts {
    /// EvidenceFactory.
    pub evidence_factory: String,
    /// SearchContract.
    pub search_contract: String,
    /// RequestFactory.
    pub request_factory: String,
    /// ResponseContract.
    pub response_contract: String,
}
