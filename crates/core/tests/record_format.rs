//! Record format 2 (tasks in a compact binary encoding) next to format 1
//! (JSON), which every vault written before it holds: such a vault opens
//! as it is, a task is re-encoded only when it is next written, a vault
//! with both formats opens with the same values, and undo entries
//! recorded over JSON records still apply. The format is bound into each
//! record's AAD, so relabelling a record's format is tampering.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use productivitypro_core::domain::{Id, Task};
use productivitypro_core::vault::TaskPatch;
use productivitypro_core::{Unlock, Vault};
use support::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Each open with its own seed: ids drawn by one session must not be
/// drawn again by the next.
fn open_fixture(dir: &Path, seed: u64) -> Vault {
    Vault::open(dir, &Unlock::passphrase("fixture passphrase"), env(seed)).unwrap()
}

/// Each task row's id and stored format.
fn task_formats(dir: &Path) -> BTreeMap<Id, i64> {
    let c = raw(dir);
    let mut st = c
        .prepare("SELECT id, format FROM records WHERE kind = 'task'")
        .unwrap();
    let rows = st
        .query_map([], |r| {
            let id: Vec<u8> = r.get(0)?;
            Ok((Id::from_bytes(id.try_into().unwrap()), r.get(1)?))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn tasks(v: &Vault) -> BTreeMap<Id, Task> {
    v.tasks().map(|t| (t.id, t.clone())).collect()
}

#[test]
fn a_vault_of_json_task_records_opens_and_re_encodes_a_task_only_when_written() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema4-vault.db"), tmp.path().join("vault.db")).unwrap();
    let mut v = open_fixture(tmp.path(), 11);
    let formats = task_formats(tmp.path());
    assert_eq!(formats.len(), 4);
    assert!(formats.values().all(|f| *f == 1), "{formats:?}");

    let call = v.tasks().find(|t| t.title == "Call mum").unwrap().id;
    v.update_task(
        call,
        TaskPatch {
            title: Some("Call mum back".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let formats = task_formats(tmp.path());
    assert_eq!(formats[&call], 2);
    assert_eq!(formats.values().filter(|f| **f == 1).count(), 3);

    // Both formats in one vault read back as memory holds them.
    let held = tasks(&v);
    drop(v);
    let mut v = open_fixture(tmp.path(), 12);
    assert_eq!(tasks(&v), held);

    // An undo entry recorded by the schema-4 app (its digests are of JSON
    // records) still applies, and so does one recorded over format 2.
    v.set_history_session("cli").unwrap();
    v.undo().unwrap();
    let water = v.tasks().find(|t| t.title == "Water plants").unwrap();
    assert_eq!(water.notes, "");
    assert_eq!(task_formats(tmp.path())[&water.id], 2);
    v.set_history_session(productivitypro_core::vault::DEFAULT_SESSION)
        .unwrap();
    v.undo().unwrap();
    assert_eq!(v.tasks().find(|t| t.id == call).unwrap().title, "Call mum");

    let held = tasks(&v);
    drop(v);
    assert_eq!(tasks(&open_fixture(tmp.path(), 13)), held);
}

#[test]
fn new_tasks_are_written_in_format_2_and_lists_in_format_1() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = quick_vault(tmp.path());
    let list = v.add_list("Home", None).unwrap();
    let t = v.add_task(draft("a task")).unwrap();
    let held = tasks(&v);
    drop(v);
    assert_eq!(task_formats(tmp.path())[&t.id], 2);
    let list_format: i64 = raw(tmp.path())
        .query_row(
            "SELECT format FROM records WHERE kind = 'list' AND id = ?1",
            [list.id.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(list_format, 1);
    let v = Vault::open(tmp.path(), &Unlock::recovery_key(key), env(4)).unwrap();
    assert_eq!(tasks(&v), held);
}

/// The format column is bound into the AAD: a compact record relabelled
/// as JSON (or any other format) does not open, and a format this version
/// does not know is named as such, not as damage.
#[test]
fn a_record_whose_format_was_changed_fails_the_load() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = quick_vault(tmp.path());
    let t = v.add_task(draft("a task")).unwrap();
    drop(v);
    let unlock = Unlock::recovery_key(key);
    let set_format = |f: i64| {
        raw(tmp.path())
            .execute(
                "UPDATE records SET format = ?1 WHERE id = ?2",
                rusqlite::params![f, t.id.as_bytes().as_slice()],
            )
            .unwrap();
    };

    set_format(1);
    let err = Vault::open(tmp.path(), &unlock, env(5)).err().unwrap();
    assert_eq!(err.code(), "record_tampered", "{err}");
    assert!(err.to_string().contains(&t.id.to_string()), "{err}");

    set_format(3);
    let err = Vault::open(tmp.path(), &unlock, env(5)).err().unwrap();
    assert_eq!(err.code(), "record_unreadable", "{err}");
    assert!(err.to_string().contains("update the app"), "{err}");

    set_format(2);
    Vault::open(tmp.path(), &unlock, env(5)).unwrap();
}
