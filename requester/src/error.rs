//! The requester's error type: every variant says what went wrong and what to do about it.

use std::path::PathBuf;

/// Errors of the requester library and CLI.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad configuration or command-line input.
    #[error("{0}")]
    Config(String),
    /// A contract call or transaction reverted; the message is the decoded custom error.
    #[error("the transaction was rejected by the contract: {0}")]
    Reverted(String),
    /// The wallet cannot pay for the transaction.
    #[error("insufficient funds: {0}")]
    InsufficientFunds(String),
    /// The chain's RPC endpoint failed or is unreachable.
    #[error("the chain RPC at {url} failed: {reason}")]
    Rpc {
        /// RPC URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The cloud did not answer (connection refused, timeout, 502/503/504).
    #[error("the cloud at {url} is not reachable ({reason}); try again later")]
    CloudDown {
        /// Cloud base URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// The cloud answered with an error.
    #[error("the cloud refused {what}: HTTP {status}{detail}")]
    CloudHttp {
        /// The request.
        what: String,
        /// HTTP status.
        status: u16,
        /// ": message" from the JSON error body, if any.
        detail: String,
    },
    /// The request is not in a state that allows the action.
    #[error("{0}")]
    State(String),
    /// The recovered key, the sealed clip or its hash did not check out.
    #[error("verification failed: {0}")]
    Verification(String),
    /// A protocol-level error (format, crypto).
    #[error(transparent)]
    Protocol(#[from] dashledger_protocol::Error),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    /// A closure mapping an I/O error on `path` while doing `what`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { what, path, source }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
