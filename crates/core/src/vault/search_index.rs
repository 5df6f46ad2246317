//! The search index: each task's lower-cased title, notes, tags and list
//! name.
//!
//! It is not built at unlock: lower-casing 100k tasks is about a sixth
//! of an unlock's work, and the task list does not need it. It is built
//! on the first search (or by [`Vault::prepare_search`], which a front
//! end calls once the list is on screen), from the tasks in memory at
//! that moment, so a search is complete and correct whenever it runs.
//! Once built, every change to memory keeps it current; before that,
//! changes have nothing to update.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Entry, Vault};
use crate::domain::{List, ListId, Task, TaskId};

/// Below this many tasks the index is built on the calling thread (a
/// thread costs more than lower-casing a few thousand tasks).
const BUILD_ON_THREADS: usize = 8_192;

#[derive(Default)]
pub(super) struct SearchIndex {
    built: OnceLock<HashMap<TaskId, String>>,
}

impl SearchIndex {
    /// The haystacks of `tasks`, built now if they were not yet.
    pub(super) fn get(
        &self,
        tasks: &HashMap<TaskId, Entry<Task>>,
        lists: &HashMap<ListId, Entry<List>>,
    ) -> &HashMap<TaskId, String> {
        self.built.get_or_init(|| build(tasks, lists))
    }

    pub(super) fn is_built(&self) -> bool {
        self.built.get().is_some()
    }

    /// `t` was added or changed in memory.
    pub(super) fn update(&mut self, t: &Task, lists: &HashMap<ListId, Entry<List>>) {
        if let Some(map) = self.built.get_mut() {
            map.insert(t.id, haystack(t, lists));
        }
    }

    /// A task left memory.
    pub(super) fn remove(&mut self, id: &TaskId) {
        if let Some(map) = self.built.get_mut() {
            map.remove(id);
        }
    }
}

/// What search looks through: title, notes, tags and list name, lower-cased.
pub(super) fn haystack(t: &Task, lists: &HashMap<ListId, Entry<List>>) -> String {
    let mut h = String::with_capacity(t.title.len() + t.notes.len() + 16);
    h.push_str(&t.title.to_lowercase());
    h.push('\n');
    h.push_str(&t.notes.to_lowercase());
    for tag in &t.tags {
        h.push('\n');
        h.push_str(&tag.to_lowercase());
    }
    if let Some(l) = t.list.and_then(|l| lists.get(&l)) {
        h.push('\n');
        h.push_str(&l.value.name.to_lowercase());
    }
    h
}

/// Every task's haystack, spread over the available cores for a large
/// vault.
fn build(
    tasks: &HashMap<TaskId, Entry<Task>>,
    lists: &HashMap<ListId, Entry<List>>,
) -> HashMap<TaskId, String> {
    let mut map = HashMap::with_capacity(tasks.len());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    if workers == 1 || tasks.len() < BUILD_ON_THREADS {
        map.extend(
            tasks
                .values()
                .map(|e| (e.value.id, haystack(&e.value, lists))),
        );
        return map;
    }
    let all: Vec<&Task> = tasks.values().map(|e| &e.value).collect();
    let chunk = all.len().div_ceil(workers);
    std::thread::scope(|threads| {
        let handles: Vec<_> = all
            .chunks(chunk)
            .map(|part| {
                threads.spawn(move || {
                    part.iter()
                        .map(|t| (t.id, haystack(t, lists)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            let part = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            map.extend(part);
        }
    });
    map
}

impl Vault {
    /// Builds the search index now if it is not built yet (see the
    /// module's notes): for a front end to call off the unlock path, so
    /// that the first search does not pay for it.
    pub fn prepare_search(&self) {
        self.search_index.get(&self.tasks, &self.lists);
    }

    /// Whether the search index is built (searches before then build it).
    pub fn search_ready(&self) -> bool {
        self.search_index.is_built()
    }

    /// Keeps the index current with `t`, now in memory.
    pub(super) fn index_task(&mut self, t: &Task) {
        self.search_index.update(t, &self.lists);
    }

    pub(super) fn unindex_task(&mut self, id: &TaskId) {
        self.search_index.remove(id);
    }

    pub(super) fn haystacks(&self) -> &HashMap<TaskId, String> {
        self.search_index.get(&self.tasks, &self.lists)
    }
}
