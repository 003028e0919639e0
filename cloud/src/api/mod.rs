//! The HTTP API: router, shared state, JSON extractors with JSON error bodies, metrics
//! middleware, health, readiness, metrics and the OpenAPI document.
//!
//! Every route is registered through utoipa-axum's [`OpenApiRouter`] from a handler carrying
//! `#[utoipa::path]`, with request and response bodies from `dashledger-api`: the document
//! served at `/openapi.json` (and written to `docs/api/openapi.json` by
//! `dashledger-cloud openapi`) is generated from the same code that serves, so the two cannot
//! drift.

mod admin;
mod auth;
mod disputes;
mod downloads;
pub(crate) mod evidence;
mod onchain;
mod owner;
mod provenance;
mod records;
mod relay;
mod search;
mod uploads;
pub mod web;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use dashledger_api::service::{Health, NotReady};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::error::ApiError;
pub use crate::state::{AppState, Shared};

/// Every route, with its OpenAPI operation. Body limits come from `config`.
fn routes(config: &Config) -> OpenApiRouter<Shared> {
    let ingest_limit = config.ingest.max_batch_records * 161 * 2 + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(web::config_json))
        .routes(routes!(web::index))
        .merge(admin::routes())
        .merge(evidence::routes(ingest_limit))
        .merge(uploads::routes())
        .merge(search::routes())
        .merge(owner::routes())
        .merge(downloads::routes())
        .merge(records::routes())
        .merge(provenance::routes())
        .merge(relay::routes())
        .merge(disputes::routes())
}

/// The OpenAPI 3.1 document of this server (what `/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = routes(&Config::default()).split_for_parts();
    doc.info.title = "dashledger cloud".into();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.info.description = Some(
        "Device registry, evidence ingest, resumable uploads, verification, search and gated downloads. \
         Every error is a JSON body {error, message} with a stable code; client mistakes are 4xx. \
         Generated from the server's handlers (dashledger-cloud openapi); see docs/cloud.md."
            .into(),
    );
    doc.info.license = Some(
        utoipa::openapi::LicenseBuilder::new()
            .name("GPL-3.0-only")
            .identifier(Some("GPL-3.0-only"))
            .build(),
    );
    doc.info.contact = None;
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "admin",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("the operator's admin token"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "signedRequest",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-dashledger-signature",
            "protocol signed request (docs/formats.md): headers x-dashledger-address, -nonce, -expires and \
             -signature, EIP-191 over the canonical text binding chain id, method, path and query, \
             keccak256(body), nonce and expiry. Nonces are single-use; the expiry may lie at most \
             auth.max_validity_secs ahead.",
        ))),
    );
    doc
}

/// `openapi()` as pretty JSON, computed once.
pub fn openapi_text() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut t = openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        t.push('\n');
        t
    })
}

/// Builds the router.
pub fn router(state: Shared) -> Router {
    let (router, _) = routes(&state.config).split_for_parts();
    router
        .fallback(web::fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(close_unread))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// A 413 or 408 answers a request whose body was not (fully) read: the connection cannot carry
/// another request, so say so (`Connection: close`) instead of letting the client reuse it and
/// meet a broken pipe.
async fn close_unread(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if matches!(
        resp.status(),
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
    ) {
        resp.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

async fn observe(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    st.metrics.observe_request(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "alive", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the database answers with the current schema and the blob store is writable.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "not ready; `problems` says why", body = NotReady),
    ))]
async fn ready(State(st): State<Shared>) -> Response {
    let mut problems = Vec::new();
    if let Err(e) = st.store.ready().await {
        problems.push(e);
    }
    if let Err(e) = st.blobs.ready().await {
        problems.push(format!("blob storage: {e}"));
    }
    if problems.is_empty() {
        Json(Health {
            status: "ready".into(),
        })
        .into_response()
    } else {
        tracing::warn!(?problems, "not ready");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(NotReady {
                status: "not ready".into(),
                problems,
            }),
        )
            .into_response()
    }
}

/// Prometheus metrics (OpenMetrics 1.0 text).
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "metrics", body = String, content_type = "application/openmetrics-text")))]
async fn metrics(State(st): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        st.metrics.render(),
    )
        .into_response()
}

/// This document (OpenAPI 3.1), generated from the server's handlers.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "the OpenAPI document", body = Object, content_type = "application/json")))]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_text()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_route", "no such route; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// `Json<T>` whose rejections are JSON error bodies.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    if crate::server::is_body_timeout(&rej) {
        return ApiError::body_timeout();
    }
    let status = rej.status();
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        _ => "malformed_body",
    };
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code, rej.body_text())
}

/// The raw body (`Bytes`) whose rejections (over the route's body limit, unreadable body) are
/// JSON error bodies.
#[derive(Debug)]
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Self(b)),
            Err(rej) => {
                let status = rej.status();
                if crate::server::is_body_timeout(&rej) {
                    Err(ApiError::body_timeout())
                } else if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Err(ApiError::too_large(
                        "body_too_large",
                        "request body exceeds this route's size limit",
                    ))
                } else if status.is_client_error() {
                    Err(ApiError::new(status, "malformed_body", rej.body_text()))
                } else {
                    Err(ApiError::bad_request("malformed_body", rej.body_text()))
                }
            }
        }
    }
}

/// `Query<T>` whose rejections are JSON error bodies.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(q) => Ok(Self(q.0)),
            Err(rej) => Err(query_rejection(rej)),
        }
    }
}

fn query_rejection(rej: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", rej.body_text())
}

/// `Path<T>` whose rejections are JSON error bodies.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => Ok(Self(p.0)),
            Err(rej) => Err(path_rejection(rej)),
        }
    }
}

fn path_rejection(rej: PathRejection) -> ApiError {
    ApiError::bad_request("invalid_path", rej.body_text())
}

/// Checks the operator's bearer token (constant-time compare).
pub(crate) fn require_admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &st.admin_token else {
        return Err(ApiError::forbidden(
            "admin_disabled",
            "operator API disabled: no admin token configured (admin_token_file or DASHLEDGER_CLOUD_ADMIN_TOKEN)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "Authorization: Bearer <admin token> required",
            )
        })?;
    // Constant-time compare (subtle): the time taken says nothing about how much matched.
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        given.trim().as_bytes(),
        token.expose().as_bytes(),
    )) {
        return Err(ApiError::unauthorized(
            "bad_token",
            "admin token does not match",
        ));
    }
    Ok(())
}

/// Parses a 0x-prefixed 20-byte address, naming `what` in the error.
pub(crate) fn parse_address(s: &str, what: &str) -> Result<alloy::primitives::Address, ApiError> {
    let t = s.trim();
    let hex_part = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if hex_part.len() != 40 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "invalid_address",
            format!("{what} must be a 0x-prefixed 20-byte hex address, got '{s}'"),
        ));
    }
    hex_part.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_address",
            format!("{what} is not a valid address: '{s}'"),
        )
    })
}

/// Canonical text form of an address for storage: 0x + lowercase hex (the store's).
pub(crate) use crate::store::addr_key;

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/api/openapi.json is the generated document, so readers of the repository see what
    /// the server serves.
    #[test]
    fn checked_in_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api/openapi.json");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == openapi_text(),
            "docs/api/openapi.json is stale: run `cargo run -p dashledger-cloud -- openapi > docs/api/openapi.json`"
        );
    }

    #[test]
    fn address_parsing() {
        let a = parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "x").unwrap();
        assert_eq!(addr_key(&a), "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
        assert!(
            parse_address("0x123", "device")
                .unwrap_err()
                .to_string()
                .contains("device")
        );
    }
}
