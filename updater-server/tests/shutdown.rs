//! Issue 11.7: stopping keeps what was counted, and staging stays bounded.

mod common;

use std::time::Duration;

use common::{code_of, Harness};
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::Channel;
use sqlx::Connection;

const LINUX: &str = "linux-x86_64-appimage";

/// Holds the database's write lock (SQLite) or the telemetry table (PostgreSQL)
/// until the returned sender fires, so a flush started meanwhile has to wait.
async fn block_telemetry_writes(db: &str) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
    let db = db.to_string();
    tokio::spawn(async move {
        if db.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(&db).await.unwrap();
            let mut t = c.begin().await.unwrap();
            sqlx::query("LOCK TABLE telemetry_counts IN EXCLUSIVE MODE")
                .execute(&mut *t)
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = rx.await;
            t.commit().await.unwrap();
        } else {
            let pool = sqlx::AnyPool::connect(&db).await.unwrap();
            let t = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
            locked_tx.send(()).unwrap();
            let _ = rx.await;
            t.commit().await.unwrap();
        }
    });
    locked_rx.await.unwrap();
    tx
}

/// Stopping aborted a flush that had already taken the counts from memory,
/// and the final flush found nothing left to write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_writes_the_telemetry_a_flush_had_taken_from_memory() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        // The loops run once at start and then not again during the test, so
        // the one flush that takes the counts is the one started below: with
        // a short interval, a loop flush could take the first session alone
        // and block on the database while the rest stay in memory.
        let h = Harness::start_with(&db, |c| {
            c.telemetry.flush_interval = Duration::from_secs(3600);
            c.gate_interval = Duration::from_secs(3600);
        })
        .await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        let release = block_telemetry_writes(&db).await;
        let installs: Vec<uuid::Uuid> = (0..5).map(|_| uuid::Uuid::new_v4()).collect();
        for id in &installs {
            assert_eq!(h.session(id, "1.0.0", "stable").await, 202);
        }
        assert!(
            !h.server.state.ingest.is_empty(),
            "sessions were not counted"
        );
        // A flush as the flush loop runs it: it takes the counts, then waits
        // for the database; stopping aborts it as it aborts the loops.
        let state = h.server.state.clone();
        let flush = tokio::spawn({
            let state = state.clone();
            async move { state.flush_telemetry().await }
        });
        for _ in 0..500 {
            if state.ingest.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(state.ingest.is_empty(), "the flush never took the counts");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !flush.is_finished(),
            "the flush did not wait for the database"
        );
        flush.abort();
        let stopping = tokio::spawn(h.server.stop());
        tokio::time::sleep(Duration::from_millis(300)).await;
        release.send(()).unwrap();
        stopping.await.unwrap().unwrap();
        let health = state.db.health(0).await.unwrap();
        assert_eq!(
            health.overall.get("1.0.0").map(|h| h.sessions),
            Some(5),
            "sessions taken from memory before the stop were lost"
        );
    }
}

fn staged_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.flatten()
            .map(|e| match e.path().is_dir() {
                true => staged_bytes(&e.path()),
                false => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// Staging had no bound: concurrent uploads could fill the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_cannot_fill_staging_beyond_its_bound() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.max_artifact_bytes = 1 << 20;
            c.max_staging_bytes = 600 << 10;
        })
        .await;
        // Holds one upload of 500 KiB in staging, unfinished.
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
            }));
        let big = vec![1u8; 500 << 10];
        let req = PublishRequest {
            version: "1.0.0".into(),
            notes: String::new(),
            channel: Channel::Stable,
            percent: 100.0,
            artifacts: vec![ArtifactSpec {
                platform: LINUX.parse().unwrap(),
                file_name: "a.bin".into(),
                signature: h.key.sign(&big, "a.bin", "1.0.0"),
                url: None,
            }],
        };
        let form = reqwest::multipart::Form::new()
            .text("release", serde_json::to_string(&req).unwrap())
            .part(
                LINUX,
                reqwest::multipart::Part::stream(body).file_name("a.bin"),
            );
        let held = tokio::spawn(
            h.http
                .post(format!("{}/v1/releases", h.base))
                .bearer_auth(&h.token)
                .multipart(form)
                .send(),
        );
        tx.send(big[..400 << 10].to_vec()).await.unwrap();
        for _ in 0..200 {
            if staged_bytes(&h.dir.path().join("staging")) >= 400 << 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A second upload would take staging past its bound.
        let mut second = req.clone();
        second.version = "1.0.1".into();
        second.artifacts[0].signature = h.key.sign(&big, "a.bin", "1.0.1");
        let r = h.publish_raw(&second, vec![(LINUX.into(), big.clone())]);
        let (status, code) = code_of(r.await).await;
        assert_eq!((status, code.as_str()), (503, "staging_full"));
        // The first one finishes, and its bytes leave staging for the store.
        tx.send(big[400 << 10..].to_vec()).await.unwrap();
        drop(tx);
        assert_eq!(held.await.unwrap().unwrap().status(), 201);
        let r = h.publish_raw(&second, vec![(LINUX.into(), big.clone())]);
        assert_eq!(r.await.status(), 201, "the budget is returned");
        h.stop().await;
    }
}
