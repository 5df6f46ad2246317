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
use tauri::Manager;

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
    assert_eq!(h.all_tasks()[0]["done"], true);

    // "Snooze 10 min" on the next one: it comes back ten minutes later.
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
    let second = h.add("Snooze marker 5b1e today 9:05");
    let second_id = second["id"].as_str().unwrap().to_string();
    h.clock.advance(ChronoDuration::minutes(4));
    let ids = wait_notify(&log, "Snooze marker 5b1e", 1);
    act(ids[0], "snooze");
    // The click is handled on the app's side before time moves on.
    let shell = h
        .app
        .state::<std::sync::Arc<productivitypro_app::shell::Shell>>()
        .inner()
        .clone();
    let task: productivitypro_core::TaskId = second_id.parse().unwrap();
    let start = Instant::now();
    while !shell
        .with_vault(|v| Ok(v.reminder_state()?.snoozes.contains_key(&task)))
        .unwrap()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the snooze never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing at 09:14; again at 09:15.
    h.clock.advance(ChronoDuration::minutes(9));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(notify_bodies(&log, "Snooze marker 5b1e").len(), 1);
    h.clock.advance(ChronoDuration::minutes(1));
    wait_notify(&log, "Snooze marker 5b1e", 2);
    assert_eq!(
        notify_bodies(&log, "Snooze marker 5b1e")[1],
        "Snoozed — due 09:05"
    );

    // A click on the notification itself opens the task.
    let ids = notify_ids(&log, "Snooze marker 5b1e");
    let before = h.count_events("app://navigate");
    act(*ids.last().unwrap(), "default");
    let nav = h.wait_event("app://navigate", before);
    assert_eq!(nav["taskId"], second_id.as_str());
    assert_eq!(nav["view"], json!({ "kind": "inbox" }));
    let _ = monitor.0.kill();
}

/// Emits the server's `ActionInvoked` for notification `id`.
fn act(id: u32, action: &str) {
    let ok = Command::new("gdbus")
        .args([
            "emit",
            "--session",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--signal",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32 {id}"),
            &format!("'{action}'"),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Every `Notify` call titled `title` in the monitor's log, with the body
/// and the server's id from its reply.
fn notify_calls(log: &tempfile::NamedTempFile, title: &str) -> Vec<(String, Option<u32>)> {
    let mut text = String::new();
    log.reopen().unwrap().read_to_string(&mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if !l.contains("member=Notify") {
            continue;
        }
        let strings: Vec<&str> = lines[i + 1..]
            .iter()
            .take(6)
            .filter_map(|s| s.trim().strip_prefix("string \""))
            .map(|s| s.trim_end_matches('"'))
            .collect();
        if strings.get(2) != Some(&title) {
            continue;
        }
        let field = |name: &str| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(|s| s.trim_end_matches(';').to_string())
        };
        let (caller, serial) = (field("sender=").unwrap(), field("serial=").unwrap());
        let reply = lines.iter().position(|r| {
            r.starts_with("method return")
                && r.contains(&format!("destination={caller} "))
                && r.ends_with(&format!("reply_serial={serial}"))
        });
        let id = reply
            .and_then(|r| lines.get(r + 1))
            .and_then(|s| s.trim().strip_prefix("uint32 "))
            .and_then(|s| s.trim().parse().ok());
        out.push((strings.get(3).copied().unwrap_or_default().to_string(), id));
    }
    out
}

fn notify_bodies(log: &tempfile::NamedTempFile, title: &str) -> Vec<String> {
    notify_calls(log, title)
        .into_iter()
        .map(|(b, _)| b)
        .collect()
}

fn notify_ids(log: &tempfile::NamedTempFile, title: &str) -> Vec<u32> {
    notify_calls(log, title)
        .into_iter()
        .filter_map(|(_, id)| id)
        .collect()
}

/// Waits for `n` answered `Notify` calls titled `title`; their server ids.
fn wait_notify(log: &tempfile::NamedTempFile, title: &str, n: usize) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let ids = notify_ids(log, title);
        if ids.len() >= n {
            return ids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{n} notifications titled {title} never came"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
