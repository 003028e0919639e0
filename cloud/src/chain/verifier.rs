//! The verifier: for each completed upload, reads its Evidence Contract from the chain and checks
//! it against what this cloud received, then sends `verify()` (which lists the EC in the Search
//! Contract) or `reject(reason)`.
//!
//! Checks, in order (the first failure is the reject reason):
//! * the EC was made by our factory and is Pending;
//! * the `EvidenceCreated` fields hash to the EC's `evidenceHash`;
//! * `videoHash` is the segment hash of an evidence record this device sent no later than the
//!   block that created the EC (`video-hash-unknown`), and no other device reported it before
//!   this one did (`video-hash-not-first`: a device that copies another camera's hash, seen on
//!   chain or in a shared clip, reports it later than the camera that recorded it);
//! * `cipherHash` equals the Keccak-256 of the uploaded sealed clip (`cipher-hash-mismatch`);
//! * `frameHash` equals the Keccak-256 of the first thumbnail (`frame-hash-mismatch`);
//! * the uploaded per-second leaves hash to `framesRoot` (`frames-root-mismatch`).

use alloy::primitives::{Address, B256, FixedBytes};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use dashledger_protocol::eip712::{Evidence, evidence_hash};
use dashledger_protocol::frames::{decode_leaves, frames_root};

use super::Chain;
use super::bindings::{EvidenceContract, EvidenceFactory};
use dashledger_api::uploads::ClipStatus;

use crate::error::CloudError;
use crate::now_unix;
use crate::store::Store;
use crate::store::clips::ClipRow;

/// What the verifier decided for one clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// All checks passed: `verify()` was sent.
    Verified,
    /// A check failed: `reject(reason)` was sent.
    Rejected(String),
    /// The EC was already final on chain (recorded locally, nothing sent).
    AlreadyFinal(String),
    /// Not an EC of our factory: recorded as rejected locally, nothing sent.
    NotOurs,
    /// The clip was uploaded by a device the EC is not bound to ([`super::binding`]): it is
    /// dropped (the bound device may upload), nothing is sent.
    Foreign {
        /// The device that uploaded it.
        uploader: String,
        /// The device the EC is bound to.
        bound: String,
    },
}

fn chain_err(what: &str) -> impl FnOnce(alloy::contract::Error) -> CloudError + '_ {
    move |e| CloudError::Chain(format!("{what}: {e}"))
}

/// A reason code as the contract wants it: ASCII, right-padded with zeros.
pub fn reason_code(reason: &str) -> FixedBytes<32> {
    let mut b = [0u8; 32];
    let r = reason.as_bytes();
    b[..r.len().min(32)].copy_from_slice(&r[..r.len().min(32)]);
    FixedBytes(b)
}

/// Processes every uploaded, not yet decided clip once. Returns the decisions made.
pub async fn run_once(
    store: &Store,
    chain: &Chain,
) -> Result<Vec<(Address, Decision)>, CloudError> {
    let mut out = Vec::new();
    for clip in store.undecided_clips(50).await? {
        let ec_s = clip.ec_address.clone();
        let ec: Address = ec_s
            .parse()
            .map_err(|_| CloudError::Corrupt(format!("stored EC address {ec_s} is malformed")))?;
        match decide_and_send(store, chain, ec, &clip).await {
            Ok(Decision::Foreign { uploader, bound }) => {
                drop_foreign(store, &ec_s, &uploader, &bound).await?;
                out.push((ec, Decision::Foreign { uploader, bound }));
            }
            Ok(d) => {
                let (status, reason) = match &d {
                    Decision::Verified => (ClipStatus::Verified, None),
                    Decision::Rejected(r) => (ClipStatus::Rejected, Some(r.clone())),
                    Decision::AlreadyFinal(s) if s == "verified" => (ClipStatus::Verified, None),
                    Decision::AlreadyFinal(s) => (ClipStatus::Rejected, Some(s.clone())),
                    Decision::NotOurs => (
                        ClipStatus::Rejected,
                        Some("not-factory-evidence".to_owned()),
                    ),
                    Decision::Foreign { .. } => unreachable!("handled above"),
                };
                store
                    .decide_clip(&ec_s, status, reason.as_deref(), now_unix())
                    .await?;
                tracing::info!(ec = %ec_s, ?d, "verifier decision");
                out.push((ec, d));
            }
            Err(e) => tracing::warn!(ec = %ec_s, error = %e, "verifier: will retry"),
        }
    }
    Ok(out)
}

/// Reads the EC's creation event: its fields and the block it was created in.
pub async fn evidence_created(
    chain: &Chain,
    ec: Address,
) -> Result<Option<(Evidence, u64)>, CloudError> {
    let filter = Filter::new()
        .address(chain.deployment.evidence_factory)
        .event_signature(EvidenceFactory::EvidenceCreated::SIGNATURE_HASH)
        .topic1(ec.into_word())
        .from_block(chain.deployment.start_block);
    let logs = chain
        .provider
        .get_logs(&filter)
        .await
        .map_err(|e| CloudError::Chain(format!("get_logs: {e}")))?;
    let Some(log) = logs.into_iter().next() else {
        return Ok(None);
    };
    let block = log
        .block_number
        .ok_or_else(|| CloudError::Chain("EvidenceCreated log without block number".into()))?;
    let ev = EvidenceFactory::EvidenceCreated::decode_log_data(log.data())
        .map_err(|e| CloudError::Chain(format!("decoding EvidenceCreated: {e}")))?;
    let p = ev.params;
    let evidence = Evidence {
        videoHash: p.videoHash,
        cipherHash: p.cipherHash,
        frameHash: p.frameHash,
        framesRoot: p.framesRoot,
        keyCommitment: p.keyCommitment,
        recordedAt: p.recordedAt,
        latitude: p.latitude,
        longitude: p.longitude,
        capsule: p.capsule,
        wrappedKey: p.wrappedKey,
        ownerUmbralKey: p.ownerUmbralKey,
    };
    Ok(Some((evidence, block)))
}

/// A clip uploaded by a device the EC is not bound to: deleted with its upload (so that the
/// bound device can upload), and an alarm for the operator. Nothing goes to the chain.
async fn drop_foreign(
    store: &Store,
    ec: &str,
    uploader: &str,
    bound: &str,
) -> Result<(), CloudError> {
    let detail = format!(
        "uploaded the clip of EC {ec}, which is bound to device {bound}; dropped, nothing sent to the chain"
    );
    store
        .drop_foreign_clip(ec, uploader, &detail, now_unix())
        .await?;
    tracing::warn!(
        ec,
        uploader,
        bound,
        "verifier: dropped a clip uploaded by a device the EC is not bound to"
    );
    Ok(())
}

async fn decide_and_send(
    store: &Store,
    chain: &Chain,
    ec: Address,
    clip: &ClipRow,
) -> Result<Decision, CloudError> {
    use super::binding::{Binding, bind};
    match bind(store, chain, ec).await? {
        Binding::NotEvidence => return Ok(Decision::NotOurs),
        Binding::Final(1) => return Ok(Decision::AlreadyFinal("verified".into())),
        Binding::Final(_) => return Ok(Decision::AlreadyFinal("rejected-on-chain".into())),
        // Never reject an EC because of a third party's upload.
        Binding::Device { device, .. } if device != clip.device => {
            return Ok(Decision::Foreign {
                uploader: clip.device.clone(),
                bound: device,
            });
        }
        Binding::Device { .. } | Binding::Unbacked => {}
    }
    let ecc = EvidenceContract::new(ec, &chain.provider);
    let reason = check(store, chain, ec, clip).await?;
    let receipt = match &reason {
        None => {
            ecc.verify()
                .send()
                .await
                .map_err(chain_err("sending verify"))?
                .get_receipt()
                .await
        }
        Some(r) => {
            ecc.reject(reason_code(r))
                .send()
                .await
                .map_err(chain_err("sending reject"))?
                .get_receipt()
                .await
        }
    }
    .map_err(|e| CloudError::Chain(format!("waiting for the receipt: {e}")))?;
    if !receipt.status() {
        return Err(CloudError::Chain(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(match reason {
        None => Decision::Verified,
        Some(r) => Decision::Rejected(r),
    })
}

/// The checks; `Some(reason)` on the first failure.
async fn check(
    store: &Store,
    chain: &Chain,
    ec: Address,
    clip: &ClipRow,
) -> Result<Option<String>, CloudError> {
    let Some((ev, block)) = evidence_created(chain, ec).await? else {
        return Ok(Some("no-creation-event".into()));
    };
    let ecc = EvidenceContract::new(ec, &chain.provider);
    let committed = ecc
        .evidenceHash()
        .call()
        .await
        .map_err(chain_err("evidenceHash"))?;
    if evidence_hash(&ev) != committed {
        return Ok(Some("evidence-hash-mismatch".into()));
    }
    let created_at = super::binding::block_time(chain, block).await?;
    let seen = store
        .reported(&clip.device, &ev.videoHash, created_at)
        .await?;
    if !seen {
        return Ok(Some("video-hash-unknown".into()));
    }
    if store
        .reported_earlier_by_another(&clip.device, &ev.videoHash, created_at)
        .await?
    {
        return Ok(Some("video-hash-not-first".into()));
    }
    if clip.cipher_hash.as_slice() != ev.cipherHash.as_slice() {
        return Ok(Some("cipher-hash-mismatch".into()));
    }
    if clip.thumb_first.as_deref() != Some(ev.frameHash.as_slice()) {
        return Ok(Some("frame-hash-mismatch".into()));
    }
    let leaves = decode_leaves(&clip.leaves)
        .map_err(|e| CloudError::Chain(format!("stored leaves: {e}")))?;
    let root: Option<B256> = frames_root(&leaves).ok();
    if root != Some(ev.framesRoot) {
        return Ok(Some("frames-root-mismatch".into()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_padded_ascii() {
        let r = reason_code("cipher-hash-mismatch");
        assert_eq!(&r[..20], b"cipher-hash-mismatch");
        assert!(r[20..].iter().all(|b| *b == 0));
    }
}
