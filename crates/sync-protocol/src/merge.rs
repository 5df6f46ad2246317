//! The merge rules, as a state that operations are applied to. Applying is
//! commutative, associative and idempotent (a join-semilattice), so devices
//! that received the same operations in any order, any number of times,
//! hold the same state; joining two states (a snapshot into a device) is
//! the same join.
//!
//! - `Set`: per (record, field) the value with the greatest HLC wins.
//! - `Tag`: per (record, tag) presence with the greatest HLC wins.
//! - `Delete`: the record is tombstoned for good; every operation on it,
//!   earlier, concurrent or later, is absorbed. (Trash and undo are field
//!   sets, not deletes; a delete is the final purge.)
//!
//! [`Replica::view`] then derives what a user sees, deterministically from
//! the state alone (see its rules).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hlc::Hlc;
use crate::ids::RecordId;
use crate::op::{Action, Op, RecordRef};

/// Field names with meaning to the derived view.
pub const PARENT_FIELD: &str = "parent";
pub const LIST_FIELD: &str = "list";
pub const ORDER_FIELD: &str = "order";
pub const TASK: &str = "task";
pub const LIST: &str = "list";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordState {
    /// field → (value, clock of the winning set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, (Value, Hlc)>,
    /// tag → (present, clock of the winning add/remove).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, (bool, Hlc)>,
    /// Greatest delete clock seen; fields and tags are dropped once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Hlc>,
}

/// Orders two writes with the same clock (only a broken device issues
/// those): the greater canonical JSON wins, so replicas still agree.
fn beats(new: (&Value, &Hlc), old: (&Value, &Hlc)) -> bool {
    match new.1.cmp(old.1) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => {
            let (a, b) = (new.0.to_string(), old.0.to_string());
            a > b
        }
    }
}

impl RecordState {
    fn tombstone(&mut self, hlc: Hlc) -> bool {
        let changed = self.deleted.is_none_or(|d| hlc > d);
        if changed {
            self.deleted = Some(hlc);
        }
        self.fields.clear();
        self.tags.clear();
        changed
    }

    fn set(&mut self, field: &str, value: &Value, hlc: Hlc) -> bool {
        if self.deleted.is_some() {
            return false;
        }
        match self.fields.get(field) {
            Some((v, h)) if !beats((value, &hlc), (v, h)) => false,
            _ => {
                self.fields.insert(field.to_string(), (value.clone(), hlc));
                true
            }
        }
    }

    fn tag(&mut self, tag: &str, on: bool, hlc: Hlc) -> bool {
        if self.deleted.is_some() {
            return false;
        }
        match self.tags.get(tag) {
            Some((o, h)) if !beats((&Value::Bool(on), &hlc), (&Value::Bool(*o), h)) => false,
            _ => {
                self.tags.insert(tag.to_string(), (on, hlc));
                true
            }
        }
    }

    fn join(&mut self, other: &RecordState) -> bool {
        let mut changed = false;
        if let Some(d) = other.deleted {
            changed |= self.tombstone(d);
        }
        for (f, (v, h)) in &other.fields {
            changed |= self.set(f, v, *h);
        }
        for (t, (on, h)) in &other.tags {
            changed |= self.tag(t, *on, *h);
        }
        changed
    }
}

/// A device's merged state of every record it knows, tombstones included.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replica {
    pub records: BTreeMap<RecordRef, RecordState>,
}

/// A record as a user sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub fields: BTreeMap<String, Value>,
    pub tags: BTreeSet<String>,
}

impl Replica {
    pub fn new() -> Replica {
        Replica::default()
    }

    /// Applies one operation; true if the state changed.
    pub fn apply(&mut self, op: &Op) -> bool {
        let r = self.records.entry(op.record.clone()).or_default();
        match &op.action {
            Action::Set { field, value } => r.set(field, value, op.hlc),
            Action::Tag { tag, on } => r.tag(tag, *on, op.hlc),
            Action::Delete => r.tombstone(op.hlc),
        }
    }

    /// Joins another state into this one (loading a snapshot).
    pub fn join(&mut self, other: &Replica) -> bool {
        let mut changed = false;
        for (k, s) in &other.records {
            changed |= self.records.entry(k.clone()).or_default().join(s);
        }
        changed
    }

    pub fn is_deleted(&self, r: &RecordRef) -> bool {
        self.records.get(r).is_some_and(|s| s.deleted.is_some())
    }

    /// The greatest clock anywhere in the state: a device restoring its
    /// clock from a snapshot starts after it.
    pub fn max_hlc(&self) -> Option<Hlc> {
        self.records
            .values()
            .flat_map(|s| {
                s.deleted
                    .into_iter()
                    .chain(s.fields.values().map(|(_, h)| *h))
                    .chain(s.tags.values().map(|(_, h)| *h))
            })
            .max()
    }

    /// What users see, derived deterministically from the state:
    /// 1. a record is visible if it has at least one field and no tombstone;
    /// 2. a task's `parent` that would close a cycle (concurrent re-parenting)
    ///    is dropped on the cycle's task whose `parent` was set last;
    /// 3. a task whose parent is tombstoned is hidden with it (cascade);
    /// 4. a task's `list` naming a tombstoned list reads as null (the inbox).
    pub fn view(&self) -> BTreeMap<RecordRef, View> {
        let mut out: BTreeMap<RecordRef, View> = self
            .records
            .iter()
            .filter(|(_, s)| s.deleted.is_none() && !s.fields.is_empty())
            .map(|(k, s)| {
                (
                    k.clone(),
                    View {
                        fields: s
                            .fields
                            .iter()
                            .map(|(f, (v, _))| (f.clone(), v.clone()))
                            .collect(),
                        tags: s
                            .tags
                            .iter()
                            .filter(|(_, (on, _))| *on)
                            .map(|(t, _)| t.clone())
                            .collect(),
                    },
                )
            })
            .collect();
        let task_ref = |v: &Value| -> Option<RecordRef> {
            v.as_str()?
                .parse::<RecordId>()
                .ok()
                .map(|id| RecordRef::new(TASK, id))
        };
        let parent_of = |out: &BTreeMap<RecordRef, View>, k: &RecordRef| -> Option<RecordRef> {
            if k.kind != TASK {
                return None;
            }
            out.get(k)?.fields.get(PARENT_FIELD).and_then(task_ref)
        };
        // Rule 2: walk each chain; a revisited task closes a cycle.
        let tasks: Vec<RecordRef> = out.keys().filter(|k| k.kind == TASK).cloned().collect();
        for start in &tasks {
            let mut path: Vec<RecordRef> = Vec::new();
            let mut cur = Some(start.clone());
            while let Some(k) = cur {
                if let Some(pos) = path.iter().position(|p| *p == k) {
                    let cycle = &path[pos..];
                    let loser = cycle
                        .iter()
                        .max_by_key(|t| self.records[*t].fields.get(PARENT_FIELD).map(|(_, h)| *h))
                        .cloned();
                    if let Some(l) = loser.and_then(|l| out.get_mut(&l)) {
                        l.fields.insert(PARENT_FIELD.into(), Value::Null);
                    }
                    break;
                }
                path.push(k.clone());
                cur = parent_of(&out, &k).filter(|p| out.contains_key(p));
            }
        }
        // Rule 3: hide tasks under a tombstoned ancestor.
        let mut hidden: BTreeSet<RecordRef> = BTreeSet::new();
        for t in &tasks {
            let mut cur = parent_of(&out, t);
            let mut steps = 0;
            while let Some(p) = cur {
                if self.is_deleted(&p) || hidden.contains(&p) {
                    hidden.insert(t.clone());
                    break;
                }
                steps += 1;
                if steps > tasks.len() {
                    break;
                }
                cur = parent_of(&out, &p);
            }
        }
        for h in &hidden {
            out.remove(h);
        }
        // Rule 4: a deleted list reads as no list.
        for (k, v) in out.iter_mut() {
            if k.kind != TASK {
                continue;
            }
            let gone = v
                .fields
                .get(LIST_FIELD)
                .and_then(|l| l.as_str())
                .and_then(|s| s.parse::<RecordId>().ok())
                .is_some_and(|id| self.is_deleted(&RecordRef::new(LIST, id)));
            if gone {
                v.fields.insert(LIST_FIELD.into(), Value::Null);
            }
        }
        out
    }
}

/// Manual order: by fractional-index key, then by record id, so two tasks
/// moved concurrently to the same spot (same key) both stay, in a fixed order.
pub fn manual_order<'a>(
    records: impl IntoIterator<Item = (&'a RecordRef, &'a View)>,
) -> Vec<&'a RecordRef> {
    let mut v: Vec<(&str, &RecordRef)> = records
        .into_iter()
        .map(|(k, r)| {
            (
                r.fields
                    .get(ORDER_FIELD)
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                k,
            )
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, k)| k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use proptest::prelude::*;
    use serde_json::json;

    fn hlc(ms: u64, d: u8) -> Hlc {
        Hlc::new(ms, 0, DeviceId([d; 16])).unwrap()
    }
    fn task(n: u8) -> RecordRef {
        RecordRef::new(TASK, RecordId([n; 16]))
    }
    fn set(r: RecordRef, f: &str, v: Value, h: Hlc) -> Op {
        Op {
            record: r,
            action: Action::Set {
                field: f.into(),
                value: v,
            },
            hlc: h,
        }
    }

    #[test]
    fn later_clock_wins_per_field_and_other_fields_survive() {
        let mut r = Replica::new();
        r.apply(&set(task(1), "title", json!("a"), hlc(1, 1)));
        r.apply(&set(task(1), "notes", json!("n"), hlc(2, 2)));
        r.apply(&set(task(1), "title", json!("b"), hlc(3, 2)));
        r.apply(&set(task(1), "title", json!("old"), hlc(2, 1)));
        let v = &r.view()[&task(1)];
        assert_eq!(v.fields["title"], json!("b"));
        assert_eq!(v.fields["notes"], json!("n"));
    }

    #[test]
    fn delete_absorbs_later_edits() {
        let mut r = Replica::new();
        r.apply(&set(task(1), "title", json!("a"), hlc(1, 1)));
        r.apply(&Op {
            record: task(1),
            action: Action::Delete,
            hlc: hlc(2, 1),
        });
        assert!(!r.apply(&set(task(1), "title", json!("z"), hlc(9, 2))));
        assert!(r.view().is_empty());
    }

    #[test]
    fn concurrent_reparenting_cycle_is_broken_on_the_later_edit() {
        let mut r = Replica::new();
        for n in [1, 2] {
            r.apply(&set(task(n), "title", json!(format!("t{n}")), hlc(1, n)));
        }
        r.apply(&set(
            task(1),
            PARENT_FIELD,
            json!(task(2).id.hex()),
            hlc(5, 1),
        ));
        r.apply(&set(
            task(2),
            PARENT_FIELD,
            json!(task(1).id.hex()),
            hlc(6, 2),
        ));
        let v = r.view();
        assert_eq!(v[&task(1)].fields[PARENT_FIELD], json!(task(2).id.hex()));
        assert_eq!(v[&task(2)].fields[PARENT_FIELD], Value::Null);
    }

    #[test]
    fn subtasks_of_a_deleted_task_are_hidden_and_deleted_lists_read_as_none() {
        let mut r = Replica::new();
        r.apply(&set(task(1), "title", json!("p"), hlc(1, 1)));
        r.apply(&set(task(2), "title", json!("c"), hlc(1, 2)));
        r.apply(&set(
            task(2),
            PARENT_FIELD,
            json!(task(1).id.hex()),
            hlc(2, 2),
        ));
        let list = RecordRef::new(LIST, RecordId([9; 16]));
        r.apply(&set(list.clone(), "name", json!("home"), hlc(1, 1)));
        r.apply(&set(task(3), "title", json!("x"), hlc(1, 1)));
        r.apply(&set(task(3), LIST_FIELD, json!(list.id.hex()), hlc(1, 1)));
        for k in [task(1), list] {
            r.apply(&Op {
                record: k,
                action: Action::Delete,
                hlc: hlc(3, 1),
            });
        }
        let v = r.view();
        assert!(!v.contains_key(&task(2)));
        assert_eq!(v[&task(3)].fields[LIST_FIELD], Value::Null);
    }

    type Fields = BTreeMap<String, Value>;

    fn arb_op() -> impl Strategy<Value = Op> {
        let action = prop_oneof![
            4 => (prop::sample::select(vec!["title", "notes", "order", PARENT_FIELD]), 0u8..4)
                .prop_map(|(f, v)| Action::Set { field: f.into(), value: if f == PARENT_FIELD { json!(RecordId([v; 16]).hex()) } else { json!(v) } }),
            2 => (prop::sample::select(vec!["a", "b"]), any::<bool>()).prop_map(|(t, on)| Action::Tag { tag: t.into(), on }),
            1 => Just(Action::Delete),
        ];
        (0u8..4, action, 0u64..6, 0u32..2, 0u8..3).prop_map(|(r, action, ms, c, d)| Op {
            record: task(r),
            action,
            hlc: Hlc::new(ms, c, DeviceId([d; 16])).unwrap(),
        })
    }

    /// The oracle: sort by clock, apply one by one with the plain rules.
    fn sequential(ops: &[Op]) -> BTreeMap<RecordRef, (BTreeMap<String, Value>, BTreeSet<String>)> {
        let mut ops = ops.to_vec();
        ops.sort_by(|a, b| {
            a.hlc
                .cmp(&b.hlc)
                .then_with(|| value_of(a).cmp(&value_of(b)))
        });
        let mut deleted = BTreeSet::new();
        let mut out: BTreeMap<RecordRef, (Fields, BTreeMap<String, bool>)> = BTreeMap::new();
        for o in &ops {
            if let Action::Delete = o.action {
                deleted.insert(o.record.clone());
            }
        }
        for o in &ops {
            if deleted.contains(&o.record) {
                continue;
            }
            let e = out.entry(o.record.clone()).or_default();
            match &o.action {
                Action::Set { field, value } => {
                    e.0.insert(field.clone(), value.clone());
                }
                Action::Tag { tag, on } => {
                    e.1.insert(tag.clone(), *on);
                }
                Action::Delete => {}
            }
        }
        out.into_iter()
            .filter(|(_, (f, _))| !f.is_empty())
            .map(|(k, (f, t))| {
                (
                    k,
                    (
                        f,
                        t.into_iter()
                            .filter(|(_, on)| *on)
                            .map(|(t, _)| t)
                            .collect(),
                    ),
                )
            })
            .collect()
    }

    fn value_of(o: &Op) -> String {
        match &o.action {
            Action::Set { value, .. } => value.to_string(),
            Action::Tag { on, .. } => Value::Bool(*on).to_string(),
            Action::Delete => String::new(),
        }
    }

    fn raw(r: &Replica) -> BTreeMap<RecordRef, (BTreeMap<String, Value>, BTreeSet<String>)> {
        r.records
            .iter()
            .filter(|(_, s)| s.deleted.is_none() && !s.fields.is_empty())
            .map(|(k, s)| {
                (
                    k.clone(),
                    (
                        s.fields
                            .iter()
                            .map(|(f, (v, _))| (f.clone(), v.clone()))
                            .collect(),
                        s.tags
                            .iter()
                            .filter(|(_, (on, _))| *on)
                            .map(|(t, _)| t.clone())
                            .collect(),
                    ),
                )
            })
            .collect()
    }

    proptest! {
        #[test]
        fn any_order_any_duplicates_same_state_as_the_oracle(
            ops in prop::collection::vec(arb_op(), 0..40),
            seed in any::<u64>(),
        ) {
            use rand::{seq::SliceRandom, SeedableRng};
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut a = Replica::new();
            for o in &ops { a.apply(o); }
            let mut shuffled = ops.clone();
            shuffled.extend(ops.iter().take(ops.len() / 2).cloned());
            shuffled.shuffle(&mut rng);
            let mut b = Replica::new();
            for o in &shuffled { b.apply(o); }
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(raw(&a), sequential(&ops));
            // Joining split states equals applying everything.
            let (l, r) = ops.split_at(ops.len() / 2);
            let mut x = Replica::new();
            for o in l { x.apply(o); }
            let mut y = Replica::new();
            for o in r { y.apply(o); }
            let mut xy = x.clone();
            xy.join(&y);
            let mut yx = y.clone();
            yx.join(&x);
            prop_assert_eq!(&xy, &a);
            prop_assert_eq!(&yx, &a);
            let again = xy.clone();
            prop_assert!(!xy.join(&again));
            prop_assert_eq!(a.view(), b.view());
        }
    }
}
