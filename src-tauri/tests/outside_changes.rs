//! `pp` and the app on one vault at the same time: what `pp` writes
//! reaches the app as `vault://changed` with exactly the changed records,
//! and a write that `pp` got in first is refused as `stale` (then reloaded),
//! never clobbered.

mod common;

use std::time::Duration;

use common::{require_keyring, run_ok, Harness, Setup};
use serde_json::{json, Value};

fn titles(c: &Value) -> Vec<String> {
    c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_change_made_by_pp_reaches_the_app_with_only_the_changed_tasks() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let mine = h.add("Made in the app");
    for i in 0..20 {
        h.add(&format!("Bulk {i}"));
    }
    let before = h.count_events("vault://changed");

    run_ok(h.pp().args(["add", "Made by pp tomorrow #errands"]));
    let c = h.wait_event("vault://changed", before);
    assert_eq!(titles(&c), ["Made by pp"], "only the new task: {c}");
    assert_eq!(c["removedTasks"], json!([]));
    let lists: Vec<&str> = c["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lists, ["errands"]);
    assert_eq!(c["counts"]["upcoming"], 1);
    // The app now serves it like its own.
    assert_eq!(h.all_tasks().as_array().unwrap().len(), 22);

    // pp completes the app's task: one changed task, nothing else.
    let id = mine["id"].as_str().unwrap();
    run_ok(h.pp().args(["done", id]));
    let c = h.wait_event("vault://changed", before + 1);
    assert_eq!(titles(&c), ["Made in the app"]);
    assert_eq!(c["tasks"][0]["done"], true);

    // The app's own writes are never reported back as outside changes.
    h.add("Another from the app");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(h.count_events("vault://changed"), before + 2);
}

#[test]
fn a_conflicting_write_is_stale_and_the_app_reloads_the_other_version() {
    require_keyring();
    // The watcher is slow here, so the app still holds the old version
    // when the user edits it.
    let mut setup = Setup::default();
    setup.ticks.changes = Duration::from_secs(3600);
    let h = Harness::with(setup);
    h.create();
    let t = h.add("Original title");
    let id = t["id"].as_str().unwrap();
    run_ok(h.pp().args(["edit", id, "--title", "Title from pp"]));

    let before = h.count_events("vault://changed");
    assert_eq!(
        h.err(
            "task_update",
            json!({ "id": id, "patch": { "title": "Title from the app" } })
        ),
        "stale"
    );
    // Reloaded and told: the UI shows pp's version.
    let c = h.wait_event("vault://changed", before);
    assert_eq!(titles(&c), ["Title from pp"]);
    let out = run_ok(h.pp().args(["show", id, "--json"]));
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["title"], "Title from pp", "nothing was clobbered");
    // Now current, the edit goes through.
    let c = h.ok(
        "task_update",
        json!({ "id": id, "patch": { "title": "Title from the app" } }),
    );
    assert_eq!(titles(&c), ["Title from the app"]);
}

#[test]
fn a_key_rotated_by_pp_closes_the_app_vault_and_keyring_unlock_reopens_it() {
    require_keyring();
    // The watcher is slow, so the first thing to meet the new key is a write.
    let mut setup = Setup::default();
    setup.ticks.changes = Duration::from_secs(3600);
    let h = Harness::with(setup);
    h.create();
    h.add("Before rotation");
    run_ok(
        h.pp()
            .env("PRODUCTIVITYPRO_PASSPHRASE", common::PASS)
            .args(["vault", "rotate"]),
    );

    assert_eq!(
        h.err("task_add", json!({ "text": "After rotation" })),
        "key_rotated"
    );
    // The old key is gone from memory: the app is locked, not half open.
    assert_eq!(h.ok("app_status", json!({}))["vault"], "locked");
    assert_eq!(h.err("vault_snapshot", json!({})), "vault_locked");

    // pp put the new key in the keyring: opening again works, nothing lost.
    h.ok("vault_unlock", json!({ "method": "keyring" }));
    let all = h.all_tasks();
    let titles: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Before rotation"]);
    h.add("After rotation");
}
