//! The relayer: the cloud sends transactions that others signed for and pays their gas, so
//! that neither a device nor an EC owner key needs ETH. Two jobs, one module each:
//! [`evidence`] (`POST /v1/relay/evidence`, an approved device's EC creation) and [`owner`]
//! (`POST /v1/relay/requests/{reqc}`, an EC owner's respond / decline / claim / withdraw); the
//! fees and limits an owner signs against are `GET /v1/relay/terms`.
//!
//! Every relayed transaction is sent under `AppState::relay_lock`, one at a time, so that two
//! requests cannot race for the relayer's nonce or both pass a check that only one may.

mod evidence;
mod owner;

use alloy::primitives::U256;
use axum::Json;
use axum::extract::State;
use dashledger_api::ErrorBody;
use dashledger_api::relay::{RelayTerms, Wei};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Shared;
use super::onchain::chain;
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(terms))
        .merge(evidence::routes())
        .merge(owner::routes())
}

/// The relayer's terms, from the configuration and the chain connection.
fn terms_of(st: &crate::state::AppState) -> Result<RelayTerms, ApiError> {
    let chain = chain(st)?;
    let c = &st.config.chain;
    Ok(RelayTerms {
        relayer: chain.account,
        chain_id: chain.deployment.chain_id,
        respond_fee_wei: Wei(U256::from(c.relay_respond_fee_wei)),
        withdraw_fee_wei: Wei(U256::from(c.relay_withdraw_fee_wei)),
        max_deposit_wei: Wei(U256::from(c.relay_max_deposit_wei)),
    })
}

/// What the relayer charges an EC owner and the largest deposit it fronts.
#[utoipa::path(get, path = "/v1/relay/terms", tag = "requests",
    responses(
        (status = 200, description = "the relayer's terms", body = RelayTerms),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn terms(State(st): State<Shared>) -> Result<Json<RelayTerms>, ApiError> {
    terms_of(&st).map(Json)
}
