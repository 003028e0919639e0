//! `alarms`: chain findings and foreign uploads, for the operator.

use dashledger_api::admin::{Alarm, AlarmKind};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, Tx, decode_enum};
use crate::error::CloudError;

struct AlarmRow(Alarm);

impl FromAnyRow for AlarmRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self(Alarm {
            id: r.try_get("id")?,
            device: r.try_get("device")?,
            kind: decode_enum(r, "kind")?,
            seq: r.try_get("seq")?,
            detail: r.try_get("detail")?,
            created_at: r.try_get("created_at")?,
            acknowledged_at: r.try_get("acknowledged_at")?,
        }))
    }
}

const INSERT: &str = "INSERT INTO alarms (device, kind, seq, detail, created_at) VALUES ($1, $2, $3, $4, $5) \
                      ON CONFLICT (device, kind, seq, detail) DO NOTHING";

/// Which alarms to list.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// Only this device.
    pub device: Option<String>,
    /// Only this kind.
    pub kind: Option<AlarmKind>,
    /// Only ids greater than this.
    pub after: i64,
    /// Include acknowledged ones.
    pub all: bool,
    /// Most rows.
    pub limit: i64,
}

impl Store {
    /// Raises an alarm (an identical one is stored once); `true` when it is new.
    pub async fn raise_alarm(
        &self,
        device: &str,
        kind: AlarmKind,
        seq: i64,
        detail: &str,
        now: i64,
    ) -> Result<bool, CloudError> {
        let res = sqlx::query(INSERT)
            .bind(device)
            .bind(kind.as_str())
            .bind(seq)
            .bind(detail)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Alarms by id.
    pub async fn alarms(&self, f: &AlarmFilter) -> Result<Vec<Alarm>, CloudError> {
        let rows = sqlx::query(
            "SELECT id, device, kind, seq, detail, created_at, acknowledged_at FROM alarms \
             WHERE id > $1 AND ($2 = '' OR device = $2) AND ($3 = '' OR kind = $3) \
             AND ($4 = 1 OR acknowledged_at IS NULL) ORDER BY id LIMIT $5",
        )
        .bind(f.after)
        .bind(f.device.clone().unwrap_or_default())
        .bind(f.kind.map_or("", AlarmKind::as_str))
        .bind(i64::from(f.all))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AlarmRow::from_row(r).map(|a| a.0))
            .collect::<Result<_, _>>()?)
    }

    /// Acknowledges an alarm; `None` when there is no such alarm, else whether it was open.
    pub async fn ack_alarm(&self, id: i64, now: i64) -> Result<Option<bool>, CloudError> {
        let res = sqlx::query(
            "UPDATE alarms SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 1 {
            return Ok(Some(true));
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM alarms WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(exists.map(|_| false))
    }
}

impl Tx {
    /// Raises an alarm inside the transaction (an identical one is stored once).
    pub async fn raise_alarm(
        &mut self,
        device: &str,
        kind: AlarmKind,
        seq: i64,
        detail: &str,
        now: i64,
    ) -> Result<(), CloudError> {
        sqlx::query(INSERT)
            .bind(device)
            .bind(kind.as_str())
            .bind(seq)
            .bind(detail)
            .bind(now)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
