//! Operator API (`/v1/admin/...`, bearer admin token): the device registry and chain alarms.

use serde::{Deserialize, Serialize};

use crate::wire_enum;

/// Where a device key stands with the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Registered, awaiting approval: its records are refused.
    Pending,
    /// Approved: its records and uploads are accepted.
    Approved,
    /// Revoked: refused from now on.
    Revoked,
}

wire_enum! {
    DeviceStatus {
        Pending = "pending",
        Approved = "approved",
        Revoked = "revoked",
    }
}

/// What an alarm is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    /// Sequence numbers missing from a device's chain.
    Gap,
    /// Two different records for one sequence number.
    Fork,
    /// A record whose `prev_hash` is not its predecessor's segment hash.
    Break,
    /// A record that arrived after a later one.
    Reordered,
    /// A device tried to upload (or uploaded) the clip of an EC bound to another device.
    ForeignUpload,
}

wire_enum! {
    AlarmKind {
        Gap = "gap",
        Fork = "fork",
        Break = "break",
        Reordered = "reordered",
        ForeignUpload = "foreign_upload",
    }
}

/// `POST /v1/admin/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// The device key's address.
    #[cfg_attr(feature = "openapi", schema(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub address: String,
    /// A label for the operator (at most 200 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub label: String,
    /// Approve in the same call.
    #[serde(default)]
    pub approve: bool,
}

/// A device as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    /// Address (lowercase).
    pub address: String,
    /// Status.
    pub status: DeviceStatus,
    /// Operator's label.
    pub label: String,
    /// Highest sequence number received (null: none yet).
    pub last_seq: Option<i64>,
    /// Registered at (unix s).
    pub created_at: i64,
    /// Last change (unix s).
    pub updated_at: i64,
}

/// `GET /v1/admin/devices?status=`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListDevices {
    /// Only devices with this status.
    #[cfg_attr(feature = "openapi", param(value_type = Option<DeviceStatus>, inline))]
    pub status: Option<String>,
}

/// `GET /v1/admin/alarms` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AlarmQuery {
    /// Only this device's alarms.
    #[cfg_attr(feature = "openapi", param(pattern = "^0[xX][0-9a-fA-F]{40}$"))]
    pub device: Option<String>,
    /// Only alarms of this kind.
    #[cfg_attr(feature = "openapi", param(value_type = Option<AlarmKind>, inline))]
    pub kind: Option<String>,
    /// Only alarms with an id greater than this (pagination: the previous page's `next_after`).
    pub after: Option<i64>,
    /// Page size, 1..=1000 (default 100).
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000))]
    pub limit: Option<i64>,
    /// Include acknowledged alarms (default false).
    #[serde(default)]
    pub all: bool,
}

/// A chain alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alarm {
    /// Id (for `ack` and pagination).
    pub id: i64,
    /// The device concerned.
    pub device: String,
    /// Kind.
    pub kind: AlarmKind,
    /// Sequence number concerned (0 for `foreign_upload`).
    pub seq: i64,
    /// What happened, for a person.
    pub detail: String,
    /// Raised at (unix s).
    pub created_at: i64,
    /// Acknowledged at (null: open).
    pub acknowledged_at: Option<i64>,
}

/// A page of alarms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlarmPage {
    /// Oldest first.
    pub alarms: Vec<Alarm>,
    /// `after` for the next page (null: this was the last one).
    pub next_after: Option<i64>,
}

/// `POST /v1/admin/alarms/{id}/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Acknowledged {
    /// The alarm.
    pub id: i64,
    /// Always true.
    pub acknowledged: bool,
}
