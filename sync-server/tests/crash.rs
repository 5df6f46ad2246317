//! SIGKILL the real `sync-server` process, again and again, while three
//! devices push: every batch the server acknowledged is there afterwards,
//! exactly once, and every device's chain is whole (a fresh device verifies
//! them all). Retries after a kill resend the same sealed bytes, so a push
//! that committed just before the kill is answered as a duplicate.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{now_ms, Harness};
use productivitypro_sync_protocol::client::{MemoryDevice, SyncClient};
use productivitypro_sync_protocol::RecordId;
use rand::Rng as _;
use serde_json::json;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(db: &str, dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .env("SYNC_DATABASE_URL", db)
        .env("SYNC_LOG_FORMAT", "json")
        .env("SYNC_LOGIN_HASH__M_KIB", "8192")
        .env("SYNC_LOGIN_HASH__T", "1")
        .env("SYNC_RATE__PER_IP", "1000000")
        .env("SYNC_RATE__PER_IP_BURST", "1000000")
        .env("SYNC_RATE__PER_ACCOUNT", "1000000")
        .env("SYNC_RATE__PER_ACCOUNT_BURST", "1000000")
        .env("SYNC_RATE__AUTH_PER_IP", "1000000")
        .env("SYNC_RATE__AUTH_BURST", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server did not become ready");
}

fn retryable(code: &str) -> bool {
    matches!(
        code,
        "server_unreachable" | "storage_unavailable" | "bad_response"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_pushes_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = spawn(&db, dir.path(), port);
        wait_ready(&base).await;
        // Accounts and devices through the same helpers as other tests.
        let client = SyncClient::new(&base);
        let (kdf, pk) = common::keys();
        let login = productivitypro_sync_protocol::keys::login_id(&Harness::email()).unwrap();
        let first = productivitypro_sync_protocol::client::account::signup_derived(
            &client,
            login,
            kdf.clone(),
            pk,
            None,
            productivitypro_sync_protocol::DeviceId::random(&mut common::rng()),
            None,
            &mut common::rng(),
        )
        .await
        .unwrap();
        let mut sessions = vec![first];
        for _ in 0..2 {
            sessions.push(
                productivitypro_sync_protocol::client::account::login(
                    &client,
                    login,
                    pk,
                    productivitypro_sync_protocol::DeviceId::random(&mut common::rng()),
                    None,
                )
                .await
                .unwrap(),
            );
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let mut d =
                    MemoryDevice::new(client.clone(), &s.session, s.key.clone(), common::rng());
                d.max_ops_per_batch = 3;
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut i = 0u32;
                    while !stop.load(Ordering::SeqCst)
                        || d.unacked_batches() > 0
                        || d.pending_ops() > 0
                    {
                        if !stop.load(Ordering::SeqCst) {
                            for _ in 0..4 {
                                i += 1;
                                d.set("task", RecordId([n as u8; 16]), "title", json!(i), now_ms())
                                    .unwrap();
                                d.set(
                                    "task",
                                    RecordId([100 + (i % 50) as u8; 16]),
                                    "notes",
                                    json!(format!("{n}:{i}")),
                                    now_ms(),
                                )
                                .unwrap();
                            }
                        }
                        match d.sync().await {
                            Ok(_) => {}
                            Err(e) if retryable(e.code()) => {
                                tokio::time::sleep(Duration::from_millis(10)).await
                            }
                            Err(e) => panic!("device {n}: {e}"),
                        }
                    }
                    d
                })
            })
            .collect();
        let mut rng = common::rng();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(150..400))).await;
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..100))).await;
            child = spawn(&db, dir.path(), port);
            wait_ready(&base).await;
        }
        stop.store(true, Ordering::SeqCst);
        let mut devices = Vec::new();
        for w in writers {
            devices.push(
                tokio::time::timeout(Duration::from_secs(60), w)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        // Every device syncs once more so all hold everything.
        for d in devices.iter_mut() {
            d.sync().await.unwrap();
        }
        let s = productivitypro_sync_protocol::client::account::login(
            &client,
            login,
            pk,
            productivitypro_sync_protocol::DeviceId::random(&mut common::rng()),
            None,
        )
        .await
        .unwrap();
        let mut fresh = MemoryDevice::new(client.clone(), &s.session, s.key.clone(), common::rng());
        fresh.page_limit = Some(50);
        let report = fresh.sync().await.unwrap();
        let acked_batches: u64 = devices.iter().map(|d| d.chain.own_acked).sum();
        assert_eq!(
            report.pulled_batches as u64, acked_batches,
            "each acknowledged batch exactly once"
        );
        assert_eq!(fresh.chain.cursor, acked_batches, "cursors are gapless");
        for d in &devices {
            assert_eq!(fresh.chain.chains[&d.device].seq(), d.chain.own_acked);
            assert_eq!(d.replica.view(), fresh.replica.view());
        }
        assert!(
            acked_batches > 20,
            "the devices pushed during the kills ({acked_batches})"
        );
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
