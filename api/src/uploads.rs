//! Resumable upload of a sealed accident clip (`/v1/uploads/...`).

use serde::{Deserialize, Serialize};

use crate::wire_enum;

/// State of an upload session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UploadState {
    /// Receiving chunks.
    Open,
    /// Completed: the clip is in blob storage.
    Complete,
    /// Aborted (by the device, or replaced by the device the EC is bound to).
    Aborted,
}

wire_enum! {
    UploadState {
        Open = "open",
        Complete = "complete",
        Aborted = "aborted",
    }
}

/// Where a received clip stands with the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClipStatus {
    /// Received, not yet decided.
    Uploaded,
    /// `verify()` sent (or the EC was already verified).
    Verified,
    /// `reject(reason)` sent (or the EC was already final otherwise).
    Rejected,
}

wire_enum! {
    ClipStatus {
        Uploaded = "uploaded",
        Verified = "verified",
        Rejected = "rejected",
    }
}

/// `POST /v1/uploads` (signed by the device behind the EC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    /// The Evidence Contract this clip belongs to.
    #[cfg_attr(feature = "openapi", schema(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub ec_address: String,
    /// Size of the sealed clip in bytes.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub size: u64,
    /// Per-second leaves: `0x` + hex of the concatenated 32-byte leaves (protocol
    /// `encode_leaves`).
    pub leaves: String,
    /// The frames Merkle root; must equal the root of `leaves`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(0x)?[0-9a-fA-F]{64}$"))]
    pub frames_root: String,
}

/// Which thumbnails an upload holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thumbnails {
    /// The first frame (its Keccak-256 is the EC's `frameHash`).
    pub first: bool,
    /// The last frame.
    pub last: bool,
}

/// Status of an upload session (`received` is where the next chunk goes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Upload {
    /// The session's id: a capability for the other upload calls; keep it secret.
    pub upload_id: String,
    /// The EC.
    pub ec_address: String,
    /// Declared size.
    pub size: u64,
    /// Bytes durably received.
    pub received: u64,
    /// State.
    pub state: UploadState,
    /// Largest chunk body accepted.
    pub max_chunk_bytes: u64,
    /// Thumbnails received.
    pub thumbnails: Thumbnails,
    /// Whether the C2PA sidecar was received (`PUT /v1/uploads/{id}/c2pa`; optional).
    #[serde(default)]
    pub c2pa: bool,
}

/// `POST /v1/uploads/{id}/complete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Completed {
    /// The EC.
    pub ec_address: String,
    /// Bytes stored.
    pub size: u64,
    /// Keccak-256 of the sealed clip (must equal the EC's `cipherHash`).
    pub cipher_hash: String,
    /// Keccak-256 of the first thumbnail (must equal the EC's `frameHash`).
    pub frame_hash: String,
    /// Verifier status.
    pub status: ClipStatus,
}

/// `DELETE /v1/uploads/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Aborted {
    /// The session.
    pub upload_id: String,
    /// Always `aborted`.
    pub state: UploadState,
}
