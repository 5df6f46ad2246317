use std::path::PathBuf;

use crate::crypto::RecordKind;
use crate::domain::{DomainError, Id};
use crate::interchange::InterchangeError;
use crate::os_keyring::KeyringError;
use crate::recovery::RecoveryKeyError;
use crate::recurrence::RecurrenceError;
use crate::schema::SchemaError;
use crate::slots::SlotKind;

const UNLOCK_HINT: &str = "open it with your passphrase (PRODUCTIVITYPRO_PASSPHRASE or --passphrase-file) or your recovery key (PRODUCTIVITYPRO_RECOVERY_KEY or --recovery-key-file)";

/// Everything that can go wrong with a vault. Each variant has a stable
/// [`code`](VaultError::code) that front ends branch on; the message says
/// what happened and what to do.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("no vault in {dir}; create one with `pp init`")]
    NotFound { dir: PathBuf },
    #[error("a vault already exists in {dir}; nothing was changed")]
    AlreadyExists { dir: PathBuf },
    #[error("the vault file in {dir} is damaged or not a vault ({detail}); restore a backup with `pp vault restore FILE`")]
    Corrupt { dir: PathBuf, detail: String },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Sync(#[from] crate::vault::sync::SyncError),
    #[error("{source}; {hint}", hint = UNLOCK_HINT)]
    Keyring {
        #[source]
        source: KeyringError,
    },
    #[error("this vault has no {kind} slot; {hint}", hint = match kind { SlotKind::Keyring => UNLOCK_HINT, SlotKind::Passphrase => "open it with the OS keyring or your recovery key, then add one with `pp vault add-passphrase`", SlotKind::Recovery => "open it another way, then make one with `pp vault recovery-key`" })]
    NoSuchSlot { kind: SlotKind },
    #[error("wrong passphrase; nothing was changed (try again, or use your recovery key)")]
    WrongPassphrase,
    #[error(transparent)]
    RecoveryKeyMistyped(#[from] RecoveryKeyError),
    #[error("this recovery key is well-formed but does not open this vault (is it from another vault, or was a newer one made?)")]
    WrongRecoveryKey,
    #[error("{kind} slot {slot} is damaged ({detail})")]
    SlotDamaged {
        kind: SlotKind,
        slot: i64,
        detail: String,
    },
    #[error("{kind} record {id} was sealed with another key ({found}, the vault's key is {expected}); restore a backup")]
    RecordWrongKey {
        kind: &'static str,
        id: String,
        found: String,
        expected: String,
    },
    #[error("{kind} record {id} was tampered with or damaged (it does not authenticate); nothing was changed — restore a backup")]
    RecordTampered { kind: &'static str, id: String },
    #[error("{kind} record stored as {found_at} really belongs to {belongs_to}: records were swapped or moved; nothing was changed — restore a backup")]
    RecordMoved {
        kind: &'static str,
        found_at: String,
        belongs_to: String,
    },
    #[error("{kind} record {id} is unreadable after decryption ({detail})")]
    RecordUnreadable {
        kind: &'static str,
        id: String,
        detail: String,
    },
    #[error("another process changed {kind} {id} since this one loaded the vault; nothing was written — reload and try again")]
    Stale { kind: &'static str, id: String },
    #[error("another process changed the vault since this one loaded it (change {current}, this process saw change {loaded}); nothing was written — reload and try again")]
    StaleVault { loaded: i64, current: i64 },
    #[error("another process replaced the vault's data key since this one loaded it; nothing was written — open the vault again and retry")]
    KeyRotated,
    #[error("{what}: records were deleted from the vault file outside the app. Nothing was changed — restore a backup with `pp vault restore FILE`")]
    RecordMissing { what: String },
    #[error("{what}: the vault file was rolled back to older data outside the app. Nothing was changed — restore a backup with `pp vault restore FILE`")]
    VaultRolledBack { what: String },
    #[error("{kind} slot {slot} asks for Argon2 with {m_kib} KiB, {t} passes and {p} lanes; this app accepts at most {max_m_kib} KiB, {max_t} passes and {max_p} lanes, so the file was altered or made by another tool — nothing was derived. Use another slot (the recovery key)", max_m_kib = crate::slots::MAX_ARGON2_M_KIB, max_t = crate::slots::MAX_ARGON2_T, max_p = crate::slots::MAX_ARGON2_P)]
    KdfParamsOutOfBounds {
        kind: SlotKind,
        slot: i64,
        m_kib: u32,
        t: u32,
        p: u32,
    },
    #[error("no task matches `{0}`")]
    TaskNotFound(String),
    #[error("no list matches `{0}`")]
    ListNotFound(String),
    #[error("`{prefix}` matches several tasks ({candidates}); type more of the id")]
    AmbiguousId { prefix: String, candidates: String },
    #[error("a list named `{0}` already exists")]
    ListExists(String),
    #[error("list `{name}` still has {count} tasks; move or delete them first, or delete with --with-tasks")]
    ListNotEmpty { name: String, count: usize },
    #[error("{0} already exists in this vault; nothing was imported")]
    ImportConflict(String),
    #[error("cannot remove the last key slot: the vault could never be opened again")]
    LastSlot,
    #[error("no key slot with id {0}")]
    NoSlotId(i64),
    #[error("a passphrase is needed to rotate the key, because the vault has a passphrase slot")]
    PassphraseRequired,
    #[error("a passphrase cannot be empty")]
    EmptyPassphrase,
    #[error("a task cannot be its own ancestor ({0})")]
    ParentCycle(String),
    #[error("task {0} is in the trash; restore it first (`pp trash restore`)")]
    TaskTrashed(String),
    #[error("task {0} is not in the trash; only tasks in the trash can be deleted for good")]
    TaskNotTrashed(String),
    #[error("nothing to undo")]
    UndoEmpty,
    #[error("nothing to redo")]
    RedoEmpty,
    #[error("cannot {action} \"{label}\": {what} changed since (in another window, another session or `pp`); nothing was changed")]
    UndoConflict {
        action: &'static str,
        label: String,
        what: String,
    },
    #[error("`{0}` is not a history session name (1–32 characters: a-z, 0-9, - or _)")]
    BadSession(String),
    #[error("{0}")]
    InvalidSetting(String),
    #[error(transparent)]
    QuickAdd(#[from] crate::quickadd::QuickAddError),
    #[error("the vault in {dir} is from an older version and must be upgraded, but a copy of it could not be saved first ({detail}); nothing was changed — free some disk space or make the folder writable, then open it again")]
    MigrationBackupFailed { dir: PathBuf, detail: String },
    #[error("the vault in {dir} is open in ProductivityPro or `pp` (perhaps another version of the app), so it cannot be replaced; nothing was changed — close it there, then try again")]
    InUse { dir: PathBuf },
    #[error("there is no copy named `{name}` from before an update; list them with `pp vault pre-migration list`")]
    PreMigrationCopyNotFound { name: String },
    #[error("the copy `{name}` was written by a newer ProductivityPro (schema {found}; this version reads up to {supported}); nothing was changed — choose another copy or update the app")]
    PreMigrationCopyTooNew {
        name: String,
        found: u32,
        supported: u32,
    },
    #[error("the copy `{name}` is damaged or not a vault ({detail}); nothing was changed — choose another copy")]
    PreMigrationCopyDamaged { name: String, detail: String },
    #[error("backup file {path}: {detail}")]
    BadBackup { path: PathBuf, detail: String },
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Recurrence(#[from] RecurrenceError),
    #[error(transparent)]
    Interchange(#[from] InterchangeError),
    #[error("storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
}

impl VaultError {
    /// A stable identifier for front ends; never changes once published.
    pub fn code(&self) -> &'static str {
        use VaultError::*;
        match self {
            Sync(e) => e.code(),
            NotFound { .. } => "vault_not_found",
            AlreadyExists { .. } => "vault_exists",
            Corrupt { .. } => "vault_corrupt",
            Schema(SchemaError::TooNew { .. }) => "vault_too_new",
            Schema(SchemaError::ForeignFile(_)) => "vault_corrupt",
            Schema(SchemaError::Sqlite(_)) => "storage",
            Keyring {
                source: KeyringError::Unavailable(_),
            } => "keyring_unavailable",
            Keyring {
                source: KeyringError::Missing,
            } => "keyring_entry_missing",
            Keyring {
                source: KeyringError::Damaged(_),
            } => "keyring_damaged",
            NoSuchSlot { .. } => "no_such_slot",
            WrongPassphrase => "wrong_passphrase",
            RecoveryKeyMistyped(_) => "recovery_key_mistyped",
            WrongRecoveryKey => "wrong_recovery_key",
            SlotDamaged { .. } => "slot_damaged",
            RecordWrongKey { .. } => "record_wrong_key",
            RecordTampered { .. } => "record_tampered",
            RecordMoved { .. } => "record_moved",
            RecordUnreadable { .. } => "record_unreadable",
            Stale { .. } | StaleVault { .. } => "stale",
            KeyRotated => "key_rotated",
            RecordMissing { .. } => "record_missing",
            VaultRolledBack { .. } => "vault_rolled_back",
            KdfParamsOutOfBounds { .. } => "kdf_params_out_of_bounds",
            TaskNotFound(_) => "task_not_found",
            ListNotFound(_) => "list_not_found",
            AmbiguousId { .. } => "ambiguous_id",
            ListExists(_) => "list_exists",
            ListNotEmpty { .. } => "list_not_empty",
            ImportConflict(_) => "import_conflict",
            LastSlot => "last_slot",
            NoSlotId(_) => "no_such_slot",
            PassphraseRequired => "passphrase_required",
            EmptyPassphrase => "empty_passphrase",
            ParentCycle(_) => "parent_cycle",
            TaskTrashed(_) => "task_trashed",
            TaskNotTrashed(_) => "task_not_trashed",
            UndoEmpty => "undo_empty",
            RedoEmpty => "redo_empty",
            UndoConflict { .. } => "undo_conflict",
            BadSession(_) => "invalid_input",
            InvalidSetting(_) => "invalid_input",
            QuickAdd(_) => "invalid_quick_add",
            MigrationBackupFailed { .. } => "migration_backup_failed",
            InUse { .. } => "vault_in_use",
            PreMigrationCopyNotFound { .. } => "pre_migration_copy_not_found",
            PreMigrationCopyTooNew { .. } => "pre_migration_copy_too_new",
            PreMigrationCopyDamaged { .. } => "pre_migration_copy_damaged",
            BadBackup { .. } => "bad_backup",
            Domain(_) => "invalid_input",
            Recurrence(_) => "invalid_recurrence",
            Interchange(_) => "import_malformed",
            Sqlite(_) => "storage",
            Io(_) => "io",
        }
    }

    pub(crate) fn record_kind(kind: RecordKind) -> &'static str {
        kind.as_str()
    }

    pub(crate) fn id_text(id: &[u8]) -> String {
        match <[u8; 16]>::try_from(id) {
            Ok(b) => Id::from_bytes(b).to_string(),
            Err(_) => hex::encode(id),
        }
    }
}
