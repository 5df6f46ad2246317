//! Checks on an open vault's key slots (the real OS keyring is covered by
//! the desktop shell's tests, which run in the keyring session).

use chrono::{TimeZone, Utc};
use productivitypro_core::slots::SlotKind;
use productivitypro_core::{CreateOptions, Env, FixedClock, KeyringChoice, Vault};
use rand::SeedableRng;
use zeroize::Zeroizing;

fn env(seed: u64) -> Env {
    Env {
        clock: Box::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-slot-checks-test".into(),
    }
}

fn create(dir: &std::path::Path, passphrase: Option<&str>) -> Vault {
    Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: passphrase.map(|p| Zeroizing::new(p.to_string())),
        },
        env(1),
    )
    .unwrap()
    .vault
}

#[test]
fn verify_passphrase_tells_right_from_wrong_and_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = create(tmp.path(), Some("first pass"));
    assert!(v.verify_passphrase("first pass").is_ok());
    assert_eq!(
        v.verify_passphrase("First pass").unwrap_err().code(),
        "wrong_passphrase"
    );
    v.set_passphrase("second pass").unwrap();
    assert_eq!(
        v.verify_passphrase("first pass").unwrap_err().code(),
        "wrong_passphrase"
    );
    assert!(v.verify_passphrase("second pass").is_ok());

    let tmp2 = tempfile::tempdir().unwrap();
    let v2 = create(tmp2.path(), None);
    assert_eq!(
        v2.verify_passphrase("anything").unwrap_err().code(),
        "no_such_slot"
    );
    assert!(!v2.has_slot(SlotKind::Passphrase).unwrap());
    assert!(v2.has_slot(SlotKind::Recovery).unwrap());
}

#[test]
fn slots_are_readable_without_unlocking() {
    let tmp = tempfile::tempdir().unwrap();
    let v = create(tmp.path(), Some("pass"));
    let open = v.slots().unwrap();
    drop(v);
    let kinds: Vec<SlotKind> = Vault::slots_in(tmp.path())
        .unwrap()
        .into_iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, open.iter().map(|s| s.kind).collect::<Vec<_>>());
    assert_eq!(kinds, [SlotKind::Passphrase, SlotKind::Recovery]);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        Vault::slots_in(empty.path()).unwrap_err().code(),
        "vault_not_found"
    );
}

#[test]
fn a_vault_without_a_keyring_slot_is_not_given_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut v = create(tmp.path(), Some("pass"));
    assert!(!v.repair_keyring_slot().unwrap());
    assert!(!v.has_slot(SlotKind::Keyring).unwrap());
}
