//! User actions on tasks and lists. Each public method is one transaction:
//! it validates, commits durably, and only then changes memory.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::records::{encode, Write};
use super::{Entry, Vault};
use crate::crypto::RecordKind;
use crate::domain::{
    normalize_colour, normalize_tag, validate_tz, DomainError, Due, Id, List, ListId, Priority,
    Task, TaskId,
};
use crate::error::VaultError;
use crate::interchange::Bundle;
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

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
        if !self.tasks.contains_key(&p) {
            return Err(VaultError::TaskNotFound(p.to_string()));
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

    fn task_entry(&self, id: TaskId) -> Result<&Entry<Task>, VaultError> {
        self.tasks
            .get(&id)
            .ok_or_else(|| VaultError::TaskNotFound(id.to_string()))
    }

    fn next_order(&self) -> OrderKey {
        OrderKey::between(self.last_order.as_ref(), None)
    }

    /// Writes `tasks` and `lists` (new or changed) and refreshes memory.
    pub(super) fn store(
        &mut self,
        tasks: Vec<Task>,
        lists: Vec<List>,
        deletes: Vec<(RecordKind, Id)>,
    ) -> Result<(), VaultError> {
        let mut writes = Vec::with_capacity(tasks.len() + lists.len() + deletes.len());
        for t in &tasks {
            writes.push(Write::Put {
                kind: RecordKind::Task,
                id: t.id,
                plaintext: encode(t),
                expected_seq: self.tasks.get(&t.id).map(|e| e.seq),
            });
        }
        for l in &lists {
            writes.push(Write::Put {
                kind: RecordKind::List,
                id: l.id,
                plaintext: encode(l),
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
            }?;
            writes.push(Write::Delete {
                kind: *kind,
                id: *id,
                expected_seq,
            });
        }
        let seq = self.commit(writes)?;
        let renamed_lists: Vec<ListId> = lists.iter().map(|l| l.id).collect();
        for l in lists {
            self.lists.insert(l.id, Entry { value: l, seq });
        }
        for (kind, id) in deletes {
            match kind {
                RecordKind::Task => {
                    self.tasks.remove(&id);
                    self.haystacks.remove(&id);
                }
                RecordKind::List => {
                    self.lists.remove(&id);
                }
            }
        }
        for t in tasks {
            if self.last_order.as_ref().is_none_or(|o| t.order > *o) {
                self.last_order = Some(t.order.clone());
            }
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
        Ok(())
    }

    pub fn add_task(&mut self, draft: TaskDraft) -> Result<Task, VaultError> {
        let title = clean_title(&draft.title)?;
        let (list, new_list) = match &draft.list_name {
            Some(name) => {
                let (id, new) = self.resolve_list_name(name)?;
                (Some(id), new)
            }
            None => {
                self.check_list(draft.list)?;
                (draft.list, None)
            }
        };
        self.check_parent(None, draft.parent)?;
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
        };
        self.store(vec![task.clone()], new_list.into_iter().collect(), vec![])?;
        Ok(task)
    }

    pub fn update_task(&mut self, id: TaskId, patch: TaskPatch) -> Result<Task, VaultError> {
        let mut t = self.task_entry(id)?.value.clone();
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
        t.updated_at = self.env.now();
        self.store(vec![t.clone()], new_list.into_iter().collect(), vec![])?;
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
        let mut t = self.task_entry(id)?.value.clone();
        let now = self.env.now();
        if t.done {
            return Ok(Completion {
                done: t,
                next: None,
            });
        }
        let next = match (&t.recurrence, &t.due) {
            (Some(rule), Some(due)) => {
                rule.next(due, now, self.env.local_tz)?
                    .map(|(due, rule)| Task {
                        id: Id::random(self.env.rng.as_mut()),
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
                        ..t.clone()
                    })
            }
            _ => None,
        };
        t.done = true;
        t.done_at = Some(now);
        t.updated_at = now;
        if next.is_some() {
            // The series continues in the new task; this one is history.
            t.recurrence = None;
        }
        let mut writes = vec![t.clone()];
        writes.extend(next.clone());
        self.store(writes, vec![], vec![])?;
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
        let mut t = self.task_entry(id)?.value.clone();
        if !t.done {
            return Ok(t);
        }
        t.done = false;
        t.done_at = None;
        t.updated_at = self.env.now();
        self.store(vec![t.clone()], vec![], vec![])?;
        Ok(t)
    }

    /// Deletes a task and all its subtasks; returns every id removed.
    pub fn delete_task(&mut self, id: TaskId) -> Result<Vec<TaskId>, VaultError> {
        self.task_entry(id)?;
        let mut children: HashMap<TaskId, Vec<TaskId>> = HashMap::new();
        for e in self.tasks.values() {
            if let Some(p) = e.value.parent {
                children.entry(p).or_default().push(e.value.id);
            }
        }
        let mut doomed = vec![id];
        let mut i = 0;
        while i < doomed.len() {
            if let Some(c) = children.get(&doomed[i]) {
                doomed.extend(c.iter().copied());
            }
            i += 1;
        }
        let deletes = doomed.iter().map(|d| (RecordKind::Task, *d)).collect();
        self.store(vec![], vec![], deletes)?;
        Ok(doomed)
    }

    pub fn add_list(&mut self, name: &str, colour: Option<&str>) -> Result<List, VaultError> {
        if self.list_by_name(name).is_some() {
            return Err(VaultError::ListExists(name.trim().to_string()));
        }
        let list = self.new_list(name, colour)?;
        self.store(vec![], vec![list.clone()], vec![])?;
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
        l.updated_at = self.env.now();
        self.store(vec![], vec![l.clone()], vec![])?;
        Ok(l)
    }

    /// Deletes a list. Its tasks are deleted too if `with_tasks`, else the
    /// list must be empty.
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
            .filter(|e| e.value.list == Some(id))
            .map(|e| e.value.id)
            .collect();
        if !members.is_empty() && !with_tasks {
            return Err(VaultError::ListNotEmpty {
                name: list.name,
                count: members.len(),
            });
        }
        // Subtasks of deleted tasks go too, wherever their list is.
        let mut doomed: HashSet<TaskId> = members.iter().copied().collect();
        loop {
            let more: Vec<TaskId> = self
                .tasks
                .values()
                .filter(|e| !doomed.contains(&e.value.id))
                .filter(|e| e.value.parent.is_some_and(|p| doomed.contains(&p)))
                .map(|e| e.value.id)
                .collect();
            if more.is_empty() {
                break;
            }
            doomed.extend(more);
        }
        let n = doomed.len();
        let mut deletes: Vec<(RecordKind, Id)> =
            doomed.into_iter().map(|t| (RecordKind::Task, t)).collect();
        deletes.push((RecordKind::List, id));
        self.store(vec![], vec![], deletes)?;
        Ok(n)
    }

    /// Everything in the vault, in manual order, for export.
    pub fn bundle(&self) -> Bundle {
        let mut lists: Vec<List> = self.lists.values().map(|e| e.value.clone()).collect();
        lists.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        let mut tasks: Vec<Task> = self.tasks.values().map(|e| e.value.clone()).collect();
        tasks.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        Bundle { lists, tasks }
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
        self.store(tasks, new_lists, vec![])?;
        Ok(report)
    }
}
