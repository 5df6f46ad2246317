//! Views, filters, sorts and search, served from memory.
//!
//! A [`Query`] is a view (which tasks: Inbox, Today, a list, the trash…)
//! narrowed by a [`Filter`] whose parts all have to match, in a [`Sort`]
//! order. Only the Trash view ever shows trashed tasks.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use std::collections::{BTreeMap, HashMap};

use super::Vault;
use crate::domain::{normalize_tag, Due, List, ListId, Priority, Task, TaskId};
use crate::error::VaultError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Every open task, in manual order.
    All,
    /// Open tasks without a list.
    Inbox,
    /// Open tasks due today or overdue.
    Today,
    /// Open tasks due after today, within `days`.
    Upcoming { days: u32 },
    /// Open tasks of one list.
    List(ListId),
    /// Open tasks with this tag (case-insensitive, `@` optional).
    Tag(String),
    /// Completed tasks, most recent first.
    Done,
    /// Tasks in the trash, most recently trashed first.
    Trash,
    /// Open and completed tasks whose title, notes, tags or list name
    /// contain every word; open ones first.
    Search(String),
}

/// Narrows a view; every part that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub list: Option<ListId>,
    pub tag: Option<String>,
    pub priority: Option<Priority>,
    /// Due on or before this day (local calendar); undated tasks fail.
    pub due_before: Option<NaiveDate>,
    /// Due on or after this day (local calendar); undated tasks fail.
    pub due_after: Option<NaiveDate>,
    /// Every word in title, notes, tags or list name.
    pub text: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Manual (drag-and-drop) order.
    Manual,
    /// Soonest due first, undated last; then priority, then manual.
    Due,
    /// Most urgent first, "none" last; then due, then manual.
    Priority,
    /// Newest first.
    Created,
}

impl std::str::FromStr for Sort {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "manual" => Ok(Sort::Manual),
            "due" => Ok(Sort::Due),
            "priority" => Ok(Sort::Priority),
            "created" => Ok(Sort::Created),
            other => Err(VaultError::InvalidSetting(format!(
                "`{other}` is not a sort order (manual, due, priority or created)"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub view: View,
    pub filter: Filter,
    /// `None`: the view's own order (due for Today/Upcoming, completion
    /// for Done, trashing for Trash, manual otherwise).
    pub sort: Option<Sort>,
}

impl Query {
    pub fn view(view: View) -> Self {
        Query {
            view,
            filter: Filter::default(),
            sort: None,
        }
    }
}

/// How many of a view's tasks are overdue and due today (open ones only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub overdue: usize,
    pub today: usize,
    pub total: usize,
}

pub struct ViewResult<'a> {
    pub tasks: Vec<&'a Task>,
    pub summary: Summary,
}

/// The sidebar's badges. `today` counts tasks due today only; `overdue`
/// those due before (the Today view shows both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SidebarCounts {
    pub inbox: usize,
    pub today: usize,
    pub overdue: usize,
    pub upcoming: usize,
    pub trash: usize,
}

/// A tag and how many open tasks carry it. Tags that differ only in case
/// are one tag, shown in its alphabetically first spelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagCount {
    pub name: String,
    pub open_count: usize,
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

impl Vault {
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id).map(|e| &e.value)
    }

    pub fn list(&self, id: ListId) -> Option<&List> {
        self.lists.get(&id).map(|e| &e.value)
    }

    /// Every task record, the trash included.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Every task, the trash included (what a front end caches; views
    /// leave the trash out).
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

    /// The tasks of a view in its default order (see [`query`](Self::query)).
    pub fn view(&self, view: &View) -> Vec<&Task> {
        self.query(&Query::view(view.clone())).tasks
    }

    /// A view, narrowed by a filter, sorted.
    pub fn query(&self, q: &Query) -> ViewResult<'_> {
        let tz = self.env.local_tz;
        let today = self.today();
        let view_tag = match &q.view {
            View::Tag(t) => Some(tag_key(t)),
            _ => None,
        };
        let filter_tag = q.filter.tag.as_deref().map(tag_key);
        let terms = |text: &str| -> Vec<String> {
            text.split_whitespace().map(str::to_lowercase).collect()
        };
        let mut words = match &q.view {
            View::Search(text) => terms(text),
            _ => Vec::new(),
        };
        if let View::Search(_) = q.view {
            if words.is_empty() {
                return ViewResult {
                    tasks: Vec::new(),
                    summary: Summary::default(),
                };
            }
        }
        if let Some(text) = &q.filter.text {
            words.extend(terms(text));
        }
        let upcoming_end = match q.view {
            View::Upcoming { days } => Some(today + Duration::days(days as i64)),
            _ => None,
        };
        let f = &q.filter;
        let needs_due_date = f.due_before.is_some() || f.due_after.is_some();
        let mut hits: Vec<(&Task, Option<NaiveDateTime>)> = Vec::new();
        // A search lets the index pick the candidates (one pass over the
        // haystacks, a task lookup per match only); filter text is checked
        // last, after the cheaper tests.
        let search = matches!(q.view, View::Search(_));
        // Only text needs the index (built here on first use).
        let haystacks = (!words.is_empty()).then(|| self.haystacks());
        let candidates: Box<dyn Iterator<Item = &Task>> = if !search {
            Box::new(self.tasks.values().map(|e| &e.value))
        } else {
            Box::new(
                haystacks
                    .into_iter()
                    .flatten()
                    .filter(|(_, h)| words.iter().all(|w| h.contains(w.as_str())))
                    .filter_map(|(id, _)| self.tasks.get(id).map(|e| &e.value)),
            )
        };
        for t in candidates {
            let in_view = if t.is_trashed() {
                q.view == View::Trash
            } else {
                match &q.view {
                    View::Trash => false,
                    View::Done => t.done,
                    View::Search(_) => true,
                    _ if t.done => false,
                    View::All | View::Today | View::Upcoming { .. } => true,
                    View::Inbox => t.list.is_none(),
                    View::List(l) => t.list == Some(*l),
                    View::Tag(_) => has_tag(t, view_tag.as_deref().unwrap_or_default()),
                }
            };
            if !in_view {
                continue;
            }
            if f.list.is_some() && t.list != f.list {
                continue;
            }
            if f.priority.is_some_and(|p| t.priority != p) {
                continue;
            }
            if let Some(tag) = &filter_tag {
                if !has_tag(t, tag) {
                    continue;
                }
            }
            let due = t.due.as_ref().map(|d| due_in(d, tz));
            let date = due.map(|d| d.date());
            let in_dates = match q.view {
                View::Today => date.is_some_and(|d| d <= today),
                View::Upcoming { .. } => date.is_some_and(|d| d > today && Some(d) <= upcoming_end),
                _ => true,
            };
            if !in_dates {
                continue;
            }
            if needs_due_date {
                let Some(d) = date else { continue };
                if f.due_before.is_some_and(|b| d > b) || f.due_after.is_some_and(|a| d < a) {
                    continue;
                }
            }
            if !search && !words.is_empty() {
                let Some(h) = haystacks.and_then(|m| m.get(&t.id)) else {
                    continue;
                };
                if !words.iter().all(|w| h.contains(w.as_str())) {
                    continue;
                }
            }
            hits.push((t, due));
        }

        let mut summary = Summary {
            total: hits.len(),
            ..Default::default()
        };
        for (t, due) in &hits {
            if let (true, Some(d)) = (t.is_open(), due) {
                match d.date().cmp(&today) {
                    std::cmp::Ordering::Less => summary.overdue += 1,
                    std::cmp::Ordering::Equal => summary.today += 1,
                    _ => {}
                }
            }
        }

        let by_order = |a: &Task, b: &Task| a.order.cmp(&b.order).then(a.id.cmp(&b.id));
        // Undated last: compare (is undated, when).
        let due_key = |d: &Option<NaiveDateTime>| (d.is_none(), *d);
        match q.sort {
            Some(Sort::Manual) => hits.sort_unstable_by(|a, b| by_order(a.0, b.0)),
            Some(Sort::Due) => hits.sort_unstable_by(|a, b| {
                due_key(&a.1)
                    .cmp(&due_key(&b.1))
                    .then(a.0.priority.rank().cmp(&b.0.priority.rank()))
                    .then_with(|| by_order(a.0, b.0))
            }),
            None if matches!(q.view, View::Today | View::Upcoming { .. }) => {
                hits.sort_unstable_by(|a, b| {
                    due_key(&a.1)
                        .cmp(&due_key(&b.1))
                        .then(a.0.priority.rank().cmp(&b.0.priority.rank()))
                        .then_with(|| by_order(a.0, b.0))
                })
            }
            Some(Sort::Priority) => hits.sort_unstable_by(|a, b| {
                a.0.priority
                    .rank()
                    .cmp(&b.0.priority.rank())
                    .then(due_key(&a.1).cmp(&due_key(&b.1)))
                    .then_with(|| by_order(a.0, b.0))
            }),
            Some(Sort::Created) => hits.sort_unstable_by(|a, b| {
                b.0.created_at
                    .cmp(&a.0.created_at)
                    .then_with(|| by_order(a.0, b.0))
            }),
            None => match q.view {
                View::Done => hits.sort_unstable_by(|a, b| {
                    b.0.done_at
                        .cmp(&a.0.done_at)
                        .then_with(|| by_order(a.0, b.0))
                }),
                View::Trash => hits.sort_unstable_by(|a, b| {
                    b.0.trashed_at
                        .cmp(&a.0.trashed_at)
                        .then_with(|| by_order(a.0, b.0))
                }),
                View::Search(_) => hits.sort_unstable_by(|a, b| {
                    a.0.done.cmp(&b.0.done).then_with(|| by_order(a.0, b.0))
                }),
                _ => hits.sort_unstable_by(|a, b| by_order(a.0, b.0)),
            },
        }
        ViewResult {
            tasks: hits.into_iter().map(|(t, _)| t).collect(),
            summary,
        }
    }

    /// Tasks whose title, notes, tags or list name contain every word of
    /// `query` (case-insensitive). Open tasks first, then manual order;
    /// never the trash.
    pub fn search(&self, query: &str) -> Vec<&Task> {
        self.view(&View::Search(query.to_string()))
    }

    /// The sidebar's counts, with Upcoming covering `upcoming_days`.
    pub fn sidebar_counts(&self, upcoming_days: u32) -> SidebarCounts {
        let tz = self.env.local_tz;
        let today = self.today();
        let end = today + Duration::days(upcoming_days as i64);
        let mut c = SidebarCounts::default();
        for e in self.tasks.values() {
            let t = &e.value;
            if t.is_trashed() {
                c.trash += 1;
                continue;
            }
            if t.done {
                continue;
            }
            if t.list.is_none() {
                c.inbox += 1;
            }
            if let Some(d) = &t.due {
                let d = due_in(d, tz).date();
                if d < today {
                    c.overdue += 1;
                } else if d == today {
                    c.today += 1;
                } else if d <= end {
                    c.upcoming += 1;
                }
            }
        }
        c
    }

    /// Every tag on a task outside the trash, with its open-task count,
    /// sorted case-insensitively.
    pub fn tags(&self) -> Vec<TagCount> {
        // Counted per exact spelling first (no allocation per task), then
        // merged case-insensitively.
        let mut exact: HashMap<&str, usize> = HashMap::new();
        for e in self.tasks.values() {
            let t = &e.value;
            if t.is_trashed() {
                continue;
            }
            for tag in &t.tags {
                *exact.entry(tag.as_str()).or_insert(0) += usize::from(!t.done);
            }
        }
        let mut m: BTreeMap<String, TagCount> = BTreeMap::new();
        for (tag, open) in exact {
            let c = m.entry(tag.to_lowercase()).or_insert_with(|| TagCount {
                name: tag.to_string(),
                open_count: 0,
            });
            if tag < c.name.as_str() {
                c.name = tag.to_string();
            }
            c.open_count += open;
        }
        m.into_values().collect()
    }

    /// Tasks in the trash, most recently trashed first.
    pub fn trash(&self) -> Vec<&Task> {
        self.view(&View::Trash)
    }

    /// The instant a due date means, in UTC, for sorting and reminders:
    /// a time in its zone (or the local zone if floating), a date-only due
    /// at `all_day_at` local time. See [`crate::reminders::due_instant`].
    pub fn due_instant(&self, due: &Due, all_day_at: chrono::NaiveTime) -> DateTime<Utc> {
        crate::reminders::due_instant(due, self.env.local_tz, all_day_at)
    }
}

/// A tag as views compare it: without `@`, lower-cased.
fn tag_key(t: &str) -> String {
    normalize_tag(t)
        .unwrap_or_else(|_| t.trim().trim_start_matches('@').to_string())
        .to_lowercase()
}

/// `key` is already lower-cased.
fn has_tag(t: &Task, key: &str) -> bool {
    t.tags
        .iter()
        .any(|x| x.eq_ignore_ascii_case(key) || (!x.is_ascii() && x.to_lowercase() == key))
}
