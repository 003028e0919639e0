//! The device's records behind a shared clip (`GET /v1/clips/{ec}/records?reqc=&around=`): for
//! the requester of a Completed request, the signed evidence records of the device bound to the
//! EC around the segment's record, and the device's standing — what an evidence bundle carries
//! to show that the hash chain held before the accident was known (docs/formats.md).
//!
//! What it reveals, and to whom: only a requester who paid for this EC's clip gets the device's
//! address and the times and hashes of its few neighbouring segments (records carry no
//! location). Two such requesters of two clips of one device see the same device address; the
//! operator's label is never given.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use dashledger_api::ErrorBody;
use dashledger_api::clips::{DeviceRecords, DeviceStanding, RecordsQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Signed;
use super::downloads::completed_request_of;
use super::onchain::{chain, chain_down};
use super::{ApiPath, Shared, addr_key, parse_address};
use crate::error::ApiError;

/// Records on each side of the segment's record by default, and at most.
const AROUND_DEFAULT: u32 = 2;
const AROUND_MAX: u32 = 30;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(device_records))
}

/// The clip of `ec`, for `requester` of the Completed request `reqc` (what `what` is asked
/// for): the gate of every route that gives a paid requester more than the clip itself.
pub(super) async fn paid_clip(
    st: &Shared,
    chain: &crate::chain::Chain,
    ec: alloy::primitives::Address,
    reqc: &str,
    requester: alloy::primitives::Address,
    what: &str,
) -> Result<crate::store::clips::ClipRow, ApiError> {
    let reqc = parse_address(reqc, "reqc")?;
    completed_request_of(chain, ec, reqc, requester, what).await?;
    st.store
        .clip(&addr_key(&ec))
        .await?
        .ok_or_else(|| ApiError::not_found("no_clip", format!("no clip was uploaded for EC {ec}")))
}

/// The signed evidence records of the device behind the EC around its segment, and the
/// device's standing: signed by the requester of a Completed request contract for this EC.
#[utoipa::path(get, path = "/v1/clips/{ec}/records", tag = "requests", security(("signedRequest" = [])),
    params(
        ("ec" = String, Path, description = "Evidence Contract address", pattern = "^0[xX][0-9a-fA-F]{40}$"),
        RecordsQuery,
    ),
    responses(
        (status = 200, description = "the records and the device", body = DeviceRecords),
        (status = 400, description = "invalid address, missing reqc or around out of range", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "the request is for another EC, by another requester, or not Completed", body = ErrorBody),
        (status = 404, description = "not a request contract of this deployment, no clip, or no record of the segment", body = ErrorBody),
        (status = 502, description = "the chain could not be read; retry", body = ErrorBody),
        (status = 503, description = "chain features off", body = ErrorBody),
    ))]
async fn device_records(
    State(st): State<Shared>,
    ApiPath(ec): ApiPath<String>,
    uri: Uri,
    Signed {
        signer: requester, ..
    }: Signed,
) -> Result<Json<DeviceRecords>, ApiError> {
    let chain = chain(&st)?;
    let ec = parse_address(&ec, "EC address")?;
    let q: RecordsQuery = axum::extract::Query::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
        .0;
    let around = q.around.unwrap_or(AROUND_DEFAULT);
    if around > AROUND_MAX {
        return Err(ApiError::bad_request(
            "invalid_around",
            format!("around must be at most {AROUND_MAX}, got {around}"),
        ));
    }
    let clip = paid_clip(&st, chain, ec, &q.reqc, requester, "records").await?;
    let video_hash = crate::chain::verifier::evidence_created(chain, ec)
        .await
        .map_err(chain_down)?
        .ok_or_else(|| {
            ApiError::not_found("no_record", format!("EC {ec} has no EvidenceCreated event"))
        })?
        .0
        .videoHash;
    let seq = st
        .store
        .seq_of_segment(&clip.device, &video_hash)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "no_record",
                format!("device {} sent no record of the EC's segment", clip.device),
            )
        })?;
    let rows = st
        .store
        .signed_records(
            &clip.device,
            seq.saturating_sub(around),
            seq.saturating_add(around),
        )
        .await?;
    let device =
        st.store.device(&clip.device).await?.ok_or_else(|| {
            ApiError::internal(format!("clip of EC {ec} bound to unknown device"))
        })?;
    Ok(Json(DeviceRecords {
        device: DeviceStanding {
            address: device.address,
            status: device.status,
            registered_at: device.created_at,
            status_since: device.updated_at,
            source: "the dashledger cloud's device registry (not signed)".into(),
        },
        segment_seq: seq,
        records: rows.concat().into(),
    }))
}
