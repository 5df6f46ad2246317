//! Merging verified remote operations into the vault
//! (`docs/sync-protocol.md` §3 and §12 step 4).
//!
//! The merge states of the records a batch can affect are joined with
//! its operations (the protocol's `Replica`: per-field LWW on the HLC,
//! tombstones absorbing, per-tag presence), then `Replica::view` derives
//! what users see, and the vault's records are made equal to that view:
//! changed or newly visible records are written, records no longer
//! visible (tombstoned, or hidden under a tombstoned parent) are removed.
//! All of it — records, merge states, the verifier's state and the clock
//! — is one commit, so a crash leaves either the page merged and the
//! cursor past it, or neither.
//!
//! What is read: for a batch of operations, only the states whose view
//! it can change and those their views derive from, by key
//! ([`Vault::read_touched`]), so a merge costs what the batch touches,
//! not what the vault holds; a snapshot, a batch touching most of the
//! vault, or an edit of a task hidden under a purged ancestor reads
//! every state. Both give the same vault (`sync/tests.rs`,
//! `chunked_merges_that_read_only_touched_states_match_a_merge_of_everything`).

use std::collections::{BTreeMap, BTreeSet};

use productivitypro_sync_protocol::merge::{RecordState, View, LIST_FIELD, PARENT_FIELD};
use productivitypro_sync_protocol::{ChainState, Hlc, HlcClock, Op, RecordId, RecordRef, Replica};
use serde_json::Value;

use super::fields::{derive_list, derive_task, same_list, same_task, LIST, TASK};
use super::store::{self, StoredState};
use super::{read_in, ClockState, Link, SyncError, CLOCK, LINK};
use crate::crypto::{KeyId, RecordKind, SecretKey};
use crate::domain::{Id, List, Task};
use crate::error::VaultError;
use crate::vault::history::HistoryOp;
use crate::vault::integrity::Pending;
use crate::vault::Vault;

/// What a merge joins into the vault.
#[derive(Clone, Copy)]
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

/// Which merge states a merge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Only what the incoming operations can change (see
    /// [`Vault::read_touched`]), unless that would be most of the vault.
    Auto,
    /// Every state (a snapshot; the reference the tests compare with).
    Everything,
}

/// Above this many touched records, and more than half of what the
/// vault holds, one pass over every state beats lookups one by one (a
/// new device's first pages).
const LOOKUP_LIMIT: usize = 256;

/// The replica a merge computes on, and what it needs to commit it.
struct Read {
    replica: Replica,
    /// Each read state's stored (sequence, bare), for the commit's checks.
    prev: BTreeMap<RecordRef, (i64, bool)>,
    /// Records whose state the incoming data changed.
    changed: BTreeSet<RecordRef>,
    count: usize,
    max_hlc: Option<Hlc>,
}

/// A task's `parent` as the view reads it.
fn parent_ref(s: &RecordState) -> Option<RecordRef> {
    let id = s
        .fields
        .get(PARENT_FIELD)?
        .0
        .as_str()?
        .parse::<RecordId>()
        .ok()?;
    Some(RecordRef::new(TASK, id))
}

/// A task's `list` as the view reads it.
fn list_ref(s: &RecordState) -> Option<RecordRef> {
    let id = s
        .fields
        .get(LIST_FIELD)?
        .0
        .as_str()?
        .parse::<RecordId>()
        .ok()?;
    Some(RecordRef::new(LIST, id))
}

/// Shown by `Replica::view` if nothing above it hides it (rule 1).
fn shows(s: &RecordState) -> bool {
    s.deleted.is_none() && !s.fields.is_empty()
}

/// States read by key inside one read transaction, remembering which
/// records have none.
struct Lookup<'t> {
    tx: &'t rusqlite::Connection,
    ledger: Pending<'t>,
    key: &'t SecretKey,
    key_id: KeyId,
    found: BTreeMap<RecordRef, StoredState>,
    absent: BTreeSet<RecordRef>,
}

impl Lookup<'_> {
    fn load<'r>(
        &mut self,
        refs: impl IntoIterator<Item = &'r RecordRef>,
    ) -> Result<(), VaultError> {
        let want: Vec<RecordRef> = refs
            .into_iter()
            .filter(|r| !self.found.contains_key(*r) && !self.absent.contains(*r))
            .cloned()
            .collect();
        if want.is_empty() {
            return Ok(());
        }
        let got = store::read_records(self.tx, &mut self.ledger, self.key, self.key_id, &want)?;
        for (r, s) in got {
            self.found.insert(r, s);
        }
        for r in want {
            if !self.found.contains_key(&r) {
                self.absent.insert(r);
            }
        }
        Ok(())
    }

    fn get(&mut self, r: &RecordRef) -> Result<Option<&StoredState>, VaultError> {
        self.load([r])?;
        Ok(self.found.get(r))
    }
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
        self.sync_merge_in(incoming, chain, link_seq, Scope::Auto)
    }

    pub(crate) fn sync_merge_in(
        &mut self,
        incoming: Incoming<'_>,
        chain: ChainState,
        link_seq: i64,
        scope: Scope,
    ) -> Result<MergeReport, VaultError> {
        let Read {
            replica,
            prev,
            changed,
            count,
            max_hlc,
        } = match (incoming, scope) {
            (Incoming::Ops(ops), Scope::Auto) => match self.read_touched(ops)? {
                Some(read) => read,
                None => self.read_everything(incoming)?,
            },
            _ => self.read_everything(incoming)?,
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
        // Shown here, gone from the view: removed. (Only records in the
        // replica can be: a merge that read part of the states changes
        // no other record's view.)
        for r in replica.records.keys() {
            if view.contains_key(r) {
                continue;
            }
            let id = Id::from_bytes(r.id.0);
            let kind = match r.kind.as_str() {
                TASK if self.tasks.contains_key(&id) => RecordKind::Task,
                LIST if self.lists.contains_key(&id) => RecordKind::List,
                _ => continue,
            };
            touched.insert(r.clone());
            deletes.push((kind, id));
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

impl Vault {
    /// Every merge state, checked (bare ones against the ledger, bound
    /// ones against their records), in one read, with `incoming` joined.
    fn read_everything(&self, incoming: Incoming<'_>) -> Result<Read, VaultError> {
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
        for (r, s) in stored {
            prev.insert(r.clone(), (s.seq, s.bare));
            replica.records.insert(r, s.state);
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
        Ok(Read {
            replica,
            prev,
            changed,
            count,
            max_hlc,
        })
    }

    /// The merge states `ops` can change the view of, and everything
    /// their view is derived from, read by key — so a merge costs what
    /// its batch touches, not what the vault holds. `None`: read
    /// everything instead (a batch touching most of the vault, or one
    /// that edits a task hidden under a purged ancestor, whose hidden
    /// subtasks only a full read can find).
    ///
    /// Which views can change (`Replica::view`'s rules): the touched
    /// records'; every task below one of them (rules 2 and 3 follow
    /// `parent`) — memory knows the shown ones, and a hidden one can
    /// only change through a touched hidden task (everything between a
    /// hidden task and its purged ancestor is hidden too); the other
    /// members of a parent cycle a touched task was in (the cycle's loser
    /// shows no parent, so memory does not list it as a child); and the
    /// tasks of a list this batch purged (rule 4). Each of those views is
    /// derived from its chain of parents and its list, which are read
    /// too, so every view computed on the partial replica is the one the
    /// whole replica gives.
    fn read_touched(&self, ops: &[Op]) -> Result<Option<Read>, VaultError> {
        let touched: BTreeSet<RecordRef> = ops.iter().map(|o| o.record.clone()).collect();
        let known = self.tasks.len() + self.lists.len();
        if touched.len() > LOOKUP_LIMIT && touched.len() * 2 > known {
            return Ok(None);
        }
        let tx = self.conn.unchecked_transaction()?;
        let ledger = self.ledger_reader(&tx)?;
        let mut look = Lookup {
            tx: &tx,
            ledger,
            key: &self.key,
            key_id: self.key_id,
            found: BTreeMap::new(),
            absent: BTreeSet::new(),
        };
        look.load(&touched)?;
        let hidden_touched = touched.iter().any(|r| {
            look.found
                .get(r)
                .is_some_and(|s| s.bare && r.kind == TASK && shows(&s.state))
        });
        if hidden_touched {
            return Ok(None);
        }
        // The parent cycles the touched tasks were in, from the stored
        // states (before the operations).
        let mut base: BTreeSet<RecordRef> = touched.clone();
        for start in touched.iter().filter(|r| r.kind == TASK) {
            let mut path: Vec<RecordRef> = Vec::new();
            let mut cur = look
                .get(start)?
                .filter(|s| shows(&s.state))
                .and_then(|s| parent_ref(&s.state));
            while let Some(p) = cur {
                if p == *start {
                    base.extend(path);
                    break;
                }
                if path.contains(&p) {
                    break;
                }
                cur = look
                    .get(&p)?
                    .filter(|s| shows(&s.state))
                    .and_then(|s| parent_ref(&s.state));
                path.push(p);
            }
        }
        let mut prev: BTreeMap<RecordRef, (i64, bool)> = BTreeMap::new();
        let mut replica = Replica::new();
        for (r, s) in &look.found {
            prev.insert(r.clone(), (s.seq, s.bare));
            replica.records.insert(r.clone(), s.state.clone());
        }
        let mut changed: BTreeSet<RecordRef> = BTreeSet::new();
        for op in ops {
            if replica.apply(op) {
                changed.insert(op.record.clone());
            }
        }
        // Shown tasks below the base, from memory.
        let mut children: std::collections::HashMap<Id, Vec<Id>> = std::collections::HashMap::new();
        for e in self.tasks.values() {
            if let Some(p) = e.value.parent {
                children.entry(p).or_default().push(e.value.id);
            }
        }
        let mut scope: BTreeSet<RecordRef> = BTreeSet::new();
        let mut stack: Vec<Id> = base
            .iter()
            .filter(|r| r.kind == TASK)
            .map(|r| Id::from_bytes(r.id.0))
            .collect();
        while let Some(id) = stack.pop() {
            for c in children.get(&id).into_iter().flatten() {
                if scope.insert(super::local::record_ref(TASK, *c)) {
                    stack.push(*c);
                }
            }
        }
        // Tasks of a list purged by this batch.
        let purged_lists: BTreeSet<Id> = changed
            .iter()
            .filter(|r| r.kind == LIST && replica.is_deleted(r))
            .map(|r| Id::from_bytes(r.id.0))
            .collect();
        if !purged_lists.is_empty() {
            for e in self.tasks.values() {
                if e.value.list.is_some_and(|l| purged_lists.contains(&l)) {
                    scope.insert(super::local::record_ref(TASK, e.value.id));
                }
            }
        }
        // Then everything those views derive from: parents up the chain,
        // and lists, until nothing new is named.
        let mut want: Vec<RecordRef> = scope.into_iter().collect();
        loop {
            look.load(&want)?;
            for r in &want {
                if let Some(s) = look.found.get(r) {
                    if !replica.records.contains_key(r) {
                        prev.insert(r.clone(), (s.seq, s.bare));
                        replica.records.insert(r.clone(), s.state.clone());
                    }
                }
            }
            want = replica
                .records
                .iter()
                .filter(|(r, _)| r.kind == TASK)
                .flat_map(|(_, s)| parent_ref(s).into_iter().chain(list_ref(s)))
                .filter(|r| !replica.records.contains_key(r) && !look.absent.contains(r))
                .collect();
            if want.is_empty() {
                break;
            }
        }
        drop(look);
        tx.finish()?;
        Ok(Some(Read {
            replica,
            prev,
            changed,
            count: ops.len(),
            max_hlc: ops.iter().map(|o| o.hlc).max(),
        }))
    }
}
