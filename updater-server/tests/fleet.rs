//! A simulated fleet against the real service: staged rollouts reach the
//! share of installs they promise, only grow, and an unhealthy canary is
//! stopped by the service itself and turned into rollbacks.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::Harness;
use productivitypro_protocol::Channel;
use rand::{RngCore, SeedableRng};
use uuid::Uuid;

const LINUX: &str = "linux-x86_64-appimage";
const INSTALLS: usize = 10_000;

fn fleet(seed: u64) -> Vec<Uuid> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..INSTALLS)
        .map(|_| {
            let mut b = [0u8; 16];
            rng.fill_bytes(&mut b);
            uuid::Builder::from_random_bytes(b).into_uuid()
        })
        .collect()
}

async fn offered(
    h: &Harness,
    ids: &[Uuid],
    channel: &str,
    current: &str,
    version: &str,
) -> HashSet<Uuid> {
    let path = format!("/v1/update/linux/x86_64/{current}?channel={channel}&bundle_type=appimage");
    let mut out = HashSet::new();
    for chunk in ids.chunks(250) {
        let answers =
            futures_util::future::join_all(chunk.iter().map(|id| h.check(&path, Some(id)))).await;
        for (id, a) in chunk.iter().zip(answers) {
            if let Some(offer) = a.unwrap() {
                assert_eq!(offer.version, version);
                out.insert(*id);
            }
        }
    }
    out
}

fn assert_share(n: usize, percent: f64) {
    let share = n as f64 * 100.0 / INSTALLS as f64;
    assert!(
        (share - percent).abs() <= 1.0,
        "{share:.2}% of installs offered, expected {percent}% ± 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_share_matches_the_percentage_and_raising_it_keeps_earlier_installs() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        assert_eq!(
            h.publish("1.1.0", Channel::Stable, 5.0, &[LINUX])
                .await
                .status(),
            201
        );
        let ids = fleet(7);
        let at5 = offered(&h, &ids, "stable", "1.0.0", "1.1.0").await;
        assert_share(at5.len(), 5.0);
        assert_eq!(
            offered(&h, &ids, "stable", "1.0.0", "1.1.0").await,
            at5,
            "same installs on every check"
        );

        assert_eq!(
            h.post(
                "/v1/releases/1.1.0/rollout",
                serde_json::json!({"channel": "stable", "percent": 25})
            )
            .await
            .status(),
            204
        );
        let at25 = offered(&h, &ids, "stable", "1.0.0", "1.1.0").await;
        assert_share(at25.len(), 25.0);
        assert!(
            at5.is_subset(&at25),
            "raising 5% -> 25% dropped {} installs",
            at5.difference(&at25).count()
        );

        // Halting and resuming keeps exactly the same set.
        assert_eq!(
            h.post("/v1/releases/1.1.0/halt", serde_json::json!({}))
                .await
                .status(),
            204
        );
        assert!(offered(&h, &ids, "stable", "1.0.0", "1.1.0")
            .await
            .is_empty());
        assert_eq!(
            h.post("/v1/releases/1.1.0/resume", serde_json::json!({}))
                .await
                .status(),
            204
        );
        assert_eq!(offered(&h, &ids, "stable", "1.0.0", "1.1.0").await, at25);

        // Installs without an id stay outside partial rollouts.
        assert_eq!(
            h.check("/v1/update/linux/x86_64/1.0.0?channel=stable", None)
                .await,
            Ok(None)
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_canary_is_rolled_back_by_the_service_itself() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        // The gate loop runs on its own, quickly: nobody calls evaluate or advance here.
        let h = Harness::start_with(&db, |c| {
            c.gate_interval = Duration::from_millis(200);
            c.telemetry.flush_interval = Duration::from_millis(100);
        })
        .await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        assert_eq!(
            h.publish("1.1.0", Channel::Canary, 50.0, &[LINUX])
                .await
                .status(),
            201
        );
        let at = "2026-11-23T11:59:00Z";
        let ids = fleet(11);
        // The previous release is healthy: 0.5% of sessions crash.
        for (i, id) in ids[..2000].iter().enumerate() {
            let kinds: &[&str] = if i % 200 == 0 {
                &["session_start", "crash"]
            } else {
                &["session_start"]
            };
            assert_eq!(h.report(id, "1.0.0", "stable", kinds, at).await.0, 202);
        }
        let on_canary: Vec<Uuid> = offered(&h, &ids, "canary", "1.0.0", "1.1.0")
            .await
            .into_iter()
            .collect();
        assert_share(on_canary.len(), 50.0);
        // Installs that took 1.1.0 crash in one session out of ten.
        for (i, id) in on_canary.iter().take(400).enumerate() {
            let kinds: &[&str] = if i % 10 == 0 {
                &["update_installed", "session_start", "crash"]
            } else {
                &["update_installed", "session_start"]
            };
            assert_eq!(h.report(id, "1.1.0", "canary", kinds, at).await.0, 202);
        }

        let mut state = String::new();
        for _ in 0..100 {
            let s = h.get_json("/v1/status").await;
            let r = s["releases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["version"] == "1.1.0")
                .unwrap()
                .clone();
            state = r["state"].as_str().unwrap().to_string();
            if state == "rolled_back" {
                assert!(
                    r["state_reason"].as_str().unwrap().contains("crash rate"),
                    "{r}"
                );
                // The gate may act before the last reports are flushed.
                h.server.state.flush_telemetry().await.unwrap();
                let s = h.get_json("/v1/status").await;
                let r = s["releases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["version"] == "1.1.0")
                    .unwrap();
                assert_eq!(
                    (&r["health"]["crashed_installs"], &r["health"]["installs"]),
                    (&serde_json::json!(40), &serde_json::json!(400))
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            state, "rolled_back",
            "the gate did not stop 1.1.0 by itself"
        );

        // Offers turn into rollbacks for installs on 1.1.0; nobody new gets 1.1.0.
        let path = "/v1/update/linux/x86_64/1.1.0?channel=canary&bundle_type=appimage";
        for id in on_canary.iter().take(50) {
            let offer = h
                .check(path, Some(id))
                .await
                .unwrap()
                .expect("a rollback offer");
            assert_eq!((offer.version.as_str(), offer.rollback), ("1.0.0", true));
        }
        assert!(offered(&h, &ids[..500], "canary", "1.0.0", "1.1.0")
            .await
            .is_empty());
        let audit = h.get_json("/v1/audit").await;
        let entry = &audit["entries"][0];
        assert_eq!(
            (entry["actor"].as_str(), entry["action"].as_str()),
            (Some("gate"), Some("rollback")),
            "{audit}"
        );
        let metrics = h
            .http
            .get(format!("{}/metrics", h.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics
                .contains(r#"updater_update_checks_total{channel="canary",result="rollback"} 50"#),
            "{metrics}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_waits_for_bake_time_and_enough_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let policy: serde_json::Value = serde_json::to_value(
            productivitypro_protocol::policy::Policy::from_toml(
                productivitypro_updater_server::config::DEFAULT_POLICY,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            h.publish("2.0.0", Channel::Canary, 1.0, &[LINUX])
                .await
                .status(),
            201
        );
        let step = |v: serde_json::Value| v["actions"][0]["action"].as_str().unwrap().to_string();
        let r: serde_json::Value = h
            .post("/v1/rollouts/advance", policy.clone())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(step(r), "baking");
        h.clock.advance(Duration::from_secs(6 * 3600));
        let r: serde_json::Value = h
            .post("/v1/rollouts/advance", policy.clone())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(step(r.clone()), "waiting", "{r}");
        for id in fleet(3).iter().take(250) {
            assert_eq!(
                h.report(
                    id,
                    "2.0.0",
                    "canary",
                    &["session_start"],
                    "2026-11-23T17:59:00Z"
                )
                .await
                .0,
                202
            );
        }
        let r: serde_json::Value = h
            .post("/v1/rollouts/advance", policy.clone())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            r["actions"][0],
            serde_json::json!({"action": "raised", "version": "2.0.0", "channel": "canary", "from": 1.0, "to": 5.0})
        );
        let r: serde_json::Value = h
            .post("/v1/rollouts/advance", policy)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(step(r), "baking", "the new step bakes again");
        h.stop().await;
    }
}
