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
    let expires = i64::try_from(verified.expires()).unwrap_or(i64::MAX);
    if !st
        .store
        .use_nonce(&signer, verified.nonce(), expires)
        .await?
    {
        return Err(ApiError::unauthorized(
            "replayed_request",
            format!("nonce {} was already used by {signer}", verified.nonce()),
        ));
    }
    // Occasionally forget expired nonces (they can no longer be replayed: expiry is checked).
    if rand::random::<u8>() == 0 {
        let _ = st.store.forget_expired_nonces(now as i64).await;
    }
    Ok(verified.address())
}

/// A request signed with the protocol's auth headers (checked against this exact request and
/// recorded against replay): the signer, and the body it signed.
#[derive(Debug)]
pub(crate) struct Signed {
    /// Who signed.
    pub(crate) signer: Address,
    /// The raw body that was signed.
    pub(crate) body: axum::body::Bytes,
}

impl axum::extract::FromRequest<super::Shared> for Signed {
    type Rejection = ApiError;
    async fn from_request(
        req: axum::extract::Request,
        st: &super::Shared,
    ) -> Result<Self, ApiError> {
        let (method, uri, headers) = (
            req.method().clone(),
            req.uri().clone(),
            req.headers().clone(),
        );
        let super::ApiBytes(body) = super::ApiBytes::from_request(req, st).await?;
        let signer = verify_signed(st, &method, &uri, &headers, &body).await?;
        Ok(Self { signer, body })
    }
}

/// A signed request whose signer is a registered, approved device (403 `unknown_device`,
/// `device_not_approved` or `revoked_device` otherwise).
#[derive(Debug)]
pub(crate) struct ApprovedDevice {
    /// The device's storage key (0x + lowercase hex).
    pub(crate) key: String,
    /// The raw body that was signed.
    pub(crate) body: axum::body::Bytes,
}

impl axum::extract::FromRequest<super::Shared> for ApprovedDevice {
    type Rejection = ApiError;
    async fn from_request(
        req: axum::extract::Request,
        st: &super::Shared,
    ) -> Result<Self, ApiError> {
        use dashledger_api::admin::DeviceStatus;
        let Signed { signer, body } = Signed::from_request(req, st).await?;
        let key = super::addr_key(&signer);
        match st.store.device_status(&key).await? {
            Some(DeviceStatus::Approved) => Ok(Self { key, body }),
            Some(DeviceStatus::Revoked) => Err(ApiError::forbidden(
                "revoked_device",
                format!("device {key} has been revoked"),
            )),
            Some(DeviceStatus::Pending) => Err(ApiError::forbidden(
                "device_not_approved",
                format!("device {key} is awaiting approval"),
            )),
            None => Err(ApiError::forbidden(
                "unknown_device",
                format!("device {key} is not registered"),
            )),
        }
    }
}
