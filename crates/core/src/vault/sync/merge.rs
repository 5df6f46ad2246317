//! Merging verified remote operations into the vault
//! (`docs/sync-protocol.md` §3 and §12 step 4).
//!
//! The merge states of every record are joined with the operations (the
//! protocol's `Replica`: per-field LWW on the HLC, tombstones absorbing,
//! per-tag presence), then `Replica::view` derives what users see, and
//! the vault's records are made equal to that view: changed or newly
//! visible records are written, records no longer visible (tombstoned,
//! or hidden under a tombstoned parent) are removed. All of it — records,
//! merge states, the verifier's state and the clock — is one commit, so
//! a crash leaves either the page merged and the cursor past it, or
//! neither.

use std::collections::{BTreeMap, BTreeSet};

use productivitypro_sync_protocol::merge::{View, LIST_FIELD, PARENT_FIELD};
use productivitypro_sync_protocol::{ChainState, HlcClock, Op, RecordRef, Replica};
use serde_json::Value;

use super::fields::{derive_list, derive_task, same_list, same_task, LIST, TASK};
use super::store::{self, StoredState};
use super::{read_in, ClockState, Link, SyncError, CLOCK, LINK};
use crate::crypto::RecordKind;
use crate::domain::{Id, List, Task};
use crate::error::VaultError;
use crate::vault::history::HistoryOp;
use crate::vault::Vault;

/// What a merge joins into the vault.
pub(crate) enum Incoming<'a> {
    /// Operations from verified batches.
    Ops(&'a [Op]),
    /// A verified snapshot's whole state.
    State(&'a Replica),
}

/// What one merge changed in the vault.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeReport {
    pub ops: usize,
    pub written: usize,
    pub removed: usize,
}

fn view_id(v: &Value) -> Option<Id> {
    serde_json::from_value::<Option<Id>>(v.clone())
        .ok()
        .flatten()
}

fn task_from_view(id: Id, s: &StoredState, v: &View) -> Option<Task> {
    let parent = v.fields.get(PARENT_FIELD).and_then(view_id);
    let mut t = derive_task(id, &s.state, parent)?;
    // Rule 4: a list that is gone reads as the inbox.
    t.list = v.fields.get(LIST_FIELD).and_then(view_id);
    Some(t)
}

impl Vault {
    /// Joins `ops` (verified, from other devices or our own served back)
    /// into the vault and stores `chain` as the verifier's new state, in
    /// one transaction. `link_seq` is the sequence the link was read at:
    /// if another process moved it meanwhile, nothing is written
    /// (`sync_state_moved`).
    pub(crate) fn sync_merge(
        &mut self,
        incoming: Incoming<'_>,
        chain: ChainState,
        link_seq: i64,
    ) -> Result<MergeReport, VaultError> {
        // Every merge state, checked (bare ones against the ledger,
        // bound ones against their records), in one read.
        let stored: Vec<(RecordRef, StoredState)> = {
            let tx = self.conn.unchecked_transaction()?;
            let mut ledger = self.ledger_reader(&tx)?;
            let all = store::read_all_records(&tx, &mut ledger, &self.key, self.key_id)?;
            drop(ledger);
            tx.finish()?;
            all
        };
        let mut prev: BTreeMap<RecordRef, (i64, bool)> = BTreeMap::new();
        let mut replica = Replica::new();
        let mut states: BTreeMap<RecordRef, StoredState> = BTreeMap::new();
        for (r, s) in stored {
            prev.insert(r.clone(), (s.seq, s.bare));
            replica.records.insert(r.clone(), s.state.clone());
            states.insert(r, s);
        }
        let mut changed: BTreeSet<RecordRef> = BTreeSet::new();
        let (count, max_hlc) = match incoming {
            Incoming::Ops(ops) => {
                for op in ops {
                    if replica.apply(op) {
                        changed.insert(op.record.clone());
                    }
                }
                (ops.len(), ops.iter().map(|o| o.hlc).max())
            }
            Incoming::State(other) => {
                // Record by record, to know which ones the join changed.
                for (r, s) in &other.records {
                    let mut mine = Replica::new();
                    mine.records.insert(
                        r.clone(),
                        replica.records.get(r).cloned().unwrap_or_default(),
                    );
                    let mut theirs = Replica::new();
                    theirs.records.insert(r.clone(), s.clone());
                    if mine.join(&theirs) {
                        if let Some(joined) = mine.records.remove(r) {
                            replica.records.insert(r.clone(), joined);
                        }
                        changed.insert(r.clone());
                    }
                }
                (other.records.len(), other.max_hlc())
            }
        };
        let view = replica.view();

        let mut put_tasks: Vec<Task> = Vec::new();
        let mut put_lists: Vec<List> = Vec::new();
        let mut deletes: Vec<(RecordKind, Id)> = Vec::new();
        let mut touched: BTreeSet<RecordRef> = changed.clone();
        for (r, v) in &view {
            let id = Id::from_bytes(r.id.0);
            let state = StoredState {
                state: replica.records[r].clone(),
                seq: 0,
                bare: false,
            };
            match r.kind.as_str() {
                TASK => {
                    let Some(t) = task_from_view(id, &state, v) else {
                        continue;
                    };
                    let same = self.tasks.get(&id).is_some_and(|e| same_task(&e.value, &t));
                    if !same || changed.contains(r) {
                        touched.insert(r.clone());
                        put_tasks.push(t);
                    }
                }
                LIST => {
                    let Some(l) = derive_list(id, &state.state) else {
                        continue;
                    };
                    let same = self.lists.get(&id).is_some_and(|e| same_list(&e.value, &l));
                    if !same || changed.contains(r) {
                        touched.insert(r.clone());
                        put_lists.push(l);
                    }
                }
                // A kind this version does not know: its state is kept
                // (and sent on in snapshots), nothing is shown.
                _ => {}
            }
        }
        for id in self.tasks.keys() {
            let r = super::local::record_ref(TASK, *id);
            if !view.contains_key(&r) && replica.records.contains_key(&r) {
                touched.insert(r);
                deletes.push((RecordKind::Task, *id));
            }
        }
        for id in self.lists.keys() {
            let r = super::local::record_ref(LIST, *id);
            if !view.contains_key(&r) && replica.records.contains_key(&r) {
                touched.insert(r);
                deletes.push((RecordKind::List, *id));
            }
        }
        // Every touched state is written at this commit's sequence: bound
        // to its record if the record is visible (it is written too), bare
        // otherwise.
        let writes: Vec<(RecordRef, bool)> = touched
            .into_iter()
            .filter(|r| replica.records.contains_key(r))
            .map(|r| {
                let known_kind = r.kind == TASK || r.kind == LIST;
                let bare = !(known_kind && view.contains_key(&r));
                (r, bare)
            })
            .collect();
        let now = self.env.now();
        let report = MergeReport {
            ops: count,
            written: put_tasks.len() + put_lists.len(),
            removed: deletes.len(),
        };
        let mut chain = Some(chain);
        self.store_with(put_tasks, put_lists, deletes, HistoryOp::None, &mut |cx| {
            let Some(link) = read_in::<Link>(cx, LINK)? else {
                return Err(SyncError::NotSignedIn.into());
            };
            if link.seq != link_seq {
                return Err(SyncError::StateMoved.into());
            }
            for (r, bare) in &writes {
                let p = prev.get(r).copied();
                if store::record_seq(cx.tx, r)? != p.map(|p| p.0) {
                    return Err(SyncError::StateMoved.into());
                }
                store::write_record(cx, r, &replica.records[r], *bare, cx.seq, p)?;
            }
            let mut l = link.value;
            if let Some(c) = chain.take() {
                l.chain = c;
            }
            l.chain.prune(super::KEEP_HASHES);
            l.last_exchange = Some(now);
            store::write_state(cx, LINK, &l, Some(link.seq))?;
            if let Some(h) = max_hlc {
                if let Some(c) = read_in::<ClockState>(cx, CLOCK)? {
                    let mut clock = HlcClock::resume(c.value.device, (c.value.ms, c.value.counter));
                    clock.observe(&h);
                    let (ms, counter) = clock.last();
                    let next = ClockState {
                        device: c.value.device,
                        ms,
                        counter,
                    };
                    store::write_state(cx, CLOCK, &next, Some(c.seq))?;
                }
            }
            Ok(())
        })?;
        Ok(report)
    }
}
