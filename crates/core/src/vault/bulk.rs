//! Actions on many tasks at once. Each is one transaction and one undo
//! entry, all or nothing: an unknown or trashed id refuses the whole
//! action. Tasks the action would not change are not written.

use std::collections::HashMap;

use super::history::{count_label, HistoryOp};
use super::trash::dedup;
use super::{Completion, Vault};
use crate::domain::{normalize_tag, ListId, Priority, Task, TaskId};
use crate::error::VaultError;

impl Vault {
    /// Live copies of `ids` to edit; fails on the first unknown or trashed.
    fn editable(&self, ids: &[TaskId]) -> Result<Vec<Task>, VaultError> {
        dedup(ids)
            .into_iter()
            .map(|id| self.editable_task(id).cloned())
            .collect()
    }

    /// Writes the tasks `edit` changed (it returns whether it did), as one
    /// action labelled by how many changed. Returns the ids written.
    fn edit_each(
        &mut self,
        tasks: Vec<Task>,
        one: &str,
        many: &str,
        mut edit: impl FnMut(&mut Task) -> bool,
    ) -> Result<Vec<TaskId>, VaultError> {
        let now = self.env.now();
        let changed: Vec<Task> = tasks
            .into_iter()
            .filter_map(|mut t| {
                edit(&mut t).then(|| {
                    t.updated_at = now;
                    t
                })
            })
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let ids = changed.iter().map(|t| t.id).collect();
        let label = count_label(changed.len(), one, many);
        self.store(changed, vec![], vec![], HistoryOp::action(label))?;
        Ok(ids)
    }

    /// Completes tasks; recurring ones get their next occurrence. Returns
    /// what completing each task that was still open did.
    pub fn complete_tasks(&mut self, ids: &[TaskId]) -> Result<Vec<Completion>, VaultError> {
        self.editable(ids)?;
        let mut done = Vec::new();
        for id in dedup(ids) {
            if !self.tasks[&id].value.done {
                done.push(self.completion(id)?);
            }
        }
        if done.is_empty() {
            return Ok(done);
        }
        let writes: Vec<Task> = done
            .iter()
            .flat_map(|c| std::iter::once(c.done.clone()).chain(c.next.clone()))
            .collect();
        let label = count_label(done.len(), "Task completed", "tasks completed");
        self.store(writes, vec![], vec![], HistoryOp::action(label))?;
        Ok(done)
    }

    pub fn reopen_tasks(&mut self, ids: &[TaskId]) -> Result<Vec<TaskId>, VaultError> {
        let tasks = self.editable(ids)?;
        self.edit_each(tasks, "Task reopened", "tasks reopened", |t| {
            let was = t.done;
            t.done = false;
            t.done_at = None;
            was
        })
    }

    /// Moves tasks, with their subtasks, to a list (`None`: the Inbox).
    pub fn move_tasks(
        &mut self,
        ids: &[TaskId],
        list: Option<ListId>,
    ) -> Result<Vec<TaskId>, VaultError> {
        if let Some(l) = list {
            if !self.lists.contains_key(&l) {
                return Err(VaultError::ListNotFound(l.to_string()));
            }
        }
        let roots = self.editable(ids)?;
        let n = roots.iter().filter(|t| t.list != list).count();
        let all: Vec<TaskId> = self.with_descendants(ids);
        let tasks: Vec<Task> = all
            .iter()
            .map(|id| self.tasks[id].value.clone())
            .filter(|t| !t.is_trashed())
            .collect();
        let label = count_label(n.max(1), "Task moved", "tasks moved");
        let now = self.env.now();
        let changed: Vec<Task> = tasks
            .into_iter()
            .filter(|t| t.list != list)
            .map(|mut t| {
                t.list = list;
                t.updated_at = now;
                t
            })
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let written = changed.iter().map(|t| t.id).collect();
        self.store(changed, vec![], vec![], HistoryOp::action(label))?;
        Ok(written)
    }

    /// Adds and removes tags on tasks (a tag in both is added).
    pub fn tag_tasks(
        &mut self,
        ids: &[TaskId],
        add: &[String],
        remove: &[String],
    ) -> Result<Vec<TaskId>, VaultError> {
        let add: Vec<String> = add
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<_, _>>()?;
        let remove: Vec<String> = remove
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<_, _>>()?;
        let tasks = self.editable(ids)?;
        self.edit_each(tasks, "Tags changed", "tasks retagged", |t| {
            let before = t.tags.clone();
            for r in &remove {
                t.tags.remove(r);
            }
            t.tags.extend(add.iter().cloned());
            t.tags != before
        })
    }

    pub fn set_priority(
        &mut self,
        ids: &[TaskId],
        priority: Priority,
    ) -> Result<Vec<TaskId>, VaultError> {
        let tasks = self.editable(ids)?;
        self.edit_each(tasks, "Priority changed", "priorities changed", |t| {
            let was = t.priority;
            t.priority = priority;
            was != priority
        })
    }

    /// How many open, live tasks each list has.
    pub fn list_open_counts(&self) -> HashMap<ListId, usize> {
        let mut m: HashMap<ListId, usize> = self.lists.keys().map(|l| (*l, 0)).collect();
        for e in self.tasks.values() {
            if let (true, Some(l)) = (e.value.is_open(), e.value.list) {
                if let Some(c) = m.get_mut(&l) {
                    *c += 1;
                }
            }
        }
        m
    }
}
