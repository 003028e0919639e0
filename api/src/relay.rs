//! The relayer: the cloud submits an owner-signed (EIP-712) Evidence Contract creation for an
//! approved device (`POST /v1/relay/evidence`) and the EC owner's signed actions on a request
//! (`POST /v1/relay/requests/{reqc}`: respond, decline, claim, withdraw), and pays the gas; its
//! fees and limits are `GET /v1/relay/terms`.
//!
//! ```
//! use dashledger_api::relay::{OwnerAction, OwnerRelayRequest};
//! let body = r#"{"action": {"kind": "withdraw", "to": "0x00000000000000000000000000000000000000aa",
//!     "relayer_fee_wei": "200000000000000"}, "deadline": 1800000000, "signature": "0x00"}"#;
//! let r: OwnerRelayRequest = serde_json::from_str(body)?;
//! assert!(matches!(r.action, OwnerAction::Withdraw { .. }));
//! assert_eq!(r.action.name(), "withdraw");
//! # Ok::<(), serde_json::Error>(())
//! ```

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use dashledger_protocol::eip712::{self, Evidence};
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

/// A wei amount on the wire: decimal digits (JSON numbers cannot hold every `uint256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wei(pub U256);

impl Serialize for Wei {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Wei {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 78 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(serde::de::Error::custom(format!(
                "a wei amount is decimal digits, got {s:?}"
            )));
        }
        U256::from_str_radix(&s, 10)
            .map(Self)
            .map_err(|e| serde::de::Error::custom(format!("wei amount {s:?}: {e}")))
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Wei {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-9]{1,78}$"))
            .description(Some("wei, decimal digits"))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Wei {}

/// What the relayer charges and fronts (`GET /v1/relay/terms`). An owner signs its fee into
/// the EIP-712 message; the relayer refuses a signed fee below these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayTerms {
    /// The relayer's account (the sender of every relayed transaction).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub relayer: Address,
    /// Chain id the EIP-712 domains must name.
    pub chain_id: u64,
    /// Least `relayerFee` of a relayed `Respond` (repaid with the fronted deposit out of the
    /// owner's share when the owner is paid).
    pub respond_fee_wei: Wei,
    /// Least `relayerFee` of a relayed `Withdraw` (taken from the withdrawn share).
    pub withdraw_fee_wei: Wei,
    /// Largest deposit the relayer fronts for a response (a REQC whose `minDeposit` is higher
    /// is refused: respond directly).
    pub max_deposit_wei: Wei,
}

/// One owner action on a request, as the owner's EIP-712 message (`docs/contracts.md`,
/// "Relayed owner actions") states it. Members other than the action's are ignored (they are
/// not signed, so they change nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OwnerAction {
    /// `Respond(kfrag, ownerUmbralKey, downloadLink, relayerFee, deadline)`: the relayer checks
    /// the kfrag and fronts the REQC's minimum deposit.
    Respond {
        /// The kfrag for the requester's Umbral key (hex).
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
        kfrag: Bytes,
        /// The Umbral key that signed the kfrag (the EC owner key as an Umbral key, hex).
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
        owner_umbral_key: Bytes,
        /// Where the requester downloads the sealed clip.
        download_link: String,
        /// The fee the owner signed.
        relayer_fee_wei: Wei,
    },
    /// `Decline(deadline)`.
    Decline,
    /// `Claim(deadline)`.
    Claim,
    /// `Withdraw(to, relayerFee, deadline)`: the owner's share minus the fee to `to`.
    Withdraw {
        /// The payee (any address; a fresh one keeps accidents apart).
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0[xX][0-9a-fA-F]{40}$"))]
        to: Address,
        /// The fee the owner signed.
        relayer_fee_wei: Wei,
    },
}

impl OwnerAction {
    /// The action's name (`respond`, `decline`, `claim`, `withdraw`).
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Respond { .. } => "respond",
            Self::Decline => "decline",
            Self::Claim => "claim",
            Self::Withdraw { .. } => "withdraw",
        }
    }
}

/// `POST /v1/relay/requests/{reqc}`: an owner action signed by the REQC's EC owner key. No
/// other authentication: the signature names the owner, the REQC is the EIP-712 domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OwnerRelayRequest {
    /// The action and its fields.
    pub action: OwnerAction,
    /// Signature deadline (unix s), signed.
    pub deadline: u64,
    /// The owner key's EIP-712 signature (65 bytes, hex).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x[0-9a-fA-F]{130}$"))]
    pub signature: Bytes,
}

impl OwnerRelayRequest {
    /// The EIP-712 message the owner signed (what the REQC checks).
    pub fn message(&self) -> eip712::OwnerAction {
        let deadline = U256::from(self.deadline);
        match &self.action {
            OwnerAction::Respond {
                kfrag,
                owner_umbral_key,
                download_link,
                relayer_fee_wei,
            } => eip712::OwnerAction::Respond(eip712::Respond {
                kfrag: kfrag.clone(),
                ownerUmbralKey: owner_umbral_key.clone(),
                downloadLink: download_link.clone(),
                relayerFee: relayer_fee_wei.0,
                deadline,
            }),
            OwnerAction::Decline => eip712::OwnerAction::Decline(eip712::Decline { deadline }),
            OwnerAction::Claim => eip712::OwnerAction::Claim(eip712::Claim { deadline }),
            OwnerAction::Withdraw {
                to,
                relayer_fee_wei,
            } => eip712::OwnerAction::Withdraw(eip712::Withdraw {
                to: *to,
                relayerFee: relayer_fee_wei.0,
                deadline,
            }),
        }
    }

    /// `action` signed by the EC's owner key for the REQC `reqc` on `chain_id`.
    pub fn sign(
        action: OwnerAction,
        deadline: u64,
        owner_key: &PrivateKeySigner,
        chain_id: u64,
        reqc: Address,
    ) -> dashledger_protocol::Result<Self> {
        let mut r = Self {
            action,
            deadline,
            signature: Bytes::new(),
        };
        let sig = r.message().sign(owner_key, chain_id, reqc)?;
        r.signature = Bytes::from(sig.to_vec());
        Ok(r)
    }
}

/// A relayed owner action, mined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerRelayed {
    /// The request.
    pub reqc: String,
    /// `respond`, `decline`, `claim` or `withdraw`.
    pub action: String,
    /// The transaction.
    pub tx_hash: String,
    /// Gas it used (paid by the relayer).
    pub gas_used: u64,
    /// The deposit the relayer fronted (respond; otherwise 0).
    pub deposit_fronted_wei: Wei,
    /// What the payee received (withdraw; otherwise 0).
    pub paid_wei: Wei,
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

    #[test]
    fn wei_is_decimal_on_the_wire_and_refuses_anything_else() {
        let w: Wei = serde_json::from_str("\"10000000000000000\"").unwrap();
        assert_eq!(w.0, U256::from(10_000_000_000_000_000u64));
        assert_eq!(serde_json::to_string(&w).unwrap(), "\"10000000000000000\"");
        for bad in ["\"0x10\"", "\"-1\"", "\"\"", "\"1e18\"", "12"] {
            let e = serde_json::from_str::<Wei>(bad).unwrap_err().to_string();
            assert!(e.contains("wei") || e.contains("string"), "{bad}: {e}");
        }
        let max = U256::MAX.to_string();
        let w: Wei = serde_json::from_str(&format!("\"{max}\"")).unwrap();
        assert_eq!(w.0, U256::MAX);
        assert!(serde_json::from_str::<Wei>(&format!("\"{max}0\"")).is_err());
    }

    #[test]
    fn owner_actions_are_tagged_and_strict() {
        for (json, name) in [
            (r#"{"kind":"decline"}"#, "decline"),
            (r#"{"kind":"claim"}"#, "claim"),
            (
                r#"{"kind":"respond","kfrag":"0x01","owner_umbral_key":"0x02","download_link":"https://x","relayer_fee_wei":"5"}"#,
                "respond",
            ),
        ] {
            let a: OwnerAction = serde_json::from_str(json).unwrap();
            assert_eq!(a.name(), name);
            let back = serde_json::to_value(&a).unwrap();
            assert_eq!(back["kind"], name);
        }
        assert!(serde_json::from_str::<OwnerAction>(r#"{"kind":"pay"}"#).is_err());
        assert_eq!(
            serde_json::from_str::<OwnerAction>(r#"{"kind":"claim","to":"0x00"}"#).unwrap(),
            OwnerAction::Claim,
            "an unsigned extra member changes nothing"
        );
        assert!(
            serde_json::from_str::<OwnerAction>(r#"{"kind":"withdraw","relayer_fee_wei":"1"}"#)
                .is_err(),
            "a withdrawal names its payee"
        );
    }

    #[test]
    fn a_signed_owner_action_verifies_for_its_request_only() {
        let key = PrivateKeySigner::random();
        let reqc = Address::repeat_byte(0xcc);
        let action = OwnerAction::Withdraw {
            to: Address::repeat_byte(0xaa),
            relayer_fee_wei: Wei(U256::from(7u8)),
        };
        let r = OwnerRelayRequest::sign(action, 1_800_000_000, &key, 31337, reqc).unwrap();
        let sig: [u8; 65] = r.signature.as_ref().try_into().unwrap();
        r.message()
            .verify(31337, reqc, key.address(), &sig)
            .unwrap();
        assert!(
            r.message()
                .verify(31337, Address::repeat_byte(0xcd), key.address(), &sig)
                .is_err()
        );
        assert!(r.message().verify(1, reqc, key.address(), &sig).is_err());
        let mut other = r.clone();
        other.action = OwnerAction::Withdraw {
            to: Address::repeat_byte(0xab),
            relayer_fee_wei: Wei(U256::from(7u8)),
        };
        assert!(
            other
                .message()
                .verify(31337, reqc, key.address(), &sig)
                .is_err(),
            "the payee is signed"
        );
    }
}
