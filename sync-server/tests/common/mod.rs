//! A real sync service on loopback for each test, on SQLite or — when
//! `PRODUCTIVITYPRO_TEST_DATABASE_URL` is set (scripts/with-postgres) — on a
//! fresh database of a real PostgreSQL server; and real clients for it.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use productivitypro_sync_protocol::client::account::{self, SignedIn};
use productivitypro_sync_protocol::client::{MemoryDevice, SyncClient};
use productivitypro_sync_protocol::keys::{self, KdfParams, PassphraseKeys};
use productivitypro_sync_protocol::{DeviceId, LoginId};
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::config::HashCost;
use productivitypro_sync_server::{Config, Server};
use rand::SeedableRng;
use sqlx::Connection;

pub type Rng = rand_chacha::ChaCha20Rng;
pub type Device = MemoryDevice<Rng>;

pub const PASSPHRASE: &str = "correct horse battery staple";
pub const T0: i64 = 1_795_000_000;

/// Database URLs to run a test against: SQLite always, PostgreSQL when available.
pub async fn databases(dir: &std::path::Path) -> Vec<String> {
    let mut out = vec![format!("sqlite://{}/sync.db", dir.display())];
    if let Some(pg) = postgres().await {
        out.push(pg);
    }
    out
}

/// A fresh PostgreSQL database, if the test PostgreSQL is available.
pub async fn postgres() -> Option<String> {
    match std::env::var("PRODUCTIVITYPRO_TEST_DATABASE_URL") {
        Ok(admin) => {
            let name = format!("s_{}", hex::encode(rand::random::<[u8; 8]>()));
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to the test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let base = admin.rsplit_once('/').unwrap().0;
            Some(format!("{base}/{name}"))
        }
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must run these tests against PostgreSQL too: run them under scripts/with-postgres")
        }
        Err(_) => {
            eprintln!("PRODUCTIVITYPRO_TEST_DATABASE_URL unset: PostgreSQL skipped (scripts/with-postgres sets it)");
            None
        }
    }
}

pub fn config(dir: &std::path::Path, db: &str) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url: Some(db.to_string()),
        log_format: "text".into(),
        // The real algorithm at a lower cost: tests sign in hundreds of times.
        login_hash: HashCost {
            m_kib: 8192,
            t: 1,
            p: 1,
        },
        ..Config::default()
    };
    c.rate.per_ip = 1_000_000;
    c.rate.per_ip_burst = 1_000_000;
    c.rate.per_account = 1_000_000;
    c.rate.per_account_burst = 1_000_000;
    c.rate.auth_per_ip = 1_000_000;
    c.rate.auth_burst = 1_000_000;
    c
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub server: Server,
    pub clock: Arc<ManualClock>,
    pub base: String,
    pub client: SyncClient,
    pub http: reqwest::Client,
    pub db: String,
}

/// The passphrase stretched once per test process (Argon2id at 64 MiB is
/// the slow part of every sign-in; the server never sees the difference).
pub fn keys() -> &'static (KdfParams, PassphraseKeys) {
    static K: OnceLock<(KdfParams, PassphraseKeys)> = OnceLock::new();
    K.get_or_init(|| {
        let kdf = KdfParams {
            salt: vec![7; 16],
            m_kib: keys::MIN_M_KIB,
            t: keys::MIN_T,
            p: 1,
        };
        let pk = keys::derive_passphrase_keys(PASSPHRASE, &kdf).unwrap();
        (kdf, pk)
    })
}

pub fn rng() -> Rng {
    Rng::from_entropy()
}

impl Harness {
    pub async fn start(db: &str) -> Harness {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &str, tweak: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path(), db);
        tweak(&mut c);
        let clock = Arc::new(ManualClock::new(T0));
        let server = Server::start(c, clock.clone()).await.unwrap();
        let base = format!("http://{}", server.addr);
        Harness {
            dir,
            client: SyncClient::new(&base),
            server,
            clock,
            base,
            http: reqwest::Client::new(),
            db: db.to_string(),
        }
    }

    pub fn email() -> String {
        format!(
            "user-{}@example.com",
            hex::encode(rand::random::<[u8; 6]>())
        )
    }

    /// A new account and its first device.
    pub async fn signup(&self) -> (LoginId, SignedIn) {
        self.signup_with_recovery(None).await
    }

    pub async fn signup_with_recovery(&self, recovery: Option<&[u8; 32]>) -> (LoginId, SignedIn) {
        let (kdf, pk) = keys();
        let login = keys::login_id(&Self::email()).unwrap();
        let s = account::signup_derived(
            &self.client,
            login,
            kdf.clone(),
            pk,
            recovery,
            DeviceId::random(&mut rng()),
            Some("test device"),
            &mut rng(),
        )
        .await
        .unwrap();
        (login, s)
    }

    /// Another device signing in to `login`.
    pub async fn login(&self, login: LoginId) -> SignedIn {
        account::login(
            &self.client,
            login,
            &keys().1,
            DeviceId::random(&mut rng()),
            None,
        )
        .await
        .unwrap()
    }

    pub fn device(&self, s: &SignedIn) -> Device {
        MemoryDevice::new(self.client.clone(), &s.session, s.key.clone(), rng())
    }

    pub async fn stop(self) {
        self.server.stop().await.unwrap();
    }

    /// Status and error code of a raw request.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, String) {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        code_of(rb.send().await.unwrap()).await
    }
}

pub async fn code_of(r: reqwest::Response) -> (u16, String) {
    let s = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    (s, v["code"].as_str().unwrap_or_default().to_string())
}

/// Milliseconds for HLC ticks in tests (the HLC is what orders, not this).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A loopback TCP forwarder that keeps every byte in both directions: what
/// a network observer would capture.
pub struct Tap {
    pub addr: std::net::SocketAddr,
    pub captured: Arc<std::sync::Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    pub async fn start(upstream: std::net::SocketAddr) -> Tap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let captured = Arc::new(std::sync::Mutex::new(Vec::new()));
        let cap = captured.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, cap.clone()));
                tokio::spawn(pipe(sr, cw, cap.clone()));
            }
        });
        Tap {
            addr,
            captured,
            task,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.captured.lock().unwrap().clone()
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cap: Arc<std::sync::Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        cap.lock().unwrap().extend_from_slice(&buf[..n]);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
