//! Errors: reading or writing a bundle failed (a bundle that reads but does not verify is a
//! [`Verdict`](crate::check::Verdict) with failed checks, not an error).

use std::path::PathBuf;

/// Errors of the bundle library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// The file is not a zip archive, or an entry is unreadable.
    #[error("{path} is not a readable zip archive: {reason}")]
    Zip {
        /// The bundle (or entry) in question.
        path: String,
        /// What the zip reader said.
        reason: String,
    },
    /// A bundle file is not what the format says it is.
    #[error("{file}: {reason}")]
    Format {
        /// The file inside the bundle.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Asked to build a bundle from inconsistent parts.
    #[error("cannot build the bundle: {0}")]
    Build(String),
    /// A JSON-RPC call of a live check failed.
    #[error("the node at {url} failed: {reason}")]
    Rpc {
        /// RPC URL.
        url: String,
        /// What happened.
        reason: String,
    },
    /// A protocol-level error (format, crypto).
    #[error(transparent)]
    Protocol(#[from] dashledger_protocol::Error),
}

impl Error {
    /// A format error for `file`.
    pub fn format(file: &str, reason: impl std::fmt::Display) -> Self {
        Self::Format {
            file: file.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
