//! What changed: reported by every mutation, and picked up from other
//! processes (the app and `pp` on one vault) by polling the committed
//! change sequence and reloading only the records written after it.

use std::collections::BTreeSet;

use rusqlite::OptionalExtension;

use super::{Entry, Vault};
use crate::crypto::RecordKind;
use crate::domain::{ListId, TaskId};
use crate::error::VaultError;

/// Records added, changed or removed — by this process's actions or, after
/// [`Vault::refresh`], by another process. A front end patches its cache
/// with it instead of diffing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Added or changed, and still there (look them up for their content).
    pub tasks: BTreeSet<TaskId>,
    /// Gone for good (trash emptied, undo of an add).
    pub removed_tasks: BTreeSet<TaskId>,
    pub lists: BTreeSet<ListId>,
    pub removed_lists: BTreeSet<ListId>,
    /// The tag table (names or open counts) may have changed.
    pub tags: bool,
    /// This session's undo/redo stacks changed.
    pub history: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.removed_tasks.is_empty()
            && self.lists.is_empty()
            && self.removed_lists.is_empty()
            && !self.tags
            && !self.history
    }

    pub(super) fn task_changed(&mut self, id: TaskId) {
        self.removed_tasks.remove(&id);
        self.tasks.insert(id);
    }

    pub(super) fn task_removed(&mut self, id: TaskId) {
        self.tasks.remove(&id);
        self.removed_tasks.insert(id);
    }

    pub(super) fn list_changed(&mut self, id: ListId) {
        self.removed_lists.remove(&id);
        self.lists.insert(id);
    }

    pub(super) fn list_removed(&mut self, id: ListId) {
        self.lists.remove(&id);
        self.removed_lists.insert(id);
    }

    /// `later` happened after `self`: a later change or removal of the
    /// same record wins.
    pub fn merge(&mut self, later: Changes) {
        for id in later.tasks {
            self.task_changed(id);
        }
        for id in later.removed_tasks {
            self.task_removed(id);
        }
        for id in later.lists {
            self.list_changed(id);
        }
        for id in later.removed_lists {
            self.list_removed(id);
        }
        self.tags |= later.tags;
        self.history |= later.history;
    }
}

impl Vault {
    /// Everything changed since the last call (by this process's actions
    /// and by [`refresh`](Self::refresh)), and forgets it.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// The change sequence of the last commit to the file, by any process.
    /// One indexed read: cheap enough to poll every few hundred ms. It is
    /// a plaintext mirror of the integrity ledger's head, a hint only:
    /// `refresh` checks what it reloads against the sealed ledger.
    pub fn disk_change_seq(&self) -> Result<i64, VaultError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'change_seq'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Whether another process committed something this one has not read.
    pub fn has_outside_changes(&self) -> Result<bool, VaultError> {
        Ok(self.disk_change_seq()? > self.seen_seq)
    }

    /// Reloads the records other processes wrote or deleted since memory
    /// was last current, and only those, each checked against the
    /// integrity ledger read in the same transaction (a record dropped,
    /// put back or rolled back outside the app is `record_missing` or
    /// `vault_rolled_back`, and memory is left as it was). Returns
    /// whether anything changed; what did is added to
    /// [`take_changes`](Self::take_changes). After another process
    /// rotated the data key this fails with `key_rotated`: open the vault
    /// again.
    pub fn refresh(&mut self) -> Result<bool, VaultError> {
        if !self.has_outside_changes()? {
            return Ok(false);
        }
        let changed = self.read_changed_since(self.seen_seq)?;
        let mut changes = Changes::default();
        let mut renamed: BTreeSet<ListId> = BTreeSet::new();
        for (l, seq) in changed.lists {
            let same = self.lists.get(&l.id).is_some_and(|e| e.seq == seq);
            if same {
                continue;
            }
            if self.lists.get(&l.id).is_none_or(|e| e.value.name != l.name) {
                renamed.insert(l.id);
            }
            changes.list_changed(l.id);
            self.lists.insert(l.id, Entry { value: l, seq });
        }
        for (t, seq) in changed.tasks {
            if self.tasks.get(&t.id).is_some_and(|e| e.seq == seq) {
                // Our own write, already in memory.
                continue;
            }
            let had_tags = self
                .tasks
                .get(&t.id)
                .is_some_and(|e| !e.value.tags.is_empty());
            changes.tags |= had_tags || !t.tags.is_empty();
            changes.task_changed(t.id);
            if self.last_order.as_ref().is_none_or(|o| t.order > *o) {
                self.last_order = Some(t.order.clone());
            }
            self.index_task(&t);
            self.tasks.insert(t.id, Entry { value: t, seq });
        }
        for (kind, id) in changed.deleted {
            match kind {
                RecordKind::Task => {
                    if let Some(old) = self.tasks.remove(&id) {
                        self.unindex_task(&id);
                        changes.tags |= !old.value.tags.is_empty();
                        changes.task_removed(id);
                    }
                }
                RecordKind::List if self.lists.remove(&id).is_some() => {
                    renamed.insert(id);
                    changes.list_removed(id);
                }
                _ => {}
            }
        }
        if !renamed.is_empty() {
            // Search covers list names.
            let affected: Vec<_> = self
                .tasks
                .values()
                .filter(|e| e.value.list.is_some_and(|l| renamed.contains(&l)))
                .map(|e| e.value.clone())
                .collect();
            for t in &affected {
                self.index_task(t);
            }
        }
        self.seen_seq = self.seen_seq.max(changed.seq);
        let any = !changes.is_empty();
        self.changes.merge(changes);
        Ok(any)
    }
}
