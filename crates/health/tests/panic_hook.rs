//! The panic hook, in a test binary of its own (a hook is process-wide):
//! a panic becomes one crash line when reports are on, nothing when they
//! are off, and never carries the panic's message or location.

use productivitypro_health::crash::{install_panic_hook, CrashContext, CrashLog};
use productivitypro_health::queue::Queue;
use productivitypro_protocol::telemetry::EventKind;
use productivitypro_protocol::Channel;

#[test]
fn a_panic_is_logged_as_a_crash_without_its_message_and_only_when_reports_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = CrashLog::in_dir(dir.path());
    let ctx = CrashContext::new(false, Channel::Beta);
    install_panic_hook(log.clone(), "1.4.0".into(), ctx.clone(), chrono::Utc::now);

    let _ = std::thread::spawn(|| panic!("task 'call Alice' at /home/alice/.local/share")).join();
    assert!(
        !dir.path().join("health-crashes.log").exists(),
        "reports off: nothing written"
    );

    ctx.set_enabled(true);
    ctx.set_channel(Channel::Canary);
    let _ = std::thread::spawn(|| panic!("task 'call Alice' at /home/alice/.local/share")).join();
    let text = std::fs::read_to_string(dir.path().join("health-crashes.log")).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains("alice") && !text.contains("Alice"), "{text}");
    assert!(
        !text.contains("panic_hook.rs"),
        "no source location: {text}"
    );

    let q = Queue::in_dir(dir.path());
    assert_eq!(log.drain_into(&q, chrono::Utc::now()).unwrap(), 1);
    let queued = q.load(chrono::Utc::now());
    assert_eq!(queued[0].kind, EventKind::Crash);
    assert_eq!(
        (queued[0].version.as_str(), queued[0].channel),
        ("1.4.0", Channel::Canary)
    );
}
