//! The indexer: follows `EvidenceListed` (SearchContract), `RequestOpened` (ResponseContract) and
//! the request contracts' state events, `confirmations` blocks behind the head. Progress
//! (`next_block`) and the hashes of recently indexed blocks are stored; when a stored hash no
//! longer matches the chain (a reorg), everything indexed from the fork point on is deleted and
//! indexed again.

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use dashledger_api::requests::{RequestState, RequestView};

use super::bindings::{RequestContract as R, ResponseContract, SearchContract};
use super::{Chain, Deployment};
use crate::error::CloudError;
use crate::store::listings::ListingRow;
use crate::store::{Store, Tx};

/// Largest block range of one `eth_getLogs`.
const MAX_RANGE: u64 = 2000;
/// Block hashes kept for reorg detection.
const KEEP_BLOCKS: i64 = 512;

/// What one indexer step did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// Blocks `from..=to` were indexed (None: nothing new).
    pub range: Option<(u64, u64)>,
    /// Events applied.
    pub events: usize,
    /// A reorg was detected and indexing rewound to this block.
    pub rewound_to: Option<u64>,
}

fn cerr(what: &str) -> impl FnOnce(alloy::transports::TransportError) -> CloudError + '_ {
    move |e| CloudError::Chain(format!("{what}: {e}"))
}

async fn next_block(store: &Store, chain: &Chain) -> Result<u64, CloudError> {
    Ok(store
        .next_block()
        .await?
        .unwrap_or(chain.deployment.start_block))
}

async fn block_hash(chain: &Chain, n: u64) -> Result<Option<String>, CloudError> {
    let b = chain
        .provider
        .get_block_by_number(n.into())
        .await
        .map_err(cerr("get_block"))?;
    Ok(b.map(|b| format!("{:#x}", b.header.hash)))
}

/// Checks stored block hashes against the chain, newest first; on a mismatch rewinds to just
/// after the newest block that still matches. Returns the block indexing resumes from.
async fn detect_reorg(store: &Store, chain: &Chain) -> Result<Option<u64>, CloudError> {
    let rows = store.indexed_blocks().await?;
    let mut mismatch_seen = false;
    let mut resume = chain.deployment.start_block;
    for (n, h) in &rows {
        if block_hash(chain, *n).await?.as_deref() == Some(h.as_str()) {
            resume = n + 1;
            break;
        }
        mismatch_seen = true;
    }
    if !mismatch_seen {
        return Ok(None);
    }
    let mut tx = store.begin_write().await?;
    tx.rewind(resume).await?;
    tx.commit().await?;
    tracing::warn!(resume_from = resume, "chain reorganised: rewound the index");
    Ok(Some(resume))
}

fn state_of(log: &Log) -> Option<RequestState> {
    let t0 = *log.topic0()?;
    Some(match t0 {
        x if x == R::RequestResponded::SIGNATURE_HASH => RequestState::Responded,
        x if x == R::RequestDeclined::SIGNATURE_HASH => RequestState::Declined,
        x if x == R::RequestCancelled::SIGNATURE_HASH => RequestState::Cancelled,
        x if x == R::RequestConfirmed::SIGNATURE_HASH => RequestState::Completed,
        x if x == R::RequestDisputed::SIGNATURE_HASH => RequestState::Disputed,
        x if x == R::RequestClaimed::SIGNATURE_HASH => RequestState::Claimed,
        x if x == R::DisputeExpired::SIGNATURE_HASH => RequestState::DisputeExpired,
        x if x == R::DisputeResolved::SIGNATURE_HASH => {
            let ev = R::DisputeResolved::decode_log_data(log.data()).ok()?;
            if ev.kfragValid {
                RequestState::ResolvedForOwner
            } else {
                RequestState::ResolvedForRequester
            }
        }
        _ => return None,
    })
}

/// One indexing step: reorg check, then up to [`MAX_RANGE`] confirmed blocks.
pub async fn run_once(store: &Store, chain: &Chain) -> Result<Step, CloudError> {
    let mut step = Step {
        rewound_to: detect_reorg(store, chain).await?,
        ..Step::default()
    };
    let head = chain
        .provider
        .get_block_number()
        .await
        .map_err(cerr("get_block_number"))?;
    let Some(safe) = head.checked_sub(chain.confirmations) else {
        return Ok(step);
    };
    let from = next_block(store, chain).await?;
    if from > safe {
        return Ok(step);
    }
    let to = safe.min(from + MAX_RANGE - 1);
    let logs = logs_in(chain, from, to).await?;
    // The hash of every block we take events from, and of the range end, are recorded.
    let mut blocks: Vec<(u64, String)> = Vec::new();
    let mut tx = store.begin_write().await?;
    for log in &logs {
        let (Some(bn), Some(li)) = (log.block_number, log.log_index) else {
            continue;
        };
        let bh = log
            .block_hash
            .map(|h| format!("{h:#x}"))
            .unwrap_or_default();
        if blocks.last().map(|b| b.0) != Some(bn) {
            blocks.push((bn, bh));
        }
        if apply(&mut tx, &chain.deployment, log, bn, li).await? {
            step.events += 1;
        }
    }
    if blocks.last().map(|b| b.0) != Some(to)
        && let Some(h) = block_hash(chain, to).await?
    {
        blocks.push((to, h));
    }
    for (n, h) in &blocks {
        tx.record_block(*n, h).await?;
    }
    tx.prune_blocks(KEEP_BLOCKS).await?;
    tx.set_next_block(to + 1).await?;
    tx.commit().await?;
    step.range = Some((from, to));
    Ok(step)
}

/// The events of `from..=to` the index follows (listings, opened requests, request state
/// changes), in chain order.
async fn logs_in(chain: &Chain, from: u64, to: u64) -> Result<Vec<Log>, CloudError> {
    let d = &chain.deployment;
    let listed = Filter::new()
        .address(vec![d.search_contract, d.response_contract])
        .event_signature(vec![
            SearchContract::EvidenceListed::SIGNATURE_HASH,
            ResponseContract::RequestOpened::SIGNATURE_HASH,
        ])
        .from_block(from)
        .to_block(to);
    let reqc_events = Filter::new()
        .event_signature(vec![
            R::RequestResponded::SIGNATURE_HASH,
            R::RequestDeclined::SIGNATURE_HASH,
            R::RequestCancelled::SIGNATURE_HASH,
            R::RequestConfirmed::SIGNATURE_HASH,
            R::RequestDisputed::SIGNATURE_HASH,
            R::RequestClaimed::SIGNATURE_HASH,
            R::DisputeExpired::SIGNATURE_HASH,
            R::DisputeResolved::SIGNATURE_HASH,
        ])
        .from_block(from)
        .to_block(to);
    let mut logs = chain
        .provider
        .get_logs(&listed)
        .await
        .map_err(cerr("get_logs"))?;
    logs.extend(
        chain
            .provider
            .get_logs(&reqc_events)
            .await
            .map_err(cerr("get_logs"))?,
    );
    logs.sort_by_key(|l| (l.block_number, l.log_index));
    Ok(logs)
}

/// Writes what one event says; whether it counted (a state change of a request we never saw
/// opened through our ResponseContract does not).
async fn apply(
    tx: &mut Tx,
    d: &Deployment,
    log: &Log,
    bn: u64,
    li: u64,
) -> Result<bool, CloudError> {
    let t0 = log.topic0().copied();
    if t0 == Some(SearchContract::EvidenceListed::SIGNATURE_HASH)
        && log.address() == d.search_contract
    {
        let ev = SearchContract::EvidenceListed::decode_log_data(log.data())
            .map_err(|e| CloudError::Chain(e.to_string()))?;
        tx.upsert_listing(
            &ListingRow {
                ec_address: format!("{:#x}", ev.ec),
                t: i64::try_from(ev.recordedAt).unwrap_or(i64::MAX),
                lat: f64::from(ev.latitude) / 1e6,
                lon: f64::from(ev.longitude) / 1e6,
                status: "verified".into(),
            },
            bn as i64,
        )
        .await?;
    } else if t0 == Some(ResponseContract::RequestOpened::SIGNATURE_HASH)
        && log.address() == d.response_contract
    {
        let ev = ResponseContract::RequestOpened::decode_log_data(log.data())
            .map_err(|e| CloudError::Chain(e.to_string()))?;
        tx.insert_request(&RequestView {
            reqc: format!("{:#x}", ev.reqc),
            ec_address: format!("{:#x}", ev.ec),
            requester: format!("{:#x}", ev.requester),
            owner: format!("{:#x}", ev.owner),
            state: RequestState::Open,
            block_number: bn as i64,
        })
        .await?;
    } else if let Some(state) = state_of(log) {
        // Only request contracts we saw opened through our ResponseContract count.
        let reqc = format!("{:#x}", log.address());
        if !tx.request_known(&reqc).await? {
            return Ok(false);
        }
        tx.request_event(&reqc, bn as i64, li as i64, state).await?;
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// The state of a request as indexed (for tests and the API).
pub async fn request_state(
    store: &Store,
    reqc: Address,
) -> Result<Option<RequestState>, CloudError> {
    store.request_state(&format!("{reqc:#x}")).await
}
