//! The data that crosses IPC (docs/desktop-ipc.md, "Data"). Field names
//! are camelCase on the wire; the TypeScript types in
//! `ui/src/lib/ipc/bindings/` are generated from these (see `bindings`).
//! Conversions from core types live here too, so what the UI sees is
//! decided in one place.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use productivitypro_core::reminders::due_instant;
use productivitypro_core::{Due, List, Recurrence, Task};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::IpcError;

/// A task, list or other record id: 32 lowercase hex digits.
pub type Id = String;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "DueDto.ts")]
pub struct DueDto {
    /// YYYY-MM-DD
    pub date: String,
    /// HH:MM (24 h); null = all day.
    pub time: Option<String>,
    /// IANA zone; null = floating (the user's local time).
    pub tz: Option<String>,
    /// RFC 3339 instant in local time, for sorting and reminders.
    pub at: String,
}

impl DueDto {
    /// `at` is the instant the due means (a date-only due: the start of
    /// its day), shown in the local zone.
    pub fn from_due(d: &Due, local: Tz) -> Self {
        let at = due_instant(d, local, NaiveTime::MIN)
            .with_timezone(&local)
            .to_rfc3339();
        DueDto {
            date: d.date.format("%Y-%m-%d").to_string(),
            time: d.time.map(|t| t.format("%H:%M").to_string()),
            tz: d.tz.clone(),
            at,
        }
    }
}

/// A due date the UI sends (no `at`: the shell computes it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "DueInput.ts")]
pub struct DueInput {
    pub date: String,
    pub time: Option<String>,
    pub tz: Option<String>,
}

impl DueInput {
    pub fn to_due(&self) -> Result<Due, IpcError> {
        let date =
            chrono::NaiveDate::parse_from_str(self.date.trim(), "%Y-%m-%d").map_err(|_| {
                IpcError::invalid(format!("due date `{}` is not YYYY-MM-DD", self.date))
            })?;
        let time = match &self.time {
            None => None,
            Some(t) => Some(
                NaiveTime::parse_from_str(t.trim(), "%H:%M")
                    .or_else(|_| NaiveTime::parse_from_str(t.trim(), "%H:%M:%S"))
                    .map_err(|_| IpcError::invalid(format!("due time `{t}` is not HH:MM")))?,
            ),
        };
        if let Some(tz) = &self.tz {
            productivitypro_core::domain::validate_tz(tz)
                .map_err(|e| IpcError::new("invalid_input", e.to_string()))?;
            if time.is_none() {
                return Err(IpcError::invalid(
                    "a time zone needs a time (an all-day due date is always local)",
                ));
            }
        }
        Ok(Due {
            date,
            time,
            tz: self.tz.clone(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "RecurrenceDto.ts")]
pub struct RecurrenceDto {
    /// The RRULE body, e.g. `FREQ=WEEKLY;BYDAY=MO`.
    pub rule: String,
    /// The rule in words, e.g. "every Monday".
    pub label: String,
}

impl From<&Recurrence> for RecurrenceDto {
    fn from(r: &Recurrence) -> Self {
        RecurrenceDto {
            rule: r.as_str().to_string(),
            label: r.label(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "TaskDto.ts")]
pub struct TaskDto {
    pub id: Id,
    pub title: String,
    /// Markdown; the UI renders it sanitised.
    pub notes: String,
    /// null = Inbox.
    pub list_id: Option<Id>,
    /// Sorted, without '@'.
    pub tags: Vec<String>,
    /// 0 none, 1 most urgent … 4.
    #[ts(type = "0 | 1 | 2 | 3 | 4")]
    pub priority: u8,
    pub due: Option<DueDto>,
    pub recurrence: Option<RecurrenceDto>,
    pub parent_id: Option<Id>,
    /// Fractional index; compare as strings.
    pub order: String,
    pub done: bool,
    pub done_at: Option<String>,
    /// In the trash since.
    pub trashed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl TaskDto {
    pub fn from_task(t: &Task, local: Tz) -> Self {
        TaskDto {
            id: t.id.to_string(),
            title: t.title.clone(),
            notes: t.notes.clone(),
            list_id: t.list.map(|l| l.to_string()),
            tags: t.tags.iter().cloned().collect(),
            priority: t.priority.get(),
            due: t.due.as_ref().map(|d| DueDto::from_due(d, local)),
            recurrence: t.recurrence.as_ref().map(RecurrenceDto::from),
            parent_id: t.parent.map(|p| p.to_string()),
            order: t.order.as_str().to_string(),
            done: t.done,
            done_at: t.done_at.as_ref().map(ts),
            trashed_at: t.trashed_at.as_ref().map(ts),
            created_at: ts(&t.created_at),
            updated_at: ts(&t.updated_at),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ListDto.ts")]
pub struct ListDto {
    pub id: Id,
    pub name: String,
    pub colour: Option<String>,
    pub order: String,
    pub archived: bool,
    /// Open (not done, not trashed) tasks in the list.
    pub open_count: u32,
}

impl ListDto {
    pub fn from_list(l: &List, open_count: usize) -> Self {
        ListDto {
            id: l.id.to_string(),
            name: l.name.clone(),
            colour: l.colour.clone(),
            order: l.order.as_str().to_string(),
            archived: l.archived,
            open_count: open_count as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "TagDto.ts")]
pub struct TagDto {
    pub name: String,
    pub open_count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SidebarCounts.ts")]
pub struct SidebarCounts {
    pub inbox: u32,
    pub today: u32,
    pub overdue: u32,
    pub upcoming: u32,
    pub trash: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "HistoryState.ts")]
pub struct HistoryState {
    pub can_undo: bool,
    pub can_redo: bool,
    /// Fixed words and a count ("3 tasks completed"), never user content.
    pub undo_label: Option<String>,
    pub redo_label: Option<String>,
}

/// What a mutation (or another process's change) did, so the UI patches
/// its cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Changes.ts")]
pub struct Changes {
    /// Added or changed (full records).
    pub tasks: Vec<TaskDto>,
    /// Gone for good (trash emptied).
    pub removed_tasks: Vec<Id>,
    pub lists: Vec<ListDto>,
    pub removed_lists: Vec<Id>,
    /// The full tag table when a task or tag changed, else null
    /// (unchanged). An empty table is `[]`, not null.
    pub tags: Option<Vec<TagDto>>,
    pub counts: SidebarCounts,
    pub history: HistoryState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Snapshot.ts")]
pub struct Snapshot {
    pub lists: Vec<ListDto>,
    pub tags: Vec<TagDto>,
    pub counts: SidebarCounts,
    pub history: HistoryState,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "ViewSpec.ts")]
pub enum ViewSpec {
    Inbox,
    Today,
    Upcoming { days: u32 },
    List { id: Id },
    Tag { name: String },
    Completed,
    Trash,
    Search { text: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "Filter.ts")]
pub struct Filter {
    #[ts(optional)]
    pub list_id: Option<Id>,
    #[ts(optional)]
    pub tag: Option<String>,
    #[ts(optional)]
    pub priority: Option<u8>,
    /// YYYY-MM-DD, inclusive.
    #[ts(optional)]
    pub due_before: Option<String>,
    /// YYYY-MM-DD, inclusive.
    #[ts(optional)]
    pub due_after: Option<String>,
    #[ts(optional)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Sort.ts")]
pub enum Sort {
    #[default]
    Manual,
    Due,
    Priority,
    Created,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ViewSummary.ts")]
pub struct ViewSummary {
    pub overdue: u32,
    pub today: u32,
    pub total: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "ViewResult.ts")]
pub struct ViewResult {
    /// The view's tasks in display order (subtasks right after their
    /// parent). The UI fetches the records of the rows it shows with
    /// `tasks_get`.
    pub ids: Vec<Id>,
    /// Per id: the index in `ids` of its parent when the parent is in this
    /// view (before it), else -1. The UI indents and folds by it.
    pub parents: Vec<i32>,
    /// Per id, for Today and Upcoming only (else []): the due date
    /// (YYYY-MM-DD, local) the row is grouped under, null when undated.
    pub days: Vec<Option<String>>,
    pub summary: ViewSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "QuickAddPreview.ts")]
pub struct QuickAddPreview {
    pub title: String,
    pub list_name: Option<String>,
    pub tags: Vec<String>,
    #[ts(type = "0 | 1 | 2 | 3 | 4")]
    pub priority: u8,
    pub due: Option<DueDto>,
    /// "Tomorrow 09:00", "Fri 12 Dec"; null without a date.
    pub due_label: Option<String>,
    pub recurrence: Option<RecurrenceDto>,
    /// Why the line cannot be added as it is (the fields are then empty).
    pub error: Option<IpcError>,
}

/// A change to a task; a missing field stays as it is. `null` clears the
/// nullable ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "TaskPatchDto.ts")]
pub struct TaskPatchDto {
    #[ts(optional)]
    pub title: Option<String>,
    #[ts(optional)]
    pub notes: Option<String>,
    #[serde(default, with = "double_option")]
    #[ts(optional, as = "Option<Option<Id>>")]
    pub list_id: Option<Option<Id>>,
    #[ts(optional)]
    pub add_tags: Option<Vec<String>>,
    #[ts(optional)]
    pub remove_tags: Option<Vec<String>>,
    #[ts(optional, type = "0 | 1 | 2 | 3 | 4")]
    pub priority: Option<u8>,
    #[serde(default, with = "double_option")]
    #[ts(optional, as = "Option<Option<DueInput>>")]
    pub due: Option<Option<DueInput>>,
    /// A date phrase ("next fri 5pm"), read with the quick-add grammar.
    #[ts(optional)]
    pub due_text: Option<String>,
    /// An RRULE body; null removes the repeat.
    #[serde(default, with = "double_option")]
    #[ts(optional, as = "Option<Option<String>>")]
    pub recurrence: Option<Option<String>>,
    /// A repeat phrase ("every 2 weeks").
    #[ts(optional)]
    pub repeat_text: Option<String>,
    #[serde(default, with = "double_option")]
    #[ts(optional, as = "Option<Option<Id>>")]
    pub parent_id: Option<Option<Id>>,
    #[ts(optional)]
    pub move_before: Option<Id>,
    #[ts(optional)]
    pub move_after: Option<Id>,
}

/// `Option<Option<T>>` that tells a missing field (None) from `null`
/// (Some(None)).
pub mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SlotKind.ts")]
pub enum SlotKind {
    Keyring,
    Passphrase,
    Recovery,
}

impl From<productivitypro_core::slots::SlotKind> for SlotKind {
    fn from(k: productivitypro_core::slots::SlotKind) -> Self {
        use productivitypro_core::slots::SlotKind as K;
        match k {
            K::Keyring => SlotKind::Keyring,
            K::Passphrase => SlotKind::Passphrase,
            K::Recovery => SlotKind::Recovery,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SlotInfo.ts")]
pub struct SlotInfo {
    #[ts(type = "number")]
    pub id: i64,
    pub kind: SlotKind,
    pub created_at: String,
}

impl From<productivitypro_core::vault::SlotInfo> for SlotInfo {
    fn from(s: productivitypro_core::vault::SlotInfo) -> Self {
        SlotInfo {
            id: s.id,
            kind: s.kind.into(),
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "VaultState.ts")]
pub enum VaultState {
    Missing,
    Locked,
    Unlocked,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "LaunchRequest.ts")]
pub struct LaunchRequest {
    /// Started with `--quick-add` (or from the desktop entry's action).
    pub quick_add: bool,
    /// Started with a `productivitypro://` link: the quick-add text it
    /// carries, to confirm before saving.
    pub deep_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "AppStatus.ts")]
pub struct AppStatus {
    pub vault: VaultState,
    pub vault_dir: String,
    pub version: String,
    /// The vault's key slots when it exists (readable while locked: they
    /// say what a slot is, never what it holds).
    pub slots: Option<Vec<SlotInfo>>,
    /// What this launch asked for; cleared once reported.
    pub launch: LaunchRequest,
    /// Background failures from before the UI was listening (a global
    /// shortcut the platform refused at start, …); reported once.
    pub notices: Vec<IpcError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Created.ts")]
pub struct Created {
    /// Shown once, then confirmed with `vault_confirm_recovery`.
    pub recovery_key: String,
    /// Why the vault has no keyring slot (it opens with the passphrase or
    /// the recovery key only), or null.
    pub keyring_error: Option<IpcError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "RecoveryAnswer.ts")]
pub struct RecoveryAnswer {
    /// 1-based group number.
    pub group: u32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Confirmed.ts")]
pub struct Confirmed {
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "NewRecoveryKey.ts")]
pub struct NewRecoveryKey {
    pub recovery_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UnlockMethod.ts")]
pub enum UnlockMethod {
    Keyring,
    Passphrase,
    RecoveryKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "BackupInfo.ts")]
pub struct BackupInfo {
    pub path: String,
    pub created_at: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

impl From<productivitypro_core::vault::BackupInfo> for BackupInfo {
    fn from(b: productivitypro_core::vault::BackupInfo) -> Self {
        BackupInfo {
            path: b.path.display().to_string(),
            created_at: ts(&b.created_at),
            bytes: b.bytes,
        }
    }
}

/// A copy of the vault from before a schema migration (a newer app's
/// upgrade): its file name only, never the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "PreMigrationCopy.ts")]
pub struct PreMigrationCopy {
    pub name: String,
    /// The vault's schema when it was copied.
    pub schema: u32,
    pub created_at: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

impl From<productivitypro_core::PreMigrationCopy> for PreMigrationCopy {
    fn from(c: productivitypro_core::PreMigrationCopy) -> Self {
        PreMigrationCopy {
            name: c.name,
            schema: c.schema,
            created_at: ts(&c.created_at),
            bytes: c.bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "Exported.ts")]
pub struct Exported {
    pub tasks: u32,
}

// ---- events (Rust → UI)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "LockReason.ts")]
pub enum LockReason {
    User,
    Idle,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "LockedEvent.ts")]
pub struct LockedEvent {
    pub reason: LockReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "QuickAddEvent.ts")]
pub struct QuickAddEvent {
    /// Text to put in quick add for the user to confirm (from a deep
    /// link); null opens an empty quick add.
    pub text: Option<String>,
}

/// Where a notification or tray item sends the UI. Serialized like the
/// `ViewSpec` the UI sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[ts(export_to = "NavigateView.ts")]
pub enum NavigateView {
    Inbox,
    Today,
    List { id: Id },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "NavigateEvent.ts")]
pub struct NavigateEvent {
    pub view: NavigateView,
    pub task_id: Option<Id>,
}

/// Event names (docs/desktop-ipc.md, "Events").
pub mod events {
    pub const VAULT_CHANGED: &str = "vault://changed";
    pub const VAULT_LOCKED: &str = "vault://locked";
    pub const QUICK_ADD: &str = "app://quick-add";
    pub const NAVIGATE: &str = "app://navigate";
    pub const ERROR: &str = "app://error";
}
