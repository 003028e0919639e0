//! # dashledger-api
//!
//! The request and response bodies of the dashledger cloud's HTTP API, defined once: the cloud
//! (`dashledger-cloud`) serves them, the dashcam agent and the requester CLI call them, and the
//! OpenAPI document (`docs/api/openapi.json`, served at `/openapi.json`) is generated from these
//! types and the cloud's handlers (feature `openapi`, utoipa), so a field renamed here changes
//! all three parts and the document at once — a mismatch no longer compiles and breaks at run
//! time.
//!
//! Wire conventions: JSON field names are `snake_case` except the relayed `Evidence` (its field
//! names are the contract's); addresses are `0x` + 40 hex digits (the cloud answers lowercase),
//! hashes `0x` + 64; times are unix seconds; states are the enums of this crate, written as the
//! strings the API has always used. Errors are [`ErrorBody`].
//!
//! The crate has no server dependencies: with the `openapi` feature off (the agent's and the
//! requester's build) it is serde types over `dashledger-protocol`.
//!
//! ```
//! use dashledger_api::uploads::{Upload, UploadState};
//! let answer = r#"{"upload_id": "0123456789abcdef0123456789abcdef", "ec_address": "0x00000000000000000000000000000000000000ec",
//!     "size": 1000, "received": 0, "state": "open", "max_chunk_bytes": 16777216,
//!     "thumbnails": {"first": false, "last": false}}"#;
//! let up: Upload = serde_json::from_str(answer)?;
//! assert_eq!(up.state, UploadState::Open);
//! assert_eq!(serde_json::to_value(&up)?["state"], "open");
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod admin;
pub mod clips;
pub mod evidence;
pub mod relay;
pub mod requests;
pub mod service;
pub mod uploads;

use serde::{Deserialize, Serialize};

/// Every error answer: a stable machine code and a message saying what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine code, e.g. `offset_mismatch`, `not_evidence_device`.
    pub error: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// Raw bytes of a request or response body (a sealed clip, a chunk, a thumbnail, a batch of
/// records): a documentation type for the OpenAPI document (`type: string, format: binary`).
#[cfg(feature = "openapi")]
#[derive(Debug)]
pub struct Binary;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Binary {}

/// Regular expression of an address as the API accepts it (the cloud answers lowercase).
pub const ADDRESS_PATTERN: &str = "^0[xX][0-9a-fA-F]{40}$";
/// Regular expression of a 32-byte hash.
pub const HASH_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";
/// Regular expression of an upload id (a capability).
pub const UPLOAD_ID_PATTERN: &str = "^[0-9a-f]{32}$";

/// The wire names of a string enum declared with serde: `as_str`, `ALL`, `Display`, `FromStr`
/// and `TryFrom<String>` (used for database columns too). The enum itself is written out with
/// its serde attributes (derive macros cannot see through a `macro_rules!` literal); a unit
/// test checks that serde's names and these agree.
macro_rules! wire_enum {
    ($name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and database) name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::UnknownValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::UnknownValue {
                        what: stringify!($name),
                        got: s.to_owned(),
                        expected: &[$($wire),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use wire_enum;

/// A string that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// The enum.
    pub what: &'static str,
    /// The string given.
    pub got: String,
    /// The names it accepts.
    pub expected: &'static [&'static str],
}

impl std::fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' is not a {} (expected one of {})",
            self.got,
            self.what,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

#[cfg(test)]
mod tests {
    use super::admin::{AlarmKind, DeviceStatus};
    use super::requests::RequestState;
    use super::uploads::{ClipStatus, UploadState};

    fn agree<T>(all: &[T])
    where
        T: serde::Serialize
            + serde::de::DeserializeOwned
            + std::str::FromStr
            + std::fmt::Display
            + PartialEq
            + std::fmt::Debug
            + Copy,
        T::Err: std::fmt::Debug,
    {
        for v in all {
            let wire = v.to_string();
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                serde_json::Value::from(wire.clone())
            );
            assert_eq!(
                serde_json::from_value::<T>(wire.clone().into()).unwrap(),
                *v
            );
            assert_eq!(wire.parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn wire_enums_round_trip_and_name_what_is_wrong() {
        agree(DeviceStatus::ALL);
        agree(AlarmKind::ALL);
        agree(UploadState::ALL);
        agree(ClipStatus::ALL);
        agree(RequestState::ALL);
        assert_eq!(AlarmKind::ForeignUpload.as_str(), "foreign_upload");
        let e = "pendng".parse::<DeviceStatus>().unwrap_err().to_string();
        assert!(
            e.contains("pendng") && e.contains("pending, approved, revoked"),
            "{e}"
        );
    }
}
