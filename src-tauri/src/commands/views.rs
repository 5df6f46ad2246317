//! Reading: views with filters and sorts, and what the quick-add grammar
//! and the date and repeat fields make of a line of text. The grammar is
//! the core's; a preview needs no unlocked vault.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use productivitypro_core::vault::{Filter as CoreFilter, Query, Sort as CoreSort, View};
use productivitypro_core::{quickadd, Due, Recurrence};
use tauri::State;

use crate::args::{Args, IdArgs, IdsArgs, TextArgs, ViewQueryArgs};
use crate::dto::{
    DueDto, Filter, QuickAddPreview, RecurrenceDto, Sort, TaskDto, ViewResult, ViewSpec,
    ViewSummary,
};
use crate::error::{IpcError, IpcResult};
use crate::settings::{DateFormat, Settings, TimeFormat};
use crate::shell::{blocking, Shell};

use super::tasks::{parse_id, parse_ids};

/// The most records one `tasks_get` answers: a screenful of rows with a
/// generous margin, or a bulk action's selection. More is refused, so the
/// UI cannot slip back into holding every task.
pub const TASKS_GET_MAX: usize = 2000;

fn date(s: &str, what: &str) -> IpcResult<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| IpcError::invalid(format!("{what} `{s}` is not YYYY-MM-DD")))
}

pub fn query(view: ViewSpec, filter: Filter, sort: Option<Sort>) -> IpcResult<Query> {
    let view = match view {
        ViewSpec::Inbox => View::Inbox,
        ViewSpec::Today => View::Today,
        ViewSpec::Upcoming { days } if (1..=366).contains(&days) => View::Upcoming { days },
        ViewSpec::Upcoming { days } => {
            return Err(IpcError::invalid(format!(
                "upcoming covers 1 to 366 days, not {days}"
            )))
        }
        ViewSpec::List { id } => View::List(parse_id(&id)?),
        ViewSpec::Tag { name } => View::Tag(name),
        ViewSpec::Completed => View::Done,
        ViewSpec::Trash => View::Trash,
        ViewSpec::Search { text } => View::Search(text),
    };
    let priority = filter
        .priority
        .map(|p| {
            productivitypro_core::Priority::new(p).map_err(|e| IpcError::invalid(e.to_string()))
        })
        .transpose()?;
    let filter = CoreFilter {
        list: filter.list_id.as_deref().map(parse_id).transpose()?,
        tag: filter.tag.filter(|t| !t.trim().is_empty()),
        priority,
        due_before: filter
            .due_before
            .as_deref()
            .map(|d| date(d, "dueBefore"))
            .transpose()?,
        due_after: filter
            .due_after
            .as_deref()
            .map(|d| date(d, "dueAfter"))
            .transpose()?,
        text: filter.text.filter(|t| !t.trim().is_empty()),
    };
    let sort = sort.map(|s| match s {
        Sort::Manual => CoreSort::Manual,
        Sort::Due => CoreSort::Due,
        Sort::Priority => CoreSort::Priority,
        Sort::Created => CoreSort::Created,
    });
    Ok(Query { view, filter, sort })
}

/// The ordered ids of a view; `sort` missing or null means the view's own
/// order (due for Today and Upcoming, completion for Completed, …).
#[tauri::command]
pub async fn view_query(
    shell: State<'_, Arc<Shell>>,
    args: Args<ViewQueryArgs>,
) -> IpcResult<ViewResult> {
    let ViewQueryArgs { view, filter, sort } = args.0;
    let by_day = matches!(view, ViewSpec::Today | ViewSpec::Upcoming { .. });
    let q = query(view, filter.unwrap_or_default(), sort)?;
    let shell = shell.inner().clone();
    blocking(move || {
        shell.with_vault(|v| {
            let r = v.query(&q);
            let mut index = std::collections::HashMap::with_capacity(r.tasks.len());
            let mut parents = Vec::with_capacity(r.tasks.len());
            for (i, t) in r.tasks.iter().enumerate() {
                // Only a parent listed before its subtask indents it (the
                // core orders subtasks right after their parent).
                let p = t.parent.and_then(|p| index.get(&p).copied()).unwrap_or(-1);
                parents.push(p);
                index.insert(t.id, i as i32);
            }
            let days = if by_day {
                r.tasks
                    .iter()
                    .map(|t| {
                        t.due
                            .as_ref()
                            .map(|d| d.date.format("%Y-%m-%d").to_string())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(ViewResult {
                ids: r.tasks.iter().map(|t| t.id.to_string()).collect(),
                parents,
                days,
                summary: ViewSummary {
                    overdue: r.summary.overdue as u32,
                    today: r.summary.today as u32,
                    total: r.summary.total as u32,
                },
            })
        })
    })
    .await
}

/// The records of the given tasks (the rows a view shows), in the order
/// asked; ids that no longer exist are left out (the UI drops them).
#[tauri::command]
pub async fn tasks_get(
    shell: State<'_, Arc<Shell>>,
    args: Args<IdsArgs>,
) -> IpcResult<Vec<TaskDto>> {
    let ids = args.0.ids;
    if ids.len() > TASKS_GET_MAX {
        return Err(IpcError::invalid(format!(
            "tasks_get answers at most {TASKS_GET_MAX} ids at once, not {}",
            ids.len()
        )));
    }
    let ids = parse_ids(&ids)?;
    let shell = shell.inner().clone();
    blocking(move || {
        shell.with_vault(|v| {
            let tz = v.local_tz();
            Ok(ids
                .iter()
                .filter_map(|id| v.task(*id))
                .map(|t| TaskDto::from_task(t, tz))
                .collect())
        })
    })
    .await
}

/// The subtasks of a task (not trashed, done included) in manual order,
/// for the detail pane.
#[tauri::command]
pub async fn task_subtasks(
    shell: State<'_, Arc<Shell>>,
    args: Args<IdArgs>,
) -> IpcResult<Vec<TaskDto>> {
    let id = parse_id(&args.0.id)?;
    let shell = shell.inner().clone();
    blocking(move || {
        shell.with_vault(|v| {
            let tz = v.local_tz();
            let mut subs: Vec<_> = v
                .tasks()
                .filter(|t| t.parent == Some(id) && t.trashed_at.is_none())
                .collect();
            subs.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
            Ok(subs
                .into_iter()
                .map(|t| TaskDto::from_task(t, tz))
                .collect())
        })
    })
    .await
}

/// "Today 09:00", "Tomorrow", "Fri 14:30", "12 Dec", "12 Dec 2027 5:00 pm",
/// in the user's time and date format; a zone only when it is not `local`.
pub fn due_label(due: &Due, today: NaiveDate, local: chrono_tz::Tz, s: &Settings) -> String {
    let days = (due.date - today).num_days();
    let day = match days {
        0 => "Today".to_string(),
        1 => "Tomorrow".to_string(),
        -1 => "Yesterday".to_string(),
        2..=6 => due.date.format("%a").to_string(),
        _ => {
            let same_year = due.date.year() == today.year();
            match (s.date_format, same_year) {
                (DateFormat::Ymd, _) => due.date.format("%Y-%m-%d").to_string(),
                (DateFormat::Mdy, true) => due.date.format("%b %-d").to_string(),
                (DateFormat::Mdy, false) => due.date.format("%b %-d, %Y").to_string(),
                (DateFormat::Dmy, true) => due.date.format("%-d %b").to_string(),
                (DateFormat::Dmy, false) => due.date.format("%-d %b %Y").to_string(),
            }
        }
    };
    let time = due.time.map(|t| match s.time_format {
        TimeFormat::H24 => t.format("%H:%M").to_string(),
        TimeFormat::H12 => t.format("%-I:%M %P").to_string(),
    });
    let zone = due
        .tz
        .as_deref()
        .filter(|z| *z != local.name())
        .map(|z| format!(" ({z})"));
    match time {
        Some(t) => format!("{day} {t}{}", zone.unwrap_or_default()),
        None => day,
    }
}

/// What quick add would make of `text`, for the live preview. Never an
/// error: a line the grammar refuses comes back with `error` set.
#[tauri::command]
pub fn quick_add_preview(shell: State<'_, Arc<Shell>>, args: Args<TextArgs>) -> QuickAddPreview {
    let text = args.0.text;
    let now = shell.now().with_timezone(&shell.cfg.tz);
    let settings = shell.settings();
    match quickadd::parse(&text, now) {
        Ok(q) => QuickAddPreview {
            title: q.title,
            list_name: q.list,
            tags: q.tags.into_iter().collect(),
            priority: q.priority.get(),
            due_label: q
                .due
                .as_ref()
                .map(|d| due_label(d, now.date_naive(), shell.cfg.tz, &settings)),
            due: q.due.as_ref().map(|d| DueDto::from_due(d, shell.cfg.tz)),
            recurrence: q.recurrence.as_ref().map(RecurrenceDto::from),
            error: None,
        },
        Err(e) => QuickAddPreview {
            title: String::new(),
            list_name: None,
            tags: Vec::new(),
            priority: 0,
            due: None,
            due_label: None,
            recurrence: None,
            error: Some(e.into()),
        },
    }
}

/// A date phrase from the detail pane ("next fri 5pm").
#[tauri::command]
pub fn parse_due(shell: State<'_, Arc<Shell>>, args: Args<TextArgs>) -> IpcResult<DueDto> {
    let text = args.0.text;
    let now = shell.now().with_timezone(&shell.cfg.tz);
    let due = quickadd::parse_due(&text, now)?;
    Ok(DueDto::from_due(&due, shell.cfg.tz))
}

/// A repeat phrase ("every 2 weeks") or an RRULE.
#[tauri::command]
pub fn parse_repeat(args: Args<TextArgs>) -> IpcResult<RecurrenceDto> {
    Ok(RecurrenceDto::from(&Recurrence::from_text(&args.0.text)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    #[test]
    fn due_labels_follow_the_formats() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let s24 = Settings::default();
        let s12 = Settings {
            time_format: TimeFormat::H12,
            date_format: DateFormat::Mdy,
            ..Settings::default()
        };
        let at = |d: u32, m: u32, y: i32, t: Option<(u32, u32)>| Due {
            date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            time: t.map(|(h, mi)| NaiveTime::from_hms_opt(h, mi, 0).unwrap()),
            tz: None,
        };
        let berlin = chrono_tz::Europe::Berlin;
        let label = |d: &Due, s: &Settings| due_label(d, today, berlin, s);
        assert_eq!(label(&at(23, 11, 2026, Some((9, 0))), &s24), "Today 09:00");
        assert_eq!(label(&at(24, 11, 2026, None), &s24), "Tomorrow");
        assert_eq!(label(&at(27, 11, 2026, Some((17, 5))), &s12), "Fri 5:05 pm");
        assert_eq!(label(&at(12, 12, 2026, None), &s24), "12 Dec");
        assert_eq!(label(&at(12, 12, 2026, None), &s12), "Dec 12");
        assert_eq!(label(&at(2, 1, 2027, None), &s24), "2 Jan 2027");
        let zoned = |z: &str| Due {
            tz: Some(z.into()),
            ..at(1, 12, 2026, Some((8, 0)))
        };
        assert_eq!(
            label(&zoned("Asia/Tokyo"), &s24),
            "1 Dec 08:00 (Asia/Tokyo)"
        );
        assert_eq!(label(&zoned("Europe/Berlin"), &s24), "1 Dec 08:00");
    }
}
