//! Operator API (bearer admin token): device registry and chain alarms.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::admin::{
    Acknowledged, Alarm, AlarmPage, AlarmQuery, Device as DeviceView, ListDevices, RegisterDevice,
};
use dashledger_api::admin::{AlarmKind, DeviceStatus};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiPath, ApiQuery, Shared, addr_key, parse_address, require_admin};
use crate::error::ApiError;
use crate::now_unix;
use crate::store::alarms::AlarmFilter;
use crate::store::devices::DeviceRow;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(register, list_devices))
        .routes(routes!(get_device))
        .routes(routes!(approve))
        .routes(routes!(revoke))
        .routes(routes!(list_alarms))
        .routes(routes!(ack_alarm))
}

fn device_view(d: DeviceRow) -> DeviceView {
    DeviceView {
        address: d.address,
        status: d.status,
        label: d.label,
        last_seq: d.tip.map(|t| i64::from(t.seq)),
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

async fn fetch_device(st: &Shared, address: &str) -> Result<Option<DeviceView>, ApiError> {
    Ok(st.store.device(address).await?.map(device_view))
}

/// Register a device key (idempotent); optionally approve it at once.
#[utoipa::path(post, path = "/v1/admin/devices", tag = "operator", security(("admin" = [])),
    request_body = RegisterDevice,
    responses(
        (status = 201, description = "registered", body = DeviceView),
        (status = 200, description = "already registered (unchanged)", body = DeviceView),
        (status = 400, description = "invalid address or label", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled (no admin token configured)", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not application/json", body = ErrorBody),
        (status = 422, description = "JSON of the wrong shape", body = ErrorBody),
    ))]
async fn register(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterDevice>,
) -> Result<Response, ApiError> {
    require_admin(&st, &headers)?;
    let addr = addr_key(&parse_address(&body.address, "address")?);
    if body.label.chars().count() > 200 {
        return Err(ApiError::bad_request(
            "invalid_label",
            "label must be at most 200 characters",
        ));
    }
    let now = now_unix();
    let status = if body.approve {
        DeviceStatus::Approved
    } else {
        DeviceStatus::Pending
    };
    let created = st
        .store
        .register_device(&addr, status, &body.label, now)
        .await?;
    if created {
        tracing::info!(device = %addr, %status, "device registered");
    }
    let dev = fetch_device(&st, &addr)
        .await?
        .ok_or_else(|| ApiError::internal("device vanished after insert"))?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(dev)).into_response())
}

/// List devices.
#[utoipa::path(get, path = "/v1/admin/devices", tag = "operator", security(("admin" = [])),
    params(ListDevices),
    responses(
        (status = 200, description = "devices, by address", body = Vec<DeviceView>),
        (status = 400, description = "invalid query", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
    ))]
async fn list_devices(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListDevices>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    require_admin(&st, &headers)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<DeviceStatus>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_status",
                    "status must be pending, approved or revoked",
                )
            })
        })
        .transpose()?;
    Ok(Json(
        st.store
            .devices(status)
            .await?
            .into_iter()
            .map(device_view)
            .collect(),
    ))
}

/// One device.
#[utoipa::path(get, path = "/v1/admin/devices/{address}", tag = "operator", security(("admin" = [])),
    params(("address" = String, Path, description = "device address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "the device", body = DeviceView),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
        (status = 404, description = "not registered", body = ErrorBody),
    ))]
async fn get_device(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<DeviceView>, ApiError> {
    require_admin(&st, &headers)?;
    let addr = addr_key(&parse_address(&address, "device address")?);
    fetch_device(&st, &addr).await?.map(Json).ok_or_else(|| {
        ApiError::not_found("unknown_device", format!("device {addr} is not registered"))
    })
}

async fn set_status(
    st: &Shared,
    headers: &HeaderMap,
    address: &str,
    status: DeviceStatus,
) -> Result<Json<DeviceView>, ApiError> {
    require_admin(st, headers)?;
    let addr = addr_key(&parse_address(address, "device address")?);
    if !st
        .store
        .set_device_status(&addr, status, now_unix())
        .await?
    {
        return Err(ApiError::not_found(
            "unknown_device",
            format!("device {addr} is not registered"),
        ));
    }
    tracing::info!(device = %addr, %status, "device status changed");
    Ok(Json(
        fetch_device(st, &addr)
            .await?
            .ok_or_else(|| ApiError::internal("device vanished"))?,
    ))
}

/// Approve a device: its records and uploads are accepted from now on.
#[utoipa::path(post, path = "/v1/admin/devices/{address}/approve", tag = "operator", security(("admin" = [])),
    params(("address" = String, Path, description = "device address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "the device", body = DeviceView),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
        (status = 404, description = "not registered", body = ErrorBody),
    ))]
async fn approve(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<DeviceView>, ApiError> {
    set_status(&st, &headers, &address, DeviceStatus::Approved).await
}

/// Revoke a device: its records and uploads are refused from now on.
#[utoipa::path(post, path = "/v1/admin/devices/{address}/revoke", tag = "operator", security(("admin" = [])),
    params(("address" = String, Path, description = "device address", pattern = "^0[xX][0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "the device", body = DeviceView),
        (status = 400, description = "invalid address", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
        (status = 404, description = "not registered", body = ErrorBody),
    ))]
async fn revoke(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<DeviceView>, ApiError> {
    set_status(&st, &headers, &address, DeviceStatus::Revoked).await
}

/// Chain alarms, oldest first.
#[utoipa::path(get, path = "/v1/admin/alarms", tag = "operator", security(("admin" = [])),
    params(AlarmQuery),
    responses(
        (status = 200, description = "a page of alarms", body = AlarmPage),
        (status = 400, description = "invalid query", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
    ))]
async fn list_alarms(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AlarmQuery>,
) -> Result<Json<AlarmPage>, ApiError> {
    require_admin(&st, &headers)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be 1..=1000",
        ));
    }
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            k.parse::<AlarmKind>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_kind",
                    "kind must be gap, fork, break, reordered or foreign_upload",
                )
            })
        })
        .transpose()?;
    let device = q
        .device
        .as_deref()
        .map(|d| parse_address(d, "device").map(|a| addr_key(&a)))
        .transpose()?;
    let alarms: Vec<Alarm> = st
        .store
        .alarms(&AlarmFilter {
            device,
            kind,
            after: q.after.unwrap_or(0),
            all: q.all,
            limit,
        })
        .await?;
    let next = if alarms.len() as i64 == limit {
        alarms.last().map(|a| a.id)
    } else {
        None
    };
    Ok(Json(AlarmPage {
        alarms,
        next_after: next,
    }))
}

/// Acknowledge an alarm (idempotent).
#[utoipa::path(post, path = "/v1/admin/alarms/{id}/ack", tag = "operator", security(("admin" = [])),
    params(("id" = i64, Path, description = "alarm id")),
    responses(
        (status = 200, description = "acknowledged", body = Acknowledged),
        (status = 400, description = "invalid id", body = ErrorBody),
        (status = 401, description = "missing or wrong admin token", body = ErrorBody),
        (status = 403, description = "operator API disabled", body = ErrorBody),
        (status = 404, description = "no such alarm", body = ErrorBody),
    ))]
async fn ack_alarm(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Acknowledged>, ApiError> {
    require_admin(&st, &headers)?;
    if st.store.ack_alarm(id, now_unix()).await?.is_none() {
        return Err(ApiError::not_found(
            "unknown_alarm",
            format!("no alarm {id}"),
        ));
    }
    Ok(Json(Acknowledged {
        id,
        acknowledged: true,
    }))
}
