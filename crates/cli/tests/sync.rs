//! `pp sync` end to end: two vaults (two `pp` data dirs) and the real
//! sync service on loopback (in this process, SQLite in a temporary
//! folder). The sync passphrase only ever comes from the environment.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{fails_with, json, ok, pp};
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::config::HashCost;
use productivitypro_sync_server::{Config, Server};

const VAULT_PASS: &str = "vault passphrase";
const SYNC_PASS: &str = "a long sync passphrase";

struct Service {
    rt: tokio::runtime::Runtime,
    server: Option<Server>,
    base: String,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start() -> Service {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let c = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            database_url: Some(format!("sqlite://{}/sync.db", dir.path().display())),
            log_format: "text".into(),
            login_hash: HashCost {
                m_kib: 8192,
                t: 1,
                p: 1,
            },
            ..Config::default()
        };
        let server = rt
            .block_on(Server::start(c, Arc::new(ManualClock::new(1_795_000_000))))
            .unwrap();
        let base = format!("http://{}", server.addr);
        Service {
            rt,
            server: Some(server),
            base,
            _dir: dir,
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

fn p(dir: &Path) -> Command {
    let mut c = pp(dir);
    c.arg("--no-keyring")
        .env("PRODUCTIVITYPRO_PASSPHRASE", VAULT_PASS)
        .env("PRODUCTIVITYPRO_SYNC_PASSPHRASE", SYNC_PASS);
    c
}

fn titles(dir: &Path) -> Vec<String> {
    let out = json(&ok(p(dir).args(["list", "--json"])));
    let mut t: Vec<String> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[test]
fn two_vaults_sync_through_pp() {
    let svc = Service::start();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for d in [&a, &b, &c] {
        ok(p(d.path()).arg("init"));
    }
    ok(p(a.path()).args(["add", "Pay rent #home @bills"]));
    let email = "alice@example.com";
    let off = json(&ok(p(a.path()).args(["sync", "status", "--json"])));
    assert!(off.is_null(), "{off}");

    ok(p(a.path()).args(["sync", "signup", "--server", &svc.base, "--email", email]));
    let status = json(&ok(p(a.path()).args(["sync", "status", "--json"])));
    assert_eq!(status["unsent_batches"], 0);
    assert_eq!(status["pending_op_rows"], 0);
    assert!(status.get("token").is_none() && status.get("key").is_none());

    // A second vault signs in and gets the task.
    ok(p(b.path()).args(["sync", "login", "--server", &svc.base, "--email", email]));
    assert_eq!(titles(b.path()), ["Pay rent"]);
    let devices = json(&ok(p(b.path()).args(["sync", "devices", "--json"])));
    assert_eq!(devices.as_array().unwrap().len(), 2);

    // Edits on both; each syncs; both show both.
    ok(p(b.path()).args(["add", "Call mum"]));
    ok(p(a.path()).args(["add", "Water plants"]));
    ok(p(b.path()).args(["sync", "now"]));
    let r = json(&ok(p(a.path()).args(["sync", "now", "--json"])));
    assert_eq!(r["pushed_batches"], 1);
    ok(p(b.path()).args(["sync", "now"]));
    assert_eq!(titles(a.path()), ["Call mum", "Pay rent", "Water plants"]);
    assert_eq!(titles(b.path()), titles(a.path()));

    // A wrong passphrase is a clear error, and the vault stays unsynced.
    fails_with(
        p(c.path())
            .args(["sync", "login", "--server", &svc.base, "--email", email])
            .env("PRODUCTIVITYPRO_SYNC_PASSPHRASE", "wrong passphrase"),
        "invalid_credentials",
    );
    assert!(json(&ok(p(c.path()).args(["sync", "status", "--json"]))).is_null());
    // Signing up twice with one email is refused with its code.
    fails_with(
        p(c.path()).args(["sync", "signup", "--server", &svc.base, "--email", email]),
        "account_exists",
    );

    // Signing out keeps the tasks; the device is listed as signed out.
    ok(p(b.path()).args(["sync", "logout"]));
    assert_eq!(titles(b.path()).len(), 3);
    assert!(json(&ok(p(b.path()).args(["sync", "status", "--json"]))).is_null());
    let devices = json(&ok(p(a.path()).args(["sync", "devices", "--json"])));
    assert_eq!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["signed_out"] == true)
            .count(),
        1
    );
}

#[test]
fn watch_merges_another_devices_change_when_notified() {
    let svc = Service::start();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        ok(p(d.path()).arg("init"));
    }
    let email = "watcher@example.com";
    ok(p(a.path()).args(["sync", "signup", "--server", &svc.base, "--email", email]));
    ok(p(b.path()).args(["sync", "login", "--server", &svc.base, "--email", email]));
    let mut watch = p(a.path())
        .args(["sync", "watch"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the watcher is connected (it says so on stderr).
    let mut err = std::io::BufReader::new(watch.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut err, &mut line).unwrap();
        assert!(n > 0, "pp sync watch ended before connecting");
        if line.contains("watching") {
            break;
        }
    }
    ok(p(b.path()).args(["add", "from B while A watches"]));
    ok(p(b.path()).args(["sync", "now"]));
    // No wall-clock assertion: poll until the watcher merged it (the
    // figure for how fast is a benchmark's job).
    let mut seen = false;
    for _ in 0..200 {
        if titles(a.path())
            .iter()
            .any(|t| t == "from B while A watches")
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    watch.kill().unwrap();
    let _ = watch.wait();
    assert!(seen, "the watcher merged B's change after the notice");
}
