//! `requests`, `request_events`, `indexer_blocks`, `indexer_state`: the Request Contracts the
//! indexer follows, and its own progress (next block, recent block hashes for reorgs).

use dashledger_api::requests::{RequestState, RequestView};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, Tx, decode_enum};
use crate::error::CloudError;

struct RequestRow(RequestView);

impl FromAnyRow for RequestRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self(RequestView {
            reqc: r.try_get("reqc")?,
            ec_address: r.try_get("ec_address")?,
            requester: r.try_get("requester")?,
            owner: r.try_get("owner")?,
            state: decode_enum(r, "state")?,
            block_number: r.try_get("block_number")?,
        }))
    }
}

impl Store {
    /// The requests for `owner`'s ECs (in `state`), newest first, at most 1000.
    pub async fn owner_requests(
        &self,
        owner: &str,
        state: Option<RequestState>,
    ) -> Result<Vec<RequestView>, CloudError> {
        let rows = sqlx::query(
            "SELECT reqc, ec_address, requester, owner, state, block_number FROM requests \
             WHERE owner = $1 AND ($2 = '' OR state = $2) ORDER BY block_number DESC, reqc LIMIT 1000",
        )
        .bind(owner)
        .bind(state.map_or("", RequestState::as_str))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| RequestRow::from_row(r).map(|r| r.0))
            .collect::<Result<_, _>>()?)
    }

    /// A request's indexed state.
    pub async fn request_state(&self, reqc: &str) -> Result<Option<RequestState>, CloudError> {
        let s: Option<String> = sqlx::query_scalar("SELECT state FROM requests WHERE reqc = $1")
            .bind(reqc)
            .fetch_optional(&self.pool)
            .await?;
        s.map(|s| {
            s.parse()
                .map_err(|e| CloudError::Corrupt(format!("state of request {reqc}: {e}")))
        })
        .transpose()
    }

    /// The block the indexer goes on from (None: never ran).
    pub async fn next_block(&self) -> Result<Option<u64>, CloudError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT value FROM indexer_state WHERE name = 'next_block'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.map(|v| v.max(0) as u64))
    }

    /// Recorded block hashes, newest first.
    pub async fn indexed_blocks(&self) -> Result<Vec<(u64, String)>, CloudError> {
        let rows = sqlx::query("SELECT number, hash FROM indexer_blocks ORDER BY number DESC")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("number")?;
                Ok((n.max(0) as u64, r.try_get("hash")?))
            })
            .collect()
    }
}

impl Tx {
    /// Records an opened request (a re-seen one is left as it is).
    pub async fn insert_request(&mut self, r: &RequestView) -> Result<(), CloudError> {
        sqlx::query(
            "INSERT INTO requests (reqc, ec_address, requester, owner, state, block_number, updated_block) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (reqc) DO NOTHING",
        )
        .bind(&r.reqc)
        .bind(&r.ec_address)
        .bind(&r.requester)
        .bind(&r.owner)
        .bind(r.state.as_str())
        .bind(r.block_number)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Whether the indexer saw `reqc` opened.
    pub async fn request_known(&mut self, reqc: &str) -> Result<bool, CloudError> {
        let known: Option<String> = sqlx::query_scalar("SELECT reqc FROM requests WHERE reqc = $1")
            .bind(reqc)
            .fetch_optional(self.conn())
            .await?;
        Ok(known.is_some())
    }

    /// Records a state event of a request and makes it the request's state.
    pub async fn request_event(
        &mut self,
        reqc: &str,
        block: i64,
        log_index: i64,
        state: RequestState,
    ) -> Result<(), CloudError> {
        sqlx::query(
            "INSERT INTO request_events (reqc, block_number, log_index, state) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(reqc)
        .bind(block)
        .bind(log_index)
        .bind(state.as_str())
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE requests SET state = $1, updated_block = $2 WHERE reqc = $3")
            .bind(state.as_str())
            .bind(block)
            .bind(reqc)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records the hash of an indexed block.
    pub async fn record_block(&mut self, number: u64, hash: &str) -> Result<(), CloudError> {
        sqlx::query(
            "INSERT INTO indexer_blocks (number, hash) VALUES ($1, $2) ON CONFLICT (number) DO UPDATE SET hash = excluded.hash",
        )
        .bind(super::sql_i64(number))
        .bind(hash)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Keeps only the newest `keep` block hashes.
    pub async fn prune_blocks(&mut self, keep: i64) -> Result<(), CloudError> {
        sqlx::query(
            "DELETE FROM indexer_blocks WHERE number < (SELECT MIN(number) FROM \
             (SELECT number FROM indexer_blocks ORDER BY number DESC LIMIT $1) AS recent)",
        )
        .bind(keep)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Sets the block the indexer goes on from.
    pub async fn set_next_block(&mut self, next: u64) -> Result<(), CloudError> {
        sqlx::query(
            "INSERT INTO indexer_state (name, value) VALUES ('next_block', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(super::sql_i64(next))
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Deletes everything indexed at or after block `from` (a reorg); requests opened before it
    /// go back to their latest remaining event's state.
    pub async fn rewind(&mut self, from: u64) -> Result<(), CloudError> {
        let f = super::sql_i64(from);
        for sql in [
            "DELETE FROM listings WHERE block_number >= $1",
            "DELETE FROM requests WHERE block_number >= $1",
            "DELETE FROM request_events WHERE block_number >= $1",
        ] {
            sqlx::query(sql).bind(f).execute(self.conn()).await?;
        }
        let touched =
            sqlx::query("SELECT reqc, block_number FROM requests WHERE updated_block >= $1")
                .bind(f)
                .fetch_all(self.conn())
                .await?;
        for r in touched {
            let reqc: String = r.try_get("reqc")?;
            let opened: i64 = r.try_get("block_number")?;
            let last = sqlx::query(
                "SELECT state, block_number FROM request_events WHERE reqc = $1 ORDER BY block_number DESC, log_index DESC LIMIT 1",
            )
            .bind(&reqc)
            .fetch_optional(self.conn())
            .await?;
            let (state, block): (String, i64) = match last {
                Some(l) => (l.try_get("state")?, l.try_get("block_number")?),
                None => (RequestState::Open.as_str().to_owned(), opened),
            };
            sqlx::query("UPDATE requests SET state = $1, updated_block = $2 WHERE reqc = $3")
                .bind(state)
                .bind(block)
                .bind(&reqc)
                .execute(self.conn())
                .await?;
        }
        sqlx::query("DELETE FROM indexer_blocks WHERE number >= $1")
            .bind(f)
            .execute(self.conn())
            .await?;
        self.set_next_block(from).await
    }
}
