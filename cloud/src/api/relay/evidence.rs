//! `POST /v1/relay/evidence`: an approved device hands in the owner's EIP-712-signed EC
//! creation, the cloud submits it and pays the gas, rate-limited per device; the EC is then bound
//! to that device (only it may upload the clip, see `chain::binding`).

use alloy::primitives::{Bytes as ABytes, U256};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::relay::{RelayRequest, Relayed};
use dashledger_protocol::eip712::{Evidence, verify_create_evidence};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::api::auth::ApprovedDevice;
use crate::api::onchain::{chain, chain_call};
use crate::api::{Shared, addr_key};
use crate::chain::bindings::{EvidenceFactory, IEvidenceFactory};
use crate::error::ApiError;
use crate::now_unix;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(relay).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)))
}

/// Relay an owner's EIP-712-signed EC creation: the cloud pays the gas. Rate-limited per
/// device; the EC is bound to the relaying device (only it may upload the clip).
#[utoipa::path(post, path = "/v1/relay/evidence", tag = "devices", security(("signedRequest" = [])),
    request_body = RelayRequest,
    responses(
        (status = 201, description = "submitted and mined", body = Relayed),
        (status = 400, description = "malformed body or signature length", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed request signature, or a bad EIP-712 signature", body = ErrorBody),
        (status = 403, description = "not an approved device", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "the deadline passed, or the creation would revert (e.g. the EC exists)", body = ErrorBody),
        (status = 429, description = "this device's relays this hour are used up", body = ErrorBody),
        (status = 502, description = "the chain could not be reached; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn relay(
    State(st): State<Shared>,
    ApprovedDevice { key: dkey, body }: ApprovedDevice,
) -> Result<Response, ApiError> {
    let chain = chain(&st)?;
    let b: RelayRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("invalid relay request: {e}"))
    })?;
    let sig: [u8; 65] = b
        .signature
        .as_ref()
        .try_into()
        .map_err(|_| ApiError::bad_request("bad_signature", "signature must be 65 bytes"))?;
    let evidence = Evidence::from(b.evidence);
    if b.deadline <= now_unix().max(0) as u64 {
        return Err(ApiError::unprocessable("expired", "deadline has passed"));
    }
    let factory_addr = chain.deployment.evidence_factory;
    verify_create_evidence(
        &evidence,
        b.owner,
        U256::from(b.deadline),
        chain.deployment.chain_id,
        factory_addr,
        &sig,
    )
    .map_err(|e| ApiError::unauthorized("bad_eip712_signature", e.to_string()))?;
    // Rate limit (serialised so that concurrent requests cannot both pass).
    let _g = st.relay_lock.lock().await;
    let hour_ago = now_unix() - 3600;
    let recent = st.store.relays_since(&dkey, hour_ago).await?;
    if recent >= i64::from(st.config.chain.relay_per_device_per_hour) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "device {dkey} used its {} relayed creations this hour",
                st.config.chain.relay_per_device_per_hour
            ),
        ));
    }
    let factory = EvidenceFactory::new(factory_addr, &chain.provider);
    let params: IEvidenceFactory::EvidenceParams = evidence.into();
    let predicted = factory
        .predictEvidence(params.clone(), b.owner)
        .call()
        .await
        .map_err(chain_call("predictEvidence"))?;
    let call = factory.createEvidenceFor(
        params,
        b.owner,
        U256::from(b.deadline),
        ABytes::from(sig.to_vec()),
    );
    // Simulate first: a revert (existing EC, bad fields) is the client's mistake, named.
    if let Err(e) = call.call().await {
        return Err(ApiError::unprocessable(
            "would_revert",
            format!("createEvidenceFor would revert: {e}"),
        ));
    }
    let pending = call.send().await.map_err(chain_call("createEvidenceFor"))?;
    let tx_hash = *pending.tx_hash();
    let tx_key = format!("{tx_hash:#x}");
    st.store.record_relay(&dkey, &tx_key, now_unix()).await?;
    drop(_g);
    let receipt = pending.get_receipt().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("waiting for {tx_hash:#x}: {e}"),
        )
    })?;
    if !receipt.status() {
        return Err(ApiError::unprocessable(
            "reverted",
            format!("transaction {tx_hash:#x} reverted"),
        ));
    }
    // The EC is now bound to this device: only it may upload the clip (chain::binding).
    st.store
        .bind_relay(&dkey, &tx_key, &addr_key(&predicted))
        .await?;
    tracing::info!(device = %dkey, ec = %predicted, tx = %tx_hash, "relayed EC creation");
    Ok((
        StatusCode::CREATED,
        Json(Relayed {
            ec_address: addr_key(&predicted),
            tx_hash: tx_key,
        }),
    )
        .into_response())
}
