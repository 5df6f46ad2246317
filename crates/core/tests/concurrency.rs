//! Two processes (here: two `Vault`s, or threads) on one vault file:
//! rotation against writers, creation and restore against each other,
//! slot removal, and loading beside a writer (issue 11, points 11 and 13).

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use productivitypro_core::crypto::{self, KeyId};
use productivitypro_core::slots::{self, SlotParams};
use productivitypro_core::vault::{RestoreOptions, TaskDraft, TaskPatch};
use productivitypro_core::{Id, Unlock, Vault};
use support::*;

fn open_rk(dir: &std::path::Path, rk: &str) -> Vault {
    Vault::open(dir, &Unlock::recovery_key(rk.to_string()), os_env()).unwrap()
}

/// Regression (point 11): after another process rotated the key, an edit
/// from a process still holding the old key was written under it, and
/// the vault no longer opened (`record_wrong_key`). Now the edit is
/// refused with `key_rotated`; the process opens again and retries;
/// nothing is lost.
#[test]
fn an_edit_after_another_process_rotated_the_key_is_refused_then_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut app, _) = new_vault(tmp.path());
    let t = app.add_task(draft("shared")).unwrap();
    let other = app.add_task(draft("untouched")).unwrap();

    // `pp vault rotate` in another process.
    let mut cli = open_pass(tmp.path()).unwrap();
    let rotated = cli.rotate_key(Some(PASS)).unwrap();
    drop(cli);

    let edit = TaskPatch {
        notes: Some("from the app".into()),
        ..Default::default()
    };
    let err = app
        .update_task(t.id, edit.clone())
        .expect_err("wrote under the old key");
    assert_eq!(err.code(), "key_rotated", "{err}");
    assert!(err.to_string().contains("open the vault again"), "{err}");
    let err = app.add_task(draft("new")).err().unwrap();
    assert_eq!(err.code(), "key_rotated", "{err}");
    drop(app);

    let mut app = open_pass(tmp.path()).unwrap();
    assert_eq!(app.key_id(), rotated.key_id);
    app.update_task(t.id, edit).unwrap();
    drop(app);
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.task(t.id).unwrap().notes, "from the app");
    assert_eq!(v.task(other.id).unwrap().title, "untouched");
    assert_eq!(v.task_count(), 2);
}

/// Regression (point 11): rotation re-sealed only what its process had
/// loaded, so a task another process added meanwhile stayed under the
/// old key and the vault no longer opened. Now rotation on a stale view
/// fails with `stale` and changes nothing.
#[test]
fn rotation_after_another_process_wrote_is_refused_as_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, _) = new_vault(tmp.path());
    a.add_task(draft("one")).unwrap();
    let key_before = a.key_id();

    let mut b = open_pass(tmp.path()).unwrap();
    let added = b.add_task(draft("added by another process")).unwrap();
    drop(b);

    let err = a
        .rotate_key(Some(PASS))
        .err()
        .expect("rotated a stale view");
    assert_eq!(err.code(), "stale", "{err}");
    assert_eq!(a.key_id(), key_before);
    drop(a);

    let mut v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.key_id(), key_before, "nothing changed");
    assert!(v.task(added.id).is_some());
    // A process that has seen everything may rotate.
    v.rotate_key(Some(PASS)).unwrap();
    drop(v);
    let v = open_pass(tmp.path()).unwrap();
    assert!(v.task(added.id).is_some());
    assert_eq!(v.task_count(), 2);
}

/// A process's own writes keep it current for rotation; a write that
/// interleaved with another process's does not.
#[test]
fn rotation_follows_own_writes_but_not_interleaved_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, _) = new_vault(tmp.path());
    a.add_task(draft("one")).unwrap();
    a.add_task(draft("two")).unwrap();
    a.rotate_key(Some(PASS)).unwrap();

    let mut b = open_pass(tmp.path()).unwrap();
    b.add_task(draft("from b")).unwrap();
    drop(b);
    // A writes after B: its write succeeds, but it still has not seen B's.
    a.add_task(draft("three")).unwrap();
    assert_eq!(a.rotate_key(Some(PASS)).err().unwrap().code(), "stale");
}

/// Regression (point 11): a slot added by a process holding a replaced
/// key wrapped a key no record uses. Now refused.
#[test]
fn a_slot_change_after_another_process_rotated_the_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, _) = new_vault(tmp.path());
    a.add_task(draft("x")).unwrap();
    let mut b = open_pass(tmp.path()).unwrap();
    b.rotate_key(Some(PASS)).unwrap();
    drop(b);
    let err = a
        .set_passphrase("a new passphrase")
        .expect_err("wrapped the old key");
    assert_eq!(err.code(), "key_rotated", "{err}");
    let err = a.new_recovery_key().err().unwrap();
    assert_eq!(err.code(), "key_rotated", "{err}");
    drop(a);
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.task_count(), 1);
}

/// `pp vault restore --replace` with the recovery key.
fn restore_replacing(
    backup: &std::path::Path,
    dir: &std::path::Path,
    rk: &str,
) -> Result<Vault, productivitypro_core::VaultError> {
    Vault::restore(
        backup,
        dir,
        &Unlock::recovery_key(rk.to_owned()),
        RestoreOptions {
            keyring: false,
            replace: true,
        },
        os_env(),
    )
}

/// Neither the live vault moved aside nor a half-built one left behind.
fn assert_nothing_moved(dir: &std::path::Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("replaced") && !n.contains("creating")),
        "{names:?}"
    );
}

/// Regression (point 13): two creates in one folder at once both
/// succeeded, the second renaming its file over the first's; the first
/// user's recovery key then opened nothing. Exactly one create wins now.
#[test]
fn concurrent_creates_in_one_folder_never_replace_each_other() {
    for round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let barrier = Barrier::new(2);
        let results: Vec<Result<String, String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (dir, barrier) = (tmp.path(), &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        Vault::create(
                            dir,
                            productivitypro_core::CreateOptions {
                                keyring: productivitypro_core::KeyringChoice::Off,
                                passphrase: None,
                            },
                            os_env(),
                        )
                        .map(|c| c.recovery_key.display_text().to_string())
                        .map_err(|e| e.code().to_string())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for r in &results {
            if let Err(code) = r {
                assert_eq!(code, "vault_exists", "round {round}");
            }
        }
        // The winner's key opens what is there; no temporary file is left.
        open_rk(tmp.path(), won[0]);
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains("creating")),
            "round {round}: {names:?}"
        );
    }
}

/// Regression (point 13): two processes each removing one of the last
/// two slots could both pass the "not the last slot" check and leave a
/// vault nobody can open. Exactly one removal succeeds now.
#[test]
fn removing_the_last_two_slots_at_once_leaves_one() {
    for round in 0..30 {
        let tmp = tempfile::tempdir().unwrap();
        let (v, rk) = quick_vault(tmp.path());
        drop(v);
        // A second recovery slot: a copy of the first row, cheap to make.
        raw(tmp.path())
            .execute(
                "INSERT INTO key_slots (kind, params, nonce, wrapped, created_at)
                 SELECT kind, params, nonce, wrapped, created_at FROM key_slots",
                [],
            )
            .unwrap();
        let ids: Vec<i64> = open_rk(tmp.path(), &rk)
            .slots()
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids.len(), 2);
        let mut handles: Vec<Vault> = (0..2).map(|_| open_rk(tmp.path(), &rk)).collect();
        let barrier = Barrier::new(2);
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let hs: Vec<_> = handles
                .iter_mut()
                .zip(&ids)
                .map(|(v, id)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        v.remove_slot(*id)
                            .map(|_| ())
                            .map_err(|e| e.code().to_string())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        drop(handles);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {results:?}");
        assert!(
            results.contains(&Err("last_slot".into())),
            "round {round}: {results:?}"
        );
        assert_eq!(open_rk(tmp.path(), &rk).slots().unwrap().len(), 1);
    }
}

/// Regression (point 13): `load` read lists and tasks in separate
/// statements, so a commit between them (a task with its new list) gave
/// a view holding the task but not its list. Everything is read in one
/// read transaction now.
#[test]
fn opening_beside_a_writer_never_sees_half_of_a_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut w, rk) = quick_vault(tmp.path());
    for i in 0..100 {
        w.add_task(draft(&format!("seed {i}"))).unwrap();
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            // Bounded, so the vault (and each open) stays small.
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 400 {
                // Each commit: a new list and a task in it.
                w.add_task(TaskDraft {
                    title: format!("task {n}"),
                    list_name: Some(format!("list {n}")),
                    ..Default::default()
                })
                .unwrap();
                n += 1;
            }
            n
        });
        for round in 0..40 {
            let v = Vault::open(tmp.path(), &Unlock::recovery_key(rk.clone()), os_env())
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            let lists: HashSet<Id> = v.lists().iter().map(|l| l.id).collect();
            for t in v.tasks() {
                if let Some(l) = t.list {
                    assert!(
                        lists.contains(&l),
                        "round {round}: task {} is loaded but its list {l} is not",
                        t.id
                    );
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0);
    });
}

/// Builds a backup of `dir`'s vault whose sealed payload holds one task
/// twice: it authenticates, but no vault can be built from it.
fn backup_with_a_duplicate_task(
    dir: &std::path::Path,
    v: &mut Vault,
    rk: &str,
) -> std::path::PathBuf {
    let file = dir.join("dup.ppbackup");
    v.write_backup(&file).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let header = Vault::inspect_backup(&file).unwrap();
    let hlen = u32::from_be_bytes(bytes[9..13].try_into().unwrap()) as usize;
    let header_bytes = &bytes[13..13 + hlen];
    let slot = header
        .slots
        .iter()
        .find(|s| matches!(s.params, SlotParams::Recovery { .. }))
        .unwrap();
    let rk = productivitypro_core::RecoveryKey::parse(rk).unwrap();
    let kek = slots::recovery_kek(rk.secret(), &slot.params).unwrap();
    let vault_id = Id::from_bytes(header.vault_id);
    let key = slots::unwrap(slot, &kek, vault_id, KeyId(header.key_id)).unwrap();
    let t = v.tasks().next().unwrap().clone();
    let payload = serde_json::json!({"lists": [], "tasks": [t, t]});
    let mut aad = b"productivitypro/backup/v1".to_vec();
    aad.extend_from_slice(header_bytes);
    let sealed = crypto::seal(
        &key,
        &aad,
        &serde_json::to_vec(&payload).unwrap(),
        &mut rand::rngs::OsRng,
    );
    let mut out = bytes[..13 + hlen].to_vec();
    out.extend_from_slice(&sealed.nonce);
    out.extend_from_slice(&sealed.ciphertext);
    std::fs::write(&file, out).unwrap();
    file
}

/// Regression (point 13): `restore --replace` moved the live vault aside
/// before building the new one, so a restore that failed half-way left
/// the folder without a vault. The live vault stays in place now unless
/// the new one is complete.
#[test]
fn a_failed_restore_replace_leaves_the_live_vault_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, rk) = quick_vault(tmp.path());
    v.add_task(draft("live data")).unwrap();
    let bad = backup_with_a_duplicate_task(tmp.path(), &mut v, &rk);
    drop(v);
    let before = db_bytes(tmp.path());
    let err = restore_replacing(&bad, tmp.path(), &rk)
        .err()
        .expect("restored a broken backup");
    assert_eq!(err.code(), "bad_backup", "{err}");
    assert!(err.to_string().contains("twice"), "{err}");
    assert!(db_bytes(tmp.path()) == before, "the live vault changed");
    assert_nothing_moved(tmp.path());
    assert_eq!(open_rk(tmp.path(), &rk).task_count(), 1);
}

/// Regression: a restore (`restore --replace`, a pre-migration copy)
/// renamed the live vault aside while another handle (the app, `pp`) had
/// it open; on Unix that handle went on writing into the moved file, and
/// everything it saved afterwards was missing from the restored vault.
/// Now the restore waits for open handles (`vault.lock`) and, if one
/// stays, refuses with `vault_in_use` and moves nothing.
#[test]
fn a_restore_over_a_vault_open_elsewhere_is_refused_and_moves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, rk) = quick_vault(tmp.path());
    v.add_task(draft("in the backup")).unwrap();
    let backup = tmp.path().join("b.ppbackup");
    v.write_backup(&backup).unwrap();
    v.add_task(draft("after the backup")).unwrap();

    let err = restore_replacing(&backup, tmp.path(), &rk)
        .err()
        .expect("replaced a vault another handle had open");
    assert_eq!(err.code(), "vault_in_use", "{err}");
    assert!(err.to_string().contains("close it"), "{err}");
    assert_nothing_moved(tmp.path());
    // The open handle still writes into the vault everyone else sees.
    v.add_task(draft("after the refused restore")).unwrap();
    drop(v);
    let mut titles: Vec<String> = open_rk(tmp.path(), &rk)
        .tasks()
        .map(|t| t.title.clone())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "after the backup",
            "after the refused restore",
            "in the backup"
        ]
    );
}

/// The app's sync worker drops its handle a moment after the vault is
/// locked: a restore started in between waits for it instead of failing.
#[test]
fn a_restore_waits_for_the_last_open_handle_to_close() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, rk) = quick_vault(tmp.path());
    v.add_task(draft("in the backup")).unwrap();
    let backup = tmp.path().join("b.ppbackup");
    v.write_backup(&backup).unwrap();
    v.add_task(draft("after the backup")).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(v);
    });

    let restored = restore_replacing(&backup, tmp.path(), &rk).unwrap();
    closer.join().unwrap();
    let titles: Vec<String> = restored.tasks().map(|t| t.title.clone()).collect();
    assert_eq!(titles, ["in the backup"]);
    let aside = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("vault.db.replaced-")
        })
        .count();
    assert_eq!(aside, 1);
}
