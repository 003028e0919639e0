//! The indexer: follows `EvidenceListed` (SearchContract), `RequestOpened` (ResponseContract) and
//! the request contracts' state events, `confirmations` blocks behind the head. Progress
//! (`next_block`) and the hashes of recently indexed blocks are stored; when a stored hash no
//! longer matches the chain (a reorg), everything indexed from the fork point on is deleted and
//! indexed again.

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use sqlx::Row;

use super::Chain;
use super::bindings::{RequestContract as R, ResponseContract, SearchContract};
use crate::api::AppState;
use crate::error::CloudError;

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

async fn next_block(st: &AppState, chain: &Chain) -> Result<u64, CloudError> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT value FROM indexer_state WHERE name = 'next_block'")
            .fetch_optional(st.db.pool())
            .await?;
    Ok(v.map_or(chain.deployment.start_block, |v| v as u64))
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
async fn detect_reorg(st: &AppState, chain: &Chain) -> Result<Option<u64>, CloudError> {
    let rows = sqlx::query("SELECT number, hash FROM indexer_blocks ORDER BY number DESC")
        .fetch_all(st.db.pool())
        .await?;
    let mut mismatch_seen = false;
    let mut resume = chain.deployment.start_block;
    for r in &rows {
        let n: i64 = r.try_get(0)?;
        let h: String = r.try_get(1)?;
        if block_hash(chain, n as u64).await?.as_deref() == Some(h.as_str()) {
            resume = n as u64 + 1;
            break;
        }
        mismatch_seen = true;
    }
    if !mismatch_seen {
        return Ok(None);
    }
    rewind(st, resume).await?;
    tracing::warn!(resume_from = resume, "chain reorganised: rewound the index");
    Ok(Some(resume))
}

/// Deletes everything indexed at or after `from` and sets progress back to `from`.
async fn rewind(st: &AppState, from: u64) -> Result<(), CloudError> {
    let f = from as i64;
    let mut tx = st.db.begin_write().await?;
    sqlx::query("DELETE FROM listings WHERE block_number >= $1")
        .bind(f)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM requests WHERE block_number >= $1")
        .bind(f)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM request_events WHERE block_number >= $1")
        .bind(f)
        .execute(&mut *tx)
        .await?;
    // Requests opened before the fork: their state is their latest remaining event.
    let touched = sqlx::query("SELECT reqc, block_number FROM requests WHERE updated_block >= $1")
        .bind(f)
        .fetch_all(&mut *tx)
        .await?;
    for r in touched {
        let reqc: String = r.try_get(0)?;
        let opened: i64 = r.try_get(1)?;
        let last = sqlx::query("SELECT state, block_number FROM request_events WHERE reqc = $1 ORDER BY block_number DESC, log_index DESC LIMIT 1")
            .bind(&reqc)
            .fetch_optional(&mut *tx)
            .await?;
        let (state, block): (String, i64) = match last {
            Some(l) => (l.try_get(0)?, l.try_get(1)?),
            None => ("Open".into(), opened),
        };
        sqlx::query("UPDATE requests SET state = $1, updated_block = $2 WHERE reqc = $3")
            .bind(state)
            .bind(block)
            .bind(&reqc)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM indexer_blocks WHERE number >= $1")
        .bind(f)
        .execute(&mut *tx)
        .await?;
    set_next(&mut tx, from).await?;
    tx.commit().await?;
    Ok(())
}

async fn set_next(tx: &mut sqlx::Transaction<'_, sqlx::Any>, next: u64) -> Result<(), CloudError> {
    sqlx::query(
        "INSERT INTO indexer_state (name, value) VALUES ('next_block', $1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(next as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn state_of(log: &Log) -> Option<&'static str> {
    let t0 = *log.topic0()?;
    Some(match t0 {
        x if x == R::RequestResponded::SIGNATURE_HASH => "Responded",
        x if x == R::RequestDeclined::SIGNATURE_HASH => "Declined",
        x if x == R::RequestCancelled::SIGNATURE_HASH => "Cancelled",
        x if x == R::RequestConfirmed::SIGNATURE_HASH => "Completed",
        x if x == R::RequestDisputed::SIGNATURE_HASH => "Disputed",
        x if x == R::RequestClaimed::SIGNATURE_HASH => "Claimed",
        x if x == R::DisputeExpired::SIGNATURE_HASH => "DisputeExpired",
        x if x == R::DisputeResolved::SIGNATURE_HASH => {
            let ev = R::DisputeResolved::decode_log_data(log.data()).ok()?;
            if ev.kfragValid {
                "ResolvedForOwner"
            } else {
                "ResolvedForRequester"
            }
        }
        _ => return None,
    })
}

/// One indexing step: reorg check, then up to [`MAX_RANGE`] confirmed blocks.
pub async fn run_once(st: &AppState, chain: &Chain) -> Result<Step, CloudError> {
    let mut step = Step {
        rewound_to: detect_reorg(st, chain).await?,
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
    let from = next_block(st, chain).await?;
    if from > safe {
        return Ok(step);
    }
    let to = safe.min(from + MAX_RANGE - 1);
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
    // The hash of every block we take events from, and of the range end, are recorded.
    let mut blocks: Vec<(u64, String)> = Vec::new();
    let mut tx = st.db.begin_write().await?;
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
        let t0 = log.topic0().copied();
        if t0 == Some(SearchContract::EvidenceListed::SIGNATURE_HASH)
            && log.address() == d.search_contract
        {
            let ev = SearchContract::EvidenceListed::decode_log_data(log.data())
                .map_err(|e| CloudError::Chain(e.to_string()))?;
            sqlx::query(
                "INSERT INTO listings (ec_address, t, lat, lon, status, block_number) VALUES ($1, $2, $3, $4, 'verified', $5) \
                 ON CONFLICT (ec_address) DO UPDATE SET t = excluded.t, lat = excluded.lat, lon = excluded.lon, block_number = excluded.block_number",
            )
            .bind(format!("{:#x}", ev.ec))
            .bind(ev.recordedAt as i64)
            .bind(f64::from(ev.latitude) / 1e6)
            .bind(f64::from(ev.longitude) / 1e6)
            .bind(bn as i64)
            .execute(&mut *tx)
            .await?;
            step.events += 1;
        } else if t0 == Some(ResponseContract::RequestOpened::SIGNATURE_HASH)
            && log.address() == d.response_contract
        {
            let ev = ResponseContract::RequestOpened::decode_log_data(log.data())
                .map_err(|e| CloudError::Chain(e.to_string()))?;
            sqlx::query(
                "INSERT INTO requests (reqc, ec_address, requester, owner, state, block_number, updated_block) \
                 VALUES ($1, $2, $3, $4, 'Open', $5, $5) ON CONFLICT (reqc) DO NOTHING",
            )
            .bind(format!("{:#x}", ev.reqc))
            .bind(format!("{:#x}", ev.ec))
            .bind(format!("{:#x}", ev.requester))
            .bind(format!("{:#x}", ev.owner))
            .bind(bn as i64)
            .execute(&mut *tx)
            .await?;
            step.events += 1;
        } else if let Some(state) = state_of(log) {
            // Only request contracts we saw opened through our ResponseContract count.
            let reqc = format!("{:#x}", log.address());
            let known: Option<String> =
                sqlx::query_scalar("SELECT reqc FROM requests WHERE reqc = $1")
                    .bind(&reqc)
                    .fetch_optional(&mut *tx)
                    .await?;
            if known.is_none() {
                continue;
            }
            sqlx::query("INSERT INTO request_events (reqc, block_number, log_index, state) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(&reqc)
                .bind(bn as i64)
                .bind(li as i64)
                .bind(state)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE requests SET state = $1, updated_block = $2 WHERE reqc = $3")
                .bind(state)
                .bind(bn as i64)
                .bind(&reqc)
                .execute(&mut *tx)
                .await?;
            step.events += 1;
        }
    }
    if blocks.last().map(|b| b.0) != Some(to)
        && let Some(h) = block_hash(chain, to).await?
    {
        blocks.push((to, h));
    }
    for (n, h) in &blocks {
        sqlx::query("INSERT INTO indexer_blocks (number, hash) VALUES ($1, $2) ON CONFLICT (number) DO UPDATE SET hash = excluded.hash")
            .bind(*n as i64)
            .bind(h)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "DELETE FROM indexer_blocks WHERE number < (SELECT MIN(number) FROM \
         (SELECT number FROM indexer_blocks ORDER BY number DESC LIMIT $1) AS recent)",
    )
    .bind(KEEP_BLOCKS)
    .execute(&mut *tx)
    .await?;
    set_next(&mut tx, to + 1).await?;
    tx.commit().await?;
    step.range = Some((from, to));
    Ok(step)
}

/// The owner of a request as indexed (for tests and the API).
pub async fn request_state(st: &AppState, reqc: Address) -> Result<Option<String>, CloudError> {
    Ok(
        sqlx::query_scalar("SELECT state FROM requests WHERE reqc = $1")
            .bind(format!("{reqc:#x}"))
            .fetch_optional(st.db.pool())
            .await?,
    )
}
