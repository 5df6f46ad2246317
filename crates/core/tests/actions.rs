//! What the desktop app needs from the vault: the trash, undo/redo, bulk
//! actions, queries, change tracking between processes and reminder
//! state — against real SQLite files in temporary folders.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use productivitypro_core::domain::{Due, Priority, Task, TaskId};
use productivitypro_core::reminders::{ReminderKind, ReminderSettings};
use productivitypro_core::vault::{
    ListPatch, QuickAddContext, TaskDraft, TaskPatch, HISTORY_LIMIT,
};
use productivitypro_core::{
    schema, CreateOptions, Env, Filter, FixedClock, KeyringChoice, Query, Sort, Unlock, Vault,
    VaultError, View,
};
use proptest::prelude::*;
use rand::SeedableRng;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

fn env_with(clock: Arc<FixedClock>, seed: u64) -> Env {
    Env {
        clock: Box::new(clock),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-test".into(),
    }
}

/// A vault that only the recovery key opens (fast: no Argon2), its key,
/// and the clock all its handles share.
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    key: String,
    clock: Arc<FixedClock>,
}

impl Fixture {
    fn new() -> (Fixture, Vault) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let clock = Arc::new(FixedClock::new(start()));
        let c = Vault::create(
            &dir,
            CreateOptions {
                keyring: KeyringChoice::Off,
                passphrase: None,
            },
            env_with(clock.clone(), 1),
        )
        .unwrap();
        let key = c.recovery_key.display_text().to_string();
        let f = Fixture {
            _tmp: tmp,
            dir,
            key,
            clock,
        };
        (f, c.vault)
    }

    fn open(&self, seed: u64) -> Vault {
        Vault::open(
            &self.dir,
            &Unlock::recovery_key(self.key.clone()),
            env_with(self.clock.clone(), seed),
        )
        .unwrap()
    }

    fn tick(&self, minutes: i64) {
        self.clock.advance(Duration::minutes(minutes));
    }
}

fn draft(title: &str) -> TaskDraft {
    TaskDraft {
        title: title.into(),
        ..Default::default()
    }
}

fn child(title: &str, parent: TaskId) -> TaskDraft {
    TaskDraft {
        parent: Some(parent),
        ..draft(title)
    }
}

fn titles(ts: &[&Task]) -> Vec<String> {
    ts.iter().map(|t| t.title.clone()).collect()
}

fn ids(ts: &[&Task]) -> Vec<TaskId> {
    ts.iter().map(|t| t.id).collect()
}

/// Every task and list, for comparing whole states.
fn state(v: &Vault) -> (Vec<Task>, Vec<productivitypro_core::List>) {
    let b = v.bundle();
    (b.tasks, b.lists)
}

#[test]
fn trash_and_restore_put_tasks_back_exactly() {
    let (f, mut v) = Fixture::new();
    let work = v.add_list("Work", None).unwrap();
    let a = v
        .add_task(TaskDraft {
            list: Some(work.id),
            ..draft("a")
        })
        .unwrap();
    let p = v
        .add_task(TaskDraft {
            list: Some(work.id),
            ..draft("parent")
        })
        .unwrap();
    let c1 = v
        .add_task(TaskDraft {
            list: Some(work.id),
            ..child("child 1", p.id)
        })
        .unwrap();
    let c2 = v
        .add_task(TaskDraft {
            list: Some(work.id),
            ..child("child 2", p.id)
        })
        .unwrap();
    let g = v.add_task(child("grandchild", c1.id)).unwrap();
    let before = state(&v);

    // child 2 goes first, on its own; then the parent with the rest.
    f.tick(1);
    assert_eq!(v.trash_tasks(&[c2.id]).unwrap(), vec![c2.id]);
    f.tick(1);
    let trashed = v.trash_tasks(&[p.id]).unwrap();
    assert_eq!(trashed.len(), 3, "parent, child 1, grandchild");
    assert_eq!(titles(&v.view(&View::List(work.id))), ["a"]);
    assert_eq!(
        titles(&v.trash()),
        ["parent", "child 1", "grandchild", "child 2"],
        "most recently trashed first"
    );

    // Restoring the parent brings back what went with it, not child 2.
    let restored = v.restore_tasks(&[p.id]).unwrap();
    assert_eq!(restored.len(), 3);
    assert_eq!(titles(&v.trash()), ["child 2"]);
    for t in [&p, &c1, &g] {
        let now = v.task(t.id).unwrap();
        assert_eq!(
            (now.list, now.parent, &now.order),
            (t.list, t.parent, &t.order)
        );
        assert!(!now.is_trashed());
    }
    v.restore_tasks(&[c2.id]).unwrap();
    let after = state(&v);
    // Same tasks, same places; only timestamps moved.
    let strip = |s: &(Vec<Task>, _)| {
        s.0.iter()
            .map(|t| (t.id, t.list, t.parent, t.order.clone(), t.title.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&before), strip(&after));
    assert_eq!(
        v.view(&View::List(work.id)).len(),
        5,
        "the grandchild is in its parent's list"
    );
    // Trashing and restoring live/absent ids is a no-op or an error.
    assert!(v.restore_tasks(&[a.id]).unwrap().is_empty());
    let unknown: TaskId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    assert_eq!(
        v.trash_tasks(&[a.id, unknown]).unwrap_err().code(),
        "task_not_found"
    );
    assert!(!v.task(a.id).unwrap().is_trashed(), "all or nothing");
}

#[test]
fn restore_goes_to_the_inbox_or_top_level_when_the_old_place_is_gone() {
    let (_f, mut v) = Fixture::new();
    let l = v.add_list("Errands", None).unwrap();
    let p = v
        .add_task(TaskDraft {
            list: Some(l.id),
            ..draft("parent")
        })
        .unwrap();
    let c = v
        .add_task(TaskDraft {
            list: Some(l.id),
            ..child("child", p.id)
        })
        .unwrap();
    // Deleting the list with its tasks trashes them, then the list goes.
    assert_eq!(v.delete_list(l.id, true).unwrap(), 2);
    assert!(v.list(l.id).is_none());
    assert_eq!(v.trash().len(), 2);
    // The child alone: its parent is still in the trash → top level.
    v.restore_tasks(&[c.id]).unwrap();
    let c_now = v.task(c.id).unwrap();
    assert_eq!((c_now.list, c_now.parent), (None, None));
    assert_eq!(ids(&v.view(&View::Inbox)), [c.id]);
    v.restore_tasks(&[p.id]).unwrap();
    assert_eq!(v.task(p.id).unwrap().list, None);
}

#[test]
fn only_emptying_the_trash_destroys_and_trashed_tasks_cannot_be_edited() {
    let (f, mut v) = Fixture::new();
    let a = v.add_task(draft("a")).unwrap();
    let b = v.add_task(draft("b")).unwrap();
    let keep = v.add_task(draft("keep")).unwrap();
    v.trash_tasks(&[a.id, b.id]).unwrap();
    assert_eq!(v.task_count(), 3, "trashed tasks are still stored");
    for err in [
        v.update_task(a.id, TaskPatch::default()).unwrap_err(),
        v.complete_task(a.id).unwrap_err(),
        v.complete_tasks(&[keep.id, a.id]).unwrap_err(),
        v.add_task(child("c", a.id)).unwrap_err(),
        v.snooze(a.id, 10).unwrap_err(),
    ] {
        assert_eq!(err.code(), "task_trashed", "{err}");
    }
    assert_eq!(
        v.empty_trash(Some(&[keep.id])).unwrap_err().code(),
        "task_not_trashed"
    );
    assert_eq!(v.empty_trash(Some(&[a.id])).unwrap(), vec![a.id]);
    assert!(v.task(a.id).is_none());
    drop(v);
    let mut v = f.open(2);
    assert!(v.task(a.id).is_none());
    assert!(
        v.task(b.id).unwrap().is_trashed(),
        "trash survives reopening"
    );
    assert_eq!(v.empty_trash(None).unwrap(), vec![b.id]);
    assert_eq!(v.task_count(), 1);
}

#[test]
fn expired_trash_is_emptied_after_the_retention_period_without_an_undo_entry() {
    let (f, mut v) = Fixture::new();
    assert_eq!(v.trash_retention_days().unwrap(), 30);
    let old = v.add_task(draft("old")).unwrap();
    let new = v.add_task(draft("new")).unwrap();
    v.set_history_session("app").unwrap();
    v.trash_tasks(&[old.id]).unwrap();
    f.clock.advance(Duration::days(20));
    v.trash_tasks(&[new.id]).unwrap();
    f.clock.advance(Duration::days(10));
    assert_eq!(v.empty_expired_trash().unwrap(), vec![old.id]);
    assert!(v.task(old.id).is_none());
    assert!(v.task(new.id).is_some());
    assert_eq!(
        v.history_state().unwrap().undo_label.as_deref(),
        Some("Task deleted"),
        "purging is not an action"
    );
    // Nothing more expired: no write at all.
    let seq = v.disk_change_seq().unwrap();
    assert!(v.empty_expired_trash().unwrap().is_empty());
    assert_eq!(v.disk_change_seq().unwrap(), seq);

    v.set_trash_retention_days(0).unwrap();
    f.clock.advance(Duration::days(400));
    assert!(
        v.empty_expired_trash().unwrap().is_empty(),
        "0 keeps forever"
    );
    v.set_trash_retention_days(7).unwrap();
    drop(v);
    let mut v = f.open(3);
    assert_eq!(v.trash_retention_days().unwrap(), 7, "stored in the vault");
    assert_eq!(v.empty_expired_trash().unwrap(), vec![new.id]);
    assert_eq!(
        v.set_trash_retention_days(1_000_000).unwrap_err().code(),
        "invalid_input"
    );
}

#[test]
fn views_never_show_trashed_tasks_except_the_trash_view() {
    let (_f, mut v) = Fixture::new();
    let l = v.add_list("L", None).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let t = v
        .add_task(TaskDraft {
            list: Some(l.id),
            due: Some(Due::date(today)),
            tags: ["x".to_string()].into(),
            ..draft("findme")
        })
        .unwrap();
    let done = v.add_task(draft("findme done")).unwrap();
    v.complete_task(done.id).unwrap();
    v.trash_tasks(&[t.id, done.id]).unwrap();
    for view in [
        View::All,
        View::Inbox,
        View::Today,
        View::Upcoming { days: 30 },
        View::List(l.id),
        View::Tag("x".into()),
        View::Done,
        View::Search("findme".into()),
    ] {
        assert!(v.view(&view).is_empty(), "{view:?}");
    }
    assert_eq!(v.trash().len(), 2);
    assert!(v.tags().is_empty());
    let c = v.sidebar_counts(7);
    assert_eq!((c.today, c.trash), (0, 2));
    assert_eq!(v.list_open_counts()[&l.id], 0);
    assert!(
        v.export_bundle().tasks.is_empty(),
        "exports leave the trash out"
    );
    assert_eq!(v.bundle().tasks.len(), 2, "backups keep it");
}

/// Schema v2 as the previous release wrote it: the same file minus the
/// tables v3 adds.
/// A v2 vault — the committed fixture, written by the code of that
/// version — upgrades through every later schema, and what the trash and
/// undo need works on it; a v2 reader refuses the upgraded file.
#[test]
fn a_v2_vault_upgrades_and_a_v3_vault_is_refused_by_a_v2_reader() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::copy(
        fixtures.join("schema2-vault.db"),
        tmp.path().join("vault.db"),
    )
    .unwrap();
    let key = std::fs::read_to_string(fixtures.join("schema2.recovery-key")).unwrap();
    let clock = Arc::new(FixedClock::new(start()));
    let mut v = Vault::open(
        tmp.path(),
        &Unlock::recovery_key(key.trim()),
        env_with(clock, 2),
    )
    .unwrap();
    assert_eq!(v.schema_version().unwrap(), schema::CURRENT_VERSION);
    const { assert!(schema::CURRENT_VERSION >= 3) };
    let t = v
        .bundle()
        .tasks
        .into_iter()
        .find(|t| t.parent.is_none())
        .unwrap();
    v.trash_tasks(&[t.id]).unwrap();
    v.undo().unwrap();
    assert!(!v.task(t.id).unwrap().is_trashed());
    // What a v2 app does on opening this file: refuse it.
    let found = v.schema_version().unwrap();
    let err = schema::check_readable(found, 2).unwrap_err();
    assert!(
        matches!(err, schema::SchemaError::TooNew { found, supported: 2 } if found >= 3),
        "{err}"
    );
    assert_eq!(VaultError::from(err).code(), "vault_too_new");
}

#[test]
fn every_action_undoes_and_redoes() {
    let (f, mut v) = Fixture::new();
    v.set_history_session("app").unwrap();
    assert_eq!(v.undo().unwrap_err().code(), "undo_empty");
    assert_eq!(v.redo().unwrap_err().code(), "redo_empty");
    let l = v.add_list("Home", None).unwrap();
    let a = v.add_task(draft("a")).unwrap();
    let b = v
        .add_task(TaskDraft {
            due: Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())),
            recurrence: Some(productivitypro_core::Recurrence::parse("FREQ=DAILY").unwrap()),
            ..draft("b")
        })
        .unwrap();
    let c = v.add_task(child("c", a.id)).unwrap();
    type Action = Box<dyn Fn(&mut Vault)>;
    let (ai, bi, ci, li) = (a.id, b.id, c.id, l.id);
    let actions: Vec<(&str, Action)> = vec![
        (
            "Task edited",
            Box::new(move |v| {
                v.update_task(
                    ai,
                    TaskPatch {
                        title: Some("a2".into()),
                        add_tags: vec!["t".into()],
                        ..Default::default()
                    },
                )
                .map(drop)
                .unwrap()
            }),
        ),
        (
            "Task moved",
            Box::new(move |v| {
                v.update_task(
                    bi,
                    TaskPatch {
                        move_before: Some(ai),
                        ..Default::default()
                    },
                )
                .map(drop)
                .unwrap()
            }),
        ),
        (
            "Task completed",
            Box::new(move |v| drop(v.complete_task(bi).unwrap())),
        ),
        (
            "2 tasks completed",
            Box::new(move |v| drop(v.complete_tasks(&[ai, ci]).unwrap())),
        ),
        (
            "2 tasks reopened",
            Box::new(move |v| drop(v.reopen_tasks(&[ai, ci]).unwrap())),
        ),
        (
            "Task deleted",
            Box::new(move |v| drop(v.trash_tasks(&[ai]).unwrap())),
        ),
        (
            "Task restored",
            Box::new(move |v| drop(v.restore_tasks(&[ai]).unwrap())),
        ),
        (
            "2 tasks moved",
            Box::new(move |v| drop(v.move_tasks(&[ai, bi], Some(li)).unwrap())),
        ),
        (
            "3 tasks retagged",
            Box::new(move |v| {
                drop(
                    v.tag_tasks(&[ai, bi, ci], &["x".into()], &["t".into()])
                        .unwrap(),
                )
            }),
        ),
        (
            "3 priorities changed",
            Box::new(move |v| {
                drop(
                    v.set_priority(&[ai, bi, ci], Priority::new(1).unwrap())
                        .unwrap(),
                )
            }),
        ),
        (
            "List edited",
            Box::new(move |v| {
                drop(
                    v.update_list(
                        li,
                        ListPatch {
                            name: Some("House".into()),
                            ..Default::default()
                        },
                    )
                    .unwrap(),
                )
            }),
        ),
        (
            "Task deleted",
            Box::new(move |v| drop(v.trash_tasks(&[bi]).unwrap())),
        ),
        (
            "Trash emptied",
            Box::new(move |v| drop(v.empty_trash(None).unwrap())),
        ),
        (
            "List deleted",
            Box::new(move |v| {
                v.delete_list(li, true).unwrap();
            }),
        ),
        (
            "List added",
            Box::new(|v| drop(v.add_list("Later", None).unwrap())),
        ),
        (
            "2 tasks imported",
            Box::new(|v| {
                let json = br#"{"format":"productivitypro","version":1,
                    "lists":[{"id":"000000000000000000000000000000aa","name":"Imported","order":"V","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
                    "tasks":[{"id":"00000000000000000000000000000001","title":"one","list":"000000000000000000000000000000aa","order":"V","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"},
                             {"id":"00000000000000000000000000000002","title":"two","parent":"00000000000000000000000000000001","order":"W","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}]}"#;
                let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
                let mut ctx = productivitypro_core::interchange::ImportContext {
                    now: start(),
                    rng: &mut rng,
                    local_tz: chrono_tz::Europe::Berlin,
                };
                let b = productivitypro_core::interchange::import(
                    productivitypro_core::interchange::Format::Json,
                    json,
                    &mut ctx,
                )
                .unwrap();
                v.import(b, false).unwrap();
            }),
        ),
        (
            "Task added",
            Box::new(|v| {
                drop(
                    v.quick_add("Call mum tomorrow 6pm @family", QuickAddContext::default())
                        .unwrap(),
                )
            }),
        ),
    ];
    for (label, act) in &actions {
        let before = state(&v);
        f.tick(1);
        act(&mut v);
        let after = state(&v);
        assert_ne!(before, after, "{label} changed something");
        assert_eq!(
            v.history_state().unwrap().undo_label.as_deref(),
            Some(*label)
        );
        f.tick(1);
        assert_eq!(v.undo().unwrap(), *label);
        assert_eq!(state(&v), before, "undo of {label}");
        assert_eq!(
            v.history_state().unwrap().redo_label.as_deref(),
            Some(*label)
        );
        f.tick(1);
        assert_eq!(v.redo().unwrap(), *label);
        assert_eq!(state(&v), after, "redo of {label}");
    }
    // The stack is persisted: a new process in the same session undoes
    // every action back to the start.
    drop(v);
    let mut v = f.open(9);
    v.set_history_session("app").unwrap();
    let mut undone = 0;
    while v.undo().is_ok() {
        undone += 1;
    }
    assert_eq!(
        undone,
        actions.len() + 4,
        "every action and the 4 setup adds"
    );
    assert_eq!(v.task_count(), 0);
    assert!(v.lists().is_empty());
    // Another session has its own (empty) stacks.
    v.set_history_session("cli").unwrap();
    assert_eq!(v.undo().unwrap_err().code(), "undo_empty");
}

#[test]
fn a_new_action_clears_redo_and_history_is_bounded() {
    let (_f, mut v) = Fixture::new();
    v.set_history_session("cli").unwrap();
    let a = v.add_task(draft("a")).unwrap();
    v.complete_task(a.id).unwrap();
    v.undo().unwrap();
    assert!(v.history_state().unwrap().can_redo);
    v.add_task(draft("b")).unwrap();
    let h = v.history_state().unwrap();
    assert!(!h.can_redo && h.redo_label.is_none());
    assert_eq!(v.redo().unwrap_err().code(), "redo_empty");
    for i in 0..HISTORY_LIMIT + 20 {
        v.add_task(draft(&format!("t{i}"))).unwrap();
    }
    let mut n = 0;
    while v.undo().is_ok() {
        n += 1;
    }
    assert_eq!(n, HISTORY_LIMIT);
    assert_eq!(v.task_count() as i64, 2 + 20, "the oldest adds stay");
}

#[test]
fn undo_refuses_when_the_records_changed_since() {
    let (f, mut app) = Fixture::new();
    app.set_history_session("app").unwrap();
    let t = app.add_task(draft("shared")).unwrap();
    let mut cli = f.open(2);
    cli.set_history_session("cli").unwrap();
    f.tick(1);
    app.update_task(
        t.id,
        TaskPatch {
            title: Some("app's title".into()),
            ..Default::default()
        },
    )
    .unwrap();
    cli.refresh().unwrap();
    f.tick(1);
    cli.update_task(
        t.id,
        TaskPatch {
            notes: Some("cli's notes".into()),
            ..Default::default()
        },
    )
    .unwrap();
    // The app has not seen the cli's write: its memory is behind, and the
    // undo must still not clobber it.
    let err = app.undo().unwrap_err();
    assert_eq!(err.code(), "undo_conflict", "{err}");
    assert!(err.to_string().contains("Task edited"), "{err}");
    app.refresh().unwrap();
    assert_eq!(app.undo().unwrap_err().code(), "undo_conflict");
    let fresh = f.open(3);
    assert_eq!(fresh.task(t.id).unwrap().notes, "cli's notes");
    assert_eq!(fresh.task(t.id).unwrap().title, "app's title");
    // The cli's own action undoes fine, and then so does the app's.
    cli.undo().unwrap();
    app.refresh().unwrap();
    assert_eq!(app.undo().unwrap(), "Task edited");
    assert_eq!(app.task(t.id).unwrap().title, "shared");

    // Undoing an "empty trash" whose task another process recreated is a
    // conflict too, not a storage error.
    let mut v = f.open(4);
    v.set_history_session("cli").unwrap();
    let x = v.add_task(draft("x")).unwrap();
    v.trash_tasks(&[x.id]).unwrap();
    v.empty_trash(None).unwrap();
    let mut other = f.open(5);
    other
        .import(
            productivitypro_core::interchange::Bundle {
                lists: vec![],
                tasks: vec![x.clone()],
            },
            false,
        )
        .unwrap();
    let err = v.undo().unwrap_err();
    assert_eq!(err.code(), "undo_conflict", "{err}");
    assert!(err.to_string().contains("Trash emptied"), "{err}");
}

#[test]
fn bulk_actions_are_one_action_and_all_or_nothing() {
    let (_f, mut v) = Fixture::new();
    v.set_history_session("app").unwrap();
    let l = v.add_list("L", None).unwrap();
    let ts: Vec<TaskId> = (0..5)
        .map(|i| v.add_task(draft(&format!("t{i}"))).unwrap().id)
        .collect();
    let seq = v.disk_change_seq().unwrap();
    v.complete_tasks(&ts).unwrap();
    assert_eq!(v.disk_change_seq().unwrap(), seq + 1, "one transaction");
    assert_eq!(
        v.history_state().unwrap().undo_label.unwrap(),
        "5 tasks completed"
    );
    v.undo().unwrap();
    assert_eq!(v.view(&View::All).len(), 5);
    let unknown: TaskId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let mut with_bad = ts.clone();
    with_bad.push(unknown);
    assert_eq!(
        v.move_tasks(&with_bad, Some(l.id)).unwrap_err().code(),
        "task_not_found"
    );
    assert_eq!(
        v.move_tasks(&ts, Some(unknown)).unwrap_err().code(),
        "list_not_found"
    );
    assert_eq!(
        v.tag_tasks(&ts, &["two words".into()], &[])
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    assert_eq!(
        v.disk_change_seq().unwrap(),
        seq + 2,
        "nothing written by refusals"
    );
    v.move_tasks(&ts, Some(l.id)).unwrap();
    assert_eq!(v.view(&View::List(l.id)).len(), 5);
    v.tag_tasks(&ts[..2], &["@Home".into()], &[]).unwrap();
    v.set_priority(&ts[1..], Priority::new(2).unwrap()).unwrap();
    assert_eq!(v.tags()[0].name, "Home");
    assert_eq!(v.tags()[0].open_count, 2);
    // Unchanged tasks are not written; nothing changed, no entry.
    let label = v.history_state().unwrap().undo_label;
    assert!(v
        .set_priority(&ts[1..], Priority::new(2).unwrap())
        .unwrap()
        .is_empty());
    assert_eq!(v.history_state().unwrap().undo_label, label);
}

#[test]
fn queries_combine_filters_and_sort() {
    let (f, mut v) = Fixture::new();
    let work = v.add_list("Work", None).unwrap();
    let home = v.add_list("Home", None).unwrap();
    let day = |d: u32| Due::date(NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
    let mut add = |title: &str, list, tags: &[&str], p: u8, due: Option<Due>| {
        f.tick(1);
        v.add_task(TaskDraft {
            list,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            priority: Priority::new(p).unwrap(),
            due,
            ..draft(title)
        })
        .unwrap()
        .id
    };
    let overdue = add(
        "report overdue",
        Some(work.id),
        &["focus"],
        2,
        Some(day(20)),
    );
    let today = add("report today", Some(work.id), &["focus"], 1, Some(day(23)));
    let soon = add("slides soon", Some(work.id), &[], 0, Some(day(26)));
    let later = add("garden later", Some(home.id), &["focus"], 1, Some(day(30)));
    let inbox = add("inbox thing", None, &[], 3, None);
    let q = |view, filter, sort| Query { view, filter, sort };

    let r = v.query(&q(View::Today, Filter::default(), None));
    assert_eq!(ids(&r.tasks), [overdue, today]);
    assert_eq!(
        (r.summary.overdue, r.summary.today, r.summary.total),
        (1, 1, 2)
    );
    assert_eq!(ids(&v.view(&View::Upcoming { days: 3 })), [soon]);
    assert_eq!(ids(&v.view(&View::Inbox)), [inbox]);

    // Each part narrows on its own …
    let d = |n| NaiveDate::from_ymd_opt(2026, 11, n);
    let all = |filter: Filter| ids(&v.query(&q(View::All, filter, None)).tasks);
    let p1 = Some(Priority::new(1).unwrap());
    assert_eq!(
        all(Filter {
            list: Some(home.id),
            ..Default::default()
        }),
        [later]
    );
    assert_eq!(
        all(Filter {
            tag: Some("@FOCUS".into()),
            ..Default::default()
        }),
        [overdue, today, later]
    );
    assert_eq!(
        all(Filter {
            priority: p1,
            ..Default::default()
        }),
        [today, later]
    );
    assert_eq!(
        all(Filter {
            due_before: d(22),
            ..Default::default()
        }),
        [overdue]
    );
    assert_eq!(
        all(Filter {
            due_after: d(24),
            ..Default::default()
        }),
        [soon, later]
    );
    assert_eq!(
        all(Filter {
            due_after: d(23),
            due_before: d(26),
            ..Default::default()
        }),
        [today, soon]
    );
    assert_eq!(
        all(Filter {
            text: Some("REPORT".into()),
            ..Default::default()
        }),
        [overdue, today]
    );
    // … and together they all have to match.
    let work_focus = Filter {
        list: Some(work.id),
        tag: Some("focus".into()),
        ..Default::default()
    };
    assert_eq!(all(work_focus.clone()), [overdue, today]);
    assert_eq!(
        all(Filter {
            priority: p1,
            ..work_focus.clone()
        }),
        [today]
    );
    assert_eq!(
        all(Filter {
            due_before: d(22),
            ..work_focus.clone()
        }),
        [overdue]
    );
    assert!(all(Filter {
        text: Some("garden".into()),
        ..work_focus.clone()
    })
    .is_empty());
    let r = v.query(&q(
        View::Today,
        Filter {
            tag: Some("focus".into()),
            ..Default::default()
        },
        None,
    ));
    assert_eq!(r.summary.total, 2, "filters combine with the view");
    let focus = Filter {
        tag: Some("focus".into()),
        ..Default::default()
    };
    assert_eq!(
        ids(&v
            .query(&q(View::All, focus.clone(), Some(Sort::Priority)))
            .tasks),
        [today, later, overdue],
        "priority, then due"
    );
    assert_eq!(
        ids(&v
            .query(&q(View::All, focus.clone(), Some(Sort::Created)))
            .tasks),
        [later, today, overdue],
        "newest first"
    );
    assert_eq!(
        ids(&v
            .query(&q(View::All, Filter::default(), Some(Sort::Due)))
            .tasks),
        [overdue, today, soon, later, inbox],
        "undated last"
    );
    assert_eq!(
        ids(&v
            .query(&q(
                View::Tag("focus".into()),
                Filter {
                    list: Some(home.id),
                    ..Default::default()
                },
                None
            ))
            .tasks),
        [later]
    );
    assert_eq!(
        ids(&v
            .query(&q(
                View::Search("report".into()),
                Filter {
                    priority: Some(Priority::new(2).unwrap()),
                    ..Default::default()
                },
                None
            ))
            .tasks),
        [overdue]
    );
    assert!(v
        .query(&q(View::Search("  ".into()), Filter::default(), None))
        .tasks
        .is_empty());
    assert_eq!("due".parse::<Sort>().unwrap(), Sort::Due);
    assert_eq!(
        "sideways".parse::<Sort>().unwrap_err().code(),
        "invalid_input"
    );

    let c = v.sidebar_counts(7);
    assert_eq!(
        (c.inbox, c.overdue, c.today, c.upcoming, c.trash),
        (1, 1, 1, 2, 0)
    );
    let counts = v.list_open_counts();
    assert_eq!((counts[&work.id], counts[&home.id]), (3, 1));
    v.complete_task(today).unwrap();
    assert_eq!(ids(&v.view(&View::Done)), [today]);
    let tags = v.tags();
    assert_eq!(tags.len(), 1);
    assert_eq!((tags[0].name.as_str(), tags[0].open_count), ("focus", 2));
}

#[test]
fn another_process_changes_arrive_by_refresh_and_only_changed_records_reload() {
    let (f, mut a) = Fixture::new();
    let mut b = f.open(2);
    assert!(!b.has_outside_changes().unwrap());
    let l = a.add_list("Shared", None).unwrap();
    let t1 = a
        .add_task(TaskDraft {
            list: Some(l.id),
            ..draft("one")
        })
        .unwrap();
    let t2 = a.add_task(draft("two")).unwrap();
    a.take_changes();
    assert!(b.has_outside_changes().unwrap());
    assert!(b.refresh().unwrap());
    let ch = b.take_changes();
    assert_eq!(ch.tasks, [t1.id, t2.id].into());
    assert_eq!(ch.lists, [l.id].into());
    assert!(!b.has_outside_changes().unwrap());
    assert!(!b.refresh().unwrap(), "nothing new");

    // Rename the list (search covers list names), edit, trash and destroy.
    a.update_list(
        l.id,
        ListPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        },
    )
    .unwrap();
    a.update_task(
        t2.id,
        TaskPatch {
            title: Some("two!".into()),
            ..Default::default()
        },
    )
    .unwrap();
    a.trash_tasks(&[t2.id]).unwrap();
    a.empty_trash(None).unwrap();
    let from_a = a.take_changes();
    b.refresh().unwrap();
    let ch = b.take_changes();
    assert_eq!(ch.removed_tasks, [t2.id].into());
    assert!(ch.tasks.is_empty(), "{ch:?}");
    assert_eq!(ch.lists, [l.id].into());
    assert_eq!(ch.removed_tasks, from_a.removed_tasks);
    assert_eq!(ids(&b.search("renamed")), [t1.id]);
    assert_eq!(state(&b), state(&f.open(3)), "b is what a fresh open sees");

    // A write from memory that is behind still fails with `stale`.
    a.update_task(
        t1.id,
        TaskPatch {
            notes: Some("a".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let err = b
        .update_task(
            t1.id,
            TaskPatch {
                notes: Some("b".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "stale");
    b.refresh().unwrap();
    b.update_task(
        t1.id,
        TaskPatch {
            notes: Some("b".into()),
            ..Default::default()
        },
    )
    .unwrap();
    a.refresh().unwrap();
    assert_eq!(a.task(t1.id).unwrap().notes, "b");
    // b's own write is not reported back to b as an outside change.
    b.take_changes();
    assert!(!b.refresh().unwrap());
}

#[test]
fn actions_report_exactly_what_they_changed() {
    let (_f, mut v) = Fixture::new();
    let r = v
        .add_task(TaskDraft {
            due: Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())),
            recurrence: Some(productivitypro_core::Recurrence::parse("FREQ=WEEKLY").unwrap()),
            tags: ["w".into()].into(),
            ..draft("weekly")
        })
        .unwrap();
    let other = v.add_task(draft("other")).unwrap();
    let ch = v.take_changes();
    assert_eq!(ch.tasks, [r.id, other.id].into());
    assert!(ch.tags && ch.history);
    let c = v.complete_task(r.id).unwrap();
    let next = c.next.unwrap().id;
    let ch = v.take_changes();
    assert_eq!(ch.tasks, [r.id, next].into());
    assert!(ch.removed_tasks.is_empty() && ch.lists.is_empty());
    assert!(v.take_changes().is_empty(), "taken");
    v.undo().unwrap();
    let ch = v.take_changes();
    assert_eq!(ch.tasks, [r.id].into());
    assert_eq!(ch.removed_tasks, [next].into());
    v.update_task(
        other.id,
        TaskPatch {
            title: Some("x".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(!v.take_changes().tags, "no tags before or after");
}

#[test]
fn reminders_are_shown_once_and_snoozes_persist() {
    let (f, mut v) = Fixture::new();
    let at = |h, m| Due {
        date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        time: NaiveTime::from_hms_opt(h, m, 0),
        tz: None,
    };
    // 10:30 and 11:00 Berlin = 09:30Z and 10:00Z; now is 09:00Z.
    let a = v
        .add_task(TaskDraft {
            due: Some(at(10, 30)),
            ..draft("a")
        })
        .unwrap();
    let b = v
        .add_task(TaskDraft {
            due: Some(at(11, 0)),
            ..draft("b")
        })
        .unwrap();
    let s = ReminderSettings {
        lead: Some(Duration::minutes(10)),
        ..Default::default()
    };
    let c = v.check_reminders(&s).unwrap();
    assert!(c.due_now.is_empty() && c.missed.is_empty());
    assert_eq!(c.next_wake, Some(start() + Duration::minutes(20)));
    f.tick(20);
    let c = v.check_reminders(&s).unwrap();
    assert_eq!(c.due_now.len(), 1);
    assert_eq!(
        (c.due_now[0].task, c.due_now[0].kind),
        (a.id, ReminderKind::Lead)
    );
    assert!(
        v.check_reminders(&s).unwrap().due_now.is_empty(),
        "shown once"
    );
    let until = v.snooze(a.id, 10).unwrap();
    assert_eq!(until, start() + Duration::minutes(30));
    assert_eq!(v.snooze(a.id, 0).unwrap_err().code(), "invalid_input");
    drop(v);
    // The app closes; it is started again at 10:40Z.
    f.tick(60);
    let mut v = f.open(2);
    assert_eq!(v.reminder_state().unwrap().snoozes.get(&a.id), Some(&until));
    let c = v.check_reminders(&s).unwrap();
    assert!(c.due_now.is_empty());
    let missed: BTreeMap<TaskId, ReminderKind> =
        c.missed.iter().map(|r| (r.task, r.kind)).collect();
    assert_eq!(
        missed,
        [(a.id, ReminderKind::Due), (b.id, ReminderKind::Due)].into()
    );
    assert!(v.reminder_state().unwrap().snoozes.is_empty(), "ran out");
    assert!(
        v.check_reminders(&s).unwrap().missed.is_empty(),
        "missed ones show once"
    );
}

#[test]
fn backups_keep_the_trash_and_old_format_backups_still_restore() {
    let (f, mut v) = Fixture::new();
    let live = v.add_task(draft("live")).unwrap();
    let gone = v.add_task(draft("in the trash")).unwrap();
    v.trash_tasks(&[gone.id]).unwrap();
    let file = f.dir.join("b.ppbackup");
    v.write_backup(&file).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes[8], 2, "format 2: a format-1 reader refuses it");
    let restore = |file: &Path, to: &str| {
        Vault::restore(
            file,
            &f.dir.join(to),
            &Unlock::recovery_key(f.key.clone()),
            productivitypro_core::vault::RestoreOptions {
                keyring: false,
                replace: false,
            },
            env_with(f.clock.clone(), 5),
        )
        .unwrap()
    };
    let r = restore(&file, "restored");
    assert!(r.task(gone.id).unwrap().is_trashed());
    assert_eq!(ids(&r.view(&View::All)), [live.id]);
    // A backup written before the trash existed (format 1, no trashed tasks).
    let mut v1 = bytes.clone();
    v1[8] = 1;
    let old = f.dir.join("old.ppbackup");
    std::fs::write(&old, v1).unwrap();
    assert_eq!(restore(&old, "from-v1").task_count(), 2);
    let mut v9 = bytes;
    v9[8] = 9;
    std::fs::write(&old, v9).unwrap();
    let err = Vault::restore(
        &old,
        &f.dir.join("from-v9"),
        &Unlock::recovery_key(f.key.clone()),
        productivitypro_core::vault::RestoreOptions {
            keyring: false,
            replace: false,
        },
        env_with(f.clock.clone(), 6),
    )
    .err()
    .unwrap();
    assert_eq!(err.code(), "bad_backup");
}

#[test]
fn after_a_key_rotation_history_and_reminder_state_start_fresh() {
    let (_f, mut v) = Fixture::new();
    v.set_history_session("app").unwrap();
    let t = v
        .add_task(TaskDraft {
            due: Some(Due::date(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())),
            ..draft("t")
        })
        .unwrap();
    v.snooze(t.id, 30).unwrap();
    v.rotate_key(None).unwrap();
    // Sealed under a key no slot holds any more: dropped, not an error.
    assert_eq!(v.history_state().unwrap(), Default::default());
    assert_eq!(v.undo().unwrap_err().code(), "undo_empty");
    assert!(v.reminder_state().unwrap().snoozes.is_empty());
    v.snooze(t.id, 30).unwrap();
    assert_eq!(v.reminder_state().unwrap().snoozes.len(), 1);
    v.complete_task(t.id).unwrap();
    assert_eq!(v.undo().unwrap(), "Task completed");
}

/// `pp import --format json --list NAME` with an existing list NAME put
/// that list into the bundle a second time, which a lossless import
/// refused as an id conflict.
#[test]
fn importing_json_into_an_existing_list_is_not_an_id_conflict() {
    let (_f, mut v) = Fixture::new();
    let home = v.add_list("Home", None).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let mut ctx = productivitypro_core::interchange::ImportContext {
        now: start(),
        rng: &mut rng,
        local_tz: chrono_tz::Europe::Berlin,
    };
    let json = br#"{"format":"productivitypro","version":1,"lists":[],"tasks":[
        {"id":"00000000000000000000000000000001","title":"from a file","order":"V","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}]}"#;
    let bundle = productivitypro_core::interchange::import(
        productivitypro_core::interchange::Format::Json,
        json,
        &mut ctx,
    )
    .unwrap();
    let r = v.import_into_list(bundle.clone(), false, "home").unwrap();
    assert_eq!((r.tasks, r.lists_created, r.lists_reused), (1, 0, 1));
    assert_eq!(titles(&v.view(&View::List(home.id))), ["from a file"]);
    // Into a new list: created in the same transaction.
    v.undo().unwrap();
    let r = v.import_into_list(bundle, false, "Imported").unwrap();
    assert_eq!((r.tasks, r.lists_created), (1, 1));
    let l = v.list_by_name("imported").unwrap().id;
    assert_eq!(v.view(&View::List(l)).len(), 1);
}

fn prop_fixture() -> (Fixture, Vault) {
    Fixture::new()
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Edit(usize),
    Complete(Vec<usize>),
    Reopen(Vec<usize>),
    Trash(Vec<usize>),
    Restore(Vec<usize>),
    Empty,
    Move(Vec<usize>, bool),
    Tag(Vec<usize>),
    Priority(Vec<usize>, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let some = || proptest::collection::vec(0usize..16, 1..4);
    prop_oneof![
        3 => any::<u8>().prop_map(Op::Add),
        2 => (0usize..16).prop_map(Op::Edit),
        1 => some().prop_map(Op::Complete),
        1 => some().prop_map(Op::Reopen),
        2 => some().prop_map(Op::Trash),
        1 => some().prop_map(Op::Restore),
        1 => Just(Op::Empty),
        1 => (some(), any::<bool>()).prop_map(|(v, b)| Op::Move(v, b)),
        1 => some().prop_map(Op::Tag),
        1 => (some(), 0u8..5).prop_map(|(v, p)| Op::Priority(v, p)),
    ]
}

/// Applies `op`; ops on tasks that are not there (or trashed) are refused
/// with an error, which must leave no trace.
fn apply(v: &mut Vault, op: &Op, list: productivitypro_core::ListId) -> Result<(), VaultError> {
    let all: Vec<TaskId> = {
        let mut a: Vec<TaskId> = v.tasks().map(|t| t.id).collect();
        a.sort();
        a
    };
    let pick = |is: &[usize]| -> Vec<TaskId> {
        is.iter()
            .filter_map(|i| all.get(i % all.len().max(1)).copied())
            .collect()
    };
    match op {
        Op::Add(n) => {
            let parent = (n % 3 == 0).then(|| all.first().copied()).flatten();
            v.add_task(TaskDraft {
                parent,
                ..draft(&format!("t{n}"))
            })
            .map(drop)
        }
        Op::Edit(i) => match pick(&[*i]).first() {
            Some(id) => v
                .update_task(
                    *id,
                    TaskPatch {
                        title: Some(format!("e{i}")),
                        ..Default::default()
                    },
                )
                .map(drop),
            None => Ok(()),
        },
        Op::Complete(is) => v.complete_tasks(&pick(is)).map(drop),
        Op::Reopen(is) => v.reopen_tasks(&pick(is)).map(drop),
        Op::Trash(is) => v.trash_tasks(&pick(is)).map(drop),
        Op::Restore(is) => v.restore_tasks(&pick(is)).map(drop),
        Op::Empty => v.empty_trash(None).map(drop),
        Op::Move(is, to_list) => v.move_tasks(&pick(is), to_list.then_some(list)).map(drop),
        Op::Tag(is) => v
            .tag_tasks(&pick(is), &["p".into()], &["q".into()])
            .map(drop),
        Op::Priority(is, p) => v
            .set_priority(&pick(is), Priority::new(*p).unwrap())
            .map(drop),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any sequence of actions, undone completely, gives back the state
    /// it started from; redone completely, the state it ended in — and
    /// the file agrees with memory at every step.
    #[test]
    fn undo_all_then_redo_all_round_trips(ops in proptest::collection::vec(op(), 1..25)) {
        let (f, mut v) = prop_fixture();
        v.set_history_session("app").unwrap();
        let list = v.add_list("L", None).unwrap().id;
        let initial = state(&v);
        let mut recorded = 0;
        for o in &ops {
            let before = state(&v);
            let label = v.history_state().unwrap().undo_label;
            f.tick(1);
            match apply(&mut v, o, list) {
                Ok(()) => {
                    if state(&v) != before { recorded += 1; }
                }
                Err(e) => {
                    prop_assert!(matches!(e.code(), "task_trashed" | "task_not_found"), "{o:?}: {e}");
                    prop_assert_eq!(&state(&v), &before);
                    prop_assert_eq!(v.history_state().unwrap().undo_label, label);
                }
            }
        }
        let end = state(&v);
        prop_assert_eq!(&state(&f.open(7)), &end);
        for _ in 0..recorded { f.tick(1); v.undo().unwrap(); }
        // The list add is the oldest action.
        prop_assert_eq!(&state(&v), &initial);
        for _ in 0..recorded { f.tick(1); v.redo().unwrap(); }
        prop_assert_eq!(&state(&v), &end);
        prop_assert_eq!(&state(&f.open(8)), &end);
    }
}
