//! The engine inside the vault, without a server: what local actions
//! record, that it is sealed and committed with them, and that merging
//! the same operations in any order gives every vault the same tasks.
//! (Push and pull against the real `sync-server`: `tests/sync_server.rs`.)

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{TimeZone, Utc};
use productivitypro_sync_protocol::keys::SyncKey;
use productivitypro_sync_protocol::op::WireOp;
use productivitypro_sync_protocol::{
    AccountId, Action, DeviceId, Op, RecordId, RecordRef, Replica,
};
use rand::SeedableRng;
use serde_json::Value;
use zeroize::Zeroizing;

use super::store::{self, OutboxKind};
use super::{NewLink, SyncError};
use crate::domain::{Id, Task};
use crate::env::{Env, FixedClock};
use crate::error::VaultError;
use crate::vault::{CreateOptions, KeyringChoice, TaskDraft, TaskPatch, Vault};

const ACCOUNT: AccountId = AccountId([0xa0; 16]);

fn env(seed: u64) -> Env {
    Env {
        clock: Box::new(FixedClock::new(
            Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
        )),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        local_tz: chrono_tz::Europe::Berlin,
        keyring_service: "ProductivityPro-test".into(),
    }
}

fn create(dir: &Path, seed: u64) -> Vault {
    Vault::create(
        dir,
        CreateOptions {
            keyring: KeyringChoice::Off,
            passphrase: None,
        },
        env(seed),
    )
    .unwrap()
    .vault
}

fn link(device: u8) -> NewLink {
    NewLink {
        server: "http://127.0.0.1:9".into(),
        email: "alice@example.com".into(),
        account: ACCOUNT,
        device: DeviceId([device; 16]),
        key: SyncKey::from_bytes([0x40; 32]),
        token: Zeroizing::new("pps_test".into()),
    }
}

fn syncing(dir: &Path, seed: u64, device: u8) -> Vault {
    let mut v = create(dir, seed);
    v.sync_enable(link(device)).unwrap();
    v
}

fn draft(title: &str) -> TaskDraft {
    TaskDraft {
        title: title.into(),
        ..Default::default()
    }
}

/// The operations waiting in the outbox, oldest first.
fn pending(v: &Vault) -> Vec<Op> {
    let device = v.sync_link().unwrap().value.device;
    let tx = v.conn.unchecked_transaction().unwrap();
    let mut ledger = v.ledger_reader(&tx).unwrap();
    let rows = store::read_outbox(&tx, &mut ledger, &v.key, v.key_id, OutboxKind::Ops).unwrap();
    rows.iter()
        .flat_map(|r| serde_json::from_slice::<Vec<WireOp>>(&r.plain).unwrap())
        .map(|w| Op::from_wire(w, device).unwrap())
        .collect()
}

fn actions_on(ops: &[Op], id: Id) -> Vec<Action> {
    ops.iter()
        .filter(|o| o.record.id.0 == *id.as_bytes())
        .map(|o| o.action.clone())
        .collect()
}

fn set(field: &str, value: Value) -> Action {
    Action::Set {
        field: field.into(),
        value,
    }
}

/// Delivers operations as a verified page would (the chain state is
/// left as it is: verification has its own tests in the protocol crate
/// and against the server).
fn deliver(v: &mut Vault, ops: &[Op]) {
    let link = v.sync_link().unwrap();
    v.sync_merge(super::merge::Incoming::Ops(ops), link.value.chain, link.seq)
        .unwrap();
}

/// What users see, comparable across devices (`updated_at` is the
/// local wall clock for local edits, the clocks for merged ones).
fn shown(v: &Vault) -> (Vec<Task>, Vec<(Id, String, String)>) {
    let mut tasks: Vec<Task> = v
        .tasks()
        .map(|t| Task {
            updated_at: chrono::DateTime::<Utc>::UNIX_EPOCH,
            ..t.clone()
        })
        .collect();
    tasks.sort_by_key(|t| t.id);
    let mut lists: Vec<(Id, String, String)> = v
        .lists()
        .into_iter()
        .map(|l| (l.id, l.name.clone(), l.order.to_string()))
        .collect();
    lists.sort();
    (tasks, lists)
}

fn op_rows(v: &Vault) -> usize {
    v.sync_info().unwrap().unwrap().pending_op_rows
}

#[test]
fn a_vault_that_does_not_sync_records_nothing() {
    let d = tempfile::tempdir().unwrap();
    let mut v = create(d.path(), 1);
    v.add_task(draft("Buy milk")).unwrap();
    assert!(!v.sync_enabled().unwrap());
    assert_eq!(store::outbox_counts(&v.conn).unwrap(), (0, 0));
}

#[test]
fn every_kind_of_action_records_its_operations_in_its_own_commit() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    let t = v
        .add_task(TaskDraft {
            title: "Pay rent".into(),
            tags: ["bills".to_string()].into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(op_rows(&v), 1);
    let create = actions_on(&pending(&v), t.id);
    assert!(create.contains(&set("title", Value::from("Pay rent"))));
    assert!(create.contains(&Action::Tag {
        tag: "bills".into(),
        on: true
    }));
    // Only defaults are left out of a create.
    assert!(!create
        .iter()
        .any(|a| matches!(a, Action::Set { field, .. } if field == "notes")));

    v.update_task(
        t.id,
        TaskPatch {
            title: Some("Pay rent today".into()),
            add_tags: vec!["home".into()],
            remove_tags: vec!["bills".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let all = pending(&v);
    let edit = &actions_on(&all, t.id)[create.len()..];
    assert_eq!(
        edit,
        &[
            set("title", Value::from("Pay rent today")),
            Action::Tag {
                tag: "bills".into(),
                on: false
            },
            Action::Tag {
                tag: "home".into(),
                on: true
            },
        ]
    );

    // Trash, undo (a set back), redo, purge (a delete), bulk, import.
    let before = pending(&v).len();
    v.trash_tasks(&[t.id]).unwrap();
    let trashed = &actions_on(&pending(&v), t.id)[..];
    assert!(
        matches!(trashed.last(), Some(Action::Set { field, value }) if field == "trashed_at" && !value.is_null())
    );
    v.undo().unwrap();
    assert!(
        matches!(actions_on(&pending(&v), t.id).last(), Some(Action::Set { field, value }) if field == "trashed_at" && value.is_null())
    );
    v.redo().unwrap();
    v.empty_trash(None).unwrap();
    assert_eq!(actions_on(&pending(&v), t.id).last(), Some(&Action::Delete));
    let a = v.add_task(draft("a")).unwrap();
    let b = v.add_task(draft("b")).unwrap();
    v.tag_tasks(&[a.id, b.id], &["x".into()], &[]).unwrap();
    let bulk = pending(&v);
    for id in [a.id, b.id] {
        assert_eq!(
            actions_on(&bulk, id).last(),
            Some(&Action::Tag {
                tag: "x".into(),
                on: true
            })
        );
    }
    let imported = crate::interchange::Bundle {
        lists: vec![],
        tasks: vec![Task {
            id: Id::from_bytes([0x55; 16]),
            ..a.clone()
        }],
    };
    v.import(imported, false).unwrap();
    assert!(!actions_on(&pending(&v), Id::from_bytes([0x55; 16])).is_empty());
    assert!(pending(&v).len() > before);

    // The clock strictly increases across actions (the wall clock here
    // stands still), and every operation is this device's.
    let ops = pending(&v);
    for w in ops.windows(2) {
        assert!(w[0].hlc < w[1].hlc);
    }
    assert!(ops.iter().all(|o| o.hlc.device == DeviceId([1; 16])));
}

#[test]
fn a_failed_action_records_nothing() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    let t = v.add_task(draft("one")).unwrap();
    v.trash_tasks(&[t.id]).unwrap();
    let rows = op_rows(&v);
    let n = pending(&v).len();
    let err = v
        .update_task(
            t.id,
            TaskPatch {
                title: Some("edited in the trash".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "task_trashed");
    // Another process edits the task first: this one's write is stale and
    // its operations go with it.
    let mut other =
        Vault::open_with_key(d.path(), v.vault_id, v.key_id, v.key.clone(), env(9)).unwrap();
    other.restore_tasks(&[t.id]).unwrap();
    let err = v.restore_tasks(&[t.id]).unwrap_err();
    assert_eq!(err.code(), "stale");
    assert_eq!(op_rows(&v), rows + 1);
    assert_eq!(pending(&v).len(), n + 1);
}

#[test]
fn nothing_sync_keeps_is_plaintext_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    let marker = "QXZMARKER";
    let l = v.add_list(&format!("{marker}-list"), None).unwrap();
    v.add_task(TaskDraft {
        title: format!("{marker}-title"),
        notes: format!("{marker}-notes"),
        list: Some(l.id),
        tags: [format!("{marker}-tag")].into(),
        ..Default::default()
    })
    .unwrap();
    v.sync_seal().unwrap();
    v.add_task(draft(&format!("{marker}-pending"))).unwrap();
    assert_eq!(store::outbox_counts(&v.conn).unwrap(), (1, 1));
    drop(v);
    for entry in std::fs::read_dir(d.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for needle in [marker.as_bytes(), b"alice@example.com", b"pps_test"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds {}",
                    p.display(),
                    String::from_utf8_lossy(needle)
                );
            }
        }
    }
}

#[test]
fn sync_rows_are_committed_by_the_ledger() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    v.add_task(draft("one")).unwrap();
    v.add_task(draft("two")).unwrap();
    let (id, kid, key) = (v.vault_id, v.key_id, v.key.clone());
    drop(v);
    // Reopening checks every sync row against the ledger.
    let v = Vault::open_with_key(d.path(), id, kid, key.clone(), env(2)).unwrap();
    assert_eq!(op_rows(&v), 2);
    drop(v);
    // A pending operation row deleted behind the vault's back is caught,
    // not silently lost.
    let c = rusqlite::Connection::open(d.path().join("vault.db")).unwrap();
    c.execute(
        "DELETE FROM sync_outbox WHERE pos = (SELECT MAX(pos) FROM sync_outbox)",
        [],
    )
    .unwrap();
    drop(c);
    let err = Vault::open_with_key(d.path(), id, kid, key, env(3))
        .err()
        .unwrap();
    assert_eq!(err.code(), "record_missing", "{err}");
}

#[test]
fn key_rotation_carries_unsent_operations_and_the_link_forward() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    v.add_task(draft("one")).unwrap();
    v.sync_seal().unwrap();
    v.add_task(draft("two")).unwrap();
    let before = pending(&v);
    let rotated = v.rotate_key(None).unwrap();
    assert_eq!(pending(&v), before);
    assert_eq!(store::outbox_counts(&v.conn).unwrap(), (1, 1));
    let (id, kid, key) = (v.vault_id, v.key_id, v.key.clone());
    assert_eq!(kid, rotated.key_id);
    drop(v);
    let mut v = Vault::open_with_key(d.path(), id, kid, key, env(2)).unwrap();
    assert_eq!(v.sync_info().unwrap().unwrap().account, ACCOUNT);
    v.add_task(draft("three")).unwrap();
}

#[test]
fn signing_in_stamps_what_the_vault_held_before() {
    let d = tempfile::tempdir().unwrap();
    let mut v = create(d.path(), 1);
    let l = v.add_list("Home", None).unwrap();
    let t = v
        .add_task(TaskDraft {
            title: "Before sync".into(),
            list: Some(l.id),
            ..Default::default()
        })
        .unwrap();
    v.sync_enable(link(1)).unwrap();
    let ops = pending(&v);
    assert!(actions_on(&ops, t.id).contains(&set("title", Value::from("Before sync"))));
    assert!(actions_on(&ops, l.id).contains(&set("name", Value::from("Home"))));
    // And another vault given those operations shows the same.
    let d2 = tempfile::tempdir().unwrap();
    let mut w = syncing(d2.path(), 2, 2);
    deliver(&mut w, &ops);
    assert_eq!(shown(&w), shown(&v));
    // Another account is refused, also after signing out.
    v.sync_disable(false, true).unwrap();
    let mut other = link(1);
    other.account = AccountId([0xbb; 16]);
    let err = v.sync_enable(other).unwrap_err();
    assert_eq!(err.code(), "account_mismatch");
    v.sync_enable(link(3)).unwrap();
}

#[test]
fn signing_out_with_unsent_operations_needs_consent() {
    let d = tempfile::tempdir().unwrap();
    let mut v = syncing(d.path(), 1, 1);
    v.add_task(draft("one")).unwrap();
    let err = v.sync_disable(false, false).unwrap_err();
    assert_eq!(err.code(), "sync_unsent");
    v.sync_disable(false, true).unwrap();
    assert!(!v.sync_enabled().unwrap());
    assert_eq!(store::outbox_counts(&v.conn).unwrap(), (0, 0));
    v.add_task(draft("two")).unwrap();
}

/// Two vaults and what each recorded, exchanged both ways.
fn exchange(a: &mut Vault, b: &mut Vault) {
    let (oa, ob) = (pending(a), pending(b));
    deliver(a, &ob);
    deliver(b, &oa);
}

#[test]
fn edits_of_different_fields_both_stand_and_the_same_field_goes_to_the_later_clock() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let t = a.add_task(draft("Plan trip")).unwrap();
    deliver(&mut b, &pending(&a));
    assert_eq!(shown(&a), shown(&b));
    // Both edit `notes` with the same clock value (same wall clock, both
    // one tick after A's create): the device id decides, B's is greater.
    a.update_task(
        t.id,
        TaskPatch {
            notes: Some("from A".into()),
            ..Default::default()
        },
    )
    .unwrap();
    a.update_task(
        t.id,
        TaskPatch {
            title: Some("Plan trip to Rome".into()),
            ..Default::default()
        },
    )
    .unwrap();
    b.update_task(
        t.id,
        TaskPatch {
            notes: Some("from B".into()),
            priority: Some(crate::domain::Priority::new(1).unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    let got = a.tasks().find(|x| x.id == t.id).unwrap().clone();
    assert_eq!(got.title, "Plan trip to Rome");
    assert_eq!(got.priority, crate::domain::Priority::new(1).unwrap());
    assert_eq!(got.notes, "from B");
    // A later edit (after seeing B's) wins over it.
    a.update_task(
        t.id,
        TaskPatch {
            notes: Some("A again".into()),
            ..Default::default()
        },
    )
    .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(b.tasks().find(|x| x.id == t.id).unwrap().notes, "A again");
}

#[test]
fn a_purge_wins_over_a_concurrent_edit_and_takes_subtasks_with_it() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let p = a.add_task(draft("parent")).unwrap();
    deliver(&mut b, &pending(&a));
    a.trash_tasks(&[p.id]).unwrap();
    a.empty_trash(None).unwrap();
    b.update_task(
        p.id,
        TaskPatch {
            title: Some("renamed offline".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let child = b
        .add_task(TaskDraft {
            title: "child added offline".into(),
            parent: Some(p.id),
            ..Default::default()
        })
        .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert!(a.tasks().all(|t| t.id != p.id && t.id != child.id));
    // The tombstone stays: undoing the purge brings the task back under
    // a new id (`undoing_a_synced_purge_brings_the_tasks_back_...`).
    a.undo().unwrap();
    assert!(a.tasks().all(|t| t.id != p.id && t.id != child.id));
    assert!(a.tasks().any(|t| t.title == "parent"));
    let err = b.undo().unwrap_err();
    assert!(
        matches!(&err, VaultError::Sync(SyncError::Purged { .. })) || err.code() == "undo_conflict",
        "{err}"
    );
}

#[test]
fn undoing_a_synced_purge_brings_the_tasks_back_under_new_ids_on_every_device() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let p = a
        .add_task(TaskDraft {
            title: "parent".into(),
            notes: "keep these notes".into(),
            tags: ["work".to_string()].into(),
            ..Default::default()
        })
        .unwrap();
    let c = a
        .add_task(TaskDraft {
            title: "child".into(),
            parent: Some(p.id),
            ..Default::default()
        })
        .unwrap();
    exchange(&mut a, &mut b);
    a.trash_tasks(&[p.id]).unwrap();
    a.empty_trash(None).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(b.tasks().count(), 0, "the purge reached B");

    // Before: `record_purged`, and the tasks were lost for good.
    a.undo().unwrap();
    let back = a.tasks().find(|t| t.title == "parent").unwrap().clone();
    let child = a.tasks().find(|t| t.title == "child").unwrap().clone();
    assert_ne!(back.id, p.id, "a purged id never comes back");
    assert_ne!(child.id, c.id);
    assert_eq!(
        child.parent,
        Some(back.id),
        "the subtask follows its parent"
    );
    assert_eq!(back.notes, "keep these notes");
    assert_eq!(back.tags, BTreeSet::from(["work".to_string()]));
    assert!(
        back.is_trashed(),
        "undoing an empty trash puts them back in the trash"
    );

    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b), "B shows the restored tasks too");
    assert_eq!(b.tasks().count(), 2);
    // The old ids stay purged everywhere.
    let err = b.restore_tasks(&[p.id]).unwrap_err();
    assert_eq!(err.code(), "task_not_found", "{err}");

    // Redo purges the copies, on both devices.
    a.redo().unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(a.tasks().count(), 0);
}

#[test]
fn restoring_or_undoing_the_trash_of_a_task_another_device_purged_is_refused_clearly() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let t = a.add_task(draft("old")).unwrap();
    a.trash_tasks(&[t.id]).unwrap();
    exchange(&mut a, &mut b);
    b.empty_trash(None).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(a.tasks().count(), 0);
    let ops_before = op_rows(&a);
    let err = a.restore_tasks(&[t.id]).unwrap_err();
    assert_eq!(err.code(), "task_not_found", "{err}");
    // A's own undo (of its trash) finds the task gone: a conflict, and
    // nothing written (no resurrection sent to B).
    let err = a.undo().unwrap_err();
    assert_eq!(err.code(), "undo_conflict", "{err}");
    assert_eq!(op_rows(&a), ops_before);
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(b.tasks().count(), 0);
}

#[test]
fn a_restore_concurrent_with_a_purge_loses_to_it_on_both_devices() {
    // The protocol's rule (a delete wins over concurrent edits): both
    // devices end up without the task — never one with and one without.
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let t = a.add_task(draft("contested")).unwrap();
    a.trash_tasks(&[t.id]).unwrap();
    exchange(&mut a, &mut b);
    a.restore_tasks(&[t.id]).unwrap();
    b.empty_trash(None).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(a.tasks().count(), 0);
    // Undoing the purge on B brings it back (new id) to both.
    b.undo().unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(a.tasks().filter(|x| x.title == "contested").count(), 1);
}

#[test]
fn tags_merge_per_tag() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let t = a
        .add_task(TaskDraft {
            title: "t".into(),
            tags: ["work".to_string()].into(),
            ..Default::default()
        })
        .unwrap();
    deliver(&mut b, &pending(&a));
    a.tag_tasks(&[t.id], &["home".into()], &[]).unwrap();
    b.tag_tasks(&[t.id], &[], &["work".into()]).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    let tags = &a.tasks().find(|x| x.id == t.id).unwrap().tags;
    assert_eq!(tags, &BTreeSet::from(["home".to_string()]));
}

#[test]
fn concurrent_moves_never_lose_a_task() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let x = a.add_task(draft("x")).unwrap();
    let y = a.add_task(draft("y")).unwrap();
    let z = a.add_task(draft("z")).unwrap();
    deliver(&mut b, &pending(&a));
    let mv = |before| TaskPatch {
        move_before: Some(before),
        ..Default::default()
    };
    a.update_task(z.id, mv(x.id)).unwrap();
    b.update_task(y.id, mv(x.id)).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(a.tasks().count(), 3);
}

#[test]
fn a_recurring_task_completed_on_two_devices_continues_once() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    let t = a
        .add_task(TaskDraft {
            title: "Water plants".into(),
            due: Some(crate::domain::Due {
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
                time: None,
                tz: None,
            }),
            recurrence: Some(crate::recurrence::Recurrence::parse("FREQ=WEEKLY").unwrap()),
            ..Default::default()
        })
        .unwrap();
    deliver(&mut b, &pending(&a));
    let ca = a.complete_task(t.id).unwrap();
    let cb = b.complete_task(t.id).unwrap();
    assert_eq!(ca.next.as_ref().unwrap().id, cb.next.as_ref().unwrap().id);
    exchange(&mut a, &mut b);
    assert_eq!(shown(&a), shown(&b));
    assert_eq!(a.tasks().filter(|x| x.title == "Water plants").count(), 2);
    // Reopening and completing again does not make another one.
    a.reopen_task(t.id).unwrap();
    let again = a.complete_task(t.id).unwrap();
    assert!(again.next.is_none());
    assert_eq!(a.tasks().filter(|x| x.title == "Water plants").count(), 2);
}

#[test]
fn merging_the_same_operations_twice_changes_nothing() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = syncing(da.path(), 1, 1);
    let mut b = syncing(db.path(), 2, 2);
    a.add_task(draft("x")).unwrap();
    let ops = pending(&a);
    deliver(&mut b, &ops);
    let once = shown(&b);
    let _ = b.take_changes();
    let link = b.sync_link().unwrap();
    let r = b
        .sync_merge(
            super::merge::Incoming::Ops(&ops),
            link.value.chain,
            link.seq,
        )
        .unwrap();
    assert_eq!((r.written, r.removed), (0, 0));
    assert_eq!(shown(&b), once);
    // Merged operations are not sent on as this device's own.
    assert!(pending(&b).is_empty());
}

mod convergence {
    //! Three vaults make random edits offline; every vault then receives
    //! every operation, in its own random order and chunking. All three
    //! end up showing the same, and that is what a sequential oracle of
    //! the merge rules (one `Replica` fed everything) makes visible.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Act {
        Add(u8),
        AddChild(u8),
        Title(u8, u8),
        Tag(u8, u8, bool),
        Trash(u8),
        Restore(u8),
        Purge(u8),
        MoveBefore(u8, u8),
        Complete(u8),
        Undo,
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            3 => any::<u8>().prop_map(Act::Add),
            1 => any::<u8>().prop_map(Act::AddChild),
            3 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Act::Title(a, b)),
            2 => (any::<u8>(), 0u8..3, any::<bool>()).prop_map(|(a, b, c)| Act::Tag(a, b, c)),
            1 => any::<u8>().prop_map(Act::Trash),
            1 => any::<u8>().prop_map(Act::Restore),
            1 => any::<u8>().prop_map(Act::Purge),
            2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Act::MoveBefore(a, b)),
            1 => any::<u8>().prop_map(Act::Complete),
            1 => Just(Act::Undo),
        ]
    }

    fn pick(v: &Vault, i: u8) -> Option<Id> {
        let mut ids: Vec<Id> = v.tasks().map(|t| t.id).collect();
        ids.sort();
        (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
    }

    /// Runs one action; refusals (a trashed task, an undo conflict, a
    /// purged record) are part of the game, not failures.
    fn run(v: &mut Vault, a: &Act) {
        let r: Result<(), VaultError> = match a {
            Act::Add(n) => v.add_task(draft(&format!("task {n}"))).map(|_| ()),
            Act::AddChild(i) => match pick(v, *i) {
                Some(p) => v
                    .add_task(TaskDraft {
                        title: "child".into(),
                        parent: Some(p),
                        ..Default::default()
                    })
                    .map(|_| ()),
                None => Ok(()),
            },
            Act::Title(i, n) => match pick(v, *i) {
                Some(id) => v
                    .update_task(
                        id,
                        TaskPatch {
                            title: Some(format!("title {n}")),
                            ..Default::default()
                        },
                    )
                    .map(|_| ()),
                None => Ok(()),
            },
            Act::Tag(i, t, on) => match pick(v, *i) {
                Some(id) => {
                    let tag = vec![format!("tag{t}")];
                    if *on {
                        v.tag_tasks(&[id], &tag, &[]).map(|_| ())
                    } else {
                        v.tag_tasks(&[id], &[], &tag).map(|_| ())
                    }
                }
                None => Ok(()),
            },
            Act::Trash(i) => match pick(v, *i) {
                Some(id) => v.trash_tasks(&[id]).map(|_| ()),
                None => Ok(()),
            },
            Act::Restore(i) => match pick(v, *i) {
                Some(id) => v.restore_tasks(&[id]).map(|_| ()),
                None => Ok(()),
            },
            Act::Purge(i) => match pick(v, *i) {
                Some(id) => v
                    .trash_tasks(&[id])
                    .and_then(|_| v.empty_trash(Some(&[id])))
                    .map(|_| ()),
                None => Ok(()),
            },
            Act::MoveBefore(i, j) => match (pick(v, *i), pick(v, *j)) {
                (Some(a), Some(b)) if a != b => v
                    .update_task(
                        a,
                        TaskPatch {
                            move_before: Some(b),
                            ..Default::default()
                        },
                    )
                    .map(|_| ()),
                _ => Ok(()),
            },
            Act::Complete(i) => match pick(v, *i) {
                Some(id) => v.complete_task(id).map(|_| ()),
                None => Ok(()),
            },
            Act::Undo => v.undo().map(|_| ()),
        };
        if let Err(e) = r {
            assert!(
                matches!(
                    e.code(),
                    "task_trashed"
                        | "undo_conflict"
                        | "undo_empty"
                        | "record_purged"
                        | "task_not_found"
                        | "parent_cycle"
                ),
                "unexpected refusal {}: {e}",
                e.code()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn three_vaults_converge_whatever_the_delivery_order(
            rounds in proptest::collection::vec(
                [proptest::collection::vec(act(), 0..8),
                 proptest::collection::vec(act(), 0..8),
                 proptest::collection::vec(act(), 0..8)],
                1..3,
            ),
            seed in any::<u64>(),
        ) {
            let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
            let mut vaults: Vec<Vault> = dirs
                .iter()
                .enumerate()
                .map(|(i, d)| syncing(d.path(), seed.wrapping_add(i as u64 * 7919), i as u8 + 1))
                .collect();
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut log: Vec<Vec<Op>> = vec![Vec::new(); 3];
            for round in &rounds {
                for (i, acts) in round.iter().enumerate() {
                    for a in acts {
                        run(&mut vaults[i], a);
                    }
                }
                // Each vault's new operations, then everyone's, delivered
                // to each vault in its own order and chunks.
                for i in 0..3 {
                    let ops = pending(&vaults[i]);
                    log[i] = ops;
                }
                let all: Vec<Op> = log.iter().flatten().cloned().collect();
                for v in vaults.iter_mut() {
                    let mut ops = all.clone();
                    rand::seq::SliceRandom::shuffle(ops.as_mut_slice(), &mut rng);
                    let mut rest = ops.as_slice();
                    while !rest.is_empty() {
                        let n = rand::Rng::gen_range(&mut rng, 1..=rest.len());
                        deliver(v, &rest[..n]);
                        rest = &rest[n..];
                    }
                }
            }
            let first = shown(&vaults[0]);
            for v in &vaults[1..] {
                prop_assert_eq!(&shown(v), &first);
            }
            // The oracle: one replica fed every operation in log order.
            let mut oracle = Replica::new();
            for op in log.iter().flatten() {
                oracle.apply(op);
            }
            let visible: BTreeSet<RecordRef> = oracle
                .view()
                .into_keys()
                .filter(|r| r.kind == "task")
                .collect();
            let shown_ids: BTreeSet<RecordRef> = first
                .0
                .iter()
                .map(|t| RecordRef::new("task", RecordId(*t.id.as_bytes())))
                .collect();
            prop_assert_eq!(shown_ids, visible);
        }
    }
}

mod incremental {
    //! A merge reads only the states its batch can change the view of
    //! (`merge.rs`, `read_touched`). Raw operations — re-parenting into
    //! cycles, purging parents and lists, edits of hidden subtasks —
    //! delivered in random chunks must leave the vault exactly as one
    //! merge that reads every state does, and as the oracle shows.
    use super::super::merge::{Incoming, Scope};
    use super::*;
    use productivitypro_sync_protocol::Hlc;
    use proptest::prelude::*;

    fn task(n: u8) -> RecordRef {
        RecordRef::new("task", RecordId([n; 16]))
    }
    fn list(n: u8) -> RecordRef {
        RecordRef::new("list", RecordId([0x40 + n; 16]))
    }
    fn id_value(r: &RecordRef) -> Value {
        serde_json::to_value(Id::from_bytes(r.id.0)).unwrap()
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        let on_task = prop_oneof![
            3 => (0u8..4).prop_map(|v| set("title", Value::String(format!("t{v}")))),
            4 => (0u8..7).prop_map(|p| set("parent", if p == 6 { Value::Null } else { id_value(&task(p)) })),
            2 => (0u8..3).prop_map(|l| set("list", if l == 2 { Value::Null } else { id_value(&list(l)) })),
            1 => (0u8..2, any::<bool>()).prop_map(|(t, on)| Action::Tag { tag: format!("g{t}"), on }),
            1 => Just(Action::Delete),
        ];
        let on_list = prop_oneof![
            3 => (0u8..3).prop_map(|v| set("name", Value::String(format!("l{v}")))),
            1 => Just(Action::Delete),
        ];
        let target = prop_oneof![
            5 => (0u8..6, on_task).prop_map(|(n, a)| (task(n), a)),
            1 => (0u8..2, on_list).prop_map(|(n, a)| (list(n), a)),
        ];
        (target, 1u64..40, 1u8..4).prop_map(|((record, action), ms, d)| Op {
            record,
            action,
            hlc: Hlc::new(1_700_000_000_000 + ms, 0, DeviceId([d; 16])).unwrap(),
        })
    }

    fn at(ms: u64, record: RecordRef, action: Action) -> Op {
        Op {
            record,
            action,
            hlc: Hlc::new(1_700_000_000_000 + ms, 0, DeviceId([1; 16])).unwrap(),
        }
    }

    /// Delivers `first`, then `then` on its own (the incremental merge),
    /// and checks the vault against one merge of everything.
    fn two_steps(first: &[Op], then: &[Op]) -> (Vec<Task>, Vec<Task>) {
        let (dx, dy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut x = syncing(dx.path(), 1, 9);
        let mut y = syncing(dy.path(), 2, 10);
        deliver(&mut x, first);
        deliver(&mut x, then);
        let all: Vec<Op> = first.iter().chain(then).cloned().collect();
        let link = y.sync_link().unwrap();
        y.sync_merge_in(
            Incoming::Ops(&all),
            link.value.chain,
            link.seq,
            Scope::Everything,
        )
        .unwrap();
        (shown(&x).0, shown(&y).0)
    }

    #[test]
    fn breaking_a_parent_cycle_under_a_purged_task_hides_the_subtasks_of_the_cycles_loser() {
        // 1 and 2 are each other's parent: 2 set its parent last, so the
        // view cuts 2's (and memory lists 3, 2's subtask, under a task
        // with no parent). Then 1 moves under the purged 4: 1, 2 and 3
        // are all hidden — 3 only reachable through 2, the cycle's loser.
        let first = [
            at(1, task(1), set("title", Value::String("one".into()))),
            at(1, task(2), set("title", Value::String("two".into()))),
            at(1, task(3), set("title", Value::String("three".into()))),
            at(1, task(4), set("title", Value::String("four".into()))),
            at(5, task(1), set("parent", id_value(&task(2)))),
            at(6, task(2), set("parent", id_value(&task(1)))),
            at(7, task(3), set("parent", id_value(&task(2)))),
            at(8, task(4), Action::Delete),
        ];
        let then = [at(10, task(1), set("parent", id_value(&task(4))))];
        let (x, y) = two_steps(&first, &then);
        assert_eq!(x, y);
        assert!(x.is_empty(), "{x:?}");
    }

    #[test]
    fn moving_a_hidden_task_out_from_under_a_purged_one_brings_back_its_hidden_subtasks() {
        let first = [
            at(1, task(1), set("title", Value::String("purged".into()))),
            at(1, task(2), set("title", Value::String("hidden".into()))),
            at(
                1,
                task(3),
                set("title", Value::String("hidden below".into())),
            ),
            at(2, task(2), set("parent", id_value(&task(1)))),
            at(2, task(3), set("parent", id_value(&task(2)))),
            at(3, task(1), Action::Delete),
        ];
        let then = [at(5, task(2), set("parent", Value::Null))];
        let (x, y) = two_steps(&first, &then);
        assert_eq!(x, y);
        let titles: Vec<&str> = x.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles.len(), 2, "{titles:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn chunked_merges_that_read_only_touched_states_match_a_merge_of_everything(
            ops in proptest::collection::vec(arb_op(), 1..40),
            seed in any::<u64>(),
        ) {
            let (dx, dy) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let mut x = syncing(dx.path(), seed, 9);
            let mut y = syncing(dy.path(), seed ^ 1, 10);
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut rest = ops.as_slice();
            while !rest.is_empty() {
                let n = rand::Rng::gen_range(&mut rng, 1..=rest.len().min(4));
                deliver(&mut x, &rest[..n]);
                rest = &rest[n..];
            }
            let link = y.sync_link().unwrap();
            y.sync_merge_in(Incoming::Ops(&ops), link.value.chain, link.seq, Scope::Everything)
                .unwrap();
            prop_assert_eq!(shown(&x), shown(&y));
            let mut oracle = Replica::new();
            for op in &ops {
                oracle.apply(op);
            }
            let view = oracle.view();
            let (tasks, lists) = shown(&x);
            let want: BTreeSet<RecordRef> = view.keys().cloned().collect();
            let got: BTreeSet<RecordRef> = tasks
                .iter()
                .map(|t| RecordRef::new("task", RecordId(*t.id.as_bytes())))
                .chain(lists.iter().map(|l| RecordRef::new("list", RecordId(*l.0.as_bytes()))))
                .collect();
            prop_assert_eq!(got, want);
            for t in &tasks {
                let v = &view[&RecordRef::new("task", RecordId(*t.id.as_bytes()))];
                let parent = v.fields.get("parent").cloned().unwrap_or(Value::Null);
                prop_assert_eq!(serde_json::to_value(t.parent).unwrap(), parent);
                let l = v.fields.get("list").cloned().unwrap_or(Value::Null);
                prop_assert_eq!(serde_json::to_value(t.list).unwrap(), l);
            }
            // Merging it all again reads only what it touches and
            // changes nothing.
            let before = shown(&x);
            deliver(&mut x, &ops);
            prop_assert_eq!(shown(&x), before);
        }
    }
}
