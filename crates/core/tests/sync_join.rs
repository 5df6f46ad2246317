//! Joining a sync account in steps (`SyncJoin`), against the real sync
//! service on loopback: the network step runs without the vault, so the
//! vault can change in between, and a join that can no longer be linked
//! must not leave a device signed in on the server.

mod support;

use std::sync::Arc;

use productivitypro_core::vault::sync::RecoveryChoice;
use productivitypro_sync_server::clock::ManualClock;
use productivitypro_sync_server::scratch::TestService;
use support::*;

const SYNC_PASS: &str = "a long sync passphrase";

/// A sign-in whose vault was linked by another sign-in while it waited on
/// the server is refused (`sync_already_on`), the vault keeps the link it
/// has, and the refused join's device is signed out again.
#[test]
fn a_join_that_can_no_longer_be_linked_signs_its_device_out() {
    let svc = TestService::start(Arc::new(ManualClock::new(1_795_000_000)));
    let email = "joins@example.com";
    let dir_a = tempfile::tempdir().unwrap();
    let (mut a, _) = quick_vault(dir_a.path());
    a.sync_signup(&svc.base, email, SYNC_PASS, RecoveryChoice::Without)
        .unwrap();

    let dir_b = tempfile::tempdir().unwrap();
    let (mut b, _) = quick_vault(dir_b.path());
    let slow = b
        .sync_join()
        .unwrap()
        .login(&svc.base, email, SYNC_PASS)
        .unwrap();
    // Meanwhile (the app's lock is free during the network step) the same
    // vault signs in again and is linked first.
    b.sync_login(&svc.base, email, SYNC_PASS).unwrap();
    let linked = b.sync_info().unwrap().expect("linked").device;

    let refused = b.sync_link_joined(slow).expect_err("linked a vault twice");
    assert_eq!(refused.error.code(), "sync_already_on", "{}", refused.error);
    let error = refused.abandon();
    assert_eq!(error.code(), "sync_already_on");
    assert_eq!(b.sync_info().unwrap().expect("still linked").device, linked);

    let devices = a.sync_devices().unwrap();
    assert_eq!(devices.len(), 3, "A, B, and B's refused join");
    let signed_out: Vec<_> = devices.iter().filter(|d| d.signed_out).collect();
    assert_eq!(signed_out.len(), 1, "{devices:?}");
    assert_ne!(signed_out[0].device_id, linked);
    assert!(devices
        .iter()
        .any(|d| d.device_id == linked && !d.signed_out));
    // B still syncs with the device it linked.
    assert_eq!(b.sync_devices().unwrap().len(), 3);
}

/// A join refused because the vault belongs to another account by now
/// (`account_mismatch` at linking) behaves the same: nothing linked,
/// device signed out.
#[test]
fn a_join_refused_at_linking_for_another_account_changes_nothing() {
    let svc = TestService::start(Arc::new(ManualClock::new(1_795_000_000)));
    let dir = tempfile::tempdir().unwrap();
    let (mut v, _) = quick_vault(dir.path());
    let other = tempfile::tempdir().unwrap();
    let (mut first, _) = quick_vault(other.path());
    first
        .sync_signup(
            &svc.base,
            "first@example.com",
            SYNC_PASS,
            RecoveryChoice::Without,
        )
        .unwrap();

    // The join starts while the vault knows no account…
    let slow = v
        .sync_join()
        .unwrap()
        .login(&svc.base, "first@example.com", SYNC_PASS)
        .unwrap();
    // …and by the time it links, the vault synced with another one and
    // signed out (it remembers that account).
    v.sync_signup(
        &svc.base,
        "second@example.com",
        SYNC_PASS,
        RecoveryChoice::Without,
    )
    .unwrap();
    v.sync_sign_out(true, false).unwrap();
    assert!(v.sync_info().unwrap().is_none());

    let refused = v
        .sync_link_joined(slow)
        .expect_err("linked another account");
    assert_eq!(
        refused.error.code(),
        "account_mismatch",
        "{}",
        refused.error
    );
    refused.abandon();
    assert!(v.sync_info().unwrap().is_none());
    let devices = first.sync_devices().unwrap();
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert_eq!(devices.iter().filter(|d| d.signed_out).count(), 1);
}
