//! The relayer (`POST /v1/relay/evidence`): the cloud submits an owner-signed (EIP-712)
//! Evidence Contract creation for an approved device and pays the gas.

use alloy::primitives::{Address, B256, Bytes};
use dashledger_protocol::eip712::Evidence;
use serde::{Deserialize, Serialize};

/// The Evidence Contract's fields, as JSON (the contract's field names). Converts to and from
/// the protocol's [`Evidence`], so the fields are listed once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EvidenceJson {
    /// Keccak-256 of the segment (an evidence record's `segment_hash`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub video_hash: B256,
    /// Keccak-256 of the sealed clip.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub cipher_hash: B256,
    /// Keccak-256 of the first thumbnail.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub frame_hash: B256,
    /// Merkle root of the per-second leaves.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub frames_root: B256,
    /// Keccak-256 of the session key.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$"))]
    pub key_commitment: B256,
    /// Segment start (unix s).
    pub recorded_at: u64,
    /// Latitude in 1e-6 degrees.
    pub latitude: i32,
    /// Longitude in 1e-6 degrees.
    pub longitude: i32,
    /// Umbral capsule (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
    pub capsule: Bytes,
    /// The session key wrapped to the owner (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
    pub wrapped_key: Bytes,
    /// The owner's Umbral public key (hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
    pub owner_umbral_key: Bytes,
}

impl From<Evidence> for EvidenceJson {
    fn from(e: Evidence) -> Self {
        Self {
            video_hash: e.videoHash,
            cipher_hash: e.cipherHash,
            frame_hash: e.frameHash,
            frames_root: e.framesRoot,
            key_commitment: e.keyCommitment,
            recorded_at: e.recordedAt,
            latitude: e.latitude,
            longitude: e.longitude,
            capsule: e.capsule,
            wrapped_key: e.wrappedKey,
            owner_umbral_key: e.ownerUmbralKey,
        }
    }
}

impl From<EvidenceJson> for Evidence {
    fn from(e: EvidenceJson) -> Self {
        Self {
            videoHash: e.video_hash,
            cipherHash: e.cipher_hash,
            frameHash: e.frame_hash,
            framesRoot: e.frames_root,
            keyCommitment: e.key_commitment,
            recordedAt: e.recorded_at,
            latitude: e.latitude,
            longitude: e.longitude,
            capsule: e.capsule,
            wrappedKey: e.wrapped_key,
            ownerUmbralKey: e.owner_umbral_key,
        }
    }
}

/// `POST /v1/relay/evidence` (signed by an approved device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RelayRequest {
    /// The EC's fields.
    pub evidence: EvidenceJson,
    /// The EC owner (the per-accident owner key that signed).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub owner: Address,
    /// Signature deadline (unix s).
    pub deadline: u64,
    /// The owner's EIP-712 `CreateEvidence` signature (65 bytes, hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{130}$"))]
    pub signature: Bytes,
}

/// The relayed creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Relayed {
    /// The new EC (bound to the relaying device: only it may upload the clip).
    pub ec_address: String,
    /// The creation transaction.
    pub tx_hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_round_trips_with_the_contracts_field_names() {
        let e = Evidence {
            videoHash: B256::repeat_byte(1),
            cipherHash: B256::repeat_byte(2),
            frameHash: B256::repeat_byte(3),
            framesRoot: B256::repeat_byte(4),
            keyCommitment: B256::repeat_byte(5),
            recordedAt: 1_795_000_000,
            latitude: 48_856_600,
            longitude: -2_352_200,
            capsule: Bytes::from_static(&[6; 98]),
            wrappedKey: Bytes::from_static(&[7; 60]),
            ownerUmbralKey: Bytes::from_static(&[8; 33]),
        };
        let j = serde_json::to_value(EvidenceJson::from(e.clone())).unwrap();
        for k in [
            "videoHash",
            "cipherHash",
            "frameHash",
            "framesRoot",
            "keyCommitment",
            "recordedAt",
            "latitude",
            "longitude",
            "capsule",
            "wrappedKey",
            "ownerUmbralKey",
        ] {
            assert!(j.get(k).is_some(), "{k} in {j}");
        }
        let back: EvidenceJson = serde_json::from_value(j).unwrap();
        assert_eq!(Evidence::from(back), e);
    }
}
