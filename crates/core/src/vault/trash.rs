//! The trash. Deleting a task marks it (and its subtasks) trashed; it
//! keeps its list, parent and place in manual order, so restoring puts it
//! back exactly. Only emptying the trash — by the user, or automatically
//! for tasks trashed longer than the retention period — destroys records.

use std::collections::HashSet;

use chrono::Duration;
use rusqlite::OptionalExtension;

use super::history::{count_label, HistoryOp};
use super::Vault;
use crate::crypto::RecordKind;
use crate::domain::{Id, Task, TaskId};
use crate::error::VaultError;

/// How long tasks stay in the trash unless configured otherwise.
pub const DEFAULT_TRASH_RETENTION_DAYS: u32 = 30;
/// A hundred years: anything longer is a typo.
const MAX_RETENTION_DAYS: u32 = 36_500;

impl Vault {
    /// Days a task stays in the trash before it is emptied automatically
    /// (0: never).
    pub fn trash_retention_days(&self) -> Result<u32, VaultError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE name = 'trash_retention_days'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|v| v.clamp(0, MAX_RETENTION_DAYS as i64) as u32)
            .unwrap_or(DEFAULT_TRASH_RETENTION_DAYS))
    }

    pub fn set_trash_retention_days(&mut self, days: u32) -> Result<(), VaultError> {
        if days > MAX_RETENTION_DAYS {
            return Err(VaultError::InvalidSetting(format!(
                "trash retention of {days} days is more than {MAX_RETENTION_DAYS}; use 0 to keep the trash until it is emptied by hand"
            )));
        }
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('trash_retention_days', ?1)",
            [days as i64],
        )?;
        Ok(())
    }

    /// The tasks trashing `ids` writes: each live one of them and of their
    /// subtasks, stamped with one instant (how a restore recognises what
    /// went together).
    pub(super) fn trash_writes(&self, ids: &[TaskId]) -> Vec<Task> {
        let now = self.env.now();
        self.with_descendants(ids)
            .into_iter()
            .filter_map(|id| self.tasks.get(&id))
            .filter(|e| !e.value.is_trashed())
            .map(|e| {
                let mut t = e.value.clone();
                t.trashed_at = Some(now);
                t.updated_at = now;
                t
            })
            .collect()
    }

    /// Moves tasks and their subtasks to the trash, as one action. Tasks
    /// already there stay as they are. Returns every task trashed.
    pub fn trash_tasks(&mut self, ids: &[TaskId]) -> Result<Vec<TaskId>, VaultError> {
        let mut roots = 0;
        for id in dedup(ids) {
            if !self.task_entry(id)?.value.is_trashed() {
                roots += 1;
            }
        }
        let writes = self.trash_writes(ids);
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        let trashed = writes.iter().map(|t| t.id).collect();
        let label = count_label(roots, "Task deleted", "tasks deleted");
        self.store(writes, vec![], vec![], HistoryOp::action(label))?;
        Ok(trashed)
    }

    /// Takes tasks out of the trash, as one action, with the subtasks that
    /// were trashed together with them. Each goes back to its list, parent
    /// and place; to the Inbox if its list was deleted since, and to the
    /// top level if its parent is gone or still in the trash. Tasks not in
    /// the trash are left alone. Returns every task restored.
    pub fn restore_tasks(&mut self, ids: &[TaskId]) -> Result<Vec<TaskId>, VaultError> {
        let mut set: Vec<TaskId> = Vec::new();
        let mut seen = HashSet::new();
        let mut roots = 0;
        for id in dedup(ids) {
            let root = &self.task_entry(id)?.value;
            let Some(at) = root.trashed_at else { continue };
            roots += 1;
            for d in self.with_descendants(&[id]) {
                let t = &self.tasks[&d].value;
                if (d == id || t.trashed_at == Some(at)) && seen.insert(d) {
                    set.push(d);
                }
            }
        }
        if set.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.env.now();
        let restoring: HashSet<TaskId> = set.iter().copied().collect();
        let writes: Vec<Task> = set
            .iter()
            .map(|id| {
                let mut t = self.tasks[id].value.clone();
                t.trashed_at = None;
                t.updated_at = now;
                if t.list.is_some_and(|l| !self.lists.contains_key(&l)) {
                    t.list = None;
                }
                if let Some(p) = t.parent {
                    let parent_live = self
                        .tasks
                        .get(&p)
                        .is_some_and(|e| !e.value.is_trashed() || restoring.contains(&p));
                    if !parent_live {
                        t.parent = None;
                    }
                }
                t
            })
            .collect();
        let label = count_label(roots, "Task restored", "tasks restored");
        self.store(writes, vec![], vec![], HistoryOp::action(label))?;
        Ok(set)
    }

    /// Deletes tasks for good: the given ones (which must be in the
    /// trash), or the whole trash. Subtasks in the trash go with their
    /// parent. Undoable like any action until the history entry is
    /// dropped. Returns every task deleted.
    pub fn empty_trash(&mut self, ids: Option<&[TaskId]>) -> Result<Vec<TaskId>, VaultError> {
        let (targets, label) = match ids {
            Some(ids) => {
                let ids = dedup(ids);
                for id in &ids {
                    if !self.task_entry(*id)?.value.is_trashed() {
                        return Err(VaultError::TaskNotTrashed(id.to_string()));
                    }
                }
                let label = count_label(ids.len(), "Task deleted forever", "tasks deleted forever");
                (ids, label)
            }
            None => (self.trashed_ids(|_| true), "Trash emptied".to_string()),
        };
        self.destroy(&targets, HistoryOp::action(label))
    }

    /// Empties tasks that have been in the trash longer than the retention
    /// period. Not a user action: it is not recorded for undo. Call it at
    /// unlock and now and then; it writes nothing when nothing expired.
    pub fn empty_expired_trash(&mut self) -> Result<Vec<TaskId>, VaultError> {
        let days = self.trash_retention_days()?;
        if days == 0 {
            return Ok(Vec::new());
        }
        let cutoff = self.env.now() - Duration::days(days as i64);
        let targets = self.trashed_ids(|t| t.trashed_at.is_some_and(|at| at <= cutoff));
        self.destroy(&targets, HistoryOp::None)
    }

    fn trashed_ids(&self, keep: impl Fn(&Task) -> bool) -> Vec<TaskId> {
        let mut v: Vec<TaskId> = self
            .tasks
            .values()
            .map(|e| &e.value)
            .filter(|t| t.is_trashed() && keep(t))
            .map(|t| t.id)
            .collect();
        v.sort();
        v
    }

    /// Deletes `targets` and their trashed subtasks. A live subtask (which
    /// the trash never makes, but a file from elsewhere might hold) is
    /// moved to the top level instead of being deleted with it.
    fn destroy(&mut self, targets: &[TaskId], op: HistoryOp) -> Result<Vec<TaskId>, VaultError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.with_descendants(targets);
        let doomed: Vec<TaskId> = all
            .iter()
            .copied()
            .filter(|id| self.tasks[id].value.is_trashed())
            .collect();
        let doomed_set: HashSet<TaskId> = doomed.iter().copied().collect();
        let now = self.env.now();
        let detached: Vec<Task> = all
            .iter()
            .map(|id| &self.tasks[id].value)
            .filter(|t| !t.is_trashed() && t.parent.is_some_and(|p| doomed_set.contains(&p)))
            .map(|t| {
                let mut t = t.clone();
                t.parent = None;
                t.updated_at = now;
                t
            })
            .collect();
        let deletes: Vec<(RecordKind, Id)> =
            doomed.iter().map(|id| (RecordKind::Task, *id)).collect();
        self.store(detached, vec![], deletes, op)?;
        Ok(doomed)
    }
}

/// `ids` without repeats, in first-seen order.
pub(super) fn dedup(ids: &[TaskId]) -> Vec<TaskId> {
    let mut seen = HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}
