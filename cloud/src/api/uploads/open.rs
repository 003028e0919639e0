//! Opening (or resuming) an upload: who may upload the clip of which Evidence Contract (the
//! device behind it, [`crate::chain::binding`]), and the alarm when another device tries.

use super::*;
use crate::config::UploadConfig;

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
pub(super) async fn create(
    State(st): State<Shared>,
    ApprovedDevice { key: dkey, body }: ApprovedDevice,
) -> Result<Response, ApiError> {
    let req = OpenRequest::parse(&body, &st.config.upload)?;
    // Bound to the device behind the EC (chain features on): nobody else may upload its clip.
    if let Some(chain) = &st.chain {
        authorize(&st, chain, &req.ec, &dkey).await?;
    }
    if let Some(resumed) = settle_live_upload(&st, &req, &dkey).await? {
        return Ok(resumed);
    }
    let cfg = &st.config.upload;
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
    let ec = &req.ec;
    let id = upload::new_upload_id();
    let now = now_unix();
    st.store
        .insert_upload(
            &NewUpload {
                id: &id,
                device: &dkey,
                ec_address: ec,
                total_size: req.size,
                leaves: &req.leaves,
                frames_root: req.root.as_slice(),
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
    tracing::info!(upload = %upload::log_id(&id), ec = %ec, device = %dkey, size = req.size, "upload opened");
    let row = load(&st, &id).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &row).await?)).into_response())
}

/// A checked `POST /v1/uploads` body.
struct OpenRequest {
    /// The EC (storage key form).
    ec: String,
    /// The sealed clip's size in bytes.
    size: u64,
    /// The encoded per-second leaves, as sent.
    leaves: Vec<u8>,
    /// The leaves' root, checked.
    root: B256,
}

impl OpenRequest {
    /// Parses and checks the body: the EC address, a size within `upload.max_clip_bytes`, 1 to
    /// `upload.max_leaves` leaves, and `frames_root` equal to the leaves' root.
    fn parse(body: &[u8], cfg: &UploadConfig) -> Result<Self, ApiError> {
        let b: CreateUpload = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request("malformed_body", format!("invalid upload request: {e}"))
        })?;
        let ec = addr_key(&parse_address(&b.ec_address, "ec_address")?);
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
        let leaves_bytes =
            hex::decode(b.leaves.strip_prefix("0x").unwrap_or(&b.leaves)).map_err(|e| {
                ApiError::bad_request("invalid_leaves", format!("leaves: not hex: {e}"))
            })?;
        let leaves = decode_leaves(&leaves_bytes)
            .map_err(|e| ApiError::bad_request("invalid_leaves", e.to_string()))?;
        if leaves.is_empty() || leaves.len() > cfg.max_leaves as usize {
            return Err(ApiError::bad_request(
                "invalid_leaves",
                format!("{} leaves; expected 1..={}", leaves.len(), cfg.max_leaves),
            ));
        }
        let root = parse_b256(&b.frames_root, "frames_root")?;
        let computed = frames_root(&leaves)
            .map_err(|e| ApiError::bad_request("invalid_leaves", e.to_string()))?;
        if computed != root {
            return Err(ApiError::unprocessable(
                "frames_root_mismatch",
                format!("leaves hash to {computed}, not frames_root {root}"),
            ));
        }
        Ok(Self {
            ec,
            size: b.size,
            leaves: leaves_bytes,
            root,
        })
    }
}

/// One live upload per EC: resumes an open one by the same device with the same parameters
/// (its 200 answer), replaces it otherwise (or replaces another device's, once the EC is bound
/// to this one), refuses a finished one. `None`: a new upload may be opened.
async fn settle_live_upload(
    st: &Shared,
    req: &OpenRequest,
    dkey: &str,
) -> Result<Option<Response>, ApiError> {
    let ec = &req.ec;
    let Some(r) = st.store.live_upload(ec).await? else {
        return Ok(None);
    };
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
        retire(st, &id, ec).await?;
        tracing::warn!(upload = %upload::log_id(&id), ec = %ec, foreign = %dev, device = %dkey, "replaced an upload by a device the EC is not bound to");
    } else if state == UploadState::Complete {
        return Err(ApiError::conflict(
            "already_uploaded",
            format!("EC {ec} is already uploaded"),
        ));
    } else if size == req.size && old_leaves == req.leaves && old_root == req.root.as_slice() {
        let row = load(st, &id).await?;
        return Ok(Some(
            (StatusCode::OK, Json(view(st, &row).await?)).into_response(),
        ));
    } else {
        // The device's own upload with other parameters (e.g. abandoned before a re-seal).
        retire(st, &id, ec).await?;
        tracing::info!(upload = %upload::log_id(&id), ec = %ec, "replaced the device's own open upload (other size or leaves)");
    }
    Ok(None)
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
            let name = dashledger_protocol::status::EvidenceStatus::from_code(status)
                .map_or("judged", dashledger_protocol::status::EvidenceStatus::name);
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
