//! `evidence`: the signed evidence records (no location: records carry none).

use std::collections::{HashMap, HashSet};

use alloy::primitives::B256;
use dashledger_protocol::record::{EvidenceRecord, SignedRecord, VerifiedRecord};
use sqlx::Row;

use super::{Store, Tx};
use crate::error::CloudError;

/// Rows per multi-row INSERT (7 parameters each; well under SQLite's 32766 limit).
const ROWS_PER_INSERT: usize = 500;

impl Tx {
    /// Inserts one device's records (conflicts on `(device, seq)` ignored); returns the
    /// sequence numbers that were inserted now.
    pub async fn insert_records(
        &mut self,
        device: &str,
        records: &[VerifiedRecord],
        now: i64,
    ) -> Result<HashSet<u32>, CloudError> {
        let mut inserted = HashSet::new();
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
                    .bind(device.to_owned())
                    .bind(i64::from(rec.seq))
                    .bind(rec.id().as_slice().to_vec())
                    .bind(i64::try_from(rec.start.to_unix()).unwrap_or(i64::MAX))
                    .bind(rec.segment_hash.as_slice().to_vec())
                    .bind(r.signed().encode().to_vec())
                    .bind(now);
            }
            for row in q.fetch_all(self.conn()).await? {
                let seq: i64 = row.try_get(0)?;
                inserted.insert(seq as u32);
            }
        }
        Ok(inserted)
    }

    /// The stored record ids of `seqs` (to tell a duplicate from a fork).
    pub async fn record_ids(
        &mut self,
        device: &str,
        seqs: &[u32],
    ) -> Result<HashMap<u32, B256>, CloudError> {
        let mut out = HashMap::new();
        for part in seqs.chunks(ROWS_PER_INSERT) {
            let list: Vec<String> = part.iter().map(u32::to_string).collect();
            let sql = format!(
                "SELECT seq, record_id FROM evidence WHERE device = $1 AND seq IN ({})",
                list.join(",")
            );
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(device)
                .fetch_all(self.conn())
                .await?
            {
                let seq: i64 = row.try_get(0)?;
                let id: Vec<u8> = row.try_get(1)?;
                if id.len() == 32 {
                    out.insert(seq as u32, B256::from_slice(&id));
                }
            }
        }
        Ok(out)
    }

    /// The stored records `seqs` of a device, decoded.
    pub async fn records_at(
        &mut self,
        device: &str,
        seqs: &[u32],
    ) -> Result<HashMap<u32, EvidenceRecord>, CloudError> {
        let mut out = HashMap::new();
        if seqs.is_empty() {
            return Ok(out);
        }
        let list: Vec<String> = seqs.iter().map(u32::to_string).collect();
        let sql = format!(
            "SELECT seq, signed FROM evidence WHERE device = $1 AND seq IN ({})",
            list.join(",")
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(device)
            .fetch_all(self.conn())
            .await?
        {
            let seq: i64 = row.try_get(0)?;
            let signed: Vec<u8> = row.try_get(1)?;
            let stored = SignedRecord::decode(&signed)
                .map_err(|e| CloudError::Corrupt(format!("stored record {device}/{seq}: {e}")))?;
            out.insert(seq as u32, *stored.record());
        }
        Ok(out)
    }
}

impl Store {
    /// The device whose record reported `segment_hash` first, no later than `until` (unix s).
    pub async fn first_reporter(
        &self,
        segment_hash: &B256,
        until: i64,
    ) -> Result<Option<String>, CloudError> {
        Ok(sqlx::query_scalar(
            "SELECT device FROM evidence WHERE segment_hash = $1 AND received_at <= $2 \
             ORDER BY received_at, device LIMIT 1",
        )
        .bind(segment_hash.as_slice().to_vec())
        .bind(until)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether `device` reported `segment_hash` no later than `until` (unix s).
    pub async fn reported(
        &self,
        device: &str,
        segment_hash: &B256,
        until: i64,
    ) -> Result<bool, CloudError> {
        let seen: Option<i64> = sqlx::query_scalar(
            "SELECT received_at FROM evidence WHERE device = $1 AND segment_hash = $2 AND received_at <= $3 LIMIT 1",
        )
        .bind(device)
        .bind(segment_hash.as_slice().to_vec())
        .bind(until)
        .fetch_optional(&self.pool)
        .await?;
        Ok(seen.is_some())
    }

    /// Whether a device other than `device` reported `segment_hash` strictly before `device`
    /// first did, no later than `until` (unix s): a copied hash (a same-second tie is not
    /// "before").
    pub async fn reported_earlier_by_another(
        &self,
        device: &str,
        segment_hash: &B256,
        until: i64,
    ) -> Result<bool, CloudError> {
        let earlier: Option<String> = sqlx::query_scalar(
            "SELECT o.device FROM evidence o WHERE o.segment_hash = $1 AND o.device <> $2 \
             AND o.received_at <= $3 AND o.received_at < (SELECT MIN(m.received_at) FROM evidence m \
             WHERE m.device = $2 AND m.segment_hash = $1) LIMIT 1",
        )
        .bind(segment_hash.as_slice().to_vec())
        .bind(device)
        .bind(until)
        .fetch_optional(&self.pool)
        .await?;
        Ok(earlier.is_some())
    }
}

impl Store {
    /// The sequence number of `device`'s record of `segment_hash` (its first, if repeated).
    pub async fn seq_of_segment(
        &self,
        device: &str,
        segment_hash: &B256,
    ) -> Result<Option<u32>, CloudError> {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM evidence WHERE device = $1 AND segment_hash = $2 ORDER BY seq LIMIT 1",
        )
        .bind(device)
        .bind(segment_hash.as_slice().to_vec())
        .fetch_optional(&self.pool)
        .await?;
        Ok(seq.map(|s| s as u32))
    }

    /// `device`'s stored signed records with `from <= seq <= to`, in sequence order.
    pub async fn signed_records(
        &self,
        device: &str,
        from: u32,
        to: u32,
    ) -> Result<Vec<Vec<u8>>, CloudError> {
        Ok(sqlx::query_scalar(
            "SELECT signed FROM evidence WHERE device = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(device)
        .bind(i64::from(from))
        .bind(i64::from(to))
        .fetch_all(&self.pool)
        .await?)
    }
}
