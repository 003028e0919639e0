//! `POST /v1/relay/evidence`: an approved device hands in the owner's EIP-712-signed EC
//! creation, the cloud submits it and pays the gas, rate-limited per device; the EC is then bound
//! to that device (only it may upload the clip, see `chain::binding`).

use alloy::network::Ethereum;
use alloy::primitives::{Address, Bytes as ABytes, U256};
use alloy::providers::PendingTransactionBuilder;
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
use crate::chain::Chain;
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
    let creation = SignedCreation::parse(&body, chain)?;
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
    let (predicted, pending) = creation.submit(chain).await?;
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

/// An EC creation whose owner signature was checked.
struct SignedCreation {
    evidence: Evidence,
    owner: Address,
    deadline: u64,
    signature: [u8; 65],
}

impl SignedCreation {
    /// Parses the body and checks the deadline and the owner's EIP-712 signature for this
    /// chain's factory.
    fn parse(body: &[u8], chain: &Chain) -> Result<Self, ApiError> {
        let b: RelayRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("malformed_body", format!("invalid relay request: {e}"))
        })?;
        let signature: [u8; 65] =
            b.signature.as_ref().try_into().map_err(|_| {
                ApiError::bad_request("bad_signature", "signature must be 65 bytes")
            })?;
        let evidence = Evidence::from(b.evidence);
        if b.deadline <= now_unix().max(0) as u64 {
            return Err(ApiError::unprocessable("expired", "deadline has passed"));
        }
        verify_create_evidence(
            &evidence,
            b.owner,
            U256::from(b.deadline),
            chain.deployment.chain_id,
            chain.deployment.evidence_factory,
            &signature,
        )
        .map_err(|e| ApiError::unauthorized("bad_eip712_signature", e.to_string()))?;
        Ok(Self {
            evidence,
            owner: b.owner,
            deadline: b.deadline,
            signature,
        })
    }

    /// The EC's predicted address and the sent `createEvidenceFor`, after a simulation (a revert
    /// — an existing EC, bad fields — is the client's mistake, named).
    async fn submit(
        self,
        chain: &Chain,
    ) -> Result<(Address, PendingTransactionBuilder<Ethereum>), ApiError> {
        let factory = EvidenceFactory::new(chain.deployment.evidence_factory, &chain.provider);
        let params: IEvidenceFactory::EvidenceParams = self.evidence.into();
        let predicted = factory
            .predictEvidence(params.clone(), self.owner)
            .call()
            .await
            .map_err(chain_call("predictEvidence"))?;
        let call = factory.createEvidenceFor(
            params,
            self.owner,
            U256::from(self.deadline),
            ABytes::from(self.signature.to_vec()),
        );
        if let Err(e) = call.call().await {
            return Err(ApiError::unprocessable(
                "would_revert",
                format!("createEvidenceFor would revert: {e}"),
            ));
        }
        let pending = call.send().await.map_err(chain_call("createEvidenceFor"))?;
        Ok((predicted, pending))
    }
}
