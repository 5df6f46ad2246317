//! The `updater-server` binary as an operator runs it: refuses to start
//! without a release key, serves on the configured address, creates tokens,
//! and shuts down cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn server(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_updater-server"));
    c.current_dir(dir)
        .env("UPDATER_LISTEN", "127.0.0.1:0")
        .env("UPDATER_LOG_FORMAT", "json")
        .env("UPDATER_TELEMETRY__SECRET", common::TELEMETRY_SECRET)
        .env_remove("UPDATER_PUBLIC_KEY")
        .env_remove("UPDATER_DATABASE_URL");
    c
}

#[test]
fn refuses_to_start_without_a_key_or_with_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no release public key: set UPDATER_PUBLIC_KEY"));
    let out = server(dir.path())
        .env("UPDATER_PUBLIC_KEY", "not a key")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("the configured public key"));
    let out = server(dir.path())
        .env("UPDATER_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid configuration"));
    let out = server(dir.path())
        .args(["token", "create", "--name", "x", "--scope", "root"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scope \"root\""));
    // Replicas on PostgreSQL must share the telemetry token secret: no default.
    let key = common::Key::new();
    let out = server(dir.path())
        .env("UPDATER_PUBLIC_KEY", key.public_b64())
        .env("UPDATER_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env_remove("UPDATER_TELEMETRY__SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("telemetry.secret is required with PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server(dir.path())
        .env("UPDATER_PUBLIC_KEY", key.public_b64())
        .env("UPDATER_TELEMETRY__SECRET", "short")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("telemetry.secret is too short"));
}

#[test]
fn serves_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::Key::new();
    let out = server(dir.path())
        .args(["token", "create", "--name", "ops", "--scope", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(token.trim().starts_with("ppu_"));
    let list = server(dir.path()).args(["token", "list"]).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains("ops") && list.contains("active") && !list.contains(token.trim()),
        "{list}"
    );

    let mut child = server(dir.path())
        .env("UPDATER_PUBLIC_KEY", key.public_b64())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("updater-server listening on http://")
                .map(str::to_string)
        })
        .expect("the listening line");
    let health = std::net::TcpStream::connect(&addr).is_ok();
    assert!(health);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    assert!(dir.path().join("updater-data/updater.db").exists());
}

/// Issue 11.7: counts still in memory when SIGTERM arrives reach the
/// database before the process exits (the flush loop, every hour here,
/// never ran after them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_the_telemetry_counted_before_it() {
    use productivitypro_protocol::api::{ArtifactSpec, PublishRequest};
    use productivitypro_protocol::manifest::UpdateOffer;
    use productivitypro_protocol::Channel;

    let dir = tempfile::tempdir().unwrap();
    let key = common::Key::new();
    let out = server(dir.path())
        .args(["token", "create", "--name", "ci", "--scope", "admin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut child = server(dir.path())
        .env("UPDATER_PUBLIC_KEY", key.public_b64())
        .env("UPDATER_TELEMETRY__FLUSH_INTERVAL", "1h")
        .env("UPDATER_GATE_INTERVAL", "1h")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (addr, lines) = tokio::task::spawn_blocking(move || {
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("updater-server listening on http://")
                    .map(str::to_string)
            })
            .expect("the listening line");
        (addr, lines)
    })
    .await
    .unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let (name, bytes) = ("pp_1.0.0.bin", b"1.0.0 bytes".to_vec());
    let release = PublishRequest {
        version: "1.0.0".into(),
        notes: String::new(),
        channel: Channel::Stable,
        percent: 100.0,
        artifacts: vec![ArtifactSpec {
            platform: "linux-x86_64-appimage".parse().unwrap(),
            file_name: name.into(),
            signature: key.sign(&bytes, name, "1.0.0"),
            url: None,
        }],
    };
    let form = reqwest::multipart::Form::new()
        .part(
            "release",
            reqwest::multipart::Part::text(serde_json::to_string(&release).unwrap())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "linux-x86_64-appimage",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    let r = http
        .post(format!("{base}/v1/releases"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    for _ in 0..3 {
        let id = uuid::Uuid::new_v4();
        let r = http
            .get(format!(
                "{base}/v1/update/linux/x86_64/0.9.0?channel=stable&bundle_type=appimage"
            ))
            .header("X-Install-Id", id.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let offer = UpdateOffer::parse(&r.bytes().await.unwrap()).unwrap();
        let report = serde_json::json!({
            "install_id": id, "version": "1.0.0", "channel": "stable", "os": "linux",
            "arch": "x86_64", "bundle_type": "appimage", "token": offer.telemetry_tokens["1.0.0"],
            "events": [{"kind": "session_start", "at": chrono::Utc::now().to_rfc3339()}],
        });
        let r = http
            .post(format!("{base}/v1/telemetry"))
            .json(&report)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, rest) = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        (child.wait().unwrap().code(), rest)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{rest:?}");
    let db = productivitypro_updater_server::db::Db::connect(&format!(
        "sqlite://{}",
        dir.path().join("updater-data/updater.db").display()
    ))
    .await
    .unwrap();
    let health = db.health(0).await.unwrap();
    assert_eq!(
        health.overall.get("1.0.0").map(|h| h.sessions),
        Some(3),
        "sessions counted before SIGTERM were lost: {rest:?}"
    );
}

#[test]
fn reads_a_toml_config_with_env_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-toml.db");
    let file = dir.path().join("updater-server.toml");
    std::fs::write(
        &file,
        format!("database_url = \"sqlite://{}\"\n[telemetry]\nflush_interval = \"1s\"\nburst = 10\nper_hour = 10\n", db.display()),
    )
    .unwrap();
    let out = server(dir.path())
        .args([
            "--config",
            file.to_str().unwrap(),
            "token",
            "create",
            "--name",
            "a",
            "--scope",
            "rollout",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists(), "the TOML database_url was used");
    let other = dir.path().join("from-env.db");
    let out = server(dir.path())
        .args(["--config", file.to_str().unwrap(), "token", "list"])
        .env(
            "UPDATER_DATABASE_URL",
            format!("sqlite://{}", other.display()),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        other.exists() && !String::from_utf8_lossy(&out.stdout).contains(" a "),
        "env overrides the file"
    );
    std::fs::write(&file, "surprise = 1\n").unwrap();
    let out = server(dir.path())
        .args(["--config", file.to_str().unwrap(), "token", "list"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("surprise"),
        "unknown keys are refused"
    );
    let out = server(dir.path())
        .args(["--config", "missing.toml", "token", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
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

/// Starts the binary in `dir` on `db`; returns it and its address once it listens.
fn start(dir: &std::path::Path, db: &str, key: &common::Key) -> (std::process::Child, String) {
    let mut child = server(dir)
        .env("UPDATER_DATABASE_URL", db)
        .env("UPDATER_PUBLIC_KEY", key.public_b64())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("updater-server listening on http://")
                .map(str::to_string)
        })
        .expect("the listening line");
    // Keeps the pipe drained so logging never blocks the service.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

/// A publish killed with SIGKILL mid-upload left its partial file in staging,
/// and a restart did not remove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_removes_what_a_killed_upload_left_in_staging() {
    let tmp = tempfile::tempdir().unwrap();
    for db in common::databases(tmp.path()).await {
        let dir = tempfile::tempdir().unwrap();
        let key = common::Key::new();
        let out = server(dir.path())
            .env("UPDATER_DATABASE_URL", &db)
            .args(["token", "create", "--name", "ci", "--scope", "publish"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let (mut child, addr) = start(dir.path(), &db, &key);

        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx))
            }));
        let req = productivitypro_protocol::api::PublishRequest {
            version: "1.0.0".into(),
            notes: String::new(),
            channel: productivitypro_protocol::Channel::Stable,
            percent: 100.0,
            artifacts: vec![productivitypro_protocol::api::ArtifactSpec {
                platform: "linux-x86_64-appimage".parse().unwrap(),
                file_name: "big.AppImage".into(),
                signature: key.sign(b"never finished", "big.AppImage", "1.0.0"),
                url: None,
            }],
        };
        let form = reqwest::multipart::Form::new()
            .text("release", serde_json::to_string(&req).unwrap())
            .part(
                "linux-x86_64-appimage",
                reqwest::multipart::Part::stream(body).file_name("big.AppImage"),
            );
        let upload = tokio::spawn(
            reqwest::Client::new()
                .post(format!("http://{addr}/v1/releases"))
                .bearer_auth(&token)
                .multipart(form)
                .send(),
        );
        let staging = dir.path().join("updater-data/staging");
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..64 {
            if staged_bytes(&staging) >= 16 << 20 {
                break;
            }
            tx.send(chunk.clone()).await.unwrap();
        }
        for _ in 0..200 {
            if staged_bytes(&staging) >= 16 << 20 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        drop(tx);
        assert!(
            upload.await.unwrap().is_err(),
            "the upload died with the service"
        );
        let left = staged_bytes(&staging);
        assert!(left >= 16 << 20, "the killed upload left {left} bytes");

        let (child, _) = start(dir.path(), &db, &key);
        let after = staged_bytes(&staging);
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let mut child = child;
        child.wait().unwrap();
        assert_eq!(
            after, 0,
            "a restart left the killed upload's {left} bytes in staging"
        );
    }
}
