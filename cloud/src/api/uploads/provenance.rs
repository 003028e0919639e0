//! The C2PA sidecar of an upload (docs/formats.md "C2PA on the shared clip"): the device's
//! signed manifest store for the plaintext segment, kept beside the sealed clip and given only
//! to the paid requester (`GET /v1/clips/{ec}/c2pa`). The cloud cannot check it (it has no
//! plaintext to bind it to); it checks that it is a JUMBF manifest store and keeps it as sent.

use super::complete::{read_capped, require_media_type, spool_bytes};
use super::*;

/// The media type of a C2PA manifest store.
pub(crate) const C2PA_MEDIA_TYPE: &str = "application/c2pa";

/// Whether `data` starts like a C2PA manifest store: a JUMBF superbox (`jumb`) whose
/// description box names the `c2pa` store.
pub(crate) fn looks_like_c2pa(data: &[u8]) -> bool {
    data.len() >= 40
        && &data[4..8] == b"jumb"
        && data[..64.min(data.len())].windows(4).any(|w| w == b"c2pa")
}

/// Upload the C2PA sidecar manifest store the device signed for the plaintext clip (optional;
/// before `complete`).
#[utoipa::path(put, path = "/v1/uploads/{id}/c2pa", tag = "devices",
    params(("id" = String, Path, description = "upload id", pattern = "^[0-9a-f]{32}$")),
    request_body(content((dashledger_api::Binary = "application/c2pa"))),
    responses(
        (status = 200, description = "stored", body = UploadView),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 404, description = "no such upload", body = ErrorBody),
        (status = 408, description = "the body stopped arriving", body = ErrorBody),
        (status = 409, description = "upload not open", body = ErrorBody),
        (status = 413, description = "larger than upload.max_c2pa_bytes", body = ErrorBody),
        (status = 415, description = "not application/c2pa", body = ErrorBody),
        (status = 422, description = "not a C2PA manifest store (JUMBF)", body = ErrorBody),
    ))]
pub(super) async fn put_c2pa(
    State(st): State<Shared>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadView>, ApiError> {
    require_media_type(
        &headers,
        C2PA_MEDIA_TYPE,
        "the C2PA sidecar must be sent as application/c2pa",
    )?;
    let row = load(&st, &id).await?;
    require_open(&row)?;
    let data = read_capped(
        body,
        st.config.upload.max_c2pa_bytes,
        "c2pa_too_large",
        "the C2PA sidecar",
    )
    .await?;
    if !looks_like_c2pa(&data) {
        return Err(ApiError::unprocessable(
            "not_c2pa",
            "the body is not a C2PA manifest store (no JUMBF `jumb` box labelled c2pa)",
        ));
    }
    let dest = upload::c2pa_spool_path(&st.config.spool_dir(), &id);
    spool_bytes(&st, &dest, &data).await?;
    Ok(Json(view(&st, &row).await?))
}
