//! Search over listed (verified) clips (`GET /v1/clips`, `GET /v1/clips/{ec}`).

use serde::{Deserialize, Serialize};

/// `GET /v1/clips` query: a time range and a place (a circle, or a box), paginated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Start of the time range, unix seconds (inclusive).
    pub from: i64,
    /// End of the time range, unix seconds (inclusive); `to - from` at most
    /// `search.max_range_secs`.
    pub to: i64,
    /// Centre latitude (degrees) of a radius search.
    #[cfg_attr(feature = "openapi", param(minimum = -90, maximum = 90))]
    pub lat: Option<f64>,
    /// Centre longitude (degrees).
    #[cfg_attr(feature = "openapi", param(minimum = -180, maximum = 180))]
    pub lon: Option<f64>,
    /// Radius in metres, (0, 200000].
    #[cfg_attr(feature = "openapi", param(exclusive_minimum = 0, maximum = 200000))]
    pub radius_m: Option<f64>,
    /// Box search: south edge (degrees).
    #[cfg_attr(feature = "openapi", param(minimum = -90, maximum = 90))]
    pub min_lat: Option<f64>,
    /// North edge.
    #[cfg_attr(feature = "openapi", param(minimum = -90, maximum = 90))]
    pub max_lat: Option<f64>,
    /// West edge.
    #[cfg_attr(feature = "openapi", param(minimum = -180, maximum = 180))]
    pub min_lon: Option<f64>,
    /// East edge.
    #[cfg_attr(feature = "openapi", param(minimum = -180, maximum = 180))]
    pub max_lon: Option<f64>,
    /// Page size, 1..=`search.max_page_size` (default 50, or `search.max_page_size` when smaller).
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Thumbnail links of a hit (paths on the cloud).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThumbnailLinks {
    /// First frame.
    pub first: String,
    /// Last frame.
    pub last: String,
}

/// One listed clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    /// The Evidence Contract.
    pub ec_address: String,
    /// Recording time (unix s).
    pub recorded_at: i64,
    /// Latitude (degrees).
    pub lat: f64,
    /// Longitude (degrees).
    pub lon: f64,
    /// Listing status (`verified`).
    pub status: String,
    /// Thumbnail links.
    pub thumbnails: ThumbnailLinks,
}

/// A page of hits, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page {
    /// Hits.
    pub items: Vec<Hit>,
    /// Cursor of the next page (null: no more).
    pub next_cursor: Option<String>,
}

/// `GET /v1/clips/{ec}/records?reqc=&around=` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// The Request Contract (Completed, opened by the signer for this EC).
    #[cfg_attr(feature = "openapi", param(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub reqc: String,
    /// Records on each side of the segment's record (default 2, at most 30).
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 30))]
    pub around: Option<u32>,
}

/// `GET /v1/clips/{ec}/c2pa` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct C2paQuery {
    /// The Request Contract (Completed, opened by the signer for this EC).
    #[cfg_attr(feature = "openapi", param(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub reqc: String,
}

/// The device's signed evidence records around an EC's segment, as the cloud received them,
/// and the device's standing: what an evidence bundle carries as `records.bin` and
/// `device.json` (docs/formats.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceRecords {
    /// The device as the cloud recorded it.
    pub device: DeviceStanding,
    /// The sequence number of the segment's record.
    pub segment_seq: u32,
    /// The signed records in sequence order, concatenated (161 bytes each: the 96-byte record
    /// and its 65-byte signature), hex.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$"))]
    pub records: alloy::primitives::Bytes,
}

/// A device's standing with the operator, without the operator's label (which may name the
/// driver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceStanding {
    /// The device key's address (lowercase).
    pub address: String,
    /// Its status now.
    pub status: crate::admin::DeviceStatus,
    /// Registered at (unix s).
    pub registered_at: i64,
    /// Last status change (unix s).
    pub status_since: i64,
    /// Where this statement comes from.
    pub source: String,
}
