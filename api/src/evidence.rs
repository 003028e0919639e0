//! Evidence ingest (`POST /v1/evidence`): batches of the protocol's 161-byte signed records.

use serde::{Deserialize, Serialize};

use crate::admin::AlarmKind;

/// The JSON form of a batch (the binary form is the records concatenated,
/// `application/octet-stream`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JsonBatch {
    /// Signed records, each `0x` + 322 hex digits (161 bytes).
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub records: Vec<String>,
}

/// The answer to an accepted batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResult {
    /// Records newly stored.
    pub accepted: u64,
    /// Records already stored (identical), ignored.
    pub duplicates: u64,
    /// Chain findings this batch caused (also stored as alarms).
    #[serde(default)]
    pub findings: Vec<Finding>,
}

/// A chain finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Device address.
    pub device: String,
    /// `gap`, `fork`, `break` or `reordered`.
    pub kind: AlarmKind,
    /// The sequence number concerned (the first missing one for a gap).
    pub seq: u32,
    /// What is wrong, for a person.
    pub detail: String,
}
