//! Reminders as notifications. Which reminders are due is the core's
//! (`Vault::check_reminders`, which also remembers what was shown and the
//! snoozes); this module turns them into notifications and handles what
//! the user does with one ("Done", "Snooze 10 min", a click).
//!
//! Desktop notification servers ignore scheduled notifications, so the
//! shell runs its own timer (`background`): it checks at the core's next
//! wake-up time, at least once a minute, after every change, and at once
//! when the wall clock jumps (suspend/resume, a clock change).
//!
//! While the vault is locked nothing can be read, so reminders wait: at
//! the next unlock they come as "missed", shown once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use productivitypro_core::reminders::{Reminder, ReminderCheck, ReminderKind, ReminderSettings};
use productivitypro_core::{TaskId, Vault};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::{Action, ActionPerformed, ActionType, NotificationExt};

use crate::dto::{NavigateEvent, NavigateView};
use crate::settings::{Settings, TimeFormat};
use crate::shell::{blocking, Shell};
use crate::{desktop, emit, report};

pub const ACTION_TYPE: &str = "reminder";
pub const ACTION_DONE: &str = "done";
pub const ACTION_SNOOZE: &str = "snooze";
pub const SNOOZE_MINUTES: u32 = 10;
/// Missed reminders shown one by one; more become one summary.
pub const MISSED_SHOWN: usize = 3;

/// One notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The task, when the notice is about one (not for a summary).
    pub task: Option<TaskId>,
    pub title: String,
    pub body: String,
}

/// How the core is asked: the user's lead time, at the due time too.
pub fn core_settings(s: &Settings) -> ReminderSettings {
    ReminderSettings {
        lead: (s.reminder_lead_minutes > 0)
            .then(|| chrono::Duration::minutes(s.reminder_lead_minutes as i64)),
        ..ReminderSettings::default()
    }
}

fn time(t: DateTime<Utc>, tz: Tz, s: &Settings) -> String {
    let local = t.with_timezone(&tz);
    match s.time_format {
        TimeFormat::H24 => local.format("%H:%M").to_string(),
        TimeFormat::H12 => local.format("%-I:%M %P").to_string(),
    }
}

fn body(r: &Reminder, all_day: bool, tz: Tz, s: &Settings, missed: bool) -> String {
    let due = time(r.due_at, tz, s);
    match (missed, r.kind, all_day) {
        (true, _, true) => "Missed while the app was closed: due today".into(),
        (true, _, false) => format!("Missed while the app was closed: due {due}"),
        (false, _, true) => "Due today".into(),
        (false, ReminderKind::Lead, false) => {
            let mins = (r.due_at - r.at).num_minutes();
            format!("Due at {due} (in {mins} min)")
        }
        (false, ReminderKind::Snoozed, false) => format!("Snoozed — due {due}"),
        (false, ReminderKind::Due, false) => format!("Due now ({due})"),
    }
}

/// The notifications for one check: every reminder due now, and the missed
/// ones (a few one by one, the rest as one summary).
pub fn notices(v: &Vault, check: &ReminderCheck, s: &Settings) -> Vec<Notice> {
    let tz = v.local_tz();
    let one = |r: &Reminder, missed: bool| {
        v.task(r.task).map(|t| Notice {
            task: Some(t.id),
            title: t.title.clone(),
            body: body(
                r,
                t.due.as_ref().is_some_and(|d| d.time.is_none()),
                tz,
                s,
                missed,
            ),
        })
    };
    let mut out: Vec<Notice> = check.due_now.iter().filter_map(|r| one(r, false)).collect();
    let shown = if check.missed.len() > MISSED_SHOWN {
        MISSED_SHOWN - 1
    } else {
        check.missed.len()
    };
    out.extend(check.missed[..shown].iter().filter_map(|r| one(r, true)));
    let rest = check.missed.len() - shown;
    if rest > 0 {
        out.push(Notice {
            task: None,
            title: format!("{rest} more reminders missed"),
            body: "They came due while ProductivityPro was closed or locked; see Today.".into(),
        });
    }
    out
}

/// Where notices go: the OS notification server in the app.
pub trait NoticeSink: Send + Sync {
    fn show(&self, n: &Notice);
}

/// Shows notices with the notification plugin, with "Done" and
/// "Snooze 10 min" buttons where the server supports actions.
pub struct OsNotifications<R: Runtime>(pub AppHandle<R>);

/// A stable notification id per task, so a new reminder for a task
/// replaces its previous one.
pub fn notification_id(task: Option<TaskId>) -> i32 {
    match task {
        Some(t) => {
            let b = t.as_bytes();
            (i32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x3fff_ffff) | 1
        }
        None => 0x4000_0000,
    }
}

impl<R: Runtime> NoticeSink for OsNotifications<R> {
    fn show(&self, n: &Notice) {
        let mut b = self
            .0
            .notification()
            .builder()
            .id(notification_id(n.task))
            .title(n.title.clone())
            .body(n.body.clone());
        if let Some(t) = n.task {
            b = b.action_type_id(ACTION_TYPE).extra("taskId", t.to_string());
        }
        match b.show() {
            Ok(()) => tracing::info!(task = ?n.task.map(|t| t.to_string()), "reminder shown"),
            Err(e) => tracing::warn!(error = %e, "reminder not shown"),
        }
    }
}

/// Registers the buttons and what they do. Call once at start.
pub fn register_actions<R: Runtime>(app: &AppHandle<R>) -> tauri_plugin_notification::Result<()> {
    let n = app.notification();
    n.register_action_types(vec![ActionType::builder(ACTION_TYPE)
        .actions(vec![
            Action::builder(ACTION_DONE, "Done").build(),
            Action::builder(ACTION_SNOOZE, "Snooze 10 min").build(),
        ])
        .build()])?;
    let app = app.clone();
    n.on_action(move |a| on_action(&app, a))
}

fn task_of(a: &ActionPerformed) -> Option<TaskId> {
    a.notification()?
        .extra()
        .get("taskId")?
        .as_str()?
        .parse()
        .ok()
}

fn on_action<R: Runtime>(app: &AppHandle<R>, a: &ActionPerformed) {
    let Some(task) = task_of(a) else { return };
    let action = a.action_id().to_string();
    tracing::info!(action = %action, task = %task, "reminder action");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Arc<Shell>>().inner().clone();
        match action.as_str() {
            ACTION_DONE => {
                let app2 = app.clone();
                let r = blocking(move || {
                    shell.with_vault(|v| {
                        v.complete_tasks(&[task])?;
                        report::take_changes(v)
                    })
                })
                .await;
                match r {
                    Ok(c) => emit::changed(&app2, c),
                    Err(e) => emit::error(&app2, e),
                }
            }
            ACTION_SNOOZE => {
                let r = blocking(move || shell.with_vault(|v| Ok(v.snooze(task, SNOOZE_MINUTES)?)))
                    .await;
                match r {
                    Ok(_) => crate::background::rearm_reminders(&app),
                    Err(e) => emit::error(&app, e),
                }
            }
            // A click on the notification itself: open the task.
            _ => {
                let list = shell
                    .try_with_vault(|v| v.task(task).and_then(|t| t.list))
                    .flatten();
                desktop::window::show_main(&app);
                emit::navigate(
                    &app,
                    NavigateEvent {
                        view: match list {
                            Some(l) => NavigateView::List { id: l.to_string() },
                            None => NavigateView::Inbox,
                        },
                        task_id: Some(task.to_string()),
                    },
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_ids_are_stable_positive_and_apart_from_the_summary() {
        let a: TaskId = "0123456789abcdef0123456789abcdef".parse().unwrap();
        let b: TaskId = "ffffffff89abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(notification_id(Some(a)), notification_id(Some(a)));
        assert_ne!(notification_id(Some(a)), notification_id(Some(b)));
        for id in [notification_id(Some(a)), notification_id(Some(b))] {
            assert!(id > 0 && id < 0x4000_0000);
        }
        assert_eq!(notification_id(None), 0x4000_0000);
    }

    #[test]
    fn lead_time_zero_means_only_at_the_due_time() {
        let s = Settings {
            reminder_lead_minutes: 0,
            ..Settings::default()
        };
        assert_eq!(core_settings(&s).lead, None);
        let s = Settings {
            reminder_lead_minutes: 15,
            ..Settings::default()
        };
        assert_eq!(core_settings(&s).lead, Some(chrono::Duration::minutes(15)));
        assert!(core_settings(&s).at_due);
    }
}
