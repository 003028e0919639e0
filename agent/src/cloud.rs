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

/// The cloud's stable error codes (the `error` of its [`dashledger_api::ErrorBody`]) that the
/// agent acts on; any other code is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// `already_uploaded`: the cloud holds this device's complete upload of the EC (a previous
    /// run finished it and stopped before noting so).
    AlreadyUploaded,
    /// Any other code.
    Other(String),
}

impl ErrorCode {
    /// The code as the API writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AlreadyUploaded => "already_uploaded",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(s: &str) -> Self {
        match s {
            "already_uploaded" => Self::AlreadyUploaded,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most characters of an answer body kept in an error.
const BODY_CHARS: usize = 500;

/// A failed call to the cloud.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The HTTP client could not be set up (TLS backend).
    #[error("cannot build HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The device (or owner) key could not sign the request.
    #[error("cannot sign the request: {0}")]
    Sign(#[source] dashledger_protocol::Error),
    /// No answer: unreachable, timed out, connection dropped.
    #[error("{method} {url}: {source}")]
    Transport {
        /// The HTTP method.
        method: reqwest::Method,
        /// The URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The cloud answered with an error status.
    #[error("{what}: {status}: {}{message}", code.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Refused {
        /// The call.
        what: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The stable error code of the answer (`None` when the body is not an API error).
        code: Option<ErrorCode>,
        /// The answer's message (the body itself, shortened, when it is not an API error).
        message: String,
    },
    /// A success answer that is not what the API promises.
    #[error("{what}: unexpected answer ({source}): {body}")]
    Unexpected {
        /// The call.
        what: String,
        /// The answer (shortened).
        body: String,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

impl CloudError {
    /// Whether the failure may go away by itself.
    pub fn failure(&self) -> Failure {
        match self {
            Self::Transport { .. } | Self::Unexpected { .. } => Failure::Transient,
            Self::Refused { status, .. }
                if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 =>
            {
                Failure::Transient
            }
            Self::Refused { .. } | Self::Client(_) | Self::Sign(_) => Failure::Refused,
        }
    }

    /// The cloud's error code, when it refused with one.
    pub const fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Refused { code, .. } => code.as_ref(),
            _ => None,
        }
    }

    /// A refusal from an error answer: status, and the code and message of its
    /// `{"error": code, "message": …}` body (`{"error": {"code": …, "message": …}}` too).
    pub fn refused(what: impl Into<String>, status: reqwest::StatusCode, body: &str) -> Self {
        let v = serde_json::from_str::<serde_json::Value>(body).ok();
        let error = v.as_ref().and_then(|v| v.get("error"));
        let code = error
            .and_then(|e| e.get("code").or(Some(e)))
            .and_then(serde_json::Value::as_str)
            .map(ErrorCode::from);
        let message = v
            .as_ref()
            .and_then(|v| v.get("message"))
            .or_else(|| error.and_then(|e| e.get("message")))
            .and_then(serde_json::Value::as_str)
            .filter(|_| code.is_some())
            .map_or_else(|| shorten(body), str::to_owned);
        Self::Refused {
            what: what.into(),
            status,
            code,
            message,
        }
    }

    fn transport(method: reqwest::Method, url: &str, source: reqwest::Error) -> Self {
        Self::Transport {
            method,
            url: url.to_owned(),
            source,
        }
    }

    fn unexpected(
        what: impl Into<String>,
        body: impl std::fmt::Display,
        source: serde_json::Error,
    ) -> Self {
        Self::Unexpected {
            what: what.into(),
            body: shorten(&body.to_string()),
            source,
        }
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(BODY_CHARS).collect()
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
    pub fn new(config: &CloudConfig) -> Result<Self, CloudError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_secs.clamp(1, 10)))
            .user_agent(concat!("dashledger-agent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CloudError::Client)?;
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
    ) -> Result<IngestSummary, CloudError> {
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
            .map_err(|e| CloudError::transport(reqwest::Method::POST, &url, e))?;
        let v = Self::json_or_error(&format!("POST {url}"), resp).await?;
        serde_json::from_value(v.clone())
            .map_err(|e| CloudError::unexpected(format!("POST {url}"), v, e))
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
        serde_json::from_str(&text).map_err(|source| AgentError::Deployment {
            path: path.to_owned(),
            source,
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
    ) -> Result<reqwest::Response, CloudError> {
        use dashledger_protocol::auth::{RequestParts, sign_request};
        let expires = crate::outbox::now_ms() as u64 / 1000 + 120;
        let parts = RequestParts {
            chain_id,
            method: method.as_str(),
            path,
            body: &body,
        };
        let headers = sign_request(device, &parts, expires).map_err(CloudError::Sign)?;
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers.to_pairs() {
            req = req.header(k, v);
        }
        req.body(body)
            .send()
            .await
            .map_err(|e| CloudError::transport(method, &url, e))
    }

    /// The JSON of a success answer, or the refusal of an error answer (`what` names the call).
    async fn json_or_error(
        what: &str,
        resp: reqwest::Response,
    ) -> Result<serde_json::Value, CloudError> {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| CloudError::unexpected(what, &text, e));
        }
        Err(CloudError::refused(what, status, &text))
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
    ) -> Result<serde_json::Value, CloudError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let resp = self
            .signed(device, chain_id, reqwest::Method::POST, path, bytes)
            .await?;
        Self::json_or_error(what, resp).await
    }

    /// `POST /v1/relay/evidence`: the cloud submits the owner-signed EC creation. Returns the EC
    /// address.
    pub async fn relay_evidence(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        body: &dashledger_api::relay::RelayRequest,
    ) -> Result<String, CloudError> {
        let v = self
            .post_signed_json(device, chain_id, "/v1/relay/evidence", "relay", body)
            .await?;
        serde_json::from_value::<dashledger_api::relay::Relayed>(v.clone())
            .map(|r| r.ec_address)
            .map_err(|e| CloudError::unexpected("relay", v, e))
    }

    /// `POST /v1/uploads` (opens, or resumes the open session for this EC).
    pub async fn open_upload(
        &self,
        device: &alloy::signers::local::PrivateKeySigner,
        chain_id: u64,
        body: &dashledger_api::uploads::CreateUpload,
    ) -> Result<UploadStatus, CloudError> {
        let v = self
            .post_signed_json(device, chain_id, "/v1/uploads", "open upload", body)
            .await?;
        serde_json::from_value(v.clone()).map_err(|e| CloudError::unexpected("open upload", v, e))
    }

    async fn put(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<serde_json::Value, CloudError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| CloudError::transport(reqwest::Method::PUT, &url, e))?;
        Self::json_or_error(&format!("PUT {path}"), resp).await
    }

    /// `PUT /v1/uploads/{id}/chunks/{offset}`.
    pub async fn put_chunk(&self, id: &str, offset: u64, bytes: Vec<u8>) -> Result<(), CloudError> {
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
    ) -> Result<(), CloudError> {
        self.put(
            &format!("/v1/uploads/{id}/thumbnails/{which}"),
            "image/jpeg",
            jpeg,
        )
        .await
        .map(drop)
    }

    /// `PUT /v1/uploads/{id}/c2pa`: the accident's C2PA sidecar.
    pub async fn put_c2pa(&self, id: &str, manifest: Vec<u8>) -> Result<(), CloudError> {
        self.put(
            &format!("/v1/uploads/{id}/c2pa"),
            "application/c2pa",
            manifest,
        )
        .await
        .map(drop)
    }

    /// `POST /v1/uploads/{id}/complete`.
    pub async fn complete_upload(&self, id: &str) -> Result<(), CloudError> {
        let url = format!("{}/v1/uploads/{id}/complete", self.base);
        let resp = self
            .http
            .post(&url)
            .send()
            .await
            .map_err(|e| CloudError::transport(reqwest::Method::POST, &url, e))?;
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
    ) -> Result<Vec<dashledger_api::requests::RequestView>, CloudError> {
        let resp = self
            .signed(
                owner,
                chain_id,
                reqwest::Method::GET,
                "/v1/owner/requests?state=Open",
                Vec::new(),
            )
            .await?;
        let v = Self::json_or_error("owner requests", resp).await?;
        serde_json::from_value(v.clone())
            .map_err(|e| CloudError::unexpected("owner requests", v, e))
    }
}

impl CloudClient {
    /// `GET /v1/relay/terms`: the relayer's fees and the largest deposit it fronts.
    pub async fn relay_terms(&self) -> Result<dashledger_api::relay::RelayTerms, CloudError> {
        let url = format!("{}/v1/relay/terms", self.base);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| CloudError::transport(reqwest::Method::GET, &url, e))?;
        let v = Self::json_or_error("relay terms", resp).await?;
        serde_json::from_value(v.clone()).map_err(|e| CloudError::unexpected("relay terms", v, e))
    }

    /// `POST /v1/relay/requests/{reqc}`: the cloud sends the owner-signed action on a request
    /// and pays the gas (no other authentication: the signature names the owner).
    pub async fn relay_owner_action(
        &self,
        reqc: alloy::primitives::Address,
        body: &dashledger_api::relay::OwnerRelayRequest,
    ) -> Result<dashledger_api::relay::OwnerRelayed, CloudError> {
        let url = format!("{}/v1/relay/requests/{reqc:#x}", self.base);
        let what = format!("relayed {}", body.action.name());
        let resp = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| CloudError::transport(reqwest::Method::POST, &url, e))?;
        let v = Self::json_or_error(&what, resp).await?;
        serde_json::from_value(v.clone()).map_err(|e| CloudError::unexpected(what, v, e))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_refusal_with_a_code_is_typed() {
        let body = r#"{"error":"already_uploaded","message":"the upload is complete"}"#;
        let e = CloudError::refused("open upload", reqwest::StatusCode::CONFLICT, body);
        assert_eq!(e.code(), Some(&ErrorCode::AlreadyUploaded));
        assert_eq!(e.failure(), Failure::Refused);
        let CloudError::Refused {
            status, message, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*status, reqwest::StatusCode::CONFLICT);
        assert_eq!(message, "the upload is complete");
        assert_eq!(
            e.to_string(),
            "open upload: 409 Conflict: already_uploaded: the upload is complete"
        );
        let agent = AgentError::from(e);
        assert_eq!(agent.cloud_code(), Some(&ErrorCode::AlreadyUploaded));
        assert!(agent.source().is_some_and(|s| s.is::<CloudError>()));
    }

    #[test]
    fn other_codes_and_bodies_are_kept() {
        let nested = r#"{"error":{"code":"offset_mismatch","message":"expected 5"}}"#;
        let e = CloudError::refused("PUT /x", reqwest::StatusCode::CONFLICT, nested);
        assert_eq!(e.code(), Some(&ErrorCode::Other("offset_mismatch".into())));
        assert!(
            e.to_string().ends_with("offset_mismatch: expected 5"),
            "{e}"
        );

        let e = CloudError::refused("relay", reqwest::StatusCode::BAD_GATEWAY, "upstream gone");
        assert_eq!(e.code(), None);
        assert_eq!(e.failure(), Failure::Transient);
        assert_eq!(e.to_string(), "relay: 502 Bad Gateway: upstream gone");
        let long = "x".repeat(2000);
        let e = CloudError::refused("relay", reqwest::StatusCode::TOO_MANY_REQUESTS, &long);
        assert_eq!(e.failure(), Failure::Transient);
        assert!(matches!(&e, CloudError::Refused { message, .. } if message.len() == BODY_CHARS));
    }

    #[test]
    fn unexpected_answers_keep_the_json_error() {
        let source = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = CloudError::unexpected("relay terms", "{", source);
        assert_eq!(e.failure(), Failure::Transient);
        assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()));
    }

    #[tokio::test]
    async fn transport_failures_keep_the_reqwest_error() {
        let client = CloudClient::new(&CloudConfig {
            url: "http://127.0.0.1:9".into(),
            timeout_secs: 1,
            ..CloudConfig::default()
        })
        .unwrap();
        let e = client.relay_terms().await.unwrap_err();
        assert!(
            matches!(&e, CloudError::Transport { method, url, .. }
                if *method == reqwest::Method::GET && url == "http://127.0.0.1:9/v1/relay/terms"),
            "{e:?}"
        );
        assert_eq!(e.failure(), Failure::Transient);
        assert!(e.source().is_some_and(|s| s.is::<reqwest::Error>()));
        let agent = AgentError::from(e);
        let chain: Vec<_> = std::iter::successors(agent.source(), |&e| e.source()).collect();
        assert!(chain.iter().any(|s| s.is::<reqwest::Error>()), "{chain:?}");
    }
}
