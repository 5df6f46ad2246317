//! What crosses IPC for health reports (docs/desktop-ipc.md, "Health
//! reports").

use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "HealthState.ts")]
pub struct HealthState {
    /// The user said yes (off by default).
    pub enabled: bool,
    /// The question is due: never answered, and the install is a week old.
    pub ask: bool,
    /// The user answered (the question or Settings).
    pub decided: bool,
    /// This build can send (it has an update service); events are queued
    /// while it cannot.
    pub can_send: bool,
}

/// One field of a report, with this install's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "HealthField.ts")]
pub struct HealthField {
    /// As on the wire: `install_id`, `events[].kind`, …
    pub name: String,
    /// What this install sends in it now (the token as a label).
    pub example: String,
}

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "HealthEventDto.ts")]
pub struct HealthEventDto {
    /// `session_start`, `crash`, `update_installed`, `update_failed`.
    pub kind: String,
    /// RFC 3339.
    pub at: String,
    pub version: String,
    pub channel: String,
}

/// The "What is sent" view, made by the same code that builds the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "HealthPreview.ts")]
pub struct HealthPreview {
    pub fields: Vec<HealthField>,
    pub queued: Vec<HealthEventDto>,
    /// The exact JSON bodies that would be sent now (pretty-printed).
    pub reports: Vec<String>,
}
