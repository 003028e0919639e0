//! Finishing an upload: the two JPEG thumbnails, then `complete` (size, hashes and leaves checked,
//! the clip moved to blob storage for the verifier).

use std::path::PathBuf;

use super::*;

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
pub(super) async fn thumbnail(
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
    require_media_type(&headers, "image/jpeg", "thumbnails must be image/jpeg")?;
    let row = load(&st, &id).await?;
    require_open(&row)?;
    let data = read_capped(
        body,
        st.config.upload.max_thumbnail_bytes,
        "thumbnail_too_large",
        "the thumbnail",
    )
    .await?;
    if data.len() < 4 || data[..3] != [0xFF, 0xD8, 0xFF] {
        return Err(ApiError::unprocessable(
            "not_jpeg",
            "the thumbnail is not a JPEG (no FF D8 FF start of image)",
        ));
    }
    let dest = upload::thumb_spool_path(&st.config.spool_dir(), &id, &which);
    spool_bytes(&st, &dest, &data).await?;
    Ok(Json(view(&st, &row).await?))
}

/// 415 `unsupported_media_type` (with `message`) unless the body is declared as `expected`.
pub(super) fn require_media_type(
    headers: &HeaderMap,
    expected: &str,
    message: &'static str,
) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    ))
}

/// Reads a whole body of at most `max` bytes (413 `code` past it).
pub(super) async fn read_capped(
    body: Body,
    max: u64,
    code: &'static str,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut data = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(frame) = stream.next().await {
        let b = frame.map_err(|e| ApiError::body_read(&e, what))?;
        if (data.len() + b.len()) as u64 > max {
            return Err(ApiError::too_large(
                code,
                format!("{what} exceeds {max} bytes"),
            ));
        }
        data.extend_from_slice(&b);
    }
    Ok(data)
}

/// Writes `data` to the spool file `dest` atomically (temporary file, then rename).
pub(super) async fn spool_bytes(
    st: &AppState,
    dest: &std::path::Path,
    data: &[u8],
) -> Result<(), ApiError> {
    tokio::fs::create_dir_all(st.config.spool_dir())
        .await
        .map_err(ApiError::internal)?;
    let tmp = dest.with_extension("tmp");
    tokio::fs::write(&tmp, data)
        .await
        .map_err(ApiError::internal)?;
    tokio::fs::rename(&tmp, dest)
        .await
        .map_err(ApiError::internal)?;
    Ok(())
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
pub(super) async fn complete(
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
    require_all_received(&row)?;
    let spooled = Spooled::gather(&st, &id, &row).await?;
    let hasher = clip_hasher(&st, &id, &row, &cur, &spooled).await?;
    let cipher_hash = upload::finish(hasher);
    let frame_hash = keccak256(&spooled.first_bytes);
    let done = [
        spooled.first.clone(),
        spooled.last.clone(),
        upload::c2pa_spool_path(&st.config.spool_dir(), &id),
    ];
    store_clip(&st, &row, spooled, cipher_hash, frame_hash).await?;
    drop(cur);
    forget_cursor(&st, &id);
    for p in done {
        let _ = tokio::fs::remove_file(&p).await;
    }
    st.metrics.uploads_completed.inc();
    let ec = row.ec_address.clone();
    tracing::info!(upload = %upload::log_id(&id), ec = %ec, cipher_hash = %cipher_hash, "upload complete");
    Ok(Json(Completed {
        ec_address: ec,
        size: row.total_size,
        cipher_hash: cipher_hash.to_string(),
        frame_hash: frame_hash.to_string(),
        status: ClipStatus::Uploaded,
    }))
}

/// 409 `incomplete` (with the offset to resume at) unless every byte was received.
fn require_all_received(row: &UploadRow) -> Result<(), ApiError> {
    if row.received == row.total_size {
        return Ok(());
    }
    Err(ApiError::conflict(
        "incomplete",
        format!(
            "{} of {} bytes received; resume at offset {}",
            row.received, row.total_size, row.received
        ),
    ))
}

/// What `complete` moves to blob storage: the spooled thumbnails and clip, and where the clip
/// goes.
struct Spooled {
    /// Spool paths of the first and last thumbnails.
    first: PathBuf,
    last: PathBuf,
    first_bytes: Vec<u8>,
    last_bytes: Option<Vec<u8>>,
    /// The device's C2PA sidecar, if it sent one.
    c2pa: Option<Vec<u8>>,
    /// Spool path of the clip.
    spool: PathBuf,
    clip_key: String,
    /// The clip is already in blob storage: a crash after it went there (which consumes the
    /// spool file) but before the database recorded it.
    already_stored: bool,
}

impl Spooled {
    /// Reads the thumbnails (409 `missing_thumbnail` without the first) and finds where the clip
    /// is.
    async fn gather(st: &AppState, id: &str, row: &UploadRow) -> Result<Self, ApiError> {
        let spool_dir = st.config.spool_dir();
        let first = upload::thumb_spool_path(&spool_dir, id, "first");
        let last = upload::thumb_spool_path(&spool_dir, id, "last");
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
        let c2pa = tokio::fs::read(upload::c2pa_spool_path(&spool_dir, id))
            .await
            .ok();
        let spool = upload::spool_path(&spool_dir, id);
        let clip_key = format!("clips/{}.sealed", row.ec_address);
        // A crash after the clip went to blob storage (which consumes the spool file) but before
        // the database recorded it: the stored object is the upload; hash it from there.
        let already_stored = !tokio::fs::try_exists(&spool).await.unwrap_or(true)
            && st.blobs.size(&clip_key).await? == Some(row.total_size);
        Ok(Self {
            first,
            last,
            first_bytes,
            last_bytes,
            c2pa,
            spool,
            clip_key,
            already_stored,
        })
    }
}

/// The Keccak-256 state over the whole clip: the cursor's when it is at the end, else rebuilt
/// from the stored object or the spool file.
async fn clip_hasher(
    st: &AppState,
    id: &str,
    row: &UploadRow,
    cur: &Cursor,
    spooled: &Spooled,
) -> Result<sha3::Keccak256, ApiError> {
    Ok(match cur.hasher_at(row.received) {
        Some(h) => h,
        None if spooled.already_stored => {
            tracing::warn!(upload = %upload::log_id(id), ec = %row.ec_address, "completing an upload whose clip was stored before a restart");
            hash_blob(st, &spooled.clip_key, row.total_size).await?
        }
        None => {
            let (p, n) = (spooled.spool.clone(), row.received);
            tokio::task::spawn_blocking(move || upload::hash_prefix(&p, n))
                .await
                .map_err(|e| ApiError::internal(format!("rehash task: {e}")))??
        }
    })
}

/// Thumbnails and the C2PA sidecar first (small, idempotent), then the clip (atomic rename), then the database.
async fn store_clip(
    st: &AppState,
    row: &UploadRow,
    spooled: Spooled,
    cipher_hash: B256,
    frame_hash: B256,
) -> Result<(), ApiError> {
    let ec = &row.ec_address;
    let last_hash = spooled.last_bytes.as_ref().map(keccak256);
    st.blobs
        .put_bytes(
            &format!("thumbs/{ec}/first.jpg"),
            Bytes::from(spooled.first_bytes),
        )
        .await?;
    if let Some(l) = spooled.last_bytes {
        st.blobs
            .put_bytes(&format!("thumbs/{ec}/last.jpg"), Bytes::from(l))
            .await?;
    }
    if let Some(c) = spooled.c2pa {
        st.blobs
            .put_bytes(&upload::c2pa_blob_key(ec, &row.id), Bytes::from(c))
            .await?;
    }
    if !spooled.already_stored {
        // Truncate any torn tail so the stored object is exactly the acknowledged bytes.
        upload::rollback(&spooled.spool, row.received).await;
        st.blobs.put_file(&spooled.clip_key, &spooled.spool).await?;
    }
    st.store
        .complete_upload(
            row,
            &NewClip {
                blob_key: &spooled.clip_key,
                cipher_hash: cipher_hash.as_slice(),
                thumb_first: frame_hash.as_slice(),
                thumb_last: last_hash.as_ref().map(|h| h.as_slice()),
            },
            now_unix(),
        )
        .await?;
    Ok(())
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
