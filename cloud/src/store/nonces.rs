//! `auth_nonces`: nonces of signed API requests, kept until they expire (replay protection).

use super::Store;
use crate::error::CloudError;

impl Store {
    /// Records `(signer, nonce)`; `false` when it was already used (a replay).
    pub async fn use_nonce(
        &self,
        signer: &str,
        nonce: &str,
        expires_at: i64,
    ) -> Result<bool, CloudError> {
        let res = sqlx::query(
            "INSERT INTO auth_nonces (signer, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (signer, nonce) DO NOTHING",
        )
        .bind(signer)
        .bind(nonce)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Forgets nonces that expired before `now` (they can no longer be replayed).
    pub async fn forget_expired_nonces(&self, now: i64) -> Result<u64, CloudError> {
        let res = sqlx::query("DELETE FROM auth_nonces WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected())
    }
}
