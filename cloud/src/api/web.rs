//! The requester's web page: the built files of `web/dist` (config key `web.dir`) served at `/`,
//! and `GET /config.json`, the page's deployment configuration built from the deployment file.
//!
//! Static files are only looked up for `GET`/`HEAD` requests that no API route matched. Paths are
//! percent-decoded and must consist of plain segments (no `.`/`..`, no backslash, no NUL); the
//! resolved file must lie under the canonical `web.dir` (symlinks pointing out are refused too).
//! That check stays ours: tower-http's `ServeDir` follows symlinks out of its root and answers
//! traversal with a 404, where this service refuses with 400 `invalid_path`. The checked file is
//! then served by tower-http's `ServeFile` (HEAD, `If-Modified-Since` → 304, Range, streamed
//! instead of read into memory); content types (with their charset) and cache headers are set
//! here per path.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
pub use dashledger_api::service::{PageConfig, PageContracts, PageGeocoder, PageMap};

use super::Shared;
use crate::chain::Deployment;
use crate::config::Config;
use crate::error::ApiError;

/// Builds the page configuration from a deployment and the service configuration.
pub fn page_config(d: &Deployment, cfg: &Config) -> PageConfig {
    let chain_name = match &cfg.web.chain_name {
        Some(n) if !n.trim().is_empty() => n.trim().to_owned(),
        _ if d.chain_id == 31337 => "anvil (local)".to_owned(),
        _ => format!("chain {}", d.chain_id),
    };
    PageConfig {
        chain_id: d.chain_id,
        chain_name,
        from_block: d.start_block,
        contracts: PageContracts {
            evidence_factory: d.evidence_factory.to_checksum(None),
            search_contract: d.search_contract.to_checksum(None),
            request_factory: d.request_factory.to_checksum(None),
            response_contract: d.response_contract.to_checksum(None),
        },
        cloud_url: cfg.web.cloud_url.clone(),
        max_range_secs: cfg.search.max_range_secs,
        map: match (&cfg.web.map_style, cfg.web.map_tiles.is_empty()) {
            (Some(style), _) if !style.trim().is_empty() => Some(PageMap {
                style: Some(style.trim().to_owned()),
                tiles: Vec::new(),
                attribution: cfg.web.map_attribution.clone(),
                tile_size: None,
                max_zoom: None,
            }),
            (_, false) => Some(PageMap {
                style: None,
                tiles: cfg.web.map_tiles.clone(),
                attribution: cfg.web.map_attribution.clone(),
                tile_size: cfg.web.map_tile_size,
                max_zoom: cfg.web.map_max_zoom,
            }),
            _ => None,
        },
        geocoder: cfg
            .web
            .geocoder_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| PageGeocoder {
                url: u.to_owned(),
                attribution: cfg.web.geocoder_attribution.clone(),
            }),
        explorer_url: cfg
            .web
            .explorer_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
    }
}

/// The web page's deployment configuration (what `web/src/config.js` reads), built from the
/// deployment file (`chain.deployment_file`).
#[utoipa::path(get, path = "/config.json", tag = "service",
    responses(
        (status = 200, description = "the configuration", body = PageConfig),
        (status = 503, description = "no usable deployment file", body = ErrorBody),
    ))]
pub(super) async fn config_json(State(st): State<Shared>) -> Result<Response, ApiError> {
    let deployment = match &st.chain {
        Some(chain) => chain.deployment.clone(),
        None => {
            let path = st.config.deployment_file();
            let p = path.clone();
            match tokio::task::spawn_blocking(move || Deployment::load(&p))
                .await
                .map_err(|e| ApiError::internal(format!("deployment loader: {e}")))?
            {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "config.json: no usable deployment file");
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "no_deployment",
                        format!(
                            "the cloud has no usable deployment file ({}); set chain.deployment_file to deployments/<chainId>.json",
                            path.display()
                        ),
                    ));
                }
            }
        }
    };
    let body =
        serde_json::to_vec(&page_config(&deployment, &st.config)).map_err(ApiError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

/// The requester's web page (`web.dir/index.html`); every other `GET` path outside `/v1/` is a
/// file of the page.
#[utoipa::path(get, path = "/", tag = "service",
    responses(
        (status = 200, description = "index.html", content_type = "text/html", body = String),
        (status = 404, description = "no web.dir configured (no_web_page)", body = ErrorBody),
    ))]
pub(super) async fn index(st: State<Shared>, req: Request) -> Response {
    fallback(st, req).await
}

/// Fallback of the router: a file of the web page for `GET`/`HEAD`, else a JSON 404 (`/`
/// itself is a route: other methods there are a 405).
pub(super) async fn fallback(State(st): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_owned();
    let is_api = raw_path.starts_with("/v1/") || raw_path == "/v1";
    if is_api || (method != Method::GET && method != Method::HEAD) {
        return super::not_found().await.into_response();
    }
    let Some(dir) = st.config.web.dir.clone() else {
        if raw_path == "/" || raw_path == "/index.html" {
            return ApiError::not_found(
                "no_web_page",
                "this cloud does not serve the web page; start it with --set web.dir=PATH (the built web/dist, see docs/cloud.md)",
            )
            .into_response();
        }
        return super::not_found().await.into_response();
    };
    match serve_file(&dir, &raw_path, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The relative file path a request path names (`index.html` for directories), or an error for
/// anything that could leave the web directory.
fn relative_path(raw_path: &str) -> Result<PathBuf, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "invalid_path",
            "path refused: it must name a file under the web page's directory (no '.', '..', '\\' or NUL segments)",
        )
    };
    let decoded = percent_decode(raw_path).ok_or_else(refused)?;
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    let mut rel = PathBuf::new();
    let mut segments = trimmed.split('/').peekable();
    while let Some(seg) = segments.next() {
        if seg.is_empty() && segments.peek().is_none() {
            break; // trailing slash
        }
        if seg.is_empty()
            || seg == "."
            || seg == ".."
            || seg.contains('\\')
            || seg.contains('\0')
            || seg.contains(':')
        {
            return Err(refused());
        }
        rel.push(seg);
    }
    if rel.as_os_str().is_empty() || trimmed.ends_with('/') {
        rel.push("index.html");
    }
    Ok(rel)
}

/// Content type by file extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "geojson" => "application/geo+json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// Vite puts content-hashed bundles under `assets/`: those never change and may be cached for
/// good; everything else (index.html above all) is revalidated.
fn cache_control(rel: &Path) -> &'static str {
    if rel.starts_with("assets") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

async fn serve_file(dir: &Path, raw_path: &str, req: Request) -> Result<Response, ApiError> {
    let rel = relative_path(raw_path)?;
    let missing = || ApiError::not_found("not_found", format!("no such file: {raw_path}"));
    let root = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| ApiError::internal(format!("web.dir {} is not usable: {e}", dir.display())))?;
    let full = match tokio::fs::canonicalize(root.join(&rel)).await {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(_) => return Err(missing()),
    };
    if !full.starts_with(&root) {
        tracing::warn!(
            path = raw_path,
            "web: path resolves outside web.dir; refused"
        );
        return Err(ApiError::bad_request(
            "invalid_path",
            "path refused: it resolves outside the web page's directory",
        ));
    }
    let meta = tokio::fs::metadata(&full).await.map_err(|_| missing())?;
    let full = if meta.is_dir() {
        full.join("index.html")
    } else {
        full
    };
    if !tokio::fs::metadata(&full).await.is_ok_and(|m| m.is_file()) {
        return Err(missing());
    }
    // tower-http serves the checked file: HEAD, conditional requests (304), Range, streaming.
    let resp = tower_http::services::ServeFile::new(&full)
        .try_call(req)
        .await
        .map_err(|e| ApiError::internal(format!("serving {}: {e}", full.display())))?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(missing());
    }
    let mut resp = resp.map(Body::new);
    let h = resp.headers_mut();
    if h.contains_key(header::CONTENT_TYPE) {
        // Our types carry the charset, and the cache policy is per path.
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&full)),
        );
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(&rel)),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_config_carries_the_operators_map_geocoder_explorer_and_range() {
        let d = Deployment {
            chain_id: 1,
            evidence_factory: Default::default(),
            search_contract: Default::default(),
            request_factory: Default::default(),
            response_contract: Default::default(),
            verifier: Default::default(),
            start_block: 5,
        };
        let mut cfg = Config::default();
        // Defaults: the bundled basemap, no geocoder, no explorer (nothing from other sites).
        let v = serde_json::to_value(page_config(&d, &cfg)).unwrap();
        assert_eq!(v["maxRangeSecs"], 31 * 24 * 3600);
        for k in ["map", "geocoder", "explorerUrl"] {
            assert!(v.get(k).is_none(), "{k} in {v}");
        }
        cfg.web.map_tiles = vec!["https://tiles.example/{z}/{x}/{y}.png".into()];
        cfg.web.map_attribution = "© tiles".into();
        cfg.web.map_tile_size = Some(512);
        cfg.web.map_max_zoom = Some(17);
        cfg.web.geocoder_url = Some("https://geo.example/search?q={query}".into());
        cfg.web.geocoder_attribution = "Search by Geo Example".into();
        cfg.web.explorer_url = Some(" https://explorer.example ".into());
        cfg.search.max_range_secs = 7 * 86400;
        let v = serde_json::to_value(page_config(&d, &cfg)).unwrap();
        assert_eq!(
            v["map"],
            serde_json::json!({ "tiles": ["https://tiles.example/{z}/{x}/{y}.png"], "attribution": "© tiles", "tileSize": 512, "maxZoom": 17 })
        );
        assert_eq!(
            v["geocoder"],
            serde_json::json!({ "url": "https://geo.example/search?q={query}", "attribution": "Search by Geo Example" })
        );
        assert_eq!(v["explorerUrl"], "https://explorer.example");
        assert_eq!(v["maxRangeSecs"], 7 * 86400);
        // A style wins over tiles.
        cfg.web.map_style = Some("https://tiles.example/style.json".into());
        let v = serde_json::to_value(page_config(&d, &cfg)).unwrap();
        assert_eq!(
            v["map"],
            serde_json::json!({ "style": "https://tiles.example/style.json", "attribution": "© tiles" })
        );
    }

    #[test]
    fn paths() {
        assert_eq!(relative_path("/").unwrap(), PathBuf::from("index.html"));
        assert_eq!(
            relative_path("/assets/a.js").unwrap(),
            PathBuf::from("assets/a.js")
        );
        assert_eq!(
            relative_path("/assets/").unwrap(),
            PathBuf::from("assets/index.html")
        );
        assert_eq!(
            relative_path("/a%20b.txt").unwrap(),
            PathBuf::from("a b.txt")
        );
        for bad in [
            "/../x",
            "/%2e%2e/x",
            "/a/..%2f..%2fx",
            "/a//b",
            "/a/./b",
            "/a\\..\\b",
            "/%00",
            "/%zz",
            "/c:/x",
        ] {
            assert!(relative_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            content_type(Path::new("x/umbral_pre_bg.wasm")),
            "application/wasm"
        );
        assert_eq!(
            cache_control(Path::new("assets/i-abc.js")),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control(Path::new("index.html")), "no-cache");
    }
}
