//! Search over listed (verified) clips by time range and place, and their public thumbnails.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::clips::{Hit, Page, SearchQuery, ThumbnailLinks as HitThumbs};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiQuery, Shared, addr_key, parse_address};
use crate::error::ApiError;
use crate::store::listings::BoxPage;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(get_clip))
        .routes(routes!(thumbnail))
}

/// Mean Earth radius (m), for great-circle distances.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

enum Area {
    Circle { lat: f64, lon: f64, r: f64 },
    Box,
}

fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

fn check_lat(v: f64, what: &str) -> Result<f64, ApiError> {
    if v.is_finite() && (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "invalid_place",
            format!("{what} must be a latitude in -90..=90, got {v}"),
        ))
    }
}

fn check_lon(v: f64, what: &str) -> Result<f64, ApiError> {
    if v.is_finite() && (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(
            "invalid_place",
            format!("{what} must be a longitude in -180..=180, got {v}"),
        ))
    }
}

/// (area, min_lat, max_lat, min_lon, max_lon)
fn area(q: &SearchQuery) -> Result<(Area, f64, f64, f64, f64), ApiError> {
    let circle = q.lat.is_some() || q.lon.is_some() || q.radius_m.is_some();
    let bx =
        q.min_lat.is_some() || q.max_lat.is_some() || q.min_lon.is_some() || q.max_lon.is_some();
    match (circle, bx) {
        (true, true) => Err(ApiError::bad_request(
            "invalid_place",
            "give either lat+lon+radius_m or a box, not both",
        )),
        (false, false) => Err(ApiError::bad_request(
            "invalid_place",
            "give a place: lat+lon+radius_m, or min_lat+max_lat+min_lon+max_lon",
        )),
        (true, false) => {
            let (Some(lat), Some(lon), Some(r)) = (q.lat, q.lon, q.radius_m) else {
                return Err(ApiError::bad_request(
                    "invalid_place",
                    "a radius search needs lat, lon and radius_m",
                ));
            };
            let lat = check_lat(lat, "lat")?;
            let lon = check_lon(lon, "lon")?;
            if !(r.is_finite() && r > 0.0 && r <= 200_000.0) {
                return Err(ApiError::bad_request(
                    "invalid_place",
                    format!("radius_m must be in (0, 200000], got {r}"),
                ));
            }
            let dlat = (r / EARTH_RADIUS_M).to_degrees();
            let coslat = lat.to_radians().cos().max(1e-6);
            let dlon = (dlat / coslat).min(180.0);
            Ok((
                Area::Circle { lat, lon, r },
                (lat - dlat).max(-90.0),
                (lat + dlat).min(90.0),
                (lon - dlon).max(-180.0),
                (lon + dlon).min(180.0),
            ))
        }
        (false, true) => {
            let (Some(a), Some(b), Some(c), Some(d)) = (q.min_lat, q.max_lat, q.min_lon, q.max_lon)
            else {
                return Err(ApiError::bad_request(
                    "invalid_place",
                    "a box search needs min_lat, max_lat, min_lon and max_lon",
                ));
            };
            let (a, b, c, d) = (
                check_lat(a, "min_lat")?,
                check_lat(b, "max_lat")?,
                check_lon(c, "min_lon")?,
                check_lon(d, "max_lon")?,
            );
            if a > b || c > d {
                return Err(ApiError::bad_request(
                    "invalid_place",
                    "min_lat must be <= max_lat and min_lon <= max_lon",
                ));
            }
            Ok((Area::Box, a, b, c, d))
        }
    }
}

/// `from <= to` and `to - from <= max_range` without overflow: extreme values (`i64::MIN` to
/// `i64::MAX`) are a 400, never a panic or a wrapped, unchecked range.
fn check_time_range(from: i64, to: i64, max_range: i64) -> Result<(), ApiError> {
    if from > to {
        return Err(ApiError::bad_request("invalid_time", "from must be <= to"));
    }
    match to.checked_sub(from) {
        Some(span) if span <= max_range => Ok(()),
        _ => Err(ApiError::bad_request(
            "invalid_time",
            format!("time range longer than {max_range} s; narrow it"),
        )),
    }
}

/// Hits per page when the query names no `limit` (at most `search.max_page_size`).
const DEFAULT_PAGE_SIZE: u32 = 50;

fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "cursor is not one this server returned");
    let (t, ec) = c.split_once('_').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    let ec = addr_key(&parse_address(ec, "cursor").map_err(|_| bad())?);
    Ok((t, ec))
}

fn thumbs(ec: &str) -> HitThumbs {
    HitThumbs {
        first: format!("/v1/clips/{ec}/thumbnails/first"),
        last: format!("/v1/clips/{ec}/thumbnails/last"),
    }
}

/// Search listed (verified) clips by time range and place, paginated.
#[utoipa::path(get, path = "/v1/clips", tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "a page of hits in time order", body = Page),
        (status = 400, description = "invalid time range, place, limit or cursor", body = ErrorBody),
    ))]
async fn search(
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<Page>, ApiError> {
    check_time_range(q.from, q.to, st.config.search.max_range_secs)?;
    let limit = q
        .limit
        .unwrap_or(DEFAULT_PAGE_SIZE.min(st.config.search.max_page_size));
    if limit == 0 || limit > st.config.search.max_page_size {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be 1..={}", st.config.search.max_page_size),
        ));
    }
    let (area, min_lat, max_lat, min_lon, max_lon) = area(&q)?;
    // Keyset start: `(t, ec) > (from, "")` is `t >= from` (every address sorts after ""), with no
    // arithmetic on the client's numbers.
    let (mut after_t, mut after_ec) = match &q.cursor {
        Some(c) => parse_cursor(c)?,
        None => (q.from, String::new()),
    };
    let mut items = Vec::new();
    let batch = i64::from(limit) * 2 + 16;
    // Keyset pagination over (t, ec); the circle filter may drop rows of the bounding box, so
    // fetch until the page is full or the range is exhausted.
    loop {
        let rows = st
            .store
            .listings_in_box(&BoxPage {
                to: q.to,
                after_t,
                after_ec: &after_ec,
                bounds: (min_lat, max_lat, min_lon, max_lon),
                limit: batch,
            })
            .await?;
        let n = rows.len() as i64;
        for r in rows {
            let (ec, t, lat, lon) = (r.ec_address, r.t, r.lat, r.lon);
            after_t = t;
            after_ec = ec.clone();
            if let Area::Circle {
                lat: clat,
                lon: clon,
                r: rad,
            } = area
                && haversine_m(clat, clon, lat, lon) > rad
            {
                continue;
            }
            items.push(Hit {
                thumbnails: thumbs(&ec),
                ec_address: ec,
                recorded_at: t,
                lat,
                lon,
                status: r.status,
            });
            if items.len() == limit as usize {
                break;
            }
        }
        if items.len() == limit as usize || n < batch {
            let full = items.len() == limit as usize;
            let next_cursor = full.then(|| format!("{after_t}_{after_ec}"));
            return Ok(Json(Page { items, next_cursor }));
        }
    }
}

/// One listed clip.
#[utoipa::path(get, path = "/v1/clips/{ec}", tag = "search",
    params(("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "the clip", body = Hit),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 404, description = "not listed", body = ErrorBody),
    ))]
async fn get_clip(
    State(st): State<Shared>,
    ApiPath(ec): ApiPath<String>,
) -> Result<Json<Hit>, ApiError> {
    let ec = addr_key(&parse_address(&ec, "EC address")?);
    let r = st
        .store
        .listing(&ec)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_ec", format!("EC {ec} is not listed")))?;
    Ok(Json(Hit {
        thumbnails: thumbs(&ec),
        ec_address: r.ec_address,
        recorded_at: r.t,
        lat: r.lat,
        lon: r.lon,
        status: r.status,
    }))
}

/// A thumbnail of a listed clip (JPEG).
#[utoipa::path(get, path = "/v1/clips/{ec}/thumbnails/{which}", tag = "search",
    params(
        ("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$"),
        ("which" = String, Path, description = "which thumbnail", pattern = "^(first|last)$"),
    ),
    responses(
        (status = 200, description = "the JPEG", content_type = "image/jpeg", body = dashledger_api::Binary),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 404, description = "not listed, or no such thumbnail", body = ErrorBody),
    ))]
async fn thumbnail(
    State(st): State<Shared>,
    ApiPath((ec, which)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let ec = addr_key(&parse_address(&ec, "EC address")?);
    if which != "first" && which != "last" {
        return Err(ApiError::not_found(
            "unknown_thumbnail",
            "thumbnails are 'first' or 'last'",
        ));
    }
    let listed = st.store.listing(&ec).await?;
    if listed.is_none() {
        return Err(ApiError::not_found(
            "unknown_ec",
            format!("EC {ec} is not listed"),
        ));
    }
    let data = st
        .blobs
        .get_bytes(&format!("thumbs/{ec}/{which}.jpg"))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "no_thumbnail",
                format!("EC {ec} has no '{which}' thumbnail"),
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        Body::from(data),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ranges_never_overflow() {
        let max = 31 * 24 * 3600;
        assert!(check_time_range(0, max, max).is_ok());
        assert!(check_time_range(i64::MIN, i64::MIN + 10, max).is_ok());
        assert!(check_time_range(i64::MAX - 10, i64::MAX, max).is_ok());
        for (from, to) in [
            (i64::MIN, i64::MAX),
            (i64::MIN, 0),
            (-1, i64::MAX),
            (0, max + 1),
            (5, 1),
        ] {
            let e = check_time_range(from, to, max).unwrap_err();
            assert_eq!(
                (e.status().as_u16(), e.code()),
                (400, "invalid_time"),
                "{from}..{to}"
            );
        }
    }

    proptest::proptest! {
        /// Any pair of i64 either passes with a span within the limit or is a 400.
        #[test]
        fn any_time_range_is_checked(from in proptest::num::i64::ANY, to in proptest::num::i64::ANY) {
            let max = 31 * 24 * 3600;
            match check_time_range(from, to, max) {
                Ok(()) => proptest::prop_assert!(from <= to && (i128::from(to) - i128::from(from)) <= i128::from(max)),
                Err(e) => proptest::prop_assert_eq!(e.code(), "invalid_time"),
            }
        }
    }

    #[test]
    fn haversine_is_sane() {
        // One degree of latitude is ~111.2 km.
        let d = haversine_m(0.0, 0.0, 1.0, 0.0);
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        assert_eq!(haversine_m(48.0, 2.0, 48.0, 2.0), 0.0);
    }
}
