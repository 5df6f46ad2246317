//! `pp vault pre-migration`: the copies taken before a schema upgrade,
//! and the way back to one when a newer app upgraded the vault.

mod common;

use std::path::{Path, PathBuf};

use common::{fails_with, json, ok, pp, run};

const FIXTURE_PASS: &str = "fixture passphrase";

fn with_pass(dir: &Path, pass: &str) -> std::process::Command {
    let mut c = pp(dir);
    c.env("PRODUCTIVITYPRO_PASSPHRASE", pass);
    c
}

/// A vault written by the schema-4 app (see the core's fixtures README).
fn schema4_vault(dir: &Path) {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/schema4-vault.db");
    std::fs::copy(fixture, dir.join("vault.db")).unwrap();
}

fn set_user_version(dir: &Path, v: u32) {
    rusqlite::Connection::open(dir.join("vault.db"))
        .unwrap()
        .pragma_update(None, "user_version", v)
        .unwrap();
}

#[test]
fn pre_migration_list_and_restore_after_a_newer_app_upgraded_the_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    schema4_vault(dir);
    // The first open migrates, after copying the schema-4 file.
    let tasks = json(&ok(with_pass(dir, FIXTURE_PASS).args(["list", "--json"])));
    assert_eq!(tasks.as_array().unwrap().len(), 2, "{tasks}");

    let copies = json(&ok(pp(dir).args([
        "vault",
        "pre-migration",
        "list",
        "--json",
    ])));
    let copies = copies.as_array().unwrap();
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies[0]["schema"], 4);
    let name = copies[0]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("vault-schema-4-"), "{name}");
    let text = ok(pp(dir).args(["vault", "pre-migration", "list"]));
    assert!(text.contains(&name) && text.contains("schema 4"), "{text}");

    // A vault this version opens is not replaced.
    let r = run(with_pass(dir, FIXTURE_PASS).args(["vault", "pre-migration", "restore", &name]));
    assert!(!r.ok);
    assert!(r.stderr.contains("opens the vault"), "{}", r.stderr);

    // A newer app upgraded it: refused, and the copy is the way back.
    ok(with_pass(dir, FIXTURE_PASS).args(["add", "after the update"]));
    set_user_version(dir, productivitypro_core::schema::CURRENT_VERSION + 1);
    fails_with(with_pass(dir, FIXTURE_PASS).args(["list"]), "vault_too_new");
    fails_with(
        with_pass(dir, FIXTURE_PASS).args(["vault", "pre-migration", "restore", "nope"]),
        "pre_migration_copy_not_found",
    );
    fails_with(
        with_pass(dir, "not the passphrase").args(["vault", "pre-migration", "restore", &name]),
        "wrong_passphrase",
    );
    assert!(!std::fs::read_dir(dir).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("replaced")));

    let out = ok(with_pass(dir, FIXTURE_PASS).args(["vault", "pre-migration", "restore", &name]));
    assert!(out.contains("schema 4") && out.contains("4 tasks"), "{out}");
    let tasks = json(&ok(with_pass(dir, FIXTURE_PASS).args(["list", "--json"])));
    let titles: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert!(!titles.contains(&"after the update"), "{titles:?}");
    let aside: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vault.db.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
}

#[test]
fn two_pp_processes_opening_an_old_vault_at_once_both_succeed_after_one_copy_at_least() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    schema4_vault(dir);
    let children: Vec<_> = (0..2)
        .map(|_| {
            with_pass(dir, FIXTURE_PASS)
                .args(["list", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tasks = json(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(tasks.as_array().unwrap().len(), 2, "{tasks}");
    }
    let version: u32 = rusqlite::Connection::open(dir.join("vault.db"))
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, productivitypro_core::schema::CURRENT_VERSION);
    let copies = json(&ok(pp(dir).args([
        "vault",
        "pre-migration",
        "list",
        "--json",
    ])));
    let copies = copies.as_array().unwrap();
    assert!(!copies.is_empty());
    assert!(copies.iter().all(|c| c["schema"] == 4), "{copies:?}");
}
