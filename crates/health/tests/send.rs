//! The health sender against the real update service on loopback (SQLite,
//! and PostgreSQL under scripts/with-postgres): events queued on disk reach
//! the service's gates, and each refusal does what `send.rs` promises.

#[path = "../../../updater-server/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::Harness;
use productivitypro_health::crash::CrashLog;
use productivitypro_health::queue::{Queue, Queued};
use productivitypro_health::report::Install;
use productivitypro_health::send::{Sender, Tokens};
use productivitypro_protocol::telemetry::EventKind;
use productivitypro_protocol::{Arch, BundleType, Channel, Os};
use productivitypro_updater_server::clock::Clock as _;
use serde_json::json;
use uuid::Uuid;

const LINUX_DEB: &str = "linux-x86_64-deb";

fn install() -> Install {
    Install {
        id: Uuid::new_v4(),
        os: Os::Linux,
        arch: Arch::X86_64,
        bundle_type: Some(BundleType::Deb),
    }
}

fn sender(h: &Harness) -> Sender {
    Sender::new(h.base.parse().unwrap(), "productivitypro-health-test").unwrap()
}

/// The service on `db` with 1.0.0 published to stable at 100%, and an
/// empty queue in a folder of its own.
struct Setup {
    h: Harness,
    queue: Queue,
    now: chrono::DateTime<chrono::Utc>,
    dir: tempfile::TempDir,
}

async fn setup(db: &str) -> Setup {
    let h = Harness::start(db).await;
    assert_eq!(
        h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX_DEB])
            .await
            .status(),
        201
    );
    let dir = tempfile::tempdir().unwrap();
    Setup {
        queue: Queue::in_dir(dir.path()),
        now: h.clock.now(),
        h,
        dir,
    }
}

fn event(h: &Harness, kind: EventKind, version: &str, minutes_ago: i64) -> Queued {
    Queued {
        kind,
        at: h.clock.now() - Duration::minutes(minutes_ago),
        version: version.into(),
        channel: Channel::Stable,
    }
}

async fn health_of(h: &Harness, version: &str) -> serde_json::Value {
    h.server.state.flush_telemetry().await.unwrap();
    let status = h.get_json("/v1/status").await;
    status["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version)
        .unwrap()["health"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_events_and_a_logged_crash_reach_the_service_and_leave_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let Setup { h, queue, now, dir } = setup(&db).await;
        queue
            .push(&[event(&h, EventKind::SessionStart, "1.0.0", 30)], now)
            .unwrap();
        // The panic hook's log from the last run, drained at start.
        CrashLog::in_dir(dir.path())
            .record(now - Duration::minutes(20), "1.0.0", Channel::Stable)
            .unwrap();
        assert_eq!(
            CrashLog::in_dir(dir.path())
                .drain_into(&queue, now)
                .unwrap(),
            1
        );

        let me = install();
        let mut tokens = Tokens::default();
        let f = sender(&h)
            .flush(&queue, &mut tokens, &me, now)
            .await
            .unwrap();
        assert_eq!((f.sent, f.dropped, f.kept), (2, 0, 0), "{:?}", f.error);
        assert!(queue.load(now).is_empty(), "sent events leave the queue");
        let health = health_of(&h, "1.0.0").await;
        assert_eq!(
            (
                &health["installs"],
                &health["crashes"],
                &health["crashed_installs"]
            ),
            (&json!(1), &json!(1), &json!(1)),
            "{health}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_replaced_once_and_the_report_goes_through() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let Setup {
            h,
            queue,
            now,
            dir: _dir,
        } = setup(&db).await;
        queue
            .push(&[event(&h, EventKind::Crash, "1.0.0", 5)], now)
            .unwrap();
        // A token from an old answer, or another install's: refused with 401.
        let mut tokens = Tokens::default();
        tokens.take_from_offer(
            Channel::Stable,
            &BTreeMap::from([("1.0.0".to_string(), "1.1795000000.forged".to_string())]),
        );
        let f = sender(&h)
            .flush(&queue, &mut tokens, &install(), now)
            .await
            .unwrap();
        assert_eq!((f.sent, f.dropped, f.kept), (1, 0, 0), "{:?}", f.error);
        assert!(queue.load(now).is_empty());
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_service_will_never_take_are_dropped_and_the_rest_still_sent() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let Setup {
            h,
            queue,
            now,
            dir: _dir,
        } = setup(&db).await;
        // 9.9.9 is a local build the service never published.
        queue
            .push(
                &[
                    event(&h, EventKind::SessionStart, "9.9.9", 3),
                    event(&h, EventKind::SessionStart, "1.0.0", 2),
                ],
                now,
            )
            .unwrap();
        let f = sender(&h)
            .flush(&queue, &mut Tokens::default(), &install(), now)
            .await
            .unwrap();
        assert_eq!((f.sent, f.dropped, f.kept), (1, 1, 0), "{:?}", f.error);
        assert!(queue.load(now).is_empty(), "nothing left to jam the queue");
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_keeps_every_event_for_the_next_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let db = common::databases(tmp.path()).await.remove(0);
    let Setup {
        h,
        queue,
        now,
        dir: _dir,
    } = setup(&db).await;
    queue
        .push(&[event(&h, EventKind::SessionStart, "1.0.0", 1)], now)
        .unwrap();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let away = Sender::new(format!("http://{closed}").parse().unwrap(), "test").unwrap();
    let me = install();
    let mut tokens = Tokens::default();
    let f = away.flush(&queue, &mut tokens, &me, now).await.unwrap();
    assert_eq!((f.sent, f.dropped, f.kept), (0, 0, 1));
    assert_eq!(f.error.unwrap().code(), "health_offline");
    assert_eq!(queue.load(now).len(), 1, "kept on disk");
    // Back online: the same events go.
    let f = sender(&h)
        .flush(&queue, &mut tokens, &me, now)
        .await
        .unwrap();
    assert_eq!((f.sent, f.kept), (1, 0));
    h.stop().await;
}
