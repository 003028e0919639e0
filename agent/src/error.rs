//! The agent's error type: each variant says what went wrong and where.

use std::path::PathBuf;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The layered configuration is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// A file or directory could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What we were doing.
        what: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The outbox database failed (full disk, corruption, permissions).
    #[error("outbox database: {0}")]
    Outbox(#[from] rusqlite::Error),
    /// The outbox holds something it should not (a bug or a tampered file).
    #[error("outbox is inconsistent: {0}")]
    OutboxState(String),
    /// A segment could not be decoded (not media, truncated, no video).
    #[error("cannot decode segment {}: {reason}", path.display())]
    Decode {
        /// The segment.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// An NMEA sentence is malformed.
    #[error("NMEA: {0}")]
    Nmea(String),
    /// The location source could not be read.
    #[error("location source: {0}")]
    Location(String),
    /// The keystore could not be created or opened.
    #[error("keystore: {0}")]
    Keystore(String),
    /// A protocol operation (record, seal, wrap) failed.
    #[error("protocol: {0}")]
    Protocol(#[from] dashledger_protocol::Error),
    /// The cloud refused or could not be reached.
    #[error("cloud: {0}")]
    Cloud(String),
    /// The chain (JSON-RPC) failed or a transaction reverted.
    #[error("chain: {0}")]
    Chain(String),
    /// An owner command cannot be done (wrong status, not our EC, window still open, no funds).
    #[error("{0}")]
    Owner(String),
    /// A thumbnail could not be encoded.
    #[error("JPEG encoding: {0}")]
    Jpeg(String),
    /// The daemon is stopping: the step was interrupted and is taken up again on the next start.
    #[error(
        "stopped before it finished (the daemon is shutting down; the step resumes on the next start)"
    )]
    Stopped,
    /// The cloud already holds the complete upload of this evidence contract (a previous run
    /// finished it and stopped before noting so).
    #[error("the cloud already holds the complete upload of this evidence contract")]
    AlreadyUploaded,
}

impl AgentError {
    /// Shorthand for an [`AgentError::Io`].
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
