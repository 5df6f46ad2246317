//! A real update service on loopback for each test, on SQLite or — when
//! `PRODUCTIVITYPRO_TEST_DATABASE_URL` is set (scripts/with-postgres) — on a
//! fresh database of a real PostgreSQL server.
#![allow(dead_code)]

use std::sync::Arc;

use base64::Engine as _;
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::manifest::UpdateOffer;
use productivitypro_protocol::Channel;
use productivitypro_updater_server::clock::{Clock, ManualClock};
use productivitypro_updater_server::config::{ArtifactConfig, Secret};
use productivitypro_updater_server::{auth, Config, Server};
use sqlx::Connection;

pub struct Key {
    pub pk: minisign::PublicKey,
    pub sk: minisign::SecretKey,
}

impl Key {
    pub fn new() -> Key {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        Key {
            pk: kp.pk,
            sk: kp.sk,
        }
    }
    pub fn public_text(&self) -> String {
        self.pk.to_box().unwrap().to_string()
    }
    pub fn public_b64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.public_text())
    }
    /// Signs as `pprelease sign --version` does: the version is in the trusted comment.
    pub fn sign(&self, bytes: &[u8], file_name: &str, version: &str) -> String {
        self.sign_with_comment(bytes, file_name, &format!("version:{version}"))
    }

    /// Signs as tools that predate signed versions do: `timestamp:..\tfile:..` only.
    pub fn sign_unversioned(&self, bytes: &[u8], file_name: &str) -> String {
        self.sign_with_comment(bytes, file_name, "")
    }

    /// Signs with `extra` (e.g. `version:1.2.0`) appended to the trusted comment.
    pub fn sign_with_comment(&self, bytes: &[u8], file_name: &str, extra: &str) -> String {
        let mut trusted = format!("timestamp:1700000000\tfile:{file_name}");
        if !extra.is_empty() {
            trusted = format!("{trusted}\t{extra}");
        }
        minisign::sign(
            Some(&self.pk),
            &self.sk,
            std::io::Cursor::new(bytes),
            Some(&trusted),
            None,
        )
        .unwrap()
        .to_string()
    }
}

/// Database URLs to run a test against: SQLite always, PostgreSQL when available.
pub async fn databases(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![format!("sqlite://{}/updater.db", dir.display())];
    match std::env::var("PRODUCTIVITYPRO_TEST_DATABASE_URL") {
        Ok(admin) => {
            let name = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
            let base = admin.rsplit_once('/').unwrap().0;
            out.push(format!("{base}/{name}"));
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must run these tests against PostgreSQL too: run them under scripts/with-postgres")
        }
        Err(_) => eprintln!("PRODUCTIVITYPRO_TEST_DATABASE_URL unset: PostgreSQL skipped (scripts/with-postgres sets it)"),
    }
    out
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub key: Key,
    pub token: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub base: String,
}

/// The telemetry secret test replicas share.
pub const TELEMETRY_SECRET: &str = "test-telemetry-secret-of-at-least-32-chars";

/// A test configuration. Loopback is a trusted proxy, so tests stand for
/// installs on many networks by sending `X-Forwarded-For`.
pub fn config(dir: &std::path::Path, db: &str, key: &Key) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.to_string(),
        artifacts: ArtifactConfig::Local {
            path: dir.join("artifacts"),
        },
        staging_dir: dir.join("staging"),
        public_key: Some(key.public_b64()),
        log_format: "text".into(),
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
    };
    c.telemetry.secret = Some(Secret(TELEMETRY_SECRET.into()));
    c
}

/// A network address of its own for `install` (tests' stand-in for a fleet
/// spread over many networks).
pub fn network_of(install: &uuid::Uuid) -> String {
    let b = install.as_bytes();
    format!("10.{}.{}.{}", b[0], b[1], b[2])
}

impl Harness {
    pub async fn start(db: &str) -> Harness {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &str, tweak: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::new();
        let mut c = config(dir.path(), db, &key);
        tweak(&mut c);
        let clock = Arc::new(ManualClock::new("2026-11-23T12:00:00Z".parse().unwrap()));
        let server = Server::start(c, clock.clone()).await.unwrap();
        let token = Self::token_on(&server, &clock, "admin", None).await;
        let base = format!("http://{}", server.addr);
        Harness {
            dir,
            server,
            key,
            token,
            http: reqwest::Client::new(),
            clock,
            base,
        }
    }

    pub async fn token_on(
        server: &Server,
        clock: &ManualClock,
        scopes: &str,
        expires_at: Option<i64>,
    ) -> String {
        let (secret, id) = auth::generate(&mut rand::rngs::OsRng);
        let now = clock.now().timestamp();
        server
            .state
            .db
            .insert_token(&id, "test", &auth::hash(&secret), scopes, now, expires_at)
            .await
            .unwrap();
        secret
    }

    pub async fn token(&self, scopes: &str, expires_at: Option<i64>) -> String {
        Self::token_on(&self.server, &self.clock, scopes, expires_at).await
    }

    /// Publishes `version` with one small artifact per platform key.
    pub async fn publish(
        &self,
        version: &str,
        channel: Channel,
        percent: f64,
        platforms: &[&str],
    ) -> reqwest::Response {
        let mut specs = Vec::new();
        let mut files = Vec::new();
        for p in platforms {
            let name = format!("pp_{version}_{p}.bin");
            let bytes = format!("{version} {p} bytes").into_bytes();
            specs.push(ArtifactSpec {
                platform: p.parse().unwrap(),
                file_name: name.clone(),
                signature: self.key.sign(&bytes, &name, version),
                url: None,
            });
            files.push((p.to_string(), bytes));
        }
        self.publish_raw(
            &PublishRequest {
                version: version.into(),
                notes: format!("notes {version}"),
                channel,
                percent,
                artifacts: specs,
            },
            files,
        )
        .await
    }

    pub async fn publish_raw(
        &self,
        req: &PublishRequest,
        files: Vec<(String, Vec<u8>)>,
    ) -> reqwest::Response {
        let mut form =
            reqwest::multipart::Form::new().text("release", serde_json::to_string(req).unwrap());
        for (name, bytes) in files {
            form = form.part(name, reqwest::multipart::Part::bytes(bytes).file_name("f"));
        }
        self.http
            .post(format!("{}/v1/releases", self.base))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// One update check; Ok(None) is a 204.
    pub async fn check(
        &self,
        path: &str,
        install: Option<&uuid::Uuid>,
    ) -> Result<Option<UpdateOffer>, (u16, String)> {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(id) = install {
            rb = rb.header("X-Install-Id", id.to_string());
        }
        let r = rb.send().await.unwrap();
        match r.status().as_u16() {
            204 => Ok(None),
            200 => Ok(Some(UpdateOffer::parse(&r.bytes().await.unwrap()).unwrap())),
            s => {
                let body: serde_json::Value = r.json().await.unwrap();
                Err((s, body["code"].as_str().unwrap_or_default().to_string()))
            }
        }
    }

    pub async fn telemetry(&self, body: &serde_json::Value) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/v1/telemetry", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let code = r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["code"].as_str().map(String::from));
        (s, code.unwrap_or_default())
    }

    /// A telemetry token for `install` on `version`, asked from `network`.
    pub async fn telemetry_token(
        &self,
        install: &uuid::Uuid,
        version: &str,
        channel: &str,
        network: &str,
    ) -> Result<String, (u16, String)> {
        let r = self
            .http
            .post(format!("{}/v1/telemetry/token", self.base))
            .header("X-Forwarded-For", network)
            .json(
                &serde_json::json!({"install_id": install, "version": version, "channel": channel}),
            )
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => Ok(r.json::<serde_json::Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string()),
            _ => Err(code_of(r).await),
        }
    }

    /// A report from `install` on `version` (linux-x86_64, AppImage) of
    /// `kinds` at `at`, with a token asked for it from its own network.
    pub async fn report(
        &self,
        install: &uuid::Uuid,
        version: &str,
        channel: &str,
        kinds: &[&str],
        at: &str,
    ) -> (u16, String) {
        self.report_on(
            install,
            version,
            channel,
            "linux-x86_64-appimage",
            kinds,
            at,
        )
        .await
    }

    /// `report` from an install on `platform`.
    pub async fn report_on(
        &self,
        install: &uuid::Uuid,
        version: &str,
        channel: &str,
        platform: &str,
        kinds: &[&str],
        at: &str,
    ) -> (u16, String) {
        let token = match self
            .telemetry_token(install, version, channel, &network_of(install))
            .await
        {
            Ok(t) => t,
            Err(e) => return e,
        };
        let p: Vec<&str> = platform.split('-').collect();
        self.telemetry(&serde_json::json!({
            "install_id": install, "version": version, "channel": channel, "os": p[0],
            "arch": p[1], "bundle_type": p[2], "token": token,
            "events": kinds.iter().map(|k| serde_json::json!({"kind": k, "at": at})).collect::<Vec<_>>(),
        }))
        .await
    }

    /// One `session_start` report from `install`, as an app on `version` sends it.
    pub async fn session(&self, install: &uuid::Uuid, version: &str, channel: &str) -> u16 {
        let at = self.clock.now().to_rfc3339();
        self.report(install, version, channel, &["session_start"], &at)
            .await
            .0
    }

    pub async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

pub async fn code_of(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    (s, v["code"].as_str().unwrap_or_default().to_string())
}
