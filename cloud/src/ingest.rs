//! The storage half of evidence ingest, with group commit.
//!
//! Handlers hand verified batches ("jobs") to one writer task. The writer takes every job that
//! is waiting (up to [`GROUP_RECORDS`] records), stores them in one transaction — one fsync for
//! many requests — and answers each job when the transaction is durable. Each device's chain
//! tip is read once per group and advanced in memory, so records are checked in arrival order.
//! A job from an unknown, pending or revoked device is refused before anything of it is written.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use alloy::primitives::{Address, B256};
use dashledger_api::admin::{AlarmKind, DeviceStatus};
use dashledger_api::evidence::{Finding as FindingView, IngestResult};
use dashledger_protocol::chain::{ChainChecker, Finding};
use dashledger_protocol::record::{EvidenceRecord, VerifiedRecord};
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::now_unix;
use crate::store::{Store, Tx, addr_key};

/// Most records stored in one group transaction.
const GROUP_RECORDS: usize = 20_000;

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
    /// Starts the writer task (it ends when every handle is dropped).
    pub fn start(store: Store, metrics: Arc<Metrics>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let task = tokio::spawn(writer(store, metrics, rx));
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

async fn writer(store: Store, metrics: Arc<Metrics>, mut rx: mpsc::Receiver<Job>) {
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
        let (replies, batches): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.reply, j.batch)).unzip();
        match store_group(&store, &metrics, &batches).await {
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
    /// None: not registered.
    status: Option<DeviceStatus>,
    checker: ChainChecker,
    dirty: bool,
}

/// Stores a group of jobs in one transaction. The outer error aborts the whole group; a job's
/// own refusal (bad device) is its inner error.
async fn store_group(
    store: &Store,
    metrics: &Metrics,
    batches: &[Batch],
) -> Result<Vec<Result<IngestResult, ApiError>>, ApiError> {
    let now = now_unix();
    let mut tx = store.begin_write().await?;
    let mut devices: HashMap<Address, DeviceState> = HashMap::new();
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        // Load (once per group) and check every device of this job before writing anything.
        if let Some(r) = refusal(&mut tx, &mut devices, batch).await? {
            out.push(Err(r));
            continue;
        }
        out.push(Ok(store_batch(&mut tx, &mut devices, batch, now).await?));
    }
    for (device, dev) in &devices {
        if let (true, Some(tip)) = (dev.dirty, dev.checker.tip()) {
            tx.set_tip(&addr_key(device), &tip, now).await?;
        }
    }
    tx.commit().await?;
    count_stored(metrics, &out);
    Ok(out)
}

/// Loads each device of `batch` not yet in `devices`, in order; the refusal of the first one
/// that is not approved.
async fn refusal(
    tx: &mut Tx,
    devices: &mut HashMap<Address, DeviceState>,
    batch: &Batch,
) -> Result<Option<ApiError>, ApiError> {
    for device in batch.keys() {
        if !devices.contains_key(device) {
            let row = tx.device(&addr_key(device)).await?;
            let state = DeviceState {
                status: row.as_ref().map(|r| r.status),
                checker: match row.and_then(|r| r.tip) {
                    Some(t) => ChainChecker::resume(*device, t),
                    None => ChainChecker::new(*device),
                },
                dirty: false,
            };
            devices.insert(*device, state);
        }
        if let Some(r) = device_refusal(device, devices[device].status) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// 403 unless the device is registered and approved.
fn device_refusal(device: &Address, status: Option<DeviceStatus>) -> Option<ApiError> {
    let dkey = addr_key(device);
    match status {
        Some(DeviceStatus::Approved) => None,
        None => Some(ApiError::forbidden(
            "unknown_device",
            format!("device {dkey} is not registered with this cloud"),
        )),
        Some(DeviceStatus::Revoked) => Some(ApiError::forbidden(
            "revoked_device",
            format!("device {dkey} has been revoked"),
        )),
        Some(DeviceStatus::Pending) => Some(ApiError::forbidden(
            "device_not_approved",
            format!("device {dkey} is awaiting operator approval"),
        )),
    }
}

/// Stores the records of one job, device by device, and raises an alarm for each finding.
async fn store_batch(
    tx: &mut Tx,
    devices: &mut HashMap<Address, DeviceState>,
    batch: &Batch,
    now: i64,
) -> Result<IngestResult, ApiError> {
    let mut result = IngestResult {
        accepted: 0,
        duplicates: 0,
        findings: Vec::new(),
    };
    for (device, records) in batch {
        let dev = devices.get_mut(device).expect("loaded above");
        let (findings, accepted, duplicates) = store_device(tx, dev, device, records, now).await?;
        result.accepted += accepted;
        result.duplicates += duplicates;
        for f in findings_view(device, &findings) {
            tx.raise_alarm(&f.device, f.kind, i64::from(f.seq), &f.detail, now)
                .await?;
            result.findings.push(f);
        }
    }
    Ok(result)
}

/// Metrics and a log line per alarm, once the group is durable.
fn count_stored(metrics: &Metrics, out: &[Result<IngestResult, ApiError>]) {
    for r in out.iter().flatten() {
        metrics.records_accepted.inc_by(r.accepted);
        metrics.records_duplicate.inc_by(r.duplicates);
        metrics.alarms_raised.inc_by(r.findings.len() as u64);
        for f in &r.findings {
            tracing::warn!(device = %f.device, kind = %f.kind, seq = f.seq, detail = %f.detail, "chain alarm");
        }
    }
}

/// Inserts one device's records of one job (conflicts ignored), then classifies each record in
/// arrival order: new (chain-checked), duplicate, or fork.
async fn store_device(
    tx: &mut Tx,
    dev: &mut DeviceState,
    device: &Address,
    records: &[VerifiedRecord],
    now: i64,
) -> Result<(Vec<Finding>, u64, u64), ApiError> {
    let dkey = addr_key(device);
    let inserted = tx.insert_records(&dkey, records, now).await?;
    // Stored ids of the records that were not inserted now (to tell duplicates from forks).
    let others: Vec<u32> = records
        .iter()
        .map(|r| r.record().seq)
        .filter(|s| !inserted.contains(s))
        .collect();
    let existing = tx.record_ids(&dkey, &others).await?;
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
    tx: &mut Tx,
    dkey: &str,
    rec: &EvidenceRecord,
) -> Result<Vec<Finding>, ApiError> {
    let mut out = Vec::new();
    let below = rec.seq.checked_sub(1);
    let above = rec.seq.checked_add(1);
    let wanted: Vec<u32> = below.into_iter().chain(above).collect();
    let neighbours = tx.records_at(dkey, &wanted).await?;
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

/// The API view of the chain findings on `device`'s records (also stored as alarms).
pub(crate) fn findings_view(device: &Address, f: &[Finding]) -> Vec<FindingView> {
    f.iter().map(|f| finding_view(device, f)).collect()
}

fn finding_view(device: &Address, f: &Finding) -> FindingView {
    let device = addr_key(device);
    match *f {
        Finding::Gap { from, to } => FindingView {
            device,
            kind: AlarmKind::Gap,
            seq: from,
            detail: format!("records {from}..={to} missing"),
        },
        Finding::Fork { seq, first, second } => FindingView {
            device,
            kind: AlarmKind::Fork,
            seq,
            detail: format!("two different records for seq {seq}: kept {first}, refused {second}"),
        },
        Finding::Break {
            seq,
            expected_prev,
            got_prev,
        } => FindingView {
            device,
            kind: AlarmKind::Break,
            seq,
            detail: format!(
                "prev_hash {got_prev} does not match previous segment hash {expected_prev}"
            ),
        },
        Finding::Reordered { seq, after } => FindingView {
            device,
            kind: AlarmKind::Reordered,
            seq,
            detail: format!("record {seq} arrived after record {after}"),
        },
    }
}
