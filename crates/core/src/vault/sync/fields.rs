//! Records as sync fields, and back (`docs/sync-protocol.md` §3, "Mapping
//! from the vault").
//!
//! A task is the fields `title`, `notes`, `list`, `priority`, `due`,
//! `recurrence`, `parent`, `order`, `done`, `done_at`, `created_at`,
//! `trashed_at` plus one tag operation per tag; a list is `name`,
//! `colour`, `order`, `archived`, `created_at`. Values are the JSON the
//! vault's own types serialise to. `updated_at` is not synced: a record
//! built from a merge state takes the newest clock in it.
//!
//! Building a record from a state never fails: a field that is missing
//! or holds something this version cannot read takes its default, and
//! the raw value stays in the merge state (so every device shows the
//! same, and a later version may read it).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::domain::{Due, Id, List, Priority, Task};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;
use productivitypro_sync_protocol::merge::RecordState;
use productivitypro_sync_protocol::Action;

pub(crate) const TASK: &str = "task";
pub(crate) const LIST: &str = "list";

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("domain values serialise")
}

/// A task's synced fields, in a fixed order.
pub(crate) fn task_fields(t: &Task) -> [(&'static str, Value); 12] {
    [
        ("title", json(&t.title)),
        ("notes", json(&t.notes)),
        ("list", json(&t.list)),
        ("priority", json(&t.priority)),
        ("due", json(&t.due)),
        ("recurrence", json(&t.recurrence)),
        ("parent", json(&t.parent)),
        ("order", json(&t.order)),
        ("done", json(&t.done)),
        ("done_at", json(&t.done_at)),
        ("created_at", json(&t.created_at)),
        ("trashed_at", json(&t.trashed_at)),
    ]
}

pub(crate) fn list_fields(l: &List) -> [(&'static str, Value); 5] {
    [
        ("name", json(&l.name)),
        ("colour", json(&l.colour)),
        ("order", json(&l.order)),
        ("archived", json(&l.archived)),
        ("created_at", json(&l.created_at)),
    ]
}

/// What a field holds when no operation ever set it: a create sends
/// only the fields that differ from this.
fn default_of(kind: &str, field: &str) -> Value {
    match (kind, field) {
        (TASK, "title" | "notes") | (LIST, "name") => Value::String(String::new()),
        (TASK, "priority") => Value::from(0),
        (TASK, "done") | (LIST, "archived") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// The value a state holds for a field, or the field's default.
fn raw(s: Option<&RecordState>, kind: &str, field: &str) -> Value {
    s.and_then(|s| s.fields.get(field))
        .map(|(v, _)| v.clone())
        .unwrap_or_else(|| default_of(kind, field))
}

fn tags_on(s: Option<&RecordState>) -> BTreeSet<String> {
    s.map(|s| {
        s.tags
            .iter()
            .filter(|(_, (on, _))| *on)
            .map(|(t, _)| t.clone())
            .collect()
    })
    .unwrap_or_default()
}

fn diff(
    before: impl Iterator<Item = (&'static str, Value)>,
    after: impl Iterator<Item = (&'static str, Value)>,
    out: &mut Vec<Action>,
) {
    for ((f, b), (_, a)) in before.zip(after) {
        if a != b {
            out.push(Action::Set {
                field: f.to_string(),
                value: a,
            });
        }
    }
}

fn tag_diff(before: &BTreeSet<String>, after: &BTreeSet<String>, out: &mut Vec<Action>) {
    for t in before.difference(after) {
        out.push(Action::Tag {
            tag: t.clone(),
            on: false,
        });
    }
    for t in after.difference(before) {
        out.push(Action::Tag {
            tag: t.clone(),
            on: true,
        });
    }
}

/// The operations that take a task from `before` to `after`. Without a
/// `before` (a new record, or one sync has not seen), from `base` — the
/// merge state it has, if any — or from nothing: one set per field that
/// differs from its default, one tag operation per tag.
pub(crate) fn task_actions(
    before: Option<&Task>,
    base: Option<&RecordState>,
    after: &Task,
) -> Vec<Action> {
    let mut out = Vec::new();
    match before {
        Some(b) => {
            diff(
                task_fields(b).into_iter(),
                task_fields(after).into_iter(),
                &mut out,
            );
            tag_diff(&b.tags, &after.tags, &mut out);
        }
        None => {
            let from = task_fields(after).map(|(f, _)| (f, raw(base, TASK, f)));
            diff(from.into_iter(), task_fields(after).into_iter(), &mut out);
            tag_diff(&tags_on(base), &after.tags, &mut out);
        }
    }
    out
}

pub(crate) fn list_actions(
    before: Option<&List>,
    base: Option<&RecordState>,
    after: &List,
) -> Vec<Action> {
    let mut out = Vec::new();
    match before {
        Some(b) => diff(
            list_fields(b).into_iter(),
            list_fields(after).into_iter(),
            &mut out,
        ),
        None => {
            let from = list_fields(after).map(|(f, _)| (f, raw(base, LIST, f)));
            diff(from.into_iter(), list_fields(after).into_iter(), &mut out);
        }
    }
    out
}

fn from_value<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

fn ms_time(ms: u64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms.min(i64::MAX as u64) as i64)
        .single()
        .unwrap_or_default()
}

/// The newest and oldest clock in a state, as instants.
fn clock_span(s: &RecordState) -> (DateTime<Utc>, DateTime<Utc>) {
    let all = s
        .fields
        .values()
        .map(|(_, h)| h.ms)
        .chain(s.tags.values().map(|(_, h)| h.ms));
    let (lo, hi) = all.fold((u64::MAX, 0), |(lo, hi), ms| (lo.min(ms), hi.max(ms)));
    (ms_time(hi), ms_time(if lo == u64::MAX { 0 } else { lo }))
}

/// Whether a state is a record someone can see (rule 1 of the view: at
/// least one field, no tombstone).
pub(crate) fn is_visible(s: &RecordState) -> bool {
    s.deleted.is_none() && !s.fields.is_empty()
}

/// The parent a task's state names (its raw value).
#[cfg(test)]
pub(crate) fn raw_parent(s: &RecordState) -> Option<Id> {
    s.fields
        .get("parent")
        .and_then(|(v, _)| from_value::<Option<Id>>(v))
        .flatten()
}

/// A task as the state says, with `parent` as given (the view's cycle
/// rule may have cut it). `None` if it is not visible.
pub(crate) fn derive_task(id: Id, s: &RecordState, parent: Option<Id>) -> Option<Task> {
    if !is_visible(s) {
        return None;
    }
    let get = |f: &str| s.fields.get(f).map(|(v, _)| v);
    let text = |f: &str| {
        get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (newest, oldest) = clock_span(s);
    Some(Task {
        id,
        title: text("title"),
        notes: text("notes"),
        list: get("list").and_then(from_value::<Option<Id>>).flatten(),
        tags: tags_on(Some(s)),
        priority: get("priority")
            .and_then(from_value::<Priority>)
            .unwrap_or_default(),
        due: get("due").and_then(from_value::<Option<Due>>).flatten(),
        recurrence: get("recurrence")
            .and_then(from_value::<Option<Recurrence>>)
            .flatten(),
        parent,
        order: get("order")
            .and_then(Value::as_str)
            .and_then(|o| OrderKey::parse(o).ok())
            .unwrap_or_else(OrderKey::first),
        done: get("done").and_then(Value::as_bool).unwrap_or(false),
        done_at: get("done_at")
            .and_then(from_value::<Option<DateTime<Utc>>>)
            .flatten(),
        created_at: get("created_at")
            .and_then(from_value::<DateTime<Utc>>)
            .unwrap_or(oldest),
        updated_at: newest,
        trashed_at: get("trashed_at")
            .and_then(from_value::<Option<DateTime<Utc>>>)
            .flatten(),
    })
}

pub(crate) fn derive_list(id: Id, s: &RecordState) -> Option<List> {
    if !is_visible(s) {
        return None;
    }
    let get = |f: &str| s.fields.get(f).map(|(v, _)| v);
    let (newest, oldest) = clock_span(s);
    Some(List {
        id,
        name: get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        colour: get("colour")
            .and_then(from_value::<Option<String>>)
            .flatten(),
        order: get("order")
            .and_then(Value::as_str)
            .and_then(|o| OrderKey::parse(o).ok())
            .unwrap_or_else(OrderKey::first),
        archived: get("archived").and_then(Value::as_bool).unwrap_or(false),
        created_at: get("created_at")
            .and_then(from_value::<DateTime<Utc>>)
            .unwrap_or(oldest),
        updated_at: newest,
    })
}

/// Two tasks equal but for `updated_at` (which a local action sets from
/// the wall clock and a merge from the clocks): re-deriving a record
/// that did not change must not rewrite it.
pub(crate) fn same_task(a: &Task, b: &Task) -> bool {
    Task {
        updated_at: b.updated_at,
        ..a.clone()
    } == *b
}

pub(crate) fn same_list(a: &List, b: &List) -> bool {
    List {
        updated_at: b.updated_at,
        ..a.clone()
    } == *b
}

#[cfg(test)]
mod tests {
    use super::*;
    use productivitypro_sync_protocol::{DeviceId, Hlc, Op, RecordId, RecordRef, Replica};

    fn apply(actions: Vec<Action>, id: Id) -> RecordState {
        let mut r = Replica::new();
        let rec = RecordRef::new(TASK, RecordId(*id.as_bytes()));
        for (i, a) in actions.into_iter().enumerate() {
            r.apply(&Op {
                record: rec.clone(),
                action: a,
                hlc: Hlc::new(1_795_000_000_000 + i as u64, 0, DeviceId([1; 16])).unwrap(),
            });
        }
        r.records.remove(&rec).unwrap_or_default()
    }

    fn task() -> Task {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        Task {
            id: Id::from_bytes([7; 16]),
            title: "Pay rent".into(),
            notes: "IBAN".into(),
            list: Some(Id::from_bytes([2; 16])),
            tags: ["bills".to_string(), "home".to_string()].into(),
            priority: Priority::new(1).unwrap(),
            due: Some(Due {
                date: t0.date_naive(),
                time: Some(chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
                tz: Some("Europe/Berlin".into()),
            }),
            recurrence: Some(Recurrence::parse("FREQ=WEEKLY").unwrap()),
            parent: Some(Id::from_bytes([3; 16])),
            order: OrderKey::parse("V1").unwrap(),
            done: true,
            done_at: Some(t0),
            created_at: t0,
            updated_at: t0,
            trashed_at: Some(t0),
        }
    }

    #[test]
    fn a_create_round_trips_through_operations() {
        let t = task();
        let actions = task_actions(None, None, &t);
        // One set per non-default field (all 12 here), one per tag.
        assert_eq!(actions.len(), 12 + 2);
        let s = apply(actions, t.id);
        let back = derive_task(t.id, &s, raw_parent(&s)).unwrap();
        assert!(same_task(&back, &t), "{back:?}");
    }

    #[test]
    fn an_edit_sends_only_what_changed() {
        let before = task();
        let mut after = before.clone();
        after.title = "Pay rent today".into();
        after.tags.remove("home");
        after.tags.insert("urgent".into());
        after.updated_at = Utc::now();
        let a = task_actions(Some(&before), None, &after);
        assert_eq!(
            a,
            vec![
                Action::Set {
                    field: "title".into(),
                    value: Value::from("Pay rent today")
                },
                Action::Tag {
                    tag: "home".into(),
                    on: false
                },
                Action::Tag {
                    tag: "urgent".into(),
                    on: true
                },
            ]
        );
    }

    #[test]
    fn unreadable_values_read_as_defaults_and_missing_times_from_clocks() {
        let id = Id::from_bytes([9; 16]);
        let s = apply(
            vec![
                Action::Set {
                    field: "priority".into(),
                    value: Value::from(9),
                },
                Action::Set {
                    field: "order".into(),
                    value: Value::from("not a key!"),
                },
                Action::Set {
                    field: "future_field".into(),
                    value: Value::from(true),
                },
            ],
            id,
        );
        let t = derive_task(id, &s, None).unwrap();
        assert_eq!(t.priority, Priority::NONE);
        assert_eq!(t.order, OrderKey::first());
        assert_eq!(t.title, "");
        assert_eq!(t.created_at.timestamp_millis(), 1_795_000_000_000);
        assert_eq!(t.updated_at.timestamp_millis(), 1_795_000_000_002);
    }
}
