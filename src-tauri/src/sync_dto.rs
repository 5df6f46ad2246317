//! What crosses IPC for sync (docs/desktop-ipc.md, "Sync"): arguments,
//! the status the indicator and the Settings → Sync page show, devices.
//! No key, token or passphrase is ever in a DTO the shell sends; the
//! passphrase only comes in, and is dropped after use.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What sync is doing. `error` and `offline` carry the reason as a code
/// the UI maps in its error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncState.ts")]
pub enum SyncState {
    /// This vault does not sync (or the vault is locked).
    Off,
    Syncing,
    Synced,
    /// The server cannot be reached; retried with backoff.
    Offline,
    /// Sync stopped for a reason the user must see (`code`).
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncStatus.ts")]
pub struct SyncStatus {
    pub state: SyncState,
    /// Why `offline` / `error` (a stable code), else null.
    pub code: Option<String>,
    pub message: Option<String>,
    /// The account, when this vault syncs.
    pub server: Option<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    /// RFC 3339: the last exchange that completed.
    pub last_sync: Option<String>,
    /// Changes recorded here and not yet acknowledged by the server.
    pub pending: bool,
}

impl SyncStatus {
    pub fn off() -> Self {
        SyncStatus {
            state: SyncState::Off,
            code: None,
            message: None,
            server: None,
            email: None,
            device_id: None,
            last_sync: None,
            pending: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncDeviceDto.ts")]
pub struct SyncDeviceDto {
    pub id: String,
    pub name: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, minute precision.
    pub last_seen_at: String,
    pub signed_out: bool,
    pub current: bool,
}

/// Shown once after sign-up: the key that reopens the account if the
/// passphrase is lost (`pp sync recover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncSignedUp.ts")]
pub struct SyncSignedUp {
    pub recovery_key: String,
    pub status: SyncStatus,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncSignInArgs.ts")]
pub struct SyncSignInArgs {
    pub server: String,
    pub email: String,
    pub passphrase: String,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncDeviceArgs.ts")]
pub struct SyncDeviceArgs {
    pub device_id: String,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncSignOutArgs.ts")]
pub struct SyncSignOutArgs {
    /// Sign out even though some changes were not sent.
    #[ts(optional)]
    #[serde(default)]
    pub discard_unsent: Option<bool>,
}

/// Settings → Sync → Change the sync passphrase.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncPassphraseArgs.ts")]
pub struct SyncPassphraseArgs {
    pub current: String,
    pub new_passphrase: String,
    /// Sign every other device out (their sessions end; they sign in
    /// again with the new passphrase).
    #[ts(optional)]
    #[serde(default)]
    pub sign_out_other_devices: Option<bool>,
}

/// Settings → Sync → Make a new sync recovery key (proven with the sync
/// passphrase).
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncRecoveryKeyArgs.ts")]
pub struct SyncRecoveryKeyArgs {
    pub passphrase: String,
}

/// The new sync recovery key, shown once and confirmed like the vault's
/// (`vault_confirm_recovery`, `recovery_key_save`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export_to = "SyncRecoveryKey.ts")]
pub struct SyncRecoveryKey {
    pub recovery_key: String,
}

/// Forgot the sync passphrase: open the account with its recovery key
/// (the dedicated one, or the vault's if that was chosen), set a new
/// passphrase and start syncing.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(export_to = "SyncRecoverArgs.ts")]
pub struct SyncRecoverArgs {
    pub server: String,
    pub email: String,
    pub recovery_key: String,
    pub new_passphrase: String,
    #[ts(optional)]
    #[serde(default)]
    pub sign_out_other_devices: Option<bool>,
}

pub const STATUS_EVENT: &str = "sync://status";
