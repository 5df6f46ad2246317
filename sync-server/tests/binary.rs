//! The `sync-server` binary as an operator runs it: one command on a data
//! dir, JSON logs that never hold secrets, payloads or emails, bad config
//! refused with a clear message, a clean stop on SIGTERM. And what crosses
//! the wire and lands on disk holds no user content.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{contains, now_ms, Tap};
use productivitypro_sync_protocol::client::{account, MemoryDevice, Notifications, SyncClient};
use productivitypro_sync_protocol::{Action, DeviceId, RecordId, RecordRef};
use serde_json::json;

fn server(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sync-server"));
    c.current_dir(dir)
        .env("SYNC_LISTEN", "127.0.0.1:0")
        .env("SYNC_LOG_FORMAT", "json")
        .env_remove("SYNC_DATABASE_URL")
        .env_remove("SYNC_CONFIG")
        .env_remove("RUST_LOG");
    c
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = |c: &mut Command| {
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run(server(dir.path()).env("SYNC_LISTEN", "nowhere")).contains("invalid configuration"));
    assert!(
        run(server(dir.path()).env("SYNC_DATABASE_URL", "mysql://x"))
            .contains("unsupported database URL")
    );
    assert!(
        run(server(dir.path()).env("SYNC_LIMITS__MAX_BATCHES_PER_PUSH", "0"))
            .contains("max_batches_per_push")
    );
    let file = dir.path().join("sync.toml");
    std::fs::write(&file, "surprise = 1\n").unwrap();
    assert!(
        run(server(dir.path()).args(["--config", file.to_str().unwrap()])).contains("surprise")
    );
    assert!(run(server(dir.path()).args(["--config", "missing.toml"])).contains("does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_command_on_a_data_dir_and_no_secrets_in_logs_traffic_or_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = server(dir.path())
        .args(["--data-dir", data.to_str().unwrap()])
        .env("SYNC_LOGIN_HASH__M_KIB", "8192")
        .env("SYNC_LOGIN_HASH__T", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut reader = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = reader
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("sync-server listening on http://")
                .map(str::to_string)
        })
        .expect("the listening line");
    let sink = lines.clone();
    let log_thread = std::thread::spawn(move || {
        for l in reader.map_while(Result::ok) {
            sink.lock().unwrap().push(l);
        }
    });
    assert!(data.join("sync.db").exists(), "SQLite in the data dir");

    // Everything goes through a tap that records the traffic.
    let tap = Tap::start(addr.parse().unwrap()).await;
    let base = format!("http://{}", tap.addr);
    let client = SyncClient::new(&base);
    let marker = "MARKER-7f3a9c";
    let email = format!("{marker}@example.com");
    let passphrase = format!("{marker} passphrase");
    let recovery = [0x42u8; 32];
    let mut rng = common::rng();
    let s = account::signup(
        &client,
        &email,
        &passphrase,
        Some(&recovery),
        DeviceId::random(&mut rng),
        Some(&format!("{marker} laptop")),
        None,
        &mut rng,
    )
    .await
    .unwrap();
    let mut a = MemoryDevice::new(client.clone(), &s.session, s.key.clone(), common::rng());
    let t = now_ms();
    for (i, field) in ["title", "notes", "list", "due", "order"]
        .iter()
        .enumerate()
    {
        a.set(
            "task",
            RecordId([1; 16]),
            field,
            json!(format!("{marker} {field}")),
            t + i as u64,
        )
        .unwrap();
    }
    a.set(
        "list",
        RecordId([2; 16]),
        "name",
        json!(format!("{marker} list")),
        t,
    )
    .unwrap();
    a.record(
        RecordRef::new("task", RecordId([1; 16])),
        Action::Tag {
            tag: format!("{marker}-tag"),
            on: true,
        },
        t + 9,
    )
    .unwrap();
    a.sync().await.unwrap();
    assert!(a.upload_snapshot().await.unwrap());
    let (login, _, pk) = account::derive(&client, &email, &passphrase).await.unwrap();
    let sb = account::login(&client, login, &pk, DeviceId::random(&mut rng), None)
        .await
        .unwrap();
    let mut b = MemoryDevice::new(client.clone(), &sb.session, sb.key.clone(), common::rng());
    let mut socket = Notifications::connect(&base, &b.token).await.unwrap();
    socket.next().await.unwrap();
    b.bootstrap().await.unwrap();
    assert_eq!(b.replica.view(), a.replica.view());
    let bad = client.pull(&a.token, 999, None).await.unwrap_err();
    assert_eq!(bad.code(), "cursor_ahead");
    socket.close().await;

    // Stop cleanly, then look at everything the service saw and kept.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    log_thread.join().unwrap();
    let logs = lines.lock().unwrap().join("\n");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "JSON logs:\n{logs}"
    );
    assert!(logs.contains("/v1/batches"), "requests are logged by route");
    let login_secret = productivitypro_sync_protocol::b64::encode(pk.login_secret.as_ref());
    for (what, secret) in [
        ("marker", marker.to_string()),
        ("email", email.to_lowercase()),
        ("token", a.token.clone()),
        ("token", b.token.clone()),
        ("login secret", login_secret.clone()),
        ("account id", s.session.account_id.hex()),
    ] {
        assert!(!logs.contains(&secret), "the logs hold the {what}:\n{logs}");
    }
    let traffic = tap.bytes();
    assert!(
        contains(&traffic, b"/v1/batches"),
        "the tap saw the traffic"
    );
    assert!(
        !contains(&traffic, marker.as_bytes()),
        "plaintext on the wire"
    );
    assert!(!contains(&traffic, marker.to_lowercase().as_bytes()));
    for f in std::fs::read_dir(&data).unwrap() {
        let path = f.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, marker.as_bytes()),
            "{} holds plaintext",
            path.display()
        );
        assert!(
            !contains(&bytes, marker.to_lowercase().as_bytes()),
            "{} holds the email",
            path.display()
        );
    }
}
