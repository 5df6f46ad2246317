//! The OS keyring slot against a real Secret Service (gnome-keyring in a
//! private D-Bus session: run the suite through `scripts/with-keyring`,
//! as `make test` does). Without one these tests fail rather than pass
//! vacuously; set PP_SKIP_KEYRING_TESTS=1 to skip them knowingly.

mod common;

use common::{fails_with, json, ok, pp, recovery_key_from, KEYRING_SERVICE};

fn keyring_available() -> bool {
    if std::env::var("PP_SKIP_KEYRING_TESTS").as_deref() == Ok("1") {
        return false;
    }
    let probe = keyring::Entry::new(KEYRING_SERVICE, "probe").unwrap();
    if let Err(e) = probe.set_password("probe") {
        panic!(
            "no usable Secret Service ({e}); run the tests with scripts/with-keyring (make test), \
             or set PP_SKIP_KEYRING_TESTS=1 to skip the keyring tests"
        );
    }
    let _ = probe.delete_credential();
    true
}

#[test]
fn vault_reopens_from_the_real_keyring_in_new_processes() {
    if !keyring_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(pp(tmp.path()).args(["init", "--require-keyring"]));
    let rk = recovery_key_from(&out);
    // Each command is a new process that finds its key in the keyring.
    ok(pp(tmp.path()).args(["add", "from the keyring"]));
    let listed = json(&ok(pp(tmp.path()).args(["list", "--json"])));
    assert_eq!(listed[0]["title"], "from the keyring");
    let status = json(&ok(pp(tmp.path()).args(["vault", "status", "--json"])));
    assert_eq!(status["slots"][0]["kind"], "keyring");
    // Each keyring slot names its own entry (a restored copy of this
    // vault, which has the same vault id, gets another one).
    let account = status["slots"][0]["keyring_account"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        account.starts_with(&format!("vault-{}-", status["vault_id"].as_str().unwrap())),
        "{account}"
    );

    // The Secret Service goes away (headless session): a clear error naming
    // the other ways in, and nothing else happens.
    let e = fails_with(
        pp(tmp.path())
            .args(["list"])
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/pp-bus"),
        "keyring_unavailable",
    );
    assert!(
        e.contains("not available") && e.contains("recovery key"),
        "{e}"
    );

    // The entry disappears (another machine, a wiped keyring): the error
    // says so and how to get in; the recovery key still works.
    keyring::Entry::new(KEYRING_SERVICE, &account)
        .unwrap()
        .delete_credential()
        .unwrap();
    let e = fails_with(pp(tmp.path()).args(["list"]), "keyring_entry_missing");
    assert!(
        e.contains("PRODUCTIVITYPRO_PASSPHRASE") && e.contains("recovery"),
        "{e}"
    );
    let listed = json(&ok(pp(tmp.path())
        .args(["list", "--json"])
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", &rk)));
    assert_eq!(listed[0]["title"], "from the keyring");

    // Re-adding the keyring slot makes plain `pp list` work again.
    ok(pp(tmp.path())
        .args(["vault", "add-keyring"])
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", &rk));
    ok(pp(tmp.path()).args(["list"]));
}

#[test]
fn an_overwritten_keyring_entry_is_reported_not_treated_as_an_empty_vault() {
    if !keyring_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    ok(pp(tmp.path()).args(["init", "--require-keyring"]));
    ok(pp(tmp.path()).args(["add", "still here"]));
    let status = json(&ok(pp(tmp.path()).args(["vault", "status", "--json"])));
    let account = status["slots"][0]["keyring_account"]
        .as_str()
        .unwrap()
        .to_string();
    keyring::Entry::new(KEYRING_SERVICE, &account)
        .unwrap()
        .set_password(&"ab".repeat(32))
        .unwrap();
    let e = fails_with(pp(tmp.path()).args(["list"]), "keyring_damaged");
    assert!(e.contains("no longer matches"), "{e}");
}

#[test]
fn without_a_secret_service_the_error_names_the_fix() {
    // Point D-Bus at nothing: the platform store is unreachable.
    let tmp = tempfile::tempdir().unwrap();
    let no_bus = "unix:path=/nonexistent/productivitypro-test-bus";
    let e = fails_with(
        pp(tmp.path())
            .args(["init", "--require-keyring"])
            .env("DBUS_SESSION_BUS_ADDRESS", no_bus),
        "keyring_unavailable",
    );
    assert!(e.contains("OS keyring is not available"), "{e}");
    assert!(
        !tmp.path().join("vault.db").exists(),
        "a failed init left a vault"
    );

    // Default init falls back to passphrase + recovery key and says so.
    let r = common::run(
        pp(tmp.path())
            .args(["init"])
            .env("DBUS_SESSION_BUS_ADDRESS", no_bus)
            .env("PRODUCTIVITYPRO_PASSPHRASE", "pw for headless"),
    );
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stderr.contains("no keyring slot"), "{}", r.stderr);
    let e = fails_with(
        pp(tmp.path())
            .args(["list"])
            .env("DBUS_SESSION_BUS_ADDRESS", no_bus),
        "no_such_slot",
    );
    assert!(e.contains("PRODUCTIVITYPRO_PASSPHRASE"), "{e}");
    ok(pp(tmp.path())
        .args(["list"])
        .env("PRODUCTIVITYPRO_PASSPHRASE", "pw for headless"));
}

/// Regression (issue 11, point 12): `pp vault restore` of a backup into
/// another folder on the same machine added a keyring slot under the
/// original vault's entry name (same vault id) and overwrote its secret:
/// plain `pp list` in the original folder then failed with
/// `keyring_damaged`. Both folders now unlock from the keyring.
#[test]
fn restoring_into_another_folder_keeps_both_keyring_unlocks() {
    if !keyring_available() {
        return;
    }
    let original = tempfile::tempdir().unwrap();
    let out = ok(pp(original.path()).args(["init", "--require-keyring"]));
    let rk = recovery_key_from(&out);
    ok(pp(original.path()).args(["add", "kept in the original"]));
    let backup = original.path().join("copy.ppbackup");
    ok(pp(original.path())
        .args(["vault", "backup", "--out"])
        .arg(&backup));

    let copy = tempfile::tempdir().unwrap();
    ok(pp(copy.path())
        .args(["vault", "restore"])
        .arg(&backup)
        .env("PRODUCTIVITYPRO_RECOVERY_KEY", &rk));
    for dir in [original.path(), copy.path()] {
        let listed = json(&ok(pp(dir).args(["list", "--json"])));
        assert_eq!(listed[0]["title"], "kept in the original", "{dir:?}");
    }
}
