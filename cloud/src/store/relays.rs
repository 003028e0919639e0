//! `relays`: EC creations the relayer sent (rate limiting; the EC binds its upload to the device).

use super::Store;
use crate::error::CloudError;

impl Store {
    /// Relays for `device` since `since` (unix s).
    pub async fn relays_since(&self, device: &str, since: i64) -> Result<i64, CloudError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM relays WHERE device = $1 AND created_at > $2")
                .bind(device)
                .bind(since)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Records a sent creation (before its receipt: it counts against the rate limit).
    pub async fn record_relay(
        &self,
        device: &str,
        tx_hash: &str,
        now: i64,
    ) -> Result<(), CloudError> {
        sqlx::query("INSERT INTO relays (device, tx_hash, created_at) VALUES ($1, $2, $3)")
            .bind(device)
            .bind(tx_hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Binds the EC a successful creation made to its device.
    pub async fn bind_relay(
        &self,
        device: &str,
        tx_hash: &str,
        ec: &str,
    ) -> Result<(), CloudError> {
        sqlx::query("UPDATE relays SET ec_address = $1 WHERE tx_hash = $2 AND device = $3")
            .bind(ec)
            .bind(tx_hash)
            .bind(device)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The device the relayer created `ec` for.
    pub async fn relayed_for(&self, ec: &str) -> Result<Option<String>, CloudError> {
        Ok(sqlx::query_scalar(
            "SELECT device FROM relays WHERE ec_address = $1 ORDER BY id LIMIT 1",
        )
        .bind(ec)
        .fetch_optional(&self.pool)
        .await?)
    }
}
