//! User actions on tasks and lists. Each public method is one transaction:
//! it validates, commits durably, and only then changes memory.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::history::{count_label, HistoryOp};
use super::records::{list_payload, task_payload, Write};
use super::{Changes, Entry, Vault};
use crate::crypto::RecordKind;
use crate::domain::{
    normalize_colour, normalize_tag, validate_tz, DomainError, Due, Id, List, ListId, Priority,
    Task, TaskId,
};
use crate::error::VaultError;
use crate::interchange::Bundle;
use crate::order::OrderKey;
use crate::recurrence::Recurrence;
use productivitypro_sync_protocol::op::successor_id;
use productivitypro_sync_protocol::RecordId;

/// Everything needed to add a task; the vault fills in ids and times.
#[derive(Debug, Clone, Default)]
pub struct TaskDraft {
    pub title: String,
    pub notes: String,
    pub list: Option<ListId>,
    /// Put the task in the list with this name, created in the same
    /// transaction if it does not exist (overrides `list`).
    pub list_name: Option<String>,
    pub tags: BTreeSet<String>,
    pub priority: Priority,
    pub due: Option<Due>,
    pub recurrence: Option<Recurrence>,
    pub parent: Option<TaskId>,
}

/// Where a quick-add line was typed, for [`Vault::quick_add`].
#[derive(Debug, Clone, Default)]
pub struct QuickAddContext {
    /// The list of the view it was typed in (a `#list` in the text wins).
    pub list: Option<ListId>,
    /// Add it as a subtask of this task (in the parent's list unless a
    /// list is given, see [`Vault::add_task`]).
    pub parent: Option<TaskId>,
    /// Typed in the Today view: due today unless the text gives a date.
    pub due_today: bool,
    pub notes: String,
}

/// A change to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub notes: Option<String>,
    pub list: Option<Option<ListId>>,
    /// Move to the list with this name, created in the same transaction if
    /// needed (overrides `list`).
    pub list_name: Option<String>,
    pub add_tags: Vec<String>,
    pub remove_tags: Vec<String>,
    pub priority: Option<Priority>,
    pub due: Option<Option<Due>>,
    pub recurrence: Option<Option<Recurrence>>,
    pub parent: Option<Option<TaskId>>,
    /// Move to just before this task in manual order.
    pub move_before: Option<TaskId>,
    /// Move to just after this task in manual order.
    pub move_after: Option<TaskId>,
}

#[derive(Debug, Clone, Default)]
pub struct ListPatch {
    pub name: Option<String>,
    pub colour: Option<Option<String>>,
    pub archived: Option<bool>,
    /// Move to just before this list in manual order.
    pub move_before: Option<ListId>,
    /// Move to just after this list in manual order.
    pub move_after: Option<ListId>,
}

impl TaskPatch {
    fn is_only_a_move(&self) -> bool {
        let TaskPatch {
            title,
            notes,
            list,
            list_name,
            add_tags,
            remove_tags,
            priority,
            due,
            recurrence,
            parent,
            move_before,
            move_after,
        } = self;
        (move_before.is_some() || move_after.is_some() || list.is_some() || list_name.is_some())
            && title.is_none()
            && notes.is_none()
            && add_tags.is_empty()
            && remove_tags.is_empty()
            && priority.is_none()
            && due.is_none()
            && recurrence.is_none()
            && parent.is_none()
    }
}

/// What completing a task did.
#[derive(Debug, Clone)]
pub struct Completion {
    pub done: Task,
    /// The next occurrence, for a recurring task with a due date.
    pub next: Option<Task>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportReport {
    pub tasks: usize,
    pub lists_created: usize,
    pub lists_reused: usize,
}

fn clean_title(t: &str) -> Result<String, DomainError> {
    let t = t.trim();
    if t.is_empty() {
        Err(DomainError::EmptyTitle)
    } else {
        Ok(t.to_string())
    }
}

fn validate_due(due: &Option<Due>) -> Result<(), DomainError> {
    if let Some(Due { tz: Some(tz), .. }) = due {
        validate_tz(tz)?;
    }
    Ok(())
}

fn normalize_tags<'a>(
    tags: impl IntoIterator<Item = &'a String>,
) -> Result<BTreeSet<String>, DomainError> {
    tags.into_iter().map(|t| normalize_tag(t)).collect()
}

impl Vault {
    fn check_list(&self, list: Option<ListId>) -> Result<(), VaultError> {
        match list {
            Some(l) if !self.lists.contains_key(&l) => Err(VaultError::ListNotFound(l.to_string())),
            _ => Ok(()),
        }
    }

    fn check_parent(&self, task: Option<TaskId>, parent: Option<TaskId>) -> Result<(), VaultError> {
        let Some(mut p) = parent else { return Ok(()) };
        if self.live_task(p)?.is_trashed() {
            return Err(VaultError::TaskTrashed(p.to_string()));
        }
        let mut seen = HashSet::new();
        loop {
            if Some(p) == task || !seen.insert(p) {
                return Err(VaultError::ParentCycle(p.to_string()));
            }
            match self.tasks.get(&p).and_then(|e| e.value.parent) {
                Some(next) => p = next,
                None => return Ok(()),
            }
        }
    }

    pub(super) fn task_entry(&self, id: TaskId) -> Result<&Entry<Task>, VaultError> {
        self.tasks
            .get(&id)
            .ok_or_else(|| VaultError::TaskNotFound(id.to_string()))
    }

    /// The task, which must exist; trashed ones are returned too.
    fn live_task(&self, id: TaskId) -> Result<&Task, VaultError> {
        Ok(&self.task_entry(id)?.value)
    }

    /// The task for an edit: it must exist and not be in the trash
    /// (restore it first).
    pub(super) fn editable_task(&self, id: TaskId) -> Result<&Task, VaultError> {
        let t = &self.task_entry(id)?.value;
        if t.is_trashed() {
            return Err(VaultError::TaskTrashed(id.to_string()));
        }
        Ok(t)
    }

    fn next_order(&self) -> OrderKey {
        OrderKey::between(self.last_order.as_ref(), None)
    }

    /// Writes `tasks` and `lists` (new or changed) and deletes `deletes`
    /// in one transaction — with the undo entry `history` asks for — then
    /// updates memory and the pending [`Changes`](super::Changes).
    pub(super) fn store(
        &mut self,
        tasks: Vec<Task>,
        lists: Vec<List>,
        deletes: Vec<(RecordKind, Id)>,
        history: HistoryOp,
    ) -> Result<(), VaultError> {
        // A syncing vault records the action's operations in its commit.
        let plan = super::sync::LocalPlan::for_store(self, &tasks, &lists, &deletes)?;
        self.store_with(tasks, lists, deletes, history, &mut |cx| match &plan {
            Some(p) => p.record(cx),
            // Sync was switched on after the plan was made: the action
            // must not commit without its operations.
            None if super::sync::store::state_exists(cx.tx, super::sync::CLOCK)? => {
                Err(super::sync::SyncError::StateMoved.into())
            }
            None => Ok(()),
        })
    }

    /// [`Self::store`] with the sync work of the commit given: recording a
    /// local action's operations, or a merge's states and verifier state.
    pub(super) fn store_with(
        &mut self,
        tasks: Vec<Task>,
        lists: Vec<List>,
        deletes: Vec<(RecordKind, Id)>,
        history: HistoryOp,
        sync: super::records::TxHook<'_>,
    ) -> Result<(), VaultError> {
        let mut writes = Vec::with_capacity(tasks.len() + lists.len() + deletes.len());
        for t in &tasks {
            let (format, plaintext) = task_payload(t);
            writes.push(Write::Put {
                kind: RecordKind::Task,
                id: t.id,
                format,
                plaintext,
                expected_seq: self.tasks.get(&t.id).map(|e| e.seq),
            });
        }
        for l in &lists {
            let (format, plaintext) = list_payload(l);
            writes.push(Write::Put {
                kind: RecordKind::List,
                id: l.id,
                format,
                plaintext,
                expected_seq: self.lists.get(&l.id).map(|e| e.seq),
            });
        }
        for (kind, id) in &deletes {
            let expected_seq = match kind {
                RecordKind::Task => self
                    .tasks
                    .get(id)
                    .map(|e| e.seq)
                    .ok_or_else(|| VaultError::TaskNotFound(id.to_string())),
                RecordKind::List => self
                    .lists
                    .get(id)
                    .map(|e| e.seq)
                    .ok_or_else(|| VaultError::ListNotFound(id.to_string())),
                other => unreachable!("{} records are not written by store", other.as_str()),
            }?;
            writes.push(Write::Delete {
                kind: *kind,
                id: *id,
                expected_seq,
            });
        }
        let entry = self.history_entry(history, &writes)?;
        let seq = self.commit_with(writes, &mut |cx| {
            if let Some(e) = &entry {
                e.write(cx)?;
            }
            sync(cx)
        })?;

        let mut changes = Changes {
            history: entry.is_some(),
            ..Default::default()
        };
        let renamed_lists: Vec<ListId> = lists.iter().map(|l| l.id).collect();
        for l in lists {
            changes.list_changed(l.id);
            self.lists.insert(l.id, Entry { value: l, seq });
        }
        for (kind, id) in deletes {
            match kind {
                RecordKind::Task => {
                    if let Some(old) = self.tasks.remove(&id) {
                        changes.tags |= !old.value.tags.is_empty();
                    }
                    self.unindex_task(&id);
                    changes.task_removed(id);
                }
                RecordKind::List => {
                    self.lists.remove(&id);
                    changes.list_removed(id);
                }
                _ => {}
            }
        }
        for t in tasks {
            if self.last_order.as_ref().is_none_or(|o| t.order > *o) {
                self.last_order = Some(t.order.clone());
            }
            let had_tags = self
                .tasks
                .get(&t.id)
                .is_some_and(|e| !e.value.tags.is_empty());
            changes.tags |= had_tags || !t.tags.is_empty();
            changes.task_changed(t.id);
            self.index_task(&t);
            self.tasks.insert(t.id, Entry { value: t, seq });
        }
        if !renamed_lists.is_empty() {
            let affected: Vec<Task> = self
                .tasks
                .values()
                .filter(|e| e.value.list.is_some_and(|l| renamed_lists.contains(&l)))
                .map(|e| e.value.clone())
                .collect();
            for t in &affected {
                self.index_task(t);
            }
        }
        self.changes.merge(changes);
        Ok(())
    }

    /// Adds a task. A subtask given no list goes into its parent's.
    pub fn add_task(&mut self, draft: TaskDraft) -> Result<Task, VaultError> {
        let title = clean_title(&draft.title)?;
        self.check_parent(None, draft.parent)?;
        let (list, new_list) = match &draft.list_name {
            Some(name) => {
                let (id, new) = self.resolve_list_name(name)?;
                (Some(id), new)
            }
            None => {
                self.check_list(draft.list)?;
                let parent_list = draft.parent.and_then(|p| self.tasks[&p].value.list);
                (draft.list.or(parent_list), None)
            }
        };
        validate_due(&draft.due)?;
        let now = self.env.now();
        let task = Task {
            id: Id::random(self.env.rng.as_mut()),
            title,
            notes: draft.notes,
            list,
            tags: normalize_tags(&draft.tags)?,
            priority: draft.priority,
            due: draft.due,
            recurrence: draft.recurrence,
            parent: draft.parent,
            order: self.next_order(),
            done: false,
            done_at: None,
            created_at: now,
            updated_at: now,
            trashed_at: None,
        };
        self.store(
            vec![task.clone()],
            new_list.into_iter().collect(),
            vec![],
            HistoryOp::action("Task added"),
        )?;
        Ok(task)
    }

    /// Adds a task from a quick-add line (`Pay rent tomorrow 9am #home
    /// @bills !1`), parsed with the grammar in [`crate::quickadd`] at the
    /// vault's current time and zone.
    pub fn quick_add(&mut self, text: &str, ctx: QuickAddContext) -> Result<Task, VaultError> {
        let now = self.env.now().with_timezone(&self.env.local_tz);
        let q = crate::quickadd::parse(text, now)?;
        let due = q
            .due
            .or_else(|| ctx.due_today.then(|| Due::date(now.date_naive())));
        self.add_task(TaskDraft {
            title: q.title,
            notes: ctx.notes,
            list: ctx.list,
            list_name: q.list,
            tags: q.tags,
            priority: q.priority,
            due,
            recurrence: q.recurrence,
            parent: ctx.parent,
        })
    }

    pub fn update_task(&mut self, id: TaskId, patch: TaskPatch) -> Result<Task, VaultError> {
        let mut t = self.editable_task(id)?.clone();
        let only_moved = patch.is_only_a_move();
        if let Some(title) = &patch.title {
            t.title = clean_title(title)?;
        }
        if let Some(notes) = patch.notes {
            t.notes = notes;
        }
        let mut new_list = None;
        if let Some(name) = &patch.list_name {
            let (id, new) = self.resolve_list_name(name)?;
            t.list = Some(id);
            new_list = new;
        } else if let Some(list) = patch.list {
            self.check_list(list)?;
            t.list = list;
        }
        for tag in &patch.add_tags {
            t.tags.insert(normalize_tag(tag)?);
        }
        for tag in &patch.remove_tags {
            let tag = normalize_tag(tag)?;
            t.tags.remove(&tag);
        }
        if let Some(p) = patch.priority {
            t.priority = p;
        }
        if let Some(due) = patch.due {
            validate_due(&due)?;
            t.due = due;
        }
        if let Some(r) = patch.recurrence {
            t.recurrence = r;
        }
        if let Some(parent) = patch.parent {
            self.check_parent(Some(id), parent)?;
            t.parent = parent;
        }
        if let Some(other) = patch.move_before.or(patch.move_after) {
            let before = patch.move_before.is_some();
            t.order = self.order_next_to(id, other, before)?;
        }
        let now = self.env.now();
        t.updated_at = now;
        let label = if only_moved {
            "Task moved"
        } else {
            "Task edited"
        };
        let mut writes = vec![t.clone()];
        if self.tasks[&id].value.list != t.list {
            // Subtasks move with their parent.
            for d in self.with_descendants(&[id]).into_iter().skip(1) {
                let sub = &self.tasks[&d].value;
                if !sub.is_trashed() && sub.list != t.list {
                    let mut sub = sub.clone();
                    sub.list = t.list;
                    sub.updated_at = now;
                    writes.push(sub);
                }
            }
        }
        self.store(
            writes,
            new_list.into_iter().collect(),
            vec![],
            HistoryOp::action(label),
        )?;
        Ok(t)
    }

    /// A key right before or after `other` among all tasks.
    fn order_next_to(
        &self,
        moving: TaskId,
        other: TaskId,
        before: bool,
    ) -> Result<OrderKey, VaultError> {
        let anchor = self.task_entry(other)?.value.order.clone();
        let neighbour = self
            .tasks
            .values()
            .filter(|e| e.value.id != moving)
            .map(|e| &e.value.order)
            .filter(|o| if before { **o < anchor } else { **o > anchor })
            .reduce(|a, b| if (a > b) == before { a } else { b })
            .cloned();
        Ok(if before {
            OrderKey::between(neighbour.as_ref(), Some(&anchor))
        } else {
            OrderKey::between(Some(&anchor), neighbour.as_ref())
        })
    }

    /// Marks a task done. A recurring task with a due date gets its next
    /// occurrence created in the same transaction.
    pub fn complete_task(&mut self, id: TaskId) -> Result<Completion, VaultError> {
        let c = self.completion(id)?;
        if self.task_entry(id)?.value.done {
            // Already done: nothing to write.
            return Ok(c);
        }
        let mut writes = vec![c.done.clone()];
        writes.extend(c.next.clone());
        self.store(writes, vec![], vec![], HistoryOp::action("Task completed"))?;
        Ok(c)
    }

    /// What completing `id` writes, without writing it. A task that is
    /// already done completes to itself (and no next occurrence).
    pub(super) fn completion(&mut self, id: TaskId) -> Result<Completion, VaultError> {
        let mut t = self.editable_task(id)?.clone();
        let now = self.env.now();
        if t.done {
            return Ok(Completion {
                done: t,
                next: None,
            });
        }
        // The next occurrence's id is derived from this one's
        // (`successor_id`), so devices completing the same occurrence
        // offline create one record between them, not one each; a
        // successor that exists already (completed, reopened, completed
        // again) is not created twice.
        let successor = Id::from_bytes(successor_id(RecordId(*t.id.as_bytes())).0);
        let next = match (&t.recurrence, &t.due) {
            _ if self.tasks.contains_key(&successor) => None,
            (Some(rule), Some(due)) => {
                rule.next(due, now, self.env.local_tz)?
                    .map(|(due, rule)| Task {
                        id: successor,
                        due: Some(due),
                        recurrence: Some(rule),
                        order: OrderKey::between(
                            Some(&t.order),
                            self.next_sibling_order(&t.order).as_ref(),
                        ),
                        done: false,
                        done_at: None,
                        created_at: now,
                        updated_at: now,
                        trashed_at: None,
                        ..t.clone()
                    })
            }
            _ => None,
        };
        t.done = true;
        t.done_at = Some(now);
        t.updated_at = now;
        if next.is_some() || self.tasks.contains_key(&successor) {
            // The series continues in the next task; this one is history.
            t.recurrence = None;
        }
        Ok(Completion { done: t, next })
    }

    fn next_sibling_order(&self, after: &OrderKey) -> Option<OrderKey> {
        self.tasks
            .values()
            .map(|e| &e.value.order)
            .filter(|o| *o > after)
            .min()
            .cloned()
    }

    pub fn reopen_task(&mut self, id: TaskId) -> Result<Task, VaultError> {
        let mut t = self.editable_task(id)?.clone();
        if !t.done {
            return Ok(t);
        }
        t.done = false;
        t.done_at = None;
        t.updated_at = self.env.now();
        self.store(
            vec![t.clone()],
            vec![],
            vec![],
            HistoryOp::action("Task reopened"),
        )?;
        Ok(t)
    }

    /// `ids` and all their subtasks (recursively), each once, roots first.
    pub(super) fn with_descendants(&self, ids: &[TaskId]) -> Vec<TaskId> {
        let mut children: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
        for e in self.tasks.values() {
            if let Some(p) = e.value.parent {
                children.entry(p).or_default().push(e.value.id);
            }
        }
        let mut seen: HashSet<TaskId> = HashSet::new();
        let mut out: Vec<TaskId> = Vec::new();
        for id in ids {
            if seen.insert(*id) {
                out.push(*id);
            }
        }
        let mut i = 0;
        while i < out.len() {
            if let Some(c) = children.get(&out[i]) {
                for c in c {
                    if seen.insert(*c) {
                        out.push(*c);
                    }
                }
            }
            i += 1;
        }
        out
    }

    pub fn add_list(&mut self, name: &str, colour: Option<&str>) -> Result<List, VaultError> {
        if self.list_by_name(name).is_some() {
            return Err(VaultError::ListExists(name.trim().to_string()));
        }
        let list = self.new_list(name, colour)?;
        self.store(
            vec![],
            vec![list.clone()],
            vec![],
            HistoryOp::action("List added"),
        )?;
        Ok(list)
    }

    /// A validated list that is not stored yet.
    fn new_list(&mut self, name: &str, colour: Option<&str>) -> Result<List, VaultError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DomainError::EmptyListName.into());
        }
        let colour = colour.map(normalize_colour).transpose()?;
        let now = self.env.now();
        let last = self.lists.values().map(|e| &e.value.order).max().cloned();
        let list = List {
            id: Id::random(self.env.rng.as_mut()),
            name: name.to_string(),
            colour,
            order: OrderKey::between(last.as_ref(), None),
            archived: false,
            created_at: now,
            updated_at: now,
        };
        Ok(list)
    }

    /// The id of the list named `name`, plus the list to create with the
    /// caller's write when there is none yet.
    fn resolve_list_name(&mut self, name: &str) -> Result<(ListId, Option<List>), VaultError> {
        match self.list_by_name(name) {
            Some(l) => Ok((l.id, None)),
            None => {
                let l = self.new_list(name, None)?;
                Ok((l.id, Some(l)))
            }
        }
    }

    /// The list with this name (case-insensitive), or with this id.
    pub fn list_by_name(&self, name: &str) -> Option<&List> {
        let lower = name.trim().to_lowercase();
        self.lists
            .values()
            .map(|e| &e.value)
            .find(|l| l.name.to_lowercase() == lower || l.id.to_string() == lower)
    }

    pub fn update_list(&mut self, id: ListId, patch: ListPatch) -> Result<List, VaultError> {
        let mut l = self
            .lists
            .get(&id)
            .ok_or_else(|| VaultError::ListNotFound(id.to_string()))?
            .value
            .clone();
        if let Some(name) = patch.name {
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(DomainError::EmptyListName.into());
            }
            if self.list_by_name(&name).is_some_and(|o| o.id != id) {
                return Err(VaultError::ListExists(name));
            }
            l.name = name;
        }
        if let Some(c) = patch.colour {
            l.colour = c.as_deref().map(normalize_colour).transpose()?;
        }
        if let Some(a) = patch.archived {
            l.archived = a;
        }
        if let Some(other) = patch.move_before.or(patch.move_after) {
            l.order = self.list_order_next_to(id, other, patch.move_before.is_some())?;
        }
        l.updated_at = self.env.now();
        self.store(
            vec![],
            vec![l.clone()],
            vec![],
            HistoryOp::action("List edited"),
        )?;
        Ok(l)
    }

    /// A key right before or after list `other` among all lists.
    fn list_order_next_to(
        &self,
        moving: ListId,
        other: ListId,
        before: bool,
    ) -> Result<OrderKey, VaultError> {
        let anchor = self
            .lists
            .get(&other)
            .ok_or_else(|| VaultError::ListNotFound(other.to_string()))?
            .value
            .order
            .clone();
        let neighbour = self
            .lists
            .values()
            .filter(|e| e.value.id != moving)
            .map(|e| &e.value.order)
            .filter(|o| if before { **o < anchor } else { **o > anchor })
            .reduce(|a, b| if (a > b) == before { a } else { b })
            .cloned();
        Ok(if before {
            OrderKey::between(neighbour.as_ref(), Some(&anchor))
        } else {
            OrderKey::between(Some(&anchor), neighbour.as_ref())
        })
    }

    /// Deletes a list. Its tasks (and their subtasks) go to the trash if
    /// `with_tasks`, else the list must have no live tasks. Tasks restored
    /// from the trash later go to the Inbox, since their list is gone.
    /// Returns how many tasks went to the trash.
    pub fn delete_list(&mut self, id: ListId, with_tasks: bool) -> Result<usize, VaultError> {
        let list = self
            .lists
            .get(&id)
            .ok_or_else(|| VaultError::ListNotFound(id.to_string()))?
            .value
            .clone();
        let members: Vec<TaskId> = self
            .tasks
            .values()
            .filter(|e| e.value.list == Some(id) && !e.value.is_trashed())
            .map(|e| e.value.id)
            .collect();
        if !members.is_empty() && !with_tasks {
            return Err(VaultError::ListNotEmpty {
                name: list.name,
                count: members.len(),
            });
        }
        let trashed = self.trash_writes(&members);
        let n = trashed.len();
        self.store(
            trashed,
            vec![],
            vec![(RecordKind::List, id)],
            HistoryOp::action("List deleted"),
        )?;
        Ok(n)
    }

    /// Everything in the vault, trash included, in manual order (what a
    /// backup holds).
    pub fn bundle(&self) -> Bundle {
        let mut lists: Vec<List> = self.lists.values().map(|e| e.value.clone()).collect();
        lists.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        let mut tasks: Vec<Task> = self.tasks.values().map(|e| e.value.clone()).collect();
        tasks.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        Bundle { lists, tasks }
    }

    /// What an export holds: every list and every task not in the trash,
    /// in manual order.
    pub fn export_bundle(&self) -> Bundle {
        let mut b = self.bundle();
        b.tasks.retain(|t| !t.is_trashed());
        b
    }

    /// Adds everything in `bundle` in one transaction, or nothing.
    ///
    /// Ids are kept (so an export re-imports losslessly); an id already in
    /// the vault is a conflict. With `merge_lists_by_name`, a list whose
    /// name matches an existing list is merged into it instead.
    pub fn import(
        &mut self,
        bundle: Bundle,
        merge_lists_by_name: bool,
    ) -> Result<ImportReport, VaultError> {
        let mut report = ImportReport::default();
        let mut list_map: HashMap<ListId, ListId> = HashMap::new();
        let mut new_lists = Vec::new();
        let mut seen_names: HashMap<String, ListId> = HashMap::new();
        for mut l in bundle.lists {
            let lower = l.name.trim().to_lowercase();
            if let Some(existing) = self.list_by_name(&l.name).filter(|_| merge_lists_by_name) {
                list_map.insert(l.id, existing.id);
                report.lists_reused += 1;
                continue;
            }
            if let Some(&first) = seen_names.get(&lower).filter(|_| merge_lists_by_name) {
                list_map.insert(l.id, first);
                continue;
            }
            if self.lists.contains_key(&l.id) {
                return Err(VaultError::ImportConflict(format!("list {}", l.id)));
            }
            if self.list_by_name(&l.name).is_some() {
                return Err(VaultError::ListExists(l.name));
            }
            l.name = l.name.trim().to_string();
            if l.name.is_empty() {
                return Err(DomainError::EmptyListName.into());
            }
            seen_names.insert(lower, l.id);
            list_map.insert(l.id, l.id);
            new_lists.push(l);
        }
        report.lists_created = new_lists.len();
        let ids: HashSet<TaskId> = bundle.tasks.iter().map(|t| t.id).collect();
        let mut sorted = bundle.tasks;
        sorted.sort_by(|a, b| a.order.cmp(&b.order));
        let orders = OrderKey::sequence(self.last_order.as_ref(), sorted.len());
        let mut tasks = Vec::with_capacity(sorted.len());
        for (mut t, order) in sorted.into_iter().zip(orders) {
            if self.tasks.contains_key(&t.id) {
                return Err(VaultError::ImportConflict(format!("task {}", t.id)));
            }
            t.title = clean_title(&t.title)?;
            t.tags = normalize_tags(&t.tags)?;
            // Imports are live tasks, whatever the file says.
            t.trashed_at = None;
            validate_due(&t.due)?;
            t.list = match t.list {
                Some(l) => Some(
                    *list_map
                        .get(&l)
                        .or_else(|| self.lists.get(&l).map(|e| &e.value.id))
                        .ok_or_else(|| VaultError::ListNotFound(l.to_string()))?,
                ),
                None => None,
            };
            if let Some(p) = t.parent {
                if !ids.contains(&p) && !self.tasks.contains_key(&p) {
                    return Err(VaultError::TaskNotFound(p.to_string()));
                }
            }
            // Lossless imports keep their manual order; foreign files go
            // after everything already here, in file order.
            if merge_lists_by_name {
                t.order = order;
            }
            tasks.push(t);
        }
        report.tasks = tasks.len();
        let label = count_label(tasks.len(), "Task imported", "tasks imported");
        self.store(tasks, new_lists, vec![], HistoryOp::action(label))?;
        Ok(report)
    }

    /// Like [`import`](Self::import), but tasks without a list go into the
    /// list named `list_name`: an existing one, or a new one created in the
    /// same transaction.
    pub fn import_into_list(
        &mut self,
        mut bundle: Bundle,
        merge_lists_by_name: bool,
        list_name: &str,
    ) -> Result<ImportReport, VaultError> {
        let target = match self.list_by_name(list_name) {
            Some(l) => l.clone(),
            None => self.new_list(list_name, None)?,
        };
        for t in bundle.tasks.iter_mut().filter(|t| t.list.is_none()) {
            t.list = Some(target.id);
        }
        // An existing list is referenced, not imported again (that would
        // be an id conflict for lossless formats).
        let new = !self.lists.contains_key(&target.id);
        if new {
            bundle.lists.push(target);
        }
        let mut report = self.import(bundle, merge_lists_by_name)?;
        if !new {
            // The existing list passed through as a reuse, not a creation.
            report.lists_reused += 1;
        }
        Ok(report)
    }
}
