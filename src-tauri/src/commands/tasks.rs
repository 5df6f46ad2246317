//! Mutations of tasks and lists. Each command is one core action (one
//! transaction, one undo entry) and returns the `Changes` the UI patches
//! its cache with.
//!
//! A write that another process (`pp`) got in first fails with `stale`:
//! the shell then reloads what changed, sends it as `vault://changed` so
//! the UI shows the other process's version, and returns the error —
//! nothing is clobbered.

use std::sync::Arc;

use productivitypro_core::vault::{ListPatch, QuickAddContext, TaskPatch};
use productivitypro_core::{quickadd, Id, Priority, Recurrence, Vault, VaultError};
use tauri::{AppHandle, Runtime, State};

use crate::args::{
    Args, IdsArgs, ListAddArgs, ListDeleteArgs, ListUpdateArgs, ReminderSnoozeArgs, TaskAddArgs,
    TaskUpdateArgs, TasksMoveArgs, TasksPriorityArgs, TasksTagArgs, TrashEmptyArgs,
};
use crate::dto::{Changes, TaskPatchDto};
use crate::error::{IpcError, IpcResult};
use crate::shell::{blocking, Shell};
use crate::{background, emit, report};

pub fn parse_id(s: &str) -> IpcResult<Id> {
    s.trim()
        .parse()
        .map_err(|_| IpcError::invalid(format!("`{s}` is not an id (32 hex digits)")))
}

pub fn parse_ids(ids: &[String]) -> IpcResult<Vec<Id>> {
    ids.iter().map(|s| parse_id(s)).collect()
}

fn priority(p: u8) -> IpcResult<Priority> {
    Priority::new(p).map_err(|e| IpcError::invalid(e.to_string()))
}

/// Runs one mutation and reports what it changed (see the module doc for
/// `stale`).
pub async fn mutate<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Arc<Shell>,
    what: &'static str,
    f: impl FnOnce(&mut Vault) -> Result<(), IpcError> + Send + 'static,
) -> IpcResult<Changes> {
    let shell = shell.clone();
    let app2 = app.clone();
    let out = blocking(move || {
        shell.touch();
        shell.with_vault(|v| match f(v) {
            Ok(()) => {
                let c = report::take_changes(v)?;
                // Ids are random: safe to log, and what a bug report needs.
                let ids: Vec<&str> = c.tasks.iter().take(20).map(|t| t.id.as_str()).collect();
                tracing::info!(
                    action = what,
                    tasks = c.tasks.len(),
                    removed = c.removed_tasks.len(),
                    ids = %ids.join(","),
                    "done"
                );
                Ok(c)
            }
            Err(e) => {
                tracing::info!(action = what, code = %e.code, "refused");
                if e.code == "stale" {
                    match v.refresh() {
                        Ok(_) => emit::changed(&app2, report::take_changes(v)?),
                        Err(r) => tracing::warn!(code = r.code(), "reload after stale failed"),
                    }
                }
                Err(e)
            }
        })
    })
    .await?;
    background::rearm_reminders(app);
    Ok(out)
}

fn core<T>(r: Result<T, VaultError>) -> IpcResult<()> {
    r.map(drop).map_err(IpcError::from)
}

#[tauri::command]
pub async fn task_add<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TaskAddArgs>,
) -> IpcResult<Changes> {
    let TaskAddArgs {
        text,
        list_id,
        parent_id,
        due_today,
    } = args.0;
    let ctx = QuickAddContext {
        list: list_id.as_deref().map(parse_id).transpose()?,
        parent: parent_id.as_deref().map(parse_id).transpose()?,
        due_today: due_today.unwrap_or(false),
        notes: String::new(),
    };
    mutate(&app, shell.inner(), "task_add", move |v| {
        core(v.quick_add(&text, ctx))
    })
    .await
}

/// The core patch for a DTO; phrases are read at the vault's now and zone.
fn patch(v: &Vault, p: TaskPatchDto) -> IpcResult<TaskPatch> {
    let now = v.now().with_timezone(&v.local_tz());
    let due = match (p.due, p.due_text) {
        (Some(_), Some(_)) => return Err(IpcError::invalid("give due or dueText, not both")),
        (Some(None), None) => Some(None),
        (Some(Some(d)), None) => Some(Some(d.to_due()?)),
        (None, Some(text)) => Some(Some(quickadd::parse_due(&text, now)?)),
        (None, None) => None,
    };
    let recurrence = match (p.recurrence, p.repeat_text) {
        (Some(_), Some(_)) => {
            return Err(IpcError::invalid("give recurrence or repeatText, not both"))
        }
        (Some(None), None) => Some(None),
        (Some(Some(rule)), None) => Some(Some(Recurrence::parse(&rule)?)),
        (None, Some(text)) => Some(Some(Recurrence::from_text(&text)?)),
        (None, None) => None,
    };
    if p.move_before.is_some() && p.move_after.is_some() {
        return Err(IpcError::invalid("give moveBefore or moveAfter, not both"));
    }
    Ok(TaskPatch {
        title: p.title,
        notes: p.notes,
        list: p
            .list_id
            .map(|l| l.as_deref().map(parse_id).transpose())
            .transpose()?,
        list_name: None,
        add_tags: p.add_tags.unwrap_or_default(),
        remove_tags: p.remove_tags.unwrap_or_default(),
        priority: p.priority.map(priority).transpose()?,
        due,
        recurrence,
        parent: p
            .parent_id
            .map(|l| l.as_deref().map(parse_id).transpose())
            .transpose()?,
        move_before: p.move_before.as_deref().map(parse_id).transpose()?,
        move_after: p.move_after.as_deref().map(parse_id).transpose()?,
    })
}

#[tauri::command]
pub async fn task_update<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TaskUpdateArgs>,
) -> IpcResult<Changes> {
    let TaskUpdateArgs { id, patch } = args.0;
    let id = parse_id(&id)?;
    mutate(&app, shell.inner(), "task_update", move |v| {
        let p = self::patch(v, patch)?;
        core(v.update_task(id, p))
    })
    .await
}

macro_rules! bulk {
    ($name:ident, $method:ident) => {
        #[tauri::command]
        pub async fn $name<R: Runtime>(
            app: AppHandle<R>,
            shell: State<'_, Arc<Shell>>,
            args: Args<IdsArgs>,
        ) -> IpcResult<Changes> {
            let ids = parse_ids(&args.0.ids)?;
            mutate(&app, shell.inner(), stringify!($name), move |v| {
                core(v.$method(&ids))
            })
            .await
        }
    };
}

bulk!(tasks_complete, complete_tasks);
bulk!(tasks_reopen, reopen_tasks);
bulk!(tasks_trash, trash_tasks);
bulk!(tasks_restore, restore_tasks);

/// Deletes for good: the given tasks in the trash, or the whole trash.
#[tauri::command]
pub async fn trash_empty<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TrashEmptyArgs>,
) -> IpcResult<Changes> {
    let ids = args.0.ids.as_deref().map(parse_ids).transpose()?;
    mutate(&app, shell.inner(), "trash_empty", move |v| {
        core(v.empty_trash(ids.as_deref()))
    })
    .await
}

#[tauri::command]
pub async fn tasks_move<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TasksMoveArgs>,
) -> IpcResult<Changes> {
    let ids = parse_ids(&args.0.ids)?;
    let list = args.0.list_id.as_deref().map(parse_id).transpose()?;
    mutate(&app, shell.inner(), "tasks_move", move |v| {
        core(v.move_tasks(&ids, list))
    })
    .await
}

#[tauri::command]
pub async fn tasks_tag<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TasksTagArgs>,
) -> IpcResult<Changes> {
    let TasksTagArgs { ids, add, remove } = args.0;
    let ids = parse_ids(&ids)?;
    mutate(&app, shell.inner(), "tasks_tag", move |v| {
        core(v.tag_tasks(&ids, &add, &remove))
    })
    .await
}

#[tauri::command]
pub async fn tasks_priority<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<TasksPriorityArgs>,
) -> IpcResult<Changes> {
    let ids = parse_ids(&args.0.ids)?;
    let p = self::priority(args.0.priority)?;
    mutate(&app, shell.inner(), "tasks_priority", move |v| {
        core(v.set_priority(&ids, p))
    })
    .await
}

#[tauri::command]
pub async fn undo<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
) -> IpcResult<Changes> {
    mutate(&app, shell.inner(), "undo", |v| core(v.undo())).await
}

#[tauri::command]
pub async fn redo<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
) -> IpcResult<Changes> {
    mutate(&app, shell.inner(), "redo", |v| core(v.redo())).await
}

#[tauri::command]
pub async fn list_add<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<ListAddArgs>,
) -> IpcResult<Changes> {
    let ListAddArgs { name, colour } = args.0;
    mutate(&app, shell.inner(), "list_add", move |v| {
        core(v.add_list(&name, colour.as_deref()))
    })
    .await
}

#[tauri::command]
pub async fn list_update<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<ListUpdateArgs>,
) -> IpcResult<Changes> {
    let args = args.0;
    if args.move_before.is_some() && args.move_after.is_some() {
        return Err(IpcError::invalid("give moveBefore or moveAfter, not both"));
    }
    let id = parse_id(&args.id)?;
    let patch = ListPatch {
        name: args.name,
        colour: args.colour,
        archived: args.archived,
        move_before: args.move_before.as_deref().map(parse_id).transpose()?,
        move_after: args.move_after.as_deref().map(parse_id).transpose()?,
    };
    mutate(&app, shell.inner(), "list_update", move |v| {
        core(v.update_list(id, patch))
    })
    .await
}

#[tauri::command]
pub async fn list_delete<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<ListDeleteArgs>,
) -> IpcResult<Changes> {
    let ListDeleteArgs { id, with_tasks } = args.0;
    let id = parse_id(&id)?;
    mutate(&app, shell.inner(), "list_delete", move |v| {
        core(v.delete_list(id, with_tasks))
    })
    .await
}

/// Reminds of a task again in `minutes` (1 to a week).
#[tauri::command]
pub async fn reminder_snooze<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<ReminderSnoozeArgs>,
) -> IpcResult<()> {
    let ReminderSnoozeArgs { id, minutes } = args.0;
    let id = parse_id(&id)?;
    let shell = shell.inner().clone();
    blocking(move || {
        shell.touch();
        shell.with_vault(|v| {
            v.snooze(id, minutes)?;
            tracing::info!(task = %id, minutes, "snoozed");
            Ok(())
        })
    })
    .await?;
    background::rearm_reminders(&app);
    Ok(())
}
