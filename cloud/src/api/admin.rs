//! Operator API (bearer admin token): device registry and chain alarms.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{ApiJson, ApiPath, ApiQuery, Shared, addr_key, parse_address, require_admin};
use crate::error::ApiError;
use crate::now_unix;

pub(super) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/v1/admin/devices", post(register).get(list_devices))
        .route("/v1/admin/devices/{address}", get(get_device))
        .route("/v1/admin/devices/{address}/approve", post(approve))
        .route("/v1/admin/devices/{address}/revoke", post(revoke))
        .route("/v1/admin/alarms", get(list_alarms))
        .route("/v1/admin/alarms/{id}/ack", post(ack_alarm))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    address: String,
    #[serde(default)]
    label: String,
    /// Approve in the same call.
    #[serde(default)]
    approve: bool,
}

/// A device as the operator sees it.
#[derive(Debug, Serialize)]
pub(crate) struct DeviceView {
    address: String,
    status: String,
    label: String,
    last_seq: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const DEVICE_COLS: &str = "address, status, label, tip_seq, created_at, updated_at";

fn device_row(r: &sqlx::any::AnyRow) -> Result<DeviceView, sqlx::Error> {
    Ok(DeviceView {
        address: r.try_get(0)?,
        status: r.try_get(1)?,
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

async fn register(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    require_admin(&st, &headers)?;
    let addr = addr_key(&parse_address(&body.address, "address")?);
    if body.label.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_label",
            "label must be at most 200 bytes",
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDevicesQuery {
    status: Option<String>,
}

async fn list_devices(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListDevicesQuery>,
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

async fn approve(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<DeviceView>, ApiError> {
    set_status(&st, &headers, &address, "approved").await
}

async fn revoke(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<DeviceView>, ApiError> {
    set_status(&st, &headers, &address, "revoked").await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmQuery {
    device: Option<String>,
    kind: Option<String>,
    /// Only alarms with an id greater than this (pagination).
    after: Option<i64>,
    limit: Option<i64>,
    /// Include acknowledged alarms (default false).
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Serialize)]
struct AlarmView {
    id: i64,
    device: String,
    kind: String,
    seq: i64,
    detail: String,
    created_at: i64,
    acknowledged_at: Option<i64>,
}

async fn list_alarms(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AlarmQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
            Ok(AlarmView {
                id: r.try_get(0)?,
                device: r.try_get(1)?,
                kind: r.try_get(2)?,
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
    Ok(Json(
        serde_json::json!({ "alarms": alarms, "next_after": next }),
    ))
}

async fn ack_alarm(
    State(st): State<Shared>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    Ok(Json(serde_json::json!({ "id": id, "acknowledged": true })))
}
