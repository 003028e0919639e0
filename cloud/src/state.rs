//! The state every handler shares ([`AppState`]), below the handlers that use it: the
//! configuration, the [`Store`], blob storage, metrics, the chain connection and the in-memory
//! bits that must be one per process (upload cursors, the relayer's lock, the ingest queue).
//! Background workers (verifier, indexer, ingest writer) are handed only the parts they use.

use std::collections::HashMap;
use std::sync::Arc;

use crate::blob::BlobStore;
use crate::config::{Config, Secret};
use crate::ingest::IngestQueue;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::upload::Cursor;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The configuration in force.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Blob storage.
    pub blobs: Box<dyn BlobStore>,
    /// Metrics (shared with the ingest writer).
    pub metrics: Arc<Metrics>,
    /// Operator token (None: operator API disabled).
    pub admin_token: Option<Secret>,
    /// Per-upload cursors (offset + running Keccak-256) of uploads being written.
    pub upload_cursors: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Cursor>>>>,
    /// Chain access (None: chain features off).
    pub chain: Option<crate::chain::Chain>,
    /// Serialises the relayer's rate-limit check and submission.
    pub relay_lock: tokio::sync::Mutex<()>,
    /// Group-commit queue of evidence ingest.
    pub ingest: IngestQueue,
}

/// Shared state handle.
pub type Shared = Arc<AppState>;
