//! Scratch databases for the clients' test suites: they run the real
//! service on PostgreSQL too (under `scripts/with-postgres`), each server
//! on a database of its own so runs never see each other's accounts.

use std::sync::Arc;

use sqlx::Connection as _;

use crate::clock::Clock;
use crate::config::HashCost;
use crate::{Config, Server};

/// The environment variable that picks the backend of the clients' sync
/// tests: `postgres` (needs `PRODUCTIVITYPRO_TEST_DATABASE_URL`, which
/// `scripts/with-postgres` sets); anything else or unset: SQLite.
pub const CLIENT_BACKEND_VAR: &str = "PRODUCTIVITYPRO_SYNC_CLIENT_BACKEND";

/// The database URL a client test's server should use: a fresh
/// PostgreSQL database when the clients' tests run on PostgreSQL, else
/// SQLite in `dir`.
pub async fn database_url(dir: &std::path::Path) -> String {
    if std::env::var(CLIENT_BACKEND_VAR).as_deref() != Ok("postgres") {
        return format!("sqlite://{}/sync.db", dir.display());
    }
    let admin = std::env::var("PRODUCTIVITYPRO_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("{CLIENT_BACKEND_VAR}=postgres needs PRODUCTIVITYPRO_TEST_DATABASE_URL: run under scripts/with-postgres")
    });
    fresh_postgres(&admin).await
}

/// A new, empty database on the PostgreSQL server `admin` points at.
pub async fn fresh_postgres(admin: &str) -> String {
    let name = format!("c_{}", hex::encode(rand::random::<[u8; 8]>()));
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("connect to the test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a scratch database");
    let base = admin.rsplit_once('/').expect("a database URL").0;
    format!("{base}/{name}")
}

/// Whether the clients' sync tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(CLIENT_BACKEND_VAR).as_deref() == Ok("postgres")
}

/// A sync service on loopback with a runtime of its own, for the clients'
/// blocking tests: SQLite in a temporary folder or a scratch PostgreSQL
/// database (see [`database_url`]), cheap login hashing, text logs. Stops
/// when dropped.
pub struct TestService {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    _dir: tempfile::TempDir,
}

impl TestService {
    /// Panics when the service cannot start: a test cannot go on without it.
    pub fn start(clock: Arc<dyn Clock>) -> TestService {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime for the test service");
        let dir = tempfile::tempdir().expect("a temporary folder for the test service");
        let mut config = Config {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(rt.block_on(database_url(dir.path()))),
            log_format: "text".into(),
            login_hash: HashCost {
                m_kib: 8192,
                t: 1,
                p: 1,
            },
            ..Config::default()
        };
        // Client tests sign in many times from one address on purpose; the
        // per-address sign-in limit has its own tests in `tests/api.rs`.
        config.rate.auth_per_ip = 1_000_000;
        let server = rt
            .block_on(Server::start(config, clock))
            .expect("the test sync service starts");
        let base = format!("http://{}", server.addr);
        TestService {
            rt,
            server: Some(server),
            base,
            _dir: dir,
        }
    }

    /// Stops the service now (a test of what clients do when it is gone).
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.stop();
    }
}
