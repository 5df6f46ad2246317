//! The timers, with a fixed clock moved by the test: reminders at the due
//! time and the lead time, snoozes, reminders missed while the app was
//! closed (shown once), a clock jump, and the idle lock.

mod common;

use chrono::Duration;
use common::{require_keyring, Harness, Setup};
use productivitypro_app::reminders::Notice;
use serde_json::json;

fn titles(n: &[Notice]) -> Vec<String> {
    n.iter().map(|n| n.title.clone()).collect()
}

fn settings(h: &Harness, change: impl FnOnce(&mut serde_json::Value)) {
    let mut s = h.ok("settings_get", json!({}));
    change(&mut s);
    h.ok("settings_set", json!({ "settings": s }));
}

#[test]
fn reminders_at_the_lead_time_at_the_due_time_and_after_a_snooze() {
    require_keyring();
    let h = Harness::new(); // 2026-11-23 08:00 UTC = 09:00 Berlin
    h.create();
    settings(&h, |s| s["reminderLeadMinutes"] = json!(15));
    let t = h.add("Dentist today 10:00");
    h.add("Undated thing");
    let id = t["id"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(h.notices.take().is_empty(), "nothing is due yet");

    // 09:45 Berlin: the lead-time reminder.
    h.clock.advance(Duration::minutes(45));

    let shown = h.notices.wait_for(1);
    assert_eq!(titles(&shown), ["Dentist"]);
    assert_eq!(shown[0].body, "Due at 10:00 (in 15 min)");
    assert_eq!(shown[0].task.map(|t| t.to_string()), Some(id.clone()));
    h.notices.take();

    // 10:00: at the due time.
    h.clock.advance(Duration::minutes(15));
    let shown = h.notices.wait_for(1);
    assert_eq!(shown[0].body, "Due now (10:00)");
    h.notices.take();

    // "Snooze 10 min": once more at 10:10, not before.
    h.ok("reminder_snooze", json!({ "id": id, "minutes": 10 }));
    h.clock.advance(Duration::minutes(9));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(h.notices.take().is_empty());
    h.clock.advance(Duration::minutes(1));
    let shown = h.notices.wait_for(1);
    assert_eq!(shown[0].body, "Snoozed — due 10:00");
    h.notices.take();
    assert_eq!(
        h.err("reminder_snooze", json!({ "id": id, "minutes": 0 })),
        "invalid_input"
    );

    // Completed tasks do not remind; reminders off means none shown.
    let later = h.add("Call back today 11:00");
    settings(&h, |s| s["remindersEnabled"] = json!(false));
    h.clock.advance(Duration::minutes(50));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(h.notices.take().is_empty(), "reminders are off");
    settings(&h, |s| s["remindersEnabled"] = json!(true));
    h.ok("tasks_complete", json!({ "ids": [later["id"]] }));
    h.clock.advance(Duration::hours(2));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(h.notices.take().is_empty());
}

#[test]
fn reminders_missed_while_closed_are_shown_once_at_the_next_start() {
    require_keyring();
    let data = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let first = Harness::with(Setup {
        data: Some(data),
        config: Some(config),
        ..Setup::default()
    });
    first.create();
    for i in 0..5 {
        first.add(&format!("Missed {i} today 1{i}:00"));
    }
    first.add("Still ahead tomorrow 9am");
    // Closed at 09:00 Berlin (its loops stop with the vault locked);
    // opened again at 18:00.
    first.ok("vault_lock", json!({}));
    let Harness {
        app, data, config, ..
    } = first;
    drop(app);
    let second = Harness::with(Setup {
        data: Some(data),
        config: Some(config),
        now: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 17, 0, 0).unwrap(),
        ..Setup::default()
    });
    second.ok("vault_unlock", json!({ "method": "keyring" }));
    let shown = second.notices.wait_for(3);
    assert_eq!(
        titles(&shown),
        ["Missed 0", "Missed 1", "3 more reminders missed"],
        "a few one by one, the rest as a summary"
    );
    assert!(shown[0].body.starts_with("Missed while the app was closed"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(second.notices.take().len(), 3, "shown once");
    // Lock and unlock: nothing again.
    second.ok("vault_lock", json!({}));
    second.ok("vault_unlock", json!({ "method": "keyring" }));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(second.notices.take().is_empty());
}

#[test]
fn a_clock_set_forward_is_noticed_without_waiting_for_the_next_minute() {
    require_keyring();
    let mut setup = Setup::default();
    // Without a jump, the loop would next check a day from now.
    setup.ticks.reminder_check_every = Duration::days(1);
    let h = Harness::with(setup);
    h.create();
    h.add("After the jump today 15:00");
    std::thread::sleep(std::time::Duration::from_millis(300));
    h.notices.take();
    // Resume from suspend: six hours later at once.
    h.clock.advance(Duration::hours(6));
    let shown = h.notices.wait_for(1);
    assert_eq!(titles(&shown), ["After the jump"]);
}

#[test]
fn idle_lock_after_the_configured_minutes_and_activity_postpones_it() {
    require_keyring();
    let h = Harness::new();
    h.create();
    settings(&h, |s| s["lockAfterMinutes"] = json!(5));
    h.clock.advance(Duration::minutes(4));
    h.ok("activity", json!({}));
    h.clock.advance(Duration::minutes(4));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(h.ok("app_status", json!({}))["vault"], "unlocked");
    assert_eq!(h.count_events("vault://locked"), 0);
    h.clock.advance(Duration::minutes(2));
    assert_eq!(
        h.wait_event("vault://locked", 0),
        json!({ "reason": "idle" })
    );
    assert_eq!(h.ok("app_status", json!({}))["vault"], "locked");
    assert_eq!(h.err("vault_snapshot", json!({})), "vault_locked");
    // Never: no lock however long.
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    settings(&h, |s| s["lockAfterMinutes"] = json!(null));
    h.clock.advance(Duration::days(3));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(h.ok("app_status", json!({}))["vault"], "unlocked");
}
