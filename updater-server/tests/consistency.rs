//! Issue 11.6: what replicas and concurrent writers see of the database —
//! one state per snapshot load, all-or-nothing steps, state checks inside the
//! transaction that acts on them — and a damaged schema marker read as an
//! error.

mod common;

use std::time::Duration;

use common::{code_of, Harness};
use productivitypro_protocol::Channel;
use productivitypro_updater_server::db::{Db, DbError};
use serde_json::json;
use sqlx::Connection;

const LINUX: &str = "linux-x86_64-appimage";

fn rollout_of(state: &productivitypro_updater_server::db::State, version: &str) -> i64 {
    state
        .rollouts
        .iter()
        .find(|r| r.version == version)
        .map(|r| r.percent_bps)
        .unwrap()
}

/// A snapshot load read `generation` and each table in its own statement;
/// on PostgreSQL (READ COMMITTED) a change committed in between mixed two
/// states under one generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_load_sees_one_state_of_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 10.0, &[LINUX])
                .await
                .status(),
            201
        );
        let before = h.server.state.db.load_state().await.unwrap();
        assert_eq!(rollout_of(&before, "1.0.0"), 1_000);

        // A writer changes a rollout and bumps the generation in one
        // transaction, committing while a load is under way. On PostgreSQL the
        // load is held at its last table by a lock the writer holds; SQLite
        // readers never wait, so there the load simply races the writer.
        let writer = async {
            if db.starts_with("postgres") {
                let mut c = sqlx::PgConnection::connect(&db).await.unwrap();
                let mut tx = c.begin().await.unwrap();
                sqlx::query("LOCK TABLE rollouts IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE rollouts SET percent_bps = 5000 WHERE version = '1.0.0'")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                // Long enough for the load to start and block on `rollouts`.
                tokio::time::sleep(Duration::from_millis(500)).await;
                tx.commit().await.unwrap();
            } else {
                let pool = sqlx::AnyPool::connect(&db).await.unwrap();
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query("UPDATE rollouts SET percent_bps = 5000 WHERE version = '1.0.0'")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
                tx.commit().await.unwrap();
            }
        };
        let load = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            h.server.state.db.load_state().await.unwrap()
        };
        let ((), loaded) = tokio::join!(writer, load);
        let pair = (loaded.generation, rollout_of(&loaded, "1.0.0"));
        assert!(
            pair == (before.generation, 1_000) || pair == (before.generation + 1, 5_000),
            "generation {} with the rollout of another state ({} bps)",
            pair.0,
            pair.1
        );
        h.stop().await;
    }
}

/// A failure that aborts any statement writing `action`'s audit row for `version`.
async fn fail_audit(db: &str, action: &str, version: &str) {
    let pool = sqlx::AnyPool::connect(db).await.unwrap();
    let sql = if db.starts_with("postgres") {
        vec![
            format!(
                "CREATE FUNCTION fail_audit() RETURNS trigger AS $$ BEGIN
                   IF NEW.version = '{version}' AND NEW.action = '{action}' THEN
                     RAISE EXCEPTION 'injected failure';
                   END IF;
                   RETURN NEW;
                 END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER fail_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION fail_audit()"
                .to_string(),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER fail_audit BEFORE INSERT ON audit
             WHEN NEW.version = '{version}' AND NEW.action = '{action}'
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )]
    };
    for s in sql {
        sqlx::query(sqlx::AssertSqlSafe(s))
            .execute(&pool)
            .await
            .unwrap();
    }
}

fn percent(status: &serde_json::Value, version: &str) -> f64 {
    status["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version)
        .unwrap()["channels"][0]["percent"]
        .as_f64()
        .unwrap()
}

/// `advance` raised one rollout, then failed on the next and left the first raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_applies_all_of_its_steps_or_none() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        for v in ["1.0.0", "2.0.0"] {
            assert_eq!(
                h.publish(v, Channel::Canary, 1.0, &[LINUX]).await.status(),
                201
            );
            let install = uuid::Uuid::new_v4();
            assert_eq!(h.session(&install, v, "canary").await, 202);
        }
        let mut policy = productivitypro_protocol::policy::Policy::from_toml(
            productivitypro_updater_server::config::DEFAULT_POLICY,
        )
        .unwrap();
        policy.gates.min_sessions = 1;
        h.clock.advance(policy.rollout.bake_time);
        // 2.0.0 is raised first (newest first); the write for 1.0.0 then fails.
        fail_audit(&db, "rollout", "1.0.0").await;
        let r = h.post("/v1/rollouts/advance", json!(policy)).await;
        assert_eq!(code_of(r).await, (503, "storage_unavailable".into()));
        h.server.state.refresh().await.unwrap();
        let status = h.get_json("/v1/status").await;
        assert_eq!(
            (percent(&status, "2.0.0"), percent(&status, "1.0.0")),
            (1.0, 1.0),
            "a failed advance changed nothing"
        );
        let audit = h.get_json("/v1/audit").await;
        assert_eq!(audit["entries"][0]["action"], "publish", "{audit}");
        h.stop().await;
    }
}

/// Rollout and promote went through on a halted release, and a replica whose
/// snapshot had not seen a halt or rollback yet could still raise it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_release_is_not_raised_or_promoted_even_by_a_stale_replica() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Canary, 10.0, &[LINUX])
                .await
                .status(),
            201
        );
        let dir2 = tempfile::tempdir().unwrap();
        let mut c = common::config(dir2.path(), &db, &h.key);
        c.refresh_interval = Duration::from_secs(3600);
        let replica = productivitypro_updater_server::Server::start(c, h.clock.clone())
            .await
            .unwrap();
        let on_replica = |path: &str, body: serde_json::Value| {
            h.http
                .post(format!("http://{}{path}", replica.addr))
                .bearer_auth(&h.token)
                .json(&body)
                .send()
        };
        let raise = json!({"channel": "canary", "percent": 50});
        let promote = json!({"channel": "beta", "percent": 5});
        for stop in ["halt", "rollback"] {
            assert_eq!(
                h.post(&format!("/v1/releases/1.0.0/{stop}"), json!({}))
                    .await
                    .status(),
                204
            );
            for (path, body) in [
                ("/v1/releases/1.0.0/rollout", &raise),
                ("/v1/releases/1.0.0/promote", &promote),
            ] {
                assert_eq!(
                    code_of(h.post(path, body.clone()).await).await,
                    (409, "invalid_state".into()),
                    "{stop} then {path}"
                );
                // The replica still believes 1.0.0 is active.
                assert_eq!(
                    code_of(on_replica(path, body.clone()).await.unwrap()).await,
                    (409, "invalid_state".into()),
                    "{stop} then {path} on a stale replica"
                );
            }
            assert_eq!(
                h.post("/v1/releases/1.0.0/resume", json!({}))
                    .await
                    .status(),
                204
            );
        }
        let status = h.get_json("/v1/status").await;
        assert_eq!(percent(&status, "1.0.0"), 10.0, "{status}");
        assert_eq!(
            status["releases"][0]["channels"].as_array().unwrap().len(),
            1
        );
        assert_eq!(
            h.post("/v1/releases/1.0.0/rollout", raise).await.status(),
            204
        );
        replica.stop().await.unwrap();
        h.stop().await;
    }
}

/// A negative schema number in `meta` made the service panic at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_schema_marker_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        drop(Db::connect(&db).await.unwrap());
        let pool = sqlx::AnyPool::connect(&db).await.unwrap();
        for bad in ["-1", "-9223372036854775808"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE meta SET value = {bad} WHERE key = 'schema'"
            )))
            .execute(&pool)
            .await
            .unwrap();
            let result = tokio::spawn({
                let db = db.clone();
                async move { Db::connect(&db).await.map(|_| ()) }
            })
            .await;
            match result {
                Ok(Err(DbError::CorruptSchema(v))) => assert_eq!(v.to_string(), bad),
                Ok(other) => panic!("schema {bad}: expected CorruptSchema, got {other:?}"),
                Err(panic) => panic!("schema {bad}: Db::connect panicked: {panic}"),
            }
        }
        if db.starts_with("sqlite") {
            // SQLite keeps text in a BIGINT column as text.
            sqlx::query("UPDATE meta SET value = 'two' WHERE key = 'schema'")
                .execute(&pool)
                .await
                .unwrap();
            assert!(Db::connect(&db).await.is_err());
        }
        pool.close().await;
    }
}
