//! What the integrity ledger covers besides tasks and lists — the undo
//! history and the reminder state — and what `refresh` accepts from
//! another process: each entry deleted, put back, moved or rolled back
//! outside the app is an error naming it, never a different undo, a lost
//! snooze or a silently changed view.

mod support;

use std::path::Path;

use chrono::NaiveDate;
use productivitypro_core::domain::Due;
use productivitypro_core::reminders::ReminderSettings;
use productivitypro_core::vault::{TaskDraft, TaskPatch, HISTORY_LIMIT};
use productivitypro_core::{Unlock, Vault, VaultError};
use support::*;

fn open_rk(dir: &Path, key: &str) -> Result<Vault, VaultError> {
    Vault::open(dir, &Unlock::recovery_key(key), os_env())
}

fn cli_vault(dir: &Path) -> (Vault, String) {
    let (mut v, key) = quick_vault(dir);
    v.set_history_session("cli").unwrap();
    (v, key)
}

/// The id of the history entry `from_top` places below the top of a
/// stack (0: the top).
fn history_id(dir: &Path, session: &str, stack: &str, from_top: i64) -> Vec<u8> {
    raw(dir)
        .query_row(
            "SELECT id FROM history WHERE session = ?1 AND stack = ?2
             ORDER BY pos DESC LIMIT 1 OFFSET ?3",
            rusqlite::params![session, stack, from_top],
            |r| r.get(0),
        )
        .unwrap()
}

fn delete_history(dir: &Path, id: &[u8]) {
    assert_eq!(
        raw(dir)
            .execute("DELETE FROM history WHERE id = ?1", [id])
            .unwrap(),
        1
    );
}

fn due_draft(title: &str) -> TaskDraft {
    TaskDraft {
        due: Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap())),
        ..draft(title)
    }
}

/// Regression: deleting the newest undo entry from the file made `undo`
/// undo the action before it instead.
#[test]
fn a_deleted_top_undo_entry_is_an_error_not_the_previous_undo() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = cli_vault(tmp.path());
    let a = v.add_task(draft("a")).unwrap();
    let b = v.add_task(draft("b")).unwrap();
    delete_history(tmp.path(), &history_id(tmp.path(), "cli", "undo", 0));

    let err = v.history_state().unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(
        err.to_string().contains("undo history of session `cli`"),
        "{err}"
    );
    let err = v.undo().unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(
        v.task(a.id).is_some() && v.task(b.id).is_some(),
        "nothing undone"
    );
    drop(v);

    let err = open_rk(tmp.path(), &key).err().expect("opened");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains("history "), "{err}");
}

/// Regression: an undo entry deleted from the middle of the stack made
/// the undo after the one above it skip it.
#[test]
fn a_deleted_middle_undo_entry_is_caught_when_undo_reaches_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = cli_vault(tmp.path());
    let a = v.add_task(draft("a")).unwrap();
    let b = v.add_task(draft("b")).unwrap();
    let c = v.add_task(draft("c")).unwrap();
    delete_history(tmp.path(), &history_id(tmp.path(), "cli", "undo", 1));

    assert_eq!(v.undo().unwrap(), "Task added");
    assert!(v.task(c.id).is_none());
    let err = v.undo().unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(
        v.task(a.id).is_some() && v.task(b.id).is_some(),
        "neither a nor b undone in b's place"
    );
}

/// An entry already undone, put back on the undo stack: undoing it again
/// is refused, and so is opening the vault.
#[test]
fn an_undone_entry_put_back_is_reported_as_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = cli_vault(tmp.path());
    let b = v.add_task(draft("a")).unwrap();
    v.update_task(
        b.id,
        TaskPatch {
            title: Some("a, renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let c = raw(tmp.path());
    c.execute_batch(
        "CREATE TABLE saved AS SELECT * FROM history
         WHERE stack = 'undo' ORDER BY pos DESC LIMIT 1",
    )
    .unwrap();
    assert_eq!(v.undo().unwrap(), "Task edited");
    c.execute_batch("INSERT INTO history SELECT * FROM saved; DROP TABLE saved;")
        .unwrap();

    let err = v.history_state().unwrap_err();
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    let err = v.undo().unwrap_err();
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert_eq!(v.task(b.id).unwrap().title, "a", "the undo stands");
    drop(v);
    let err = open_rk(tmp.path(), &key).err().expect("opened");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(err.to_string().contains("was deleted"), "{err}");
}

/// Entries moved between sessions or stacks, reordered, or with their
/// plaintext change sequence edited: each is caught at open.
#[test]
fn history_entries_moved_reordered_or_renumbered_are_caught_at_open() {
    let edits: &[(&str, &str)] = &[
        (
            "moved to another session",
            "UPDATE history SET session = 'app', pos = 99 WHERE pos = 2 AND session = 'cli'",
        ),
        (
            "moved to the redo stack",
            "UPDATE history SET stack = 'redo' WHERE pos = 1 AND session = 'cli'",
        ),
        (
            "reordered",
            "UPDATE history SET pos = 100 WHERE pos = 1 AND session = 'cli';
             UPDATE history SET pos = 1 WHERE pos = 2 AND session = 'cli';
             UPDATE history SET pos = 2 WHERE pos = 100 AND session = 'cli';",
        ),
        (
            "renumbered",
            "UPDATE history SET changed_seq = changed_seq + 1 WHERE pos = 2 AND session = 'cli'",
        ),
    ];
    for (what, sql) in edits {
        let tmp = tempfile::tempdir().unwrap();
        let (mut v, key) = cli_vault(tmp.path());
        v.add_task(draft("a")).unwrap();
        v.add_task(draft("b")).unwrap();
        v.set_history_session("app").unwrap();
        v.add_task(draft("c")).unwrap();
        v.set_history_session("cli").unwrap();
        raw(tmp.path()).execute_batch(sql).unwrap();
        let err = v.undo().unwrap_err();
        assert!(
            ["vault_rolled_back", "record_missing", "record_tampered"].contains(&err.code()),
            "{what}: {err}"
        );
        drop(v);
        let err = open_rk(tmp.path(), &key).err().expect(what);
        assert!(
            ["vault_rolled_back", "record_missing"].contains(&err.code()),
            "{what}: {err}"
        );
        assert!(err.to_string().contains("history"), "{what}: {err}");
    }
}

/// The stacks keep `HISTORY_LIMIT` entries: the last undo before the cut
/// finds the entry below it dropped (not deleted behind its back) and
/// the stack ends cleanly.
#[test]
fn undo_down_to_the_history_limit_ends_with_an_empty_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = cli_vault(tmp.path());
    for i in 0..HISTORY_LIMIT + 3 {
        v.add_task(draft(&format!("t{i}"))).unwrap();
    }
    for _ in 0..HISTORY_LIMIT {
        v.undo().unwrap();
    }
    assert_eq!(v.undo().unwrap_err().code(), "undo_empty");
    assert_eq!(v.redo().unwrap(), "Task added");
    drop(v);
    let mut v = open_rk(tmp.path(), &key).unwrap();
    v.set_history_session("cli").unwrap();
    assert!(v.history_state().unwrap().can_undo);
}

/// Regression: deleting the reminder state from the file silently reset
/// it (snoozed reminders were never shown again).
#[test]
fn a_deleted_reminder_state_is_an_error_not_a_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, key) = quick_vault(tmp.path());
    let t = v.add_task(due_draft("call")).unwrap();
    v.snooze(t.id, 30).unwrap();
    raw(tmp.path())
        .execute("DELETE FROM local_state", [])
        .unwrap();

    let err = v.reminder_state().unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains("reminders state"), "{err}");
    let err = v.check_reminders(&ReminderSettings::default()).unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert_eq!(v.snooze(t.id, 10).unwrap_err().code(), "record_missing");
    drop(v);
    let err = open_rk(tmp.path(), &key).err().expect("opened");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains("reminders state"), "{err}");
}

/// An older reminder state put back (as it was, or relabelled with the
/// current change sequence) is refused, in session and at open.
#[test]
fn an_older_reminder_state_put_back_is_refused() {
    for relabel in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (mut v, key) = quick_vault(tmp.path());
        let t = v.add_task(due_draft("call")).unwrap();
        let u = v.add_task(due_draft("write")).unwrap();
        v.snooze(t.id, 30).unwrap();
        let c = raw(tmp.path());
        c.execute_batch("CREATE TABLE saved AS SELECT * FROM local_state")
            .unwrap();
        v.snooze(u.id, 30).unwrap();
        let current: i64 = c
            .query_row("SELECT changed_seq FROM local_state", [], |r| r.get(0))
            .unwrap();
        c.execute_batch("DELETE FROM local_state; INSERT INTO local_state SELECT * FROM saved;")
            .unwrap();
        if relabel {
            c.execute("UPDATE local_state SET changed_seq = ?1", [current])
                .unwrap();
        }
        let expected = if relabel {
            "record_tampered"
        } else {
            "vault_rolled_back"
        };
        let err = v.reminder_state().unwrap_err();
        assert_eq!(err.code(), expected, "{err}");
        assert_eq!(
            v.check_reminders(&ReminderSettings::default())
                .unwrap_err()
                .code(),
            expected
        );
        drop(v);
        let err = open_rk(tmp.path(), &key).err().expect("opened");
        assert_eq!(err.code(), expected, "{err}");
    }
}

/// Regression: `refresh` reloaded any row newer than what it had seen,
/// so an older write of another process put back in place of the newest
/// was shown as the current task.
#[test]
fn refresh_refuses_a_record_rolled_back_between_two_writes_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, key) = quick_vault(tmp.path());
    let t = a.add_task(draft("first")).unwrap();
    let mut b = open_rk(tmp.path(), &key).unwrap();
    let rename = |v: &mut Vault, title: &str| {
        v.update_task(
            t.id,
            TaskPatch {
                title: Some(title.into()),
                ..Default::default()
            },
        )
        .unwrap();
    };
    rename(&mut a, "second");
    let second = read_row(&raw(tmp.path()), t.id.as_bytes());
    rename(&mut a, "third");
    put_row(&raw(tmp.path()), &second);

    assert!(b.has_outside_changes().unwrap());
    let err = b.refresh().unwrap_err();
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(err.to_string().contains(&t.id.to_string()), "{err}");
    assert_eq!(b.task(t.id).unwrap().title, "first", "memory untouched");
    assert!(b.take_changes().is_empty());
}

/// Regression: a row deleted with a plaintext tombstone written beside it
/// made `refresh` drop the task from memory.
#[test]
fn refresh_refuses_a_deletion_the_ledger_does_not_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, key) = quick_vault(tmp.path());
    let t = a.add_task(draft("keep me")).unwrap();
    let mut b = open_rk(tmp.path(), &key).unwrap();
    raw(tmp.path())
        .execute_batch(&format!(
            "DELETE FROM records WHERE id = x'{id}';
             INSERT OR REPLACE INTO tombstones (kind, id, changed_seq) VALUES ('task', x'{id}', 999);
             UPDATE meta SET value = 999 WHERE name = 'change_seq';",
            id = hex(t.id.as_bytes())
        ))
        .unwrap();
    let err = b.refresh().unwrap_err();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(b.task(t.id).is_some(), "memory untouched");
}

/// A process still holding the key another one rotated away gets
/// `key_rotated` from refresh (and from any write), and reopens.
#[test]
fn refresh_after_a_rotation_elsewhere_is_key_rotated() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, key) = quick_vault(tmp.path());
    let t = a.add_task(draft("t")).unwrap();
    let mut b = open_rk(tmp.path(), &key).unwrap();
    let rotated = a.rotate_key(None).unwrap();
    a.update_task(
        t.id,
        TaskPatch {
            title: Some("after rotation".into()),
            ..Default::default()
        },
    )
    .unwrap();

    assert!(b.has_outside_changes().unwrap());
    assert_eq!(b.refresh().unwrap_err().code(), "key_rotated");
    assert_eq!(b.history_state().unwrap_err().code(), "key_rotated");
    assert_eq!(b.task(t.id).unwrap().title, "t");
    let new_key = rotated.recovery_key.unwrap().display_text().to_string();
    let b = open_rk(tmp.path(), &new_key).unwrap();
    assert_eq!(b.task(t.id).unwrap().title, "after rotation");
}

/// The whole vault (records, ledger head and parts) rolled back to one
/// consistent older state while a process runs: its refresh knows it had
/// read a newer one. (A fresh open cannot know: the documented limit.)
#[test]
fn refresh_notices_the_whole_vault_rolled_back_under_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, key) = quick_vault(tmp.path());
    a.add_task(draft("t")).unwrap();
    let mut b = open_rk(tmp.path(), &key).unwrap();
    let c = raw(tmp.path());
    c.execute_batch(
        "CREATE TABLE saved_records AS SELECT * FROM records;
         CREATE TABLE saved_ledger AS SELECT * FROM ledger;",
    )
    .unwrap();
    let u = a.add_task(draft("u")).unwrap();
    assert!(b.refresh().unwrap());
    assert!(b.task(u.id).is_some());
    c.execute_batch(
        "DELETE FROM records; INSERT INTO records SELECT * FROM saved_records;
         DELETE FROM ledger; INSERT INTO ledger SELECT * FROM saved_ledger;
         UPDATE meta SET value = 999 WHERE name = 'change_seq';",
    )
    .unwrap();
    let err = b.refresh().unwrap_err();
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(err.to_string().contains("already read"), "{err}");
}

/// Refresh still reports ordinary changes, and a reminder check elsewhere
/// (a commit that changes no record) is not one.
#[test]
fn refresh_after_a_reminder_check_elsewhere_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, key) = quick_vault(tmp.path());
    let t = a.add_task(due_draft("call")).unwrap();
    let mut b = open_rk(tmp.path(), &key).unwrap();
    a.check_reminders(&ReminderSettings::default()).unwrap();
    a.snooze(t.id, 30).unwrap();
    assert!(b.has_outside_changes().unwrap());
    assert!(!b.refresh().unwrap());
    assert!(b.take_changes().is_empty());
    assert!(!b.has_outside_changes().unwrap());
    assert_eq!(b.reminder_state().unwrap().snoozes.len(), 1);
    // In step again: b may rotate (it requires having seen every commit).
    b.rotate_key(None).unwrap();
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A vault written by the schema-3 code (trash, undo history in two
/// sessions, reminder state — see `tests/fixtures/README.md`) upgrades
/// to the ledger with everything in it intact and usable, and is
/// protected afterwards: its history and reminder state too.
#[test]
fn a_schema3_vault_upgrades_with_its_history_and_reminder_state() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema3-vault.db"), tmp.path().join("vault.db")).unwrap();
    assert_eq!(
        productivitypro_core::schema::version(&raw(tmp.path())).unwrap(),
        3,
        "the fixture is old"
    );
    let key = std::fs::read_to_string(fixture("schema3.recovery-key")).unwrap();
    let key = key.trim();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("schema3.expected.json")).unwrap()).unwrap();

    let mut v = open_rk(tmp.path(), key).unwrap();
    assert_eq!(
        v.schema_version().unwrap(),
        productivitypro_core::schema::CURRENT_VERSION
    );
    let b = v.bundle();
    assert_eq!(json(&b.lists), expected["lists"]);
    assert_eq!(json(&b.tasks), expected["tasks"]);
    for session in ["cli", "app"] {
        v.set_history_session(session).unwrap();
        assert_eq!(
            json(&v.history_state().unwrap()),
            expected["history"][session],
            "{session}"
        );
    }
    assert_eq!(
        json(&v.reminder_state().unwrap()),
        expected["reminder_state"]
    );

    // The history replays after the upgrade, both ways.
    v.set_history_session("cli").unwrap();
    let later = b
        .tasks
        .iter()
        .find(|t| t.title == "Maybe later")
        .unwrap()
        .id;
    assert!(v.task(later).unwrap().is_trashed());
    assert_eq!(v.undo().unwrap(), "Task deleted");
    assert!(!v.task(later).unwrap().is_trashed());
    assert_eq!(v.redo().unwrap(), "Task deleted");
    assert!(v.task(later).unwrap().is_trashed());
    v.check_reminders(&ReminderSettings::default()).unwrap();
    drop(v);
    let mut v = open_rk(tmp.path(), key).unwrap();
    v.set_history_session("cli").unwrap();
    assert_eq!(v.redo().unwrap(), "Task added", "the fixture's own redo");
    drop(v);

    // Covered now: the app session's only entry deleted is caught.
    delete_history(tmp.path(), &history_id(tmp.path(), "app", "undo", 0));
    let err = open_rk(tmp.path(), key).err().expect("opened");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains("history"), "{err}");
}

/// For comparison with the fixture's expectations.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
