//! Recording local actions as operations, in the action's own
//! transaction (`docs/sync-protocol.md` §12 step 1).
//!
//! [`LocalPlan`] is built from memory before the commit (what each
//! touched record was and becomes); inside the commit it reads the clock
//! and each record's merge state, stamps the operations, applies them to
//! the states, writes the states and appends the operations — sealed
//! under the data key — to the outbox. If the commit fails, none of it
//! happened; if it succeeds, all of it did.

use productivitypro_sync_protocol::merge::RecordState;
use productivitypro_sync_protocol::op::WireOp;
use productivitypro_sync_protocol::{Action, HlcClock, Op, RecordId, RecordRef, Replica};

use super::fields::{list_actions, task_actions, LIST, TASK};
use super::store::{self, OutboxKind};
use super::{read_in, ClockState, SyncError, CLOCK};
use crate::crypto::RecordKind;
use crate::domain::{Id, List, Task};
use crate::error::VaultError;
use crate::vault::records::InTx;
use crate::vault::Vault;

/// At which change sequence a record's new merge state is sealed: this
/// commit's (the record is written by it), or the record's own (stamping
/// a record this commit does not rewrite).
#[derive(Clone, Copy)]
enum Bind {
    Commit,
    Record(i64),
}

enum Item {
    Task {
        before: Option<Box<Task>>,
        /// The `records` row's sequence before this commit, if any.
        record_seq: Option<i64>,
        after: Box<Task>,
        bind: Bind,
    },
    List {
        before: Option<Box<List>>,
        record_seq: Option<i64>,
        after: Box<List>,
        bind: Bind,
    },
    Delete {
        kind: &'static str,
        id: Id,
        record_seq: i64,
    },
}

pub(crate) fn record_ref(kind: &str, id: Id) -> RecordRef {
    RecordRef::new(kind, RecordId(*id.as_bytes()))
}

/// What a local action changes, as seen from memory before its commit.
pub(crate) struct LocalPlan {
    now_ms: u64,
    items: Vec<Item>,
}

impl LocalPlan {
    /// The plan for `store`'s writes; `None` if this vault does not sync
    /// (checked again inside the commit).
    pub(crate) fn for_store(
        vault: &Vault,
        tasks: &[Task],
        lists: &[List],
        deletes: &[(RecordKind, Id)],
    ) -> Result<Option<LocalPlan>, VaultError> {
        if !vault.sync_enabled()? {
            return Ok(None);
        }
        let mut items = Vec::with_capacity(tasks.len() + lists.len() + deletes.len());
        for t in tasks {
            let e = vault.tasks.get(&t.id);
            items.push(Item::Task {
                before: e.map(|e| Box::new(e.value.clone())),
                record_seq: e.map(|e| e.seq),
                after: Box::new(t.clone()),
                bind: Bind::Commit,
            });
        }
        for l in lists {
            let e = vault.lists.get(&l.id);
            items.push(Item::List {
                before: e.map(|e| Box::new(e.value.clone())),
                record_seq: e.map(|e| e.seq),
                after: Box::new(l.clone()),
                bind: Bind::Commit,
            });
        }
        for (kind, id) in deletes {
            let (kind, seq) = match kind {
                RecordKind::Task => (TASK, vault.tasks.get(id).map(|e| e.seq)),
                RecordKind::List => (LIST, vault.lists.get(id).map(|e| e.seq)),
                _ => continue,
            };
            if let Some(record_seq) = seq {
                items.push(Item::Delete {
                    kind,
                    id: *id,
                    record_seq,
                });
            }
        }
        Ok(Some(LocalPlan {
            now_ms: now_ms(vault),
            items,
        }))
    }

    /// Every record in memory, as creations bound to their own rows
    /// (signing in to an account: what was here before is sent).
    pub(crate) fn stamp_existing(vault: &Vault) -> LocalPlan {
        let mut items = Vec::with_capacity(vault.tasks.len() + vault.lists.len());
        // Lists first, so a receiver that applies in order meets a
        // task's list before the task (not required, but tidy).
        let mut lists: Vec<_> = vault.lists.values().collect();
        lists.sort_by_key(|e| e.value.id);
        for e in lists {
            items.push(Item::List {
                before: None,
                record_seq: Some(e.seq),
                after: Box::new(e.value.clone()),
                bind: Bind::Record(e.seq),
            });
        }
        let mut tasks: Vec<_> = vault.tasks.values().collect();
        tasks.sort_by_key(|e| e.value.id);
        for e in tasks {
            items.push(Item::Task {
                before: None,
                record_seq: Some(e.seq),
                after: Box::new(e.value.clone()),
                bind: Bind::Record(e.seq),
            });
        }
        LocalPlan {
            now_ms: now_ms(vault),
            items,
        }
    }

    /// Inside the commit: stamps, applies and stores the operations.
    pub(crate) fn record(&self, cx: &mut InTx<'_, '_>) -> Result<(), VaultError> {
        let Some(clock_state) = read_in::<ClockState>(cx, CLOCK)? else {
            // Signed out meanwhile: nothing to record.
            return Ok(());
        };
        let mut clock = HlcClock::resume(
            clock_state.value.device,
            (clock_state.value.ms, clock_state.value.counter),
        );
        let mut wire: Vec<WireOp> = Vec::new();
        for item in &self.items {
            let (r, record_seq) = match item {
                Item::Task {
                    after, record_seq, ..
                } => (record_ref(TASK, after.id), *record_seq),
                Item::List {
                    after, record_seq, ..
                } => (record_ref(LIST, after.id), *record_seq),
                Item::Delete {
                    kind,
                    id,
                    record_seq,
                } => (record_ref(kind, *id), Some(*record_seq)),
            };
            let stored = store::read_record(
                cx.tx,
                Some(&mut *cx.ledger),
                cx.key,
                cx.key_id,
                &r,
                record_seq,
            )?;
            if let Some(s) = &stored {
                if s.state.deleted.is_some() {
                    return Err(SyncError::Purged {
                        kind: r.kind.clone(),
                        id: r.id.to_string(),
                    }
                    .into());
                }
            }
            let prev = stored.as_ref().map(|s| (s.seq, s.bare));
            let base = stored.as_ref().map(|s| &s.state);
            let (actions, bare, bind) = match item {
                Item::Task {
                    before,
                    after,
                    bind,
                    ..
                } => (
                    task_actions(base.and(before.as_deref()), base, after),
                    false,
                    *bind,
                ),
                Item::List {
                    before,
                    after,
                    bind,
                    ..
                } => (
                    list_actions(base.and(before.as_deref()), base, after),
                    false,
                    *bind,
                ),
                Item::Delete { .. } => (vec![Action::Delete], true, Bind::Commit),
            };
            let mut replica = Replica::new();
            replica
                .records
                .insert(r.clone(), stored.map(|s| s.state).unwrap_or_default());
            for action in actions {
                let op = Op {
                    record: r.clone(),
                    action,
                    hlc: clock.tick(self.now_ms).map_err(SyncError::from)?,
                };
                replica.apply(&op);
                wire.push(op.to_wire());
            }
            let state: RecordState = replica.records.remove(&r).unwrap_or_default();
            let seq = match bind {
                Bind::Commit => cx.seq,
                Bind::Record(s) => s,
            };
            store::write_record(cx, &r, &state, bare, seq, prev)?;
        }
        if !wire.is_empty() {
            let plain =
                zeroize::Zeroizing::new(serde_json::to_vec(&wire).expect("operations serialise"));
            store::append_outbox(cx, OutboxKind::Ops, &plain)?;
        }
        let (ms, counter) = clock.last();
        let next = ClockState {
            device: clock_state.value.device,
            ms,
            counter,
        };
        store::write_state(cx, CLOCK, &next, Some(clock_state.seq))
    }
}

fn now_ms(vault: &Vault) -> u64 {
    vault.env.now().timestamp_millis().max(0) as u64
}
