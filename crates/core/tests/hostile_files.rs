//! Someone with write access to the vault file (but not the key) deletes,
//! replays or edits what is in it; each attempt is an error naming what
//! was done (issue 11, points 10 and 14), and vaults and backups from the
//! previous version still open and upgrade.

mod support;

use std::path::Path;

use productivitypro_core::vault::{RestoreOptions, TaskPatch};
use productivitypro_core::{schema, Unlock, Vault, VaultError};
use support::*;

fn assert_unchanged_after_refusal(dir: &Path, err: &VaultError, before: &[u8]) {
    assert!(err.to_string().contains("restore a backup"), "{err}");
    assert!(db_bytes(dir) == before, "a refused open changed the file");
}

/// Regression (point 10): deleting a task's row made the task vanish
/// with no error.
#[test]
fn a_deleted_record_is_reported_missing_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let keep = v.add_task(draft("keep")).unwrap();
    let gone = v
        .add_task(draft("will be deleted behind the app's back"))
        .unwrap();
    drop(v);
    raw(tmp.path())
        .execute(
            "DELETE FROM records WHERE id = ?1",
            [gone.id.as_bytes().as_slice()],
        )
        .unwrap();
    let before = db_bytes(tmp.path());
    let err = open_pass(tmp.path())
        .err()
        .expect("opened without the task");
    assert_eq!(err.code(), "record_missing", "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("task {}", gone.id)), "{text}");
    assert!(!text.contains(&keep.id.to_string()), "{text}");
    assert_unchanged_after_refusal(tmp.path(), &err, &before);
}

/// Regression (point 10): a list's row deleted, the same for every kind.
#[test]
fn a_deleted_list_is_reported_missing_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let l = v.add_list("Errands", None).unwrap();
    drop(v);
    raw(tmp.path())
        .execute(
            "DELETE FROM records WHERE id = ?1",
            [l.id.as_bytes().as_slice()],
        )
        .unwrap();
    let err = open_pass(tmp.path())
        .err()
        .expect("opened without the list");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains(&format!("list {}", l.id)), "{err}");
}

/// Regression (point 10): putting back the older row of an edited task
/// loaded the old version silently.
#[test]
fn an_older_copy_of_an_edited_record_is_reported_as_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("pay 100")).unwrap();
    v.add_task(draft("another")).unwrap();
    let old = read_row(&raw(tmp.path()), t.id.as_bytes());
    v.update_task(
        t.id,
        TaskPatch {
            title: Some("pay 900".into()),
            ..Default::default()
        },
    )
    .unwrap();
    drop(v);
    put_row(&raw(tmp.path()), &old);
    let before = db_bytes(tmp.path());
    let err = open_pass(tmp.path()).err().expect("opened the old version");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("task {}", t.id)) && text.contains("older version"),
        "{text}"
    );
    assert_unchanged_after_refusal(tmp.path(), &err, &before);
}

/// Regression (point 10): the older ciphertext put back under the current
/// sequence number (only nonce and ciphertext replaced) is recognised as
/// an older version too, not merely as damage.
#[test]
fn an_older_ciphertext_under_the_current_sequence_is_reported_as_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("pay 100")).unwrap();
    let old = read_row(&raw(tmp.path()), t.id.as_bytes());
    v.update_task(
        t.id,
        TaskPatch {
            title: Some("pay 900".into()),
            ..Default::default()
        },
    )
    .unwrap();
    drop(v);
    raw(tmp.path())
        .execute(
            "UPDATE records SET nonce = ?1, ciphertext = ?2 WHERE id = ?3",
            rusqlite::params![old.nonce, old.ciphertext, t.id.as_bytes().as_slice()],
        )
        .unwrap();
    let err = open_pass(tmp.path()).err().expect("opened the old version");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(err.to_string().contains(&t.id.to_string()), "{err}");
}

/// Regression (point 10): a deleted task's row put back made it reappear.
#[test]
fn a_deleted_record_put_back_is_reported_as_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("done with this")).unwrap();
    let old = read_row(&raw(tmp.path()), t.id.as_bytes());
    v.trash_tasks(&[t.id]).unwrap();
    v.empty_trash(Some(&[t.id])).unwrap();
    drop(v);
    put_row(&raw(tmp.path()), &old);
    let err = open_pass(tmp.path())
        .err()
        .expect("the deleted task came back");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("task {}", t.id)) && text.contains("deleted"),
        "{text}"
    );
}

/// Point 10: rolling back a record together with the ledger part that
/// lists it is caught by the ledger's head, which names the part.
#[test]
fn a_record_rolled_back_with_its_ledger_part_is_named_by_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    let t = v.add_task(draft("pay 100")).unwrap();
    let c = raw(tmp.path());
    let old = read_row(&c, t.id.as_bytes());
    // A copy of the ledger's parts as they are now (in a scratch table).
    c.execute_batch("CREATE TABLE saved_parts AS SELECT * FROM ledger WHERE piece > 0")
        .unwrap();
    v.update_task(
        t.id,
        TaskPatch {
            title: Some("pay 900".into()),
            ..Default::default()
        },
    )
    .unwrap();
    drop(v);
    put_row(&c, &old);
    c.execute_batch(
        "INSERT OR REPLACE INTO ledger SELECT * FROM saved_parts; DROP TABLE saved_parts;",
    )
    .unwrap();
    drop(c);
    let err = open_pass(tmp.path()).err().expect("opened the old version");
    assert_eq!(err.code(), "vault_rolled_back", "{err}");
    assert!(
        err.to_string().contains("ledger part") && err.to_string().contains("older version"),
        "{err}"
    );
}

/// Point 10: without its ledger head a vault made by this version does
/// not open as if it were an old, unprotected one.
#[test]
fn a_deleted_ledger_is_reported_missing_not_treated_as_an_old_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("a")).unwrap();
    drop(v);
    // Everything deleted: the records, the ledger, the tombstones.
    let c = raw(tmp.path());
    c.execute_batch("DELETE FROM records; DELETE FROM ledger; DELETE FROM tombstones;")
        .unwrap();
    drop(c);
    let err = open_pass(tmp.path()).err().expect("opened as empty");
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains("ledger"), "{err}");
}

/// Point 10: the ledger's pieces are sealed like records.
#[test]
fn an_edited_ledger_piece_is_reported_as_tampered() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("a")).unwrap();
    drop(v);
    raw(tmp.path())
        .execute(
            "UPDATE ledger SET ciphertext = CAST(ciphertext || x'00' AS BLOB) WHERE piece = 0",
            [],
        )
        .unwrap();
    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "record_tampered", "{err}");
    assert!(err.to_string().contains("ledger record head"), "{err}");
}

const FIXTURE_PASS: &str = "fixture passphrase";

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_recovery_key() -> String {
    std::fs::read_to_string(fixture("schema2.recovery-key"))
        .unwrap()
        .trim()
        .to_string()
}

fn fixture_contents() -> (
    Vec<productivitypro_core::List>,
    Vec<productivitypro_core::Task>,
) {
    serde_json::from_slice(&std::fs::read(fixture("schema2.bundle.json")).unwrap()).unwrap()
}

/// The format change (AAD v2, ledger, schema 3) migrates vaults written by
/// the previous version: a fixture file that version wrote opens with
/// each of its slots, holds the same data, and is protected afterwards.
#[test]
fn a_vault_written_by_the_previous_version_upgrades_and_is_then_protected() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema2-vault.db"), tmp.path().join("vault.db")).unwrap();
    let c = raw(tmp.path());
    assert_eq!(schema::version(&c).unwrap(), 2, "the fixture is old");
    drop(c);
    let (lists, tasks) = fixture_contents();

    let mut v = Vault::open(tmp.path(), &Unlock::passphrase(FIXTURE_PASS), env(3)).unwrap();
    assert_eq!(v.schema_version().unwrap(), schema::CURRENT_VERSION);
    assert!(!v.ledger_required(), "its key predates the ledger");
    let b = v.bundle();
    assert_eq!((b.lists, b.tasks), (lists.clone(), tasks.clone()));
    // Writes work and are covered.
    v.add_task(draft("after the upgrade")).unwrap();
    drop(v);
    let v = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(fixture_recovery_key()),
        env(4),
    )
    .unwrap();
    assert_eq!(v.task_count(), tasks.len() + 1);
    drop(v);

    // Upgraded records carry the new AAD, and the ledger names them.
    let victim = tasks[0].id;
    raw(tmp.path())
        .execute(
            "DELETE FROM records WHERE id = ?1",
            [victim.as_bytes().as_slice()],
        )
        .unwrap();
    let err = open_pass_fixture(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "record_missing", "{err}");
    assert!(err.to_string().contains(&victim.to_string()), "{err}");
}

/// A vault upgraded from schema 2 keeps its old key id, so a file
/// stripped of every record and of the ledger would pass for an empty
/// old vault; after one rotation the ledger is tied to the key and that
/// is caught too (the documented limit, and how it ends).
#[test]
fn an_upgraded_vault_is_fully_protected_after_its_first_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema2-vault.db"), tmp.path().join("vault.db")).unwrap();
    let strip = |dir: &Path| {
        let c = raw(dir);
        c.execute_batch("DELETE FROM records; DELETE FROM ledger; DELETE FROM tombstones;")
            .unwrap();
    };

    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema2-vault.db"), copy.path().join("vault.db")).unwrap();
    drop(open_pass_fixture(copy.path()).unwrap());
    strip(copy.path());
    let v = open_pass_fixture(copy.path()).expect("the documented limit");
    assert_eq!(v.task_count(), 0);

    let mut v = open_pass_fixture(tmp.path()).unwrap();
    v.rotate_key(Some(FIXTURE_PASS)).unwrap();
    assert!(v.ledger_required());
    drop(v);
    strip(tmp.path());
    let err = open_pass_fixture(tmp.path())
        .err()
        .expect("opened as empty");
    assert_eq!(err.code(), "record_missing", "{err}");
}

fn open_pass_fixture(dir: &Path) -> Result<Vault, VaultError> {
    Vault::open(dir, &Unlock::passphrase(FIXTURE_PASS), env(5))
}

/// Two processes opening an old vault at once: one upgrades, the other
/// finds it done and reads the result.
#[test]
fn two_processes_upgrading_an_old_vault_at_once_agree() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("schema2-vault.db"), tmp.path().join("vault.db")).unwrap();
    let (_, tasks) = fixture_contents();
    let rk = fixture_recovery_key();
    let dir = tmp.path().to_path_buf();
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let (dir, rk, barrier) = (&dir, &rk, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    Vault::open(dir, &Unlock::recovery_key(rk.clone()), env(10 + i))
                        .map(|v| v.task_count())
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap().unwrap(), tasks.len());
        }
    });
    assert_eq!(
        Vault::open(tmp.path(), &Unlock::recovery_key(rk), env(6))
            .unwrap()
            .task_count(),
        tasks.len()
    );
}

/// A backup written by the previous version restores (its format did not
/// change), into a vault with a ledger.
#[test]
fn a_backup_written_by_the_previous_version_restores() {
    let (lists, tasks) = fixture_contents();
    for unlock in [
        Unlock::passphrase(FIXTURE_PASS),
        Unlock::recovery_key(fixture_recovery_key()),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let v = Vault::restore(
            &fixture("schema2.ppbackup"),
            tmp.path(),
            &unlock,
            RestoreOptions {
                keyring: false,
                replace: false,
            },
            env(7),
        )
        .unwrap();
        let b = v.bundle();
        assert_eq!((b.lists, b.tasks), (lists.clone(), tasks.clone()));
        drop(v);
        let pieces: i64 = raw(tmp.path())
            .query_row("SELECT count(*) FROM ledger WHERE piece = 0", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(pieces, 1, "the restored vault has a ledger");
    }
}

/// Writes `params` as the passphrase slot's parameters, keeping the rest.
fn set_passphrase_params(dir: &Path, m_kib: u32, t: u32, p: u32) {
    let c = raw(dir);
    let params: String = c
        .query_row(
            "SELECT params FROM key_slots WHERE kind = 'passphrase'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&params).unwrap();
    json["m_kib"] = m_kib.into();
    json["t"] = t.into();
    json["p"] = p.into();
    c.execute(
        "UPDATE key_slots SET params = ?1 WHERE kind = 'passphrase'",
        [json.to_string()],
    )
    .unwrap();
}

/// Regression (point 14): the Argon2 cost in a vault's slot was used as
/// found, so an edited file could make an unlock allocate any amount of
/// memory or run for hours. (The 2 GiB case below is one the previous
/// version would actually compute before failing.)
#[test]
fn argon2_costs_in_a_vault_file_are_bounded_before_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (v, rk) = new_vault(tmp.path());
    drop(v);
    for (m, t, p) in [(2 * 1024 * 1024, 1, 1), (65536, 11, 1), (65536, 3, 17)] {
        set_passphrase_params(tmp.path(), m, t, p);
        let err = open_pass(tmp.path()).err().expect("opened");
        assert_eq!(err.code(), "kdf_params_out_of_bounds", "{m} {t} {p}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{m} KiB")) && text.contains("recovery key"),
            "{text}"
        );
    }
    // The recovery slot still opens it.
    Vault::open(
        tmp.path(),
        &Unlock::recovery_key(rk.display_text().to_string()),
        env(8),
    )
    .unwrap();
}

/// Regression (point 14): the same for a backup header, which comes from
/// anywhere.
#[test]
fn argon2_costs_in_a_backup_header_are_bounded_before_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut v, _) = new_vault(tmp.path());
    v.add_task(draft("x")).unwrap();
    let file = tmp.path().join("b.ppbackup");
    v.write_backup(&file).unwrap();
    drop(v);
    let bytes = std::fs::read(&file).unwrap();
    let hlen = u32::from_be_bytes(bytes[9..13].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[13..13 + hlen]).unwrap();
    for slot in header["slots"].as_array_mut().unwrap() {
        if slot["params"]["kind"] == "passphrase" {
            slot["params"]["t"] = 11.into();
        }
    }
    let new_header = serde_json::to_vec(&header).unwrap();
    let mut edited = bytes[..9].to_vec();
    edited.extend_from_slice(&(new_header.len() as u32).to_be_bytes());
    edited.extend_from_slice(&new_header);
    edited.extend_from_slice(&bytes[13 + hlen..]);
    std::fs::write(&file, &edited).unwrap();
    let target = tempfile::tempdir().unwrap();
    let err = Vault::restore(
        &file,
        target.path(),
        &Unlock::passphrase(PASS),
        RestoreOptions {
            keyring: false,
            replace: false,
        },
        env(9),
    )
    .err()
    .expect("restored");
    assert_eq!(err.code(), "kdf_params_out_of_bounds", "{err}");
    assert!(!target.path().join("vault.db").exists());
}
