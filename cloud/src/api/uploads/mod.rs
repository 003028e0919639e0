//! Resumable chunked upload of a sealed accident clip, its thumbnails and per-second leaves.
//!
//! `POST /v1/uploads` (signed by the device) opens a session and returns an unguessable upload
//! id, the capability for the other calls: `PUT /v1/uploads/{id}/chunks/{offset}` (bytes at
//! exactly the acknowledged offset), `GET /v1/uploads/{id}` (status, for resuming),
//! `PUT /v1/uploads/{id}/thumbnails/{first|last}` (JPEG), `PUT /v1/uploads/{id}/c2pa` (the
//! device's C2PA sidecar, optional), `POST /v1/uploads/{id}/complete`,
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

mod chunks;
mod complete;
mod open;
mod provenance;

pub(crate) use provenance::C2PA_MEDIA_TYPE;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(open::create).layer(DefaultBodyLimit::max(1 << 20)))
        .routes(routes!(status, abort))
        // Chunk and thumbnail bodies are size-checked while streaming, against the upload caps.
        .routes(routes!(chunks::chunk).layer(DefaultBodyLimit::disable()))
        .routes(routes!(complete::thumbnail).layer(DefaultBodyLimit::disable()))
        .routes(routes!(provenance::put_c2pa).layer(DefaultBodyLimit::disable()))
        .routes(routes!(complete::complete))
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
        c2pa: if row.state == UploadState::Complete {
            st.blobs
                .size(&upload::c2pa_blob_key(&row.ec_address, &row.id))
                .await?
                .is_some()
        } else {
            upload::c2pa_spool_path(&spool, &row.id).exists()
        },
    })
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
        upload::c2pa_spool_path(&dir, id),
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
