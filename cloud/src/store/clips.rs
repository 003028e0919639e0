//! `clips`: finished uploads and the verifier's decision on each.

use dashledger_api::admin::AlarmKind;
use dashledger_api::uploads::ClipStatus;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, decode_enum, decode_u64};
use crate::error::CloudError;

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRow {
    /// The EC.
    pub ec_address: String,
    /// The device that uploaded it.
    pub device: String,
    /// Its upload session.
    pub upload_id: String,
    /// Bytes.
    pub cipher_size: u64,
    /// Keccak-256 of the sealed clip.
    pub cipher_hash: Vec<u8>,
    /// Keccak-256 of the first thumbnail.
    pub thumb_first: Option<Vec<u8>>,
    /// Encoded per-second leaves.
    pub leaves: Vec<u8>,
    /// Verifier status.
    pub status: ClipStatus,
}

const COLS: &str =
    "ec_address, device, upload_id, cipher_size, cipher_hash, thumb_first, leaves, status";

impl FromAnyRow for ClipRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            ec_address: r.try_get("ec_address")?,
            device: r.try_get("device")?,
            upload_id: r.try_get("upload_id")?,
            cipher_size: decode_u64(r, "cipher_size")?,
            cipher_hash: r.try_get("cipher_hash")?,
            thumb_first: r.try_get("thumb_first")?,
            leaves: r.try_get("leaves")?,
            status: decode_enum(r, "status")?,
        })
    }
}

impl Store {
    /// One clip.
    pub async fn clip(&self, ec: &str) -> Result<Option<ClipRow>, CloudError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM clips WHERE ec_address = $1"
        )))
        .bind(ec)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ClipRow::from_row).transpose()?)
    }

    /// Clips the verifier has not decided yet, oldest first.
    pub async fn undecided_clips(&self, limit: i64) -> Result<Vec<ClipRow>, CloudError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM clips WHERE status = 'uploaded' ORDER BY created_at LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(ClipRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Records the verifier's decision.
    pub async fn decide_clip(
        &self,
        ec: &str,
        status: ClipStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), CloudError> {
        sqlx::query(
            "UPDATE clips SET status = $1, reason = $2, updated_at = $3 WHERE ec_address = $4",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(now)
        .bind(ec)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops an undecided clip uploaded by a device the EC is not bound to (its session is
    /// aborted so the bound device can upload) and raises a `foreign_upload` alarm.
    pub async fn drop_foreign_clip(
        &self,
        ec: &str,
        uploader: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), CloudError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE uploads SET state = 'aborted', updated_at = $1 WHERE id = \
             (SELECT upload_id FROM clips WHERE ec_address = $2 AND status = 'uploaded')",
        )
        .bind(now)
        .bind(ec)
        .execute(tx.conn())
        .await?;
        sqlx::query("DELETE FROM clips WHERE ec_address = $1 AND status = 'uploaded'")
            .bind(ec)
            .execute(tx.conn())
            .await?;
        tx.raise_alarm(uploader, AlarmKind::ForeignUpload, 0, detail, now)
            .await?;
        tx.commit().await
    }
}
