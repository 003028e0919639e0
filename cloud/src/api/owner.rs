//! An EC owner's requests (`GET /v1/owner/requests`, signed by the owner key), from the
//! indexer's records.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use dashledger_api::ErrorBody;
use dashledger_api::requests::{OwnerRequestsQuery, RequestState, RequestView};
use dashledger_protocol::bindings::REQUEST_STATUS_NAMES;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Signed;
use super::{Shared, addr_key};
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(owner_requests))
}

/// The requests for the signing owner key's ECs (from the indexer), newest first.
#[utoipa::path(get, path = "/v1/owner/requests", tag = "requests", security(("signedRequest" = [])),
    params(OwnerRequestsQuery),
    responses(
        (status = 200, description = "requests (at most 1000)", body = Vec<RequestView>),
        (status = 400, description = "invalid state", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
    ))]
async fn owner_requests(
    State(st): State<Shared>,
    uri: Uri,
    Signed { signer: owner, .. }: Signed,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    let q: OwnerRequestsQuery = axum::extract::Query::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
        .0;
    let state = q.state;
    if let Some(s) = &state
        && !REQUEST_STATUS_NAMES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_state",
            format!("state must be one of {}", REQUEST_STATUS_NAMES.join(", ")),
        ));
    }
    let state = state
        .map(|s| s.parse::<RequestState>())
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_state", e.to_string()))?;
    let out = st.store.owner_requests(&addr_key(&owner), state).await?;
    Ok(Json(out))
}
