//! Client for the dashledger cloud API (the routes in `cloud/src/api`).

use std::time::Duration;

use crate::config::CloudConfig;
use crate::error::AgentError;
use crate::outbox::QueuedRecord;

/// Most records sent in one batch.
pub const MAX_BATCH: usize = 64;

/// Whether a failure may go away by itself (network, 5xx, 429) or needs an operator (4xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Unreachable, timed out, 5xx, 429.
    Transient,
    /// The cloud refused the request (e.g. device not approved).
    Refused,
}

/// The cloud's answer to a batch (the API's type).
pub use dashledger_api::evidence::IngestResult as IngestSummary;

/// HTTP client for the cloud.
#[derive(Debug, Clone)]
pub struct CloudClient {
    base: String,
    http: reqwest::Client,
}

impl CloudClient {
    /// A client for `config.url`.
    pub fn new(config: &CloudConfig) -> Result<Self, AgentError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_secs.clamp(1, 10)))
            .user_agent(concat!("dashledger-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AgentError::Cloud(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            base: config.url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// Sends signed records (in chain order) as one binary batch to `POST /v1/evidence`.
    /// Re-sending is idempotent on the cloud side.
    pub async fn send_records(
        &self,
        records: &[QueuedRecord],
    ) -> Result<IngestSummary, (Failure, AgentError)> {
        let mut body = Vec::with_capacity(records.len() * 161);
        for r in records {
            body.extend_from_slice(&r.record);
            body.extend_from_slice(&r.signature);
        }
        let url = format!("{}/v1/evidence", self.base);
        let resp = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                (
                    Failure::Transient,
                    AgentError::Cloud(format!("POST {url}: {e}")),
                )
            })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                (
                    Failure::Transient,
                    AgentError::Cloud(format!("POST {url}: unexpected answer ({e}): {text}")),
                )
            });
        }
        let class = if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408
        {
            Failure::Transient
        } else {
            Failure::Refused
        };
        Err((
            class,
            AgentError::Cloud(format!(
                "POST {url}: {status}: {}",
                text.chars().take(500).collect::<String>()
            )),
        ))
    }
}

/// The deployment file (`deployments/<chainId>.json`, written by `scripts/devnet`): the fields
/// the agent needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id.
    pub chain_id: u64,
    /// EvidenceFactory address.
    pub evidence_factory: alloy::primitives::Address,
    /// RequestFactory address (owner commands check REQCs against it).
    #[serde(default)]
    pub request_factory: Option<alloy::primitives::Address>,
    /// ResponseContract address (owner commands read requests from it).
    #[serde(default)]
    pub response_contract: Option<alloy::primitives::Address>,
    /// First block to scan for events.
    #[serde(default)]
    pub start_block: u64,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: &std::path::Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AgentError::io("cannot read deployment file", path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            AgentError::Config(format!(
                "deployment file {} is not valid: {e}",
                path.display()
            ))
        })
    }
}

/// An open upload session as the cloud reports it (the API's type).
pub use dashledger_api::uploads::Upload as UploadStatus;

impl CloudClient {
    async fn signed(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, (Failure, AgentError)> {
        use dashledger_protocol::auth::{RequestParts, sign_request};
        let expires = crate::outbox::now_ms() as u64 / 1000 + 120;
        let parts = RequestParts {
            chain_id,
            method: method.as_str(),
            path,
            body: &body,
        };
        let headers = sign_request(device, &parts, expires)
            .map_err(|e| (Failure::Refused, AgentError::Protocol(e)))?;
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers.to_pairs() {
            req = req.header(k, v);
        }
        req.body(body).send().await.map_err(|e| {
            (
                Failure::Transient,
                AgentError::Cloud(format!("{method} {url}: {e}")),
            )
        })
    }

    async fn json_or_error(
        what: &str,
        resp: reqwest::Response,
    ) -> Result<serde_json::Value, (Failure, AgentError, Option<String>)> {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                (
                    Failure::Transient,
                    AgentError::Cloud(format!("{what}: unexpected answer ({e}): {text}")),
                    None,
                )
            });
        }
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .and_then(|e| e.get("code").or(Some(e)))
                    .and_then(|c| c.as_str())
                    .map(String::from)
            });
        let class = if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408
        {
            Failure::Transient
        } else {
            Failure::Refused
        };
        Err((
            class,
            AgentError::Cloud(format!(
                "{what}: {status}: {}",
                text.chars().take(500).collect::<String>()
            )),
            code,
        ))
    }

    /// POSTs `body` as JSON, signed by the device key, and returns the JSON answer (`what` names
    /// the call in errors).
    async fn post_signed_json(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        path: &str,
        what: &str,
        body: &impl serde::Serialize,
    ) -> Result<serde_json::Value, (Failure, AgentError, Option<String>)> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let resp = self
            .signed(device, chain_id, reqwest::Method::POST, path, bytes)
            .await
            .map_err(|(f, e)| (f, e, None))?;
        Self::json_or_error(what, resp).await
    }

    /// `POST /v1/relay/evidence`: the cloud submits the owner-signed EC creation. Returns the EC
    /// address.
    pub async fn relay_evidence(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        body: &dashledger_api::relay::RelayRequest,
    ) -> Result<String, (Failure, AgentError, Option<String>)> {
        let v = self
            .post_signed_json(device, chain_id, "/v1/relay/evidence", "relay", body)
            .await?;
        serde_json::from_value::<dashledger_api::relay::Relayed>(v.clone())
            .map(|r| r.ec_address)
            .map_err(|e| {
                (
                    Failure::Transient,
                    AgentError::Cloud(format!("relay answer ({e}): {v}")),
                    None,
                )
            })
    }

    /// `POST /v1/uploads` (opens, or resumes the open session for this EC).
    pub async fn open_upload(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        body: &dashledger_api::uploads::CreateUpload,
    ) -> Result<UploadStatus, (Failure, AgentError, Option<String>)> {
        let v = self
            .post_signed_json(device, chain_id, "/v1/uploads", "open upload", body)
            .await?;
        serde_json::from_value(v.clone()).map_err(|e| {
            (
                Failure::Transient,
                AgentError::Cloud(format!("upload answer ({e}): {v}")),
                None,
            )
        })
    }

    async fn put(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<serde_json::Value, (Failure, AgentError, Option<String>)> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                (
                    Failure::Transient,
                    AgentError::Cloud(format!("PUT {url}: {e}")),
                    None,
                )
            })?;
        Self::json_or_error(&format!("PUT {path}"), resp).await
    }

    /// `PUT /v1/uploads/{id}/chunks/{offset}`.
    pub async fn put_chunk(
        &self,
        id: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), (Failure, AgentError, Option<String>)> {
        self.put(
            &format!("/v1/uploads/{id}/chunks/{offset}"),
            "application/octet-stream",
            bytes,
        )
        .await
        .map(drop)
    }

    /// `PUT /v1/uploads/{id}/thumbnails/{first|last}`.
    pub async fn put_thumbnail(
        &self,
        id: &str,
        which: &str,
        jpeg: Vec<u8>,
    ) -> Result<(), (Failure, AgentError, Option<String>)> {
        self.put(
            &format!("/v1/uploads/{id}/thumbnails/{which}"),
            "image/jpeg",
            jpeg,
        )
        .await
        .map(drop)
    }

    /// `POST /v1/uploads/{id}/complete`.
    pub async fn complete_upload(
        &self,
        id: &str,
    ) -> Result<(), (Failure, AgentError, Option<String>)> {
        let url = format!("{}/v1/uploads/{id}/complete", self.base);
        let resp = self.http.post(&url).send().await.map_err(|e| {
            (
                Failure::Transient,
                AgentError::Cloud(format!("POST {url}: {e}")),
                None,
            )
        })?;
        Self::json_or_error("complete upload", resp).await.map(drop)
    }
}

impl CloudClient {
    /// `GET /v1/owner/requests?state=Open`, signed by one EC owner key: the open requests for
    /// that key's evidence contracts.
    pub async fn owner_requests(
        &self,
        owner: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
    ) -> Result<Vec<dashledger_api::requests::RequestView>, (Failure, AgentError, Option<String>)>
    {
        let resp = self
            .signed(
                owner,
                chain_id,
                reqwest::Method::GET,
                "/v1/owner/requests?state=Open",
                Vec::new(),
            )
            .await
            .map_err(|(f, e)| (f, e, None))?;
        let v = Self::json_or_error("owner requests", resp).await?;
        serde_json::from_value(v.clone()).map_err(|e| {
            (
                Failure::Transient,
                AgentError::Cloud(format!("owner requests answer ({e}): {v}")),
                None,
            )
        })
    }
}

impl CloudClient {
    /// `GET /v1/relay/terms`: the relayer's fees and the largest deposit it fronts.
    pub async fn relay_terms(&self) -> Result<dashledger_api::relay::RelayTerms, AgentError> {
        let url = format!("{}/v1/relay/terms", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| AgentError::Cloud(format!("GET {url}: {e}")))?;
        let v = Self::json_or_error("relay terms", resp)
            .await
            .map_err(|(_, e, _)| e)?;
        serde_json::from_value(v.clone())
            .map_err(|e| AgentError::Cloud(format!("relay terms answer ({e}): {v}")))
    }

    /// `POST /v1/relay/requests/{reqc}`: the cloud sends the owner-signed action on a request
    /// and pays the gas (no other authentication: the signature names the owner).
    pub async fn relay_owner_action(
        &self,
        reqc: alloy::primitives::Address,
        body: &dashledger_api::relay::OwnerRelayRequest,
    ) -> Result<dashledger_api::relay::OwnerRelayed, AgentError> {
        let url = format!("{}/v1/relay/requests/{reqc:#x}", self.base);
        let what = format!("relayed {}", body.action.name());
        let resp = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| AgentError::Cloud(format!("POST {url}: {e}")))?;
        let v = Self::json_or_error(&what, resp)
            .await
            .map_err(|(_, e, _)| e)?;
        serde_json::from_value(v.clone())
            .map_err(|e| AgentError::Cloud(format!("{what} answer ({e}): {v}")))
    }
}
