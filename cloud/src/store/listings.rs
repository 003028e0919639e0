//! `listings`: verified ECs from the Search Contract (via the indexer): what search answers
//! from. The place is the EC's public place, never anything from evidence records.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{FromAnyRow, Store, Tx};
use crate::error::CloudError;

/// A listed clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingRow {
    /// The EC.
    pub ec_address: String,
    /// Recording time (unix s).
    pub t: i64,
    /// Latitude (degrees).
    pub lat: f64,
    /// Longitude (degrees).
    pub lon: f64,
    /// Listing status.
    pub status: String,
}

impl FromAnyRow for ListingRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            ec_address: r.try_get("ec_address")?,
            t: r.try_get("t")?,
            lat: r.try_get("lat")?,
            lon: r.try_get("lon")?,
            status: r.try_get("status")?,
        })
    }
}

/// One keyset page of a bounding-box search.
#[derive(Debug, Clone, Copy)]
pub struct BoxPage<'a> {
    /// Last time of the range (inclusive).
    pub to: i64,
    /// Keyset position: rows after `(after_t, after_ec)`.
    pub after_t: i64,
    /// Keyset position.
    pub after_ec: &'a str,
    /// South, north, west, east.
    pub bounds: (f64, f64, f64, f64),
    /// Most rows.
    pub limit: i64,
}

impl Store {
    /// Listings in a box, in `(t, ec)` order after the keyset position.
    pub async fn listings_in_box(&self, q: &BoxPage<'_>) -> Result<Vec<ListingRow>, CloudError> {
        let (min_lat, max_lat, min_lon, max_lon) = q.bounds;
        let rows = sqlx::query(
            "SELECT ec_address, t, lat, lon, status FROM listings \
             WHERE t <= $1 AND (t > $2 OR (t = $2 AND ec_address > $3)) \
             AND lat >= $4 AND lat <= $5 AND lon >= $6 AND lon <= $7 \
             ORDER BY t, ec_address LIMIT $8",
        )
        .bind(q.to)
        .bind(q.after_t)
        .bind(q.after_ec)
        .bind(min_lat)
        .bind(max_lat)
        .bind(min_lon)
        .bind(max_lon)
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(ListingRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// One listing.
    pub async fn listing(&self, ec: &str) -> Result<Option<ListingRow>, CloudError> {
        let row = sqlx::query(
            "SELECT ec_address, t, lat, lon, status FROM listings WHERE ec_address = $1",
        )
        .bind(ec)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ListingRow::from_row).transpose()?)
    }
}

impl Tx {
    /// Lists (or re-lists) an EC.
    pub async fn upsert_listing(&mut self, l: &ListingRow, block: i64) -> Result<(), CloudError> {
        sqlx::query(
            "INSERT INTO listings (ec_address, t, lat, lon, status, block_number) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (ec_address) DO UPDATE SET t = excluded.t, lat = excluded.lat, lon = excluded.lon, block_number = excluded.block_number",
        )
        .bind(&l.ec_address)
        .bind(l.t)
        .bind(l.lat)
        .bind(l.lon)
        .bind(&l.status)
        .bind(block)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
