//! Issue 11.1: health data must not be forgeable by the thousand. Telemetry
//! needs a token from a real update check, gates count distinct installs the
//! rollout reaches within a window, per channel and per platform, and a
//! failing platform can be stopped alone.

mod common;

use std::time::Duration;

use common::{code_of, network_of, Harness};
use productivitypro_protocol::manifest::UpdateOffer;
use productivitypro_protocol::Channel;
use productivitypro_updater_server::clock::Clock;
use productivitypro_updater_server::snapshot::bucket;
use serde_json::json;
use uuid::Uuid;

const LINUX: &str = "linux-x86_64-appimage";
const WINDOWS: &str = "windows-x86_64-nsis";

/// An update check from `install` on `network`; the offer, or None for a 204.
async fn check_from(h: &Harness, path: &str, install: &Uuid, network: &str) -> Option<UpdateOffer> {
    let r = h
        .http
        .get(format!("{}{path}", h.base))
        .header("X-Install-Id", install.to_string())
        .header("X-Forwarded-For", network)
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        204 => None,
        200 => Some(UpdateOffer::parse(&r.bytes().await.unwrap()).unwrap()),
        s => panic!("check answered {s}"),
    }
}

fn report(
    install: &Uuid,
    version: &str,
    token: Option<&str>,
    kinds: &[&str],
    at: &str,
) -> serde_json::Value {
    let mut r = json!({
        "install_id": install, "version": version, "channel": "stable", "os": "linux",
        "arch": "x86_64", "bundle_type": "appimage",
        "events": kinds.iter().map(|k| json!({"kind": k, "at": at})).collect::<Vec<_>>(),
    });
    if let Some(t) = token {
        r["token"] = json!(t);
    }
    r
}

fn release<'a>(status: &'a serde_json::Value, version: &str) -> &'a serde_json::Value {
    status["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version)
        .unwrap()
}

async fn evaluate(h: &Harness) -> Vec<String> {
    let r: serde_json::Value = h
        .post("/v1/gates/evaluate", json!({}))
        .await
        .json()
        .await
        .unwrap();
    r["stopped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Real installs on networks of their own check 1.0.0, take 1.1.0 and
/// report `kinds` for it with the token the check answered with.
async fn real_installs(h: &Harness, n: usize, kinds: &[&str], at: &str) {
    for _ in 0..n {
        let id = Uuid::new_v4();
        let offer = check_from(
            h,
            "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=appimage",
            &id,
            &network_of(&id),
        )
        .await
        .expect("1.1.0 offered");
        let token = offer
            .telemetry_tokens
            .get("1.1.0")
            .expect("a token for 1.1.0");
        assert_eq!(
            h.telemetry(&report(&id, "1.1.0", Some(token), kinds, at))
                .await,
            (202, String::new())
        );
    }
}

/// The attack of issue 11.1, scaled up: before, three anonymous reports with
/// 30 `update_failed` events each rolled back stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_forged_reports_leave_a_release_active_and_real_failures_still_stop_it() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.gate_interval = Duration::from_secs(3600);
        })
        .await;
        for v in ["1.0.0", "1.1.0"] {
            assert_eq!(
                h.publish(v, Channel::Stable, 100.0, &[LINUX])
                    .await
                    .status(),
                201
            );
        }
        let at = "2026-11-23T11:59:00Z";
        real_installs(&h, 300, &["update_installed", "session_start"], at).await;

        // One attacker network, 1,000 forged reports of failed updates.
        let attacker = "203.0.113.66";
        let mut outcomes: std::collections::BTreeMap<(u16, String), usize> = Default::default();
        let mut tokened: Vec<(Uuid, String)> = Vec::new();
        let failed = ["update_failed"; 30];
        for n in 0..1000 {
            let id = Uuid::new_v4();
            let body = match n {
                // The original attack: fresh ids, no token.
                0..400 => report(&id, "1.1.0", None, &failed, at),
                // One real check per fake install first.
                400..800 => {
                    let offer = check_from(
                        &h,
                        "/v1/update/linux/x86_64/1.0.0?channel=stable&bundle_type=appimage",
                        &id,
                        attacker,
                    )
                    .await
                    .expect("checks still answer");
                    match offer.telemetry_tokens.get("1.1.0") {
                        Some(t) => {
                            tokened.push((id, t.clone()));
                            report(&id, "1.1.0", Some(t), &failed, at)
                        }
                        None => report(&id, "1.1.0", None, &failed, at),
                    }
                }
                // Tokens moved to other install ids, or made up.
                800..900 => match tokened.first() {
                    Some((_, t)) => report(&id, "1.1.0", Some(t), &failed, at),
                    None => report(&id, "1.1.0", Some("1.1795000000.AAAA"), &failed, at),
                },
                // The installs that did get tokens, again and again.
                _ => {
                    let (id, t) = &tokened[n % tokened.len()];
                    report(id, "1.1.0", Some(t), &failed, at)
                }
            };
            *outcomes.entry(h.telemetry(&body).await).or_default() += 1;
        }
        eprintln!("forged reports: {outcomes:?}");
        assert_eq!(
            tokened.len(),
            10,
            "one network: tokens for 10 new installs an hour"
        );
        assert_eq!(outcomes[&(401, "missing_telemetry_token".into())], 790);
        assert_eq!(outcomes[&(401, "invalid_telemetry_token".into())], 100);

        assert_eq!(evaluate(&h).await, Vec::<String>::new());
        let status = h.get_json("/v1/status").await;
        let r = release(&status, "1.1.0");
        assert_eq!(r["state"], "active", "{r}");
        assert_eq!(
            (
                &r["health"]["update_installs"],
                &r["health"]["failed_update_installs"]
            ),
            (&json!(310), &json!(10)),
            "each forger counts once: {r}"
        );

        // Real failures from installs the rollout reached still trip the gate.
        real_installs(&h, 60, &["update_failed"], at).await;
        assert_eq!(evaluate(&h).await, vec!["1.1.0".to_string()]);
        let status = h.get_json("/v1/status").await;
        let r = release(&status, "1.1.0");
        assert_eq!(r["state"], "rolled_back", "{r}");
        assert!(
            r["state_reason"]
                .as_str()
                .unwrap()
                .contains("update failure rate"),
            "{r}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_need_a_valid_token_for_their_install_version_and_channel() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        for v in ["1.0.0", "1.1.0"] {
            assert_eq!(
                h.publish(v, Channel::Stable, 100.0, &[LINUX])
                    .await
                    .status(),
                201
            );
        }
        let at = h.clock.now().to_rfc3339();
        let id = Uuid::new_v4();
        let path = "/v1/update/linux/x86_64/1.0.0?channel=stable";
        let offer = check_from(&h, path, &id, "198.51.100.1").await.unwrap();
        let tokens = &offer.telemetry_tokens;
        assert_eq!(
            tokens.keys().collect::<Vec<_>>(),
            ["1.0.0", "1.1.0"],
            "tokens for the version it runs and the one offered"
        );
        // No install id, no tokens.
        assert!(h
            .check(path, None)
            .await
            .unwrap()
            .unwrap()
            .telemetry_tokens
            .is_empty());
        let hr = &h;
        let send = |install: &Uuid, version: &str, token: Option<&str>| {
            let body = report(install, version, token, &["session_start"], &at);
            async move { hr.telemetry(&body).await }
        };
        assert_eq!(send(&id, "1.0.0", Some(&tokens["1.0.0"])).await.0, 202);
        assert_eq!(send(&id, "1.1.0", Some(&tokens["1.1.0"])).await.0, 202);
        let refused = |code: &str| (401, code.to_string());
        assert_eq!(
            send(&id, "1.0.0", None).await,
            refused("missing_telemetry_token")
        );
        assert_eq!(
            send(&id, "1.1.0", Some(&tokens["1.0.0"])).await,
            refused("invalid_telemetry_token"),
            "another version's token"
        );
        assert_eq!(
            send(&Uuid::new_v4(), "1.0.0", Some(&tokens["1.0.0"])).await,
            refused("invalid_telemetry_token"),
            "another install's token"
        );
        let mut beta = report(
            &id,
            "1.0.0",
            Some(&tokens["1.0.0"]),
            &["session_start"],
            &at,
        );
        beta["channel"] = json!("beta");
        assert_eq!(
            h.telemetry(&beta).await,
            refused("invalid_telemetry_token"),
            "another channel"
        );

        // A check that offers nothing answers 204: the token endpoint stands in.
        let latest = Uuid::new_v4();
        assert!(
            check_from(&h, "/v1/update/linux/x86_64/1.1.0", &latest, "198.51.100.2")
                .await
                .is_none()
        );
        let t = h
            .telemetry_token(&latest, "1.1.0", "stable", "198.51.100.2")
            .await
            .unwrap();
        assert_eq!(send(&latest, "1.1.0", Some(&t)).await.0, 202);
        assert_eq!(
            h.telemetry_token(&latest, "9.9.9", "stable", "198.51.100.2")
                .await,
            Err((422, "unknown_version".into()))
        );

        // Tokens expire.
        h.clock.advance(Duration::from_secs(8 * 24 * 3600));
        let at = h.clock.now().to_rfc3339();
        let body = report(&latest, "1.1.0", Some(&t), &["session_start"], &at);
        assert_eq!(h.telemetry(&body).await, refused("telemetry_token_expired"));

        // A network gets tokens for a few new installs an hour; known ones keep getting them.
        let network = "192.0.2.10";
        for _ in 0..10 {
            assert!(h
                .telemetry_token(&Uuid::new_v4(), "1.1.0", "stable", network)
                .await
                .is_ok());
        }
        assert_eq!(
            h.telemetry_token(&Uuid::new_v4(), "1.1.0", "stable", network)
                .await,
            Err((429, "token_rate_limited".into()))
        );
        let offer = check_from(&h, path, &Uuid::new_v4(), network)
            .await
            .unwrap();
        assert!(
            offer.telemetry_tokens.is_empty(),
            "the check still answers, without tokens"
        );
        h.clock.advance(Duration::from_secs(3600));
        assert!(h
            .telemetry_token(&Uuid::new_v4(), "1.1.0", "stable", network)
            .await
            .is_ok());

        // A second replica sharing the secret accepts the first one's tokens.
        let dir2 = tempfile::tempdir().unwrap();
        let replica = productivitypro_updater_server::Server::start(
            common::config(dir2.path(), &db, &h.key),
            h.clock.clone(),
        )
        .await
        .unwrap();
        let id = Uuid::new_v4();
        let t = h
            .telemetry_token(&id, "1.1.0", "stable", "198.51.100.3")
            .await
            .unwrap();
        let at = h.clock.now().to_rfc3339();
        let r = h
            .http
            .post(format!("http://{}/v1/telemetry", replica.addr))
            .json(&report(&id, "1.1.0", Some(&t), &["session_start"], &at))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        replica.stop().await.unwrap();
        h.stop().await;
    }
}

/// `X-Forwarded-For` counts only from configured proxies: anyone can write it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_from_untrusted_peers_do_not_escape_the_network_limit() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| c.trusted_proxies.clear()).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        for n in 0..10 {
            let fake = format!("198.51.100.{n}");
            assert!(h
                .telemetry_token(&Uuid::new_v4(), "1.0.0", "stable", &fake)
                .await
                .is_ok());
        }
        assert_eq!(
            h.telemetry_token(&Uuid::new_v4(), "1.0.0", "stable", "198.51.100.99")
                .await,
            Err((429, "token_rate_limited".into()))
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_installs_the_rollout_reaches_report_failing_to_update_to_it() {
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
            h.publish("1.1.0", Channel::Stable, 10.0, &[LINUX])
                .await
                .status(),
            201
        );
        let ids: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
        let inside = ids.iter().find(|id| bucket(id, "1.1.0") < 1_000).unwrap();
        let outside = ids.iter().find(|id| bucket(id, "1.1.0") >= 1_000).unwrap();
        let at = h.clock.now().to_rfc3339();
        assert_eq!(
            h.report(outside, "1.1.0", "stable", &["update_failed"], &at)
                .await,
            (422, "not_in_rollout".into())
        );
        assert_eq!(
            h.report(inside, "1.1.0", "stable", &["update_failed"], &at)
                .await
                .0,
            202
        );
        // An install running it reports sessions and crashes wherever its bucket is.
        assert_eq!(
            h.report(outside, "1.1.0", "stable", &["session_start", "crash"], &at)
                .await
                .0,
            202
        );
        h.server.state.flush_telemetry().await.unwrap();
        let status = h.get_json("/v1/status").await;
        let health = &release(&status, "1.1.0")["health"];
        assert_eq!(
            (&health["failed_update_installs"], &health["installs"]),
            (&json!(1), &json!(1)),
            "{health}"
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_count_distinct_installs_within_the_window_per_channel() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        let noisy = Uuid::new_v4();
        let at = h.clock.now().to_rfc3339();
        // One install, 30 crashes over several reports: 3 per hour count, and it is one install.
        for _ in 0..10 {
            assert_eq!(
                h.report(&noisy, "1.0.0", "stable", &["crash"; 3], &at)
                    .await
                    .0,
                202
            );
        }
        let beta = Uuid::new_v4();
        assert_eq!(
            h.report(&beta, "1.0.0", "beta", &["session_start"], &at)
                .await
                .0,
            202
        );
        h.server.state.flush_telemetry().await.unwrap();
        let status = h.get_json("/v1/status").await;
        assert_eq!(status["window"]["hours"], 24);
        assert_eq!(status["window"]["since"], "2026-11-22T12:00:00Z");
        let r = release(&status, "1.0.0");
        assert_eq!(
            (
                &r["health"]["crashes"],
                &r["health"]["crashed_installs"],
                &r["health"]["installs"]
            ),
            (&json!(3), &json!(1), &json!(2)),
            "{r}"
        );
        let channels = r["channels"].as_array().unwrap();
        assert_eq!(
            channels.len(),
            2,
            "stable (rolled out) and beta (reporting): {r}"
        );
        assert_eq!(
            (&channels[0]["channel"], &channels[0]["health"]["installs"]),
            (&json!("stable"), &json!(1))
        );
        assert_eq!(
            (&channels[1]["channel"], &channels[1]["health"]["installs"]),
            (&json!("beta"), &json!(1))
        );
        assert!(
            channels[1].get("percent").is_none(),
            "beta sees it through stable"
        );

        // Past the window, it no longer counts.
        h.clock.advance(Duration::from_secs(25 * 3600));
        let status = h.get_json("/v1/status").await;
        assert_eq!(release(&status, "1.0.0")["health"]["installs"], 0);
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_platform_is_stopped_alone() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        for v in ["1.0.0", "1.1.0"] {
            assert_eq!(
                h.publish(v, Channel::Stable, 100.0, &[LINUX, WINDOWS])
                    .await
                    .status(),
                201
            );
        }
        let at = h.clock.now().to_rfc3339();
        // Windows is healthy; on Linux one install in five crashes.
        for n in 0..250 {
            let (w, l) = (Uuid::new_v4(), Uuid::new_v4());
            let linux: &[&str] = if n % 5 == 0 {
                &["session_start", "crash"]
            } else {
                &["session_start"]
            };
            assert_eq!(
                h.report_on(&w, "1.1.0", "stable", WINDOWS, &["session_start"], &at)
                    .await
                    .0,
                202
            );
            assert_eq!(
                h.report_on(&l, "1.1.0", "stable", LINUX, linux, &at)
                    .await
                    .0,
                202
            );
        }
        assert_eq!(evaluate(&h).await, vec![format!("1.1.0 {LINUX}")]);
        let status = h.get_json("/v1/status").await;
        let r = release(&status, "1.1.0");
        assert_eq!(r["state"], "active", "{r}");
        let platform = |key: &str| {
            r["platforms"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["platform"] == key)
                .unwrap()
                .clone()
        };
        assert_eq!(platform(LINUX)["state"], "rolled_back");
        assert!(platform(LINUX)["state_reason"]
            .as_str()
            .unwrap()
            .contains("crash rate"));
        assert_eq!(platform(WINDOWS)["state"], "active");
        assert_eq!(
            r["channels"][0]["health"]["installs"], 250,
            "the stable view leaves Linux out now"
        );

        let hr = &h;
        let version_for = |os: &str, arch: &str, current: &str| {
            let path = format!("/v1/update/{os}/{arch}/{current}?channel=stable");
            async move {
                hr.check(&path, None)
                    .await
                    .unwrap()
                    .map(|o| (o.version, o.rollback))
            }
        };
        assert_eq!(
            version_for("windows", "x86_64", "1.0.0").await,
            Some(("1.1.0".into(), false))
        );
        assert_eq!(version_for("linux", "x86_64", "1.0.0").await, None);
        assert_eq!(
            version_for("linux", "x86_64", "1.1.0").await,
            Some(("1.0.0".into(), true))
        );
        let audit = h.get_json("/v1/audit").await;
        assert_eq!(audit["entries"][0]["actor"], "gate");

        // An engineer resumes Linux alone, and can halt a platform alone by hand.
        let body = json!({"platform": LINUX});
        assert_eq!(
            h.post("/v1/releases/1.1.0/resume", body.clone())
                .await
                .status(),
            204
        );
        assert_eq!(
            version_for("linux", "x86_64", "1.0.0").await,
            Some(("1.1.0".into(), false))
        );
        assert_eq!(
            h.post(
                "/v1/releases/1.1.0/halt",
                json!({"platform": WINDOWS, "reason": "installer bug"})
            )
            .await
            .status(),
            204
        );
        assert_eq!(version_for("windows", "x86_64", "1.0.0").await, None);
        assert_eq!(
            version_for("windows", "x86_64", "1.1.0").await,
            None,
            "halted: installs on it stay"
        );
        assert_eq!(
            code_of(
                h.post("/v1/releases/1.1.0/halt", json!({"platform": WINDOWS}))
                    .await
            )
            .await,
            (409, "invalid_state".into())
        );
        assert_eq!(
            code_of(
                h.post(
                    "/v1/releases/1.1.0/halt",
                    json!({"platform": "darwin-aarch64-app"})
                )
                .await
            )
            .await,
            (404, "unknown_platform".into())
        );
        h.stop().await;
    }
}

/// Telemetry (counts and the installs seen) was kept forever: the flush
/// loop removes what is older than `telemetry.retention`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_past_its_retention_leaves_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.telemetry.flush_interval = Duration::from_millis(50);
            c.telemetry.retention = Duration::from_secs(30 * 24 * 3600);
            c.gate_interval = Duration::from_secs(3600);
        })
        .await;
        for v in ["1.0.0", "1.1.0"] {
            assert_eq!(
                h.publish(v, Channel::Stable, 100.0, &[LINUX])
                    .await
                    .status(),
                201
            );
        }
        let sessions = || async {
            let health = h.server.state.db.health(0).await.unwrap();
            health
                .overall
                .get("1.1.0")
                .map_or((0, 0), |x| (x.installs, x.sessions))
        };
        let until = |want: (u64, u64)| async move {
            for _ in 0..200 {
                if sessions().await == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert_eq!(sessions().await, want);
        };
        real_installs(&h, 5, &["session_start"], &h.clock.now().to_rfc3339()).await;
        until((5, 5)).await;

        // 31 days on: the old hour is past the retention, the new one is not.
        h.clock.advance(Duration::from_secs(31 * 24 * 3600));
        real_installs(&h, 2, &["session_start"], &h.clock.now().to_rfc3339()).await;
        until((2, 2)).await;
    }
}
