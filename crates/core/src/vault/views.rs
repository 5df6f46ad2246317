//! Views and search, served from memory.

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use std::collections::HashMap;

use super::{Entry, Vault};
use crate::domain::{Due, List, ListId, Task, TaskId};
use crate::error::VaultError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Every open task, in manual order.
    All,
    /// Open tasks due today or overdue.
    Today,
    /// Open tasks due after today, within `days`.
    Upcoming {
        days: u32,
    },
    List(ListId),
    Tag(String),
    /// Completed tasks, most recent first.
    Done,
}

/// The wall-clock time a due date means in `local` (date-only dues and
/// floating times are taken as local).
pub fn due_in(due: &Due, local: Tz) -> NaiveDateTime {
    let time = due.time.unwrap_or(chrono::NaiveTime::MIN);
    let naive = due.date.and_time(time);
    match (&due.tz, due.time) {
        (Some(tz), Some(_)) => match tz.parse::<Tz>() {
            Ok(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|dt| dt.with_timezone(&local).naive_local())
                .unwrap_or(naive),
            Err(_) => naive,
        },
        _ => naive,
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

impl Vault {
    pub(super) fn index_task(&mut self, t: &Task) {
        let h = haystack(t, &self.lists);
        self.haystacks.insert(t.id, h);
    }

    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id).map(|e| &e.value)
    }

    pub fn list(&self, id: ListId) -> Option<&List> {
        self.lists.get(&id).map(|e| &e.value)
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values().map(|e| &e.value)
    }

    /// Lists in manual order.
    pub fn lists(&self) -> Vec<&List> {
        let mut v: Vec<&List> = self.lists.values().map(|e| &e.value).collect();
        v.sort_by(|a, b| a.order.cmp(&b.order));
        v
    }

    /// Resolves a full id or a unique prefix of at least 4 hex digits.
    pub fn resolve_task(&self, text: &str) -> Result<TaskId, VaultError> {
        let p = text.trim().to_ascii_lowercase();
        if let Ok(id) = p.parse::<TaskId>() {
            return self
                .tasks
                .contains_key(&id)
                .then_some(id)
                .ok_or_else(|| VaultError::TaskNotFound(text.to_string()));
        }
        if p.len() < 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VaultError::TaskNotFound(text.to_string()));
        }
        let mut hits = self
            .tasks
            .keys()
            .filter(|id| id.to_string().starts_with(&p))
            .copied();
        match (hits.next(), hits.next()) {
            (Some(id), None) => Ok(id),
            (None, _) => Err(VaultError::TaskNotFound(text.to_string())),
            (Some(a), Some(b)) => {
                let mut c: Vec<String> = [a, b].iter().map(|i| i.short()).collect();
                c.extend(hits.take(3).map(|i| i.short()));
                Err(VaultError::AmbiguousId {
                    prefix: text.to_string(),
                    candidates: c.join(", "),
                })
            }
        }
    }

    fn today(&self) -> NaiveDate {
        self.env
            .now()
            .with_timezone(&self.env.local_tz)
            .date_naive()
    }

    pub fn view(&self, view: &View) -> Vec<&Task> {
        let tz = self.env.local_tz;
        let today = self.today();
        let open = self.tasks.values().map(|e| &e.value).filter(|t| !t.done);
        let mut out: Vec<&Task> = match view {
            View::All => open.collect(),
            View::Today => open
                .filter(|t| {
                    t.due
                        .as_ref()
                        .is_some_and(|d| due_in(d, tz).date() <= today)
                })
                .collect(),
            View::Upcoming { days } => {
                let end = today + Duration::days(*days as i64);
                open.filter(|t| {
                    t.due.as_ref().is_some_and(|d| {
                        let date = due_in(d, tz).date();
                        date > today && date <= end
                    })
                })
                .collect()
            }
            View::List(l) => open.filter(|t| t.list == Some(*l)).collect(),
            View::Tag(tag) => {
                let tag = tag.trim_start_matches('@').to_lowercase();
                open.filter(|t| t.tags.iter().any(|x| x.to_lowercase() == tag))
                    .collect()
            }
            View::Done => {
                let mut d: Vec<&Task> = self
                    .tasks
                    .values()
                    .map(|e| &e.value)
                    .filter(|t| t.done)
                    .collect();
                d.sort_by(|a, b| b.done_at.cmp(&a.done_at).then(a.order.cmp(&b.order)));
                return d;
            }
        };
        match view {
            View::Today | View::Upcoming { .. } => out.sort_by(|a, b| {
                let da = a.due.as_ref().map(|d| due_in(d, tz));
                let db = b.due.as_ref().map(|d| due_in(d, tz));
                da.cmp(&db)
                    .then(a.priority.rank().cmp(&b.priority.rank()))
                    .then(a.order.cmp(&b.order))
            }),
            _ => out.sort_by(|a, b| a.order.cmp(&b.order)),
        }
        out
    }

    /// Tasks whose title, notes, tags or list name contain every word of
    /// `query` (case-insensitive). Open tasks first, then manual order.
    pub fn search(&self, query: &str) -> Vec<&Task> {
        let terms: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if terms.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<&Task> = self
            .haystacks
            .iter()
            .filter(|(_, h)| terms.iter().all(|t| h.contains(t.as_str())))
            .filter_map(|(id, _)| self.tasks.get(id).map(|e| &e.value))
            .collect();
        out.sort_by(|a, b| a.done.cmp(&b.done).then(a.order.cmp(&b.order)));
        out
    }
}
