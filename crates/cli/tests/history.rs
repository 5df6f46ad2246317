//! `pp` undo/redo across invocations, the trash, bulk actions and list
//! filters, end to end with a passphrase.

mod common;

use common::{fails_with, json, ok, pp};

const PASS: &str = "another long private passphrase";

fn vault() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    ok(pp(tmp.path())
        .args(["init", "--no-keyring"])
        .env("PRODUCTIVITYPRO_PASSPHRASE", PASS));
    tmp
}

fn pp_(dir: &std::path::Path) -> std::process::Command {
    let mut c = pp(dir);
    c.env("PRODUCTIVITYPRO_PASSPHRASE", PASS);
    c
}

fn add(dir: &std::path::Path, text: &str) -> String {
    let t = json(&ok(pp_(dir).args(["add", "--json", text])));
    t["id"].as_str().unwrap().to_string()
}

fn titles(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut a = vec!["list", "--json"];
    a.extend_from_slice(args);
    json(&ok(pp_(dir).args(&a)))
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn undo_and_redo_work_across_invocations() {
    let tmp = vault();
    let d = tmp.path();
    fails_with(pp_(d).arg("undo"), "undo_empty");
    let a = add(d, "Water plants");
    let b = add(d, "Call mum");
    assert_eq!(ok(pp_(d).arg("undo")).trim(), "undid: Task added");
    assert_eq!(titles(d, &[]), ["Water plants"]);
    assert_eq!(ok(pp_(d).arg("redo")).trim(), "redid: Task added");
    assert_eq!(titles(d, &[]), ["Water plants", "Call mum"]);
    fails_with(pp_(d).arg("redo"), "redo_empty");

    // Two tasks completed in one command are one action.
    ok(pp_(d).args(["done", &a[..8], &b[..8]]));
    assert!(titles(d, &[]).is_empty());
    assert_eq!(ok(pp_(d).arg("undo")).trim(), "undid: 2 tasks completed");
    assert_eq!(titles(d, &[]).len(), 2);

    ok(pp_(d).args(["edit", &a, "--title", "Water the plants"]));
    assert_eq!(ok(pp_(d).arg("undo")).trim(), "undid: Task edited");
    assert_eq!(titles(d, &["--text", "water"]), ["Water plants"]);
    // A new action clears what could be redone.
    ok(pp_(d).args(["priority", "1", &a]));
    fails_with(pp_(d).arg("redo"), "redo_empty");
}

#[test]
fn rm_goes_to_the_trash_and_back() {
    let tmp = vault();
    let d = tmp.path();
    let parent = add(d, "Plan trip #travel");
    let sub = json(&ok(pp_(d).args([
        "add",
        "--json",
        "--parent",
        &parent,
        "Book hotel",
    ])));
    let sub = sub["id"].as_str().unwrap().to_string();
    let keep = add(d, "Keep me");
    let out = ok(pp_(d).args(["rm", &parent]));
    assert!(out.contains("moved 2 task(s) to the trash"), "{out}");
    assert_eq!(titles(d, &[]), ["Keep me"]);
    assert_eq!(titles(d, &["--trash"]), ["Plan trip", "Book hotel"]);
    let listed = ok(pp_(d).args(["trash"]));
    assert!(listed.contains("in the trash since"), "{listed}");
    fails_with(pp_(d).args(["edit", &sub, "--title", "x"]), "task_trashed");
    fails_with(pp_(d).args(["trash", "empty", &keep]), "task_not_trashed");

    ok(pp_(d).args(["trash", "restore", &parent[..8]]));
    assert_eq!(
        titles(d, &["--list", "travel"]),
        ["Plan trip", "Book hotel"]
    );
    let s = json(&ok(pp_(d).args(["show", "--json", &sub])));
    assert_eq!(s["parent"], parent.as_str());

    ok(pp_(d).args(["rm", &keep]));
    assert_eq!(ok(pp_(d).arg("undo")).trim(), "undid: Task deleted");
    ok(pp_(d).args(["rm", &keep]));
    let out = ok(pp_(d).args(["trash", "empty"]));
    assert!(out.contains("deleted 1 task(s) for good"), "{out}");
    fails_with(pp_(d).args(["show", &keep]), "task_not_found");
    // Emptying is an action like any other: undo brings it back, in the trash.
    ok(pp_(d).arg("undo"));
    assert_eq!(titles(d, &["--trash"]), ["Keep me"]);

    assert!(ok(pp_(d).args(["trash", "retention"])).contains("30 days"));
    ok(pp_(d).args(["trash", "retention", "7"]));
    let status = json(&ok(pp_(d).args(["vault", "status", "--json"])));
    assert_eq!(status["trash_retention_days"], 7);
    assert_eq!(status["trash"], 1);
    fails_with(
        pp_(d).args(["trash", "retention", "99999999"]),
        "invalid_input",
    );
}

#[test]
fn bulk_commands_and_combined_filters() {
    let tmp = vault();
    let d = tmp.path();
    add(d, "Report today #work @focus !1 today");
    add(d, "Report overdue #work @focus !2 2026-01-05");
    add(d, "Slides #work in 40 days");
    add(d, "Garden #home @focus !1 in 3 days");
    let inbox = add(d, "Inbox thing");
    assert_eq!(titles(d, &["--inbox"]), ["Inbox thing"]);
    assert_eq!(
        titles(
            d,
            &["--list", "work", "--tag", "focus", "--sort", "priority"]
        ),
        ["Report today", "Report overdue"]
    );
    assert_eq!(
        titles(d, &["--list", "work", "--tag", "focus", "--priority", "1"]),
        ["Report today"]
    );
    assert_eq!(
        titles(d, &["--due-before", "2026-01-31", "--text", "report"]),
        ["Report overdue"]
    );
    assert_eq!(
        titles(d, &["--due-after", "tomorrow", "--sort", "due"]),
        ["Garden", "Slides"]
    );
    assert_eq!(
        titles(d, &["--today", "--list", "work", "--sort", "due"]),
        ["Report overdue", "Report today"]
    );
    assert_eq!(
        titles(d, &["--upcoming", "7", "--tag", "focus"]),
        ["Garden"]
    );
    fails_with(pp_(d).args(["list", "--sort", "sideways"]), "invalid_input");
    fails_with(pp_(d).args(["list", "--priority", "9"]), "invalid_input");
    fails_with(pp_(d).args(["list", "--list", "nope"]), "list_not_found");
    fails_with(
        pp_(d).args(["list", "--due-before", "someday maybe"]),
        "invalid_quick_add",
    );

    ok(pp_(d).args(["lists", "add", "Later"]));
    ok(pp_(d).args(["move", "--list", "later", &inbox]));
    assert_eq!(titles(d, &["--list", "Later"]), ["Inbox thing"]);
    ok(pp_(d).args(["move", "--inbox", &inbox]));
    assert_eq!(titles(d, &["--inbox"]), ["Inbox thing"]);
    ok(pp_(d).args(["tag", &inbox, "--add", "focus", "--add", "@quick"]));
    assert_eq!(titles(d, &["--tag", "quick"]), ["Inbox thing"]);
    assert_eq!(ok(pp_(d).arg("undo")).trim(), "undid: Tags changed");
    assert!(titles(d, &["--tag", "quick"]).is_empty());
    fails_with(
        pp_(d).args(["tag", &inbox, "--add", "two words"]),
        "invalid_input",
    );
    fails_with(pp_(d).args(["priority", "7", &inbox]), "invalid_input");
    // One bad id refuses the whole command.
    fails_with(
        pp_(d).args(["priority", "1", &inbox, "ffffffff"]),
        "task_not_found",
    );
    assert_eq!(
        titles(d, &["--priority", "1", "--inbox"]),
        Vec::<String>::new()
    );
}

/// The desktop app and `pp` on one vault: the app (a `Vault` in this
/// process, session "app") sees `pp`'s writes by polling and refreshing,
/// and `pp undo` refuses to clobber what the app changed since.
#[test]
fn the_app_sees_pp_changes_and_pp_undo_respects_the_apps() {
    use productivitypro_core::vault::TaskPatch;
    use productivitypro_core::{Env, Unlock, Vault, View};

    let tmp = vault();
    let d = tmp.path();
    let mut app = Vault::open(
        d,
        &Unlock::passphrase(PASS),
        Env::system(chrono_tz::Europe::Berlin),
    )
    .unwrap();
    app.set_history_session("app").unwrap();
    assert!(!app.has_outside_changes().unwrap());

    let id = add(d, "Written by pp");
    assert!(app.has_outside_changes().unwrap());
    assert!(app.refresh().unwrap());
    let ch = app.take_changes();
    let id: productivitypro_core::TaskId = id.parse().unwrap();
    assert_eq!(ch.tasks.into_iter().collect::<Vec<_>>(), [id]);
    assert_eq!(app.view(&View::All)[0].title, "Written by pp");

    // The app edits the task pp just added; pp's undo of the add must not
    // delete the app's edit.
    app.update_task(
        id,
        TaskPatch {
            notes: Some("the app's notes".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let err = fails_with(pp_(d).arg("undo"), "undo_conflict");
    assert!(err.contains("Task added"), "{err}");
    let shown = json(&ok(pp_(d).args(["show", "--json", &id.to_string()])));
    assert_eq!(shown["notes"], "the app's notes");

    // pp trashes it; the app sees it go, and its own undo (of the edit)
    // now conflicts too.
    ok(pp_(d).args(["rm", &id.to_string()]));
    app.refresh().unwrap();
    assert!(app.view(&View::All).is_empty());
    assert_eq!(app.take_changes().tasks.len(), 1);
    assert_eq!(app.undo().unwrap_err().code(), "undo_conflict");
    // Once pp undoes its rm, the app's undo applies.
    ok(pp_(d).arg("undo"));
    app.refresh().unwrap();
    assert_eq!(app.undo().unwrap(), "Task edited");
    let shown = json(&ok(pp_(d).args(["show", "--json", &id.to_string()])));
    assert_eq!(shown["notes"], "");
}
