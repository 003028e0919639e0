//! `uploads`: resumable upload sessions (one live session per EC).

use dashledger_api::uploads::{ClipStatus, UploadState};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, decode_enum, decode_u64, sql_i64};
use crate::error::CloudError;

/// An upload session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// The id (a capability).
    pub id: String,
    /// The device that opened it.
    pub device: String,
    /// The EC.
    pub ec_address: String,
    /// Declared size.
    pub total_size: u64,
    /// Bytes durably in the spool.
    pub received: u64,
    /// State.
    pub state: UploadState,
    /// Encoded per-second leaves.
    pub leaves: Vec<u8>,
    /// Their root.
    pub frames_root: Vec<u8>,
}

const COLS: &str = "id, device, ec_address, total_size, received, state, leaves, frames_root";

impl FromAnyRow for UploadRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            device: r.try_get("device")?,
            ec_address: r.try_get("ec_address")?,
            total_size: decode_u64(r, "total_size")?,
            received: decode_u64(r, "received")?,
            state: decode_enum(r, "state")?,
            leaves: r.try_get("leaves")?,
            frames_root: r.try_get("frames_root")?,
        })
    }
}

/// A new upload session.
#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    /// Its id.
    pub id: &'a str,
    /// The device.
    pub device: &'a str,
    /// The EC.
    pub ec_address: &'a str,
    /// Declared size.
    pub total_size: u64,
    /// Encoded leaves.
    pub leaves: &'a [u8],
    /// Their root.
    pub frames_root: &'a [u8],
}

/// The clip a completed upload becomes.
#[derive(Debug, Clone)]
pub struct NewClip<'a> {
    /// Blob key of the sealed clip.
    pub blob_key: &'a str,
    /// Keccak-256 of the clip.
    pub cipher_hash: &'a [u8],
    /// Keccak-256 of the first thumbnail.
    pub thumb_first: &'a [u8],
    /// Keccak-256 of the last thumbnail.
    pub thumb_last: Option<&'a [u8]>,
}

impl Store {
    /// One session.
    pub async fn upload(&self, id: &str) -> Result<Option<UploadRow>, CloudError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM uploads WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(UploadRow::from_row).transpose()?)
    }

    /// The live (open or complete) session of an EC.
    pub async fn live_upload(&self, ec: &str) -> Result<Option<UploadRow>, CloudError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM uploads WHERE ec_address = $1 AND state <> 'aborted'"
        )))
        .bind(ec)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(UploadRow::from_row).transpose()?)
    }

    /// Whether `device` completed an upload of `ec`.
    pub async fn completed_by(&self, ec: &str, device: &str) -> Result<bool, CloudError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM uploads WHERE ec_address = $1 AND device = $2 AND state = 'complete'",
        )
        .bind(ec)
        .bind(device)
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.is_some())
    }

    /// How many sessions `device` has open.
    pub async fn open_uploads_of(&self, device: &str) -> Result<i64, CloudError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE device = $1 AND state = 'open'")
                .bind(device)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Opens a session. A unique violation (another live session of the EC) is the caller's
    /// to name: it comes back as the database error.
    pub async fn insert_upload(&self, u: &NewUpload<'_>, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO uploads (id, device, ec_address, total_size, received, state, leaves, frames_root, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 'open', $5, $6, $7, $7)",
        )
        .bind(u.id)
        .bind(u.device)
        .bind(u.ec_address)
        .bind(sql_i64(u.total_size))
        .bind(u.leaves.to_vec())
        .bind(u.frames_root.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves `received` from `from` to `to` if the session is still open at `from`.
    pub async fn advance_upload(
        &self,
        id: &str,
        from: u64,
        to: u64,
        now: i64,
    ) -> Result<bool, CloudError> {
        let res = sqlx::query(
            "UPDATE uploads SET received = $1, updated_at = $2 WHERE id = $3 AND received = $4 AND state = 'open'",
        )
        .bind(sql_i64(to))
        .bind(now)
        .bind(id)
        .bind(sql_i64(from))
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Aborts an open session.
    pub async fn abort_upload(&self, id: &str, now: i64) -> Result<(), CloudError> {
        sqlx::query(
            "UPDATE uploads SET state = 'aborted', updated_at = $1 WHERE id = $2 AND state = 'open'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Aborts a session, open or complete, and deletes its clip unless the verifier already
    /// decided it. `Err(Some(status))` when it had: nothing changed.
    pub async fn retire_upload(
        &self,
        id: &str,
        ec: &str,
        now: i64,
    ) -> Result<Result<(), ClipStatus>, CloudError> {
        let mut tx = self.begin_write().await?;
        let decided: Option<String> =
            sqlx::query_scalar("SELECT status FROM clips WHERE ec_address = $1 AND upload_id = $2")
                .bind(ec)
                .bind(id)
                .fetch_optional(tx.conn())
                .await?;
        if let Some(s) = decided {
            let s: ClipStatus = s
                .parse()
                .map_err(|e| CloudError::Corrupt(format!("clip status of {ec}: {e}")))?;
            if s != ClipStatus::Uploaded {
                return Ok(Err(s));
            }
        }
        sqlx::query(
            "DELETE FROM clips WHERE ec_address = $1 AND upload_id = $2 AND status = 'uploaded'",
        )
        .bind(ec)
        .bind(id)
        .execute(tx.conn())
        .await?;
        sqlx::query("UPDATE uploads SET state = 'aborted', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Completes a session: its clip row and the session's state, in one transaction.
    pub async fn complete_upload(
        &self,
        u: &UploadRow,
        clip: &NewClip<'_>,
        now: i64,
    ) -> Result<(), CloudError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO clips (ec_address, device, upload_id, blob_key, cipher_size, cipher_hash, thumb_first, thumb_last, \
             leaves, frames_root, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'uploaded', $11, $11)",
        )
        .bind(&u.ec_address)
        .bind(&u.device)
        .bind(&u.id)
        .bind(clip.blob_key)
        .bind(sql_i64(u.total_size))
        .bind(clip.cipher_hash.to_vec())
        .bind(clip.thumb_first.to_vec())
        .bind(clip.thumb_last.map(<[u8]>::to_vec))
        .bind(u.leaves.clone())
        .bind(u.frames_root.clone())
        .bind(now)
        .execute(tx.conn())
        .await?;
        sqlx::query("UPDATE uploads SET state = 'complete', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&u.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }
}
