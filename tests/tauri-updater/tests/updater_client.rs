//! The real tauri-plugin-updater, in a headless `tauri::test` mock app, against
//! the real update service (`productivitypro-updater-server`) started
//! in-process on 127.0.0.1 with a SQLite database and local artifact store in
//! a temporary directory. Releases are published, rolled out and rolled back
//! through the service's HTTP API, exactly as `pprelease` would.

use std::io::Cursor;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::{Channel, Platform};
use productivitypro_updater_server::config::ArtifactConfig;
use productivitypro_updater_server::{auth, clock::SystemClock, Config, Server};
use rand::RngCore;
use serde_json::json;
use tauri::test::{mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::App;
use tauri_plugin_updater::{Update, Updater, UpdaterExt};
use uuid::Uuid;

// ---------------------------------------------------------------- keys and signing

struct Key {
    kp: minisign::KeyPair,
    /// The minisign `.pub` file text (what the service is configured with).
    pub_text: String,
}

impl Key {
    fn generate() -> Key {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let pub_text = kp.pk.to_box().unwrap().to_string();
        Key { kp, pub_text }
    }

    /// Tauri's `plugins.updater.pubkey`: base64 of the `.pub` text.
    fn tauri_pubkey(&self) -> String {
        B64.encode(&self.pub_text)
    }

    /// The `.sig` text, signed the way `tauri signer sign` does (prehashed;
    /// trusted comment `timestamp:..\tfile:..\tversion:..`).
    fn sign(&self, bytes: &[u8], file_name: &str, version: &str) -> String {
        let trusted = format!("timestamp:1700000000\tfile:{file_name}\tversion:{version}");
        minisign::sign(
            Some(&self.kp.pk),
            &self.kp.sk,
            Cursor::new(bytes),
            Some(&trusted),
            Some("signature from tauri secret key"),
        )
        .unwrap()
        .to_string()
    }
}

/// The release signing key the service trusts.
fn key_a() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(Key::generate)
}

/// Another key: an app embedding it must refuse what key A signed.
fn key_b() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(Key::generate)
}

/// The platform slot the plugin on this machine asks for (`{{target}}` is
/// `linux`, `{{arch}}` is the plugin's arch name, which matches Rust's here).
fn platform() -> Platform {
    format!("linux-{}-appimage", std::env::consts::ARCH)
        .parse()
        .unwrap()
}

fn file_name(version: &str) -> String {
    format!("ProductivityPro_{version}_amd64.AppImage")
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut v);
    v
}

// ---------------------------------------------------------------- the real service

struct Service {
    server: Server,
    base: String,
    token: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start(trusted: &Key) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: format!("sqlite://{}/u.db", dir.path().display()),
            artifacts: ArtifactConfig::Local {
                path: dir.path().join("artifacts"),
            },
            staging_dir: dir.path().join("staging"),
            public_key: Some(trusted.pub_text.clone()),
            ..Config::default()
        };
        let server = Server::start(config, Arc::new(SystemClock)).await.unwrap();

        let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        server
            .state
            .db
            .insert_token(&id, "test", &auth::hash(&secret), "admin", now, None)
            .await
            .unwrap();
        Service {
            base: format!("http://{}", server.addr),
            server,
            token: secret,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            _dir: dir,
        }
    }

    /// Publishes `version` to beta at `percent` with one AppImage signed by
    /// key A; returns the artifact's bytes.
    async fn publish(&self, version: &str, percent: f64) -> Vec<u8> {
        let bytes = random_bytes(256 * 1024);
        let name = file_name(version);
        let req = PublishRequest {
            version: version.into(),
            notes: format!("notes for {version}"),
            channel: Channel::Beta,
            percent,
            artifacts: vec![ArtifactSpec {
                platform: platform(),
                file_name: name.clone(),
                signature: key_a().sign(&bytes, &name, version),
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
        let resp = self
            .http
            .post(format!("{}/v1/releases", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body = resp.text().await.unwrap();
        assert_eq!(status, 201, "publish {version}: {body}");
        bytes
    }

    async fn post(&self, path: &str, body: serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 204, "POST {path}: {text}");
    }

    async fn rollback(&self, version: &str) {
        self.post(
            &format!("/v1/releases/{version}/rollback"),
            json!({"reason": "crash spike in test"}),
        )
        .await;
    }

    async fn rollout(&self, version: &str, percent: f64) {
        self.post(
            &format!("/v1/releases/{version}/rollout"),
            json!({"channel": "beta", "percent": percent}),
        )
        .await;
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

// ---------------------------------------------------------------- the app

/// A mock Tauri app at `version` whose updater trusts `key`.
fn mock_app(version: &str, key: &Key) -> App<MockRuntime> {
    let mut ctx = mock_context(noop_assets());
    ctx.package_info_mut().version = version.parse().unwrap();
    ctx.config_mut().plugins.0.insert(
        "updater".into(),
        json!({
            "pubkey": key.tauri_pubkey(),
            "endpoints": [],
            // the service is on http://127.0.0.1
            "dangerousInsecureTransportProtocol": true,
            // the signature must name the version the service announced
            "requireSignedVersion": true,
        }),
    );
    mock_builder()
        .plugin(tauri_plugin_updater::Builder::new().build())
        .build(ctx)
        .expect("mock app builds")
}

fn endpoint(svc: &Service) -> tauri::Url {
    format!(
        "{}/v1/update/{{{{target}}}}/{{{{arch}}}}/{{{{current_version}}}}?channel=beta&bundle_type=appimage",
        svc.base
    )
    .parse()
    .unwrap()
}

/// The updater as the app builds it; `install` None sends no X-Install-Id.
/// `allow_different` lets any other version through the plugin's comparator
/// (for rollbacks; see `check_with_rollback`).
fn updater(
    app: &App<MockRuntime>,
    svc: &Service,
    install: Option<Uuid>,
    allow_different: bool,
) -> Updater {
    let mut b = app
        .handle()
        .updater_builder()
        .endpoints(vec![endpoint(svc)])
        .unwrap()
        .no_proxy();
    if let Some(id) = install {
        b = b.header("X-Install-Id", id.to_string()).unwrap();
    }
    if allow_different {
        b = b.version_comparator(|current, remote| remote.version != current);
    }
    b.build().unwrap()
}

async fn check(app: &App<MockRuntime>, svc: &Service, install: Uuid) -> Option<Update> {
    updater(app, svc, Some(install), false)
        .check()
        .await
        .expect("update check")
}

/// The app's policy: a newer version, or a lower one only when the service
/// flags it as a rollback. The comparator sees no raw_json, so it lets any
/// different version through and the flag is checked on the result.
async fn check_with_rollback(
    app: &App<MockRuntime>,
    svc: &Service,
    install: Uuid,
) -> Option<Update> {
    let update = updater(app, svc, Some(install), true)
        .check()
        .await
        .expect("update check")?;
    let current = semver::Version::parse(&update.current_version).unwrap();
    let remote = semver::Version::parse(&update.version).unwrap();
    (remote > current || update.raw_json["rollback"] == json!(true)).then_some(update)
}

async fn download(update: &Update) -> tauri_plugin_updater::Result<Vec<u8>> {
    update.download(|_, _| {}, || {}).await
}

fn rollout(update: &Update) -> f64 {
    update.raw_json["rollout"]
        .as_f64()
        .unwrap_or_else(|| panic!("rollout in {}", update.raw_json))
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_newer_is_no_update() {
    let svc = Service::start(key_a()).await;
    let app = mock_app("1.1.0", key_a());
    let id = Uuid::new_v4();

    assert!(check(&app, &svc, id).await.is_none(), "empty service");

    svc.publish("1.0.0", 100.0).await;
    assert!(
        check(&app, &svc, id).await.is_none(),
        "only 1.0.0 published"
    );
    // ...which is not because 1.0.0 is invisible: an older app is offered it.
    let old = mock_app("0.9.0", key_a());
    let update = check(&old, &svc, id).await.expect("0.9.0 is offered 1.0.0");
    assert_eq!(update.version, "1.0.0");

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_release_is_offered_and_downloads_verified() {
    let svc = Service::start(key_a()).await;
    let bytes = svc.publish("1.2.0", 100.0).await;
    let app = mock_app("1.1.0", key_a());

    let update = check(&app, &svc, Uuid::new_v4())
        .await
        .expect("1.2.0 offered");
    assert_eq!(update.version, "1.2.0");
    assert_eq!(update.current_version, "1.1.0");
    assert_eq!(update.body.as_deref(), Some("notes for 1.2.0"));
    assert!(update.date.is_some(), "pub_date: {}", update.raw_json);
    assert_eq!(update.raw_json["channel"], json!("beta"));
    assert_eq!(rollout(&update), 100.0);
    assert_eq!(update.raw_json["rollback"], json!(false));
    // The telemetry token for reporting on 1.2.0 reaches the app through raw_json
    // (none for 1.1.0: the service does not know that version).
    let tokens = update.raw_json["telemetry_tokens"]
        .as_object()
        .unwrap_or_else(|| panic!("telemetry_tokens in {}", update.raw_json));
    assert_eq!(tokens.keys().collect::<Vec<_>>(), ["1.2.0"]);
    assert!(tokens["1.2.0"]
        .as_str()
        .is_some_and(|t| t.starts_with("1.")));
    assert_eq!(
        update.download_url.as_str(),
        format!("{}/v1/artifacts/1.2.0/{}", svc.base, file_name("1.2.0"))
    );

    let got = download(&update).await.expect("download verifies");
    assert!(
        got == bytes,
        "downloaded bytes differ from the published ones"
    );

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_signed_by_another_key_is_refused() {
    // The service trusts (and the release is signed with) key A...
    let svc = Service::start(key_a()).await;
    svc.publish("1.2.0", 100.0).await;
    // ...the app embeds key B.
    let app = mock_app("1.1.0", key_b());

    let update = check(&app, &svc, Uuid::new_v4())
        .await
        .expect("1.2.0 offered");
    assert_eq!(update.version, "1.2.0");
    let err = download(&update)
        .await
        .expect_err("a release signed by another key must be refused");
    assert!(
        matches!(
            err,
            tauri_plugin_updater::Error::Minisign(minisign_verify::Error::UnexpectedKeyId)
        ),
        "unexpected error: {err:?} ({err})"
    );

    // Control: the same offer downloads in an app embedding key A.
    let good = mock_app("1.1.0", key_a());
    let update = check(&good, &svc, Uuid::new_v4()).await.unwrap();
    download(&update).await.expect("key A verifies");

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_release_sends_installs_back() {
    let svc = Service::start(key_a()).await;
    let v100 = svc.publish("1.0.0", 100.0).await;
    svc.publish("1.1.0", 100.0).await;
    let app = mock_app("1.1.0", key_a());
    let id = Uuid::new_v4();

    // Not rolled back: an app on 1.1.0 is up to date, rollback policy or not.
    assert!(check(&app, &svc, id).await.is_none());
    assert!(check_with_rollback(&app, &svc, id).await.is_none());

    svc.rollback("1.1.0").await;

    let update = check_with_rollback(&app, &svc, id)
        .await
        .expect("rollback to 1.0.0 offered");
    assert_eq!(update.version, "1.0.0");
    assert_eq!(update.raw_json["rollback"], json!(true));
    assert_eq!(update.raw_json["channel"], json!("beta"));
    assert_eq!(
        update.download_url.as_str(),
        format!("{}/v1/artifacts/1.0.0/{}", svc.base, file_name("1.0.0"))
    );
    let got = download(&update).await.expect("1.0.0 verifies");
    assert!(got == v100, "downloaded bytes differ from 1.0.0's");

    // The plugin's default comparator never takes a lower version.
    assert!(check(&app, &svc, id).await.is_none());
    // An app on 1.0.0 is no longer offered the rolled-back 1.1.0.
    let older = mock_app("1.0.0", key_a());
    assert!(check_with_rollback(&older, &svc, id).await.is_none());

    svc.stop().await;
}

/// Issue 11.3: an install on a rolled-back release was sent back to the
/// previous release even when a newer active one, the fix, reached it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolled_back_install_rolls_forward_to_the_fix_with_the_default_comparator() {
    let svc = Service::start(key_a()).await;
    svc.publish("1.0.0", 100.0).await;
    svc.publish("1.1.0", 100.0).await;
    svc.rollback("1.1.0").await;
    let fix = svc.publish("1.2.0", 100.0).await;
    let app = mock_app("1.1.0", key_a());

    // The plugin's own comparator suffices: it is an upgrade, not a rollback.
    let update = check(&app, &svc, Uuid::new_v4())
        .await
        .expect("1.2.0 offered to an install on the rolled-back 1.1.0");
    assert_eq!(update.version, "1.2.0");
    assert_eq!(update.raw_json["rollback"], json!(false));
    let got = download(&update).await.expect("1.2.0 verifies");
    assert!(got == fix, "downloaded bytes differ from 1.2.0's");

    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_rollout_reaches_installs_by_their_id() {
    use productivitypro_updater_server::snapshot::bucket;

    let svc = Service::start(key_a()).await;
    svc.publish("1.2.0", 0.0).await;
    let app = mock_app("1.1.0", key_a());

    // One install inside the first half of 1.2.0's rollout, one outside it.
    let ids: Vec<Uuid> = std::iter::repeat_with(Uuid::new_v4).take(64).collect();
    let inside = *ids.iter().find(|id| bucket(id, "1.2.0") < 5_000).unwrap();
    let outside = *ids.iter().find(|id| bucket(id, "1.2.0") >= 5_000).unwrap();

    for id in [inside, outside] {
        assert!(check(&app, &svc, id).await.is_none(), "0%: {id}");
    }

    svc.rollout("1.2.0", 50.0).await;
    let update = check(&app, &svc, inside)
        .await
        .expect("50%: the install inside the rollout is offered 1.2.0");
    assert_eq!(update.version, "1.2.0");
    assert_eq!(rollout(&update), 50.0);
    assert!(check(&app, &svc, outside).await.is_none(), "50%: outside");
    // Without an install id a partial rollout reaches nobody.
    let anonymous = updater(&app, &svc, None, false).check().await.unwrap();
    assert!(anonymous.is_none(), "50%: no X-Install-Id");

    svc.rollout("1.2.0", 100.0).await;
    for id in [inside, outside] {
        let update = check(&app, &svc, id).await.expect("100%");
        assert_eq!(update.version, "1.2.0");
        assert_eq!(rollout(&update), 100.0);
        download(&update).await.expect("1.2.0 verifies");
    }

    svc.stop().await;
}
