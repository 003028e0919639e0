//! `bundle`: gathers an evidence bundle (docs/formats.md "Evidence bundle") for an EC — the
//! verified clip, the EC's fields, the transactions and receipts that created and verified it,
//! `eth_getProof` proofs of the EC and its SearchContract listing against one block header, the
//! device's records — and writes it with `dashledger_verify::build`, which also checks it
//! offline before it is written.

use std::path::{Path, PathBuf};

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use dashledger_protocol::bindings::{EvidenceContract, EvidenceFactory, RequestFactory};
use dashledger_protocol::hash::keccak256;
use dashledger_verify::Verdict;
use dashledger_verify::build::{Parts, build};
use dashledger_verify::format::{
    BlockFile, EC_STATUS_SLOT, EvidenceInfo, Params, StateProof, TxRef, owner_of_slot,
};

use crate::chain::{Chain, fmt_time};
use crate::cloud::Cloud;
use crate::error::{Error, Result};

/// What to bundle.
#[derive(Clone, Debug)]
pub struct BundleRequest {
    /// An Evidence Contract or a Request Contract for one.
    pub target: Address,
    /// The verified clip (`fetch --out`).
    pub clip: PathBuf,
    /// Signed evidence records of the device (161 bytes each), if available.
    pub records: Option<PathBuf>,
    /// The device as the cloud recorded it (JSON), if available.
    pub device: Option<PathBuf>,
    /// The device's C2PA sidecar of the clip, if given (else asked from the cloud like the
    /// records).
    pub c2pa: Option<PathBuf>,
    /// The requester's key: without `records`, and for a Request Contract target, the records
    /// and the device's standing are asked from the cloud with it.
    pub signer: Option<alloy::signers::local::PrivateKeySigner>,
    /// Prove the state at this block (default: the latest).
    pub block: Option<u64>,
    /// Where to write the zip.
    pub out: PathBuf,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Written {
    /// The EC.
    pub ec: Address,
    /// The bundle file.
    pub out: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Files in it.
    pub files: usize,
    /// The block of the state proofs.
    pub proof_block: u64,
    /// The offline verdict at bundle time.
    pub verdict: Verdict,
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(Error::io(what, path))
}

/// Builds and writes the bundle. Fails (writing nothing) when a check fails.
pub async fn bundle(chain: &Chain, cloud: Option<&Cloud>, req: &BundleRequest) -> Result<Written> {
    let dep = chain.deployment();
    let (ec, request) = resolve_target(chain, req.target).await?;
    let history = ec_history(chain, ec).await?;
    // The clip must be this EC's.
    let clip = read(&req.clip, "reading the clip")?;
    let h = keccak256(&clip);
    if h != history.params.video_hash {
        return Err(Error::Verification(format!(
            "{} has Keccak-256 {h}, but the EC's videoHash is {}: give the clip `fetch` verified for this EC",
            req.clip.display(),
            history.params.video_hash
        )));
    }
    let (state, number) = state_proof(chain, ec, req.block).await?;
    let blocks = blocks_of(chain, &[history.created.block, history.verified.block]).await?;
    let thumbnail = match cloud {
        Some(cl) => match thumbnail(cl, ec).await {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("no thumbnail in the bundle: {e}");
                eprintln!("note: the thumbnail could not be fetched ({e}); the bundle has none");
                None
            }
        },
        None => None,
    };
    let (records, device) = records_and_device(cloud, req, ec, request, dep.chain_id).await?;
    let c2pa = c2pa_sidecar(cloud, req, ec, request, dep.chain_id).await?;
    let parts = Parts {
        clip,
        thumbnail,
        c2pa,
        info: EvidenceInfo {
            chain_id: dep.chain_id,
            evidence_factory: dep.evidence_factory,
            search_contract: dep.search_contract,
            ec,
            owner: history.owner,
            status: "Verified".into(),
            evidence_hash: history.evidence_hash,
            params: history.params,
            created: history.created,
            verified: history.verified,
            request,
        },
        state,
        blocks,
        records,
        device,
        made_at: fmt_time(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
    };
    let (bundle, verdict) = build(parts).map_err(|e| Error::Verification(e.to_string()))?;
    if !verdict.verified() {
        return Err(Error::Verification(format!(
            "the bundle does not verify, so it was not written:\n{}",
            verdict.failure_summary()
        )));
    }
    bundle
        .write(&req.out)
        .map_err(|e| Error::Verification(e.to_string()))?;
    let bytes = std::fs::metadata(&req.out)
        .map_err(Error::io("reading", &req.out))?
        .len();
    Ok(Written {
        ec,
        out: req.out.clone(),
        bytes,
        files: bundle.files.len(),
        proof_block: number,
        verdict,
    })
}

/// A failed chain call, named.
fn rpc(what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::Rpc {
        url: "the chain RPC".into(),
        reason: format!("{what}: {e}"),
    }
}

/// The EC a target names: itself, or the EC of a Request Contract (then also the REQC).
async fn resolve_target(chain: &Chain, target: Address) -> Result<(Address, Option<Address>)> {
    let (p, dep) = (chain.provider(), chain.deployment());
    // EC or REQC?
    let rf = RequestFactory::new(dep.request_factory, p);
    let is_request = rf
        .isRequest(target)
        .call()
        .await
        .map_err(|e| rpc("isRequest", &e))?;
    Ok(if is_request {
        (chain.request_state(target).await?.ec, Some(target))
    } else {
        (target, None)
    })
}

/// What the chain says happened to an EC: its creation (fields, owner, transaction), its
/// verification, and its committed evidence hash.
struct EcHistory {
    params: Params,
    owner: Address,
    created: TxRef,
    verified: TxRef,
    evidence_hash: B256,
}

async fn ec_history(chain: &Chain, ec: Address) -> Result<EcHistory> {
    let (p, dep) = (chain.provider(), chain.deployment());
    // Creation: the factory's EvidenceCreated log (parameters, owner, transaction).
    let ef = EvidenceFactory::new(dep.evidence_factory, p);
    let created = ef
        .EvidenceCreated_filter()
        .topic1(ec.into_word())
        .from_block(dep.start_block)
        .query()
        .await
        .map_err(|e| rpc("reading EvidenceCreated", &e))?;
    let (ev, log) = created.into_iter().next().ok_or_else(|| {
        Error::Config(format!(
            "{ec} is neither a Request Contract nor an Evidence Contract of this deployment (no EvidenceCreated event)"
        ))
    })?;
    let created = tx_ref(&log, "EvidenceCreated")?;
    let c = EvidenceContract::new(ec, p);
    let verified_logs = c
        .EvidenceVerified_filter()
        .from_block(dep.start_block)
        .query()
        .await
        .map_err(|e| rpc("reading EvidenceVerified", &e))?;
    let (_, vlog) = verified_logs.into_iter().next().ok_or_else(|| {
        Error::State(format!(
            "{ec} has not been verified (no EvidenceVerified event): a bundle needs a Verified EC"
        ))
    })?;
    let verified = tx_ref(&vlog, "EvidenceVerified")?;
    let params = Params {
        video_hash: ev.params.videoHash,
        cipher_hash: ev.params.cipherHash,
        frame_hash: ev.params.frameHash,
        frames_root: ev.params.framesRoot,
        key_commitment: ev.params.keyCommitment,
        recorded_at: ev.params.recordedAt,
        latitude: ev.params.latitude,
        longitude: ev.params.longitude,
        capsule: ev.params.capsule.clone(),
        wrapped_key: ev.params.wrappedKey.clone(),
        owner_umbral_key: ev.params.ownerUmbralKey.clone(),
    };
    let evidence_hash = c
        .evidenceHash()
        .call()
        .await
        .map_err(|e| rpc("evidenceHash", &e))?;

    Ok(EcHistory {
        params,
        owner: ev.owner,
        created,
        verified,
        evidence_hash,
    })
}

/// `eth_getProof` of the EC's status slot and of its SearchContract listing, the EC's code and
/// the header, at `block` (default: the latest). Returns the proof and the block number.
async fn state_proof(chain: &Chain, ec: Address, block: Option<u64>) -> Result<(StateProof, u64)> {
    let (p, dep) = (chain.provider(), chain.deployment());
    // State proofs at one block.
    let number = match block {
        Some(n) => n,
        None => p
            .get_block_number()
            .await
            .map_err(|e| rpc("eth_blockNumber", &e))?,
    };
    let at = BlockId::Number(BlockNumberOrTag::Number(number));
    let header = p
        .get_block_by_number(number.into())
        .await
        .map_err(|e| rpc("eth_getBlockByNumber", &e))?
        .ok_or_else(|| Error::Config(format!("the chain has no block {number}")))?
        .header;
    let ec_account = p
        .get_proof(
            ec,
            vec![B256::from(alloy::primitives::U256::from(EC_STATUS_SLOT))],
        )
        .block_id(at)
        .await
        .map_err(|e| rpc("eth_getProof (EC)", &e))?;
    let search_account = p
        .get_proof(dep.search_contract, vec![owner_of_slot(ec)])
        .block_id(at)
        .await
        .map_err(|e| rpc("eth_getProof (SearchContract)", &e))?;
    let ec_code = p
        .get_code_at(ec)
        .block_id(at)
        .await
        .map_err(|e| rpc("eth_getCode", &e))?;

    Ok((
        StateProof {
            header,
            ec_code,
            ec_account,
            search_account,
        },
        number,
    ))
}

/// The full blocks (transactions and receipts) of `numbers`, each once.
async fn blocks_of(chain: &Chain, numbers: &[u64]) -> Result<Vec<BlockFile>> {
    let p = chain.provider();
    let mut blocks = Vec::new();
    for &n in numbers {
        if blocks
            .iter()
            .any(|b: &BlockFile| b.header.inner.number == n)
        {
            continue;
        }
        let b = p
            .get_block_by_number(n.into())
            .full()
            .await
            .map_err(|e| rpc("eth_getBlockByNumber", &e))?
            .ok_or_else(|| Error::Config(format!("the chain has no block {n}")))?;
        let receipts = p
            .get_block_receipts(BlockId::Number(BlockNumberOrTag::Number(n)))
            .await
            .map_err(|e| rpc("eth_getBlockReceipts", &e))?
            .ok_or_else(|| Error::Config(format!("no receipts for block {n}")))?;
        let transactions = b.transactions.into_transactions().collect();
        blocks.push(BlockFile {
            header: b.header,
            transactions,
            receipts,
        });
    }

    Ok(blocks)
}

/// The device's records and standing: from `--records` / `--device`, or (for a Request
/// Contract, with the requester's key) from the cloud; none, with a note, when neither works.
async fn records_and_device(
    cloud: Option<&Cloud>,
    req: &BundleRequest,
    ec: Address,
    request: Option<Address>,
    chain_id: u64,
) -> Result<(Option<Vec<u8>>, Option<serde_json::Value>)> {
    Ok(match (&req.records, cloud, request, &req.signer) {
        (None, Some(cl), Some(reqc), Some(key)) => {
            match cl.device_records(ec, reqc, chain_id, key).await {
                Ok(r) => {
                    let device = serde_json::to_value(&r.device)
                        .map_err(|e| Error::Config(format!("the device's standing: {e}")))?;
                    (Some(r.records.to_vec()), Some(device))
                }
                Err(e) => {
                    tracing::warn!("no device records in the bundle: {e}");
                    eprintln!(
                        "note: the device's records could not be fetched ({e}); the bundle has none (give --records)"
                    );
                    (None, None)
                }
            }
        }
        _ => {
            let records = req
                .records
                .as_deref()
                .map(|r| read(r, "reading the records"))
                .transpose()?;
            let device = match &req.device {
                Some(d) => Some(
                    serde_json::from_slice(&read(d, "reading the device file")?)
                        .map_err(|e| Error::Config(format!("{} is not JSON: {e}", d.display())))?,
                ),
                None => None,
            };
            (records, device)
        }
    })
}

/// The device's C2PA sidecar: from `--c2pa`, or (for a Request Contract, with the requester's
/// key) from the cloud; none, with a note, when neither works.
async fn c2pa_sidecar(
    cloud: Option<&Cloud>,
    req: &BundleRequest,
    ec: Address,
    request: Option<Address>,
    chain_id: u64,
) -> Result<Option<Vec<u8>>> {
    if let Some(path) = &req.c2pa {
        return read(path, "reading the C2PA sidecar").map(Some);
    }
    let (Some(cl), Some(reqc), Some(key)) = (cloud, request, &req.signer) else {
        return Ok(None);
    };
    match cl.c2pa_sidecar(ec, reqc, chain_id, key).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) => {
            tracing::warn!("no C2PA sidecar in the bundle: {e}");
            eprintln!(
                "note: no C2PA sidecar from the cloud ({e}); the bundle has none (give --c2pa)"
            );
            Ok(None)
        }
    }
}

fn tx_ref(log: &alloy::rpc::types::Log, what: &str) -> Result<TxRef> {
    match (log.transaction_hash, log.block_number) {
        (Some(tx), Some(block)) => Ok(TxRef { tx, block }),
        _ => Err(Error::State(format!(
            "the {what} log has no transaction or block (pending?)"
        ))),
    }
}

async fn thumbnail(cloud: &Cloud, ec: Address) -> Result<Vec<u8>> {
    let url = cloud.url(&format!("/v1/clips/{ec}/thumbnails/first"))?;
    let resp = reqwest::get(url.clone())
        .await
        .map_err(|e| Error::CloudDown {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    if !resp.status().is_success() {
        return Err(Error::CloudHttp {
            what: "the thumbnail".into(),
            status: resp.status().as_u16(),
            detail: String::new(),
        });
    }
    Ok(resp
        .bytes()
        .await
        .map_err(|e| Error::CloudDown {
            url: url.to_string(),
            reason: e.to_string(),
        })?
        .to_vec())
}
