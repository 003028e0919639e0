//! Health, readiness and the web page's `/config.json`.

use serde::{Deserialize, Serialize};

/// `GET /healthz`, and `GET /readyz` when ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` (healthz) or `ready` (readyz).
    pub status: String,
}

/// `GET /readyz` when not ready (503).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotReady {
    /// `not ready`.
    pub status: String,
    /// What is wrong (database, schema version, blob storage).
    pub problems: Vec<String>,
}

/// `GET /config.json`: what the web page (`web/src/config.js`) reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageConfig {
    /// Chain id of the deployment.
    pub chain_id: u64,
    /// Human name of the chain.
    pub chain_name: String,
    /// First block worth reading logs from (the deployment's `startBlock`).
    pub from_block: u64,
    /// Contract addresses (checksummed).
    pub contracts: PageContracts,
    /// Base URL of the cloud API; empty = the origin that served the page.
    pub cloud_url: String,
    /// Longest search time range the cloud accepts (`search.max_range_secs`), seconds.
    pub max_range_secs: i64,
    /// The operator's map tiles; absent: the page's bundled basemap (nothing from other sites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<PageMap>,
    /// The operator's place-name search; absent: coordinates only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geocoder: Option<PageGeocoder>,
    /// Block explorer base URL for transaction and address links; absent: no links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explorer_url: Option<String>,
}

/// The map of [`PageConfig`]: a MapLibre style URL, or raster tile URL templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageMap {
    /// A MapLibre style document URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Raster tile URL templates (`{z}/{x}/{y}`), used when no style is set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiles: Vec<String>,
    /// Attribution shown on the map (required by most tile licences).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attribution: String,
    /// Pixel size of the raster tiles (absent: 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_size: Option<u32>,
    /// Highest zoom the tile server has (absent: 19).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_zoom: Option<u8>,
}

/// The geocoder of [`PageConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageGeocoder {
    /// URL with `{query}` where the place name goes; answers Nominatim-style JSON.
    pub url: String,
    /// Attribution the geocoder's terms require (shown with its results).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub attribution: String,
}

/// The contract addresses of [`PageConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageContracts {
    /// EvidenceFactory.
    pub evidence_factory: String,
    /// SearchContract.
    pub search_contract: String,
    /// RequestFactory.
    pub request_factory: String,
    /// ResponseContract.
    pub response_contract: String,
}
