//! Everyday work through IPC: quick add with the grammar, edits, bulk
//! actions, trash, undo/redo, views with filters and sorts, lists, and the
//! codes bad input gets.

mod common;

use common::{require_keyring, Harness};
use serde_json::{json, Value};

fn ids(v: &Value) -> Vec<String> {
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_string())
        .collect()
}

fn view(h: &Harness, view: Value) -> Vec<String> {
    ids(&h.ok("view_query", json!({ "view": view })))
}

#[test]
fn quick_add_reads_the_grammar_and_reports_changes() {
    require_keyring();
    let h = Harness::new();
    h.create();
    // 2026-11-23 09:00 in Berlin (the harness clock is 08:00 UTC).
    let c = h.ok(
        "task_add",
        json!({ "text": "Pay rent tomorrow 9am #home @bills !1" }),
    );
    let t = &c["tasks"][0];
    assert_eq!(t["title"], "Pay rent");
    assert_eq!(t["tags"], json!(["bills"]));
    assert_eq!(t["priority"], 1);
    assert_eq!(t["due"]["date"], "2026-11-24");
    assert_eq!(t["due"]["time"], "09:00");
    assert_eq!(t["due"]["at"], "2026-11-24T09:00:00+01:00");
    assert_eq!(t["done"], false);
    assert_eq!(t["trashedAt"], Value::Null);
    let lists = c["lists"].as_array().unwrap();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0]["name"], "home");
    assert_eq!(lists[0]["openCount"], 1);
    assert_eq!(t["listId"], lists[0]["id"]);
    assert_eq!(c["tags"], json!([{ "name": "bills", "openCount": 1 }]));
    assert_eq!(c["counts"]["upcoming"], 1);
    assert_eq!(c["history"]["canUndo"], true);
    assert_eq!(c["history"]["undoLabel"], "Task added");

    let r = h.ok("task_add", json!({ "text": "Water plants every monday" }));
    assert_eq!(r["tasks"][0]["recurrence"]["rule"], "FREQ=WEEKLY;BYDAY=MO");
    assert_eq!(r["tasks"][0]["recurrence"]["label"], "every Monday");

    // In the Today view, "due today" unless the text says otherwise; in a
    // list's view, in that list.
    let home = lists[0]["id"].as_str().unwrap();
    let today = h.ok(
        "task_add",
        json!({ "text": "Call mum", "dueToday": true, "listId": home }),
    );
    assert_eq!(today["tasks"][0]["due"]["date"], "2026-11-23");
    assert_eq!(today["tasks"][0]["listId"], home);
    let sub = h.ok(
        "task_add",
        json!({ "text": "Find the number", "parentId": today["tasks"][0]["id"] }),
    );
    assert_eq!(sub["tasks"][0]["parentId"], today["tasks"][0]["id"]);
    assert_eq!(
        sub["tasks"][0]["listId"], home,
        "a subtask goes in its parent's list"
    );

    // The preview says what Enter would make, without a vault write.
    let p = h.ok(
        "quick_add_preview",
        json!({ "text": "Standup every weekday at 9:30 #work p2" }),
    );
    assert_eq!(p["title"], "Standup");
    assert_eq!(p["listName"], "work");
    assert_eq!(p["priority"], 2);
    assert_eq!(p["recurrence"]["label"], "every weekday");
    assert_eq!(p["dueLabel"], "Today 09:30");
    assert_eq!(p["error"], Value::Null);
    let bad = h.ok("quick_add_preview", json!({ "text": "#a #b thing" }));
    assert_eq!(bad["error"]["code"], "quick_add_multiple_lists");

    // Grammar errors have their own codes.
    for (text, code) in [
        ("#home @x !1", "quick_add_empty_title"),
        ("Do it !7", "quick_add_bad_priority"),
        ("Do it !1 !2", "quick_add_multiple_priorities"),
        ("Do it #a #b", "quick_add_multiple_lists"),
        ("Do it #\"two words", "quick_add_unclosed_list_name"),
        ("Do it feb 30", "quick_add_invalid_date"),
    ] {
        assert_eq!(h.err("task_add", json!({ "text": text })), code, "{text}");
    }
    assert_eq!(
        h.err("task_add", json!({ "text": "x", "listId": "nope" })),
        "invalid_argument"
    );
    assert_eq!(
        h.err(
            "task_add",
            json!({ "text": "x", "listId": "0123456789abcdef0123456789abcdef" })
        ),
        "list_not_found"
    );
    assert_eq!(h.err("task_add", json!({ "txt": "x" })), "invalid_argument");
    assert_eq!(
        h.err("task_add", json!({ "text": "x", "extra": 1 })),
        "invalid_argument"
    );
}

#[test]
fn edits_bulk_actions_trash_and_undo() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let a = h.add("Alpha tomorrow");
    let b = h.add("Beta @x");
    let id_a = a["id"].as_str().unwrap().to_string();
    let id_b = b["id"].as_str().unwrap().to_string();

    let c = h.ok(
        "task_update",
        json!({ "id": id_a, "patch": {
            "title": "Alpha one", "notes": "**bold**", "addTags": ["y"], "priority": 3,
            "dueText": "next fri 5pm", "repeatText": "every 2 weeks",
        }}),
    );
    let t = &c["tasks"][0];
    assert_eq!(t["title"], "Alpha one");
    assert_eq!(t["notes"], "**bold**");
    assert_eq!(t["tags"], json!(["y"]));
    assert_eq!(t["priority"], 3);
    assert_eq!(t["due"]["date"], "2026-11-27");
    assert_eq!(t["due"]["time"], "17:00");
    assert_eq!(t["recurrence"]["label"], "every other week");
    let c = h.ok(
        "task_update",
        json!({ "id": id_a, "patch": { "due": { "date": "2026-12-01", "time": null, "tz": null }, "recurrence": null } }),
    );
    assert_eq!(c["tasks"][0]["due"]["date"], "2026-12-01");
    assert_eq!(c["tasks"][0]["due"]["time"], Value::Null);
    assert_eq!(c["tasks"][0]["recurrence"], Value::Null);
    let c = h.ok(
        "task_update",
        json!({ "id": id_a, "patch": { "due": null } }),
    );
    assert_eq!(c["tasks"][0]["due"], Value::Null);
    h.ok(
        "task_update",
        json!({ "id": id_a, "patch": { "moveBefore": id_b } }),
    );
    assert_eq!(
        view(&h, json!({ "kind": "inbox" })),
        [id_a.clone(), id_b.clone()]
    );

    // Bad patches are refused whole.
    for (patch, code) in [
        (json!({ "priority": 9 }), "invalid_argument"),
        (json!({ "title": "  " }), "invalid_input"),
        (
            json!({ "dueText": "someday maybe" }),
            "quick_add_not_a_date",
        ),
        (
            json!({ "due": { "date": "2026-02-30", "time": null, "tz": null } }),
            "invalid_argument",
        ),
        (
            json!({ "due": { "date": "2026-12-01", "time": "25:00", "tz": null } }),
            "invalid_argument",
        ),
        (
            json!({ "due": { "date": "2026-12-01", "time": "10:00", "tz": "Mars/Base" } }),
            "invalid_input",
        ),
        (
            json!({ "recurrence": "FREQ=SOMETIMES" }),
            "invalid_recurrence",
        ),
        (json!({ "repeatText": "whenever" }), "invalid_recurrence"),
        (
            json!({ "due": null, "dueText": "today" }),
            "invalid_argument",
        ),
        (json!({ "parentId": id_a }), "parent_cycle"),
        (
            json!({ "listId": "0123456789abcdef0123456789abcdef" }),
            "list_not_found",
        ),
        (json!({ "colour": "red" }), "invalid_argument"),
    ] {
        assert_eq!(
            h.err("task_update", json!({ "id": id_a, "patch": patch })),
            code,
            "{patch}"
        );
    }
    assert_eq!(
        h.err(
            "task_update",
            json!({ "id": "0123456789abcdef0123456789abcdef", "patch": {} })
        ),
        "task_not_found"
    );

    // Bulk: one action each, undoable as one.
    let both = json!({ "ids": [id_a, id_b] });
    let c = h.ok("tasks_complete", both.clone());
    assert_eq!(c["tasks"].as_array().unwrap().len(), 2);
    assert!(c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["done"] == true));
    assert_eq!(c["history"]["undoLabel"], "2 tasks completed");
    assert_eq!(view(&h, json!({ "kind": "completed" })).len(), 2);
    let c = h.ok("undo", json!({}));
    assert!(c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["done"] == false));
    assert_eq!(c["history"]["canRedo"], true);
    let c = h.ok("redo", json!({}));
    assert!(c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["done"] == true));
    h.ok("tasks_reopen", both.clone());

    let c = h.ok(
        "tasks_priority",
        json!({ "ids": [id_a, id_b], "priority": 1 }),
    );
    assert!(c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["priority"] == 1));
    assert_eq!(
        h.err("tasks_priority", json!({ "ids": [id_a], "priority": 5 })),
        "invalid_argument"
    );
    let c = h.ok(
        "tasks_tag",
        json!({ "ids": [id_a, id_b], "add": ["z"], "remove": ["x"] }),
    );
    assert_eq!(c["tags"].as_array().unwrap().len(), 2, "{}", c["tags"]);
    let l = h.ok("list_add", json!({ "name": "Work", "colour": "#AABBCC" }));
    let work = l["lists"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(l["lists"][0]["colour"], "#aabbcc");
    let c = h.ok("tasks_move", json!({ "ids": [id_a], "listId": work }));
    assert_eq!(c["tasks"][0]["listId"], work.as_str());
    assert_eq!(c["lists"][0]["openCount"], 1);
    assert_eq!(
        view(&h, json!({ "kind": "list", "id": work })),
        std::slice::from_ref(&id_a)
    );
    h.ok("tasks_move", json!({ "ids": [id_a], "listId": null }));

    // Trash: out of every view but Trash, restorable, undoable.
    let c = h.ok("tasks_trash", json!({ "ids": [id_b] }));
    assert!(c["tasks"][0]["trashedAt"].is_string());
    assert_eq!(c["counts"]["trash"], 1);
    assert_eq!(
        view(&h, json!({ "kind": "inbox" })),
        std::slice::from_ref(&id_a)
    );
    assert_eq!(
        view(&h, json!({ "kind": "trash" })),
        std::slice::from_ref(&id_b)
    );
    assert_eq!(
        h.err(
            "task_update",
            json!({ "id": id_b, "patch": { "title": "x" } })
        ),
        "task_trashed"
    );
    let c = h.ok("tasks_restore", json!({ "ids": [id_b] }));
    assert_eq!(c["tasks"][0]["trashedAt"], Value::Null);
    h.ok("tasks_trash", json!({ "ids": [id_b] }));
    assert_eq!(
        h.err("trash_empty", json!({ "ids": [id_a] })),
        "task_not_trashed"
    );
    let c = h.ok("trash_empty", json!({ "ids": null }));
    assert_eq!(c["removedTasks"], json!([id_b]));
    assert_eq!(c["counts"]["trash"], 0);
    let c = h.ok("undo", json!({}));
    assert_eq!(c["tasks"][0]["id"], id_b.as_str(), "undo brings it back");
    h.ok("redo", json!({}));
    let mut n = 0;
    while h.call("undo", json!({})).is_ok() {
        n += 1;
        assert!(n < 200);
    }
    assert_eq!(h.err("undo", json!({})), "undo_empty");
    while h.call("redo", json!({})).is_ok() {}
    assert_eq!(h.err("redo", json!({})), "redo_empty");
    assert_eq!(
        h.err("tasks_complete", json!({ "ids": ["xyz"] })),
        "invalid_argument"
    );
    assert_eq!(
        h.err("tasks_complete", json!({ "ids": "xyz" })),
        "invalid_argument"
    );
}

#[test]
fn views_filters_and_sorts() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let overdue = h.add("Overdue report 2026-11-20 !2 #work");
    let today = h.add("Today call today 5pm !1 @phone");
    let soon = h.add("Soon thing in 3 days #work @phone");
    let later = h.add("Later thing in 20 days");
    let plain = h.add("Plain thing");
    let id = |t: &Value| t["id"].as_str().unwrap().to_string();

    assert_eq!(
        view(&h, json!({ "kind": "today" })),
        [id(&overdue), id(&today)]
    );
    let r = h.ok("view_query", json!({ "view": { "kind": "today" } }));
    assert_eq!(
        r["summary"],
        json!({ "overdue": 1, "today": 1, "total": 2 })
    );
    assert_eq!(
        view(&h, json!({ "kind": "upcoming", "days": 14 })),
        [id(&soon)]
    );
    assert_eq!(
        view(&h, json!({ "kind": "tag", "name": "phone" })),
        [id(&today), id(&soon)]
    );
    assert_eq!(
        view(&h, json!({ "kind": "search", "text": "THING" })).len(),
        3
    );
    assert_eq!(
        view(&h, json!({ "kind": "inbox" })),
        [id(&today), id(&later), id(&plain)]
    );

    let q = |filter: Value, sort: Value| {
        ids(&h.ok(
            "view_query",
            json!({ "view": { "kind": "search", "text": "thing" }, "filter": filter, "sort": sort }),
        ))
    };
    assert_eq!(q(json!({ "tag": "phone" }), json!("manual")), [id(&soon)]);
    assert_eq!(
        q(json!({ "dueBefore": "2026-12-01" }), json!("due")),
        [id(&soon)]
    );
    assert_eq!(
        q(json!({ "dueAfter": "2026-11-24" }), json!("due")),
        [id(&soon), id(&later)]
    );
    assert_eq!(q(json!({ "text": "plain" }), Value::Null), [id(&plain)]);
    let work = overdue["listId"].as_str().unwrap();
    let all_work = ids(&h.ok(
        "view_query",
        json!({ "view": { "kind": "list", "id": work }, "filter": {}, "sort": "priority" }),
    ));
    assert_eq!(all_work, [id(&overdue), id(&soon)]);
    let created = ids(&h.ok(
        "view_query",
        json!({ "view": { "kind": "search", "text": "thing" }, "filter": {}, "sort": "created" }),
    ));
    assert_eq!(created.len(), 3);

    for (args, code) in [
        (json!({ "view": { "kind": "nowhere" } }), "invalid_argument"),
        (
            json!({ "view": { "kind": "upcoming", "days": 0 } }),
            "invalid_argument",
        ),
        (
            json!({ "view": { "kind": "list", "id": "x" } }),
            "invalid_argument",
        ),
        (
            json!({ "view": { "kind": "inbox" }, "filter": { "dueBefore": "soon" } }),
            "invalid_argument",
        ),
        (
            json!({ "view": { "kind": "inbox" }, "filter": { "priority": 6 } }),
            "invalid_argument",
        ),
        (
            json!({ "view": { "kind": "inbox" }, "sort": "random" }),
            "invalid_argument",
        ),
    ] {
        assert_eq!(h.err("view_query", args.clone()), code, "{args}");
    }

    let d = h.ok("parse_due", json!({ "text": "next fri 5pm" }));
    assert_eq!(d["date"], "2026-11-27");
    assert_eq!(d["time"], "17:00");
    assert_eq!(
        h.err("parse_due", json!({ "text": "when pigs fly" })),
        "quick_add_not_a_date"
    );
    let r = h.ok("parse_repeat", json!({ "text": "every 2 weeks" }));
    assert_eq!(
        r,
        json!({ "rule": "FREQ=WEEKLY;INTERVAL=2", "label": "every other week" })
    );
    assert_eq!(
        h.err("parse_repeat", json!({ "text": "now and then" })),
        "invalid_recurrence"
    );
}

/// The UI holds no copy of every task any more: a view answers ids with
/// the structure its rows need (parent index, day), and the records come
/// from `tasks_get` for the rows on screen.
#[test]
fn views_answer_rows_and_tasks_get_fetches_only_those_asked() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let parent = h.add("Plan trip tomorrow");
    let pid = parent["id"].as_str().unwrap().to_string();
    let sub = |text: &str| {
        h.ok("task_add", json!({ "text": text, "parentId": pid }))["tasks"][0]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let sid = sub("Book train in 2 days");
    let pack = sub("Pack bag today");
    let loose = h.add("Loose end");
    let lid = loose["id"].as_str().unwrap().to_string();

    let inbox = h.ok("view_query", json!({ "view": { "kind": "inbox" } }));
    assert_eq!(
        ids(&inbox),
        [pid.clone(), sid.clone(), pack.clone(), lid.clone()]
    );
    assert_eq!(
        inbox["parents"],
        json!([-1, 0, 0, -1]),
        "subtasks point at their parent's row"
    );
    assert_eq!(
        inbox["days"],
        json!([]),
        "only Today and Upcoming are grouped by day"
    );
    let up = h.ok(
        "view_query",
        json!({ "view": { "kind": "upcoming", "days": 14 } }),
    );
    assert_eq!(ids(&up), [pid.clone(), sid.clone()]);
    assert_eq!(up["parents"], json!([-1, 0]));
    assert_eq!(up["days"], json!(["2026-11-24", "2026-11-25"]));
    // A parent outside the view does not indent: Today has only the subtask.
    let today = h.ok("view_query", json!({ "view": { "kind": "today" } }));
    assert_eq!(ids(&today), std::slice::from_ref(&pack));
    assert_eq!(today["parents"], json!([-1]));
    assert_eq!(today["days"], json!(["2026-11-23"]));

    let got = h.ok("tasks_get", json!({ "ids": [lid, "0".repeat(32), pid] }));
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 2, "an unknown id is left out: {got:?}");
    assert_eq!(got[0]["title"], "Loose end", "in the order asked");
    assert_eq!(got[1]["title"], "Plan trip");
    assert_eq!(got[1]["due"]["date"], "2026-11-24");
    assert_eq!(h.ok("tasks_get", json!({ "ids": [] })), json!([]));
    assert_eq!(
        h.err("tasks_get", json!({ "ids": ["nope"] })),
        "invalid_argument"
    );
    let too_many: Vec<String> = (0..2001).map(|i| format!("{i:032x}")).collect();
    assert_eq!(
        h.err("tasks_get", json!({ "ids": too_many })),
        "invalid_argument",
        "tasks_get is for rows on screen, not the whole vault"
    );

    let subs = h.ok("task_subtasks", json!({ "id": pid }));
    assert_eq!(subs.as_array().unwrap().len(), 2);
    assert_eq!(subs[0]["id"], sid.as_str(), "in manual order");
    h.ok("tasks_trash", json!({ "ids": [sid] }));
    let subs = h.ok("task_subtasks", json!({ "id": pid }));
    assert_eq!(subs.as_array().unwrap().len(), 1, "not the trashed one");
    assert_eq!(subs[0]["id"], pack.as_str());
    assert_eq!(
        h.err("task_subtasks", json!({ "id": "x" })),
        "invalid_argument"
    );

    h.ok("vault_lock", json!({}));
    assert_eq!(h.err("tasks_get", json!({ "ids": [pid] })), "vault_locked");
}

/// `Changes.tags` is null when no task or tag changed and the full table
/// otherwise, so a tag whose last task went to the trash leaves the
/// sidebar (an empty table used to look like "unchanged").
#[test]
fn changes_tags_is_null_when_unchanged_and_empty_when_the_last_tag_goes() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let t = h.add("Only tagged @solo");
    let c = h.ok("list_add", json!({ "name": "Errands" }));
    assert_eq!(
        c["tags"],
        Value::Null,
        "a list change leaves the tags alone"
    );
    let c = h.ok("tasks_trash", json!({ "ids": [t["id"]] }));
    assert_eq!(c["tags"], json!([]), "the last carrier is in the trash");
    let c = h.ok("undo", json!({}));
    assert_eq!(c["tags"], json!([{ "name": "solo", "openCount": 1 }]));
}

#[test]
fn lists_add_rename_reorder_archive_delete() {
    require_keyring();
    let h = Harness::new();
    h.create();
    let a = h.ok("list_add", json!({ "name": "Alpha" }))["lists"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = h.ok("list_add", json!({ "name": "Beta", "colour": null }));
    let b_id = b["lists"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "Beta")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(h.err("list_add", json!({ "name": "alpha" })), "list_exists");
    assert_eq!(h.err("list_add", json!({ "name": " " })), "invalid_input");
    assert_eq!(
        h.err("list_add", json!({ "name": "C", "colour": "red" })),
        "invalid_input"
    );

    let c = h.ok(
        "list_update",
        json!({ "id": a, "name": "Alpha 2", "colour": "#112233" }),
    );
    let alpha = |c: &Value| {
        c["lists"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == a.as_str())
            .unwrap()
            .clone()
    };
    assert_eq!(alpha(&c)["name"], "Alpha 2");
    assert_eq!(alpha(&c)["colour"], "#112233");
    // A missing colour stays; null removes it.
    let c = h.ok("list_update", json!({ "id": a, "archived": true }));
    assert_eq!(alpha(&c)["colour"], "#112233");
    assert_eq!(alpha(&c)["archived"], true);
    let c = h.ok("list_update", json!({ "id": a, "colour": null }));
    assert_eq!(alpha(&c)["colour"], Value::Null);
    let c = h.ok("list_update", json!({ "id": b_id, "moveBefore": a }));
    let order: Vec<&str> = c["lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["Beta", "Alpha 2"]);
    assert_eq!(
        h.err(
            "list_update",
            json!({ "id": a, "moveBefore": b_id, "moveAfter": b_id })
        ),
        "invalid_argument"
    );
    assert_eq!(
        h.err("list_update", json!({ "id": a, "nmae": "x" })),
        "invalid_argument"
    );

    h.ok("task_add", json!({ "text": "In alpha", "listId": a }));
    assert_eq!(
        h.err("list_delete", json!({ "id": a, "withTasks": false })),
        "list_not_empty"
    );
    let c = h.ok("list_delete", json!({ "id": a, "withTasks": true }));
    assert_eq!(c["removedLists"], json!([a]));
    assert_eq!(
        h.err("list_delete", json!({ "id": a, "withTasks": true })),
        "list_not_found"
    );
}
