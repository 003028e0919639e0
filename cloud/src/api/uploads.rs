//! Resumable chunked upload of a sealed accident clip, its thumbnails and per-second leaves.
//!
//! `POST /v1/uploads` (signed by the device) opens a session and returns an unguessable upload
//! id, the capability for the other calls: `PUT /v1/uploads/{id}/chunks/{offset}` (bytes at
//! exactly the acknowledged offset), `GET /v1/uploads/{id}` (status, for resuming),
//! `PUT /v1/uploads/{id}/thumbnails/{first|last}` (JPEG), `POST /v1/uploads/{id}/complete`,
//! `DELETE /v1/uploads/{id}`.

use std::sync::Arc;

use alloy::primitives::B256;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::admin::AlarmKind;
use dashledger_api::uploads::{
    Aborted, ClipStatus, Completed, CreateUpload, Thumbnails, Upload as UploadView, UploadState,
};
use dashledger_protocol::frames::{decode_leaves, frames_root};
use dashledger_protocol::hash::keccak256;
use futures_util::StreamExt;
use sha3::Digest;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::auth::ApprovedDevice;
use super::{ApiPath, AppState, Shared, addr_key, parse_address};
use crate::error::{ApiError, CloudError};
use crate::now_unix;
use crate::store::uploads::{NewClip, NewUpload, UploadRow};
use crate::upload::{self, Cursor};

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(create).layer(DefaultBodyLimit::max(1 << 20)))
        .routes(routes!(status, abort))
        // Chunk and thumbnail bodies are size-checked while streaming, against the upload caps.
        .routes(routes!(chunk).layer(DefaultBodyLimit::disable()))
        .routes(routes!(thumbnail).layer(DefaultBodyLimit::disable()))
        .routes(routes!(complete))
}

fn parse_b256(s: &str, what: &str) -> Result<B256, ApiError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let b = hex::decode(h)
        .map_err(|e| ApiError::bad_request("invalid_hash", format!("{what}: not hex: {e}")))?;
    if b.len() != 32 {
        return Err(ApiError::bad_request(
            "invalid_hash",
            format!("{what} must be 32 bytes, got {}", b.len()),
        ));
    }
    Ok(B256::from_slice(&b))
}

async fn load(st: &AppState, id: &str) -> Result<UploadRow, ApiError> {
    if !upload::is_upload_id(id) {
        return Err(ApiError::not_found(
            "unknown_upload",
            "no such upload (ids are 32 lowercase hex digits)",
        ));
    }
    st.store
        .upload(id)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_upload", format!("no upload {id}")))
}

async fn view(st: &AppState, row: &UploadRow) -> Result<UploadView, ApiError> {
    let spool = st.config.spool_dir();
    let has = |w: &str| {
        row.state == UploadState::Complete || upload::thumb_spool_path(&spool, &row.id, w).exists()
    };
    Ok(UploadView {
        upload_id: row.id.clone(),
        ec_address: row.ec_address.clone(),
        size: row.total_size,
        received: row.received,
        state: row.state,
        max_chunk_bytes: st.config.upload.max_chunk_bytes,
        thumbnails: Thumbnails {
            first: has("first"),
            last: has("last"),
        },
    })
}

/// Open (or resume) the upload of an EC's sealed clip.
///
/// Only the device behind the EC may: the one the relayer created it for, or the one whose
/// evidence record reported its `videoHash` before the EC was created (docs/cloud.md, "Who may
/// upload a clip"). An open upload of this device with the same parameters is resumed (200);
/// another one of the EC is replaced.
#[utoipa::path(post, path = "/v1/uploads", tag = "devices", security(("signedRequest" = [])),
    request_body = CreateUpload,
    responses(
        (status = 201, description = "opened", body = UploadView),
        (status = 200, description = "this device's open upload of the EC: resume at `received`", body = UploadView),
        (status = 400, description = "malformed body, address, leaves or root", body = ErrorBody),
        (status = 401, description = "missing, bad, expired or replayed signature", body = ErrorBody),
        (status = 403, description = "unknown, pending or revoked device, or not the EC's device", body = ErrorBody),
        (status = 404, description = "no such EC on chain", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 409, description = "already uploaded, the EC is final, another device's upload (chain-less), or a chunk in progress", body = ErrorBody),
        (status = 413, description = "clip or body too large", body = ErrorBody),
        (status = 422, description = "frames_root does not match the leaves", body = ErrorBody),
        (status = 429, description = "too many open uploads for this device", body = ErrorBody),
        (status = 502, description = "the chain could not be read; retry", body = ErrorBody),
    ))]
async fn create(
    State(st): State<Shared>,
    ApprovedDevice { key: dkey, body }: ApprovedDevice,
) -> Result<Response, ApiError> {
    let b: CreateUpload = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("malformed_body", format!("invalid upload request: {e}"))
    })?;
    let ec = addr_key(&parse_address(&b.ec_address, "ec_address")?);
    let cfg = &st.config.upload;
    if b.size == 0 || i64::try_from(b.size).is_err() {
        return Err(ApiError::bad_request(
            "invalid_size",
            format!("size {} is not a clip size (1 to 2^63 - 1 bytes)", b.size),
        ));
    }
    if b.size == 0 || b.size > cfg.max_clip_bytes {
        return Err(ApiError::too_large(
            "clip_too_large",
            format!("size {} is not within 1..={}", b.size, cfg.max_clip_bytes),
        ));
    }
    let leaves_bytes = hex::decode(b.leaves.strip_prefix("0x").unwrap_or(&b.leaves))
        .map_err(|e| ApiError::bad_request("invalid_leaves", format!("leaves: not hex: {e}")))?;
    let leaves = decode_leaves(&leaves_bytes)
        .map_err(|e| ApiError::bad_request("invalid_leaves", e.to_string()))?;
    if leaves.is_empty() || leaves.len() > cfg.max_leaves as usize {
        return Err(ApiError::bad_request(
            "invalid_leaves",
            format!("{} leaves; expected 1..={}", leaves.len(), cfg.max_leaves),
        ));
    }
    let root = parse_b256(&b.frames_root, "frames_root")?;
    let computed =
        frames_root(&leaves).map_err(|e| ApiError::bad_request("invalid_leaves", e.to_string()))?;
    if computed != root {
        return Err(ApiError::unprocessable(
            "frames_root_mismatch",
            format!("leaves hash to {computed}, not frames_root {root}"),
        ));
    }

    // Bound to the device behind the EC (chain features on): nobody else may upload its clip.
    if let Some(chain) = &st.chain {
        authorize(&st, chain, &ec, &dkey).await?;
    }
    // One live upload per EC: resume an open one by the same device with the same parameters,
    // replace it otherwise (or replace another device's, once the EC is bound to this one);
    // refuse a finished one.
    let existing = st.store.live_upload(&ec).await?;
    if let Some(r) = existing {
        let UploadRow {
            id,
            device: dev,
            state,
            total_size: size,
            leaves: old_leaves,
            frames_root: old_root,
            ..
        } = r;
        if dev != dkey {
            if st.chain.is_none() {
                return Err(ApiError::conflict(
                    "ec_taken",
                    format!("an upload for EC {ec} exists from another device"),
                ));
            }
            // `authorize` bound the EC to this device: the other device's upload is foreign.
            retire(&st, &id, &ec).await?;
            tracing::warn!(upload = %upload::log_id(&id), ec = %ec, foreign = %dev, device = %dkey, "replaced an upload by a device the EC is not bound to");
        } else if state == UploadState::Complete {
            return Err(ApiError::conflict(
                "already_uploaded",
                format!("EC {ec} is already uploaded"),
            ));
        } else if size == b.size && old_leaves == leaves_bytes && old_root == root.as_slice() {
            let row = load(&st, &id).await?;
            return Ok((StatusCode::OK, Json(view(&st, &row).await?)).into_response());
        } else {
            // The device's own upload with other parameters (e.g. abandoned before a re-seal).
            retire(&st, &id, &ec).await?;
            tracing::info!(upload = %upload::log_id(&id), ec = %ec, "replaced the device's own open upload (other size or leaves)");
        }
    }
    let open = st.store.open_uploads_of(&dkey).await?;
    if open >= i64::from(cfg.max_open_per_device) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_open_uploads",
            format!(
                "device {dkey} has {open} open uploads (upload.max_open_per_device = {}); complete or abort one",
                cfg.max_open_per_device
            ),
        ));
    }
    let id = upload::new_upload_id();
    let now = now_unix();
    st.store
        .insert_upload(
            &NewUpload {
                id: &id,
                device: &dkey,
                ec_address: &ec,
                total_size: b.size,
                leaves: &leaves_bytes,
                frames_root: root.as_slice(),
            },
            now,
        )
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                ApiError::conflict("ec_taken", format!("an upload for EC {ec} was just opened"))
            }
            _ => e.into(),
        })?;
    tracing::info!(upload = %upload::log_id(&id), ec = %ec, device = %dkey, size = b.size, "upload opened");
    let row = load(&st, &id).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &row).await?)).into_response())
}

/// Refuses an upload for `ec` unless the EC exists, is Pending and is bound to `device`
/// ([`crate::chain::binding`]); a refused attempt by an approved device raises a
/// `foreign_upload` alarm. When the EC is final, the device's own finished upload is
/// `already_uploaded` (what the agent expects after a lost answer).
async fn authorize(
    st: &AppState,
    chain: &crate::chain::Chain,
    ec: &str,
    device: &str,
) -> Result<(), ApiError> {
    use crate::chain::binding::{Binding, bind};
    let ec_addr = parse_address(ec, "ec_address")?;
    let binding = bind(&st.store, chain, ec_addr).await.map_err(|e| match e {
        CloudError::Chain(msg) => {
            tracing::warn!(error = %msg, "upload: cannot read the EC from the chain");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "chain_unavailable",
                "cannot read the EC from the chain; retry later",
            )
        }
        e => e.into(),
    })?;
    let refuse = |bound: &str| -> ApiError {
        ApiError::forbidden(
            "not_evidence_device",
            format!(
                "EC {ec} is {bound}, not to device {device}: only the device whose evidence records (or relayed creation) stand behind an EC may upload its clip"
            ),
        )
    };
    match binding {
        Binding::NotEvidence => Err(ApiError::not_found(
            "unknown_ec",
            format!(
                "{ec} is not an Evidence Contract of this deployment (create the EC before uploading its clip)"
            ),
        )),
        Binding::Final(status) => {
            if st.store.completed_by(ec, device).await? {
                return Err(ApiError::conflict(
                    "already_uploaded",
                    format!("EC {ec} is already uploaded"),
                ));
            }
            let name = if status == 1 { "Verified" } else { "Rejected" };
            Err(ApiError::conflict(
                "ec_final",
                format!("EC {ec} is already {name} on chain; its clip can no longer be uploaded"),
            ))
        }
        Binding::Device { device: bound, .. } if bound == device => Ok(()),
        Binding::Device { device: bound, .. } => {
            foreign_attempt(st, device, ec, &format!("bound to device {bound}")).await;
            Err(refuse("bound to another device"))
        }
        Binding::Unbacked => {
            foreign_attempt(st, device, ec, "backed by no device's records").await;
            Err(ApiError::forbidden(
                "not_evidence_device",
                format!(
                    "EC {ec}'s videoHash is not the hash of a segment device {device} reported before the EC was created; send the evidence records first"
                ),
            ))
        }
    }
}

/// Stores a `foreign_upload` alarm for the operator (best effort: the refusal stands either way).
async fn foreign_attempt(st: &AppState, device: &str, ec: &str, why: &str) {
    let detail = format!("tried to upload the clip of EC {ec}, which is {why}");
    tracing::warn!(device, ec, why, "upload refused: not the EC's device");
    match st
        .store
        .raise_alarm(device, AlarmKind::ForeignUpload, 0, &detail, now_unix())
        .await
    {
        Ok(true) => {
            st.metrics.alarms_raised.inc();
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "cannot store the foreign_upload alarm"),
    }
}

/// Aborts upload `id` of `ec` (open, or complete but not yet decided by the verifier) so that
/// another upload of the EC can be opened; its spooled bytes are deleted.
pub(crate) async fn retire(st: &AppState, id: &str, ec: &str) -> Result<(), ApiError> {
    let cursor = cursor_for(st, id);
    let Ok(cur) = cursor.try_lock() else {
        return Err(ApiError::conflict(
            "chunk_in_progress",
            "a chunk of the upload being replaced is being written; retry",
        ));
    };
    if let Err(status) = st.store.retire_upload(id, ec, now_unix()).await? {
        return Err(ApiError::conflict(
            "already_uploaded",
            format!("EC {ec}'s clip was already decided by the verifier ({status})"),
        ));
    }
    drop(cur);
    forget_cursor(st, id);
    remove_spool(st, id).await;
    Ok(())
}

async fn remove_spool(st: &AppState, id: &str) {
    let dir = st.config.spool_dir();
    for p in [
        upload::spool_path(&dir, id),
        upload::thumb_spool_path(&dir, id, "first"),
        upload::thumb_spool_path(&dir, id, "last"),
    ] {
        let _ = tokio::fs::remove_file(p).await;
    }
}

/// Upload status: resume at `received`. The id is the capability.
#[utoipa::path(get, path = "/v1/uploads/{id}", tag = "devices",
    params(("id" = String, Path, description = "upload id (a capability: keep it secret)", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "status", body = UploadView),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 404, description = "no such upload", body = ErrorBody),
    ))]
async fn status(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UploadView>, ApiError> {
    let row = load(&st, &id).await?;
    Ok(Json(view(&st, &row).await?))
}

fn cursor_for(st: &AppState, id: &str) -> Arc<tokio::sync::Mutex<Cursor>> {
    let mut m = st.upload_cursors.lock().unwrap_or_else(|p| p.into_inner());
    m.entry(id.to_owned()).or_default().clone()
}

fn forget_cursor(st: &AppState, id: &str) {
    st.upload_cursors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id);
}

fn require_open(row: &UploadRow) -> Result<(), ApiError> {
    match row.state {
        UploadState::Open => Ok(()),
        UploadState::Complete => Err(ApiError::conflict(
            "upload_complete",
            format!("upload {} is already complete", row.id),
        )),
        UploadState::Aborted => Err(ApiError::conflict(
            "upload_aborted",
            format!("upload {} was aborted", row.id),
        )),
    }
}

/// Append bytes at exactly the acknowledged offset.
///
/// Streamed to the spool and hashed while streaming; durable (fsync) before the answer. At most
/// `upload.max_chunk_bytes`, never beyond the declared size; a failed or stalled chunk leaves
/// nothing.
#[utoipa::path(put, path = "/v1/uploads/{id}/chunks/{offset}", tag = "devices",
    params(
        ("id" = String, Path, description = "upload id", pattern = "^[0-9a-f]{32}$"),
        ("offset" = u64, Path, description = "must equal the upload's `received`", minimum = 0),
    ),
    request_body(content((dashledger_api::Binary = "application/octet-stream"))),
    responses(
        (status = 200, description = "acknowledged (durable)", body = UploadView),
        (status = 400, description = "empty chunk, invalid id or offset", body = ErrorBody),
        (status = 404, description = "no such upload", body = ErrorBody),
        (status = 408, description = "the body stopped arriving; nothing of it was kept", body = ErrorBody),
        (status = 409, description = "offset mismatch (the message says where to resume), upload not open, or another chunk in progress", body = ErrorBody),
        (status = 413, description = "chunk too large or beyond the declared size", body = ErrorBody),
        (status = 415, description = "not application/octet-stream", body = ErrorBody),
    ))]
async fn chunk(
    State(st): State<Shared>,
    ApiPath((id, offset)): ApiPath<(String, u64)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadView>, ApiError> {
    check_octet_stream(&headers)?;
    let row = load(&st, &id).await?;
    require_open(&row)?;
    let cursor = cursor_for(&st, &id);
    let Ok(mut cur) = cursor.try_lock() else {
        return Err(ApiError::conflict(
            "chunk_in_progress",
            "another chunk of this upload is being written; retry",
        ));
    };
    // Re-read under the lock: a concurrent chunk may have advanced it.
    let row = load(&st, &id).await?;
    require_open(&row)?;
    if offset != row.received {
        return Err(ApiError::conflict(
            "offset_mismatch",
            format!(
                "chunk offset {offset} but {} bytes are acknowledged; resume at offset {}",
                row.received, row.received
            ),
        ));
    }
    let max_chunk = st.config.upload.max_chunk_bytes;
    let room = row.total_size - row.received;
    if let Some(len) = content_length(&headers) {
        if len > max_chunk {
            return Err(ApiError::too_large(
                "chunk_too_large",
                format!("chunk of {len} bytes; at most {max_chunk}"),
            ));
        }
        if len > room {
            return Err(ApiError::too_large(
                "beyond_size",
                format!("chunk of {len} bytes exceeds the remaining {room} of the declared size"),
            ));
        }
    }
    let spool = upload::spool_path(&st.config.spool_dir(), &id);
    let mut hasher = match cur.hasher_at(row.received) {
        Some(h) => h,
        None => {
            let (p, n) = (spool.clone(), row.received);
            tokio::task::spawn_blocking(move || upload::hash_prefix(&p, n))
                .await
                .map_err(|e| ApiError::internal(format!("rehash task: {e}")))??
        }
    };
    tokio::fs::create_dir_all(st.config.spool_dir())
        .await
        .map_err(ApiError::internal)?;
    let mut f = upload::open_at(&spool, row.received).await?;
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    let res: Result<(), ApiError> = async {
        while let Some(frame) = stream.next().await {
            let data = frame.map_err(|e| ApiError::body_read(&e, "the chunk body"))?;
            written += data.len() as u64;
            if written > max_chunk {
                return Err(ApiError::too_large(
                    "chunk_too_large",
                    format!("chunk exceeds {max_chunk} bytes"),
                ));
            }
            if written > room {
                return Err(ApiError::too_large(
                    "beyond_size",
                    format!("chunk exceeds the remaining {room} bytes of the declared size"),
                ));
            }
            upload::append(&mut f, &spool, &data).await?;
            hasher.update(&data);
        }
        if written == 0 {
            return Err(ApiError::bad_request(
                "empty_chunk",
                "the chunk body is empty",
            ));
        }
        upload::sync(&mut f, &spool).await?;
        Ok(())
    }
    .await;
    drop(f);
    if let Err(e) = res {
        upload::rollback(&spool, row.received).await;
        return Err(e);
    }
    let new_received = row.received + written;
    let updated = st
        .store
        .advance_upload(&id, row.received, new_received, now_unix())
        .await;
    match updated {
        Ok(true) => {}
        Ok(false) => {
            upload::rollback(&spool, row.received).await;
            return Err(ApiError::conflict(
                "upload_changed",
                "the upload changed while the chunk was written; check its status",
            ));
        }
        Err(e) => {
            upload::rollback(&spool, row.received).await;
            return Err(e.into());
        }
    }
    cur.hashed = Some((new_received, hasher));
    st.metrics.upload_bytes.inc_by(written);
    let row = UploadRow {
        received: new_received,
        ..row
    };
    Ok(Json(view(&st, &row).await?))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn check_octet_stream(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/octet-stream")
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "chunks must be sent as application/octet-stream",
        ))
    }
}

/// Upload the first or last thumbnail (JPEG); keccak256 of the first is the EC's `frameHash`.
#[utoipa::path(put, path = "/v1/uploads/{id}/thumbnails/{which}", tag = "devices",
    params(
        ("id" = String, Path, description = "upload id", pattern = "^[0-9a-f]{32}$"),
        ("which" = String, Path, description = "which thumbnail", pattern = "^(first|last)$"),
    ),
    request_body(content((dashledger_api::Binary = "image/jpeg"))),
    responses(
        (status = 200, description = "stored", body = UploadView),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 404, description = "no such upload or thumbnail name", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 409, description = "upload not open", body = ErrorBody),
        (status = 413, description = "thumbnail too large", body = ErrorBody),
        (status = 415, description = "not image/jpeg", body = ErrorBody),
        (status = 422, description = "not a JPEG", body = ErrorBody),
    ))]
async fn thumbnail(
    State(st): State<Shared>,
    ApiPath((id, which)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadView>, ApiError> {
    if which != "first" && which != "last" {
        return Err(ApiError::not_found(
            "unknown_thumbnail",
            "thumbnails are 'first' or 'last'",
        ));
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("image/jpeg")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "thumbnails must be image/jpeg",
        ));
    }
    let row = load(&st, &id).await?;
    require_open(&row)?;
    let max = st.config.upload.max_thumbnail_bytes;
    let mut data = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(frame) = stream.next().await {
        let b = frame.map_err(|e| ApiError::body_read(&e, "the thumbnail"))?;
        if (data.len() + b.len()) as u64 > max {
            return Err(ApiError::too_large(
                "thumbnail_too_large",
                format!("thumbnail exceeds {max} bytes"),
            ));
        }
        data.extend_from_slice(&b);
    }
    if data.len() < 4 || data[..3] != [0xFF, 0xD8, 0xFF] {
        return Err(ApiError::unprocessable(
            "not_jpeg",
            "the thumbnail is not a JPEG (no FF D8 FF start of image)",
        ));
    }
    let spool = st.config.spool_dir();
    tokio::fs::create_dir_all(&spool)
        .await
        .map_err(ApiError::internal)?;
    let dest = upload::thumb_spool_path(&spool, &id, &which);
    let tmp = dest.with_extension("tmp");
    tokio::fs::write(&tmp, &data)
        .await
        .map_err(ApiError::internal)?;
    tokio::fs::rename(&tmp, &dest)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(view(&st, &row).await?))
}

/// Keccak-256 over a stored blob of `size` bytes.
async fn hash_blob(st: &AppState, key: &str, size: u64) -> Result<sha3::Keccak256, ApiError> {
    let mut h = sha3::Keccak256::new();
    let mut stream = st.blobs.read_range(key, 0, size).await?;
    while let Some(chunk) = stream.next().await {
        h.update(&chunk.map_err(|e| ApiError::internal(format!("reading {key}: {e}")))?);
    }
    Ok(h)
}

/// Finish: the clip moves atomically into blob storage and the verifier takes it from there.
/// Idempotent.
#[utoipa::path(post, path = "/v1/uploads/{id}/complete", tag = "devices",
    params(("id" = String, Path, description = "upload id", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "stored", body = Completed),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 404, description = "no such upload", body = ErrorBody),
        (status = 409, description = "incomplete (the message says where to resume), the first thumbnail is missing, aborted, or a chunk in progress", body = ErrorBody),
    ))]
async fn complete(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Completed>, ApiError> {
    let row = load(&st, &id).await?;
    if row.state == UploadState::Complete {
        return existing_clip(&st, &row.ec_address).await;
    }
    require_open(&row)?;
    let cursor = cursor_for(&st, &id);
    let Ok(cur) = cursor.try_lock() else {
        return Err(ApiError::conflict(
            "chunk_in_progress",
            "a chunk of this upload is being written; retry",
        ));
    };
    let row = load(&st, &id).await?;
    if row.state == UploadState::Complete {
        return existing_clip(&st, &row.ec_address).await;
    }
    require_open(&row)?;
    if row.received != row.total_size {
        return Err(ApiError::conflict(
            "incomplete",
            format!(
                "{} of {} bytes received; resume at offset {}",
                row.received, row.total_size, row.received
            ),
        ));
    }
    let spool_dir = st.config.spool_dir();
    let first = upload::thumb_spool_path(&spool_dir, &id, "first");
    let last = upload::thumb_spool_path(&spool_dir, &id, "last");
    let first_bytes = match tokio::fs::read(&first).await {
        Ok(b) => b,
        Err(_) => {
            return Err(ApiError::conflict(
                "missing_thumbnail",
                "upload the 'first' thumbnail (its hash is the EC's frameHash) before completing",
            ));
        }
    };
    let last_bytes = tokio::fs::read(&last).await.ok();
    let spool = upload::spool_path(&spool_dir, &id);
    let ec = row.ec_address.clone();
    let clip_key = format!("clips/{ec}.sealed");
    // A crash after the clip went to blob storage (which consumes the spool file) but before the
    // database recorded it: the stored object is the upload; hash it from there.
    let already_stored = !tokio::fs::try_exists(&spool).await.unwrap_or(true)
        && st.blobs.size(&clip_key).await? == Some(row.total_size);
    let hasher = match cur.hasher_at(row.received) {
        Some(h) => h,
        None if already_stored => {
            tracing::warn!(upload = %upload::log_id(&id), ec = %ec, "completing an upload whose clip was stored before a restart");
            hash_blob(&st, &clip_key, row.total_size).await?
        }
        None => {
            let (p, n) = (spool.clone(), row.received);
            tokio::task::spawn_blocking(move || upload::hash_prefix(&p, n))
                .await
                .map_err(|e| ApiError::internal(format!("rehash task: {e}")))??
        }
    };
    let cipher_hash = upload::finish(hasher);
    let frame_hash = keccak256(&first_bytes);
    let last_hash = last_bytes.as_ref().map(keccak256);
    // Thumbnails first (small, idempotent), then the clip (atomic rename), then the database.
    st.blobs
        .put_bytes(&format!("thumbs/{ec}/first.jpg"), Bytes::from(first_bytes))
        .await?;
    if let Some(l) = last_bytes {
        st.blobs
            .put_bytes(&format!("thumbs/{ec}/last.jpg"), Bytes::from(l))
            .await?;
    }
    if !already_stored {
        // Truncate any torn tail so the stored object is exactly the acknowledged bytes.
        upload::rollback(&spool, row.received).await;
        st.blobs.put_file(&clip_key, &spool).await?;
    }
    st.store
        .complete_upload(
            &row,
            &NewClip {
                blob_key: &clip_key,
                cipher_hash: cipher_hash.as_slice(),
                thumb_first: frame_hash.as_slice(),
                thumb_last: last_hash.as_ref().map(|h| h.as_slice()),
            },
            now_unix(),
        )
        .await?;
    drop(cur);
    forget_cursor(&st, &id);
    let _ = tokio::fs::remove_file(&first).await;
    let _ = tokio::fs::remove_file(&last).await;
    st.metrics.uploads_completed.inc();
    tracing::info!(upload = %upload::log_id(&id), ec = %ec, cipher_hash = %cipher_hash, "upload complete");
    Ok(Json(Completed {
        ec_address: ec,
        size: row.total_size,
        cipher_hash: cipher_hash.to_string(),
        frame_hash: frame_hash.to_string(),
        status: ClipStatus::Uploaded,
    }))
}

async fn existing_clip(st: &AppState, ec: &str) -> Result<Json<Completed>, ApiError> {
    let c = st
        .store
        .clip(ec)
        .await?
        .ok_or_else(|| ApiError::internal(format!("complete upload of {ec} has no clip")))?;
    Ok(Json(Completed {
        ec_address: ec.to_owned(),
        size: c.cipher_size,
        cipher_hash: format!("0x{}", hex::encode(c.cipher_hash)),
        frame_hash: c
            .thumb_first
            .map(|f| format!("0x{}", hex::encode(f)))
            .unwrap_or_default(),
        status: c.status,
    }))
}

/// Abort an open upload: its spooled bytes are deleted.
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "devices",
    params(("id" = String, Path, description = "upload id", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "aborted", body = Aborted),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 404, description = "no such upload", body = ErrorBody),
        (status = 409, description = "not open, or a chunk in progress", body = ErrorBody),
    ))]
async fn abort(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Aborted>, ApiError> {
    let row = load(&st, &id).await?;
    require_open(&row)?;
    let cursor = cursor_for(&st, &id);
    let Ok(cur) = cursor.try_lock() else {
        return Err(ApiError::conflict(
            "chunk_in_progress",
            "a chunk of this upload is being written; retry",
        ));
    };
    st.store.abort_upload(&id, now_unix()).await?;
    drop(cur);
    forget_cursor(&st, &id);
    remove_spool(&st, &id).await;
    Ok(Json(Aborted {
        upload_id: id,
        state: UploadState::Aborted,
    }))
}
