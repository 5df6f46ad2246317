//! No user content on disk: a unique marker in every user field never
//! appears in any file of the vault folder (database, WAL, shared memory,
//! backups), whether the vault is open, closed, rotated or restored.

mod common;

use chrono::TimeZone;
use productivitypro_core::vault::{BackupPolicy, RestoreOptions, TaskDraft, TaskPatch};
use productivitypro_core::{CreateOptions, Env, FixedClock, KeyringChoice, Unlock, Vault, View};
use zeroize::Zeroizing;

const MARKER: &str = "PLAINMARK4471";

fn env() -> Env {
    Env {
        clock: Box::new(FixedClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand::rngs::OsRng),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-test".into(),
    }
}

fn assert_clean(dir: &std::path::Path, when: &str) {
    let leaked = common::files_containing(dir, MARKER);
    assert!(leaked.is_empty(), "{when}: marker found in {leaked:?}");
    assert!(!common::files_under(dir).is_empty());
}

#[test]
fn the_scanner_finds_a_planted_marker() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::write(
        tmp.path().join("sub/x.bin"),
        format!("\0\0{}\0", MARKER.to_lowercase()),
    )
    .unwrap();
    assert_eq!(common::files_containing(tmp.path(), MARKER).len(), 1);
}

#[test]
fn user_content_never_reaches_the_disk_in_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    let c = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: Some(Zeroizing::new("pass phrase".into())),
        },
        env(),
    )
    .unwrap();
    let mut v = c.vault;
    let list = v
        .add_list(&format!("{MARKER} list"), Some("#123456"))
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..300 {
        let t = v
            .add_task(TaskDraft {
                title: format!("{MARKER} title {i}"),
                notes: format!("notes with {MARKER} inside, line {i}\nsecond line"),
                list: Some(list.id),
                tags: [format!("{MARKER}tag"), "plain".to_string()].into(),
                recurrence: None,
                ..Default::default()
            })
            .unwrap();
        ids.push(t.id);
    }
    for id in ids.iter().step_by(7) {
        v.update_task(
            *id,
            TaskPatch {
                title: Some(format!("{MARKER} renamed")),
                ..Default::default()
            },
        )
        .unwrap();
    }
    for id in ids.iter().step_by(11) {
        v.complete_task(*id).unwrap();
    }
    // The trash, the undo history (before-images of edits, completions,
    // trashing and emptying) and the reminder state all hold user content.
    v.set_history_session("app").unwrap();
    let doomed: Vec<_> = ids.iter().skip(1).step_by(13).copied().collect();
    v.trash_tasks(&doomed).unwrap();
    v.trash_tasks(&ids[2..4]).unwrap();
    v.empty_trash(Some(&ids[2..3])).unwrap();
    v.undo().unwrap();
    v.undo().unwrap();
    v.redo().unwrap();
    let live: Vec<_> = v.view(&View::All).iter().take(10).map(|t| t.id).collect();
    v.tag_tasks(&live, &[format!("{MARKER}bulk")], &[]).unwrap();
    v.snooze(live[0], 10).unwrap();
    v.check_reminders(&Default::default()).unwrap();
    assert!(v.history_state().unwrap().can_undo);
    assert!(!v.trash().is_empty());
    // Open vault: the WAL holds the recent pages.
    assert!(
        tmp.path().join("vault.db-wal").exists(),
        "expected a WAL file while open"
    );
    assert_clean(tmp.path(), "open vault with WAL");

    v.set_backup_policy(BackupPolicy {
        keep: 2,
        interval_hours: 1,
    })
    .unwrap();
    v.backup_now().unwrap();
    v.write_backup(&tmp.path().join("export.ppbackup")).unwrap();
    v.rotate_key(Some("pass phrase")).unwrap();
    assert_clean(tmp.path(), "after backups and key rotation");
    drop(v);
    assert_clean(tmp.path(), "closed vault");

    let restored = tmp.path().join("restored");
    let v = Vault::restore(
        &tmp.path().join("export.ppbackup"),
        &restored,
        &Unlock::passphrase("pass phrase"),
        RestoreOptions {
            keyring: false,
            replace: false,
        },
        env(),
    )
    .unwrap();
    assert!(
        v.search(MARKER).len() > 200,
        "the marker is really in the data"
    );
    assert!(!v.trash().is_empty(), "the backup kept the trash");
    assert_clean(&restored, "restored vault");
}
