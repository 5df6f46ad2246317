//! The vault against real SQLite files in temporary folders.

use std::path::Path;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use productivitypro_core::crypto::{self, KeyId, RecordContext, RecordKind, SecretKey};
use productivitypro_core::domain::{Due, Id, Priority, Task, FORMAT_VERSION};
use productivitypro_core::order::OrderKey;
use productivitypro_core::slots::{self, SlotParams};
use productivitypro_core::vault::{BackupPolicy, RestoreOptions, TaskDraft, TaskPatch};
use productivitypro_core::{
    schema, CreateOptions, Env, FixedClock, KeyringChoice, RecoveryKey, Recurrence, Unlock, Vault,
    VaultError, View,
};
use rand::SeedableRng;
use zeroize::Zeroizing;

const PASS: &str = "correct horse battery staple";

fn env(seed: u64) -> Env {
    env_at(seed, Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap())
}

fn env_at(seed: u64, now: chrono::DateTime<Utc>) -> Env {
    Env {
        clock: Box::new(FixedClock::new(now)),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-test".into(),
    }
}

fn new_vault(dir: &Path) -> (Vault, RecoveryKey) {
    let c = Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: Some(Zeroizing::new(PASS.into())),
        },
        env(1),
    )
    .unwrap();
    (c.vault, c.recovery_key)
}

fn draft(title: &str) -> TaskDraft {
    TaskDraft {
        title: title.into(),
        ..Default::default()
    }
}

fn open_pass(dir: &Path) -> Result<Vault, VaultError> {
    Vault::open(dir, &Unlock::passphrase(PASS), env(2))
}

fn db_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("vault.db")).unwrap()
}

fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("vault.db")).unwrap()
}

#[test]
fn create_add_reopen_with_each_slot() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, rk) = new_vault(tmp.path());
    let home = v.add_list("Home", Some("#FF8800")).unwrap();
    let t = v
        .add_task(TaskDraft {
            title: "Pay rent".into(),
            notes: "IBAN in the drawer".into(),
            list: Some(home.id),
            tags: ["bills".to_string()].into(),
            priority: Priority::new(1).unwrap(),
            due: Some(Due {
                date: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
                time: chrono::NaiveTime::from_hms_opt(9, 0, 0),
                tz: Some("Europe/Berlin".into()),
            }),
            ..Default::default()
        })
        .unwrap();
    drop(v);
    for unlock in [
        Unlock::passphrase(PASS),
        Unlock::recovery_key(rk.display_text().to_string()),
    ] {
        let v = Vault::open(tmp.path(), &unlock, env(3)).unwrap();
        assert_eq!(v.task(t.id), Some(&t));
        assert_eq!(v.list(home.id).unwrap().colour.as_deref(), Some("#ff8800"));
    }
}

#[test]
fn wrong_passphrase_is_a_clear_error_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("x")).unwrap();
    drop(v);
    let before = db_bytes(tmp.path());
    let err = Vault::open(tmp.path(), &Unlock::passphrase("Tr0ub4dor&3"), env(2))
        .err()
        .unwrap();
    assert_eq!(err.code(), "wrong_passphrase", "{err}");
    assert!(err.to_string().contains("wrong passphrase"));
    assert!(db_bytes(tmp.path()) == before, "vault file changed");
}

#[test]
fn mistyped_and_wrong_recovery_keys_are_told_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, rk) = new_vault(tmp.path());
    drop(v);
    let text = rk.display_text().to_string();
    let mut typo = text.clone().into_bytes();
    typo[5] = if typo[5] == b'A' { b'B' } else { b'A' };
    let err = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(String::from_utf8(typo).unwrap()),
        env(2),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "recovery_key_mistyped", "{err}");
    assert!(err.to_string().contains("mistyped"));

    let other = RecoveryKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(77));
    let err = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(other.display_text().to_string()),
        env(2),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "wrong_recovery_key", "{err}");
}

#[test]
fn a_vault_without_the_chosen_slot_says_which_slots_to_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, _) = new_vault(tmp.path());
    drop(v);
    let err = Vault::open(tmp.path(), &Unlock::Keyring, env(2))
        .err()
        .unwrap();
    assert_eq!(err.code(), "no_such_slot");
    assert!(err.to_string().contains("passphrase"), "{err}");
}

#[test]
fn tampered_record_is_reported_by_id_and_nothing_is_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("secret plan")).unwrap();
    drop(v);
    raw(tmp.path())
        .execute(
            "UPDATE records SET ciphertext = CAST(ciphertext || x'00' AS BLOB) WHERE kind = 'task'",
            [],
        )
        .unwrap();
    let before = db_bytes(tmp.path());
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "record_tampered", "{err}");
    assert!(err.to_string().contains(&t.id.to_string()));
    assert!(db_bytes(tmp.path()) == before, "vault file changed");
}

#[test]
fn a_record_of_unknown_kind_fails_the_load_instead_of_vanishing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("a")).unwrap();
    drop(v);
    raw(tmp.path())
        .execute("UPDATE records SET kind = CAST('task' AS BLOB)", [])
        .unwrap();
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "vault_corrupt", "{err}");
}

/// Unlock looks for rows of other kinds with range seeks around `list`
/// and `task` on the (kind, id) index: a kind sorting before, between or
/// after them, or not text at all, must still be found.
#[test]
fn a_record_of_any_unknown_kind_fails_the_load_wherever_it_sorts() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, rk) = new_vault(tmp.path());
    let t = v.add_task(draft("a")).unwrap();
    drop(v);
    let unlock = Unlock::recovery_key(rk.display_text().to_string());
    let id = t.id.as_bytes().to_vec();
    for kind in [
        "''", "'aaa'", "'lis'", "'list '", "'m'", "'tas'", "'taskk'", "'zzz'", "'Task'", "7",
        "7.5", "x'00'",
    ] {
        raw(tmp.path())
            .execute(
                &format!("UPDATE records SET kind = {kind} WHERE id = ?1"),
                [&id],
            )
            .unwrap();
        let err = Vault::open(tmp.path(), &unlock, env(2)).err().unwrap();
        assert_eq!(err.code(), "vault_corrupt", "kind {kind}: {err}");
    }
    raw(tmp.path())
        .execute("UPDATE records SET kind = 'task' WHERE id = ?1", [&id])
        .unwrap();
    assert_eq!(
        Vault::open(tmp.path(), &unlock, env(2))
            .unwrap()
            .task_count(),
        1
    );
}

#[test]
fn a_record_sealed_under_another_key_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("a")).unwrap();
    drop(v);
    raw(tmp.path())
        .execute("UPDATE records SET key_id = x'0102030405060708'", [])
        .unwrap();
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "record_wrong_key", "{err}");
    assert!(err.to_string().contains(&t.id.to_string()), "{err}");
}

/// Regression: records lived in a WITHOUT ROWID table, whose rows spill
/// into an overflow page of their own past ~1 KB (on 4 KiB pages), so a
/// task with long notes cost a whole extra page. The file must stay near
/// the size of its ciphertext.
#[test]
fn records_table_stays_compact() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let n = 1000;
    let bundle_tasks: Vec<TaskDraft> = (0..n)
        .map(|i| TaskDraft {
            title: format!("review quarterly report number {i}"),
            notes: "call the team about the slides and the budget; ".repeat(30),
            ..Default::default()
        })
        .collect();
    for d in bundle_tasks {
        v.add_task(d).unwrap();
    }
    drop(v);
    let c = raw(tmp.path());
    let payload: i64 = c
        .query_row(
            "SELECT sum(length(ciphertext) + length(nonce) + length(id)) FROM records",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let pages: i64 = c
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    let page_size: i64 = c
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    let per_task = (pages * page_size) / n;
    assert!(
        pages * page_size < payload * 2,
        "{per_task} bytes per task on disk for {} bytes of record",
        payload / n
    );
}

#[test]
fn swapped_records_are_reported_as_moved() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let a = v.add_task(draft("a")).unwrap();
    let b = v.add_task(draft("b")).unwrap();
    drop(v);
    let c = raw(tmp.path());
    let get = |id: &Id| -> (Vec<u8>, Vec<u8>) {
        c.query_row(
            "SELECT nonce, ciphertext FROM records WHERE id = ?1",
            [id.as_bytes().as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (na, ca) = get(&a.id);
    let (nb, cb) = get(&b.id);
    for (id, n, ct) in [(&a.id, &nb, &cb), (&b.id, &na, &ca)] {
        c.execute(
            "UPDATE records SET nonce = ?1, ciphertext = ?2 WHERE id = ?3",
            rusqlite::params![n, ct, id.as_bytes().as_slice()],
        )
        .unwrap();
    }
    drop(c);
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "record_moved", "{err}");
    assert!(err.to_string().contains("belongs to task"), "{err}");
}

#[test]
fn truncated_emptied_and_garbage_vault_files_are_corrupt_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    for i in 0..200 {
        v.add_task(draft(&format!("task {i}"))).unwrap();
    }
    drop(v);
    let good = db_bytes(tmp.path());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", vec![0x5a; 8192]),
        ("header only", good[..100].to_vec()),
    ];
    for (what, bytes) in cases {
        std::fs::write(tmp.path().join("vault.db"), &bytes).unwrap();
        let _ = std::fs::remove_file(tmp.path().join("vault.db-wal"));
        let _ = std::fs::remove_file(tmp.path().join("vault.db-shm"));
        let err = open_pass(tmp.path())
            .err()
            .unwrap_or_else(|| panic!("{what}: opened"));
        assert_eq!(err.code(), "vault_corrupt", "{what}: {err}");
        assert!(err.to_string().contains("restore"), "{what}: {err}");
        assert!(db_bytes(tmp.path()) == bytes, "{what}: file changed");
    }
}

#[test]
fn missing_vault_and_existing_vault_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "vault_not_found");
    assert!(err.to_string().contains("pp init"));
    let (v, _) = new_vault(tmp.path());
    drop(v);
    let err = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        env(5),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "vault_exists");
    assert!(open_pass(tmp.path()).is_ok());
}

/// Writes a vault exactly as schema v1 stored it: no change sequence, no
/// tombstones.
fn write_v1_vault(dir: &Path, rk: &RecoveryKey, tasks: &[Task]) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
    let mut conn = rusqlite::Connection::open(dir.join("vault.db")).unwrap();
    schema::migrate_to(&mut conn, 1).unwrap();
    assert_eq!(schema::version(&conn).unwrap(), 1);
    let vault_id = Id::random(&mut rng);
    let key_id = KeyId::random(&mut rng);
    let key = SecretKey::random(&mut rng);
    for (name, value) in [
        ("vault_id", vault_id.as_bytes().to_vec()),
        ("key_id", key_id.0.to_vec()),
    ] {
        conn.execute(
            "INSERT INTO meta (name, value) VALUES (?1, ?2)",
            rusqlite::params![name, value],
        )
        .unwrap();
    }
    let params = SlotParams::new_recovery(&mut rng);
    let kek = slots::recovery_kek(rk.secret(), &params).unwrap();
    let slot = slots::wrap(params, &kek, &key, vault_id, key_id, &mut rng);
    conn.execute(
        "INSERT INTO key_slots (kind, params, nonce, wrapped, created_at) VALUES ('recovery', ?1, ?2, ?3, '2025-01-01T00:00:00Z')",
        rusqlite::params![serde_json::to_string(&slot.params).unwrap(), slot.nonce, slot.wrapped],
    )
    .unwrap();
    for t in tasks {
        let ctx = RecordContext {
            kind: RecordKind::Task,
            id: t.id.as_bytes(),
            format: FORMAT_VERSION,
            key_id,
            seq: 0,
        };
        let s = crypto::seal(
            &key,
            &ctx.aad_v1(),
            &serde_json::to_vec(t).unwrap(),
            &mut rng,
        );
        conn.execute(
            "INSERT INTO records (kind, id, format, key_id, nonce, ciphertext) VALUES ('task', ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![t.id.as_bytes().as_slice(), FORMAT_VERSION, key_id.0.as_slice(), s.nonce.as_slice(), s.ciphertext],
        )
        .unwrap();
    }
}

#[test]
fn a_vault_written_by_schema_v1_upgrades_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
    let rk = RecoveryKey::generate(&mut rng);
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let tasks: Vec<Task> = OrderKey::sequence(None, 3)
        .into_iter()
        .enumerate()
        .map(|(i, order)| Task {
            id: Id::random(&mut rng),
            title: format!("old task {i}"),
            notes: String::new(),
            list: None,
            tags: Default::default(),
            priority: Priority::NONE,
            due: None,
            recurrence: None,
            parent: None,
            order,
            done: false,
            done_at: None,
            created_at: now,
            updated_at: now,
            trashed_at: None,
        })
        .collect();
    write_v1_vault(tmp.path(), &rk, &tasks);

    let unlock = Unlock::recovery_key(rk.display_text().to_string());
    let mut v = Vault::open(tmp.path(), &unlock, env(6)).unwrap();
    assert_eq!(v.schema_version().unwrap(), schema::CURRENT_VERSION);
    for t in &tasks {
        assert_eq!(v.task(t.id), Some(t));
    }
    // Upgraded records take part in change tracking like new ones.
    v.update_task(
        tasks[0].id,
        TaskPatch {
            title: Some("renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    v.add_task(draft("new")).unwrap();
    drop(v);
    let v = Vault::open(tmp.path(), &unlock, env(7)).unwrap();
    assert_eq!(v.task(tasks[0].id).unwrap().title, "renamed");
    assert_eq!(v.task_count(), 4);
}

#[test]
fn a_vault_from_a_newer_app_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, _) = new_vault(tmp.path());
    drop(v);
    raw(tmp.path())
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "vault_too_new", "{err}");
}

#[test]
fn rotation_reencrypts_everything_and_renews_the_recovery_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, old_rk) = new_vault(tmp.path());
    let ids: Vec<Id> = (0..50)
        .map(|i| v.add_task(draft(&format!("t{i}"))).unwrap().id)
        .collect();
    let old_key_id = v.key_id();

    let err = v.rotate_key(None).err().unwrap();
    assert_eq!(err.code(), "passphrase_required");
    let err = v.rotate_key(Some("not it")).err().unwrap();
    assert_eq!(err.code(), "wrong_passphrase");
    assert_eq!(v.key_id(), old_key_id);

    let rotated = v.rotate_key(Some(PASS)).unwrap();
    assert_eq!(rotated.records, 50);
    let new_rk = rotated.recovery_key.unwrap();
    assert_ne!(v.key_id(), old_key_id);
    drop(v);

    let key_ids: Vec<Vec<u8>> = raw(tmp.path())
        .prepare("SELECT DISTINCT key_id FROM records")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(key_ids.len(), 1);
    assert_ne!(key_ids[0], old_key_id.0.to_vec());

    let err = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(old_rk.display_text().to_string()),
        env(8),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "wrong_recovery_key");
    let v = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(new_rk.display_text().to_string()),
        env(8),
    )
    .unwrap();
    assert!(ids.iter().all(|id| v.task(*id).is_some()));
    assert!(open_pass(tmp.path()).is_ok());
}

#[test]
fn slots_can_be_added_changed_and_removed_but_never_the_last() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.set_passphrase("new passphrase").unwrap();
    let slots = v.slots().unwrap();
    assert_eq!(slots.len(), 2, "one passphrase slot, one recovery slot");
    assert_eq!(
        v.set_passphrase("").err().unwrap().code(),
        "empty_passphrase"
    );
    drop(v);
    assert_eq!(
        open_pass(tmp.path()).err().unwrap().code(),
        "wrong_passphrase"
    );
    let mut v = Vault::open(tmp.path(), &Unlock::passphrase("new passphrase"), env(9)).unwrap();
    let recovery = v
        .slots()
        .unwrap()
        .into_iter()
        .find(|s| s.kind.as_str() == "recovery")
        .unwrap();
    v.remove_slot(recovery.id).unwrap();
    let last = v.slots().unwrap()[0].id;
    assert_eq!(v.remove_slot(last).err().unwrap().code(), "last_slot");
    assert_eq!(v.remove_slot(12345).err().unwrap().code(), "no_such_slot");
}

#[test]
fn backups_restore_elsewhere_and_rotate() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    let mut e = env(1);
    e.clock = Box::new(clock.clone());
    let c = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: Some(Zeroizing::new(PASS.into())),
        },
        e,
    )
    .unwrap();
    let (mut v, rk) = (c.vault, c.recovery_key);
    v.set_backup_policy(BackupPolicy {
        keep: 3,
        interval_hours: 24,
    })
    .unwrap();
    let l = v.add_list("Work", None).unwrap();
    for i in 0..20 {
        let mut d = draft(&format!("job {i}"));
        d.list = Some(l.id);
        v.add_task(d).unwrap();
    }
    assert!(v.backup_if_due().unwrap().is_some(), "first backup is due");
    assert!(
        v.backup_if_due().unwrap().is_none(),
        "not again within a day"
    );
    for _ in 0..4 {
        clock.advance(Duration::hours(25));
        v.add_task(draft("daily")).unwrap();
        assert!(v.backup_if_due().unwrap().is_some());
    }
    let backups = v.backups().unwrap();
    assert_eq!(backups.len(), 3, "keeps the newest three");
    assert!(backups[0].created_at > backups[1].created_at);
    let newest = backups[0].path.clone();
    let bundle = v.bundle();
    drop(v);

    for unlock in [
        Unlock::passphrase(PASS),
        Unlock::recovery_key(rk.display_text().to_string()),
    ] {
        let other = tempfile::tempdir().unwrap();
        let r = Vault::restore(
            &newest,
            other.path(),
            &unlock,
            RestoreOptions {
                keyring: false,
                replace: false,
            },
            env(10),
        )
        .unwrap();
        assert_eq!(r.bundle(), bundle);
        assert_eq!(
            r.id(),
            Vault::open(tmp.path(), &Unlock::passphrase(PASS), env(2))
                .unwrap()
                .id()
        );
    }

    // Over an existing vault: refused unless asked; then kept aside.
    let err = Vault::restore(
        &newest,
        tmp.path(),
        &Unlock::passphrase(PASS),
        RestoreOptions {
            keyring: false,
            replace: false,
        },
        env(11),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "vault_exists");
    Vault::restore(
        &newest,
        tmp.path(),
        &Unlock::passphrase(PASS),
        RestoreOptions {
            keyring: false,
            replace: true,
        },
        env(11),
    )
    .unwrap();
    assert!(std::fs::read_dir(tmp.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("replaced-")));
}

#[test]
fn damaged_backups_are_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("x")).unwrap();
    let file = tmp.path().join("b.ppbackup");
    v.write_backup(&file).unwrap();
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 5] ^= 1;
    let mut header_edit = good.clone();
    let pos = header_edit.windows(5).position(|w| w == b"tasks").unwrap();
    header_edit[pos + 7] = b'9';
    for (what, bytes, code) in [
        ("truncated", good[..good.len() - 30].to_vec(), "bad_backup"),
        ("flipped", flipped, "bad_backup"),
        ("header edited", header_edit, "bad_backup"),
        ("not a backup", b"hello".to_vec(), "bad_backup"),
    ] {
        let f = tmp.path().join("damaged.ppbackup");
        std::fs::write(&f, &bytes).unwrap();
        let target = tempfile::tempdir().unwrap();
        let err = Vault::restore(
            &f,
            target.path(),
            &Unlock::passphrase(PASS),
            RestoreOptions {
                keyring: false,
                replace: false,
            },
            env(12),
        )
        .err()
        .unwrap_or_else(|| panic!("{what} restored"));
        assert_eq!(err.code(), code, "{what}: {err}");
        assert!(
            !target.path().join("vault.db").exists(),
            "{what}: wrote a vault"
        );
    }
    let target = tempfile::tempdir().unwrap();
    let err = Vault::restore(
        &file,
        target.path(),
        &Unlock::passphrase("wrong"),
        RestoreOptions {
            keyring: false,
            replace: false,
        },
        env(12),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "wrong_passphrase");
}

#[test]
fn completing_a_recurring_task_creates_the_next_occurrence() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v
        .add_task(TaskDraft {
            title: "Water plants".into(),
            due: Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())),
            recurrence: Some(Recurrence::parse("FREQ=WEEKLY;BYDAY=MO").unwrap()),
            ..Default::default()
        })
        .unwrap();
    let c = v.complete_task(t.id).unwrap();
    assert!(c.done.done && c.done.done_at.is_some());
    let next = c.next.unwrap();
    assert_eq!(
        next.due.unwrap().date,
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    );
    assert!(!next.done);
    assert_eq!(next.title, "Water plants");
    drop(v);
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.task_count(), 2);
    assert_eq!(v.view(&View::All).len(), 1);
}

#[test]
fn a_write_from_a_stale_process_is_refused_not_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, _) = new_vault(tmp.path());
    let t = a.add_task(draft("shared")).unwrap();
    let mut b = open_pass(tmp.path()).unwrap();
    a.update_task(
        t.id,
        TaskPatch {
            notes: Some("from A".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let err = b
        .update_task(
            t.id,
            TaskPatch {
                title: Some("from B".into()),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
    assert_eq!(err.code(), "stale");
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.task(t.id).unwrap().notes, "from A");
    assert_eq!(v.task(t.id).unwrap().title, "shared");
}

#[test]
fn subtasks_go_with_their_parent_and_cycles_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let p = v.add_task(draft("parent")).unwrap();
    let mut d = draft("child");
    d.parent = Some(p.id);
    let c = v.add_task(d).unwrap();
    let mut d = draft("grandchild");
    d.parent = Some(c.id);
    let g = v.add_task(d).unwrap();
    let err = v
        .update_task(
            p.id,
            TaskPatch {
                parent: Some(Some(g.id)),
                ..Default::default()
            },
        )
        .err()
        .unwrap();
    assert_eq!(err.code(), "parent_cycle");
    let trashed = v.trash_tasks(&[p.id]).unwrap();
    assert_eq!(trashed.len(), 3);
    assert!(v.view(&View::All).is_empty());
    let removed = v.empty_trash(None).unwrap();
    assert_eq!(removed.len(), 3);
    assert_eq!(v.task_count(), 0);
}

#[test]
fn bad_task_input_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    assert_eq!(
        v.add_task(draft("   ")).err().unwrap().code(),
        "invalid_input"
    );
    let mut d = draft("x");
    d.tags.insert("two words".into());
    assert_eq!(v.add_task(d).err().unwrap().code(), "invalid_input");
    let mut d = draft("x");
    d.due = Some(Due {
        date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        time: None,
        tz: Some("Mars/Olympus".into()),
    });
    assert_eq!(v.add_task(d).err().unwrap().code(), "invalid_input");
    let mut d = draft("x");
    d.list = Some(Id::from_bytes([7; 16]));
    assert_eq!(v.add_task(d).err().unwrap().code(), "list_not_found");
    assert_eq!(v.add_list("", None).err().unwrap().code(), "invalid_input");
    assert_eq!(
        v.add_list("L", Some("blue")).err().unwrap().code(),
        "invalid_input"
    );
    v.add_list("Home", None).unwrap();
    assert_eq!(
        v.add_list("home", None).err().unwrap().code(),
        "list_exists"
    );
    assert_eq!(
        v.resolve_task("zzzz").err().unwrap().code(),
        "task_not_found"
    );
    assert_eq!(v.task_count(), 0);
}

#[test]
fn a_task_and_its_new_list_are_written_together() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let mut d = draft("buy bread");
    d.list_name = Some("Errands".into());
    let t = v.add_task(d).unwrap();
    let mut d = draft("buy milk");
    d.list_name = Some("errands".into());
    let u = v.add_task(d).unwrap();
    assert_eq!(t.list, u.list, "names match case-insensitively");
    let mut d = draft("nowhere");
    d.list_name = Some("  ".into());
    assert_eq!(v.add_task(d).err().unwrap().code(), "invalid_input");
    let moved = v
        .update_task(
            t.id,
            TaskPatch {
                list_name: Some("Home".into()),
                ..Default::default()
            },
        )
        .unwrap();
    drop(v);
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.lists().len(), 2);
    assert_eq!(v.list(moved.list.unwrap()).unwrap().name, "Home");
    assert_eq!(v.task_count(), 2);
}

#[test]
fn import_is_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let existing = v.add_task(draft("already here")).unwrap();
    let mut bundle = v.bundle();
    let mut fresh = existing.clone();
    fresh.id = Id::from_bytes([1; 16]);
    bundle.tasks.insert(0, fresh);
    let err = v.import(bundle, false).err().unwrap();
    assert_eq!(err.code(), "import_conflict");
    assert_eq!(v.task_count(), 1);
    drop(v);
    assert_eq!(open_pass(tmp.path()).unwrap().task_count(), 1);
}

#[test]
fn views_follow_the_local_calendar() {
    let tmp = tempfile::tempdir().unwrap();
    // 23:30 UTC on the 23rd is already the 24th in Berlin.
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 23, 30, 0).unwrap();
    let c = Vault::create(
        tmp.path(),
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        env_at(1, now),
    )
    .unwrap();
    let mut v = c.vault;
    let day = |d: u32| Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, d).unwrap()));
    let mut mk = |title: &str, due, p: u8| {
        let mut d = draft(title);
        d.due = due;
        d.priority = Priority::new(p).unwrap();
        v.add_task(d).unwrap()
    };
    let overdue = mk("overdue", day(20), 0);
    let today_low = mk("today low", day(24), 4);
    let today_urgent = mk("today urgent", day(24), 1);
    let soon = mk("soon", day(26), 0);
    let _later = mk(
        "later",
        day(30).map(|d| Due {
            date: d.date + Duration::days(30),
            ..d
        }),
        0,
    );
    let _none = mk("no date", None, 0);
    let today: Vec<Id> = v.view(&View::Today).iter().map(|t| t.id).collect();
    assert_eq!(today, vec![overdue.id, today_urgent.id, today_low.id]);
    let upcoming: Vec<Id> = v
        .view(&View::Upcoming { days: 7 })
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(upcoming, vec![soon.id]);
    assert_eq!(v.view(&View::All).len(), 6);
    assert_eq!(v.search("TODAY").len(), 2);
    assert_eq!(v.search("today urgent").len(), 1);
    assert!(v.search("").is_empty());
}

/// Before an update replaces the app: `close` leaves a complete database
/// file (the WAL written back and truncated) that opens with what was
/// written, and says when another handle kept part of the WAL alive.
#[test]
fn close_checkpoints_the_wal_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(dir.path());
    v.add_task(draft("written before the update")).unwrap();
    let wal = dir.path().join("vault.db-wal");
    assert!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the write is in the WAL before closing"
    );
    assert!(v.close().unwrap(), "nobody else holds the vault");
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        0,
        "the WAL is written back and truncated"
    );
    // The database file alone holds the task: copy it without the WAL.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("vault.db"), copy.path().join("vault.db")).unwrap();
    let v = open_pass(copy.path()).unwrap();
    assert_eq!(v.tasks().count(), 1);

    // A second handle reading an older state keeps the WAL alive.
    let mut v = open_pass(dir.path()).unwrap();
    let reader = rusqlite::Connection::open(dir.path().join("vault.db")).unwrap();
    let tx = reader.unchecked_transaction().unwrap();
    let _: i64 = tx
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .unwrap();
    v.add_task(draft("written while another handle reads"))
        .unwrap();
    assert!(!v.close().unwrap(), "a reader holds part of the WAL");
    drop(tx);
    drop(reader);
    assert_eq!(open_pass(dir.path()).unwrap().tasks().count(), 2);
}
