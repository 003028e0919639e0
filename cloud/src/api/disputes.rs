//! Dispute resolution (`POST /v1/disputes/{reqc}`): for a Disputed request the cloud checks
//! the owner's kfrag (Umbral `verify_kfrag` against the capsule owner's key, the signer and the
//! requester's key) and sends `resolve(valid)`.

use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use dashledger_api::ErrorBody;
use dashledger_api::requests::DisputeResolved;
use dashledger_protocol::status::RequestStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::onchain::{chain, chain_call, chain_down};
use super::{ApiPath, Shared, addr_key, parse_address};
use crate::chain::bindings::RequestContract;
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(resolve_dispute))
}

/// Resolve a Disputed request: checks the owner's kfrag against the capsule owner's key, the
/// signer (the EC owner) and the requester's key, then sends `resolve(valid)`. Anyone may
/// trigger it; the answer is the verdict.
#[utoipa::path(post, path = "/v1/disputes/{reqc}", tag = "requests",
    params(("reqc" = String, Path, description = "Request Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "resolved", body = DisputeResolved),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment", body = ErrorBody),
        (status = 409, description = "not Disputed, or resolve reverted", body = ErrorBody),
        (status = 422, description = "the request's events are missing", body = ErrorBody),
        (status = 502, description = "the chain could not be reached; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn resolve_dispute(
    State(st): State<Shared>,
    ApiPath(reqc): ApiPath<String>,
) -> Result<Json<DisputeResolved>, ApiError> {
    let chain = chain(&st)?;
    let reqc = parse_address(&reqc, "reqc")?;
    let Some(facts) = crate::chain::requests::load(chain, reqc)
        .await
        .map_err(chain_down)?
    else {
        return Err(ApiError::not_found(
            "unknown_request",
            format!("{reqc} is not a request contract of this deployment"),
        ));
    };
    let info = &facts.info;
    if !RequestStatus::Disputed.is(info.status) {
        let name = RequestStatus::name_of(info.status);
        return Err(ApiError::conflict(
            "not_disputed",
            format!("request {reqc} is {name}, not Disputed"),
        ));
    }
    let responded = chain
        .provider
        .get_logs(
            &Filter::new()
                .address(reqc)
                .event_signature(RequestContract::RequestResponded::SIGNATURE_HASH)
                .from_block(chain.deployment.start_block),
        )
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "chain_unavailable",
                format!("get_logs: {e}"),
            )
        })?;
    let Some(resp) = responded.first() else {
        return Err(ApiError::unprocessable(
            "missing_events",
            "the request's RequestResponded event was not found",
        ));
    };
    let resp = RequestContract::RequestResponded::decode_log_data(resp.data())
        .map_err(ApiError::internal)?;
    let valid = facts.kfrag_valid(&resp.kfrag, &resp.ownerUmbralKey);
    let rc = RequestContract::new(reqc, &chain.provider);
    let receipt = rc
        .resolve(valid)
        .send()
        .await
        .map_err(chain_call("resolve"))?
        .get_receipt()
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "chain_unavailable",
                format!("resolve receipt: {e}"),
            )
        })?;
    if !receipt.status() {
        return Err(ApiError::conflict(
            "resolve_reverted",
            "resolve reverted (already resolved or expired?)",
        ));
    }
    tracing::info!(%reqc, kfrag_valid = valid, "dispute resolved");
    Ok(Json(DisputeResolved {
        reqc: addr_key(&reqc),
        kfrag_valid: valid,
        tx_hash: format!("{:#x}", receipt.transaction_hash),
    }))
}
