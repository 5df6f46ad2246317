//! Scratch databases for the clients' test suites: they run the real
//! service on PostgreSQL too (under `scripts/with-postgres`), each server
//! on a database of its own so runs never see each other's accounts.

use sqlx::Connection as _;

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
