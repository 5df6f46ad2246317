//! Keyring slots against a real Secret Service (gnome-keyring in a
//! private D-Bus session: run through `scripts/with-keyring`, as `make
//! test` does). Without one these tests fail rather than pass vacuously;
//! set PP_SKIP_KEYRING_TESTS=1 to skip them knowingly. (Issue 11, point 12.)

mod support;

use std::path::Path;

use productivitypro_core::vault::RestoreOptions;
use productivitypro_core::{CreateOptions, KeyringChoice, Unlock, Vault};
use support::*;
use zeroize::Zeroizing;

fn keyring_available() -> bool {
    if std::env::var("PP_SKIP_KEYRING_TESTS").as_deref() == Ok("1") {
        return false;
    }
    let probe = keyring::Entry::new(KEYRING_SERVICE, "probe-core").unwrap();
    if let Err(e) = probe.set_password("probe") {
        panic!(
            "no usable Secret Service ({e}); run the tests with scripts/with-keyring (make test), \
             or set PP_SKIP_KEYRING_TESTS=1 to skip the keyring tests"
        );
    }
    let _ = probe.delete_credential();
    true
}

/// A vault with a keyring slot and a passphrase slot.
fn keyring_vault(dir: &Path) -> Vault {
    Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Required,
            passphrase: Some(Zeroizing::new(PASS.into())),
        },
        os_env(),
    )
    .unwrap()
    .vault
}

/// The keyring entries the vault's slots name, read from the file.
fn keyring_accounts(v: &Vault) -> Vec<String> {
    raw(v.dir())
        .prepare("SELECT params FROM key_slots WHERE kind = 'keyring' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| {
            let p: serde_json::Value = serde_json::from_str(&p.unwrap()).unwrap();
            p["account"].as_str().unwrap().to_string()
        })
        .collect()
}

fn entry_exists(account: &str) -> bool {
    keyring::Entry::new(KEYRING_SERVICE, account)
        .unwrap()
        .get_password()
        .is_ok()
}

fn open_keyring(dir: &Path) -> Result<Vault, productivitypro_core::VaultError> {
    Vault::open(dir, &Unlock::Keyring, os_env())
}

/// Regression (point 12): restoring a backup into another folder on the
/// same machine (with a keyring slot, the default of `pp vault restore`)
/// stored its secret under the original vault's entry name — the same
/// vault id — and the original vault's keyring unlock broke
/// (`keyring_damaged`). Entries are named per slot now.
#[test]
fn restoring_a_backup_elsewhere_keeps_the_original_vaults_keyring_unlock() {
    if !keyring_available() {
        return;
    }
    let original = tempfile::tempdir().unwrap();
    let mut v = keyring_vault(original.path());
    let t = v.add_task(draft("in the original")).unwrap();
    let backup = original.path().join("b.ppbackup");
    v.write_backup(&backup).unwrap();
    drop(v);

    let copy = tempfile::tempdir().unwrap();
    let restored = Vault::restore(
        &backup,
        copy.path(),
        &Unlock::passphrase(PASS),
        RestoreOptions {
            keyring: true,
            replace: false,
        },
        os_env(),
    )
    .unwrap();
    assert_eq!(restored.id(), open_pass(original.path()).unwrap().id());
    drop(restored);

    let v = open_keyring(original.path()).expect("the original's keyring unlock broke");
    assert!(v.task(t.id).is_some());
    let r = open_keyring(copy.path()).expect("the copy's keyring unlock");
    assert!(r.task(t.id).is_some());
    let (a, b) = (keyring_accounts(&v), keyring_accounts(&r));
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a, b, "the copy shares the original's entry");
}

/// Point 12: re-adding a keyring slot stores the secret under a new
/// entry name and deletes the old entry only after; the unlock works
/// throughout.
#[test]
fn a_new_keyring_slot_gets_a_new_entry_and_the_old_entry_is_deleted() {
    if !keyring_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut v = keyring_vault(tmp.path());
    let old = keyring_accounts(&v);
    assert_eq!(old.len(), 1);
    assert!(old[0].starts_with(&format!("vault-{}-", v.id())), "{old:?}");
    assert!(entry_exists(&old[0]));
    v.add_keyring_slot().unwrap();
    let new = keyring_accounts(&v);
    assert_eq!(new.len(), 1, "the old keyring slot is replaced");
    assert_ne!(new, old);
    assert!(entry_exists(&new[0]));
    assert!(!entry_exists(&old[0]), "the old entry was left behind");
    drop(v);
    open_keyring(tmp.path()).unwrap();
}

/// Regression (points 11 and 12): adding a keyring slot stored the new
/// secret first, over the existing entry, and then committed a slot
/// wrapping the key this process held; after another process rotated the
/// key, that left a keyring slot that opened nothing (`keyring_damaged`).
/// Now the commit comes first and is refused (`key_rotated`), and the
/// keyring is not touched.
#[test]
fn a_keyring_slot_added_by_a_process_holding_a_replaced_key_changes_nothing() {
    if !keyring_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut a = keyring_vault(tmp.path());
    a.add_task(draft("x")).unwrap();
    let before = keyring_accounts(&a);
    let mut b = open_keyring(tmp.path()).unwrap();
    b.rotate_key(Some(PASS)).unwrap();
    drop(b);
    let err = a
        .add_keyring_slot()
        .expect_err("added a slot for the old key");
    assert_eq!(err.code(), "key_rotated", "{err}");
    drop(a);
    let v = open_keyring(tmp.path()).expect("the keyring unlock broke");
    assert_eq!(keyring_accounts(&v), before);
    assert_eq!(v.task_count(), 1);
}

/// Vaults made before entries were named per slot keep their
/// `vault-<id>` entry working, and lose it only to a new slot.
#[test]
fn a_keyring_entry_with_the_old_name_keeps_working_until_replaced() {
    if !keyring_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut v = keyring_vault(tmp.path());
    let current = keyring_accounts(&v).remove(0);
    let legacy = format!("vault-{}", v.id());
    let secret = keyring::Entry::new(KEYRING_SERVICE, &current)
        .unwrap()
        .get_password()
        .unwrap();
    keyring::Entry::new(KEYRING_SERVICE, &legacy)
        .unwrap()
        .set_password(&secret)
        .unwrap();
    drop(v);
    // Rename the slot's entry to the old scheme, as older versions wrote it.
    let c = raw(tmp.path());
    let params: String = c
        .query_row(
            "SELECT params FROM key_slots WHERE kind = 'keyring'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE key_slots SET params = ?1 WHERE kind = 'keyring'",
        [params.replace(&current, &legacy)],
    )
    .unwrap();
    drop(c);
    keyring::Entry::new(KEYRING_SERVICE, &current)
        .unwrap()
        .delete_credential()
        .unwrap();
    v = open_keyring(tmp.path()).unwrap();
    assert_eq!(keyring_accounts(&v), vec![legacy.clone()]);
    v.add_keyring_slot().unwrap();
    assert!(!entry_exists(&legacy));
    drop(v);
    open_keyring(tmp.path()).unwrap();
}
