//! The one error shape that crosses IPC: `{code, message}`. The UI branches
//! on `code` only (the core's stable `VaultError::code()` or one of the
//! shell's own below); `message` is for people and bug reports.
//!
//! Messages may quote what the user typed (a list name, a date phrase), so
//! they go to the UI only: logs get the code alone (see `logging`).

use std::borrow::Cow;

use productivitypro_core::interchange::{InterchangeError, UnknownFormat};
use productivitypro_core::profile::ProfileError;
use productivitypro_core::quickadd::QuickAddError;
use productivitypro_core::recurrence::RecurrenceError;
use productivitypro_core::VaultError;
use serde::Serialize;
use ts_rs::TS;

/// The shell's own codes (documented in docs/desktop-ipc.md).
pub mod codes {
    /// A command that needs an unlocked vault ran while it was locked.
    pub const VAULT_LOCKED: &str = "vault_locked";
    /// A DTO or argument the shell cannot accept.
    pub const INVALID_ARGUMENT: &str = "invalid_argument";
    /// The OS refused a global shortcut or the autostart entry.
    pub const PLATFORM_REFUSED: &str = "platform_refused";
    /// Another long operation (unlock, create, import, restore) is running.
    pub const BUSY: &str = "busy";
    /// `recovery_key_save` or `vault_confirm_recovery` with no new
    /// recovery key waiting to be confirmed.
    pub const NO_PENDING_RECOVERY_KEY: &str = "no_pending_recovery_key";
    /// Writing or reading a file the user chose failed.
    pub const IO: &str = "io";
    /// A bug or an unexpected failure in the shell itself.
    pub const INTERNAL: &str = "internal";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export_to = "IpcError.ts")]
pub struct IpcError {
    #[ts(type = "string")]
    pub code: Cow<'static, str>,
    pub message: String,
}

impl IpcError {
    pub fn new(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        IpcError {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn locked() -> Self {
        IpcError::new(codes::VAULT_LOCKED, "the vault is locked; unlock it first")
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        IpcError::new(codes::INVALID_ARGUMENT, message)
    }

    pub fn busy() -> Self {
        IpcError::new(
            codes::BUSY,
            "another long operation is running; try again when it has finished",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        IpcError::new(codes::INTERNAL, message)
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for IpcError {}

impl From<VaultError> for IpcError {
    fn from(e: VaultError) -> Self {
        match &e {
            // The core has one code for the grammar; the UI gets which part.
            VaultError::QuickAdd(q) => IpcError::new(quick_add_code(q), e.to_string()),
            _ => IpcError::new(e.code(), e.to_string()),
        }
    }
}

/// Quick-add grammar errors carry their own, more precise codes
/// (`quick_add_empty_title`, `quick_add_not_a_date`, …) so the UI can say
/// which part of the line is wrong.
impl From<QuickAddError> for IpcError {
    fn from(e: QuickAddError) -> Self {
        IpcError::new(quick_add_code(&e), e.to_string())
    }
}

pub fn quick_add_code(e: &QuickAddError) -> &'static str {
    match e {
        QuickAddError::EmptyTitle => "quick_add_empty_title",
        QuickAddError::BadPriority(_) => "quick_add_bad_priority",
        QuickAddError::MultiplePriorities(..) => "quick_add_multiple_priorities",
        QuickAddError::MultipleLists(..) => "quick_add_multiple_lists",
        QuickAddError::UnclosedListName(_) => "quick_add_unclosed_list_name",
        QuickAddError::InvalidDate(_) => "quick_add_invalid_date",
        QuickAddError::NotADate(_) => "quick_add_not_a_date",
    }
}

impl From<RecurrenceError> for IpcError {
    fn from(e: RecurrenceError) -> Self {
        VaultError::from(e).into()
    }
}

impl From<InterchangeError> for IpcError {
    fn from(e: InterchangeError) -> Self {
        VaultError::from(e).into()
    }
}

impl From<UnknownFormat> for IpcError {
    fn from(e: UnknownFormat) -> Self {
        IpcError::invalid(e.to_string())
    }
}

impl From<ProfileError> for IpcError {
    fn from(e: ProfileError) -> Self {
        IpcError::new(e.code(), e.to_string())
    }
}

impl From<tauri::Error> for IpcError {
    fn from(e: tauri::Error) -> Self {
        IpcError::internal(e.to_string())
    }
}

/// A file the user chose could not be read or written.
pub fn io_error(what: &str, path: &std::path::Path, e: std::io::Error) -> IpcError {
    IpcError::new(codes::IO, format!("{what} {}: {e}", path.display()))
}

pub type IpcResult<T> = Result<T, IpcError>;
