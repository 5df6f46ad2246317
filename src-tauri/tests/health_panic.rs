//! The app's panic hook, in a test binary of its own (a hook is
//! process-wide): with reports on, a panic becomes one crash line without
//! its message or location, and the next start queues it as a crash.

mod common;

use common::{Harness, Setup};
use productivitypro_app::health::{dir_in, install_panic_hook_in};
use productivitypro_health::consent::ConsentFile;
use serde_json::json;

const APP: &str = env!("CARGO_PKG_VERSION");

#[test]
fn a_panic_is_logged_without_its_message_and_queued_as_a_crash_at_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    // The hook stamps crashes with the system clock; the app must read the same.
    let now = chrono::Utc::now();
    let dir = dir_in(&data.path().join("vault"));
    let consent = ConsentFile::in_dir(&dir);
    let mut c = consent.load_or_create(now).unwrap();
    c.decide(true, now);
    consent.save(&c).unwrap();

    install_panic_hook_in(&dir, APP, now);
    let _ = std::thread::spawn(|| panic!("task 'call Alice' in /home/alice/.local/share")).join();
    let log = std::fs::read_to_string(dir.join("health-crashes.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
    for leak in ["Alice", "alice", "health_panic.rs", "/home"] {
        assert!(!log.contains(leak), "{leak} in {log}");
    }

    // The next start: the crash is queued for the version that crashed.
    let h = Harness::with(Setup {
        data: Some(data),
        now,
        ..Setup::default()
    });
    let queued = h.ok("health_preview", json!({}))["queued"].clone();
    let kinds: Vec<(&str, &str)> = queued
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["version"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("crash", APP)), "{kinds:?}");
    assert!(kinds.contains(&("session_start", APP)), "{kinds:?}");
    assert!(
        !dir.join("health-crashes.log").exists(),
        "the log was drained"
    );
}
