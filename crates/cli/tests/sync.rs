//! `pp sync` end to end: two vaults (two `pp` data dirs) and the real
//! sync service on loopback (in this process, SQLite in a temporary
//! folder, or PostgreSQL: `PRODUCTIVITYPRO_SYNC_CLIENT_BACKEND=postgres`
//! under `scripts/with-postgres`). The sync passphrase only ever comes from the environment.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::{fails_with, json, ok, pp};
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::scratch::TestService;

const VAULT_PASS: &str = "vault passphrase";
const SYNC_PASS: &str = "a long sync passphrase";

/// The sync service the tests here run against.
fn service() -> TestService {
    TestService::start(Arc::new(ManualClock::new(1_795_000_000)))
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
    let svc = service();
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
    let svc = service();
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

fn write_secret(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let f = dir.join(name);
    std::fs::write(&f, format!("{text}\n")).unwrap();
    f
}

#[test]
fn passphrase_change_rewraps_the_same_key_and_a_wrong_current_one_changes_nothing() {
    let svc = service();
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for d in [&a, &b, &c] {
        ok(p(d.path()).arg("init"));
    }
    let email = "changer@example.com";
    ok(p(a.path()).args(["add", "Before the change"]));
    ok(p(a.path()).args(["sync", "signup", "--server", &svc.base, "--email", email]));
    ok(p(b.path()).args(["sync", "login", "--server", &svc.base, "--email", email]));

    // A wrong current passphrase: the server refuses, nothing changes.
    let err = fails_with(
        p(a.path())
            .args(["sync", "passphrase"])
            .env("PRODUCTIVITYPRO_SYNC_PASSPHRASE", "not the passphrase")
            .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "the new one"),
        "invalid_credentials",
    );
    assert!(err.contains("sync passphrase"), "{err}");
    // An empty new passphrase is refused before anything is sent.
    fails_with(
        p(a.path())
            .args(["sync", "passphrase"])
            .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "  "),
        "empty_passphrase",
    );
    // No new passphrase at all: a clear error naming where to give it.
    let r = p(a.path()).args(["sync", "passphrase"]).output().unwrap();
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE"));
    // The old passphrase still signs in after the refusals.
    ok(p(c.path()).args(["sync", "login", "--server", &svc.base, "--email", email]));
    ok(p(c.path()).args(["sync", "logout", "--forget-account"]));

    // The change, from a file.
    let new_file = write_secret(a.path(), "new-pass", "a brand new sync passphrase");
    ok(p(a.path()).args([
        "sync",
        "passphrase",
        "--new-sync-passphrase-file",
        new_file.to_str().unwrap(),
    ]));
    let d = tempfile::tempdir().unwrap();
    ok(p(d.path()).arg("init"));
    fails_with(
        p(d.path()).args(["sync", "login", "--server", &svc.base, "--email", email]),
        "invalid_credentials",
    );
    assert!(json(&ok(p(d.path()).args(["sync", "status", "--json"]))).is_null());
    ok(p(d.path())
        .args(["sync", "login", "--server", &svc.base, "--email", email])
        .env(
            "PRODUCTIVITYPRO_SYNC_PASSPHRASE",
            "a brand new sync passphrase",
        ));
    assert_eq!(titles(d.path()), ["Before the change"]);

    // Nothing was re-encrypted: B, signed in before the change with the
    // key it holds, keeps exchanging with A and the new device.
    ok(p(b.path()).args(["add", "From B after the change"]));
    ok(p(b.path()).args(["sync", "now"]));
    ok(p(a.path()).args(["sync", "now"]));
    ok(p(d.path()).args(["sync", "now"]));
    assert_eq!(titles(a.path()), titles(b.path()));
    assert_eq!(titles(d.path()), titles(b.path()));
}

#[test]
fn recover_with_the_dedicated_sync_recovery_key_sets_a_new_passphrase() {
    let svc = service();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        ok(p(d.path()).arg("init"));
    }
    let email = "forgetful@example.com";
    ok(p(a.path()).args(["add", "Remember this"]));
    let out = ok(p(a.path()).args(["sync", "signup", "--server", &svc.base, "--email", email]));
    let rk = common::recovery_key_from(&out);
    let key_file = write_secret(b.path(), "sync-rk", &rk);

    // A valid-looking key that is not the account's: refused, nothing linked.
    let other = common::recovery_key_from(&ok(p(tempfile::tempdir().unwrap().path()).arg("init")));
    let wrong = write_secret(b.path(), "wrong-rk", &other);
    fails_with(
        p(b.path())
            .args(["sync", "recover", "--server", &svc.base, "--email", email])
            .args(["--sync-recovery-key-file", wrong.to_str().unwrap()])
            .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "after recovery"),
        "invalid_credentials",
    );
    // A mistyped key: its own code, before any request.
    let typo = write_secret(b.path(), "typo-rk", "not-a-recovery-key");
    fails_with(
        p(b.path())
            .args(["sync", "recover", "--server", &svc.base, "--email", email])
            .args(["--sync-recovery-key-file", typo.to_str().unwrap()])
            .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "after recovery"),
        "invalid_recovery_key",
    );
    assert!(json(&ok(p(b.path()).args(["sync", "status", "--json"]))).is_null());
    // The failed attempts signed no device in.
    let devices = json(&ok(p(a.path()).args(["sync", "devices", "--json"])));
    assert_eq!(devices.as_array().unwrap().len(), 1, "{devices}");

    ok(p(b.path())
        .args(["sync", "recover", "--server", &svc.base, "--email", email])
        .args(["--sync-recovery-key-file", key_file.to_str().unwrap()])
        .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "after recovery"));
    assert_eq!(titles(b.path()), ["Remember this"]);
    // The old passphrase no longer signs in; the new one does.
    let c = tempfile::tempdir().unwrap();
    ok(p(c.path()).arg("init"));
    fails_with(
        p(c.path()).args(["sync", "login", "--server", &svc.base, "--email", email]),
        "invalid_credentials",
    );
    ok(p(c.path())
        .args(["sync", "login", "--server", &svc.base, "--email", email])
        .env("PRODUCTIVITYPRO_SYNC_PASSPHRASE", "after recovery"));
    assert_eq!(titles(c.path()), ["Remember this"]);
}

#[test]
fn recover_with_the_vaults_own_recovery_key_and_replace_it() {
    let svc = service();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let vault_rk = common::recovery_key_from(&ok(p(a.path()).arg("init")));
    ok(p(b.path()).arg("init"));
    let email = "vaultkey@example.com";
    let vault_rk_file = write_secret(a.path(), "vault-rk", &vault_rk);
    let out = ok(p(a.path())
        .args(["sync", "signup", "--server", &svc.base, "--email", email])
        .args(["--sync-recovery-key-file", vault_rk_file.to_str().unwrap()]));
    // The given key is used; no new one is printed.
    assert!(!out.contains("RECOVERY KEY"), "{out}");
    ok(p(a.path()).args(["add", "Kept by the vault key"]));
    ok(p(a.path()).args(["sync", "now"]));

    // Replacing the recovery key needs the passphrase; the old key then
    // stops working and the new one (printed once) opens the account.
    fails_with(
        p(a.path())
            .args(["sync", "recovery-key"])
            .env("PRODUCTIVITYPRO_SYNC_PASSPHRASE", "wrong"),
        "invalid_credentials",
    );
    let b_file = write_secret(b.path(), "vault-rk", &vault_rk);
    ok(p(b.path())
        .args(["sync", "recover", "--server", &svc.base, "--email", email])
        .args(["--sync-recovery-key-file", b_file.to_str().unwrap()])
        .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", SYNC_PASS));
    assert_eq!(titles(b.path()), ["Kept by the vault key"]);
    let out = ok(p(a.path()).args(["sync", "recovery-key"]));
    let new_rk = common::recovery_key_from(&out);
    let c = tempfile::tempdir().unwrap();
    ok(p(c.path()).arg("init"));
    let c_old = write_secret(c.path(), "old-rk", &vault_rk);
    fails_with(
        p(c.path())
            .args(["sync", "recover", "--server", &svc.base, "--email", email])
            .args(["--sync-recovery-key-file", c_old.to_str().unwrap()])
            .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "x y z"),
        "invalid_credentials",
    );
    let c_new = write_secret(c.path(), "new-rk", &new_rk);
    ok(p(c.path())
        .args(["sync", "recover", "--server", &svc.base, "--email", email])
        .args(["--sync-recovery-key-file", c_new.to_str().unwrap()])
        .env("PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE", "x y z"));
    assert_eq!(titles(c.path()), ["Kept by the vault key"]);
}
