//! Errors: [`CloudError`] for the service's own failures, [`ApiError`] for HTTP answers.
//!
//! Every client mistake is a 4xx with a JSON body `{"error": "<code>", "message": "<what is
//! wrong>"}`; internal failures are a 500/503 whose body never carries internals (they are logged).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Failures of the cloud service itself.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// The configuration is unusable; the message names the key or file.
    #[error("configuration error: {0}")]
    Config(String),
    /// The database failed or could not be reached.
    #[error("database error: {0} (check database_url and that the database is running)")]
    Db(#[from] sqlx::Error),
    /// Migrating the database failed.
    #[error("migrating the database (to version {version}) failed: {source}")]
    Migration {
        /// The version being migrated to.
        version: i64,
        /// Underlying error.
        source: sqlx::migrate::MigrateError,
    },
    /// A stored value is not what the service wrote (a row edited by hand, or corruption).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database holds migrations this binary does not know (it is older than the schema).
    #[error(
        "database schema version {found} is newer than this binary knows ({known}); upgrade dashledger-cloud"
    )]
    SchemaTooNew {
        /// Highest version in the database.
        found: i64,
        /// Highest version this binary ships.
        known: i64,
    },
    /// Blob storage failed.
    #[error("blob storage error at {path}: {source}")]
    Blob {
        /// Path or key.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A chain call or transaction failed.
    #[error("chain error: {0}")]
    Chain(String),
    /// An I/O error (listening socket, files).
    #[error("i/o error while {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// An HTTP error answer with a stable machine code and a human message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// Any error with an explicit status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    /// 400: the request is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401: missing or bad credentials / signature.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 404: no such thing.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 409: conflicts with the current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 413: too large.
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }
    /// 422: well-formed but semantically wrong.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// 408: the request body stopped arriving (`http.body_idle_timeout_secs`).
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the request body stopped arriving (http.body_idle_timeout_secs); resend it",
        )
    }
    /// An error reading a request body: 408 when it was the idle timeout, else 400 `body_error`.
    pub fn body_read(e: &(dyn std::error::Error + 'static), what: &str) -> Self {
        if crate::server::is_body_timeout(e) {
            Self::body_timeout()
        } else {
            Self::bad_request("body_error", format!("reading {what} failed: {e}"))
        }
    }
    /// 500 with a generic body; the detail is logged, never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error (logged)",
        )
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The machine code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(dashledger_api::ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
                tracing::error!(error = %e, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "database unavailable, retry later",
                )
            }
            e => Self::internal(e),
        }
    }
}

impl From<CloudError> for ApiError {
    fn from(e: CloudError) -> Self {
        match e {
            CloudError::Db(e) => e.into(),
            e => Self::internal(e),
        }
    }
}
