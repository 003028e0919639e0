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
    /// Page size, 1..=`search.max_page_size` (default 50).
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
