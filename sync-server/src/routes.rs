//! The router and the cross-cutting layers: protocol version check,
//! per-address rate limit, request logging (method, route, status, latency —
//! never bodies, tokens or query strings), JSON error bodies for unknown
//! routes and methods.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use productivitypro_sync_protocol::api::{Info, PROTOCOL_HEADER, PROTOCOL_VERSION};
use productivitypro_sync_protocol::batch::SUPPORTED_FORMATS;
use serde::de::DeserializeOwned;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::error::{ApiResult, Error};
use crate::server::AppState;
use crate::{accounts, batches, ws};

pub type St = State<Arc<AppState>>;

pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every route, as `openapi.json` must describe it (checked by a test).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/info"),
    ("post", "/v1/accounts/params"),
    ("post", "/v1/accounts"),
    ("post", "/v1/sessions"),
    ("post", "/v1/sessions/recover"),
    ("get", "/v1/account"),
    ("delete", "/v1/account"),
    ("put", "/v1/account/passphrase"),
    ("put", "/v1/account/recovery"),
    ("get", "/v1/devices"),
    ("put", "/v1/devices/current/name"),
    ("delete", "/v1/devices/{device_id}"),
    ("post", "/v1/devices/sign-out-all"),
    ("post", "/v1/batches"),
    ("get", "/v1/batches"),
    ("put", "/v1/snapshot"),
    ("get", "/v1/snapshot"),
    ("get", "/v1/notifications"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/info", get(info))
        .route("/v1/accounts/params", post(accounts::params))
        .route("/v1/accounts", post(accounts::signup))
        .route("/v1/sessions", post(accounts::login))
        .route("/v1/sessions/recover", post(accounts::recover))
        .route("/v1/account", get(accounts::info).delete(accounts::delete))
        .route("/v1/account/passphrase", put(accounts::change_passphrase))
        .route("/v1/account/recovery", put(accounts::change_recovery))
        .route("/v1/devices", get(accounts::devices))
        .route("/v1/devices/current/name", put(accounts::rename_device))
        .route("/v1/devices/{device_id}", delete(accounts::sign_out_device))
        .route("/v1/devices/sign-out-all", post(accounts::sign_out_all))
        .route("/v1/batches", post(batches::push).get(batches::pull))
        .route(
            "/v1/snapshot",
            put(batches::put_snapshot).get(batches::get_snapshot),
        )
        .route("/v1/notifications", get(ws::notifications))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async { Error::of("not_found", "no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            Error::of(
                "method_not_allowed",
                "this endpoint does not take that method; see /openapi.json",
            )
        })
        // Bodies are read with per-route limits (`read_json`).
        .layer(DefaultBodyLimit::disable())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", |m| m.as_str());
                    tracing::info_span!("request", method = %req.method(), route)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .with_state(state)
}

/// The client's address: the socket peer, or the last entry of the
/// configured forwarding header (the one our balancer appended).
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    state
        .config
        .rate
        .client_ip_header
        .as_deref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(peer.ip())
}

/// Protocol version and per-address rate limit, before any handler.
async fn guard(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let result = (|| -> ApiResult<()> {
        if let Some(v) = req.headers().get(PROTOCOL_HEADER) {
            let ok = v.to_str().ok().and_then(|v| v.trim().parse::<u32>().ok())
                == Some(PROTOCOL_VERSION);
            if !ok {
                return Err(Error::of(
                    "unsupported_protocol",
                    format!("this server speaks sync protocol {PROTOCOL_VERSION}; update the app"),
                ));
            }
        }
        state.limits.ip(client_ip(&state, req.headers(), peer))
    })();
    match result {
        Ok(()) => {
            let r = next.run(req).await;
            if r.status().is_client_error() || r.status().is_server_error() {
                if let Some(code) = r.extensions().get::<crate::error::ErrorCode>() {
                    state.metrics.refused(code.0);
                }
            }
            r
        }
        Err(e) => {
            state.metrics.refused(e.code);
            e.into_response()
        }
    }
}

/// Reads a JSON body of at most `limit` bytes into `T`. Syntax errors are
/// `invalid_json`; well-formed JSON of the wrong shape is `invalid_request`.
pub async fn read_json<T: DeserializeOwned>(body: Body, limit: u64) -> ApiResult<T> {
    let bytes = axum::body::to_bytes(body, limit as usize)
        .await
        .map_err(|_| {
            Error::of(
                "payload_too_large",
                format!("request bodies here are at most {limit} bytes"),
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let code = match e.classify() {
            serde_json::error::Category::Data => "invalid_request",
            _ => "invalid_json",
        };
        Error::of(code, format!("request body: {e}"))
    })
}

async fn info(State(state): St) -> Json<Info> {
    Json(Info {
        protocol: PROTOCOL_VERSION,
        formats: SUPPORTED_FORMATS.to_vec(),
        limits: state.config.public_limits(),
    })
}

async fn readyz(State(state): St) -> Response {
    let db = state.db.ping().await.is_ok();
    let listening = state
        .hub
        .listening
        .load(std::sync::atomic::Ordering::SeqCst);
    match (db, listening) {
        (true, true) => (StatusCode::OK, "ready").into_response(),
        (false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable",
        )
            .into_response(),
        (true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: not listening for other replicas' notifications",
        )
            .into_response(),
    }
}

async fn metrics(State(state): St) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let g = &state.db.groups;
    state
        .metrics
        .group_commits
        .set(g.commits.load(Relaxed) as i64);
    state
        .metrics
        .group_pushes
        .set(g.pushes.load(Relaxed) as i64);
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
