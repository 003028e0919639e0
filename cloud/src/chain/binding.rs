//! Which device stands behind an Evidence Contract: the only device allowed to upload its clip.
//!
//! An EC names no device on chain, so the cloud binds it from what it knows, strongest first:
//!
//! 1. **the relayer's record**: the EC was created through `POST /v1/relay/evidence` for an
//!    approved device (the row is written only after the creation's receipt succeeded);
//! 2. **the evidence records**: the device that reported the EC's `videoHash` as a segment hash
//!    no later than the block that created the EC (the earliest such report wins: a device that
//!    copies a hash it saw on chain or in the mempool reports it later than the camera that
//!    recorded it).
//!
//! An upload from any other device is refused before a byte is accepted, and the verifier never
//! sends `reject` for a clip that was not uploaded by the bound device (issue 19, item 1).

use alloy::primitives::Address;
use alloy::providers::Provider;
use dashledger_protocol::status::EvidenceStatus;

use super::Chain;
use super::bindings::{EvidenceContract, EvidenceFactory};
use crate::error::CloudError;
use crate::store::Store;

/// What the cloud knows about the device behind an EC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// Not an EC of this deployment's factory (or not created yet).
    NotEvidence,
    /// The EC is already final on chain (`1` verified, `2` rejected).
    Final(u8),
    /// The device the EC is bound to, and how it was found.
    Device {
        /// The device (0x + lowercase hex).
        device: String,
        /// `true`: from the relayer's record; `false`: from the evidence records.
        relayed: bool,
    },
    /// A Pending EC that no device's records stand behind.
    Unbacked,
}

fn chain_err(what: &str) -> impl FnOnce(alloy::contract::Error) -> CloudError + '_ {
    move |e| CloudError::Chain(format!("{what}: {e}"))
}

/// Binds `ec` (see the module doc). Reads the chain: the factory's `isEvidence`, the EC's
/// status and, unless the relayer created it, its `EvidenceCreated` event and block time.
pub async fn bind(store: &Store, chain: &Chain, ec: Address) -> Result<Binding, CloudError> {
    let factory = EvidenceFactory::new(chain.deployment.evidence_factory, &chain.provider);
    if !factory
        .isEvidence(ec)
        .call()
        .await
        .map_err(chain_err("isEvidence"))?
    {
        return Ok(Binding::NotEvidence);
    }
    let status = EvidenceContract::new(ec, &chain.provider)
        .status()
        .call()
        .await
        .map_err(chain_err("status"))?;
    if EvidenceStatus::from_code(status) != Some(EvidenceStatus::Pending) {
        return Ok(Binding::Final(status));
    }
    let key = format!("{ec:#x}");
    if let Some(device) = store.relayed_for(&key).await? {
        return Ok(Binding::Device {
            device,
            relayed: true,
        });
    }
    let Some((ev, block)) = super::verifier::evidence_created(chain, ec).await? else {
        return Ok(Binding::NotEvidence);
    };
    let created_at = block_time(chain, block).await?;
    let device = store.first_reporter(&ev.videoHash, created_at).await?;
    Ok(match device {
        Some(device) => Binding::Device {
            device,
            relayed: false,
        },
        None => Binding::Unbacked,
    })
}

/// The timestamp of block `n` (unix seconds).
pub async fn block_time(chain: &Chain, n: u64) -> Result<i64, CloudError> {
    let blk = chain
        .provider
        .get_block_by_number(n.into())
        .await
        .map_err(|e| CloudError::Chain(format!("get_block {n}: {e}")))?
        .ok_or_else(|| CloudError::Chain(format!("block {n} not found")))?;
    Ok(i64::try_from(blk.header.timestamp).unwrap_or(i64::MAX))
}
