//! The clip's bytes: chunks appended at exactly the acknowledged offset, streamed to the spool
//! and hashed while streaming, durable before the answer.

use super::*;

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
pub(super) async fn chunk(
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
    check_declared_length(&headers, max_chunk, room)?;
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
    let written = write_body(body, &spool, row.received, max_chunk, room, &mut hasher).await?;
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

/// 413 when the declared `Content-Length` is over the chunk limit or past the declared size.
fn check_declared_length(headers: &HeaderMap, max_chunk: u64, room: u64) -> Result<(), ApiError> {
    if let Some(len) = content_length(headers) {
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
    Ok(())
}

/// Streams the chunk body onto the spool at `at`, hashing it, within the limits, and syncs it;
/// on any failure the spool is cut back to `at` (nothing of a failed chunk stays). Returns the
/// bytes written.
async fn write_body(
    body: Body,
    spool: &std::path::Path,
    at: u64,
    max_chunk: u64,
    room: u64,
    hasher: &mut sha3::Keccak256,
) -> Result<u64, ApiError> {
    let mut f = upload::open_at(spool, at).await?;
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
            upload::append(&mut f, spool, &data).await?;
            hasher.update(&data);
        }
        if written == 0 {
            return Err(ApiError::bad_request(
                "empty_chunk",
                "the chunk body is empty",
            ));
        }
        upload::sync(&mut f, spool).await?;
        Ok(())
    }
    .await;
    drop(f);
    if let Err(e) = res {
        upload::rollback(spool, at).await;
        return Err(e);
    }
    Ok(written)
}

pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pub(super) fn check_octet_stream(headers: &HeaderMap) -> Result<(), ApiError> {
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
