//! The agent's error type: each variant says what went wrong and where, and keeps the error it
//! came from as its [`source`](std::error::Error::source).

use std::path::PathBuf;

pub use crate::cloud::{CloudError, ErrorCode};
pub use crate::owner::{ChainError, OwnerError};

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The layered configuration is invalid (the message names the key or flag and what is
    /// wrong with it).
    #[error("configuration error: {0}")]
    Config(String),
    /// The configuration layers (file, environment, flags) could not be read or merged.
    #[error("configuration error: {0}")]
    Layers(#[from] dashledger_protocol::layers::LayerError),
    /// The deployment file is not a valid deployment.
    #[error("configuration error: deployment file {} is not valid: {source}", path.display())]
    Deployment {
        /// The deployment file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// The detection models could not be loaded or configured.
    #[error("configuration error: {what}: {source}")]
    Detect {
        /// Which model or setting.
        what: &'static str,
        /// What the detector said.
        #[source]
        source: dashledger_detect::DetectError,
    },
    /// The operating system refused a resource the agent needs (async runtime, signal handler,
    /// listening socket, random numbers).
    #[error("configuration error: {what}: {source}")]
    System {
        /// What we were doing.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
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
    /// An accident's stored detail cannot be read or written as JSON.
    #[error("outbox is inconsistent: accident {accident} detail: {source}")]
    AccidentDetail {
        /// The accident (its segment's name, or its id).
        accident: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The segment worker panicked.
    #[error("outbox is inconsistent: segment worker panicked: {0}")]
    Worker(#[source] tokio::task::JoinError),
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
    /// The location source ended or is unusable.
    #[error("location source: {0}")]
    Location(String),
    /// gpsd could not be reached or read.
    #[error("location source: {what}: {source}")]
    Gpsd {
        /// What we were doing, with gpsd's address.
        what: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The keystore could not be written or opened.
    #[error("keystore: cannot {action} keystore {}: {source}", path.display())]
    Keystore {
        /// `write` or `open`.
        action: &'static str,
        /// The keystore file.
        path: PathBuf,
        /// What the keystore code said (I/O, wrong password, bad file).
        #[source]
        source: dashledger_protocol::Error,
    },
    /// A protocol operation (record, seal, wrap) failed.
    #[error("protocol: {0}")]
    Protocol(#[from] dashledger_protocol::Error),
    /// The cloud refused or could not be reached.
    #[error("cloud: {0}")]
    Cloud(#[from] CloudError),
    /// The chain (JSON-RPC) failed or a transaction reverted.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// An owner command cannot be done (wrong status, not our EC, window still open, no funds).
    #[error("{0}")]
    Owner(#[from] OwnerError),
    /// The C2PA sidecar could not be signed (the key, the certificate chain or the clip).
    #[error("C2PA: {0}")]
    C2pa(#[from] dashledger_provenance::Error),
    /// A thumbnail could not be encoded.
    #[error("JPEG encoding: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
    /// A frame is larger than JPEG allows (65535 pixels a side).
    #[error("JPEG encoding: {which} {value} too large")]
    FrameTooLarge {
        /// `width` or `height`.
        which: &'static str,
        /// The frame's size along it.
        value: u32,
    },
    /// The daemon is stopping: the step was interrupted and is taken up again on the next start.
    #[error(
        "stopped before it finished (the daemon is shutting down; the step resumes on the next start)"
    )]
    Stopped,
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

    /// Shorthand for an [`AgentError::System`].
    pub fn system(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::System {
            what: what.into(),
            source,
        }
    }

    /// The cloud's error code when this is a refusal by the cloud.
    pub fn cloud_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Cloud(e) => e.code(),
            _ => None,
        }
    }
}
