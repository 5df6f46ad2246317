//! A vault written by the schema-4 app (`fixtures/schema4-vault.db`, see
//! the fixtures README) takes the schema-5 migration: its records and
//! undo history stay, and it can then sync — signing in stamps what it
//! held, and every later action records its operations.

mod support;

use std::path::PathBuf;

use productivitypro_core::vault::sync::NewLink;
use productivitypro_core::{Unlock, Vault};
use productivitypro_sync_protocol::keys::SyncKey;
use productivitypro_sync_protocol::{AccountId, DeviceId};
use zeroize::Zeroizing;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn open(dir: &std::path::Path) -> Vault {
    Vault::open(
        dir,
        &Unlock::passphrase("fixture passphrase"),
        support::env(3),
    )
    .unwrap()
}

fn user_version(dir: &std::path::Path) -> i64 {
    rusqlite::Connection::open(dir.join("vault.db"))
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[test]
fn a_schema4_vault_upgrades_to_schema5_and_then_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema4-vault.db"), tmp.path().join("vault.db")).unwrap();
    assert_eq!(user_version(tmp.path()), 4);

    let mut v = open(tmp.path());
    assert_eq!(user_version(tmp.path()), 5);
    let mut titles: Vec<String> = v.tasks().map(|t| t.title.clone()).collect();
    titles.sort();
    assert_eq!(titles, ["Call mum", "Old task", "Pay rent", "Water plants"]);
    let water = v.tasks().find(|t| t.title == "Water plants").unwrap();
    assert_eq!(water.notes, "fixture notes");
    assert!(v
        .tasks()
        .find(|t| t.title == "Old task")
        .unwrap()
        .is_trashed());
    assert!(v.tasks().find(|t| t.title == "Call mum").unwrap().done);
    assert!(!v.sync_enabled().unwrap());

    // The history survived the migration: undo the edit of the notes.
    v.set_history_session("cli").unwrap();
    v.undo().unwrap();
    assert_eq!(
        v.tasks().find(|t| t.title == "Water plants").unwrap().notes,
        ""
    );

    v.sync_enable(NewLink {
        server: "http://127.0.0.1:9".into(),
        email: "fixture@example.com".into(),
        account: AccountId([0xa0; 16]),
        device: DeviceId([1; 16]),
        key: SyncKey::from_bytes([0x40; 32]),
        token: Zeroizing::new("pps_fixture".into()),
    })
    .unwrap();
    let info = v.sync_info().unwrap().unwrap();
    // The enabling commit stamped everything: one row of operations.
    assert_eq!(info.pending_op_rows, 1);
    v.add_task(support::draft("after the upgrade")).unwrap();
    assert_eq!(v.sync_info().unwrap().unwrap().pending_op_rows, 2);
    drop(v);

    // Reopening checks the new rows against the ledger.
    let v = open(tmp.path());
    assert_eq!(v.tasks().count(), 5);
    assert_eq!(v.sync_info().unwrap().unwrap().pending_op_rows, 2);
}
