//! The service's HTTP contract, including every bad path the issue names:
//! each gets a 4xx with a stable code, and a refused publish leaves nothing.

mod common;

use common::{code_of, Harness};
use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
use productivitypro_protocol::Channel;
use serde_json::json;

const LINUX: &str = "linux-x86_64-appimage";

/// Multipart parts: platform key and bytes.
type Files = Vec<(String, Vec<u8>)>;

fn release(h: &Harness, version: &str, name: &str, signed: &[u8]) -> PublishRequest {
    PublishRequest {
        version: version.into(),
        notes: "n".into(),
        channel: Channel::Stable,
        percent: 100.0,
        artifacts: vec![ArtifactSpec {
            platform: LINUX.parse().unwrap(),
            file_name: name.into(),
            signature: h.key.sign(signed, name, version),
            url: None,
        }],
    }
}

/// Files in the store and in staging (not counting staging's lock files).
fn stored_files(h: &Harness) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p).map_or(0, |d| {
            d.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        usize::from(e.path().extension() != Some("lock".as_ref()))
                    }
                })
                .sum()
        })
    }
    walk(&h.dir.path().join("artifacts")) + walk(&h.dir.path().join("staging"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_checks_answer_the_plugin_and_reject_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.check("/v1/update/linux/x86_64/1.0.0?channel=stable", None)
                .await,
            Ok(None)
        );
        assert_eq!(
            h.publish(
                "1.1.0",
                Channel::Beta,
                100.0,
                &[LINUX, "windows-x86_64-nsis"]
            )
            .await
            .status(),
            201
        );
        let offer = h
            .check(
                "/v1/update/linux/x86_64/1.0.0?channel=beta&bundle_type=appimage",
                None,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                offer.version.as_str(),
                offer.channel,
                offer.rollout,
                offer.rollback
            ),
            ("1.1.0", Channel::Beta, 100.0, false)
        );
        assert!(offer
            .url
            .ends_with("/v1/artifacts/1.1.0/pp_1.1.0_linux-x86_64-appimage.bin"));
        // A leading v, as the plugin may send, and an unstamped binary's bundle type.
        assert!(h
            .check(
                "/v1/update/linux/x86_64/v1.0.0?channel=beta&bundle_type=unknown",
                None
            )
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            h.check("/v1/update/linux/x86_64/1.0.0?channel=stable", None)
                .await,
            Ok(None),
            "stable does not see beta"
        );
        assert_eq!(
            h.check("/v1/update/darwin/aarch64/1.0.0?channel=beta", None)
                .await,
            Ok(None),
            "no artifact for it"
        );
        for (path, code) in [
            ("/v1/update/beos/x86_64/1.0.0", "invalid_target"),
            ("/v1/update/linux/sparc/1.0.0", "invalid_arch"),
            (
                "/v1/update/linux/x86_64/1.0.0?bundle_type=zip",
                "invalid_bundle_type",
            ),
            (
                "/v1/update/linux/x86_64/1.0?channel=beta",
                "invalid_version",
            ),
            (
                "/v1/update/linux/x86_64/1.0.0?channel=nightly",
                "invalid_channel",
            ),
        ] {
            assert_eq!(
                h.check(path, None).await,
                Err((400, code.to_string())),
                "{path}"
            );
        }
        // Each value valid, the pair not: linux has no msi.
        assert_eq!(
            h.check("/v1/update/linux/x86_64/1.0.0?bundle_type=msi", None)
                .await,
            Err((422, "invalid_bundle_type".to_string()))
        );
        let r = h
            .http
            .get(format!("{}/v1/update/linux/x86_64/1.0.0", h.base))
            .header("X-Install-Id", "alice")
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(r).await, (400, "invalid_install_id".into()));
        let latest: serde_json::Value = h
            .http
            .get(format!("{}/v1/channels/beta/latest.json", h.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(latest["version"], "1.1.0");
        assert!(
            latest["platforms"]["windows-x86_64"].is_object()
                && latest["platforms"]["linux-x86_64-appimage"].is_object()
        );
        let r = h
            .http
            .get(format!("{}/v1/channels/stable/latest.json", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(r).await, (404, "no_release".into()));
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_publish_is_refused_whole_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| c.max_artifact_bytes = 1000).await;
        let bytes = b"the artifact".to_vec();
        let ok = release(&h, "1.0.0", "pp.AppImage", &bytes);
        let file = |b: &[u8]| vec![(LINUX.to_string(), b.to_vec())];

        let mut other_key = ok.clone();
        other_key.artifacts[0].signature = common::Key::new().sign(&bytes, "pp.AppImage", "1.0.0");
        let mut wrong_name = ok.clone();
        wrong_name.artifacts[0].signature = h.key.sign(&bytes, "other.AppImage", "1.0.0");
        let mut traversal = release(&h, "1.0.0", "../../etc/passwd", &bytes);
        traversal.artifacts[0].file_name = "../../etc/passwd".into();
        let mut signed_other_version = ok.clone();
        signed_other_version.artifacts[0].signature =
            h.key
                .sign_with_comment(&bytes, "pp.AppImage", "version:0.9.0");
        let mut bad_version = ok.clone();
        bad_version.version = "1.0".into();
        let cases: Vec<(PublishRequest, Files, u16, &str)> = vec![
            (other_key, file(&bytes), 422, "bad_signature"),
            (wrong_name, file(&bytes), 422, "bad_signature"),
            (ok.clone(), file(b"tampered bytes"), 422, "bad_signature"),
            (traversal, file(&bytes), 400, "invalid_artifact_name"),
            (signed_other_version, file(&bytes), 422, "bad_signature"),
            (bad_version, file(&bytes), 400, "invalid_version"),
            (ok.clone(), vec![], 422, "missing_artifact"),
            (
                ok.clone(),
                vec![("windows-x86_64-msi".into(), bytes.clone())],
                422,
                "unexpected_part",
            ),
            (
                release(&h, "1.0.0", "big.AppImage", &[0u8; 1001]),
                vec![(LINUX.into(), vec![0u8; 1001])],
                413,
                "payload_too_large",
            ),
        ];
        for (req, files, status, code) in cases {
            let got = code_of(h.publish_raw(&req, files).await).await;
            assert_eq!(got, (status, code.to_string()), "{req:?}");
            assert_eq!(stored_files(&h), 0, "a refused publish left files ({code})");
        }
        let status = h.get_json("/v1/status").await;
        assert_eq!(status["releases"], json!([]));
        assert!(h.get_json("/v1/audit").await["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "publish"));

        assert_eq!(h.publish_raw(&ok, file(&bytes)).await.status(), 201);
        assert_eq!(
            code_of(h.publish_raw(&ok, file(&bytes)).await).await,
            (409, "duplicate_version".into())
        );
        let older = release(&h, "0.9.0", "old.AppImage", &bytes);
        assert_eq!(
            code_of(h.publish_raw(&older, file(&bytes)).await).await,
            (409, "version_not_newer".into())
        );
        // A canary build may be older than... nothing: canary sees stable.
        let mut canary_old = older.clone();
        canary_old.channel = Channel::Canary;
        assert_eq!(
            code_of(h.publish_raw(&canary_old, file(&bytes)).await).await,
            (409, "version_not_newer".into())
        );
        h.stop().await;
    }
}

/// Regression (CI at 2c4d5e1, `pprelease publish` answered "Broken pipe"):
/// the service refused the release from its first part and closed the
/// connection while the client was still writing the files, so the client
/// never saw the refusal. Big files make that race certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_publish_with_big_files_answers_its_code_not_broken_pipe() {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/a.db", tmp.path().display());
    let h = Harness::start_with(&db, |c| c.max_artifact_bytes = 4 << 20).await;
    let big = vec![7u8; 24 << 20];
    let mut bad_version = release(&h, "1.0.0", "pp.AppImage", &big);
    bad_version.version = "1.0".into();
    let ok = release(&h, "1.0.0", "pp.AppImage", &big);
    for _ in 0..3 {
        // Refused from the release part, before any file byte is read.
        let got = code_of(
            h.publish_raw(&bad_version, vec![(LINUX.into(), big.clone())])
                .await,
        );
        assert_eq!(got.await, (400, "invalid_version".into()));
        // Refused in the middle of the file (over the size limit).
        let got = code_of(h.publish_raw(&ok, vec![(LINUX.into(), big.clone())]).await);
        assert_eq!(got.await, (413, "payload_too_large".into()));
    }
    assert_eq!(stored_files(&h), 0);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_endpoints_need_a_live_token_with_the_right_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let db = &common::databases(tmp.path()).await[0];
    let h = Harness::start(db).await;
    assert_eq!(
        h.publish("1.0.0", Channel::Beta, 10.0, &[LINUX])
            .await
            .status(),
        201
    );
    let url = format!("{}/v1/releases/1.0.0/rollout", h.base);
    let body = json!({"channel": "beta", "percent": 20});
    let send = |token: Option<String>| {
        let mut rb = h.http.post(&url).json(&body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    assert_eq!(
        code_of(send(None).await.unwrap()).await,
        (401, "missing_token".into())
    );
    assert_eq!(
        code_of(send(Some("ppu_nonsense".into())).await.unwrap()).await,
        (401, "invalid_token".into())
    );
    let expired = h.token("rollout", Some(h.clock.now_secs() - 1)).await;
    assert_eq!(
        code_of(send(Some(expired)).await.unwrap()).await,
        (401, "token_expired".into())
    );
    let publish_only = h.token("publish", None).await;
    assert_eq!(
        code_of(send(Some(publish_only)).await.unwrap()).await,
        (403, "insufficient_scope".into())
    );
    let rollout = h.token("rollout", None).await;
    assert_eq!(send(Some(rollout)).await.unwrap().status(), 204);
    let audit = h.get_json("/v1/audit").await;
    assert_eq!(audit["entries"][0]["action"], "rollout");
    assert_eq!(audit["entries"][0]["detail"], "beta: 10% -> 20%");
    assert!(audit["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("test ("));
    for (path, body, status, code) in [
        ("/v1/releases/9.9.9/halt", json!({}), 404, "unknown_release"),
        ("/v1/releases/1.0.0/resume", json!({}), 409, "invalid_state"),
        (
            "/v1/releases/1.0.0/rollout",
            json!({"channel": "beta", "percent": 101}),
            400,
            "invalid_percent",
        ),
        (
            "/v1/releases/1.0.0/rollout",
            json!({"channel": "stable", "percent": 5}),
            409,
            "not_in_channel",
        ),
        (
            "/v1/releases/1.0.0/promote",
            json!({"channel": "canary", "percent": 5}),
            409,
            "invalid_promotion",
        ),
        (
            "/v1/releases/1.0.0/rollout",
            json!({"channel": "beta"}),
            400,
            "invalid_request",
        ),
    ] {
        assert_eq!(
            code_of(h.post(path, body).await).await,
            (status, code.to_string()),
            "{path}"
        );
    }
    assert_eq!(
        h.post(
            "/v1/releases/1.0.0/promote",
            json!({"channel": "stable", "percent": 1})
        )
        .await
        .status(),
        204
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_served_with_ranges_and_never_by_path() {
    let tmp = tempfile::tempdir().unwrap();
    let db = &common::databases(tmp.path()).await[0];
    let h = Harness::start(db).await;
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let req = release(&h, "1.0.0", "pp.AppImage", &bytes);
    assert_eq!(
        h.publish_raw(&req, vec![(LINUX.into(), bytes.clone())])
            .await
            .status(),
        201
    );
    let url = format!("{}/v1/artifacts/1.0.0/pp.AppImage", h.base);
    let full = h.http.get(&url).send().await.unwrap();
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.bytes().await.unwrap(), bytes);
    let part = h
        .http
        .get(&url)
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/50000");
    assert_eq!(part.bytes().await.unwrap(), bytes[100..200]);
    let tail = h
        .http
        .get(&url)
        .header("Range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.bytes().await.unwrap(), bytes[49_990..]);
    let beyond = h
        .http
        .get(&url)
        .header("Range", "bytes=60000-")
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(beyond).await, (416, "range_not_satisfiable".into()));
    for path in [
        "/v1/artifacts/1.0.0/..%2F..%2Fupdater.db",
        "/v1/artifacts/1.0.0/other",
        "/v1/artifacts/..%2F1.0.0/pp.AppImage",
    ] {
        let r = h
            .http
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_takes_only_the_closed_schema_within_limits() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start_with(&db, |c| {
            c.telemetry.burst = 5;
            c.telemetry.per_hour = 5;
        })
        .await;
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        let id = uuid::Uuid::new_v4();
        let token = h
            .telemetry_token(&id, "1.0.0", "stable", &common::network_of(&id))
            .await
            .unwrap();
        let good = |kinds: Vec<&str>| {
            json!({"install_id": id, "version": "1.0.0", "channel": "stable", "os": "linux", "arch": "x86_64",
                   "token": token,
                   "events": kinds.iter().map(|k| json!({"kind": k, "at": "2026-11-23T11:00:00Z"})).collect::<Vec<_>>()})
        };
        assert_eq!(
            h.telemetry(&good(vec!["session_start", "crash"])).await,
            (202, String::new())
        );
        let mut extra = good(vec!["crash"]);
        extra["hostname"] = json!("alices-laptop");
        assert_eq!(h.telemetry(&extra).await, (400, "invalid_telemetry".into()));
        let mut unknown = good(vec!["crash"]);
        unknown["version"] = json!("7.7.7");
        assert_eq!(h.telemetry(&unknown).await, (422, "unknown_version".into()));
        let mut huge = good(vec!["crash"]);
        huge["version"] = json!(format!("1.0.0-{}", "a".repeat(5000)));
        assert_eq!(h.telemetry(&huge).await, (413, "payload_too_large".into()));
        assert_eq!(
            h.telemetry(&good(vec!["crash"; 4])).await,
            (429, "rate_limited".into())
        );
        assert_eq!(
            h.telemetry(&good(vec!["crash"; 3])).await,
            (202, String::new())
        );
        h.server.state.flush_telemetry().await.unwrap();
        let s = h.get_json("/v1/status").await;
        // 4 crash events arrived; 3 per install and hour count. One install.
        assert_eq!(
            s["releases"][0]["health"],
            json!({"installs": 1, "crashed_installs": 1, "update_installs": 0, "failed_update_installs": 0,
                   "sessions": 1, "crashes": 3, "updates_installed": 0, "updates_failed": 0})
        );
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints_and_a_second_replica() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        for (path, status) in [("/healthz", 200), ("/readyz", 200), ("/nope", 404)] {
            assert_eq!(
                h.http
                    .get(format!("{}{path}", h.base))
                    .send()
                    .await
                    .unwrap()
                    .status(),
                status,
                "{path}"
            );
        }
        // Every route is described in the OpenAPI document.
        let doc: serde_json::Value = h
            .http
            .get(format!("{}/openapi.json", h.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for path in [
            "/v1/update/{target}/{arch}/{current_version}",
            "/v1/channels/{channel}/latest.json",
            "/v1/artifacts/{version}/{file_name}",
            "/v1/deltas/{version}/{platform}/{from_version}",
            "/v1/telemetry",
            "/v1/telemetry/token",
            "/v1/releases",
            "/v1/releases/{version}/rollout",
            "/v1/releases/{version}/promote",
            "/v1/releases/{version}/halt",
            "/v1/releases/{version}/resume",
            "/v1/releases/{version}/rollback",
            "/v1/rollouts/advance",
            "/v1/gates/evaluate",
            "/v1/status",
            "/v1/audit",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(doc["paths"][path].is_object(), "openapi.json lacks {path}");
        }
        // A second replica on the same database sees changes without a restart.
        let dir2 = tempfile::tempdir().unwrap();
        let mut c = common::config(dir2.path(), &db, &h.key);
        c.artifacts = productivitypro_updater_server::config::ArtifactConfig::Local {
            path: h.dir.path().join("artifacts"),
        };
        c.refresh_interval = std::time::Duration::from_millis(100);
        let replica = productivitypro_updater_server::Server::start(c, h.clock.clone())
            .await
            .unwrap();
        assert_eq!(
            h.publish("1.0.0", Channel::Stable, 100.0, &[LINUX])
                .await
                .status(),
            201
        );
        let path = format!("http://{}/v1/update/linux/x86_64/0.9.0", replica.addr);
        let mut seen = false;
        for _ in 0..50 {
            if h.http.get(&path).send().await.unwrap().status() == 200 {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(seen, "the replica never saw the release");
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
            metrics.contains(r#"updater_rollout_percent{version="1.0.0",channel="stable"} 100"#),
            "{metrics}"
        );
        replica.stop().await.unwrap();
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_can_live_in_s3_compatible_storage() {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("PRODUCTIVITYPRO_TEST_S3_ENDPOINT"),
        std::env::var("PRODUCTIVITYPRO_TEST_S3_BUCKET"),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this under scripts/with-s3"
        );
        eprintln!("PRODUCTIVITYPRO_TEST_S3_ENDPOINT unset: S3 skipped (scripts/with-s3 sets it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = &common::databases(tmp.path()).await[0];
    let h = Harness::start_with(db, |c| {
        c.artifacts = productivitypro_updater_server::config::ArtifactConfig::S3 {
            bucket,
            endpoint: Some(endpoint),
            region: Some("us-east-1".into()),
            allow_http: true,
        }
    })
    .await;
    // Over one 8 MiB part, so the multipart upload path is taken.
    let bytes: Vec<u8> = (0..(20u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let req = release(&h, "3.0.0", "big.AppImage", &bytes);
    assert_eq!(
        h.publish_raw(&req, vec![(LINUX.into(), bytes.clone())])
            .await
            .status(),
        201
    );
    let offer = h
        .check("/v1/update/linux/x86_64/2.0.0?channel=stable", None)
        .await
        .unwrap()
        .unwrap();
    let got = h
        .http
        .get(&offer.url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got == bytes, "the stored artifact differs");
    let part = h
        .http
        .get(&offer.url)
        .header("Range", "bytes=10485760-10485799")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), bytes[10_485_760..10_485_800]);
    assert_eq!(stored_files(&h), 0, "nothing stays in local staging");
    h.stop().await;
}

/// An artifact host on loopback whose file can be swapped, with redirects
/// to the same host and to another name for it.
struct ArtifactHost {
    port: u16,
    file: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ArtifactHost {
    async fn start(bytes: &[u8]) -> ArtifactHost {
        use axum::response::{IntoResponse, Redirect};
        let file = std::sync::Arc::new(std::sync::Mutex::new(bytes.to_vec()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let f = file.clone();
        let app = axum::Router::new()
            .route(
                "/hosted.AppImage",
                axum::routing::get(move || {
                    let f = f.clone();
                    async move { f.lock().unwrap().clone().into_response() }
                }),
            )
            .route(
                "/same-host",
                axum::routing::get(move || async move {
                    Redirect::temporary(&format!("http://127.0.0.1:{port}/hosted.AppImage"))
                }),
            )
            .route(
                "/other-host",
                axum::routing::get(move || async move {
                    Redirect::temporary(&format!("http://localhost:{port}/hosted.AppImage"))
                }),
            );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ArtifactHost { port, file, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for ArtifactHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn by_url(h: &Harness, version: &str, bytes: &[u8], url: &str) -> PublishRequest {
    let mut r = release(h, version, "hosted.AppImage", bytes);
    r.artifacts[0].url = Some(url.to_string());
    r
}

/// Issue 11.5: external artifacts were verified once at publish and then
/// handed out by URL, whatever that URL served later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn externally_hosted_artifacts_are_copied_into_the_store_at_publish() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        // Loopback hosts are refused unless configured, as here.
        let h = Harness::start_with(&db, |c| c.external_artifacts.allow_private_hosts = true).await;
        let bytes = b"hosted elsewhere".to_vec();
        let host = ArtifactHost::start(&bytes).await;
        let url = host.url("/hosted.AppImage");

        let mut tampered = by_url(&h, "1.2.0", &bytes, &url);
        tampered.artifacts[0].signature = h.key.sign(b"other bytes", "hosted.AppImage", "1.2.0");
        let unreachable = by_url(&h, "1.3.0", &bytes, "http://127.0.0.1:9/hosted.AppImage");
        let not_http = by_url(&h, "1.4.0", &bytes, "file:///etc/passwd");
        assert_eq!(
            code_of(h.publish_raw(&tampered, vec![]).await).await,
            (422, "bad_signature".into())
        );
        assert_eq!(
            code_of(h.publish_raw(&unreachable, vec![]).await).await,
            (422, "artifact_unreachable".into())
        );
        assert_eq!(
            code_of(h.publish_raw(&not_http, vec![]).await).await,
            (422, "invalid_url".into())
        );
        assert_eq!(stored_files(&h), 0);

        assert_eq!(
            h.publish_raw(&by_url(&h, "1.1.0", &bytes, &url), vec![])
                .await
                .status(),
            201
        );
        // The host now serves something else; clients still get what was verified.
        *host.file.lock().unwrap() = b"swapped after publish".to_vec();
        let offer = h
            .check("/v1/update/linux/x86_64/1.0.0?channel=stable", None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(offer.version, "1.1.0");
        assert_eq!(
            offer.url,
            format!("{}/v1/artifacts/1.1.0/hosted.AppImage", h.base),
            "served from the store, not the external host"
        );
        let got = h
            .http
            .get(&offer.url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            got == bytes,
            "the served bytes differ from the verified ones"
        );
        let audit = h.get_json("/v1/audit").await;
        assert!(
            audit["entries"][0]["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("copied from {url}")),
            "{audit}"
        );
        h.stop().await;
    }
}

/// Issue 11.5: the fetch followed any redirect and reached any address, a
/// server-side request forgery for whoever holds a publish token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_artifact_urls_cannot_reach_private_addresses_or_other_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let bytes = b"hosted elsewhere".to_vec();
        let host = ArtifactHost::start(&bytes).await;
        let localhost = format!("http://localhost:{}/hosted.AppImage", host.port);

        // Default configuration: loopback is not a public address, by IP or by name.
        let h = Harness::start(&db).await;
        for (version, url) in [
            ("1.0.0", host.url("/hosted.AppImage")),
            ("1.0.1", localhost.clone()),
            (
                "1.0.2",
                "http://169.254.169.254/latest/meta-data".to_string(),
            ),
            ("1.0.3", "http://[::1]/x".to_string()),
        ] {
            assert_eq!(
                code_of(
                    h.publish_raw(&by_url(&h, version, &bytes, &url), vec![])
                        .await
                )
                .await,
                (422, "artifact_url_refused".into()),
                "{url}"
            );
        }
        assert_eq!(stored_files(&h), 0);
        h.stop().await;

        // Loopback allowed: a redirect must stay on the URL's host...
        let db2 = match db.starts_with("sqlite:") {
            true => format!("sqlite://{}/private.db", tmp.path().display()),
            false => common::databases(tmp.path()).await.pop().unwrap(),
        };
        let h =
            Harness::start_with(&db2, |c| c.external_artifacts.allow_private_hosts = true).await;
        assert_eq!(
            code_of(
                h.publish_raw(
                    &by_url(&h, "1.0.0", &bytes, &host.url("/other-host")),
                    vec![]
                )
                .await
            )
            .await,
            (422, "artifact_redirect_refused".into())
        );
        assert_eq!(stored_files(&h), 0);
        assert_eq!(
            code_of(
                h.publish_raw(
                    &by_url(&h, "1.0.0", &bytes, &host.url("/same-host")),
                    vec![]
                )
                .await
            )
            .await,
            (201, String::new())
        );
        h.stop().await;

        // ...or go to a configured host.
        let db3 = match db.starts_with("sqlite:") {
            true => format!("sqlite://{}/redirect.db", tmp.path().display()),
            false => common::databases(tmp.path()).await.pop().unwrap(),
        };
        let h = Harness::start_with(&db3, |c| {
            c.external_artifacts.allow_private_hosts = true;
            c.external_artifacts.redirect_hosts = vec!["localhost".into()];
        })
        .await;
        assert_eq!(
            code_of(
                h.publish_raw(
                    &by_url(&h, "1.0.0", &bytes, &host.url("/other-host")),
                    vec![]
                )
                .await
            )
            .await,
            (201, String::new())
        );
        h.stop().await;
    }
}

/// Issue 11.2: a file signed for 1.1.0 (trusted comment without `version:`)
/// was accepted as release 1.2.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_signed_build_cannot_be_published_as_a_new_version() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let bytes = b"the 1.1.0 build".to_vec();
        let file = || vec![(LINUX.to_string(), bytes.clone())];
        let mut old = release(&h, "1.2.0", "pp.AppImage", &bytes);
        old.artifacts[0].signature = h.key.sign_unversioned(&bytes, "pp.AppImage");
        assert_eq!(
            code_of(h.publish_raw(&old, file()).await).await,
            (422, "unsigned_version".into())
        );
        let mut named = release(&h, "1.2.0", "pp_1.2.0.AppImage", &bytes);
        named.artifacts[0].signature = h.key.sign_unversioned(&bytes, "pp_1.2.0.AppImage");
        assert_eq!(
            code_of(h.publish_raw(&named, file()).await).await,
            (422, "unsigned_version".into()),
            "signed versions are required unless configured otherwise"
        );
        let mut signed_old = release(&h, "1.2.0", "pp.AppImage", &bytes);
        signed_old.artifacts[0].signature = h.key.sign(&bytes, "pp.AppImage", "1.1.0");
        assert_eq!(
            code_of(h.publish_raw(&signed_old, file()).await).await,
            (422, "bad_signature".into())
        );
        assert_eq!(stored_files(&h), 0);
        let ok = release(&h, "1.2.0", "pp.AppImage", &bytes);
        assert_eq!(h.publish_raw(&ok, file()).await.status(), 201);
        h.stop().await;

        // Builds signed by `tauri signer` without --app-version: accepted only
        // when explicitly configured, and only if the file name carries the version.
        let db2 = match db.starts_with("sqlite:") {
            true => format!("sqlite://{}/lenient.db", tmp.path().display()),
            false => common::databases(tmp.path()).await.pop().unwrap(),
        };
        let h = Harness::start_with(&db2, |c| c.require_signed_version = false).await;
        old.artifacts[0].signature = h.key.sign_unversioned(&bytes, "pp.AppImage");
        named.artifacts[0].signature = h.key.sign_unversioned(&bytes, "pp_1.2.0.AppImage");
        signed_old.artifacts[0].signature = h.key.sign(&bytes, "pp.AppImage", "1.1.0");
        assert_eq!(
            code_of(h.publish_raw(&old, file()).await).await,
            (422, "version_not_in_file_name".into())
        );
        assert_eq!(
            code_of(h.publish_raw(&signed_old, file()).await).await,
            (422, "bad_signature".into()),
            "a signed version must still match"
        );
        assert_eq!(
            code_of(h.publish_raw(&named, file()).await).await,
            (201, String::new())
        );
        h.stop().await;
    }
}

/// A request body the test feeds by hand, so two uploads can be held at the
/// same point.
fn fed_body() -> (tokio::sync::mpsc::Sender<Vec<u8>>, reqwest::Body) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    (tx, reqwest::Body::wrap_stream(stream))
}

fn staging_files(h: &Harness) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p).map_or(0, |d| {
            d.flatten()
                .map(|e| match e.path().is_dir() {
                    true => walk(&e.path()),
                    false => usize::from(e.metadata().is_ok_and(|m| m.len() > 0)),
                })
                .sum()
        })
    }
    walk(&h.dir.path().join("staging"))
}

/// Issue 11.4: two publishes of one version at once stored their files under
/// the same key, and the loser's clean-up deleted the winner's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishes_of_one_version_at_once_keep_the_winners_files() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        let builds: Vec<Vec<u8>> = (0..2u8)
            .map(|n| (0..200_000u32).map(|i| (i % 251) as u8 ^ n).collect())
            .collect();
        let mut feeds = Vec::new();
        let mut sends = Vec::new();
        for bytes in &builds {
            let req = release(&h, "1.0.0", "pp.AppImage", bytes);
            let (tx, body) = fed_body();
            let form = reqwest::multipart::Form::new()
                .text("release", serde_json::to_string(&req).unwrap())
                .part(
                    LINUX,
                    reqwest::multipart::Part::stream(body).file_name("pp.AppImage"),
                );
            let rb = h
                .http
                .post(format!("{}/v1/releases", h.base))
                .bearer_auth(&h.token)
                .multipart(form);
            sends.push(tokio::spawn(async move {
                code_of(rb.send().await.unwrap()).await
            }));
            tx.send(bytes[..100_000].to_vec()).await.unwrap();
            feeds.push(tx);
        }
        // Both uploads are past every check and streaming into staging...
        for _ in 0..200 {
            if staging_files(&h) == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(staging_files(&h), 2, "both uploads should be staging");
        // ...then both finish at once.
        for (tx, bytes) in feeds.into_iter().zip(&builds) {
            tx.send(bytes[100_000..].to_vec()).await.unwrap();
        }
        let mut results = Vec::new();
        for s in sends {
            results.push(s.await.unwrap());
        }
        let winner = match (&results[0], &results[1]) {
            ((201, _), (409, code)) if code == "duplicate_version" => 0,
            ((409, code), (201, _)) if code == "duplicate_version" => 1,
            other => panic!("expected one 201 and one 409 duplicate_version, got {other:?}"),
        };
        let r = h
            .http
            .get(format!("{}/v1/artifacts/1.0.0/pp.AppImage", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the winner's artifact is gone");
        assert!(
            r.bytes().await.unwrap() == builds[winner],
            "the served artifact is not the winner's build"
        );
        assert_eq!(
            stored_files(&h),
            1,
            "the loser leaves nothing behind, the winner exactly its file"
        );
        h.stop().await;
    }
}

/// Issue 11.8: what the handlers enforce is what /openapi.json says, and
/// every error is `ApiError` JSON — also those the framework raises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_a_code_and_bodies_match_the_description() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let h = Harness::start(&db).await;
        assert_eq!(
            h.publish("1.0.0", Channel::Beta, 10.0, &[LINUX])
                .await
                .status(),
            201
        );
        let post = |path: &str, content_type: &str, body: &str| {
            h.http
                .post(format!("{}{path}", h.base))
                .bearer_auth(&h.token)
                .header("Content-Type", content_type)
                .body(body.to_string())
                .send()
        };
        let cases: Vec<(&str, &str, String, u16, &str)> = vec![
            // Not JSON by its Content-Type.
            ("/v1/releases/1.0.0/rollout", "text/plain", r#"{"channel":"beta","percent":20}"#.into(), 415, "unsupported_media_type"),
            // A JSON array where an object belongs (serde alone would take it).
            ("/v1/releases/1.0.0/rollout", "application/json", r#"["beta", 20]"#.into(), 400, "invalid_request"),
            ("/v1/releases/1.0.0/halt", "application/json", "[null, null]".into(), 400, "invalid_request"),
            // More than two decimals.
            ("/v1/releases/1.0.0/rollout", "application/json", r#"{"channel":"beta","percent":20.001}"#.into(), 400, "invalid_percent"),
            // A policy that parses but makes no sense is 422, one that does not parse 400.
            ("/v1/rollouts/advance", "application/json",
             serde_json::json!({"rollout": {"steps": [50, 10, 100], "bake_time": "6h"},
                 "gates": {"min_sessions": 1, "max_crash_rate": 0.1, "max_crash_rate_vs_previous": 2,
                           "min_update_attempts": 1, "max_update_failure_rate": 0.1}}).to_string(),
             422, "invalid_policy"),
            ("/v1/rollouts/advance", "application/json",
             serde_json::json!({"rollout": {"steps": [10, 100], "bake_time": "6 hours"},
                 "gates": {"min_sessions": 1, "max_crash_rate": 0.1, "max_crash_rate_vs_previous": 2,
                           "min_update_attempts": 1, "max_update_failure_rate": 0.1}}).to_string(),
             400, "invalid_request"),
            ("/v1/telemetry/token", "application/json",
             r#"{"install_id":"6f1c1f5e0d0c4a8e9d593b2f3c1a7e10","version":"1.0.0","channel":"beta"}"#.into(),
             400, "invalid_request"),
        ];
        for (path, ct, body, status, code) in cases {
            assert_eq!(
                code_of(post(path, ct, &body).await.unwrap()).await,
                (status, code.to_string()),
                "{path} {ct} {body}"
            );
        }
        // Framework-level failures: a query that does not parse, an out-of-range limit.
        for (path, code) in [
            ("/v1/audit?limit=abc", "invalid_request"),
            ("/v1/audit?limit=0", "invalid_limit"),
            ("/v1/audit?limit=10001", "invalid_limit"),
        ] {
            let r = h
                .http
                .get(format!("{}{path}", h.base))
                .bearer_auth(&h.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["content-type"], "application/json", "{path}");
            assert_eq!(code_of(r).await, (400, code.to_string()), "{path}");
        }
        // Install ids are hyphenated UUIDs only.
        let r = h
            .http
            .get(format!(
                "{}/v1/update/linux/x86_64/0.9.0?channel=beta",
                h.base
            ))
            .header("X-Install-Id", "6f1c1f5e0d0c4a8e9d593b2f3c1a7e10")
            .send()
            .await
            .unwrap();
        assert_eq!(code_of(r).await, (400, "invalid_install_id".into()));
        h.stop().await;
    }
}
