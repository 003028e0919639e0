//! Chain-backed routes: an owner's requests, gated downloads, the relayer and dispute resolution.
//! All answer 503 `chain_disabled` when the service runs without `chain.rpc_url`.

use alloy::primitives::{Bytes as ABytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::relay::{RelayRequest, Relayed};
use dashledger_api::requests::{
    DisputeResolved, DownloadQuery, OwnerRequestsQuery, RequestState, RequestView,
};
use dashledger_protocol::bindings::{REQUEST_STATUS_NAMES, request_status_name};
use dashledger_protocol::eip712::{Evidence, verify_create_evidence};
use dashledger_protocol::wrap::{UmbralPublicKey, verify_kfrag};
use sqlx::Row;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::{ApiPath, AppState, Shared, addr_key, parse_address};
use crate::chain::Chain;
use crate::chain::bindings::{
    EvidenceFactory, IEvidenceFactory, RequestContract, RequestFactory, ResponseContract,
};
use crate::error::ApiError;
use crate::now_unix;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(owner_requests))
        .routes(routes!(download))
        .routes(routes!(relay).layer(axum::extract::DefaultBodyLimit::max(64 * 1024)))
        .routes(routes!(resolve_dispute))
}

fn chain(st: &AppState) -> Result<&Chain, ApiError> {
    st.chain.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_disabled",
            "this cloud runs without a chain connection (chain.rpc_url)",
        )
    })
}

fn chain_call(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> ApiError {
    move |e| {
        tracing::warn!(error = %e, what, "chain call failed");
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("chain call {what} failed; retry later"),
        )
    }
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Vec<RequestView>>, ApiError> {
    let owner = super::auth::verify_signed(&st, &method, &uri, &headers, b"").await?;
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
    let rows = sqlx::query(
        "SELECT reqc, ec_address, requester, owner, state, block_number FROM requests \
         WHERE owner = $1 AND ($2 = '' OR state = $2) ORDER BY block_number DESC, reqc LIMIT 1000",
    )
    .bind(addr_key(&owner))
    .bind(state.unwrap_or_default())
    .fetch_all(st.db.pool())
    .await?;
    let out = rows
        .iter()
        .map(|r| {
            let state: String = r.try_get(4)?;
            Ok(RequestView {
                reqc: r.try_get(0)?,
                ec_address: r.try_get(1)?,
                requester: r.try_get(2)?,
                owner: r.try_get(3)?,
                state: state
                    .parse::<RequestState>()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                block_number: r.try_get(5)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Json(out))
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` against `size` → (start, end exclusive).
fn parse_range(h: &str, size: u64) -> Option<(u64, u64)> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return None;
        }
        return Some((size.saturating_sub(n), size));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        size
    } else {
        b.parse::<u64>().ok()?.saturating_add(1).min(size)
    };
    (start < end).then_some((start, end))
}

/// Download the sealed clip: signed by the requester of a Completed request contract for this
/// EC (checked on chain). A single HTTP Range is supported.
#[utoipa::path(get, path = "/v1/clips/{ec}/download", tag = "requests", security(("signedRequest" = [])),
    params(
        ("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$"),
        DownloadQuery,
        ("Range" = Option<String>, Header, description = "optional single range, bytes=a-b, bytes=a- or bytes=-n"),
    ),
    responses(
        (status = 200, description = "the sealed clip", content_type = "application/octet-stream", body = dashledger_api::Binary),
        (status = 206, description = "the requested range", content_type = "application/octet-stream", body = dashledger_api::Binary),
        (status = 400, description = "invalid address or missing reqc", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "the request is for another EC, by another requester, or not Completed", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment, or no clip stored", body = ErrorBody),
        (status = 416, description = "unsatisfiable range", body = ErrorBody),
        (status = 502, description = "the chain could not be read; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn download(
    State(st): State<Shared>,
    ApiPath(ec): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let requester = super::auth::verify_signed(&st, &method, &uri, &headers, b"").await?;
    let chain = chain(&st)?;
    let ec = parse_address(&ec, "EC address")?;
    /// The query as sent (reqc checked here, for a named error when it is missing).
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Query {
        reqc: Option<String>,
    }
    let q: Query = axum::extract::Query::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
        .0;
    let reqc_s = q.reqc.ok_or_else(|| {
        ApiError::bad_request(
            "missing_reqc",
            "query parameter reqc (the request contract) is required",
        )
    })?;
    let reqc = parse_address(&reqc_s, "reqc")?;
    let rf = RequestFactory::new(chain.deployment.request_factory, &chain.provider);
    if !rf
        .isRequest(reqc)
        .call()
        .await
        .map_err(chain_call("isRequest"))?
    {
        return Err(ApiError::not_found(
            "unknown_request",
            format!("{reqc} is not a request contract of this deployment"),
        ));
    }
    let info = RequestContract::new(reqc, &chain.provider)
        .info()
        .call()
        .await
        .map_err(chain_call("info"))?;
    if info.ec != ec {
        return Err(ApiError::forbidden(
            "wrong_ec",
            format!("request {reqc} is for EC {}, not {ec}", info.ec),
        ));
    }
    if info.requester != requester {
        return Err(ApiError::forbidden(
            "not_requester",
            format!("only the requester {} may download", info.requester),
        ));
    }
    if info.status != 4 {
        let name = request_status_name(info.status).unwrap_or("unknown");
        return Err(ApiError::forbidden(
            "not_completed",
            format!("request {reqc} is {name}; downloads open when it is Completed"),
        ));
    }
    let key = format!("clips/{}.sealed", addr_key(&ec));
    let size = st.blobs.size(&key).await?.ok_or_else(|| {
        ApiError::not_found("no_clip", format!("no sealed clip stored for EC {ec}"))
    })?;
    let (status, start, end) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => (StatusCode::OK, 0, size),
        Some(r) => match parse_range(r, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "bad_range",
                        format!("range '{r}' does not fit a {size}-byte clip"),
                    ),
                )
                    .into_response());
            }
        },
    };
    let stream = st.blobs.read_range(&key, start, end).await?;
    st.metrics
        .download_bytes
        .fetch_add(end - start, std::sync::atomic::Ordering::Relaxed);
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    resp.body(Body::from_stream(stream))
        .map_err(ApiError::internal)
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
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    super::ApiBytes(body): super::ApiBytes,
) -> Result<Response, ApiError> {
    let device = super::auth::verify_signed(&st, &method, &uri, &headers, &body).await?;
    let chain = chain(&st)?;
    let dkey = addr_key(&device);
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM devices WHERE address = $1")
            .bind(&dkey)
            .fetch_optional(st.db.pool())
            .await?;
    if status.as_deref() != Some("approved") {
        return Err(ApiError::forbidden(
            "device_not_approved",
            format!("device {dkey} is not an approved device"),
        ));
    }
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
    let recent: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM relays WHERE device = $1 AND created_at > $2")
            .bind(&dkey)
            .bind(hour_ago)
            .fetch_one(st.db.pool())
            .await?;
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
    sqlx::query("INSERT INTO relays (device, tx_hash, created_at) VALUES ($1, $2, $3)")
        .bind(&dkey)
        .bind(&tx_key)
        .bind(now_unix())
        .execute(st.db.pool())
        .await?;
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
    sqlx::query("UPDATE relays SET ec_address = $1 WHERE tx_hash = $2 AND device = $3")
        .bind(addr_key(&predicted))
        .bind(&tx_key)
        .bind(&dkey)
        .execute(st.db.pool())
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
    let rf = RequestFactory::new(chain.deployment.request_factory, &chain.provider);
    if !rf
        .isRequest(reqc)
        .call()
        .await
        .map_err(chain_call("isRequest"))?
    {
        return Err(ApiError::not_found(
            "unknown_request",
            format!("{reqc} is not a request contract of this deployment"),
        ));
    }
    let rc = RequestContract::new(reqc, &chain.provider);
    let info = rc.info().call().await.map_err(chain_call("info"))?;
    if info.status != 5 {
        let name = request_status_name(info.status).unwrap_or("unknown");
        return Err(ApiError::conflict(
            "not_disputed",
            format!("request {reqc} is {name}, not Disputed"),
        ));
    }
    let logs = |f: Filter| async move { chain.provider.get_logs(&f).await };
    let from = chain.deployment.start_block;
    let responded = logs(
        Filter::new()
            .address(reqc)
            .event_signature(RequestContract::RequestResponded::SIGNATURE_HASH)
            .from_block(from),
    )
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("get_logs: {e}"),
        )
    })?;
    let opened = logs(
        Filter::new()
            .address(chain.deployment.response_contract)
            .event_signature(ResponseContract::RequestOpened::SIGNATURE_HASH)
            .topic2(reqc.into_word())
            .from_block(from),
    )
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "chain_unavailable",
            format!("get_logs: {e}"),
        )
    })?;
    let (Some(resp), Some(open)) = (responded.first(), opened.first()) else {
        return Err(ApiError::unprocessable(
            "missing_events",
            "the request's RequestOpened/RequestResponded events were not found",
        ));
    };
    let resp = RequestContract::RequestResponded::decode_log_data(resp.data())
        .map_err(ApiError::internal)?;
    let open = ResponseContract::RequestOpened::decode_log_data(open.data())
        .map_err(ApiError::internal)?;
    let Some((ev, _)) = crate::chain::verifier::evidence_created(chain, info.ec).await? else {
        return Err(ApiError::unprocessable(
            "missing_events",
            "the EC's EvidenceCreated event was not found",
        ));
    };
    let valid = (|| {
        let signer = UmbralPublicKey::from_bytes(&resp.ownerUmbralKey)?;
        let owner_pk = UmbralPublicKey::from_bytes(&ev.ownerUmbralKey)?;
        let requester_pk = UmbralPublicKey::from_bytes(&open.requesterUmbralKey)?;
        if signer.eth_address() != info.owner {
            return Ok::<_, dashledger_protocol::Error>(false);
        }
        Ok(verify_kfrag(&resp.kfrag, &signer, &owner_pk, &requester_pk).is_ok())
    })()
    .unwrap_or(false);
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any Range header either is refused or yields a non-empty range inside the clip.
        #[test]
        fn ranges_stay_inside_the_clip(h in "bytes=[0-9]{0,6}-[0-9]{0,6}", size in 0u64..2_000_000) {
            if let Some((s, e)) = parse_range(&h, size) {
                prop_assert!(s < e && e <= size, "{h} on {size} gave {s}..{e}");
            }
        }

        #[test]
        fn explicit_ranges_round_trip(a in 0u64..1_000_000, len in 1u64..1_000_000, size in 1u64..3_000_000) {
            let h = format!("bytes={a}-{}", a + len - 1);
            let want = (a < size).then(|| (a, (a + len).min(size)));
            prop_assert_eq!(parse_range(&h, size), want);
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
        assert_eq!(parse_range("bytes=5-2", 1000), None);
    }
}
