//! Two stateless replicas on one real PostgreSQL: a push on replica 1
//! reaches a socket on replica 2 through LISTEN/NOTIFY (there is no
//! polling), sign-outs reach sockets on the other replica, and concurrent
//! pushes through both replicas get gapless cursors that a client can
//! verify.

mod common;

use std::time::{Duration, Instant};

use common::{now_ms, Harness};
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::{MemoryDevice, Notifications, SyncClient};
use productivitypro_sync_protocol::RecordId;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_on_one_replica_reaches_a_socket_on_the_other() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let r1 = Harness::start(&db).await;
    let r2 = Harness::start(&db).await;
    let (login, s1) = r1.signup().await;
    let mut a = r1.device(&s1);
    let sb = r1.login(login).await;
    let mut b = MemoryDevice::new(
        SyncClient::new(&r2.base),
        &sb.session,
        sb.key.clone(),
        common::rng(),
    );
    // Readiness includes the listener: wait until replica 2 listens.
    for _ in 0..100 {
        if r2
            .http
            .get(format!("{}/readyz", r2.base))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut socket = Notifications::connect(&r2.base, &b.token).await.unwrap();
    assert_eq!(socket.next().await.unwrap(), Some(Notice::Head { head: 0 }));

    let mut latencies = Vec::new();
    for i in 1..=5u64 {
        a.set(
            "task",
            RecordId([i as u8; 16]),
            "title",
            json!(format!("from replica 1, #{i}")),
            now_ms(),
        )
        .unwrap();
        let sent = Instant::now();
        a.sync().await.unwrap();
        let notice = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("the notice crosses replicas")
            .unwrap();
        latencies.push(sent.elapsed());
        assert_eq!(notice, Some(Notice::Head { head: i }));
        b.sync().await.unwrap();
        assert_eq!(b.replica.view(), a.replica.view());
    }
    eprintln!("push on replica 1 → notice on replica 2 (incl. the push): {latencies:?}");

    // A sign-out on replica 1 closes the device's socket on replica 2.
    r1.client.sign_out(&a.token, Some(b.device)).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, Some(Notice::SignedOut));
    r2.stop().await;
    r1.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes_through_two_replicas_get_gapless_cursors() {
    let Some(db) = common::postgres().await else {
        return;
    };
    let r1 = Harness::start(&db).await;
    let r2 = Harness::start(&db).await;
    let (login, s) = r1.signup().await;
    let mut devices = vec![r1.device(&s)];
    for i in 0..3 {
        let si = r1.login(login).await;
        let base = if i % 2 == 0 { &r2.base } else { &r1.base };
        devices.push(MemoryDevice::new(
            SyncClient::new(base),
            &si.session,
            si.key.clone(),
            common::rng(),
        ));
    }
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(n, mut d)| {
            tokio::spawn(async move {
                for i in 0..15u8 {
                    d.set(
                        "task",
                        RecordId([n as u8 * 16 + i; 16]),
                        "title",
                        json!(i),
                        now_ms(),
                    )
                    .unwrap();
                    d.seal();
                    d.push().await.unwrap();
                }
                d
            })
        })
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap());
    }
    let sr = r2.login(login).await;
    let mut reader = MemoryDevice::new(
        SyncClient::new(&r2.base),
        &sr.session,
        sr.key.clone(),
        common::rng(),
    );
    reader.page_limit = Some(7);
    let r = reader.sync().await.unwrap();
    assert_eq!((r.pulled_batches, r.pulled_ops), (60, 60));
    assert_eq!(reader.chain.cursor, 60);
    assert_eq!(reader.replica.view().len(), 60);
    r2.stop().await;
    r1.stop().await;
}
