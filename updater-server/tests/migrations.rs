//! Databases written by earlier versions of the service open with everything
//! that can be carried forward.

mod common;

use productivitypro_updater_server::db::Db;

/// Schema 1, as the first release of the service created it.
fn schema_1(id: &str) -> Vec<String> {
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "CREATE TABLE releases (version TEXT PRIMARY KEY, notes TEXT NOT NULL, state TEXT NOT NULL,
            state_reason TEXT, published_at BIGINT NOT NULL, published_by TEXT NOT NULL)",
        "CREATE TABLE artifacts (version TEXT NOT NULL REFERENCES releases(version), platform TEXT NOT NULL,
            file_name TEXT NOT NULL, url TEXT, object_key TEXT, size BIGINT NOT NULL, sha256 TEXT NOT NULL,
            signature TEXT NOT NULL, PRIMARY KEY (version, platform))",
        "CREATE TABLE rollouts (version TEXT NOT NULL REFERENCES releases(version), channel TEXT NOT NULL,
            percent_bps BIGINT NOT NULL, since BIGINT NOT NULL, PRIMARY KEY (version, channel))",
        "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT)",
        "CREATE TABLE audit (id {id}, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            version TEXT, detail TEXT NOT NULL)",
        "CREATE TABLE telemetry_hourly (version TEXT NOT NULL, channel TEXT NOT NULL, hour BIGINT NOT NULL,
            kind TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (version, channel, hour, kind))",
        "CREATE TABLE installs_seen (version TEXT NOT NULL, install_id TEXT NOT NULL,
            PRIMARY KEY (version, install_id))",
        "INSERT INTO meta (key, value) VALUES ('generation', 3)",
        "INSERT INTO meta (key, value) VALUES ('schema', 1)",
        "INSERT INTO releases VALUES ('1.0.0', 'n', 'active', NULL, 1795000000, 'ci')",
        "INSERT INTO rollouts VALUES ('1.0.0', 'stable', 10000, 1795000000)",
        "INSERT INTO audit (at, actor, action, version, detail) VALUES (1795000000, 'ci', 'publish', '1.0.0', 'published')",
        "INSERT INTO telemetry_hourly VALUES ('1.0.0', 'stable', 1795424400, 'session_start', 40)",
        "INSERT INTO telemetry_hourly VALUES ('1.0.0', 'stable', 1795424400, 'crash', 2)",
        "INSERT INTO telemetry_hourly VALUES ('1.0.0', 'beta', 1795428000, 'update_failed', 1)",
        "INSERT INTO installs_seen VALUES ('1.0.0', '6f1c1f5e-0d0c-4a8e-9d59-3b2f3c1a7e10')",
    ]
    .iter()
    .map(|s| s.replace("{id}", id))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_1_database_is_migrated_forward() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        sqlx::any::install_default_drivers();
        let url = match db.starts_with("sqlite:") {
            true => format!("{db}?mode=rwc"),
            false => db.clone(),
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let id = match db.starts_with("sqlite:") {
            true => "INTEGER PRIMARY KEY AUTOINCREMENT",
            false => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        for sql in schema_1(id) {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;

        let migrated = Db::connect(&db).await.unwrap();
        let state = migrated.load_state().await.unwrap();
        assert_eq!(state.generation, 3);
        assert_eq!(state.releases.len(), 1);
        assert!(state.platform_states.is_empty());
        assert_eq!(migrated.audit(10).await.unwrap().len(), 1);
        // Counts keep their hours, under platform `unknown`.
        let health = migrated.health(0).await.unwrap();
        let h = &health.overall["1.0.0"];
        assert_eq!((h.sessions, h.crashes, h.updates_failed), (40, 2, 1));
        let stable = health.channel("1.0.0", "stable", |_| false);
        assert_eq!((stable.sessions, stable.crashes), (40, 2));
        assert!(health.cells.keys().all(|(_, _, p)| p == "unknown"));
        // The old per-install rows had no time and are gone; no install counts yet.
        assert_eq!(h.installs, 0);
        // Migrating again is a no-op.
        drop(migrated);
        let again = Db::connect(&db).await.unwrap();
        assert_eq!(again.health(0).await.unwrap().overall["1.0.0"].sessions, 40);
    }
}
