//! The device's C2PA sidecar of a shared clip (`GET /v1/clips/{ec}/c2pa?reqc=`): for the
//! requester of a Completed request, the manifest store the dashcam signed for the plaintext
//! segment (docs/formats.md "C2PA on the shared clip"). Gated like the records: it names the
//! device.

use axum::extract::State;
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::clips::C2paQuery;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Signed;
use super::onchain::chain;
use super::records::paid_clip;
use super::uploads::C2PA_MEDIA_TYPE;
use super::{ApiPath, Shared, addr_key, parse_address};
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(c2pa_sidecar))
}

/// The C2PA sidecar manifest store the device signed for the clip, signed for by the requester
/// of a Completed request contract for this EC.
#[utoipa::path(get, path = "/v1/clips/{ec}/c2pa", tag = "requests", security(("signedRequest" = [])),
    params(
        ("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$"),
        C2paQuery,
    ),
    responses(
        (status = 200, description = "the manifest store", content_type = "application/c2pa", body = dashledger_api::Binary),
        (status = 400, description = "invalid address or missing reqc", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "the request is for another EC, by another requester, or not Completed", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment, no clip, or the device sent no sidecar", body = ErrorBody),
        (status = 502, description = "the chain could not be read; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn c2pa_sidecar(
    State(st): State<Shared>,
    ApiPath(ec): ApiPath<String>,
    uri: Uri,
    Signed {
        signer: requester, ..
    }: Signed,
) -> Result<Response, ApiError> {
    let chain = chain(&st)?;
    let ec = parse_address(&ec, "EC address")?;
    let q: C2paQuery = axum::extract::Query::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
        .0;
    let clip = paid_clip(&st, chain, ec, &q.reqc, requester, "the C2PA sidecar").await?;
    let key = addr_key(&ec);
    let bytes = st
        .blobs
        .get_bytes(&crate::upload::c2pa_blob_key(&key, &clip.upload_id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "no_c2pa",
                format!("the device sent no C2PA sidecar with the clip of EC {ec}"),
            )
        })?;
    Ok(([(header::CONTENT_TYPE, C2PA_MEDIA_TYPE)], bytes).into_response())
}
