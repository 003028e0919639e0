//! Signed API requests (protocol crate's `auth`): signature, expiry and nonce replay checks.

use alloy::primitives::Address;
use axum::http::{HeaderMap, Method, Uri};
use dashledger_protocol::auth::{AuthHeaders, RequestParts, verify_request};

use super::AppState;
use crate::error::ApiError;
use crate::now_unix;

/// Verifies the `x-dashledger-*` headers over this exact request and records the nonce
/// (a replayed nonce is refused). Returns the signer's address.
pub(crate) async fn verify_signed(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Address, ApiError> {
    let auth = AuthHeaders::from_lookup(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(|e| ApiError::unauthorized("missing_signature", e.to_string()))?;
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path(), |p| p.as_str());
    let parts = RequestParts {
        chain_id: st.config.chain.chain_id,
        method: method.as_str(),
        path,
        body,
    };
    let now = now_unix().max(0) as u64;
    let verified = verify_request(&auth, &parts, now, st.config.auth.max_validity_secs)
        .map_err(|e| ApiError::unauthorized("bad_signature", e.to_string()))?;
    let signer = super::addr_key(&verified.address());
    let inserted = sqlx::query(
        "INSERT INTO auth_nonces (signer, nonce, expires_at) VALUES ($1, $2, $3) ON CONFLICT (signer, nonce) DO NOTHING",
    )
    .bind(&signer)
    .bind(verified.nonce())
    .bind(verified.expires() as i64)
    .execute(st.db.pool())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(ApiError::unauthorized(
            "replayed_request",
            format!("nonce {} was already used by {signer}", verified.nonce()),
        ));
    }
    // Occasionally forget expired nonces (they can no longer be replayed: expiry is checked).
    if rand::random::<u8>() == 0 {
        let _ = sqlx::query("DELETE FROM auth_nonces WHERE expires_at < $1")
            .bind(now as i64)
            .execute(st.db.pool())
            .await;
    }
    Ok(verified.address())
}
