//! Operator API (bearer admin token): device registry and chain alarms.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dashledger_api::ErrorBody;
use dashledger_api::admin::{
    Acknowledged, Alarm, AlarmPage, AlarmQuery, Device as DeviceView, ListDevices, RegisterDevice,
};
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiJson, ApiPath, ApiQuery, Shared, addr_key, parse_address, require_admin};
use crate::error::ApiError;
use crate::now_unix;

pub(super) fn routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(register, list_devices))
        .routes(routes!(get_device))
        .routes(routes!(approve))
        .routes(routes!(revoke))
        .routes(routes!(list_alarms))
        .routes(routes!(ack_alarm))
}

const DEVICE_COLS: &str = "address, status, label, tip_seq, created_at, updated_at";

fn device_row(r: &sqlx::any::AnyRow) -> Result<DeviceView, sqlx::Error> {
    let status: String = r.try_get(1)?;
    Ok(DeviceView {
        address: r.try_get(0)?,
        status: status
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        label: r.try_get(2)?,
        last_seq: r.try_get(3)?,
        created_at: r.try_get(4)?,
        updated_at: r.try_get(5)?,
    })
}

async fn fetch_device(st: &Shared, address: &str) -> Result<Option<DeviceView>, ApiError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DEVICE_COLS} FROM devices WHERE address = $1"
    )))
    .bind(address)
    .fetch_optional(st.db.pool())
    .await?;
    Ok(row.as_ref().map(device_row).transpose()?)
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
    let status = if body.approve { "approved" } else { "pending" };
    let res = sqlx::query(
        "INSERT INTO devices (address, status, label, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (address) DO NOTHING",
    )
    .bind(&addr)
    .bind(status)
    .bind(&body.label)
    .bind(now)
    .execute(st.db.pool())
    .await?;
    let created = res.rows_affected() == 1;
    if created {
        tracing::info!(device = %addr, status, "device registered");
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
    let rows = match &q.status {
        Some(s) => {
            if !matches!(s.as_str(), "pending" | "approved" | "revoked") {
                return Err(ApiError::bad_request(
                    "invalid_status",
                    "status must be pending, approved or revoked",
                ));
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE status = $1 ORDER BY address"
            )))
            .bind(s)
            .fetch_all(st.db.pool())
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {DEVICE_COLS} FROM devices ORDER BY address"
            )))
            .fetch_all(st.db.pool())
            .await?
        }
    };
    Ok(Json(rows.iter().map(device_row).collect::<Result<_, _>>()?))
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
    status: &str,
) -> Result<Json<DeviceView>, ApiError> {
    require_admin(st, headers)?;
    let addr = addr_key(&parse_address(address, "device address")?);
    let res = sqlx::query("UPDATE devices SET status = $1, updated_at = $2 WHERE address = $3")
        .bind(status)
        .bind(now_unix())
        .bind(&addr)
        .execute(st.db.pool())
        .await?;
    if res.rows_affected() == 0 {
        return Err(ApiError::not_found(
            "unknown_device",
            format!("device {addr} is not registered"),
        ));
    }
    tracing::info!(device = %addr, status, "device status changed");
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
    set_status(&st, &headers, &address, "approved").await
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
    set_status(&st, &headers, &address, "revoked").await
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
    if let Some(k) = &q.kind
        && !matches!(
            k.as_str(),
            "gap" | "fork" | "break" | "reordered" | "foreign_upload"
        )
    {
        return Err(ApiError::bad_request(
            "invalid_kind",
            "kind must be gap, fork, break, reordered or foreign_upload",
        ));
    }
    let device = q
        .device
        .as_deref()
        .map(|d| parse_address(d, "device").map(|a| addr_key(&a)))
        .transpose()?;
    let rows = sqlx::query(
        "SELECT id, device, kind, seq, detail, created_at, acknowledged_at FROM alarms \
         WHERE id > $1 AND ($2 = '' OR device = $2) AND ($3 = '' OR kind = $3) \
         AND ($4 = 1 OR acknowledged_at IS NULL) ORDER BY id LIMIT $5",
    )
    .bind(q.after.unwrap_or(0))
    .bind(device.unwrap_or_default())
    .bind(q.kind.clone().unwrap_or_default())
    .bind(i64::from(q.all))
    .bind(limit)
    .fetch_all(st.db.pool())
    .await?;
    let alarms = rows
        .iter()
        .map(|r| {
            let kind: String = r.try_get(2)?;
            Ok(Alarm {
                id: r.try_get(0)?,
                device: r.try_get(1)?,
                kind: kind.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                seq: r.try_get(3)?,
                detail: r.try_get(4)?,
                created_at: r.try_get(5)?,
                acknowledged_at: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
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
    let res = sqlx::query(
        "UPDATE alarms SET acknowledged_at = $1 WHERE id = $2 AND acknowledged_at IS NULL",
    )
    .bind(now_unix())
    .bind(id)
    .execute(st.db.pool())
    .await?;
    if res.rows_affected() == 0 {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM alarms WHERE id = $1")
            .bind(id)
            .fetch_optional(st.db.pool())
            .await?;
        if exists.is_none() {
            return Err(ApiError::not_found(
                "unknown_alarm",
                format!("no alarm {id}"),
            ));
        }
    }
    Ok(Json(Acknowledged {
        id,
        acknowledged: true,
    }))
}
