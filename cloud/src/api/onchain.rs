//! What the chain-backed routes share: the chain connection (503 `chain_disabled` without
//! `chain.rpc_url`) and the mapping of failed chain calls to 502 `chain_unavailable`.

use axum::http::StatusCode;

use super::AppState;
use crate::chain::Chain;
use crate::error::ApiError;

pub(super) fn chain(st: &AppState) -> Result<&Chain, ApiError> {
    st.chain.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_disabled",
            "this cloud runs without a chain connection (chain.rpc_url)",
        )
    })
}

pub(super) fn chain_call(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> ApiError {
    move |e| {
        tracing::warn!(error = %e, what, "chain call failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("chain call {what} failed; retry later"),
        )
    }
}

/// A chain failure outside a contract call (logs, blocks): 502, logged, no internals leaked.
pub(super) fn chain_down(e: crate::error::CloudError) -> ApiError {
    tracing::warn!(error = %e, "chain read failed");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "chain_unavailable",
        "the chain could not be read; retry later",
    )
}
