//! Turns the vault's state and its change reports into what the UI gets:
//! a `Snapshot` after unlock, a `Changes` after every mutation and every
//! change picked up from another process.

use productivitypro_core::vault::Changes as CoreChanges;
use productivitypro_core::Vault;

use crate::dto::{Changes, HistoryState, ListDto, SidebarCounts, Snapshot, TagDto, TaskDto};
use crate::error::IpcResult;

/// The sidebar's Upcoming badge covers this many days (the Upcoming view's
/// default span).
pub const UPCOMING_DAYS: u32 = 14;

fn counts(v: &Vault) -> SidebarCounts {
    let c = v.sidebar_counts(UPCOMING_DAYS);
    SidebarCounts {
        inbox: c.inbox as u32,
        today: c.today as u32,
        overdue: c.overdue as u32,
        upcoming: c.upcoming as u32,
        trash: c.trash as u32,
    }
}

fn history(v: &Vault) -> IpcResult<HistoryState> {
    let h = v.history_state()?;
    Ok(HistoryState {
        can_undo: h.can_undo,
        can_redo: h.can_redo,
        undo_label: h.undo_label,
        redo_label: h.redo_label,
    })
}

fn lists(v: &Vault) -> Vec<ListDto> {
    let open = v.list_open_counts();
    v.lists()
        .into_iter()
        .map(|l| ListDto::from_list(l, open.get(&l.id).copied().unwrap_or(0)))
        .collect()
}

fn tags(v: &Vault) -> Vec<TagDto> {
    v.tags()
        .into_iter()
        .map(|t| TagDto {
            name: t.name,
            open_count: t.open_count as u32,
        })
        .collect()
}

pub fn snapshot(v: &Vault) -> IpcResult<Snapshot> {
    Ok(Snapshot {
        lists: lists(v),
        tags: tags(v),
        counts: counts(v),
        history: history(v)?,
    })
}

/// What the UI must patch after `c`. A change to any task can change a
/// list's open count, so every list (there are few) is sent whenever a
/// task or a list changed; likewise the tag table (a task trashed, done or
/// moved changes its tags' counts, or drops a tag nobody carries any more).
pub fn changes(v: &Vault, c: &CoreChanges) -> IpcResult<Changes> {
    let tz = v.local_tz();
    let tasks = c
        .tasks
        .iter()
        .filter_map(|id| v.task(*id))
        .map(|t| TaskDto::from_task(t, tz))
        .collect();
    let any_record = !c.tasks.is_empty()
        || !c.removed_tasks.is_empty()
        || !c.lists.is_empty()
        || !c.removed_lists.is_empty();
    Ok(Changes {
        tasks,
        removed_tasks: c.removed_tasks.iter().map(|id| id.to_string()).collect(),
        lists: if any_record { lists(v) } else { Vec::new() },
        removed_lists: c.removed_lists.iter().map(|id| id.to_string()).collect(),
        tags: (c.tags || !c.tasks.is_empty() || !c.removed_tasks.is_empty()).then(|| tags(v)),
        counts: counts(v),
        history: history(v)?,
    })
}

/// Everything changed since the last report, as the UI needs it.
pub fn take_changes(v: &mut Vault) -> IpcResult<Changes> {
    let c = v.take_changes();
    changes(v, &c)
}
