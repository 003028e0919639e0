//! `devices`: the registry of device keys and each device's chain tip.

use dashledger_api::admin::DeviceStatus;
use dashledger_protocol::chain::ChainTip;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, Tx, decode_b256, decode_enum};
use crate::error::CloudError;

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// Address (0x + lowercase hex).
    pub address: String,
    /// Status.
    pub status: DeviceStatus,
    /// Operator's label.
    pub label: String,
    /// Tip of its evidence chain (None: no record yet).
    pub tip: Option<ChainTip>,
    /// Registered at (unix s).
    pub created_at: i64,
    /// Last change (unix s).
    pub updated_at: i64,
}

const COLS: &str =
    "address, status, label, tip_seq, tip_segment_hash, tip_record_id, created_at, updated_at";

fn tip(r: &AnyRow) -> Result<Option<ChainTip>, sqlx::Error> {
    let seq: Option<i64> = r.try_get("tip_seq")?;
    let Some(seq) = seq else {
        return Ok(None);
    };
    Ok(Some(ChainTip {
        seq: u32::try_from(seq).map_err(|_| sqlx::Error::ColumnDecode {
            index: "tip_seq".into(),
            source: format!("{seq} out of range").into(),
        })?,
        segment_hash: decode_b256(r, "tip_segment_hash")?,
        record_id: decode_b256(r, "tip_record_id")?,
    }))
}

impl FromAnyRow for DeviceRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            address: r.try_get("address")?,
            status: decode_enum(r, "status")?,
            label: r.try_get("label")?,
            tip: tip(r)?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

impl Store {
    /// Registers a device (`true`) or leaves an existing one unchanged (`false`).
    pub async fn register_device(
        &self,
        address: &str,
        status: DeviceStatus,
        label: &str,
        now: i64,
    ) -> Result<bool, CloudError> {
        let res = sqlx::query(
            "INSERT INTO devices (address, status, label, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (address) DO NOTHING",
        )
        .bind(address)
        .bind(status.as_str())
        .bind(label)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// One device.
    pub async fn device(&self, address: &str) -> Result<Option<DeviceRow>, CloudError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM devices WHERE address = $1"
        )))
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(DeviceRow::from_row).transpose()?)
    }

    /// A device's status (None: not registered).
    pub async fn device_status(&self, address: &str) -> Result<Option<DeviceStatus>, CloudError> {
        Ok(self.device(address).await?.map(|d| d.status))
    }

    /// Devices (with this status), by address.
    pub async fn devices(
        &self,
        status: Option<DeviceStatus>,
    ) -> Result<Vec<DeviceRow>, CloudError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM devices WHERE ($1 = '' OR status = $1) ORDER BY address"
        )))
        .bind(status.map_or("", DeviceStatus::as_str))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(DeviceRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Sets a device's status; `false` when it is not registered.
    pub async fn set_device_status(
        &self,
        address: &str,
        status: DeviceStatus,
        now: i64,
    ) -> Result<bool, CloudError> {
        let res = sqlx::query("UPDATE devices SET status = $1, updated_at = $2 WHERE address = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() == 1)
    }
}

impl Tx {
    /// A device's status and tip, read inside the transaction.
    pub async fn device(&mut self, address: &str) -> Result<Option<DeviceRow>, CloudError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM devices WHERE address = $1"
        )))
        .bind(address)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(DeviceRow::from_row).transpose()?)
    }

    /// Moves a device's tip.
    pub async fn set_tip(
        &mut self,
        address: &str,
        tip: &ChainTip,
        now: i64,
    ) -> Result<(), CloudError> {
        sqlx::query(
            "UPDATE devices SET tip_seq = $1, tip_segment_hash = $2, tip_record_id = $3, updated_at = $4 WHERE address = $5",
        )
        .bind(i64::from(tip.seq))
        .bind(tip.segment_hash.as_slice().to_vec())
        .bind(tip.record_id.as_slice().to_vec())
        .bind(now)
        .bind(address)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
