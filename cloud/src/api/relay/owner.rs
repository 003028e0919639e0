//! `POST /v1/relay/requests/{reqc}`: an EC owner's action on a request — respond (with a kfrag,
//! the relayer fronting the deposit), decline, claim, withdraw to any address — signed as an
//! EIP-712 message by the EC's owner key and sent by the cloud, which pays the gas. The owner
//! key never holds ETH and sends nothing, so nothing on chain links it to the driver's wallet
//! or to the driver's other accidents (docs/contracts.md, "Relayed owner actions").
//!
//! No other authentication: the signature names the owner and the REQC is its EIP-712 domain.
//! What the relayer risks, and the checks that bound it, before anything is sent:
//! - the signature is the REQC owner's (checked here as the contract will, so junk costs no gas);
//! - a response carries the fee of the terms and a kfrag that `verify_kfrag` accepts against the
//!   EC's owner key, the signing key (whose address must be the owner) and the requester's key:
//!   the fronted deposit is lost only if the verifier rules the kfrag invalid, which it then
//!   cannot honestly do; the deposit is at most `chain.relay_max_deposit_wei`;
//! - a withdrawal carries the fee of the terms and something is owed;
//! - every transaction is simulated first (a revert is the client's mistake, named) and sent
//!   under the relay lock, so a replayed or concurrent action finds the new state and fails the
//!   simulation instead of costing gas. Each action can succeed at most once per REQC, and a REQC
//!   costs its requester at least the minimum reward, which bounds the gas of declines and claims
//!   (they carry no fee).

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::relay::{OwnerAction, OwnerRelayRequest, OwnerRelayed, Wei};
use dashledger_protocol::bindings::request_contract::RequestContract::RequestContractErrors;
use dashledger_protocol::status::RequestStatus;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::api::onchain::{chain, chain_call, chain_down};
use crate::api::{ApiBytes, ApiPath, Shared, addr_key, parse_address};
use crate::chain::Chain;
use crate::chain::bindings::RequestContract;
use crate::chain::requests::RequestFacts;
use crate::error::ApiError;
use crate::now_unix;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(relay_owner_action).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)))
}

/// Relay an EC owner's EIP-712-signed action on a request (respond, decline, claim,
/// withdraw): the cloud pays the gas and, for a response, fronts the deposit after checking the
/// kfrag. Fees: `GET /v1/relay/terms`.
#[utoipa::path(post, path = "/v1/relay/requests/{reqc}", tag = "requests",
    params(("reqc" = String, Path, description = "Request Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    request_body = OwnerRelayRequest,
    responses(
        (status = 201, description = "sent and mined", body = OwnerRelayed),
        (status = 400, description = "malformed body, address or signature length", body = ErrorBody),
        (status = 401, description = "the signature is not the EC owner's for this request", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 409, description = "the request is not in the state the action needs, or nothing is owed", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 422, description = "deadline passed, fee below the terms, kfrag invalid, deposit above what the relayer fronts, or the action would revert", body = ErrorBody),
        (status = 502, description = "the chain could not be reached; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn relay_owner_action(
    State(st): State<Shared>,
    ApiPath(reqc): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> Result<Response, ApiError> {
    let chain = chain(&st)?;
    let reqc = parse_address(&reqc, "reqc")?;
    let facts = known_request(chain, reqc).await?;
    // The body is read after the request is known: an unknown REQC is 404 whatever is sent.
    let body = signed_action(chain, reqc, &facts, &raw)?;
    let terms = super::terms_of(&st)?;
    let planned = plan(chain, &facts, &body, &terms).await?;
    let tx = planned
        .tx
        .with_from(chain.account)
        .with_to(reqc)
        .with_value(planned.deposit);
    let (tx_hash, receipt) = {
        let _g = st.relay_lock.lock().await;
        send_simulated(chain, reqc, body.action.name(), tx).await?
    };
    if !receipt.status() {
        return Err(ApiError::unprocessable(
            "reverted",
            format!("transaction {tx_hash:#x} reverted"),
        ));
    }
    tracing::info!(%reqc, action = body.action.name(), tx = %tx_hash, gas = receipt.gas_used, deposit = %planned.deposit, "relayed owner action");
    Ok((
        StatusCode::CREATED,
        Json(OwnerRelayed {
            reqc: addr_key(&reqc),
            action: body.action.name().into(),
            tx_hash: format!("{tx_hash:#x}"),
            gas_used: receipt.gas_used,
            deposit_fronted_wei: Wei(planned.deposit),
            paid_wei: Wei(planned.paid),
        }),
    )
        .into_response())
}

/// The request contract at `reqc`, 404 unless it is one of this deployment.
async fn known_request(chain: &Chain, reqc: Address) -> Result<RequestFacts, ApiError> {
    crate::chain::requests::load(chain, reqc)
        .await
        .map_err(chain_down)?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_request",
                format!("{reqc} is not a request contract of this deployment"),
            )
        })
}

/// The action in `raw`, once it parses, its deadline is ahead and its EIP-712 signature is the
/// request owner's (checked as the contract will, so junk costs no gas).
fn signed_action(
    chain: &Chain,
    reqc: Address,
    facts: &RequestFacts,
    raw: &[u8],
) -> Result<OwnerRelayRequest, ApiError> {
    let body: OwnerRelayRequest = serde_json::from_slice(raw).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("invalid owner action: {e}"))
    })?;
    let sig: [u8; 65] = body
        .signature
        .as_ref()
        .try_into()
        .map_err(|_| ApiError::bad_request("bad_signature", "signature must be 65 bytes"))?;
    if body.deadline <= now_unix().max(0) as u64 {
        return Err(ApiError::unprocessable(
            "expired",
            format!("the signature's deadline {} has passed", body.deadline),
        ));
    }
    body.message()
        .verify(chain.deployment.chain_id, reqc, facts.info.owner, &sig)
        .map_err(|e| {
            ApiError::unauthorized(
                "bad_eip712_signature",
                format!("not the EC owner's signature for request {reqc}: {e}"),
            )
        })?;
    Ok(body)
}

/// Simulates `tx` (422 `would_revert`, with the reason), then sends it and waits for its
/// receipt (502 when the chain cannot be reached). The caller holds the relay lock.
async fn send_simulated(
    chain: &Chain,
    reqc: Address,
    action: &str,
    tx: TransactionRequest,
) -> Result<(B256, TransactionReceipt), ApiError> {
    if let Err(e) = chain.provider.call(tx.clone()).await {
        return Err(ApiError::unprocessable(
            "would_revert",
            format!(
                "{action} would revert: {}",
                revert_reason(&e).unwrap_or_else(|| "no reason given".into())
            ),
        ));
    }
    let pending = chain.provider.send_transaction(tx).await.map_err(|e| {
        tracing::warn!(error = %e, %reqc, action, "relayed owner action not sent");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            "the transaction could not be sent; retry",
        )
    })?;
    let tx_hash = *pending.tx_hash();
    let receipt = pending.get_receipt().await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("waiting for {tx_hash:#x}: {e}"),
        )
    })?;
    Ok((tx_hash, receipt))
}

/// The transaction an action becomes, after the checks that are the relayer's own.
struct Planned {
    tx: TransactionRequest,
    deposit: U256,
    paid: U256,
}

async fn plan(
    chain: &Chain,
    facts: &RequestFacts,
    body: &OwnerRelayRequest,
    terms: &dashledger_api::relay::RelayTerms,
) -> Result<Planned, ApiError> {
    let rc = RequestContract::new(facts.reqc, &chain.provider);
    let deadline = U256::from(body.deadline);
    let sig = Bytes::from(body.signature.to_vec());
    let plain = |tx| Planned {
        tx,
        deposit: U256::ZERO,
        paid: U256::ZERO,
    };
    match &body.action {
        OwnerAction::Respond {
            kfrag,
            owner_umbral_key,
            download_link,
            relayer_fee_wei,
        } => {
            need(facts, RequestStatus::Open)?;
            fee_at_least(relayer_fee_wei.0, terms.respond_fee_wei.0, "response")?;
            let deposit = fronted_deposit(&rc, facts, kfrag, owner_umbral_key, terms).await?;
            let tx = rc
                .respondFor(
                    kfrag.clone(),
                    owner_umbral_key.clone(),
                    download_link.clone(),
                    relayer_fee_wei.0,
                    deadline,
                    sig,
                )
                .into_transaction_request();
            Ok(Planned {
                tx,
                deposit,
                paid: U256::ZERO,
            })
        }
        OwnerAction::Decline => {
            need(facts, RequestStatus::Open)?;
            Ok(plain(
                rc.declineFor(deadline, sig).into_transaction_request(),
            ))
        }
        OwnerAction::Claim => {
            need(facts, RequestStatus::Responded)?;
            Ok(plain(rc.claimFor(deadline, sig).into_transaction_request()))
        }
        OwnerAction::Withdraw {
            to,
            relayer_fee_wei,
        } => {
            fee_at_least(relayer_fee_wei.0, terms.withdraw_fee_wei.0, "withdrawal")?;
            let paid = payable_share(&rc, facts, *to, relayer_fee_wei.0).await?;
            let tx = rc
                .withdrawFor(*to, relayer_fee_wei.0, deadline, sig)
                .into_transaction_request();
            Ok(Planned {
                tx,
                deposit: U256::ZERO,
                paid,
            })
        }
    }
}

/// 409 unless the request is in state `want`.
fn need(facts: &RequestFacts, want: RequestStatus) -> Result<(), ApiError> {
    let status = facts.info.status;
    if want.is(status) {
        return Ok(());
    }
    Err(ApiError::conflict(
        "wrong_state",
        format!(
            "request {} is {}, not {}",
            facts.reqc,
            RequestStatus::name_of(status),
            want
        ),
    ))
}

/// 422 unless the signed fee reaches the terms.
fn fee_at_least(fee: U256, least: U256, what: &str) -> Result<(), ApiError> {
    if fee >= least {
        return Ok(());
    }
    Err(ApiError::unprocessable(
        "fee_too_low",
        format!(
            "a relayed {what} needs a relayer fee of at least {least} wei (GET /v1/relay/terms), signed {fee}"
        ),
    ))
}

/// The deposit the relayer fronts for a response: the REQC's minimum, once the kfrag checks
/// out and the amount is within the terms.
async fn fronted_deposit(
    rc: &RequestContract::RequestContractInstance<&alloy::providers::DynProvider>,
    facts: &RequestFacts,
    kfrag: &[u8],
    signer_key: &[u8],
    terms: &dashledger_api::relay::RelayTerms,
) -> Result<U256, ApiError> {
    if !facts.kfrag_valid(kfrag, signer_key) {
        return Err(ApiError::unprocessable(
            "invalid_kfrag",
            "the kfrag does not re-encrypt from the EC's owner key to the requester's key under a key of the EC's owner: the relayer fronts no deposit for it",
        ));
    }
    let deposit = rc
        .minDeposit()
        .call()
        .await
        .map_err(chain_call("minDeposit"))?;
    if deposit > terms.max_deposit_wei.0 {
        return Err(ApiError::unprocessable(
            "deposit_too_large",
            format!(
                "the request needs a deposit of {deposit} wei, more than the {} wei this relayer fronts: respond directly",
                terms.max_deposit_wei.0
            ),
        ));
    }
    Ok(deposit)
}

/// What a withdrawal pays `to`: the owner's share less the fee, when something is owed.
async fn payable_share(
    rc: &RequestContract::RequestContractInstance<&alloy::providers::DynProvider>,
    facts: &RequestFacts,
    to: Address,
    fee: U256,
) -> Result<U256, ApiError> {
    if to == Address::ZERO {
        return Err(ApiError::bad_request(
            "invalid_address",
            "the payee must not be the zero address",
        ));
    }
    let owed = rc
        .owed(facts.info.owner)
        .call()
        .await
        .map_err(chain_call("owed"))?;
    if owed.is_zero() {
        return Err(ApiError::conflict(
            "nothing_owed",
            format!("request {} owes its owner nothing (now)", facts.reqc),
        ));
    }
    if fee > owed {
        return Err(ApiError::unprocessable(
            "fee_too_high",
            format!("the signed fee {fee} wei is more than the {owed} wei owed"),
        ));
    }
    Ok(owed - fee)
}

/// A revert of the Request Contract as "Name { fields }", or its raw data.
fn revert_reason(e: &alloy::transports::TransportError) -> Option<String> {
    let resp = e.as_error_resp()?;
    if let Some(x) = resp.as_decoded_interface_error::<RequestContractErrors>() {
        return Some(format!("{x:?}"));
    }
    resp.as_revert_data().map(|d| format!("reverted ({d})"))
}
