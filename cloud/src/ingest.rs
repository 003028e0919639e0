//! The storage half of evidence ingest, with group commit.
//!
//! Handlers hand verified batches ("jobs") to one writer task. The writer takes every job that
//! is waiting (up to [`GROUP_RECORDS`] records), stores them in one transaction — one fsync for
//! many requests — and answers each job when the transaction is durable. Each device's chain
//! tip is read once per group and advanced in memory, so records are checked in arrival order.
//! A job from an unknown, pending or revoked device is refused before anything of it is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;

use alloy::primitives::{Address, B256};
use dashledger_protocol::chain::{ChainChecker, Finding};
use dashledger_protocol::record::VerifiedRecord;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::api::evidence::{FindingView, IngestResult, findings_view, new_checker, tip_from_row};
use crate::api::{AppState, addr_key};
use crate::error::ApiError;
use crate::now_unix;

/// Most records stored in one group transaction.
const GROUP_RECORDS: usize = 20_000;
/// Rows per multi-row INSERT (7 parameters each; well under SQLite's 32766 limit).
const ROWS_PER_INSERT: usize = 500;

/// Verified records of one request, grouped by device (arrival order kept within a device).
pub(crate) type Batch = BTreeMap<Address, Vec<VerifiedRecord>>;

/// One request's records and where to send its answer.
#[derive(Debug)]
pub(crate) struct Job {
    batch: Batch,
    reply: oneshot::Sender<Result<IngestResult, ApiError>>,
}

/// The handle the HTTP handlers use.
#[derive(Debug, Clone)]
pub struct IngestQueue {
    tx: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// Starts the writer task for `st` (call once, after the state exists).
    pub fn start(st: std::sync::Weak<AppState>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let task = tokio::spawn(writer(st, rx));
        (Self { tx }, task)
    }

    /// Stores a batch; resolves once it is durable (or refused).
    pub(crate) async fn submit(&self, batch: Batch) -> Result<IngestResult, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { batch, reply }).await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down; retry",
            )
        })?;
        rx.await
            .map_err(|_| ApiError::internal("ingest writer stopped"))?
    }
}

async fn writer(st: std::sync::Weak<AppState>, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut n: usize = jobs[0].batch.values().map(Vec::len).sum();
        while n < GROUP_RECORDS {
            match rx.try_recv() {
                Ok(j) => {
                    n += j.batch.values().map(Vec::len).sum::<usize>();
                    jobs.push(j);
                }
                Err(_) => break,
            }
        }
        let Some(st) = st.upgrade() else { return };
        let (replies, batches): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.reply, j.batch)).unzip();
        match store_group(&st, &batches).await {
            Ok(results) => {
                for (reply, res) in replies.into_iter().zip(results) {
                    let _ = reply.send(res);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = replies.len(), "ingest group failed; nothing of it was stored");
                for reply in replies {
                    let _ = reply.send(Err(ApiError::new(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        "storage_unavailable",
                        "the records could not be stored; nothing was kept, retry",
                    )));
                }
            }
        }
    }
}

struct DeviceState {
    status: String,
    checker: ChainChecker,
    dirty: bool,
}

/// Stores a group of jobs in one transaction. The outer error aborts the whole group; a job's
/// own refusal (bad device) is its inner error.
async fn store_group(
    st: &AppState,
    batches: &[Batch],
) -> Result<Vec<Result<IngestResult, ApiError>>, ApiError> {
    let now = now_unix();
    let mut tx = st.db.begin_write().await?;
    let mut devices: HashMap<Address, DeviceState> = HashMap::new();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        // Load (once per group) and check every device of this job before writing anything.
        let mut refused = None;
        for device in batch.keys() {
            if !devices.contains_key(device) {
                let dkey = addr_key(device);
                let row = sqlx::query("SELECT status, tip_seq, tip_segment_hash, tip_record_id FROM devices WHERE address = $1")
                    .bind(&dkey)
                    .fetch_optional(&mut *tx)
                    .await?;
                let state = match row {
                    None => DeviceState {
                        status: "unknown".into(),
                        checker: ChainChecker::new(*device),
                        dirty: false,
                    },
                    Some(r) => {
                        let t = tip_from_row(&r)?;
                        DeviceState {
                            status: t.status,
                            checker: new_checker(*device, t.tip),
                            dirty: false,
                        }
                    }
                };
                devices.insert(*device, state);
            }
            let dkey = addr_key(device);
            let refusal = match devices[device].status.as_str() {
                "approved" => None,
                "unknown" => Some(ApiError::forbidden(
                    "unknown_device",
                    format!("device {dkey} is not registered with this cloud"),
                )),
                "revoked" => Some(ApiError::forbidden(
                    "revoked_device",
                    format!("device {dkey} has been revoked"),
                )),
                _ => Some(ApiError::forbidden(
                    "device_not_approved",
                    format!("device {dkey} is awaiting operator approval"),
                )),
            };
            if let Some(r) = refusal {
                refused = Some(r);
                break;
            }
        }
        if let Some(r) = refused {
            out.push(Err(r));
            continue;
        }
        let mut result = IngestResult {
            accepted: 0,
            duplicates: 0,
            findings: Vec::new(),
        };
        for (device, records) in batch {
            let dev = devices.get_mut(device).expect("loaded above");
            let (findings, accepted, duplicates) =
                store_device(&mut tx, dev, device, records, now).await?;
            result.accepted += accepted;
            result.duplicates += duplicates;
            for f in findings_view(device, &findings) {
                raise_alarm(&mut tx, &f, now).await?;
                result.findings.push(f);
            }
        }
        out.push(Ok(result));
    }
    for (device, dev) in &devices {
        if let (true, Some(tip)) = (dev.dirty, dev.checker.tip()) {
            sqlx::query("UPDATE devices SET tip_seq = $1, tip_segment_hash = $2, tip_record_id = $3, updated_at = $4 WHERE address = $5")
                .bind(i64::from(tip.seq))
                .bind(tip.segment_hash.as_slice().to_vec())
                .bind(tip.record_id.as_slice().to_vec())
                .bind(now)
                .bind(addr_key(device))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    for r in out.iter().flatten() {
        st.metrics
            .records_accepted
            .fetch_add(r.accepted, Ordering::Relaxed);
        st.metrics
            .records_duplicate
            .fetch_add(r.duplicates, Ordering::Relaxed);
        st.metrics
            .alarms_raised
            .fetch_add(r.findings.len() as u64, Ordering::Relaxed);
        for f in &r.findings {
            tracing::warn!(device = %f.device, kind = %f.kind, seq = f.seq, detail = %f.detail, "chain alarm");
        }
    }
    Ok(out)
}

/// Inserts one device's records of one job (multi-row, conflicts ignored), then classifies each
/// record in arrival order: new (chain-checked), duplicate, or fork.
async fn store_device(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dev: &mut DeviceState,
    device: &Address,
    records: &[VerifiedRecord],
    now: i64,
) -> Result<(Vec<Finding>, u64, u64), ApiError> {
    let dkey = addr_key(device);
    let mut inserted: HashSet<u32> = HashSet::new();
    for part in records.chunks(ROWS_PER_INSERT) {
        let mut sql = String::from(
            "INSERT INTO evidence (device, seq, record_id, segment_start, segment_hash, signed, received_at) VALUES ",
        );
        for i in 0..part.len() {
            let b = i * 7;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        sql.push_str(" ON CONFLICT (device, seq) DO NOTHING RETURNING seq");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in part {
            let rec = r.record();
            q = q
                .bind(dkey.clone())
                .bind(i64::from(rec.seq))
                .bind(rec.id().as_slice().to_vec())
                .bind(rec.start.to_unix() as i64)
                .bind(rec.segment_hash.as_slice().to_vec())
                .bind(r.signed().encode().to_vec())
                .bind(now);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let seq: i64 = row.try_get(0)?;
            inserted.insert(seq as u32);
        }
    }
    // Stored ids of the records that were not inserted now (to tell duplicates from forks).
    let others: Vec<u32> = records
        .iter()
        .map(|r| r.record().seq)
        .filter(|s| !inserted.contains(s))
        .collect();
    let mut existing: HashMap<u32, B256> = HashMap::new();
    for part in others.chunks(ROWS_PER_INSERT) {
        let list: Vec<String> = part.iter().map(u32::to_string).collect();
        let sql = format!(
            "SELECT seq, record_id FROM evidence WHERE device = $1 AND seq IN ({})",
            list.join(",")
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&dkey)
            .fetch_all(&mut **tx)
            .await?
        {
            let seq: i64 = row.try_get(0)?;
            let id: Vec<u8> = row.try_get(1)?;
            if id.len() == 32 {
                existing.insert(seq as u32, B256::from_slice(&id));
            }
        }
    }
    let mut findings = Vec::new();
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    let mut seen: HashMap<u32, B256> = HashMap::new();
    for r in records {
        let rec = r.record();
        let id = rec.id();
        let first = seen
            .get(&rec.seq)
            .copied()
            .or_else(|| existing.get(&rec.seq).copied());
        match first {
            Some(prev) if prev == id => duplicates += 1,
            Some(prev) => findings.push(Finding::Fork {
                seq: rec.seq,
                first: prev,
                second: id,
            }),
            None => {
                // Only the first occurrence of an inserted seq reaches here.
                accepted += 1;
                let pushed = dev
                    .checker
                    .push(rec)
                    .map_err(|e| ApiError::internal(format!("chain checker: {e}")))?;
                let late = pushed
                    .iter()
                    .any(|f| matches!(f, Finding::Reordered { .. }));
                findings.extend(pushed);
                if late {
                    // The checker knows only the tip: a record filling a gap is checked here
                    // against both stored neighbours.
                    findings.extend(check_neighbours(tx, &dkey, rec).await?);
                }
                dev.dirty = true;
            }
        }
        seen.entry(rec.seq).or_insert(id);
    }
    Ok((findings, accepted, duplicates))
}

/// A late record `n` (filling a gap) against the stored records `n - 1` and `n + 1`: its
/// `prev_hash` must be the segment hash of `n - 1` (zero for `n == 0`), and the `prev_hash` of
/// `n + 1` must be its segment hash. Each mismatch is a [`Finding::Break`] of the later record.
async fn check_neighbours(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    dkey: &str,
    rec: &dashledger_protocol::record::EvidenceRecord,
) -> Result<Vec<Finding>, ApiError> {
    let mut out = Vec::new();
    let below = rec.seq.checked_sub(1).map(i64::from);
    let above = rec.seq.checked_add(1).map(i64::from);
    let rows =
        sqlx::query("SELECT seq, signed FROM evidence WHERE device = $1 AND seq IN ($2, $3)")
            .bind(dkey)
            .bind(below.unwrap_or(-1))
            .bind(above.unwrap_or(-1))
            .fetch_all(&mut **tx)
            .await?;
    let mut neighbours = HashMap::new();
    for row in rows {
        let seq: i64 = row.try_get(0)?;
        let signed: Vec<u8> = row.try_get(1)?;
        let stored = dashledger_protocol::record::SignedRecord::decode(&signed)
            .map_err(|e| ApiError::internal(format!("stored record {dkey}/{seq}: {e}")))?;
        neighbours.insert(seq, *stored.record());
    }
    let expected_prev = match below {
        None => Some(B256::ZERO),
        Some(b) => neighbours.get(&b).map(|p| p.segment_hash),
    };
    if let Some(expected_prev) = expected_prev
        && rec.prev_hash != expected_prev
    {
        out.push(Finding::Break {
            seq: rec.seq,
            expected_prev,
            got_prev: rec.prev_hash,
        });
    }
    if let Some(next) = above.and_then(|a| neighbours.get(&a))
        && next.prev_hash != rec.segment_hash
    {
        out.push(Finding::Break {
            seq: next.seq,
            expected_prev: rec.segment_hash,
            got_prev: next.prev_hash,
        });
    }
    Ok(out)
}

async fn raise_alarm(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    f: &FindingView,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO alarms (device, kind, seq, detail, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (device, kind, seq, detail) DO NOTHING",
    )
    .bind(&f.device)
    .bind(f.kind.as_str())
    .bind(i64::from(f.seq))
    .bind(&f.detail)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
