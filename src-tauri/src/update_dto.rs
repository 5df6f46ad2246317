//! What crosses IPC for in-app updates (docs/desktop-ipc.md, "Updates";
//! the contract both the shell and the UI implement). The release notes
//! are the service's text, untrusted: the UI renders them safely.

use productivitypro_protocol::Channel;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `update://state`: the whole `UpdateState`, whenever it changes
/// (download progress at most ~5 times a second).
pub const STATE_EVENT: &str = "update://state";

/// Which releases this install is offered. `canary` is behind the advanced toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdateChannel.ts")]
pub enum UpdateChannel {
    #[default]
    Stable,
    Beta,
    Canary,
}

impl From<UpdateChannel> for Channel {
    fn from(c: UpdateChannel) -> Channel {
        match c {
            UpdateChannel::Stable => Channel::Stable,
            UpdateChannel::Beta => Channel::Beta,
            UpdateChannel::Canary => Channel::Canary,
        }
    }
}

/// Where the updater is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdatePhase.ts")]
pub enum UpdatePhase {
    /// Updates cannot run in this build (no public key built in, or a
    /// portable/dev build): `error.code` says why.
    Unavailable,
    /// Never checked in this session yet.
    Idle,
    Checking,
    UpToDate,
    /// `offer` is set; nothing downloaded yet.
    Available,
    /// `offer` + `progress` are set.
    Downloading,
    /// Downloaded and verified; "Restart to update".
    Ready,
    Installing,
    /// `error` is set; `nextRetryAt` says when the next automatic try is.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdateOfferDto.ts")]
pub struct UpdateOfferDto {
    pub version: String,
    /// Release notes, Markdown, untrusted: the UI renders it safely.
    pub notes: Option<String>,
    /// RFC 3339.
    pub pub_date: Option<String>,
    /// The service offers an older, last-good release (signed downgrade).
    pub rollback: bool,
    /// What will really be downloaded, in bytes (the patch's size when `delta`).
    #[ts(type = "number")]
    pub download_size: u64,
    /// The full artifact's size in bytes, when the service said.
    #[ts(type = "number | null")]
    pub full_size: Option<u64>,
    /// A binary patch from the installed version will be downloaded.
    pub delta: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdateProgress.ts")]
pub struct UpdateProgress {
    #[ts(type = "number")]
    pub received: u64,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
    /// Averaged over the last few seconds.
    #[ts(type = "number")]
    pub bytes_per_second: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdateError.ts")]
pub struct UpdateError {
    /// A stable code, mapped to words in the UI's error table.
    pub code: String,
    /// Detail for the log / "more" disclosure; never shown instead of the code's words.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "UpdateState.ts")]
pub struct UpdateState {
    pub phase: UpdatePhase,
    /// The running version.
    pub current: String,
    pub channel: UpdateChannel,
    pub offer: Option<UpdateOfferDto>,
    pub progress: Option<UpdateProgress>,
    pub error: Option<UpdateError>,
    /// RFC 3339: the last check that reached the service.
    pub last_checked: Option<String>,
    /// RFC 3339: the next automatic try after a failure (backoff), else null.
    pub next_retry_at: Option<String>,
    /// Installing will ask for the administrator password (Linux deb/rpm:
    /// pkexec): the UI explains this before the user presses "Restart to update".
    pub needs_privilege: bool,
}
