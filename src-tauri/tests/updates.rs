//! In-app updates through the app's IPC commands on the mock runtime, with
//! the real tauri-plugin-updater against the real update service
//! (`productivitypro-updater-server`, in this process on 127.0.0.1, SQLite
//! and a local artifact folder in a temporary directory). Releases are
//! published, rolled back and tampered with as `pprelease` and an attacker
//! would. Where the real service cannot misbehave (an offer whose version
//! differs from what its signature names, an older version without a
//! rollback), a loopback proxy in front of it rewrites its answers, as a
//! compromised server or a man in the middle would.
//!
//! Nothing is installed: the install step hands the verified bytes to the
//! test (`InstallStep::Hand`); everything before it (vault closed and
//! checkpointed) is real.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::{require_keyring, Harness, Setup, PASS};
use productivitypro_app::settings::{Settings, SettingsFile};
use productivitypro_app::update_dto::UpdateChannel;
use productivitypro_app::updates::{InstallStep, UpdateConfig};
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::{Channel, Platform};
use productivitypro_updater_server::config::ArtifactConfig;
use productivitypro_updater_server::{auth, clock::SystemClock, Config, Server};
use rand::RngCore;
use serde_json::{json, Value};

/// The app's version in these tests (the workspace's).
const APP: &str = env!("CARGO_PKG_VERSION");

fn version_plus(minor_step: i64) -> String {
    let v = semver::Version::parse(APP).unwrap();
    format!("{}.{}.{}", v.major, (v.minor as i64 + minor_step), v.patch)
}

// ---------------------------------------------------------------- keys

struct Key {
    kp: minisign::KeyPair,
}

impl Key {
    fn tauri_pubkey(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.kp.pk.to_box().unwrap().to_string())
    }

    fn pub_text(&self) -> String {
        self.kp.pk.to_box().unwrap().to_string()
    }

    /// As `pprelease sign --version` signs: the version in the trusted comment.
    fn sign(&self, bytes: &[u8], file_name: &str, version: &str) -> String {
        minisign::sign(
            Some(&self.kp.pk),
            &self.kp.sk,
            Cursor::new(bytes),
            Some(&format!(
                "timestamp:1700000000\tfile:{file_name}\tversion:{version}"
            )),
            None,
        )
        .unwrap()
        .to_string()
    }
}

fn key() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| Key {
        kp: minisign::KeyPair::generate_unencrypted_keypair().unwrap(),
    })
}

// ---------------------------------------------------------------- the service

/// What the plugin asks for on this machine: `{{bundle_type}}` is
/// `unknown` for a binary the bundler did not stamp, which the service
/// reads as Linux's default bundle (AppImage).
fn platform() -> Platform {
    format!("linux-{}-appimage", std::env::consts::ARCH)
        .parse()
        .unwrap()
}

fn file_name(version: &str) -> String {
    format!("ProductivityPro_{version}_amd64.AppImage")
}

struct Service {
    server: Option<Server>,
    base: String,
    token: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

fn rt<F: std::future::Future>(f: F) -> F::Output {
    tauri::async_runtime::block_on(f)
}

impl Service {
    fn start() -> Service {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}/u.db", dir.path().display()),
            artifacts: ArtifactConfig::Local {
                path: dir.path().join("artifacts"),
            },
            staging_dir: dir.path().join("staging"),
            public_key: Some(key().pub_text()),
            ..Config::default()
        };
        let server = rt(Server::start(config, Arc::new(SystemClock))).unwrap();
        let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        rt(server
            .state
            .db
            .insert_token(&id, "test", &auth::hash(&secret), "admin", now, None))
        .unwrap();
        Service {
            base: format!("http://{}", server.addr),
            server: Some(server),
            token: secret,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            dir,
        }
    }

    /// Publishes `version` to `channel` at 100% with one AppImage of `size`
    /// random bytes, signed for `version`; returns the bytes.
    fn publish(&self, version: &str, channel: Channel, size: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; size];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        self.publish_bytes(version, channel, bytes)
    }

    /// Publishes `version` to `channel` at 100% with `bytes` as its
    /// AppImage, signed for `version`; returns the bytes.
    fn publish_bytes(&self, version: &str, channel: Channel, bytes: Vec<u8>) -> Vec<u8> {
        let name = file_name(version);
        let req = PublishRequest {
            version: version.into(),
            notes: format!("## {version}\n\nnotes for {version}"),
            channel,
            percent: 100.0,
            artifacts: vec![ArtifactSpec {
                platform: platform(),
                file_name: name.clone(),
                signature: key().sign(&bytes, &name, version),
                url: None,
            }],
        };
        let form = reqwest::multipart::Form::new()
            .part(
                "release",
                reqwest::multipart::Part::text(serde_json::to_string(&req).unwrap())
                    .mime_str("application/json")
                    .unwrap(),
            )
            .part(
                platform().to_string(),
                reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(name)
                    .mime_str("application/octet-stream")
                    .unwrap(),
            );
        let resp = rt(self
            .http
            .post(format!("{}/v1/releases", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send())
        .unwrap();
        assert_eq!(resp.status(), 201, "publish {version}");
        bytes
    }

    /// The service's answer to an install of `from` on `channel`, once it
    /// announces a delta patch (built in the background after a publish):
    /// polled, bounded, never a fixed sleep.
    fn wait_for_delta(&self, from: &str, channel: &str) -> Value {
        let url = format!(
            "{}/v1/update/linux/{}/{from}?channel={channel}&bundle_type=unknown",
            self.base,
            std::env::consts::ARCH
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let resp = rt(self
                .http
                .get(&url)
                .header("X-Install-Id", "8f7b6a1e-0000-4000-8000-000000000001")
                .send())
            .unwrap();
            if resp.status() == 200 {
                let v: Value = rt(resp.json()).unwrap();
                if v["delta"].is_object() {
                    return v;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the service announced no delta patch from {from}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn get_bytes(&self, url: &str) -> Vec<u8> {
        let resp = rt(self.http.get(url).send()).unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        rt(resp.bytes()).unwrap().to_vec()
    }

    fn rollback(&self, version: &str) {
        let resp = rt(self
            .http
            .post(format!("{}/v1/releases/{version}/rollback", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"reason": "crash spike in test"}))
            .send())
        .unwrap();
        assert_eq!(resp.status(), 204);
    }

    /// Replaces the stored artifact whose content is `bytes` with bytes
    /// that differ in one bit (same size): what a tampered mirror serves.
    fn tamper(&self, bytes: &[u8]) {
        fn walk(dir: &Path, bytes: &[u8]) -> bool {
            let mut found = false;
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    found |= walk(&p, bytes);
                } else if std::fs::read(&p).ok().as_deref() == Some(bytes) {
                    let mut changed = bytes.to_vec();
                    changed[bytes.len() / 2] ^= 1;
                    std::fs::write(&p, changed).unwrap();
                    found = true;
                }
            }
            found
        }
        assert!(
            walk(&self.dir.path().join("artifacts"), bytes),
            "artifact found"
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = rt(s.stop());
        }
    }
}

// ---------------------------------------------------------------- the proxy

/// What the proxy saw of one check.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    install_id: Option<String>,
}

type Rewrite = Arc<dyn Fn(&mut String, &mut Value) + Send + Sync>;

/// A loopback HTTP proxy in front of the service: records each request's
/// path and `X-Install-Id`; `rewrite` may change the path asked upstream
/// and the JSON answered.
struct Proxy {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    _task: tauri::async_runtime::JoinHandle<()>,
}

impl Proxy {
    fn start(upstream: &str, rewrite: Option<Rewrite>) -> Proxy {
        use axum::extract::State;
        use axum::http::{HeaderMap, StatusCode, Uri};
        use axum::response::IntoResponse;

        #[derive(Clone)]
        struct St {
            upstream: String,
            seen: Arc<Mutex<Vec<Seen>>>,
            rewrite: Option<Rewrite>,
            http: reqwest::Client,
        }

        async fn forward(
            State(st): State<St>,
            uri: Uri,
            headers: HeaderMap,
        ) -> axum::response::Response {
            let id = headers
                .get("x-install-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut path = uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            st.seen.lock().unwrap().push(Seen {
                path_and_query: path.clone(),
                install_id: id.clone(),
            });
            let mut v = Value::Null;
            if let Some(r) = &st.rewrite {
                r(&mut path, &mut v);
            }
            let mut req = st.http.get(format!("{}{path}", st.upstream));
            if let Some(id) = id {
                req = req.header("X-Install-Id", id);
            }
            let resp = req.send().await.unwrap();
            let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
            let resp_is_json = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("application/json"));
            let body = resp.bytes().await.unwrap();
            let json = resp_is_json;
            if status != StatusCode::OK || !json {
                // Errors and downloads (a delta patch) pass unchanged.
                return (status, body).into_response();
            }
            let mut v: Value = serde_json::from_slice(&body).unwrap();
            if let Some(r) = &st.rewrite {
                r(&mut path, &mut v);
            }
            axum::Json(v).into_response()
        }

        let seen = Arc::new(Mutex::new(Vec::new()));
        let st = St {
            upstream: upstream.to_string(),
            seen: seen.clone(),
            rewrite,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let app = axum::Router::new().fallback(forward).with_state(st);
        let listener = rt(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let task = tauri::async_runtime::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy {
            base: format!("http://{addr}"),
            seen,
            _task: task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------- the app

/// Bytes the install step was handed, by version.
type Handed = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

struct App {
    h: Harness,
    handed: Handed,
}

/// An app whose settings say `channel` and no automatic checks (each
/// test checks when it means to), talking to `base`.
fn app_on(base: &str, channel: UpdateChannel, id_dir: Option<&Path>) -> App {
    app_keeping(base, channel, id_dir, None)
}

/// `app_on`, keeping installed artifacts in `artifact_dir` (default: a
/// folder of the test's own).
fn app_keeping(
    base: &str,
    channel: UpdateChannel,
    id_dir: Option<&Path>,
    artifact_dir: Option<&Path>,
) -> App {
    let config = tempfile::tempdir().unwrap();
    SettingsFile::in_dir(config.path())
        .save(&Settings {
            update_channel: channel,
            update_check_automatically: false,
            ..Settings::default()
        })
        .unwrap();
    let handed: Handed = Arc::default();
    let into = handed.clone();
    let mut updates = UpdateConfig::new(&key().tauri_pubkey(), base);
    updates.install = InstallStep::Hand(Arc::new(move |version: &str, bytes: &[u8]| {
        into.lock()
            .unwrap()
            .insert(version.to_string(), bytes.to_vec());
        Ok(())
    }));
    updates.push_wait = Duration::from_secs(5);
    updates.id_dir = id_dir.map(Path::to_path_buf);
    updates.artifact_dir = artifact_dir.map(Path::to_path_buf);
    let h = Harness::with(Setup {
        config: Some(config),
        updates,
        ..Setup::default()
    });
    App { h, handed }
}

impl App {
    fn state(&self) -> Value {
        self.h.ok("update_state", json!({}))
    }

    fn check(&self) -> Value {
        self.h.ok("update_check", json!({}))
    }

    /// Waits until the updater leaves `downloading`.
    fn settle(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.state();
            if s["phase"] != "downloading" {
                return s;
            }
            assert!(Instant::now() < deadline, "download did not finish: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every `update://state` the app sent.
    fn states(&self) -> Vec<Value> {
        self.h
            .events
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == "update://state")
            .map(|(_, v)| v.clone())
            .collect()
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn nothing_newer_is_up_to_date() {
    let svc = Service::start();
    let a = app_on(&svc.base, UpdateChannel::Beta, None);
    let s = a.state();
    assert_eq!(s["phase"], "idle");
    assert_eq!(s["current"], APP);
    assert_eq!(s["channel"], "beta");
    assert_eq!(s["needsPrivilege"], false, "not a deb/rpm install");

    let s = a.check();
    assert_eq!(s["phase"], "upToDate", "{s}");
    assert_eq!(s["offer"], Value::Null);
    assert!(s["lastChecked"].is_string(), "{s}");
    assert_eq!(s["nextRetryAt"], Value::Null);

    // An older release only is still up to date (no rollback declared).
    svc.publish(&version_plus(-1), Channel::Beta, 1024);
    assert_eq!(a.check()["phase"], "upToDate");
    // The checks were announced: checking, then the verdict.
    let phases: Vec<Value> = a.states().iter().map(|s| s["phase"].clone()).collect();
    assert!(
        phases.starts_with(&[json!("checking"), json!("upToDate")]),
        "{phases:?}"
    );
    // Nothing to download or install.
    assert_eq!(a.h.err("update_download", json!({})), "update_no_offer");
    assert_eq!(a.h.err("update_install", json!({})), "update_not_ready");
}

#[test]
fn an_offer_is_available_then_downloads_verified_and_installs_after_closing_the_vault() {
    require_keyring();
    let svc = Service::start();
    let next = version_plus(1);
    let bytes = svc.publish(&next, Channel::Beta, 3 * 1024 * 1024);
    let a = app_on(&svc.base, UpdateChannel::Beta, None);
    a.h.create();
    a.h.add("Task that must survive the update #home");

    let s = a.check();
    assert_eq!(s["phase"], "available", "{s}");
    let o = &s["offer"];
    assert_eq!(o["version"], next);
    assert_eq!(o["notes"], format!("## {next}\n\nnotes for {next}"));
    assert!(o["pubDate"].is_string(), "{o}");
    assert_eq!(o["rollback"], false);
    assert_eq!(o["downloadSize"], bytes.len() as u64);
    assert_eq!(o["fullSize"], bytes.len() as u64);
    assert_eq!(o["delta"], false);

    // Later hides nothing on the Rust side: the state is unchanged.
    assert_eq!(a.h.ok("update_later", json!({})), s);

    let started = a.h.ok("update_download", json!({}));
    assert_eq!(started["phase"], "downloading");
    assert_eq!(started["progress"]["received"], 0);
    assert_eq!(started["progress"]["total"], bytes.len() as u64);
    assert_eq!(a.h.err("update_check", json!({})), "update_in_progress");
    let s = a.settle();
    assert_eq!(s["phase"], "ready", "{s}");
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["progress"], Value::Null);
    // Progress went up to the whole artifact, with a speed.
    let progress: Vec<Value> = a
        .states()
        .iter()
        .filter(|s| s["phase"] == "downloading")
        .map(|s| s["progress"].clone())
        .collect();
    assert!(!progress.is_empty());
    for p in &progress {
        assert_eq!(p["total"], bytes.len() as u64, "{p}");
        assert!(p["received"].as_u64().unwrap() <= bytes.len() as u64);
    }
    assert!(
        progress
            .iter()
            .any(|p| p["bytesPerSecond"].as_u64().unwrap() > 0),
        "{progress:?}"
    );
    // A check while ready keeps the verified download.
    assert_eq!(a.check()["phase"], "ready");

    let wal = a.h.vault_dir().join("vault.db-wal");
    a.h.add("Written just before installing");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0);
    assert_eq!(a.h.ok("update_install", json!({})), Value::Null);
    // The verified bytes reached the install step...
    let handed = a.handed.lock().unwrap().clone();
    assert_eq!(handed.keys().collect::<Vec<_>>(), [&next]);
    assert!(
        handed[&next] == bytes,
        "installed bytes differ from the release"
    );
    // ...after the vault was closed, its WAL written into the file.
    assert_eq!(a.h.ok("app_status", json!({}))["vault"], "locked");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    assert_eq!(a.state()["phase"], "installing");
    // The database file alone holds every task: without the (empty) WAL
    // and its index, the vault opens with both.
    for f in ["vault.db-wal", "vault.db-shm"] {
        let _ = std::fs::remove_file(a.h.vault_dir().join(f));
    }
    a.h.ok(
        "vault_unlock",
        json!({ "method": "passphrase", "secret": PASS }),
    );
    let titles: Vec<String> =
        a.h.all_tasks()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap().to_string())
            .collect();
    assert_eq!(
        titles,
        [
            "Task that must survive the update",
            "Written just before installing"
        ]
    );
}

#[test]
fn a_tampered_artifact_is_refused_with_signature_invalid() {
    let svc = Service::start();
    let next = version_plus(1);
    let bytes = svc.publish(&next, Channel::Beta, 64 * 1024);
    svc.tamper(&bytes);
    let a = app_on(&svc.base, UpdateChannel::Beta, None);
    assert_eq!(a.check()["phase"], "available");
    a.h.ok("update_download", json!({}));
    let s = a.settle();
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_signature_invalid", "{s}");
    assert!(s["nextRetryAt"].is_string(), "{s}");
    // Nothing can be installed.
    assert_eq!(a.h.err("update_install", json!({})), "update_not_ready");
    assert!(a.handed.lock().unwrap().is_empty());
}

#[test]
fn an_offer_whose_signed_version_differs_is_refused() {
    let svc = Service::start();
    let next = version_plus(1);
    svc.publish(&next, Channel::Beta, 1024);
    // The answer claims a newer version than the signed build it points at
    // (an old signed build replayed as a new release).
    let claimed = version_plus(5);
    let claim = claimed.clone();
    let proxy = Proxy::start(
        &svc.base,
        Some(Arc::new(move |_path: &mut String, v: &mut Value| {
            if v.is_object() {
                v["version"] = json!(claim);
            }
        })),
    );
    let a = app_on(&proxy.base, UpdateChannel::Beta, None);
    let s = a.check();
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_version_mismatch", "{s}");
    let msg = s["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&claimed) && msg.contains(&next), "{msg}");
    assert_eq!(s["offer"], Value::Null);
    assert!(s["lastChecked"].is_string(), "the service was reached");
    assert_eq!(a.h.err("update_download", json!({})), "update_no_offer");
}

#[test]
fn an_older_version_without_a_rollback_is_refused() {
    let svc = Service::start();
    let older = "0.0.5";
    assert!(semver::Version::parse(older).unwrap() < semver::Version::parse(APP).unwrap());
    svc.publish(older, Channel::Beta, 1024);
    // The proxy asks the service as an even older app would, and hands the
    // (correctly signed, `rollback: false`) offer to this newer app.
    let proxy = Proxy::start(
        &svc.base,
        Some(Arc::new(|path: &mut String, _v: &mut Value| {
            *path = path.replace(&format!("/{APP}?"), "/0.0.1?");
        })),
    );
    let a = app_on(&proxy.base, UpdateChannel::Beta, None);
    let s = a.check();
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_downgrade_refused", "{s}");
    assert!(s["nextRetryAt"].is_string());
}

#[test]
fn a_signed_rollback_is_taken() {
    let svc = Service::start();
    let older = version_plus(-1);
    let good = svc.publish(&older, Channel::Beta, 32 * 1024);
    svc.publish(APP, Channel::Beta, 1024);
    let a = app_on(&svc.base, UpdateChannel::Beta, None);
    assert_eq!(a.check()["phase"], "upToDate");

    svc.rollback(APP);
    let s = a.check();
    assert_eq!(s["phase"], "available", "{s}");
    assert_eq!(s["offer"]["version"], older);
    assert_eq!(s["offer"]["rollback"], true);
    a.h.ok("update_download", json!({}));
    assert_eq!(a.settle()["phase"], "ready");
    a.h.ok("update_install", json!({}));
    assert!(a.handed.lock().unwrap()[&older] == good);
}

#[test]
fn the_install_id_is_sent_and_kept_across_restarts_and_the_channel_is_in_the_url() {
    let svc = Service::start();
    let proxy = Proxy::start(&svc.base, None);
    let data = tempfile::tempdir().unwrap();
    let id_file = data.path().join("install-id");
    let read_id = || {
        std::fs::read_to_string(&id_file)
            .unwrap()
            .trim()
            .to_string()
    };
    let a = app_on(&proxy.base, UpdateChannel::Canary, Some(data.path()));
    a.check();
    a.check();
    let id = read_id();
    assert_eq!(id.len(), 36, "{id}");
    drop(a);
    // Restarted on the same data folder, now on beta.
    let b = app_on(&proxy.base, UpdateChannel::Beta, Some(data.path()));
    b.check();
    assert_eq!(read_id(), id);

    let seen = proxy.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for s in &seen {
        assert_eq!(s.install_id.as_deref(), Some(id.as_str()), "{s:?}");
        assert!(
            s.path_and_query.starts_with(&format!(
                "/v1/update/linux/{}/{APP}?",
                std::env::consts::ARCH
            )),
            "{s:?}"
        );
        assert!(s.path_and_query.contains("bundle_type=unknown"), "{s:?}");
    }
    assert!(seen[0].path_and_query.contains("channel=canary"));
    assert!(seen[2].path_and_query.contains("channel=beta"));

    // Changing the channel in Settings changes the next check's URL.
    let mut settings: Value = b.h.ok("settings_get", json!({}));
    settings["updateChannel"] = json!("stable");
    b.h.ok("settings_set", json!({ "settings": settings }));
    assert_eq!(b.state()["channel"], "stable");
    b.check();
    assert!(proxy.seen()[3].path_and_query.contains("channel=stable"));
}

#[test]
fn the_channel_decides_what_is_offered() {
    let svc = Service::start();
    svc.publish(&version_plus(1), Channel::Beta, 1024);
    let stable = app_on(&svc.base, UpdateChannel::Stable, None);
    assert_eq!(stable.check()["phase"], "upToDate");
    let beta = app_on(&svc.base, UpdateChannel::Beta, None);
    assert_eq!(beta.check()["phase"], "available");
    let canary = app_on(&svc.base, UpdateChannel::Canary, None);
    assert_eq!(canary.check()["phase"], "available");
}

#[test]
fn an_unreachable_or_failing_service_fails_with_backoff() {
    // Nothing listens on port 1.
    let a = app_on("http://127.0.0.1:1", UpdateChannel::Stable, None);
    let s = a.check();
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_offline");
    assert_eq!(s["lastChecked"], Value::Null, "the service was not reached");
    let retry = chrono::DateTime::parse_from_rfc3339(s["nextRetryAt"].as_str().unwrap()).unwrap();
    let wait = retry
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!(
        (50..=61).contains(&wait),
        "first retry after a minute: {wait}"
    );
    // The second failure waits twice as long.
    let s = a.check();
    let retry = chrono::DateTime::parse_from_rfc3339(s["nextRetryAt"].as_str().unwrap()).unwrap();
    let wait = retry
        .signed_duration_since(chrono::Utc::now())
        .num_seconds();
    assert!((110..=121).contains(&wait), "then two minutes: {wait}");

    // A service that answers an error: `update_server` (an unknown
    // channel is a 400 from the real service).
    let svc = Service::start();
    let proxy = Proxy::start(
        &svc.base,
        Some(Arc::new(|path: &mut String, _v: &mut Value| {
            *path = path.replace("channel=stable", "channel=nightly");
        })),
    );
    let b = app_on(&proxy.base, UpdateChannel::Stable, None);
    let s = b.check();
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_server", "{s}");
    assert!(s["lastChecked"].is_string());
}

#[test]
fn without_a_key_updates_are_unavailable() {
    let h = Harness::new();
    let s = h.ok("update_state", json!({}));
    assert_eq!(s["phase"], "unavailable");
    assert_eq!(s["error"]["code"], "update_unavailable");
    for cmd in ["update_check", "update_download", "update_install"] {
        assert_eq!(h.err(cmd, json!({})), "update_unavailable", "{cmd}");
    }
    // No install id is made for a build that never checks.
    assert!(!h.config.path().join("install-id").exists());

    // Plain http to another host is refused at start, not used.
    let cfg = UpdateConfig::new(&key().tauri_pubkey(), "http://updates.example.com");
    let why = cfg.service.as_ref().err().unwrap();
    assert!(why.contains("loopback"), "{why}");
    assert!(UpdateConfig::new("", "https://updates.example.com")
        .service
        .is_err());
}

#[test]
fn automatic_checks_run_at_start() {
    let svc = Service::start();
    svc.publish(&version_plus(1), Channel::Stable, 1024);
    let config = tempfile::tempdir().unwrap();
    SettingsFile::in_dir(config.path())
        .save(&Settings::default())
        .unwrap();
    let h = Harness::with(Setup {
        config: Some(config),
        updates: UpdateConfig::new(&key().tauri_pubkey(), &svc.base),
        ..Setup::default()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = h.ok("update_state", json!({}));
        if s["phase"] == "available" {
            break;
        }
        assert!(Instant::now() < deadline, "no check at start: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What `--check-update` / `--install-update` run (`cli::run_on`), on the
/// mock app: check, download, verify, install; one line and a status.
#[test]
fn the_cli_flags_check_download_verify_and_install() {
    use productivitypro_app::updates::cli::{run_on, Mode, Request};

    let svc = Service::start();
    let a = app_on(&svc.base, UpdateChannel::Beta, None);
    let updates = productivitypro_app::updates::updates(a.h.app.handle()).unwrap();
    let req = |mode| Request {
        mode,
        channel: None,
    };
    let (line, status) = rt(run_on(a.h.app.handle(), &updates, &req(Mode::Install)));
    assert_eq!((line.result, status), ("upToDate", 2), "{line:?}");

    let next = version_plus(1);
    let bytes = svc.publish(&next, Channel::Beta, 128 * 1024);
    let (line, status) = rt(run_on(a.h.app.handle(), &updates, &req(Mode::Check)));
    assert_eq!((line.result, status), ("available", 0), "{line:?}");
    assert_eq!(line.version.as_deref(), Some(next.as_str()));
    assert!(
        a.handed.lock().unwrap().is_empty(),
        "a check installs nothing"
    );

    let (line, status) = rt(run_on(a.h.app.handle(), &updates, &req(Mode::Install)));
    assert_eq!((line.result, status), ("installed", 0), "{line:?}");
    assert!(a.handed.lock().unwrap()[&next] == bytes);

    // A tampered artifact: refused, status 1, nothing installed.
    let svc = Service::start();
    let bytes = svc.publish(&next, Channel::Beta, 64 * 1024);
    svc.tamper(&bytes);
    let b = app_on(&svc.base, UpdateChannel::Beta, None);
    let updates = productivitypro_app::updates::updates(b.h.app.handle()).unwrap();
    let (line, status) = rt(run_on(b.h.app.handle(), &updates, &req(Mode::Install)));
    assert_eq!(status, 1, "{line:?}");
    assert_eq!(line.result, "failed");
    assert_eq!(line.code.as_deref(), Some("update_signature_invalid"));
    assert!(b.handed.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------- delta updates

/// Two releases of an AppImage-sized blob sharing most bytes, as two
/// builds a small change apart: N (the running version) and N+1.
fn release_pair() -> (Vec<u8>, Vec<u8>) {
    let mut n = vec![0u8; 512 * 1024];
    rand::rngs::OsRng.fill_bytes(&mut n);
    let mut n1 = n.clone();
    rand::rngs::OsRng.fill_bytes(&mut n1[100_000..104_096]);
    let mut inserted = vec![0u8; 2048];
    rand::rngs::OsRng.fill_bytes(&mut inserted);
    n1.splice(300_000..300_000, inserted);
    n1.truncate(n1.len() - 1000);
    (n, n1)
}

/// The kept artifact's name (docs/desktop-ipc.md, "Updates"): a binary the
/// bundler did not stamp is bundle type `unknown`.
fn kept_name(version: &str) -> String {
    format!("productivitypro-{version}.unknown")
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The service with N (this app's version) and N+1 published on beta, the
/// patch between them built; returns N, N+1 and the announced `delta`.
fn service_with_a_delta() -> (Service, Vec<u8>, Vec<u8>, Value) {
    let svc = Service::start();
    let (n, n1) = release_pair();
    let n = svc.publish_bytes(APP, Channel::Beta, n);
    let n1 = svc.publish_bytes(&version_plus(1), Channel::Beta, n1);
    let answer = svc.wait_for_delta(APP, "beta");
    let d = answer["delta"].clone();
    assert_eq!(d["from"], APP, "{d}");
    assert_eq!(d["fullSize"], n1.len() as u64, "{d}");
    (svc, n, n1, d)
}

/// The totals of every `downloading` progress the app sent.
fn progress_totals(a: &App) -> Vec<Value> {
    a.states()
        .iter()
        .filter(|s| s["phase"] == "downloading")
        .map(|s| s["progress"]["total"].clone())
        .collect()
}

#[test]
fn a_kept_artifact_makes_the_download_a_delta_that_rebuilds_the_release() {
    require_keyring();
    let (svc, n, n1, d) = service_with_a_delta();
    let next = version_plus(1);
    let patch_size = d["size"].as_u64().unwrap();
    assert!(
        patch_size * 10 < n1.len() as u64,
        "a small patch: {patch_size} bytes"
    );
    // As the end-to-end script seeds it: N's artifact where the app keeps it.
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join(kept_name(APP)), &n).unwrap();
    let a = app_keeping(&svc.base, UpdateChannel::Beta, None, Some(kept.path()));
    a.h.create();

    let s = a.check();
    assert_eq!(s["phase"], "available", "{s}");
    let o = &s["offer"];
    assert_eq!(o["version"], next);
    assert_eq!(o["delta"], true, "{o}");
    assert_eq!(o["downloadSize"], patch_size);
    assert_eq!(o["fullSize"], n1.len() as u64);

    let started = a.h.ok("update_download", json!({}));
    assert_eq!(started["progress"]["total"], patch_size);
    let s = a.settle();
    assert_eq!(s["phase"], "ready", "{s}");
    assert_eq!(s["offer"]["delta"], true, "no fallback: {s}");
    assert_eq!(s["offer"]["downloadSize"], patch_size);
    // Only the patch was downloaded.
    let totals = progress_totals(&a);
    assert!(!totals.is_empty());
    assert!(totals.iter().all(|t| *t == patch_size), "{totals:?}");
    // A check while ready keeps the rebuilt bytes and how they came.
    let s = a.check();
    assert_eq!(s["phase"], "ready");
    assert_eq!(s["offer"]["delta"], true);

    assert_eq!(a.h.ok("update_install", json!({})), Value::Null);
    let handed = a.handed.lock().unwrap().clone();
    assert!(handed[&next] == n1, "rebuilt bytes differ from the release");
    // The app now keeps exactly the installed artifact.
    assert_eq!(listing(kept.path()), [kept_name(&next)]);
    assert!(std::fs::read(kept.path().join(kept_name(&next))).unwrap() == n1);
}

/// The fallback: `delta: false`, the full size, progress restarted, and
/// the full artifact verified and handed over.
fn assert_fell_back(a: &App, patch_size: u64, n1: &[u8]) {
    let next = version_plus(1);
    let started = a.h.ok("update_download", json!({}));
    assert_eq!(started["offer"]["delta"], true);
    let s = a.settle();
    assert_eq!(s["phase"], "ready", "{s}");
    assert_eq!(s["error"], Value::Null);
    assert_eq!(s["offer"]["delta"], false, "{s}");
    assert_eq!(s["offer"]["downloadSize"], n1.len() as u64);
    let full = json!(n1.len() as u64);
    let totals = progress_totals(a);
    let restart = totals
        .iter()
        .position(|t| *t == full)
        .expect("progress restarted for the full download");
    assert!(
        totals[..restart].iter().all(|t| *t == patch_size),
        "{totals:?}"
    );
    assert!(totals[restart..].iter().all(|t| *t == full), "{totals:?}");
    let fell_back = a
        .states()
        .into_iter()
        .find(|s| s["phase"] == "downloading" && s["offer"]["delta"] == false)
        .unwrap();
    assert_eq!(fell_back["progress"]["received"], 0, "{fell_back}");
    assert_eq!(a.h.ok("update_install", json!({})), Value::Null);
    let handed = a.handed.lock().unwrap().clone();
    assert!(
        handed[&next] == n1,
        "installed bytes differ from the release"
    );
}

#[test]
fn a_corrupted_kept_artifact_falls_back_to_the_full_download() {
    require_keyring();
    let (svc, mut n, n1, d) = service_with_a_delta();
    n[1000] ^= 0x40;
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join(kept_name(APP)), &n).unwrap();
    let a = app_keeping(&svc.base, UpdateChannel::Beta, None, Some(kept.path()));
    a.h.create();
    // The check does not hash the kept file: it still plans a delta.
    assert_eq!(a.check()["offer"]["delta"], true);
    assert_fell_back(&a, d["size"].as_u64().unwrap(), &n1);
    assert_eq!(listing(kept.path()), [kept_name(&version_plus(1))]);
}

#[test]
fn a_tampered_patch_falls_back_to_the_full_download() {
    require_keyring();
    let (svc, n, n1, d) = service_with_a_delta();
    let patch = svc.get_bytes(d["url"].as_str().unwrap());
    assert_eq!(patch.len() as u64, d["size"].as_u64().unwrap());
    svc.tamper(&patch);
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join(kept_name(APP)), &n).unwrap();
    let a = app_keeping(&svc.base, UpdateChannel::Beta, None, Some(kept.path()));
    a.h.create();
    assert_eq!(a.check()["offer"]["delta"], true);
    assert_fell_back(&a, patch.len() as u64, &n1);
}

#[test]
fn without_the_running_versions_artifact_the_offer_is_the_full_download() {
    let (svc, n, n1, _) = service_with_a_delta();
    let kept = tempfile::tempdir().unwrap();
    // Another version's artifact does not count.
    std::fs::write(kept.path().join(kept_name(&version_plus(-1))), &n).unwrap();
    let a = app_keeping(&svc.base, UpdateChannel::Beta, None, Some(kept.path()));
    let s = a.check();
    assert_eq!(s["phase"], "available", "{s}");
    assert_eq!(s["offer"]["delta"], false, "{s}");
    assert_eq!(s["offer"]["downloadSize"], n1.len() as u64);
    assert_eq!(s["offer"]["fullSize"], n1.len() as u64);
    a.h.ok("update_download", json!({}));
    let s = a.settle();
    assert_eq!(s["phase"], "ready", "{s}");
    let totals = progress_totals(&a);
    assert!(totals.iter().all(|t| *t == n1.len() as u64), "{totals:?}");
}

#[test]
fn a_rebuilt_artifact_that_fails_the_signature_falls_back_and_the_full_download_is_refused() {
    let (svc, n, n1, d) = service_with_a_delta();
    let next = version_plus(1);
    // A signature by the right key for the right version, but over other
    // bytes: the patch and the rebuilt artifact match what the service
    // announced, only the signature check can catch it.
    let forged = base64::engine::general_purpose::STANDARD.encode(key().sign(
        b"another build",
        &file_name(&next),
        &next,
    ));
    let proxy = Proxy::start(
        &svc.base,
        Some(Arc::new(move |_path: &mut String, v: &mut Value| {
            if v.is_object() {
                v["signature"] = json!(forged);
            }
        })),
    );
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join(kept_name(APP)), &n).unwrap();
    let a = app_keeping(&proxy.base, UpdateChannel::Beta, None, Some(kept.path()));
    let s = a.check();
    assert_eq!(s["offer"]["delta"], true, "{s}");
    a.h.ok("update_download", json!({}));
    let s = a.settle();
    // The delta's verification failed, then the full download's own.
    assert_eq!(s["phase"], "failed", "{s}");
    assert_eq!(s["error"]["code"], "update_signature_invalid", "{s}");
    assert_eq!(s["offer"]["delta"], false, "{s}");
    assert_eq!(s["offer"]["downloadSize"], n1.len() as u64);
    let totals = progress_totals(&a);
    let patch = json!(d["size"].as_u64().unwrap());
    assert_eq!(totals.first(), Some(&patch), "{totals:?}");
    assert!(
        totals.contains(&json!(n1.len() as u64)),
        "the full download ran: {totals:?}"
    );
    assert_eq!(a.h.err("update_install", json!({})), "update_not_ready");
    assert!(a.handed.lock().unwrap().is_empty());
    // The kept artifact is untouched.
    assert_eq!(listing(kept.path()), [kept_name(APP)]);
}

#[test]
fn the_patch_is_fetched_like_the_artifact_with_the_install_id() {
    require_keyring();
    let (svc, n, n1, d) = service_with_a_delta();
    // The answer's patch URL points at the proxy, which records the request.
    let proxy_base: Arc<OnceLock<String>> = Arc::default();
    let base = proxy_base.clone();
    let proxy = Proxy::start(
        &svc.base,
        Some(Arc::new(move |_path: &mut String, v: &mut Value| {
            if let Some(url) = v["delta"]["url"].as_str() {
                let path = url.split_once("/v1/").unwrap().1.to_string();
                v["delta"]["url"] = json!(format!("{}/v1/{path}", base.get().unwrap()));
            }
        })),
    );
    proxy_base.set(proxy.base.clone()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let kept = tempfile::tempdir().unwrap();
    std::fs::write(kept.path().join(kept_name(APP)), &n).unwrap();
    let a = app_keeping(
        &proxy.base,
        UpdateChannel::Beta,
        Some(data.path()),
        Some(kept.path()),
    );
    assert_eq!(a.check()["offer"]["delta"], true);
    a.h.ok("update_download", json!({}));
    let s = a.settle();
    assert_eq!(s["phase"], "ready", "{s}");
    assert_eq!(s["offer"]["delta"], true, "{s}");
    let id = std::fs::read_to_string(data.path().join("install-id")).unwrap();
    let seen = proxy.seen();
    let patch_path = format!(
        "/v1/{}",
        d["url"].as_str().unwrap().split_once("/v1/").unwrap().1
    );
    let fetched: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.path_and_query == patch_path)
        .collect();
    assert_eq!(fetched.len(), 1, "{seen:?}");
    assert_eq!(fetched[0].install_id.as_deref(), Some(id.trim()));
    a.h.create();
    a.h.ok("update_install", json!({}));
    assert!(a.handed.lock().unwrap()[&version_plus(1)] == n1);
}
