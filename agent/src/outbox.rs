//! The durable outbox: an SQLite database (WAL, `synchronous=FULL`) holding every segment the
//! agent has seen and the state of the work on it. Every state change is one committed
//! transaction, so a kill -9 or a power cut loses at most the step that was running, which is
//! redone on restart (each step is idempotent).
//!
//! Per segment: `seen` → `hashed` → `recorded` (evidence record queued; `records.sent_at` set once
//! the cloud has it), or `skipped` / `vanished` with a reason. Detection runs separately:
//! `detect_state` `pending` → `normal` | `accident` | `skipped`; accidents get a row in `accidents`
//! that the accident pipeline moves through its stages.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use dashledger_provenance::Detection;

use crate::error::AgentError;

/// 2: `segments.decision` (the decision's channels, cause and per-second motion features).
/// 3: `owner_keys` and `pending_events` (typed tables instead of `meta` keys holding numbers and
/// JSON lists; upgraded in place from the old keys).
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS segments (
    id           INTEGER PRIMARY KEY,            -- processing order
    name         TEXT    NOT NULL,               -- file name inside the watch directory
    size         INTEGER NOT NULL,               -- bytes when it settled
    mtime_ns     INTEGER NOT NULL,               -- modification time when it settled
    seen_at      INTEGER NOT NULL,               -- unix ms
    state        TEXT    NOT NULL DEFAULT 'seen'
                 CHECK (state IN ('seen','hashed','recorded','skipped','vanished')),
    video_hash   BLOB    CHECK (video_hash IS NULL OR length(video_hash) = 32),
    state_note   TEXT,                           -- reason for skipped / vanished
    detect_state TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (detect_state IN ('pending','normal','accident','skipped')),
    p_image      REAL,
    p_audio      REAL,
    p_fused      REAL,
    detect_note  TEXT,
    manual_event INTEGER NOT NULL DEFAULT 0,
    decision     TEXT,                           -- JSON: channels, cause, motion seconds
    UNIQUE (name, size, mtime_ns)
);
CREATE TABLE IF NOT EXISTS records (
    seq          INTEGER PRIMARY KEY,            -- chain position, 1-based, no holes
    segment_id   INTEGER NOT NULL UNIQUE REFERENCES segments(id),
    record       BLOB    NOT NULL,               -- protocol's 96-byte evidence record
    signature    BLOB    NOT NULL,               -- 65-byte secp256k1 signature
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER,                        -- NULL while the cloud has not acknowledged it
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS records_unsent ON records(seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS gaps (
    id           INTEGER PRIMARY KEY,
    noted_at     INTEGER NOT NULL,
    kind         TEXT    NOT NULL,               -- vanished | skipped | ...
    segment_name TEXT    NOT NULL,
    detail       TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS accidents (
    segment_id   INTEGER PRIMARY KEY REFERENCES segments(id),
    cause        TEXT    NOT NULL,               -- detector | manual
    stage        TEXT    NOT NULL DEFAULT 'pending',
    detail       TEXT,                           -- JSON with stage outputs (paths, addresses, ids)
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS owner_keys (
    segment_id   INTEGER PRIMARY KEY REFERENCES segments(id),
    owner_index  INTEGER NOT NULL UNIQUE CHECK (owner_index >= 0)  -- the accident's owner key
);
CREATE TABLE IF NOT EXISTS pending_events (
    name         TEXT PRIMARY KEY,               -- segment being recorded when the button was pressed
    noted_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key          TEXT PRIMARY KEY,
    value        TEXT NOT NULL
);
"#;

/// Stage of an accident in the pipeline ([`crate::pipeline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccidentStage {
    /// Opened; nothing computed yet.
    Pending,
    /// Sealed, thumbnails and leaves written ([`crate::accident::Prepared`] stored).
    Prepared,
    /// Evidence contract created; the upload may be open.
    EcCreated,
    /// Uploaded; nothing left to do.
    Done,
}

impl AccidentStage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Prepared => "prepared",
            Self::EcCreated => "ec_created",
            Self::Done => "done",
        }
    }

    fn parse(s: &str) -> Result<Self, AgentError> {
        Ok(match s {
            "pending" => Self::Pending,
            "prepared" => Self::Prepared,
            "ec_created" => Self::EcCreated,
            "done" => Self::Done,
            other => {
                return Err(AgentError::OutboxState(format!(
                    "unknown accident stage `{other}`"
                )));
            }
        })
    }
}

impl std::fmt::Display for AccidentStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Processing state of a segment's evidence record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentState {
    /// Finished by the camera and noted, not hashed yet.
    Seen,
    /// Hash computed.
    Hashed,
    /// Evidence record queued in `records`.
    Recorded,
    /// Could not be processed (reason kept).
    Skipped,
    /// Disappeared before it was hashed (the camera looped over it).
    Vanished,
}

impl SegmentState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Hashed => "hashed",
            Self::Recorded => "recorded",
            Self::Skipped => "skipped",
            Self::Vanished => "vanished",
        }
    }

    fn parse(s: &str) -> Result<Self, AgentError> {
        Ok(match s {
            "seen" => Self::Seen,
            "hashed" => Self::Hashed,
            "recorded" => Self::Recorded,
            "skipped" => Self::Skipped,
            "vanished" => Self::Vanished,
            other => {
                return Err(AgentError::OutboxState(format!(
                    "unknown segment state `{other}`"
                )));
            }
        })
    }
}

/// One segment row.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Row id (processing order).
    pub id: i64,
    /// File name in the watch directory.
    pub name: String,
    /// Size when it settled.
    pub size: u64,
    /// Modification time (ns since the epoch) when it settled.
    pub mtime_ns: i64,
    /// Record state.
    pub state: SegmentState,
    /// Keccak-256 of the file, once hashed.
    pub video_hash: Option<[u8; 32]>,
    /// Detection state (`pending`, `normal`, `accident`, `skipped`).
    pub detect_state: String,
    /// The manual event trigger marked it.
    pub manual_event: bool,
}

/// One queued evidence record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRecord {
    /// Chain position (1-based).
    pub seq: i64,
    /// Segment it describes.
    pub segment_id: i64,
    /// Encoded record.
    pub record: Vec<u8>,
    /// Signature over it.
    pub signature: Vec<u8>,
    /// Send attempts so far.
    pub attempts: i64,
}

/// An accident being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accident {
    /// The segment.
    pub segment_id: i64,
    /// `detector` or `manual`.
    pub cause: String,
    /// Pipeline stage reached.
    pub stage: AccidentStage,
    /// JSON with the stage outputs so far.
    pub detail: Option<String>,
}

/// Counters for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Segments per record state.
    pub segments_seen: i64,
    /// Hashed, record not yet queued.
    pub segments_hashed: i64,
    /// Record queued or sent.
    pub segments_recorded: i64,
    /// Skipped with a reason.
    pub segments_skipped: i64,
    /// Vanished before hashing.
    pub segments_vanished: i64,
    /// Records the cloud has not acknowledged.
    pub records_unsent: i64,
    /// Records acknowledged.
    pub records_sent: i64,
    /// Detection still to run.
    pub detect_pending: i64,
    /// Segments the detector judged normal (evidence record only).
    pub detect_normal: i64,
    /// Segments the detector (or the event button) made accidents.
    pub detect_accident: i64,
    /// Accidents not finished.
    pub accidents_open: i64,
    /// Accidents done.
    pub accidents_done: i64,
    /// Recorded gaps.
    pub gaps: i64,
}

/// Handle on the outbox database.
#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
}

/// Current time in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn hash_from_blob(b: Option<Vec<u8>>) -> Result<Option<[u8; 32]>, AgentError> {
    b.map(|v| {
        <[u8; 32]>::try_from(v.as_slice()).map_err(|_| {
            AgentError::OutboxState(format!("stored hash has {} bytes, not 32", v.len()))
        })
    })
    .transpose()
}

impl Outbox {
    /// Opens (creating if needed) the outbox at `path` with WAL and `synchronous=FULL`.
    pub fn open(path: &Path) -> Result<Self, AgentError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AgentError::io("cannot create state directory", dir, e))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Another process may be creating or migrating the file at this moment (the daemon's
        // tasks, a `status`): the WAL switch and the migration wait for it instead of failing.
        let mode: String =
            retry_busy(|| conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)))
                .map_err(Busy::into_agent)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(AgentError::OutboxState(format!(
                "could not switch {} to WAL (got {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        let mut outbox = Self { conn };
        retry_busy(|| outbox.migrate(path)).map_err(Busy::into_agent)?;
        Ok(outbox)
    }

    /// Brings the schema to [`SCHEMA_VERSION`] in one IMMEDIATE transaction (so two processes
    /// opening at once take turns): tables, the version 1 `decision` column, the version 2 meta
    /// keys. Nothing is written when it is current.
    fn migrate(&mut self, path: &Path) -> Result<(), AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(AgentError::OutboxState(format!(
                "{} has schema version {version}, newer than this agent's {SCHEMA_VERSION}",
                path.display()
            )));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        tx.execute_batch(SCHEMA)?;
        // Version 1 outboxes: add the decision column in place (nothing else changed).
        let has_decision: bool = tx.query_row(
            "SELECT count(*) FROM pragma_table_info('segments') WHERE name = 'decision'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if !has_decision {
            tx.execute_batch("ALTER TABLE segments ADD COLUMN decision TEXT")?;
        }
        if version < 3 {
            upgrade_meta_keys(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION}"))?;
        tx.commit()?;
        Ok(())
    }

    /// The owner key index of the accident on `segment_id`, allocated (the next unused one) on
    /// first call, in one transaction: an index is never given to two accidents.
    pub fn owner_index_for(&mut self, segment_id: i64) -> Result<u32, AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO owner_keys (segment_id, owner_index) \
             SELECT ?1, coalesce(max(owner_index) + 1, 0) FROM owner_keys",
            [segment_id],
        )?;
        let index: i64 = tx.query_row(
            "SELECT owner_index FROM owner_keys WHERE segment_id = ?1",
            [segment_id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        u32::try_from(index)
            .map_err(|_| AgentError::OutboxState(format!("owner key index {index} out of range")))
    }

    /// How many owner keys accidents have used (indices `0..n`).
    pub fn owner_keys_used(&self) -> Result<u32, AgentError> {
        let n: i64 = self.conn.query_row(
            "SELECT coalesce(max(owner_index) + 1, 0) FROM owner_keys",
            [],
            |r| r.get(0),
        )?;
        u32::try_from(n)
            .map_err(|_| AgentError::OutboxState(format!("owner key count {n} out of range")))
    }

    /// Keeps a manual event for the segment file `name`, still being recorded (durably, until
    /// the file is finished and noted).
    pub fn add_pending_event(&mut self, name: &str) -> Result<(), AgentError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO pending_events (name, noted_at) VALUES (?1, ?2)",
            params![name, now_ms()],
        )?;
        Ok(())
    }

    /// Marks every waiting manual event whose segment is now noted; the others keep waiting.
    pub fn apply_pending_events(&mut self) -> Result<(), AgentError> {
        let names: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT name FROM pending_events ORDER BY noted_at")?;
            st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for name in names {
            if let Some(id) = self.latest_named(&name)? {
                self.mark_manual_event(id)?;
                self.conn
                    .execute("DELETE FROM pending_events WHERE name = ?1", [&name])?;
            }
        }
        Ok(())
    }

    /// Notes a finished segment. Returns its id, or `None` if this exact file (name, size, mtime)
    /// is already known.
    pub fn add_segment(
        &mut self,
        name: &str,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Option<i64>, AgentError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO segments (name, size, mtime_ns, seen_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, size as i64, mtime_ns, now_ms()],
        )?;
        Ok((n == 1).then(|| self.conn.last_insert_rowid()))
    }

    /// Whether this exact file is already known.
    pub fn knows(&self, name: &str, size: u64, mtime_ns: i64) -> Result<bool, AgentError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM segments WHERE name = ?1 AND size = ?2 AND mtime_ns = ?3",
                params![name, size as i64, mtime_ns],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn segment_from_row(
        r: &rusqlite::Row<'_>,
    ) -> rusqlite::Result<(Segment, String, Option<Vec<u8>>)> {
        Ok((
            Segment {
                id: r.get(0)?,
                name: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                mtime_ns: r.get(3)?,
                state: SegmentState::Seen,
                video_hash: None,
                detect_state: r.get(6)?,
                manual_event: r.get::<_, i64>(7)? != 0,
            },
            r.get(4)?,
            r.get(5)?,
        ))
    }

    fn finish(row: (Segment, String, Option<Vec<u8>>)) -> Result<Segment, AgentError> {
        let (mut s, state, hash) = row;
        s.state = SegmentState::parse(&state)?;
        s.video_hash = hash_from_blob(hash)?;
        Ok(s)
    }

    const SEGMENT_COLS: &'static str =
        "id, name, size, mtime_ns, state, video_hash, detect_state, manual_event";

    /// The segment with this id.
    pub fn segment(&self, id: i64) -> Result<Segment, AgentError> {
        let row = self.conn.query_row(
            &format!("SELECT {} FROM segments WHERE id = ?1", Self::SEGMENT_COLS),
            [id],
            Self::segment_from_row,
        )?;
        Self::finish(row)
    }

    /// The oldest segment in `state`.
    pub fn next_in_state(&self, state: SegmentState) -> Result<Option<Segment>, AgentError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {} FROM segments WHERE state = ?1 ORDER BY id LIMIT 1",
                    Self::SEGMENT_COLS
                ),
                [state.as_str()],
                Self::segment_from_row,
            )
            .optional()?;
        row.map(Self::finish).transpose()
    }

    /// The oldest segment whose detection has not run yet (hashed or later, not skipped).
    pub fn next_detect_pending(&self) -> Result<Option<Segment>, AgentError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {} FROM segments WHERE detect_state = 'pending' AND state IN ('hashed','recorded') \
                     ORDER BY id LIMIT 1",
                    Self::SEGMENT_COLS
                ),
                [],
                Self::segment_from_row,
            )
            .optional()?;
        row.map(Self::finish).transpose()
    }

    /// The newest segment (the one the camera finished last), for the manual trigger.
    pub fn latest_segment(&self) -> Result<Option<Segment>, AgentError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {} FROM segments WHERE state NOT IN ('vanished','skipped') ORDER BY id DESC LIMIT 1",
                    Self::SEGMENT_COLS
                ),
                [],
                Self::segment_from_row,
            )
            .optional()?;
        row.map(Self::finish).transpose()
    }

    /// Id of the newest segment row with this file name.
    pub fn latest_named(&self, name: &str) -> Result<Option<i64>, AgentError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM segments WHERE name = ?1 ORDER BY id DESC LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores the segment's hash (`seen` → `hashed`). Idempotent for the same hash.
    pub fn set_hashed(&mut self, id: i64, hash: &[u8; 32]) -> Result<(), AgentError> {
        let n = self.conn.execute(
            "UPDATE segments SET state = 'hashed', video_hash = ?2 WHERE id = ?1 AND state = 'seen'",
            params![id, hash.as_slice()],
        )?;
        if n == 0 {
            let s = self.segment(id)?;
            if s.video_hash.as_ref() != Some(hash) {
                return Err(AgentError::OutboxState(format!(
                    "segment {} is {:?} with a different hash",
                    s.name, s.state
                )));
            }
        }
        Ok(())
    }

    /// The last queued record (seq, record bytes), to chain the next one to.
    pub fn last_record(&self) -> Result<Option<(i64, Vec<u8>)>, AgentError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, record FROM records ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Queues the evidence record for a hashed segment in one transaction (`hashed` → `recorded`).
    /// `make` gets the previous record (seq, bytes) and returns (record, signature); it runs inside
    /// the transaction, so the chain has no holes and no forks even across crashes.
    pub fn queue_record<F>(&mut self, segment_id: i64, make: F) -> Result<i64, AgentError>
    where
        F: FnOnce(Option<(i64, Vec<u8>)>, &Segment) -> Result<(Vec<u8>, Vec<u8>), AgentError>,
    {
        let seg = self.segment(segment_id)?;
        if seg.state != SegmentState::Hashed {
            return Err(AgentError::OutboxState(format!(
                "segment {} is {:?}, expected Hashed",
                seg.name, seg.state
            )));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let prev: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, record FROM records ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let seq = prev.as_ref().map_or(1, |(s, _)| s + 1);
        let (record, signature) = make(prev, &seg)?;
        tx.execute(
            "INSERT INTO records (seq, segment_id, record, signature, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![seq, segment_id, record, signature, now_ms()],
        )?;
        tx.execute(
            "UPDATE segments SET state = 'recorded' WHERE id = ?1",
            [segment_id],
        )?;
        tx.commit()?;
        Ok(seq)
    }

    /// Marks a segment skipped (it cannot be processed) and records the gap.
    pub fn skip_segment(&mut self, id: i64, reason: &str) -> Result<(), AgentError> {
        self.close_segment(id, "skipped", reason)
    }

    /// Marks a segment vanished (deleted before hashing) and records the gap.
    pub fn vanish_segment(&mut self, id: i64, reason: &str) -> Result<(), AgentError> {
        self.close_segment(id, "vanished", reason)
    }

    fn close_segment(&mut self, id: i64, state: &str, reason: &str) -> Result<(), AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let name: String = tx.query_row("SELECT name FROM segments WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
        tx.execute(
            "UPDATE segments SET state = ?2, state_note = ?3, \
             detect_state = CASE WHEN detect_state = 'pending' THEN 'skipped' ELSE detect_state END \
             WHERE id = ?1",
            params![id, state, reason],
        )?;
        tx.execute(
            "INSERT INTO gaps (noted_at, kind, segment_name, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), state, name, reason],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a gap that is not tied to a known segment (e.g. the camera looped over files the
    /// agent never saw finish).
    pub fn record_gap(
        &mut self,
        kind: &str,
        segment_name: &str,
        detail: &str,
    ) -> Result<(), AgentError> {
        self.conn.execute(
            "INSERT INTO gaps (noted_at, kind, segment_name, detail) VALUES (?1, ?2, ?3, ?4)",
            params![now_ms(), kind, segment_name, detail],
        )?;
        Ok(())
    }

    /// Gaps recorded so far (kind, segment name, detail), oldest first.
    pub fn gaps(&self) -> Result<Vec<(String, String, String)>, AgentError> {
        let mut st = self
            .conn
            .prepare("SELECT kind, segment_name, detail FROM gaps ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The oldest unsent records, in chain order.
    pub fn unsent(&self, limit: usize) -> Result<Vec<QueuedRecord>, AgentError> {
        let mut st = self.conn.prepare(
            "SELECT seq, segment_id, record, signature, attempts FROM records WHERE sent_at IS NULL ORDER BY seq LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(QueuedRecord {
                seq: r.get(0)?,
                segment_id: r.get(1)?,
                record: r.get(2)?,
                signature: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// All records in chain order (for tests and `status`).
    pub fn all_records(&self) -> Result<Vec<QueuedRecord>, AgentError> {
        let mut st = self.conn.prepare(
            "SELECT seq, segment_id, record, signature, attempts FROM records ORDER BY seq",
        )?;
        let rows = st.query_map([], |r| {
            Ok(QueuedRecord {
                seq: r.get(0)?,
                segment_id: r.get(1)?,
                record: r.get(2)?,
                signature: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The cloud acknowledged record `seq`.
    pub fn mark_sent(&mut self, seq: i64) -> Result<(), AgentError> {
        self.conn.execute(
            "UPDATE records SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE seq = ?1 AND sent_at IS NULL",
            params![seq, now_ms()],
        )?;
        Ok(())
    }

    /// Whether the cloud has acknowledged the evidence record of this segment.
    pub fn record_sent_for(&self, segment_id: i64) -> Result<bool, AgentError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM records WHERE segment_id = ?1 AND sent_at IS NOT NULL",
                [segment_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// A send attempt for record `seq` failed.
    pub fn note_send_failure(&mut self, seq: i64, error: &str) -> Result<(), AgentError> {
        self.conn.execute(
            "UPDATE records SET attempts = attempts + 1, last_error = ?2 WHERE seq = ?1",
            params![seq, error],
        )?;
        Ok(())
    }

    /// Stores the decision's details (JSON) for a segment, before [`Outbox::set_detection`]
    /// commits its outcome (a crash in between redoes the detection).
    pub fn set_decision_detail(&mut self, id: i64, detail: &str) -> Result<(), AgentError> {
        self.conn.execute(
            "UPDATE segments SET decision = ?2 WHERE id = ?1",
            params![id, detail],
        )?;
        Ok(())
    }

    /// The decision's details stored for a segment.
    pub fn decision_detail(&self, id: i64) -> Result<Option<String>, AgentError> {
        Ok(self
            .conn
            .query_row("SELECT decision FROM segments WHERE id = ?1", [id], |r| {
                r.get(0)
            })?)
    }

    /// What the detector said about segment `id` and why it is an accident (`detector` or
    /// `manual`; `None` if it is not one): the C2PA capture assertion's `detection`.
    pub fn detection_of(&self, id: i64) -> Result<Option<Detection>, AgentError> {
        let row = self.conn.query_row(
            "SELECT a.cause, s.p_image, s.p_audio, s.p_fused, s.decision \
             FROM accidents a JOIN segments s ON s.id = a.segment_id WHERE a.segment_id = ?1",
            [id],
            |r| {
                Ok(Detection {
                    cause: r.get(0)?,
                    p_image: r.get::<_, Option<f64>>(1)?.map(|v| v as f32),
                    p_audio: r.get::<_, Option<f64>>(2)?.map(|v| v as f32),
                    p_fused: r.get::<_, Option<f64>>(3)?.map(|v| v as f32),
                    detail: r
                        .get::<_, Option<String>>(4)?
                        .and_then(|d| serde_json::from_str(&d).ok()),
                })
            },
        );
        match row {
            Ok(d) => Ok(Some(d)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the detection outcome. An accident (or an earlier manual event) opens an accident.
    pub fn set_detection(
        &mut self,
        id: i64,
        p_image: Option<f32>,
        p_audio: Option<f32>,
        p_fused: Option<f32>,
        accident: bool,
        note: Option<&str>,
    ) -> Result<(), AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let manual: i64 = tx.query_row(
            "SELECT manual_event FROM segments WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let state = if accident { "accident" } else { "normal" };
        tx.execute(
            "UPDATE segments SET detect_state = ?2, p_image = ?3, p_audio = ?4, p_fused = ?5, detect_note = ?6 \
             WHERE id = ?1",
            params![id, state, p_image, p_audio, p_fused, note],
        )?;
        if accident || manual != 0 {
            let cause = if accident { "detector" } else { "manual" };
            tx.execute(
                "INSERT OR IGNORE INTO accidents (segment_id, cause, updated_at) VALUES (?1, ?2, ?3)",
                params![id, cause, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Detection could not run on this segment (decode failure etc.); recorded, not retried.
    /// A manual event still opens an accident.
    pub fn skip_detection(&mut self, id: i64, reason: &str) -> Result<(), AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (name, manual): (String, i64) = tx.query_row(
            "SELECT name, manual_event FROM segments WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        tx.execute(
            "UPDATE segments SET detect_state = 'skipped', detect_note = ?2 WHERE id = ?1",
            params![id, reason],
        )?;
        tx.execute(
            "INSERT INTO gaps (noted_at, kind, segment_name, detail) VALUES (?1, 'detect_skipped', ?2, ?3)",
            params![now_ms(), name, reason],
        )?;
        if manual != 0 {
            tx.execute(
                "INSERT OR IGNORE INTO accidents (segment_id, cause, updated_at) VALUES (?1, 'manual', ?2)",
                params![id, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The manual event trigger: marks segment `id`; if detection already ran, opens the accident now.
    pub fn mark_manual_event(&mut self, id: i64) -> Result<(), AgentError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE segments SET manual_event = 1 WHERE id = ?1", [id])?;
        let detect: String = tx.query_row(
            "SELECT detect_state FROM segments WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        if detect != "pending" {
            tx.execute(
                "INSERT OR IGNORE INTO accidents (segment_id, cause, updated_at) VALUES (?1, 'manual', ?2)",
                params![id, now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Accidents not yet finished, oldest first.
    pub fn open_accidents(&self) -> Result<Vec<Accident>, AgentError> {
        let mut st = self.conn.prepare(
            "SELECT segment_id, cause, stage, detail FROM accidents WHERE stage != 'done' ORDER BY segment_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))
        })?;
        rows.map(|row| {
            let (segment_id, cause, stage, detail) = row?;
            Ok(Accident {
                segment_id,
                cause,
                stage: AccidentStage::parse(&stage)?,
                detail,
            })
        })
        .collect()
    }

    /// Detail JSON of the oldest finished accident.
    pub fn accident_detail_of_done(&self) -> Result<String, AgentError> {
        Ok(self.conn.query_row(
            "SELECT detail FROM accidents WHERE stage = 'done' ORDER BY segment_id LIMIT 1",
            [],
            |r| r.get(0),
        )?)
    }

    /// Detail JSON of every accident that has one (any stage), oldest first.
    pub fn accident_details(&self) -> Result<Vec<String>, AgentError> {
        let mut st = self
            .conn
            .prepare("SELECT detail FROM accidents WHERE detail IS NOT NULL ORDER BY segment_id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves an accident to `stage` with its accumulated outputs.
    pub fn set_accident_stage(
        &mut self,
        segment_id: i64,
        stage: AccidentStage,
        detail: &str,
    ) -> Result<(), AgentError> {
        self.conn.execute(
            "UPDATE accidents SET stage = ?2, detail = ?3, last_error = NULL, updated_at = ?4 WHERE segment_id = ?1",
            params![segment_id, stage.as_str(), detail, now_ms()],
        )?;
        Ok(())
    }

    /// Notes a failed accident step (retried later).
    pub fn note_accident_failure(
        &mut self,
        segment_id: i64,
        error: &str,
    ) -> Result<(), AgentError> {
        self.conn.execute(
            "UPDATE accidents SET attempts = attempts + 1, last_error = ?2, updated_at = ?3 WHERE segment_id = ?1",
            params![segment_id, error, now_ms()],
        )?;
        Ok(())
    }

    /// Whether the file still has work pending (must not be deleted): not yet hashed, record
    /// unsent, detection pending, or an open accident.
    pub fn has_pending_work(&self, id: i64) -> Result<bool, AgentError> {
        Ok(self.conn.query_row(
            "SELECT (s.state IN ('seen','hashed')) OR s.detect_state = 'pending' \
               OR EXISTS (SELECT 1 FROM records r WHERE r.segment_id = s.id AND r.sent_at IS NULL) \
               OR EXISTS (SELECT 1 FROM accidents a WHERE a.segment_id = s.id AND a.stage != 'done') \
             FROM segments s WHERE s.id = ?1",
            [id],
            |r| r.get::<_, bool>(0),
        )?)
    }

    /// Counters for `status`.
    pub fn counts(&self) -> Result<Counts, AgentError> {
        let q = |sql: &str| -> Result<i64, AgentError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Counts {
            segments_seen: q("SELECT count(*) FROM segments WHERE state = 'seen'")?,
            segments_hashed: q("SELECT count(*) FROM segments WHERE state = 'hashed'")?,
            segments_recorded: q("SELECT count(*) FROM segments WHERE state = 'recorded'")?,
            segments_skipped: q("SELECT count(*) FROM segments WHERE state = 'skipped'")?,
            segments_vanished: q("SELECT count(*) FROM segments WHERE state = 'vanished'")?,
            records_unsent: q("SELECT count(*) FROM records WHERE sent_at IS NULL")?,
            records_sent: q("SELECT count(*) FROM records WHERE sent_at IS NOT NULL")?,
            detect_pending: q(
                "SELECT count(*) FROM segments WHERE detect_state = 'pending' AND state NOT IN ('skipped','vanished')",
            )?,
            detect_normal: q("SELECT count(*) FROM segments WHERE detect_state = 'normal'")?,
            detect_accident: q("SELECT count(*) FROM segments WHERE detect_state = 'accident'")?,
            accidents_open: q("SELECT count(*) FROM accidents WHERE stage != 'done'")?,
            accidents_done: q("SELECT count(*) FROM accidents WHERE stage = 'done'")?,
            gaps: q("SELECT count(*) FROM gaps")?,
        })
    }

    /// A stored key/value (e.g. the device's chain head).
    pub fn meta(&self, key: &str) -> Result<Option<String>, AgentError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Stores a key/value.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), AgentError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}

/// Version 2 and older kept owner key indices as `owner_index:<segment id>` meta keys (and the
/// next free one as `next_owner_index`) and waiting manual events as a JSON list: move them into
/// their tables (inside the migration's transaction). A list that does not parse is kept as a
/// gap (with its text) instead of being dropped.
fn upgrade_meta_keys(tx: &rusqlite::Transaction<'_>) -> Result<(), AgentError> {
    let pairs: Vec<(String, String)> = {
        let mut st = tx.prepare("SELECT key, value FROM meta WHERE key LIKE 'owner_index:%'")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (key, value) in pairs {
        let id: i64 = key["owner_index:".len()..].parse().map_err(|_| {
            AgentError::OutboxState(format!("meta key `{key}` does not name a segment"))
        })?;
        let index: u32 = value.parse().map_err(|_| {
            AgentError::OutboxState(format!("meta `{key}` = `{value}` is not an index"))
        })?;
        tx.execute(
            "INSERT OR IGNORE INTO owner_keys (segment_id, owner_index) VALUES (?1, ?2)",
            params![id, index],
        )?;
    }
    let pending: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'pending_manual_events'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(raw) = pending {
        match serde_json::from_str::<Vec<String>>(&raw) {
            Ok(names) => {
                for name in names {
                    tx.execute(
                        "INSERT OR IGNORE INTO pending_events (name, noted_at) VALUES (?1, ?2)",
                        params![name, now_ms()],
                    )?;
                }
            }
            Err(e) => {
                tx.execute(
                        "INSERT INTO gaps (noted_at, kind, segment_name, detail) VALUES (?1, 'manual_events_unreadable', '', ?2)",
                        params![now_ms(), format!("{e}: {raw}")],
                    )?;
            }
        }
    }
    tx.execute(
            "DELETE FROM meta WHERE key LIKE 'owner_index:%' OR key IN ('next_owner_index', 'pending_manual_events')",
            [],
        )?;
    Ok(())
}

/// A step that may meet `SQLITE_BUSY` without SQLite's busy handler being asked (a WAL switch or
/// a first schema write racing another process), or fail otherwise.
#[derive(Debug)]
enum Busy {
    Sqlite(rusqlite::Error),
    Agent(AgentError),
}

impl From<rusqlite::Error> for Busy {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<AgentError> for Busy {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Outbox(e) => Self::Sqlite(e),
            e => Self::Agent(e),
        }
    }
}

impl Busy {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }

    fn into_agent(self) -> AgentError {
        match self {
            Self::Sqlite(e) => e.into(),
            Self::Agent(e) => e,
        }
    }
}

/// Runs `step` again while it fails busy, for up to 10 s (then returns that error).
fn retry_busy<T, E: Into<Busy>>(mut step: impl FnMut() -> Result<T, E>) -> Result<T, Busy> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match step().map_err(Into::into) {
            Err(e) if e.is_busy() && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(prev: Option<(i64, Vec<u8>)>, seg: &Segment) -> Result<(Vec<u8>, Vec<u8>), AgentError> {
        let mut r = seg.video_hash.unwrap().to_vec();
        r.extend_from_slice(&prev.map_or(0, |(s, _)| s).to_be_bytes());
        Ok((r, vec![7; 65]))
    }

    #[test]
    fn processes_opening_one_outbox_at_once_all_succeed() {
        // The daemon's tasks and `status` polls open the same outbox while it is created and
        // written: none may fail with "database is locked".
        for round in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("outbox-{round}.db"));
            let threads: Vec<_> = (0..6)
                .map(|t| {
                    let path = path.clone();
                    std::thread::spawn(move || {
                        for i in 0..15 {
                            let mut o = Outbox::open(&path)
                                .unwrap_or_else(|e| panic!("thread {t} open {i}: {e}"));
                            o.set_meta(&format!("t{t}"), &i.to_string())
                                .unwrap_or_else(|e| panic!("thread {t} write {i}: {e}"));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
        }
    }

    #[test]
    fn segment_lifecycle_and_chain_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let mut o = Outbox::open(&path).unwrap();
        let a = o.add_segment("a.mp4", 10, 1).unwrap().unwrap();
        assert_eq!(
            o.add_segment("a.mp4", 10, 1).unwrap(),
            None,
            "same file twice is one segment"
        );
        let b = o.add_segment("b.mp4", 10, 2).unwrap().unwrap();
        assert!(o.has_pending_work(a).unwrap());
        assert_eq!(o.next_in_state(SegmentState::Seen).unwrap().unwrap().id, a);
        o.set_hashed(a, &[1; 32]).unwrap();
        o.set_hashed(a, &[1; 32]).unwrap();
        assert!(
            o.set_hashed(a, &[2; 32]).is_err(),
            "a different hash for a hashed segment is refused"
        );
        assert_eq!(o.queue_record(a, rec).unwrap(), 1);
        assert!(o.queue_record(a, rec).is_err(), "a segment gets one record");
        o.set_hashed(b, &[2; 32]).unwrap();
        assert_eq!(o.queue_record(b, rec).unwrap(), 2);
        let unsent = o.unsent(10).unwrap();
        assert_eq!(unsent.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        o.mark_sent(1).unwrap();
        o.mark_sent(1).unwrap();
        assert_eq!(o.unsent(10).unwrap().len(), 1);
        o.set_detection(a, Some(0.1), Some(0.0), Some(0.05), false, None)
            .unwrap();
        o.set_detection(b, Some(0.2), Some(0.9), Some(0.7), true, None)
            .unwrap();
        drop(o);
        let o = Outbox::open(&path).unwrap();
        let c = o.counts().unwrap();
        assert_eq!(
            (c.records_sent, c.records_unsent, c.segments_recorded),
            (1, 1, 2)
        );
        assert_eq!(
            (c.detect_pending, c.detect_normal, c.detect_accident),
            (0, 1, 1)
        );
        assert_eq!(c.accidents_open, 1, "the accident opened one accident row");
    }

    #[test]
    fn failed_record_creation_leaves_no_half_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(&dir.path().join("o.sqlite")).unwrap();
        let a = o.add_segment("a.mp4", 10, 1).unwrap().unwrap();
        o.set_hashed(a, &[1; 32]).unwrap();
        let err = o
            .queue_record(a, |_, _| {
                Err(AgentError::OutboxState("signer offline".into()))
            })
            .unwrap_err();
        assert!(err.to_string().contains("signer offline"));
        assert_eq!(o.segment(a).unwrap().state, SegmentState::Hashed);
        assert!(o.all_records().unwrap().is_empty());
        assert_eq!(o.queue_record(a, rec).unwrap(), 1);
    }

    #[test]
    fn skips_gaps_and_manual_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::open(&dir.path().join("o.sqlite")).unwrap();
        let a = o.add_segment("a.mp4", 10, 1).unwrap().unwrap();
        let b = o.add_segment("b.mp4", 10, 2).unwrap().unwrap();
        let c = o.add_segment("c.mp4", 10, 3).unwrap().unwrap();
        o.vanish_segment(a, "deleted by the camera before hashing")
            .unwrap();
        assert!(!o.has_pending_work(a).unwrap());
        o.set_hashed(b, &[2; 32]).unwrap();
        o.set_hashed(c, &[3; 32]).unwrap();
        assert_eq!(o.next_detect_pending().unwrap().unwrap().id, b);
        o.mark_manual_event(b).unwrap();
        assert!(
            o.open_accidents().unwrap().is_empty(),
            "waits for detection"
        );
        o.set_detection(b, Some(0.1), Some(0.2), Some(0.2), false, None)
            .unwrap();
        o.skip_detection(c, "no video stream").unwrap();
        let acc = o.open_accidents().unwrap();
        assert_eq!(acc.len(), 1);
        assert_eq!((acc[0].segment_id, acc[0].cause.as_str()), (b, "manual"));
        o.set_accident_stage(b, AccidentStage::Done, "{}").unwrap();
        assert!(o.open_accidents().unwrap().is_empty());
        let gaps = o.gaps().unwrap();
        assert_eq!(gaps.len(), 2);
        assert_eq!(gaps[0].0, "vanished");
        assert_eq!(gaps[1].0, "detect_skipped");
        assert_eq!(o.latest_segment().unwrap().unwrap().id, c);
    }

    #[test]
    fn a_version_1_outbox_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        {
            // The version-1 segments table: no `decision` column.
            let c = Connection::open(&path).unwrap();
            let v1 = SCHEMA.replace(
                "    decision     TEXT,                           -- JSON: channels, cause, motion seconds\n",
                "",
            );
            assert_ne!(v1, SCHEMA);
            c.execute_batch(&v1).unwrap();
            c.execute_batch("PRAGMA user_version=1").unwrap();
            c.execute(
                "INSERT INTO segments (name, size, mtime_ns, seen_at) VALUES ('old.mp4', 1, 1, 1)",
                [],
            )
            .unwrap();
        }
        let mut o = Outbox::open(&path).unwrap();
        let id = o.latest_named("old.mp4").unwrap().unwrap();
        assert_eq!(o.decision_detail(id).unwrap(), None);
        o.set_decision_detail(id, "{\"cause\":\"motion\"}").unwrap();
        drop(o);
        let o = Outbox::open(&path).unwrap();
        assert_eq!(
            o.decision_detail(id).unwrap().as_deref(),
            Some("{\"cause\":\"motion\"}")
        );
        let v: i64 = o
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_2_outbox_moves_its_meta_keys_into_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        {
            // Version 2: owner indices and waiting manual events as `meta` keys.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute_batch(
                "PRAGMA user_version=2;
                 INSERT INTO segments (id, name, size, mtime_ns, seen_at) VALUES (4, 'a.mp4', 1, 1, 1), (9, 'b.mp4', 1, 2, 1);
                 INSERT INTO meta (key, value) VALUES ('owner_index:4', '0'), ('owner_index:9', '1'),
                   ('next_owner_index', '2'), ('pending_manual_events', '[\"c.mp4\"]'), ('chain_head', 'x');",
            )
            .unwrap();
        }
        let mut o = Outbox::open(&path).unwrap();
        assert_eq!(o.owner_keys_used().unwrap(), 2);
        assert_eq!(o.owner_index_for(9).unwrap(), 1, "kept");
        assert_eq!(o.meta("next_owner_index").unwrap(), None);
        assert_eq!(o.meta("chain_head").unwrap().as_deref(), Some("x"));
        // The waiting event is applied once its segment is noted.
        o.apply_pending_events().unwrap();
        let c = o.add_segment("c.mp4", 1, 3).unwrap().unwrap();
        o.apply_pending_events().unwrap();
        let manual: i64 = o
            .conn
            .query_row(
                "SELECT manual_event FROM segments WHERE id = ?1",
                [c],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(manual, 1);
        let left: i64 = o
            .conn
            .query_row("SELECT count(*) FROM pending_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn an_unreadable_event_list_becomes_a_gap_not_a_silent_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute_batch(
                "PRAGMA user_version=2; INSERT INTO meta (key, value) VALUES ('pending_manual_events', '[\"c.mp4\",');",
            )
            .unwrap();
        }
        let o = Outbox::open(&path).unwrap();
        let gaps = o.gaps().unwrap();
        assert_eq!(gaps.len(), 1);
        assert_eq!(gaps[0].0, "manual_events_unreadable");
        assert!(gaps[0].2.contains("c.mp4"), "{:?}", gaps[0]);
    }

    #[test]
    fn owner_indices_are_allocated_once_each_and_never_shared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        let mut o = Outbox::open(&path).unwrap();
        let ids: Vec<i64> = (0..3)
            .map(|i| o.add_segment(&format!("{i}.mp4"), 1, i).unwrap().unwrap())
            .collect();
        assert_eq!(o.owner_keys_used().unwrap(), 0);
        assert_eq!(o.owner_index_for(ids[1]).unwrap(), 0);
        assert_eq!(o.owner_index_for(ids[0]).unwrap(), 1);
        assert_eq!(o.owner_index_for(ids[1]).unwrap(), 0, "stable");
        // A second connection (the pipeline beside the recording loop) sees the same.
        let mut other = Outbox::open(&path).unwrap();
        assert_eq!(other.owner_index_for(ids[2]).unwrap(), 2);
        assert_eq!(o.owner_keys_used().unwrap(), 3);
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.sqlite");
        drop(Outbox::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version=99")
            .unwrap();
        let err = Outbox::open(&path).unwrap_err();
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
