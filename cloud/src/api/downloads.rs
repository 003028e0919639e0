//! Gated downloads (`GET /v1/clips/{ec}/download?reqc=`): the sealed clip, streamed, only to
//! the requester of a request contract for this EC that is Completed on chain; one HTTP Range.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::requests::DownloadQuery;
use dashledger_protocol::status::RequestStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Signed;
use super::onchain::{chain, chain_call};
use super::{ApiPath, Shared, addr_key, parse_address};
use crate::chain::bindings::{RequestContract, RequestFactory};
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(download))
}

/// The single range of a `Range` header against a `size`-byte clip → (start, end exclusive);
/// `None` when it is malformed, names several ranges, or does not fit. Parsing and validation
/// are `http-range-header`'s (RFC 9110 syntax, strict: no leading zeros or stray whitespace;
/// a suffix longer than the clip does not fit).
fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let ranges = http_range_header::parse_range_header(h)
        .ok()?
        .validate(size)
        .ok()?;
    match ranges.as_slice() {
        [r] if r.start() <= r.end() && *r.end() < size => Some((*r.start(), r.end() + 1)),
        _ => None,
    }
}

/// Checks on chain that `reqc` is a request of this deployment for `ec`, opened by `requester`
/// and Completed: what a requester must show to get the clip or the device's records (`what`
/// names the thing in the error).
pub(super) async fn completed_request_of(
    chain: &crate::chain::Chain,
    ec: alloy::primitives::Address,
    reqc: alloy::primitives::Address,
    requester: alloy::primitives::Address,
    what: &str,
) -> Result<(), ApiError> {
    let rf = RequestFactory::new(chain.deployment.request_factory, &chain.provider);
    if !rf
        .isRequest(reqc)
        .call()
        .await
        .map_err(chain_call("isRequest"))?
    {
        return Err(ApiError::not_found(
            "unknown_request",
            format!("{reqc} is not a request contract of this deployment"),
        ));
    }
    let info = RequestContract::new(reqc, &chain.provider)
        .info()
        .call()
        .await
        .map_err(chain_call("info"))?;
    if info.ec != ec {
        return Err(ApiError::forbidden(
            "wrong_ec",
            format!("request {reqc} is for EC {}, not {ec}", info.ec),
        ));
    }
    if info.requester != requester {
        return Err(ApiError::forbidden(
            "not_requester",
            format!("only the requester {} may {what}", info.requester),
        ));
    }
    if !RequestStatus::Completed.is(info.status) {
        let name = RequestStatus::name_of(info.status);
        return Err(ApiError::forbidden(
            "not_completed",
            format!("request {reqc} is {name}; the {what} opens when it is Completed"),
        ));
    }
    Ok(())
}

/// Download the sealed clip: signed by the requester of a Completed request contract for this
/// EC (checked on chain). A single HTTP Range is supported.
#[utoipa::path(get, path = "/v1/clips/{ec}/download", tag = "requests", security(("signedRequest" = [])),
    params(
        ("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$"),
        DownloadQuery,
        ("Range" = Option<String>, Header, description = "optional single range, bytes=a-b, bytes=a- or bytes=-n"),
    ),
    responses(
        (status = 200, description = "the sealed clip", content_type = "application/octet-stream", body = dashledger_api::Binary,
            headers(
                ("Content-Length" = u64, description = "the clip's length in bytes"),
                ("Accept-Ranges" = String, description = "`bytes`: a single Range is supported"),
            )),
        (status = 206, description = "the requested range", content_type = "application/octet-stream", body = dashledger_api::Binary,
            headers(
                ("Content-Length" = u64, description = "the range's length in bytes"),
                ("Content-Range" = String, description = "`bytes a-b/size`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
            )),
        (status = 400, description = "invalid address or missing reqc", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "the request is for another EC, by another requester, or not Completed", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment, or no clip stored", body = ErrorBody),
        (status = 416, description = "unsatisfiable range", body = ErrorBody),
        (status = 502, description = "the chain could not be read; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn download(
    State(st): State<Shared>,
    ApiPath(ec): ApiPath<String>,
    uri: Uri,
    headers: HeaderMap,
    Signed {
        signer: requester, ..
    }: Signed,
) -> Result<Response, ApiError> {
    let chain = chain(&st)?;
    let ec = parse_address(&ec, "EC address")?;
    /// The query as sent (reqc checked here, for a named error when it is missing).
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        reqc: Option<String>,
    }
    let q: Query = axum::extract::Query::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
        .0;
    let reqc_s = q.reqc.ok_or_else(|| {
        ApiError::bad_request(
            "missing_reqc",
            "query parameter reqc (the request contract) is required",
        )
    })?;
    let reqc = parse_address(&reqc_s, "reqc")?;
    completed_request_of(chain, ec, reqc, requester, "download").await?;
    let key = format!("clips/{}.sealed", addr_key(&ec));
    let size = st.blobs.size(&key).await?.ok_or_else(|| {
        ApiError::not_found("no_clip", format!("no sealed clip stored for EC {ec}"))
    })?;
    let (status, start, end) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => (StatusCode::OK, 0, size),
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "bad_range",
                        format!("range '{r}' does not fit a {size}-byte clip"),
                    ),
                )
                    .into_response());
            }
        },
    };
    let stream = st.blobs.read_range(&key, start, end).await?;
    st.metrics.download_bytes.inc_by(end - start);
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    resp.body(Body::from_stream(stream))
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any Range header either is refused or yields a non-empty range inside the clip.
        #[test]
        fn ranges_stay_inside_the_clip(h in "bytes=[0-9]{0,6}-[0-9]{0,6}", size in 0u64..2_000_000) {
            if let Some((s, e)) = parse_range(&h, size) {
                prop_assert!(s < e && e <= size, "{h} on {size} gave {s}..{e}");
            }
        }

        #[test]
        fn explicit_ranges_round_trip(a in 0u64..1_000_000, len in 1u64..1_000_000, size in 1u64..3_000_000) {
            let h = format!("bytes={a}-{}", a + len - 1);
            let want = (a < size).then(|| (a, (a + len).min(size)));
            prop_assert_eq!(parse_range(&h, size), want);
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
        assert_eq!(parse_range("bytes=5-2", 1000), None);
    }
}
