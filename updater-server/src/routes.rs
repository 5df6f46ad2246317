//! HTTP handlers, kept thin: parse and check input, call into `releases`,
//! `snapshot` or `publish`, shape the answer.

mod publish;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use productivitypro_protocol::api::{
    AuditResponse, ReasonRequest, RolloutRequest, Scope, StatusResponse,
};
use productivitypro_protocol::manifest::parse_version;
use productivitypro_protocol::policy::Policy;
use productivitypro_protocol::telemetry::{
    EventKind, TelemetryReport, TokenRequest, TokenResponse, MAX_BODY_BYTES,
};
use productivitypro_protocol::{
    parse_install_id, Arch, BundleType, Channel, Os, Platform, MAX_VERSION_LEN,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::authorize;
use crate::client_ip::client_ip;
use crate::clock::rfc3339;
use crate::error::{ApiResult, Error};
use crate::health;
use crate::ingest::Refusal;
use crate::metrics::CheckResult;
use crate::releases::{self, Transition};
use crate::snapshot::Decision;
use crate::snapshot::{bucket, FULL};
use crate::state::AppState;

type St = State<Arc<AppState>>;

pub const OPENAPI: &str = include_str!("../openapi.json");

const MAX_REASON: usize = 1000;
const MAX_AUDIT: i64 = 10_000;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/update/{target}/{arch}/{current_version}", get(check))
        .route("/v1/channels/{channel}/latest.json", get(latest_json))
        .route(
            "/v1/artifacts/{version}/{file_name}",
            get(artifact).head(artifact),
        )
        .route(
            "/v1/deltas/{version}/{platform}/{from_version}",
            get(delta).head(delta),
        )
        .route(
            "/v1/telemetry",
            post(telemetry).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/telemetry/token",
            post(telemetry_token).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(
            "/v1/releases",
            post(publish::publish).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/releases/{version}/rollout", post(rollout))
        .route("/v1/releases/{version}/promote", post(promote))
        .route(
            "/v1/releases/{version}/halt",
            transition_route(Transition::Halt),
        )
        .route(
            "/v1/releases/{version}/resume",
            transition_route(Transition::Resume),
        )
        .route(
            "/v1/releases/{version}/rollback",
            transition_route(Transition::Rollback),
        )
        .route("/v1/rollouts/advance", post(advance))
        .route("/v1/gates/evaluate", post(evaluate))
        .route("/v1/status", get(status))
        .route("/v1/audit", get(audit))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .fallback(|| async { Error::not_found("not_found", "no such endpoint; see /openapi.json") })
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// Errors from the framework itself (a path or query that does not parse, a
/// body over its limit, a request that is not multipart) come as text; every
/// 4xx of this API is `ApiError` JSON, so they are rewritten here.
async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let is_text = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !is_text {
        return resp;
    }
    let message = match axum::body::to_bytes(resp.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        _ => "invalid_request",
    };
    Error::new(status, code, message).into_response()
}

#[derive(Deserialize)]
struct CheckQuery {
    channel: Option<String>,
    bundle_type: Option<String>,
}

async fn check(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((target, arch, current)): Path<(String, String, String)>,
    Query(q): Query<CheckQuery>,
    headers: HeaderMap,
) -> Response {
    let channel = q.channel.as_deref().map(str::parse::<Channel>);
    let result = (|| -> ApiResult<Response> {
        let channel = match channel.clone() {
            None => Channel::Stable,
            Some(c) => c.map_err(|e| Error::bad_request("invalid_channel", e.to_string()))?,
        };
        let os: Os = target
            .parse()
            .map_err(|e: productivitypro_protocol::PlatformError| {
                Error::bad_request("invalid_target", e.to_string())
            })?;
        let arch: Arch = arch
            .parse()
            .map_err(|e: productivitypro_protocol::PlatformError| {
                Error::bad_request("invalid_arch", e.to_string())
            })?;
        let bundle = match q.bundle_type.as_deref() {
            // Binaries the bundler did not stamp say `unknown`.
            None | Some("unknown") | Some("") => os.default_bundle(),
            Some(b) => b
                .parse::<BundleType>()
                .map_err(|e| Error::bad_request("invalid_bundle_type", e.to_string()))?,
        };
        // Each value is valid on its own; the pair is not (linux with msi).
        let platform = Platform::new(os, arch, bundle)
            .map_err(|e| Error::unprocessable("invalid_bundle_type", e.to_string()))?;
        if current.len() > MAX_VERSION_LEN + 1 {
            return Err(Error::bad_request(
                "invalid_version",
                format!("versions are at most {MAX_VERSION_LEN} characters"),
            ));
        }
        let current = parse_version(&current)
            .map_err(|e| Error::bad_request("invalid_version", e.to_string()))?;
        let install = install_id(&headers)?;
        let snap = state.snapshot.load();
        let decision = snap.decide(platform, channel, &current, install.as_ref());
        match snap.offer_body(&decision, platform, &current) {
            None => {
                state.metrics.check(Some(channel), CheckResult::NoUpdate);
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            Some(mut offer) => {
                let result = match decision {
                    Decision::Offer { rollback: true, .. } => CheckResult::Rollback,
                    _ => CheckResult::Offered,
                };
                state.metrics.check(Some(channel), result);
                if let Some(id) = install {
                    // Tokens for the version it runs and the one it is offered.
                    let running = snap.releases.iter().find(|r| r.version == current);
                    let versions = running
                        .map(|r| r.version_text.as_str())
                        .into_iter()
                        .chain([offer.version.as_str()]);
                    let ip = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
                    offer.telemetry_tokens = tokens(&state, ip, &id, channel, versions);
                }
                Ok(Json(offer).into_response())
            }
        }
    })();
    result.unwrap_or_else(|e| {
        state
            .metrics
            .check(channel.and_then(Result::ok), CheckResult::BadRequest);
        e.into_response()
    })
}

fn install_id(headers: &HeaderMap) -> ApiResult<Option<Uuid>> {
    match headers.get("x-install-id") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| parse_install_id(s.trim()))
            .map(Some)
            .ok_or_else(|| {
                Error::bad_request(
                    "invalid_install_id",
                    "X-Install-Id must be a hyphenated UUID",
                )
            }),
    }
}

/// JSON bodies must say so: `Content-Type: application/json` (parameters allowed).
fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ))
    }
}

/// Telemetry tokens for `install` and each of `versions`, when its network
/// may have them (see `Ingest::may_issue`); none otherwise.
fn tokens<'a>(
    state: &AppState,
    ip: IpAddr,
    install: &Uuid,
    channel: Channel,
    versions: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, String> {
    let now = state.clock.now();
    if !state.ingest.may_issue(ip, install, now) {
        state
            .metrics
            .tokens
            .get_or_create(&vec![("result".into(), "refused".into())])
            .inc();
        return BTreeMap::new();
    }
    state
        .metrics
        .tokens
        .get_or_create(&vec![("result".into(), "issued".into())])
        .inc();
    versions
        .map(|v| {
            let t = state.token_key.issue(install, v, channel, now.timestamp());
            (v.to_string(), t)
        })
        .collect()
}

async fn latest_json(State(state): St, Path(channel): Path<String>) -> ApiResult<Response> {
    let channel: Channel =
        channel
            .parse()
            .map_err(|e: productivitypro_protocol::channel::UnknownChannel| {
                Error::not_found("invalid_channel", e.to_string())
            })?;
    let snap = state.snapshot.load();
    let body = snap.static_manifests[channel.index()]
        .clone()
        .ok_or_else(|| {
            Error::not_found(
                "no_release",
                format!("no release is fully rolled out to {channel} yet"),
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// Parses a single `bytes=` range against `size`. Ok(None): serve everything
/// (no header, or a form we do not honour such as several ranges); Err: 416.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = spec.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Ok(start), Err(_)) if b.is_empty() => start..size,
        (Err(_), Ok(suffix)) if a.is_empty() && suffix > 0 => size.saturating_sub(suffix)..size,
        _ => return Ok(None),
    };
    if range.start >= size || range.is_empty() {
        return Err(());
    }
    Ok(Some(range))
}

async fn artifact(
    State(state): St,
    method: Method,
    Path((version, file_name)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Only names recorded at publish resolve; request text never becomes a path.
    let snap = state.snapshot.load_full();
    let a = snap
        .release(&version)
        .and_then(|r| r.artifacts.values().find(|a| a.file_name == file_name))
        .filter(|a| a.object_key.is_some())
        .ok_or_else(|| {
            Error::not_found(
                "unknown_artifact",
                format!("no artifact {version}/{file_name}"),
            )
        })?;
    let key = a.object_key.clone().unwrap_or_default();
    serve_object(&state, method, &headers, &key, a.size, &a.sha256).await
}

/// A delta patch into `version`'s artifact on `platform` from `from`'s,
/// served like an artifact (ranges, HEAD, ETag = its SHA-256).
async fn delta(
    State(state): St,
    method: Method,
    Path((version, platform, from)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let snap = state.snapshot.load_full();
    let d = platform
        .parse::<Platform>()
        .ok()
        .and_then(|p| snap.release(&version)?.deltas.get(&p))
        .and_then(|ds| ds.iter().find(|d| d.from_text == from))
        .ok_or_else(|| {
            Error::not_found(
                "unknown_delta",
                format!("no delta patch into {version} on {platform} from {from}"),
            )
        })?;
    let key = d.object_key.clone();
    serve_object(&state, method, &headers, &key, d.size, &d.sha256).await
}

/// Streams a stored object (all of it or one byte range) whose size and
/// SHA-256 the snapshot recorded.
async fn serve_object(
    state: &AppState,
    method: Method,
    headers: &HeaderMap,
    key: &str,
    size: u64,
    sha256: &str,
) -> ApiResult<Response> {
    let range = byte_range(headers, size).map_err(|_| {
        Error::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("the file has {size} bytes"),
        )
    })?;
    let etag = format!("\"{sha256}\"");
    let mut builder = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ETAG, etag);
    let (status, len) = match &range {
        Some(r) => {
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, size),
            );
            (StatusCode::PARTIAL_CONTENT, r.end - r.start)
        }
        None => (StatusCode::OK, size),
    };
    builder = builder.status(status).header(header::CONTENT_LENGTH, len);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from_stream(state.artifacts.get(key, range).await?.body)
    };
    builder
        .body(body)
        .map_err(|e| Error::bad_request("invalid_request", e.to_string()))
}

async fn telemetry(State(state): St, headers: HeaderMap, body: Body) -> ApiResult<StatusCode> {
    let reject = |e: Error| {
        state
            .metrics
            .telemetry_rejected
            .get_or_create(&vec![("code".into(), e.code.into())])
            .inc();
        e
    };
    require_json(&headers).map_err(reject)?;
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            reject(Error::too_large(format!(
                "telemetry reports are at most {MAX_BODY_BYTES} bytes"
            )))
        })?;
    let now = state.clock.now();
    let report = TelemetryReport::parse(&bytes, now).map_err(|e| {
        let status = if e.code() == "payload_too_large" {
            StatusCode::PAYLOAD_TOO_LARGE
        } else if e.is_semantic() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        reject(Error::new(status, e.code(), e.to_string()))
    })?;
    let snap = state.snapshot.load();
    let Some(release) = snap.release(&report.version) else {
        // Bounds what can be stored to versions that exist.
        return Err(reject(Error::unprocessable(
            "unknown_version",
            format!("no release {}", report.version),
        )));
    };
    state
        .token_key
        .verify(
            &report.token,
            &report.install_id,
            &report.version,
            report.channel,
            now.timestamp(),
            state.config.telemetry.token_ttl.as_secs() as i64,
        )
        .map_err(|e| {
            reject(Error::new(
                StatusCode::UNAUTHORIZED,
                e.code(),
                e.to_string(),
            ))
        })?;
    // A failed update of a release counts only from installs it was offered
    // to: those its rollout reaches.
    if report
        .events
        .iter()
        .any(|e| e.kind == EventKind::UpdateFailed)
    {
        let reached = release.reach(report.channel).is_some_and(|(_, bps)| {
            bps >= FULL || bucket(&report.install_id, &release.version_text) < bps
        });
        if !reached {
            return Err(reject(Error::unprocessable(
                "not_in_rollout",
                format!(
                    "{} is not rolled out to this install on {}; only installs it reaches report failing to update to it",
                    report.version, report.channel
                ),
            )));
        }
    }
    let platform = report
        .platform()
        .map_err(|e| reject(Error::unprocessable("invalid_platform", e.to_string())))?;
    let counted = match state.ingest.admit(&report, now) {
        Ok(c) => c,
        Err(Refusal::RateLimited { retry_after_secs }) => {
            return Err(reject(Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many events from this install; retry in {retry_after_secs} s"),
            )))
        }
        Err(Refusal::Busy) => {
            return Err(reject(Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "telemetry_busy",
                "the service tracks as many installs as it may right now; retry in an hour",
            )))
        }
    };
    state.ingest.record(&report, platform, &counted);
    for ev in &report.events {
        state
            .metrics
            .telemetry_events
            .get_or_create(&vec![("kind".into(), ev.kind.as_str().into())])
            .inc();
    }
    Ok(StatusCode::ACCEPTED)
}

async fn telemetry_token(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<TokenResponse>> {
    require_json(&headers)?;
    let req: TokenRequest = json_body(&body, &[""])?;
    parse_version(&req.version)
        .ok()
        .filter(|_| !req.version.starts_with('v') && req.version.len() <= MAX_VERSION_LEN)
        .ok_or_else(|| {
            Error::bad_request(
                "invalid_version",
                format!("{:?} is not semver", req.version),
            )
        })?;
    let snap = state.snapshot.load();
    let release = snap.release(&req.version).ok_or_else(|| {
        Error::unprocessable("unknown_version", format!("no release {}", req.version))
    })?;
    let ip = client_ip(peer.ip(), &headers, &state.config.trusted_proxies);
    let issued = tokens(
        &state,
        ip,
        &req.install_id,
        req.channel,
        [release.version_text.as_str()].into_iter(),
    );
    let token = issued.into_values().next().ok_or_else(|| {
        Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "token_rate_limited",
            "this network has had tokens for many new installs this hour; retry in an hour",
        )
    })?;
    let expires = state.now() + state.config.telemetry.token_ttl.as_secs() as i64;
    Ok(Json(TokenResponse {
        token,
        expires_at: rfc3339(expires),
    }))
}

/// A JSON body; `objects` as `from_json_objects` takes them.
fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8], objects: &[&str]) -> ApiResult<T> {
    productivitypro_protocol::from_json_objects(bytes, objects)
        .map_err(|e| Error::bad_request("invalid_request", format!("request body: {e}")))
}

async fn rollout(
    State(state): St,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let actor = authorize(&state.db, &headers, Some(Scope::Rollout), state.now()).await?;
    require_json(&headers)?;
    let req: RolloutRequest = json_body(&body, &[""])?;
    releases::set_rollout(&state, &actor, &version, req.channel, req.percent).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn promote(
    State(state): St,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let actor = authorize(&state.db, &headers, Some(Scope::Rollout), state.now()).await?;
    require_json(&headers)?;
    let req: RolloutRequest = json_body(&body, &[""])?;
    releases::promote(&state, &actor, &version, req.channel, req.percent).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn act(
    state: &AppState,
    version: &str,
    headers: &HeaderMap,
    body: &[u8],
    t: Transition,
) -> ApiResult<StatusCode> {
    let actor = authorize(&state.db, headers, Some(Scope::Rollout), state.now()).await?;
    let req: ReasonRequest = if body.is_empty() {
        ReasonRequest::default()
    } else {
        require_json(headers)?;
        json_body(body, &[""])?
    };
    if req.reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
        return Err(Error::bad_request(
            "invalid_request",
            format!("a reason is at most {MAX_REASON} bytes"),
        ));
    }
    releases::transition(
        state,
        &actor.name,
        version,
        t,
        req.reason.as_deref(),
        req.platform,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The handler for one state transition (halt, resume, rollback).
fn transition_route(t: Transition) -> axum::routing::MethodRouter<Arc<AppState>> {
    post(
        move |State(s): St, Path(v): Path<String>, h: HeaderMap, b: Bytes| async move {
            act(&s, &v, &h, &b, t).await
        },
    )
}

async fn advance(State(state): St, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let actor = authorize(&state.db, &headers, Some(Scope::Rollout), state.now()).await?;
    require_json(&headers)?;
    let policy: Policy = json_body(&body, &["", "rollout", "gates"])?;
    Ok(Json(health::advance(&state, &actor, &policy).await?).into_response())
}

async fn evaluate(State(state): St, headers: HeaderMap) -> ApiResult<Response> {
    authorize(&state.db, &headers, Some(Scope::Rollout), state.now()).await?;
    let stopped = health::evaluate_gates(&state).await?;
    Ok(Json(serde_json::json!({ "stopped": stopped })).into_response())
}

async fn status(State(state): St, headers: HeaderMap) -> ApiResult<Json<StatusResponse>> {
    authorize(&state.db, &headers, None, state.now()).await?;
    Ok(Json(health::status(&state).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<i64>,
}

async fn audit(
    State(state): St,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditResponse>> {
    authorize(&state.db, &headers, None, state.now()).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT).contains(&limit) {
        return Err(Error::bad_request(
            "invalid_limit",
            format!("limit is 1 to {MAX_AUDIT}"),
        ));
    }
    Ok(Json(AuditResponse {
        entries: state.db.audit(limit).await?,
    }))
}

async fn readyz(State(state): St) -> Response {
    match state.db.ping().await {
        Ok(()) if state.snapshot.load().generation >= 0 => {
            (StatusCode::OK, "ready").into_response()
        }
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: database unreachable",
        )
            .into_response(),
    }
}

async fn metrics(State(state): St) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(range: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, range.parse().unwrap());
        m
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range(&HeaderMap::new(), 10), Ok(None));
        assert_eq!(byte_range(&h("bytes=0-3"), 10), Ok(Some(0..4)));
        assert_eq!(byte_range(&h("bytes=4-"), 10), Ok(Some(4..10)));
        assert_eq!(byte_range(&h("bytes=-3"), 10), Ok(Some(7..10)));
        assert_eq!(byte_range(&h("bytes=5-100"), 10), Ok(Some(5..10)));
        assert_eq!(byte_range(&h("bytes=10-"), 10), Err(()));
        assert_eq!(byte_range(&h("bytes=0-1,4-5"), 10), Ok(None));
        assert_eq!(byte_range(&h("items=0-1"), 10), Ok(None));
        assert_eq!(byte_range(&h("bytes=5-2"), 10), Ok(None));
    }
}
