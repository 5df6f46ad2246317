//! A migration is always preceded by a durable copy of the vault at its
//! old schema (`pre-migration/`), and an app that finds its vault too new
//! can go back to a copy it reads. Real SQLite files throughout: the
//! schema-4 fixture (written by the schema-4 app) and vaults made here.

mod support;

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use productivitypro_core::schema::CURRENT_VERSION;
use productivitypro_core::vault::sync::NewLink;
use productivitypro_core::{Env, Unlock, Vault, VaultError};
use productivitypro_sync_protocol::keys::SyncKey;
use productivitypro_sync_protocol::{AccountId, DeviceId};
use zeroize::Zeroizing;

use support::{draft, env, new_vault, open_pass};

const FIXTURE_PASS: &str = "fixture passphrase";
/// The stamp `support::env`'s clock gives a copy.
const STAMP: &str = "20261123T090000.000Z";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn schema4_vault(dir: &Path) {
    std::fs::copy(fixture("schema4-vault.db"), dir.join("vault.db")).unwrap();
}

fn user_version(path: &Path) -> u32 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

fn set_user_version(path: &Path, v: u32) {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_update(None, "user_version", v)
        .unwrap();
}

fn copies_dir(dir: &Path) -> PathBuf {
    dir.join("pre-migration")
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match std::fs::read_dir(dir) {
        Ok(e) => e
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Opens only as far as the schema: a mistyped recovery key is refused
/// after the migration, without the cost of Argon2.
fn open_schema_only(dir: &Path, env: Env) -> VaultError {
    Vault::open(dir, &Unlock::recovery_key("not a key"), env)
        .err()
        .expect("a mistyped recovery key never unlocks")
}

/// `support::env` with its clock `secs` later.
fn env_at(secs: i64) -> Env {
    Env {
        clock: Box::new(productivitypro_core::FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap() + chrono::Duration::seconds(secs),
        )),
        ..env(3)
    }
}

#[test]
fn an_old_vault_is_copied_at_its_schema_before_it_is_migrated() {
    let tmp = tempfile::tempdir().unwrap();
    schema4_vault(tmp.path());
    let original = std::fs::read(tmp.path().join("vault.db")).unwrap();

    let v = Vault::open(tmp.path(), &Unlock::passphrase(FIXTURE_PASS), env(3)).unwrap();
    assert_eq!(v.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(v.task_count(), 4);
    drop(v);

    let name = format!("vault-schema-4-{STAMP}.db");
    assert_eq!(names_in(&copies_dir(tmp.path())), [name.as_str()]);
    let copy = copies_dir(tmp.path()).join(&name);
    assert_eq!(user_version(&copy), 4);
    let bytes = std::fs::read(&copy).unwrap();
    // Sealed like the vault: no title or note in the clear.
    for plain in ["Water plants", "fixture notes", "Pay rent"] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{plain} in the copy"
        );
    }
    // The same records as the file it was taken from.
    let rows = |p: &Path| -> Vec<(Vec<u8>, Vec<u8>)> {
        let c = rusqlite::Connection::open(p).unwrap();
        let mut s = c
            .prepare("SELECT id, ciphertext FROM records ORDER BY id")
            .unwrap();
        let r = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        r
    };
    let orig_path = tmp.path().join("original.db");
    std::fs::write(&orig_path, &original).unwrap();
    assert_eq!(rows(&copy), rows(&orig_path));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&copies_dir(tmp.path())), 0o700);
        assert_eq!(mode(&copy), 0o600);
    }

    let listed = Vault::pre_migration_copies(tmp.path()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name);
    assert_eq!(listed[0].schema, 4);
    assert_eq!(
        listed[0].created_at,
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    );

    // A current vault is not copied again.
    drop(Vault::open(tmp.path(), &Unlock::passphrase(FIXTURE_PASS), env_at(60)).unwrap());
    assert_eq!(names_in(&copies_dir(tmp.path())).len(), 1);
}

#[test]
fn a_copy_that_cannot_be_written_refuses_the_migration_and_leaves_the_vault_at_its_schema() {
    let tmp = tempfile::tempdir().unwrap();
    schema4_vault(tmp.path());
    // The copies' folder cannot be made (a file is in the way): the tests
    // run as root too, where a read-only folder would still be written.
    std::fs::write(copies_dir(tmp.path()), b"in the way").unwrap();

    let err = Vault::open(tmp.path(), &Unlock::passphrase(FIXTURE_PASS), env(3))
        .err()
        .unwrap();
    assert_eq!(err.code(), "migration_backup_failed", "{err}");
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert_eq!(user_version(&tmp.path().join("vault.db")), 4);

    // Once the obstacle is gone the same vault opens and migrates.
    std::fs::remove_file(copies_dir(tmp.path())).unwrap();
    let v = Vault::open(tmp.path(), &Unlock::passphrase(FIXTURE_PASS), env(3)).unwrap();
    assert_eq!(v.task_count(), 4);
    assert_eq!(v.schema_version().unwrap(), CURRENT_VERSION);
}

#[test]
fn retention_keeps_the_two_newest_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let copies = copies_dir(tmp.path());
    std::fs::create_dir_all(&copies).unwrap();
    // Two older copies (damaged ones: retention goes by name and time).
    let older = "vault-schema-3-20261001T090000.000Z.db";
    let old = "vault-schema-4-20261101T090000.000Z.db";
    std::fs::write(copies.join(older), b"older").unwrap();
    std::fs::write(copies.join(old), b"old").unwrap();
    // Not a copy: left alone.
    std::fs::write(copies.join("notes.txt"), b"mine").unwrap();

    schema4_vault(tmp.path());
    let err = open_schema_only(tmp.path(), env(3));
    assert_eq!(err.code(), "recovery_key_mistyped", "{err}");
    let new = format!("vault-schema-4-{STAMP}.db");
    assert_eq!(names_in(&copies), ["notes.txt", old, new.as_str()]);

    // An older app's file put back and opened again a minute later.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(tmp.path().join(format!("vault.db{suffix}")));
    }
    schema4_vault(tmp.path());
    open_schema_only(tmp.path(), env_at(60));
    assert_eq!(
        names_in(&copies),
        [
            "notes.txt",
            new.as_str(),
            "vault-schema-4-20261123T090100.000Z.db"
        ]
    );
    // Only the real copies are offered, newest first.
    let listed: Vec<String> = Vault::pre_migration_copies(tmp.path())
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        listed,
        ["vault-schema-4-20261123T090100.000Z.db", new.as_str()]
    );
}

#[test]
fn two_openers_of_an_old_vault_at_once_both_get_a_migrated_vault() {
    let tmp = tempfile::tempdir().unwrap();
    schema4_vault(tmp.path());
    let dir = tmp.path().to_path_buf();
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let dir = dir.clone();
            std::thread::spawn(move || open_schema_only(&dir, env_at(i)).code())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), "recovery_key_mistyped");
    }
    assert_eq!(user_version(&dir.join("vault.db")), CURRENT_VERSION);
    // At least one copy, every one at schema 4 (a second one is harmless).
    let copies = Vault::pre_migration_copies(&dir).unwrap();
    assert!(!copies.is_empty());
    assert!(copies.iter().all(|c| c.schema == 4), "{copies:?}");
    let v = Vault::open(&dir, &Unlock::passphrase(FIXTURE_PASS), env(4)).unwrap();
    assert_eq!(v.task_count(), 4);
}

fn link() -> NewLink {
    NewLink {
        server: "http://127.0.0.1:9".into(),
        email: "fixture@example.com".into(),
        account: AccountId([0xa0; 16]),
        device: DeviceId([1; 16]),
        key: SyncKey::from_bytes([0x40; 32]),
        token: Zeroizing::new("pps_fixture".into()),
    }
}

/// A vault at this version's schema with a copy of itself in
/// `pre-migration/` (as a newer app leaves it after migrating), then a
/// task added and the schema bumped past this version's.
fn vault_upgraded_by_a_newer_app(dir: &Path) -> String {
    let (mut v, _) = new_vault(dir);
    v.add_task(draft("before the update")).unwrap();
    v.add_task(draft("also before")).unwrap();
    v.sync_enable(link()).unwrap();
    assert!(v.close().unwrap());
    let name = format!("vault-schema-{CURRENT_VERSION}-20261120T080000.000Z.db");
    std::fs::create_dir_all(copies_dir(dir)).unwrap();
    std::fs::copy(dir.join("vault.db"), copies_dir(dir).join(&name)).unwrap();

    let mut v = open_pass(dir).unwrap();
    v.add_task(draft("after the update")).unwrap();
    assert!(v.close().unwrap());
    set_user_version(&dir.join("vault.db"), CURRENT_VERSION + 1);
    name
}

#[test]
fn a_vault_too_new_offers_its_pre_migration_copy_and_restores_it() {
    let tmp = tempfile::tempdir().unwrap();
    let name = vault_upgraded_by_a_newer_app(tmp.path());
    let newer = std::fs::read(tmp.path().join("vault.db")).unwrap();

    let err = open_pass(tmp.path()).err().unwrap();
    assert_eq!(err.code(), "vault_too_new", "{err}");
    let copies = Vault::pre_migration_copies(tmp.path()).unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].name, name);
    assert_eq!(copies[0].schema, CURRENT_VERSION);

    let restored = Vault::restore_pre_migration(tmp.path(), &name, &env(5)).unwrap();
    assert_eq!(restored, copies[0]);

    let v = open_pass(tmp.path()).unwrap();
    let mut titles: Vec<String> = v.tasks().map(|t| t.title.clone()).collect();
    titles.sort();
    assert_eq!(titles, ["also before", "before the update"]);
    // The restored link is behind the account: dropped, the account kept.
    assert!(!v.sync_enabled().unwrap());
    assert!(v.sync_info().unwrap().is_none());
    assert_eq!(
        v.sync_known_account().unwrap().unwrap().account,
        AccountId([0xa0; 16])
    );
    drop(v);

    // The newer file is kept aside, whole; the copy stays where it was.
    let aside = tmp.path().join(format!("vault.db.replaced-{STAMP}"));
    assert_eq!(std::fs::read(&aside).unwrap(), newer);
    assert_eq!(user_version(&aside), CURRENT_VERSION + 1);
    assert!(copies_dir(tmp.path()).join(&name).is_file());
    // The restore is done once: opening again changes nothing more.
    let v = open_pass(tmp.path()).unwrap();
    assert_eq!(v.task_count(), 2);
}

#[test]
fn a_too_new_or_damaged_copy_is_not_offered_and_restoring_it_fails_with_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    let good = vault_upgraded_by_a_newer_app(tmp.path());
    let copies = copies_dir(tmp.path());
    // A copy at the newer schema (named as an older one: the file decides).
    let too_new = format!("vault-schema-{CURRENT_VERSION}-20261121T080000.000Z.db");
    std::fs::copy(tmp.path().join("vault.db"), copies.join(&too_new)).unwrap();
    let damaged = "vault-schema-4-20261122T080000.000Z.db";
    let mut bytes = std::fs::read(copies.join(&good)).unwrap();
    bytes.truncate(bytes.len() / 3);
    bytes[100..200].fill(0xaa);
    std::fs::write(copies.join(damaged), &bytes).unwrap();
    let not_a_vault = "vault-schema-4-20261122T090000.000Z.db";
    std::fs::write(copies.join(not_a_vault), b"just some text").unwrap();

    let listed: Vec<String> = Vault::pre_migration_copies(tmp.path())
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, [good.as_str()]);

    let live = std::fs::read(tmp.path().join("vault.db")).unwrap();
    let code = |name: &str| {
        Vault::restore_pre_migration(tmp.path(), name, &env(5))
            .unwrap_err()
            .code()
    };
    assert_eq!(code(&too_new), "pre_migration_copy_too_new");
    assert_eq!(code(damaged), "pre_migration_copy_damaged");
    assert_eq!(code(not_a_vault), "pre_migration_copy_damaged");
    assert_eq!(
        code("vault-schema-4-20261231T000000.000Z.db"),
        "pre_migration_copy_not_found"
    );
    assert_eq!(code("../vault.db"), "pre_migration_copy_not_found");
    assert_eq!(code("nope"), "pre_migration_copy_not_found");
    // Nothing moved.
    assert_eq!(std::fs::read(tmp.path().join("vault.db")).unwrap(), live);
    assert!(!names_in(tmp.path()).iter().any(|n| n.contains("replaced")));
    assert_eq!(open_pass(tmp.path()).err().unwrap().code(), "vault_too_new");
}

#[test]
fn a_copy_is_restored_only_for_someone_who_can_open_it() {
    let tmp = tempfile::tempdir().unwrap();
    let name = vault_upgraded_by_a_newer_app(tmp.path());
    let err = Vault::verify_pre_migration_unlock(tmp.path(), &name, &Unlock::passphrase("wrong"))
        .unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    Vault::verify_pre_migration_unlock(tmp.path(), &name, &Unlock::passphrase(support::PASS))
        .unwrap();
    let err = Vault::verify_pre_migration_unlock(tmp.path(), "nope", &Unlock::passphrase("x"))
        .unwrap_err();
    assert_eq!(err.code(), "pre_migration_copy_not_found");
}

/// Regression: restoring a copy while a newer app had the vault open
/// moved the file from under it (see `open_lock.rs`). The newer app holds
/// the same shared lock on `vault.lock` that this version's handles do.
#[test]
fn restoring_a_copy_while_a_newer_app_has_the_vault_open_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let name = vault_upgraded_by_a_newer_app(tmp.path());
    let newer = std::fs::read(tmp.path().join("vault.db")).unwrap();
    let newer_app = std::fs::File::open(tmp.path().join(productivitypro_core::vault::LOCK_FILE))
        .expect("every open leaves vault.lock");
    newer_app.lock_shared().unwrap();

    let err = Vault::restore_pre_migration(tmp.path(), &name, &env(5))
        .expect_err("restored under an open vault");
    assert_eq!(err.code(), "vault_in_use", "{err}");
    assert_eq!(std::fs::read(tmp.path().join("vault.db")).unwrap(), newer);
    assert!(!names_in(tmp.path())
        .iter()
        .any(|n| n.contains("replaced") || n.contains("creating")));

    drop(newer_app);
    Vault::restore_pre_migration(tmp.path(), &name, &env(5)).unwrap();
    assert_eq!(open_pass(tmp.path()).unwrap().task_count(), 2);
}
