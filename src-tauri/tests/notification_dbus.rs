//! One real reminder through the notification plugin to a real
//! notification server (dunst on a private Xvfb display) on the keyring
//! session's D-Bus, watched with `dbus-monitor`; then a click on "Done"
//! (the server's `ActionInvoked` signal) completes the task.
//!
//! Needs Xvfb, dunst, dbus-monitor and gdbus (`scripts/bootstrap --test`)
//! and the session bus of `scripts/with-keyring`.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use common::{require_keyring, Harness, Setup};
use serde_json::{json, Value};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command) -> Killed {
    Killed(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run scripts/bootstrap --test)")),
    )
}

/// A display for dunst: ours, so the test never depends on the desktop.
fn xvfb() -> (Killed, String) {
    for n in 90..120 {
        if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let x = spawn(
            Command::new("Xvfb")
                .args([&display, "-nolisten", "tcp", "-screen", "0", "800x600x24"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let socket = format!("/tmp/.X11-unix/X{n}");
        let start = Instant::now();
        while !std::path::Path::new(&socket).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "Xvfb did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        return (x, display);
    }
    panic!("no free X display number");
}

fn bus_has(name: &str) -> bool {
    Command::new("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.NameHasOwner",
            name,
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("true"))
        .unwrap_or(false)
}

#[test]
fn a_due_reminder_reaches_the_notification_server_and_done_completes_it() {
    require_keyring();
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        "run inside scripts/with-keyring (a private session bus)"
    );
    let (_x, display) = xvfb();
    let _dunst = spawn(
        Command::new("dunst")
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let start = Instant::now();
    while !bus_has("org.freedesktop.Notifications") {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "dunst did not take the bus name"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut monitor = spawn(
        Command::new("dbus-monitor")
            .args([
                "--session",
                "interface='org.freedesktop.Notifications'",
                "type='method_return'",
            ])
            .stdout(log.reopen().unwrap())
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));

    let h = Harness::with(Setup {
        os_notifications: true,
        ..Setup::default()
    });
    h.create();
    // 09:00 Berlin now; due at 09:01.
    let t = h.add("Reminder marker 7d3f today 9:01");
    let id = t["id"].as_str().unwrap().to_string();
    h.clock.advance(ChronoDuration::minutes(1));

    let mut text = String::new();
    let start = Instant::now();
    while !text.contains("Reminder marker 7d3f") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no Notify call with the title seen: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
        text.clear();
        log.reopen().unwrap().read_to_string(&mut text).unwrap();
    }
    // Give the reply (the server's notification id) time to be logged.
    std::thread::sleep(Duration::from_millis(300));
    text.clear();
    log.reopen().unwrap().read_to_string(&mut text).unwrap();
    let notify = &text[text.find("member=Notify").expect("a Notify call")..];
    assert!(notify.contains("string \"Due now (09:01)\""), "{notify}");
    for action in ["\"done\"", "\"Done\"", "\"snooze\"", "\"Snooze 10 min\""] {
        assert!(notify.contains(action), "action {action} missing: {notify}");
    }

    // The server's id for it: the uint32 in the reply to that Notify call
    // (the reply goes to the caller, with the call's serial).
    let call_line = text.lines().find(|l| l.contains("member=Notify")).unwrap();
    let field = |line: &str, name: &str| -> String {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .trim_end_matches(';')
            .to_string()
    };
    let (caller, serial) = (field(call_line, "sender="), field(call_line, "serial="));
    let mut lines = text.lines().skip_while(|l| {
        !(l.starts_with("method return")
            && l.contains(&format!("destination={caller} "))
            && l.ends_with(&format!("reply_serial={serial}")))
    });
    lines.next().expect("the reply to Notify");
    let server_id: u32 = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("uint32 "))
        .expect("a notification id")
        .trim()
        .parse()
        .unwrap();
    // The user clicks "Done": the server emits ActionInvoked.
    let before = h.count_events("vault://changed");
    let emitted = Command::new("gdbus")
        .args([
            "emit",
            "--session",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--signal",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32 {server_id}"),
            "'done'",
        ])
        .status()
        .unwrap();
    assert!(emitted.success());
    let _ = monitor.0.kill();
    let c: Value = h.wait_event("vault://changed", before);
    assert_eq!(c["tasks"][0]["id"], id.as_str());
    assert_eq!(c["tasks"][0]["done"], true);
    let snap = h.ok("vault_snapshot", json!({}));
    assert_eq!(snap["tasks"][0]["done"], true);
}
