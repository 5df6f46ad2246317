//! Opt-in health reports through the app's IPC commands on the mock
//! runtime, against the real update service on loopback (SQLite, and
//! PostgreSQL under scripts/with-postgres for the service's side): nothing
//! queued or sent while reports are off; with them on, the session is
//! queued at start and reaches `POST /v1/telemetry` with the token the next
//! update check brought; an unreachable service keeps the events.
//!
//! A loopback forwarder in front of the service records every request and
//! can be "down" (503), so the test sees which requests the app made.

#[path = "../../updater-server/tests/common/mod.rs"]
mod service;

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{Harness as App, Setup};
use productivitypro_app::health::dir_in;
use productivitypro_app::settings::{Settings, SettingsFile};
use productivitypro_app::update_dto::UpdateChannel;
use productivitypro_app::updates::{InstallStep, UpdateConfig};
use productivitypro_health::consent::ConsentFile;
use productivitypro_protocol::Channel;
use productivitypro_updater_server::clock::Clock as _;
use serde_json::{json, Value};
use service::Harness as Service;

const APP: &str = env!("CARGO_PKG_VERSION");

fn next_version() -> String {
    let v = semver::Version::parse(APP).unwrap();
    format!("{}.{}.{}", v.major, v.minor + 1, v.patch)
}

fn rt<F: std::future::Future>(f: F) -> F::Output {
    tauri::async_runtime::block_on(f)
}

/// What the plugin asks for here (`{{bundle_type}}` is `unknown` for an
/// unbundled binary: the service reads Linux's default, AppImage).
fn platform() -> String {
    format!("linux-{}-appimage", std::env::consts::ARCH)
}

/// The service with this app's version and the next one on beta.
fn service() -> Service {
    let tmp = tempfile::tempdir().unwrap();
    let db = rt(service::databases(tmp.path())).remove(0);
    let s = rt(Service::start(&db));
    std::mem::forget(tmp);
    for v in [APP.to_string(), next_version()] {
        let r = rt(s.publish(&v, Channel::Beta, 100.0, &[&platform()]));
        assert_eq!(r.status(), 201, "publish {v}");
    }
    s
}

/// What the service counted for `version` (installs, crashes, …).
fn health_of(s: &Service, version: &str) -> Value {
    rt(s.server.state.flush_telemetry()).unwrap();
    let status = rt(s.get_json("/v1/status"));
    status["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version)
        .map(|r| r["health"].clone())
        .unwrap_or(Value::Null)
}

// ---------------------------------------------------------------- forwarder

/// Forwards every request (method, path, body, the headers that matter)
/// to the service and records `METHOD path`; answers 503 while down.
struct Forwarder {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
    _task: tauri::async_runtime::JoinHandle<()>,
}

impl Forwarder {
    fn start(upstream: &str) -> Forwarder {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::IntoResponse;

        #[derive(Clone)]
        struct St {
            upstream: String,
            seen: Arc<Mutex<Vec<String>>>,
            down: Arc<AtomicBool>,
            http: reqwest::Client,
        }

        async fn forward(
            State(st): State<St>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::response::Response {
            let path = uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            st.seen.lock().unwrap().push(format!("{method} {path}"));
            if st.down.load(Ordering::SeqCst) {
                return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
            }
            let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let mut req = st
                .http
                .request(m, format!("{}{path}", st.upstream))
                .body(body.to_vec());
            for h in ["x-install-id", "content-type"] {
                if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
                    req = req.header(h, v);
                }
            }
            let resp = req.send().await.unwrap();
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let body = resp.bytes().await.unwrap();
            (status, [("content-type", ct)], body).into_response()
        }

        let seen = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let st = St {
            upstream: upstream.to_string(),
            seen: seen.clone(),
            down: down.clone(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let app = axum::Router::new().fallback(forward).with_state(st);
        let listener = rt(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let task = tauri::async_runtime::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Forwarder {
            base: format!("http://{addr}"),
            seen,
            down,
            _task: task,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- the app

/// Reports on (`Some(true)`), off (`Some(false)`) or never answered.
fn consent_in(data: &Path, answer: Option<bool>, now: DateTime<Utc>) {
    let f = ConsentFile::in_dir(&dir_in(&data.join("vault")));
    let mut c = f.load_or_create(now).unwrap();
    if let Some(on) = answer {
        c.decide(on, now);
    }
    f.save(&c).unwrap();
}

/// An app on beta without automatic checks, talking to `base` (trusting
/// `key`), on the data folder `data` (handed from app to app for a
/// restart), with its clock at `now`.
fn app(key: &str, base: &str, data: tempfile::TempDir, now: DateTime<Utc>) -> App {
    app_with(
        key,
        base,
        data,
        now,
        InstallStep::Hand(Arc::new(|_, _| Ok(()))),
    )
}

fn app_with(
    key: &str,
    base: &str,
    data: tempfile::TempDir,
    now: DateTime<Utc>,
    install: InstallStep,
) -> App {
    let config = tempfile::tempdir().unwrap();
    SettingsFile::in_dir(config.path())
        .save(&Settings {
            update_channel: UpdateChannel::Beta,
            update_check_automatically: false,
            ..Settings::default()
        })
        .unwrap();
    let mut updates = UpdateConfig::new(key, base);
    updates.install = install;
    updates.push_wait = Duration::from_secs(1);
    updates.id_dir = Some(data.path().to_path_buf());
    App::with(Setup {
        config: Some(config),
        data: Some(data),
        updates,
        now,
        ..Setup::default()
    })
}

fn queued(a: &App) -> Vec<Value> {
    a.ok("health_preview", json!({}))["queued"]
        .as_array()
        .unwrap()
        .clone()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn posts(f: &Forwarder) -> Vec<String> {
    f.seen()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect()
}

// ---------------------------------------------------------------- tests

#[test]
fn with_reports_off_nothing_is_queued_or_sent() {
    let s = service();
    let fwd = Forwarder::start(&s.base);
    let now = s.clock.now();
    let a = app(
        &s.key.public_b64(),
        &fwd.base,
        tempfile::tempdir().unwrap(),
        now,
    );
    assert_eq!(
        a.ok("health_state", json!({})),
        json!({"enabled": false, "ask": false, "decided": false, "canSend": true}),
        "off by default, and a new install is not asked"
    );
    assert_eq!(a.ok("update_check", json!({}))["phase"], "available");
    assert_eq!(a.ok("health_ui_error", json!({})), json!(false));
    assert!(queued(&a).is_empty());
    // Give a wrong background flush the time to show itself.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(posts(&fwd), Vec::<String>::new(), "nothing sent");
    assert_eq!(health_of(&s, APP)["installs"], json!(0));
    let files: Vec<String> = std::fs::read_dir(dir_in(&a.vault_dir()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.contains("queue") || f.contains("crash")),
        "{files:?}"
    );
}

#[test]
fn opted_in_the_session_is_queued_at_start_and_sent_with_the_token_of_the_next_check() {
    let s = service();
    let fwd = Forwarder::start(&s.base);
    fwd.down.store(true, Ordering::SeqCst);
    let now = s.clock.now();
    let data = tempfile::tempdir().unwrap();
    consent_in(data.path(), Some(true), now);
    let a = app(&s.key.public_b64(), &fwd.base, data, now);

    // The start's flush finds the service down: the session stays queued.
    wait_until("the start's flush", || {
        posts(&fwd).contains(&"POST /v1/telemetry/token".to_string())
    });
    let q = queued(&a);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(
        (&q[0]["kind"], &q[0]["version"], &q[0]["channel"]),
        (&json!("session_start"), &json!(APP), &json!("beta"))
    );
    // What is sent: the protocol's fields, this install's values.
    let p = a.ok("health_preview", json!({}));
    let names: Vec<&str> = p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for f in [
        "install_id",
        "version",
        "channel",
        "os",
        "arch",
        "token",
        "events[].kind",
        "events[].at",
    ] {
        assert!(names.contains(&f), "{f} not in {names:?}");
    }
    assert_eq!(p["reports"].as_array().unwrap().len(), 1);
    let body: Value = serde_json::from_str(p["reports"][0].as_str().unwrap()).unwrap();
    assert_eq!(body["events"][0]["kind"], "session_start");
    assert_eq!(body["version"], APP);

    // Back up: a check brings tokens, and the queue goes with them.
    fwd.down.store(false, Ordering::SeqCst);
    let before = fwd.seen().len();
    assert_eq!(a.ok("update_check", json!({}))["phase"], "available");
    wait_until("the queue to empty", || queued(&a).is_empty());
    assert_eq!(health_of(&s, APP)["installs"], json!(1));
    let after = fwd.seen()[before..].to_vec();
    assert!(after[0].starts_with("GET /v1/update/"), "{after:?}");
    assert!(
        after.contains(&"POST /v1/telemetry".to_string()),
        "{after:?}"
    );
    assert!(
        !after.contains(&"POST /v1/telemetry/token".to_string()),
        "the check's token was used: {after:?}"
    );

    // The page's uncaught error: one crash this run, sent at once.
    assert_eq!(a.ok("health_ui_error", json!({})), json!(true));
    assert_eq!(
        a.ok("health_ui_error", json!({})),
        json!(false),
        "once a run"
    );
    wait_until("the crash to arrive", || {
        health_of(&s, APP)["crashes"] == json!(1)
    });
}

#[test]
fn a_failed_install_is_reported_for_the_version_that_failed() {
    let s = service();
    let now = s.clock.now();
    let data = tempfile::tempdir().unwrap();
    consent_in(data.path(), Some(true), now);
    let a = app_with(
        &s.key.public_b64(),
        &s.base,
        data,
        now,
        InstallStep::Hand(Arc::new(|_, _| Err("the package manager refused".into()))),
    );
    assert_eq!(a.ok("update_check", json!({}))["phase"], "available");
    a.ok("update_download", json!({}));
    wait_until("the download", || {
        a.ok("update_state", json!({}))["phase"] == "ready"
    });
    assert_eq!(a.err("update_install", json!({})), "update_install_failed");
    let next = next_version();
    wait_until("the failure to arrive", || {
        health_of(&s, &next)["updates_failed"] == json!(1)
    });
}

#[test]
fn an_unreachable_service_keeps_the_events() {
    let now: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
    let data = tempfile::tempdir().unwrap();
    consent_in(data.path(), Some(true), now);
    // A key is needed for an updater; nothing listens on port 1.
    let key = service::Key::new().public_b64();
    let a = app(&key, "http://127.0.0.1:1", data, now);
    assert_eq!(
        a.ok("update_check", json!({}))["error"]["code"],
        "update_offline"
    );
    assert_eq!(a.ok("health_ui_error", json!({})), json!(true));
    std::thread::sleep(Duration::from_millis(500));
    let kinds: Vec<Value> = queued(&a).iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds, [json!("session_start"), json!("crash")]);
}

#[test]
fn the_first_start_of_a_new_version_is_an_update_installed() {
    let now: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
    let data = tempfile::tempdir().unwrap();
    consent_in(data.path(), Some(true), now);
    let health = dir_in(&data.path().join("vault"));
    std::fs::write(health.join("health-last-run"), "0.0.1").unwrap();
    let key = service::Key::new().public_b64();
    let a = app(&key, "http://127.0.0.1:1", data, now);
    let kinds: Vec<(Value, Value)> = queued(&a)
        .iter()
        .map(|e| (e["kind"].clone(), e["version"].clone()))
        .collect();
    assert_eq!(
        kinds,
        [
            (json!("session_start"), json!(APP)),
            (json!("update_installed"), json!(APP))
        ]
    );
    let App { data, .. } = a;
    let b = app(&key, "http://127.0.0.1:1", data, now);
    assert_eq!(
        queued(&b).len(),
        3,
        "a second start of it is a session only"
    );
}

#[test]
fn the_question_is_due_after_a_week_and_the_answer_is_kept_across_restarts() {
    let now: DateTime<Utc> = "2026-11-23T08:00:00Z".parse().unwrap();
    let data = tempfile::tempdir().unwrap();
    consent_in(data.path(), None, now - chrono::Duration::days(6));
    let key = service::Key::new().public_b64();
    let a = app(&key, "http://127.0.0.1:1", data, now);
    assert_eq!(a.ok("health_state", json!({}))["ask"], false, "six days");
    a.clock.advance(chrono::Duration::days(1));
    assert_eq!(
        a.ok("health_state", json!({})),
        json!({"enabled": false, "ask": true, "decided": false, "canSend": true})
    );
    for bad in [
        json!({}),
        json!({"enabled": "yes"}),
        json!({"enabled": true, "x": 1}),
    ] {
        assert_eq!(
            a.err("health_set", bad.clone()),
            "invalid_argument",
            "{bad}"
        );
    }
    assert_eq!(
        a.ok("health_set", json!({"enabled": true})),
        json!({"enabled": true, "ask": false, "decided": true, "canSend": true})
    );
    let App { data, .. } = a;
    let b = app(&key, "http://127.0.0.1:1", data, now);
    assert_eq!(b.ok("health_state", json!({}))["enabled"], true);
    assert_eq!(queued(&b).len(), 1, "this start's session");
    // Off: the queue is emptied, nothing more is queued.
    assert_eq!(
        b.ok("health_set", json!({"enabled": false}))["enabled"],
        false
    );
    assert!(queued(&b).is_empty());
    assert_eq!(b.ok("health_ui_error", json!({})), json!(false));
    let App { data, .. } = b;
    let c = app(&key, "http://127.0.0.1:1", data, now);
    assert_eq!(
        c.ok("health_state", json!({})),
        json!({"enabled": false, "ask": false, "decided": true, "canSend": true}),
        "asked once"
    );
    assert!(queued(&c).is_empty());
}
