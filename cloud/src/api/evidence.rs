//! Evidence ingest: batches of signed evidence records from devices.
//!
//! A batch is all-or-nothing: every record must decode, carry a valid signature of its device,
//! and come from an approved device, or the whole batch is refused with a 4xx naming the first
//! bad record. Accepted records are chain-checked with the protocol crate's [`ChainChecker`];
//! findings become alarms. Re-sent records are idempotent. Records carry no location.

use std::collections::BTreeMap;

use alloy::primitives::Address;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use dashledger_api::ErrorBody;
pub(crate) use dashledger_api::evidence::{IngestResult, JsonBatch};
use dashledger_protocol::record::{SIGNED_RECORD_LEN, SignedRecord, VerifiedRecord};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::Shared;
use crate::error::ApiError;

pub(super) fn routes(limit: usize) -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(ingest).layer(DefaultBodyLimit::max(limit)))
}

fn parse_batch(
    headers: &HeaderMap,
    body: &Bytes,
    max: usize,
) -> Result<Vec<SignedRecord>, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let raw: Vec<Vec<u8>> = match mime.as_str() {
        "application/octet-stream" => {
            if !body.len().is_multiple_of(SIGNED_RECORD_LEN) {
                return Err(ApiError::bad_request(
                    "malformed_batch",
                    format!(
                        "binary batch length {} is not a multiple of {SIGNED_RECORD_LEN} bytes",
                        body.len()
                    ),
                ));
            }
            body.chunks(SIGNED_RECORD_LEN).map(<[u8]>::to_vec).collect()
        }
        "application/json" => {
            let b: JsonBatch = serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_request("malformed_batch", format!("invalid JSON batch: {e}"))
            })?;
            b.records
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let h = s.strip_prefix("0x").unwrap_or(s);
                    hex::decode(h).map_err(|e| {
                        ApiError::bad_request(
                            "malformed_record",
                            format!("record {i}: not hex: {e}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        }
        _ => {
            return Err(ApiError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/octet-stream (concatenated 161-byte signed records) or application/json {\"records\": [hex]}",
            ));
        }
    };
    if raw.is_empty() {
        return Err(ApiError::bad_request(
            "empty_batch",
            "the batch holds no records",
        ));
    }
    if raw.len() > max {
        return Err(ApiError::too_large(
            "batch_too_large",
            format!("{} records in one batch; at most {max}", raw.len()),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            SignedRecord::decode(r)
                .map_err(|e| ApiError::bad_request("malformed_record", format!("record {i}: {e}")))
        })
        .collect()
}

/// Verifies every signature, spreading the work over the available cores.
fn verify_all(records: Vec<SignedRecord>) -> Result<Vec<VerifiedRecord>, ApiError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let verify_range = |offset: usize,
                        part: &[SignedRecord]|
     -> Result<Vec<VerifiedRecord>, ApiError> {
        part.iter()
            .enumerate()
            .map(|(i, r)| {
                r.verify().map_err(|e| {
                    ApiError::unauthorized("bad_signature", format!("record {}: {e}", offset + i))
                })
            })
            .collect()
    };
    if threads <= 1 || records.len() < 64 {
        return verify_range(0, &records);
    }
    let per = records.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = records
            .chunks(per)
            .enumerate()
            .map(|(k, part)| s.spawn(move || verify_range(k * per, part)))
            .collect();
        let mut out = Vec::with_capacity(records.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| ApiError::internal("signature verification thread panicked"))??,
            );
        }
        Ok(out)
    })
}

/// Ingest a batch of signed evidence records (all-or-nothing, idempotent).
///
/// Each record is the protocol's 161-byte signed evidence record. The batch is refused whole if
/// any record is malformed, badly signed, or from an unknown, pending or revoked device. Chain
/// findings are returned and stored as alarms; a re-sent record is a duplicate.
#[utoipa::path(post, path = "/v1/evidence", tag = "devices",
    request_body(description = "concatenated 161-byte signed records, or their hex in JSON", content(
        (dashledger_api::Binary = "application/octet-stream"),
        (JsonBatch = "application/json"),
    )),
    responses(
        (status = 200, description = "stored (durable when answered)", body = IngestResult),
        (status = 400, description = "malformed batch or record, empty batch", body = ErrorBody),
        (status = 401, description = "a record's signature is invalid", body = ErrorBody),
        (status = 403, description = "a record's device is unknown, pending or revoked", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 413, description = "too many records or too large a body", body = ErrorBody),
        (status = 415, description = "neither application/octet-stream nor application/json", body = ErrorBody),
        (status = 503, description = "storage unavailable; nothing was kept, retry", body = ErrorBody),
    ))]
async fn ingest(
    State(st): State<Shared>,
    headers: HeaderMap,
    super::ApiBytes(body): super::ApiBytes,
) -> Result<Json<IngestResult>, ApiError> {
    let res = ingest_inner(&st, &headers, &body).await;
    if res.is_err() {
        st.metrics.batches_refused.inc();
    }
    res.map(Json)
}

async fn ingest_inner(
    st: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<IngestResult, ApiError> {
    let signed = parse_batch(headers, body, st.config.ingest.max_batch_records)?;
    let verified = tokio::task::spawn_blocking(move || verify_all(signed))
        .await
        .map_err(|e| ApiError::internal(format!("verification task: {e}")))??;

    // Group by device, keeping arrival order within each device.
    let mut by_device: BTreeMap<Address, Vec<VerifiedRecord>> = BTreeMap::new();
    for r in verified {
        by_device.entry(r.device()).or_default().push(r);
    }
    st.ingest.submit(by_device).await
}
