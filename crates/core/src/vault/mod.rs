//! The encrypted vault: one SQLite file per profile holding key slots and
//! sealed records. Unlocking decrypts every record into memory; views,
//! sorting and search are served from there. Every user action is one
//! SQLite transaction, committed durably before memory is updated.

mod backup;
mod bulk;
mod compact;
mod files;
mod history;
mod integrity;
mod keys;
mod open_lock;
mod pre_migration;
mod records;
mod reminder_state;
mod search_index;
mod slot_checks;
pub mod sync;
mod tasks;
mod tracking;
mod trash;
mod views;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use zeroize::Zeroizing;

use crate::crypto::{KeyId, SecretKey};
use crate::domain::{Id, List, ListId, Task, TaskId};
use crate::env::Env;
use crate::error::VaultError;
use crate::order::OrderKey;
use crate::os_keyring::KeyringError;
use crate::recovery::RecoveryKey;
use crate::schema;
use crate::slots::{self, SlotKind, SlotParams, WrappedSlot};

pub use backup::{BackupHeader, BackupInfo, RestoreOptions};
pub use history::{HistoryState, DEFAULT_SESSION, HISTORY_LIMIT};
pub use keys::SlotInfo;
pub use open_lock::LOCK_FILE;
pub use pre_migration::{PreMigrationCopy, PRE_MIGRATION_DIR, PRE_MIGRATION_KEEP};
pub use reminder_state::ReminderState;
pub use tasks::{Completion, ImportReport, ListPatch, QuickAddContext, TaskDraft, TaskPatch};
pub use tracking::Changes;
pub use trash::DEFAULT_TRASH_RETENTION_DAYS;
pub use views::{Filter, Query, SidebarCounts, Sort, Summary, TagCount, View, ViewResult};

pub const DB_FILE: &str = "vault.db";
pub const BACKUP_DIR: &str = "backups";

/// How to unlock an existing vault.
pub enum Unlock {
    Keyring,
    Passphrase(Zeroizing<String>),
    RecoveryKey(Zeroizing<String>),
}

impl Unlock {
    pub fn passphrase(p: impl Into<String>) -> Self {
        Unlock::Passphrase(Zeroizing::new(p.into()))
    }
    pub fn recovery_key(k: impl Into<String>) -> Self {
        Unlock::RecoveryKey(Zeroizing::new(k.into()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringChoice {
    /// Fail creation if the keyring cannot hold the key.
    Required,
    /// Use it when it works; report why not otherwise.
    IfAvailable,
    Off,
}

pub struct CreateOptions {
    pub keyring: KeyringChoice,
    pub passphrase: Option<Zeroizing<String>>,
}

/// A new vault and the one-time recovery key to show the user.
pub struct Created {
    pub vault: Vault,
    pub recovery_key: RecoveryKey,
    /// Why there is no keyring slot, when one was wanted but not possible.
    pub keyring_error: Option<KeyringError>,
}

pub(crate) struct Entry<T> {
    pub value: T,
    /// The record's `changed_seq` as last read or written by us.
    pub seq: i64,
}

pub struct Vault {
    dir: PathBuf,
    conn: Connection,
    /// Shared for as long as `conn` is open, so that no restore moves the
    /// file away under it (`open_lock.rs`). Dropped after `conn`.
    open_lock: open_lock::OpenLock,
    vault_id: Id,
    key_id: KeyId,
    key: SecretKey,
    env: Env,
    tasks: HashMap<TaskId, Entry<Task>>,
    /// Lower-cased title, notes, tags and list name per task, for
    /// search; built on first use (`search_index.rs`).
    search_index: search_index::SearchIndex,
    lists: HashMap<ListId, Entry<List>>,
    last_order: Option<OrderKey>,
    /// Undo/redo stacks this process records into and replays from.
    session: String,
    /// The ledger head's change sequence memory is current with: set at
    /// load, advanced by our own commits when nobody else wrote in
    /// between, and by `refresh`. Rotation requires that it is still
    /// current; `refresh` re-reads every record changed after it.
    seen_seq: i64,
    /// What mutations and refreshes changed since `take_changes`.
    changes: Changes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPolicy {
    pub keep: u32,
    pub interval_hours: u32,
}

impl Default for BackupPolicy {
    fn default() -> Self {
        BackupPolicy {
            keep: 10,
            interval_hours: 24,
        }
    }
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Maps SQLite's "this is not a (healthy) database" to a clear error.
pub(crate) fn classify(dir: &Path, e: rusqlite::Error) -> VaultError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, DatabaseCorrupt | NotADatabase) =>
        {
            VaultError::Corrupt {
                dir: dir.to_path_buf(),
                detail: e.to_string(),
            }
        }
        _ => VaultError::Sqlite(e),
    }
}

fn schema_error(dir: &Path, e: schema::SchemaError) -> VaultError {
    match e {
        schema::SchemaError::Sqlite(e) => classify(dir, e),
        schema::SchemaError::ForeignFile(id) => VaultError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("application id {id:#x} is not a ProductivityPro vault's"),
        },
        other => VaultError::Schema(other),
    }
}

impl Vault {
    /// Creates a vault in `dir`. The file appears whole or not at all: it
    /// is built under a temporary name and renamed into place.
    pub fn create(dir: &Path, opts: CreateOptions, mut env: Env) -> Result<Created, VaultError> {
        let path = db_path(dir);
        if path.exists() {
            return Err(VaultError::AlreadyExists {
                dir: dir.to_path_buf(),
            });
        }
        if let Some(p) = &opts.passphrase {
            if p.is_empty() {
                return Err(VaultError::EmptyPassphrase);
            }
        }
        create_private_dir(dir)?;
        let vault_id = Id::random(env.rng.as_mut());
        let key = SecretKey::random(env.rng.as_mut());
        let key_id = KeyId::derived(&key);
        let now = env.now();

        let mut wrapped: Vec<WrappedSlot> = Vec::new();
        let mut keyring_error = None;
        // A fresh entry name per slot: no other vault (a restored copy of
        // this one has the same vault id) ever shares or overwrites it.
        let keyring_entry =
            keys::new_keyring_entry(&env.keyring_service, vault_id, env.rng.as_mut());
        // The secret is stored before the file exists: a vault whose only
        // convenient slot has no secret would be worse than an orphaned
        // entry, which is removed below if creation fails.
        if opts.keyring != KeyringChoice::Off {
            let kek = SecretKey::random(env.rng.as_mut());
            match keyring_entry.store(&kek) {
                Ok(()) => wrapped.push(slots::wrap(
                    SlotParams::Keyring {
                        service: keyring_entry.service.clone(),
                        account: keyring_entry.account.clone(),
                    },
                    &kek,
                    &key,
                    vault_id,
                    key_id,
                    env.rng.as_mut(),
                )),
                Err(e) if opts.keyring == KeyringChoice::Required => {
                    return Err(VaultError::Keyring { source: e })
                }
                Err(e) => keyring_error = Some(e),
            }
        }
        let slot_error = |kind| {
            move |e: slots::SlotError| VaultError::SlotDamaged {
                kind,
                slot: 0,
                detail: e.to_string(),
            }
        };
        if let Some(p) = &opts.passphrase {
            let (params, kek) = slots::new_passphrase_kek(p, env.rng.as_mut())
                .map_err(slot_error(SlotKind::Passphrase))?;
            wrapped.push(slots::wrap(
                params,
                &kek,
                &key,
                vault_id,
                key_id,
                env.rng.as_mut(),
            ));
        }
        let (recovery_key, params, kek) =
            slots::new_recovery_kek(env.rng.as_mut()).map_err(slot_error(SlotKind::Recovery))?;
        wrapped.push(slots::wrap(
            params,
            &kek,
            &key,
            vault_id,
            key_id,
            env.rng.as_mut(),
        ));

        let result = build_db(dir, vault_id, key_id, now, &wrapped, |tx| {
            records::insert_initial(tx, &key, key_id, &vault_id, &[], 0, env.rng.as_mut())
        })
        .and_then(|built| built.place());
        if let Err(e) = result {
            if opts.keyring != KeyringChoice::Off && keyring_error.is_none() {
                let _ = keyring_entry.delete();
            }
            return Err(e);
        }
        let vault = Vault::open_with_key(dir, vault_id, key_id, key, env)?;
        Ok(Created {
            vault,
            recovery_key,
            keyring_error,
        })
    }

    /// What opens a second handle on this vault with the same data key
    /// (for a worker that must not hold this handle while it waits on the
    /// network, e.g. the app's sync loop). Each handle sees the other's
    /// commits as outside changes (`has_outside_changes`, `refresh`).
    pub fn twin_opener(&self) -> TwinOpener {
        TwinOpener {
            dir: self.dir.clone(),
            vault_id: self.vault_id,
            key_id: self.key_id,
            key: self.key.clone(),
        }
    }

    /// Closes the vault for good (before an update replaces the app):
    /// writes the WAL back into the database file, truncates it, and
    /// closes the connection, reporting errors a plain drop would swallow.
    /// `Ok(false)`: another connection (the sync thread's handle, `pp`)
    /// still reads an older state, so part of the WAL stays; the file is
    /// consistent all the same (SQLite replays the WAL on open). The data
    /// key is dropped (zeroized) with the vault either way.
    pub fn close(self) -> Result<bool, VaultError> {
        let (busy, _log, _done): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
        self.conn.close().map_err(|(_, e)| VaultError::from(e))?;
        Ok(busy == 0)
    }

    pub fn exists(dir: &Path) -> bool {
        db_path(dir).exists()
    }

    /// Opens and unlocks the vault in `dir` and loads every record.
    pub fn open(dir: &Path, unlock: &Unlock, env: Env) -> Result<Vault, VaultError> {
        let (conn, lock) = open_connection(dir, &env)?;
        let mut v = Vault::unlock_with(dir, conn, lock, unlock, env)?;
        // Another process may replace the key between reading the slots
        // and reading the records: unlock again with the new slots.
        for _ in 0..3 {
            match v.load() {
                Err(VaultError::KeyRotated) => {
                    let Vault {
                        conn,
                        open_lock,
                        env,
                        ..
                    } = v;
                    v = Vault::unlock_with(dir, conn, open_lock, unlock, env)?;
                }
                other => {
                    other?;
                    v.finish_pre_migration_restore()?;
                    return Ok(v);
                }
            }
        }
        v.load()?;
        v.finish_pre_migration_restore()?;
        Ok(v)
    }

    /// The copies of this vault taken before schema migrations that this
    /// version can open, newest first (see `pre_migration.rs`): what to
    /// offer when opening fails with `vault_too_new`. Needs no key.
    pub fn pre_migration_copies(dir: &Path) -> Result<Vec<PreMigrationCopy>, VaultError> {
        pre_migration::readable_copies(dir)
    }

    /// Puts the pre-migration copy `name` in place of the vault in `dir`;
    /// the vault there is kept aside as `vault.db*.replaced-<time>`. Open
    /// it afterwards as usual. `pre_migration_copy_not_found`,
    /// `pre_migration_copy_too_new`, `pre_migration_copy_damaged`.
    pub fn restore_pre_migration(
        dir: &Path,
        name: &str,
        env: &Env,
    ) -> Result<PreMigrationCopy, VaultError> {
        pre_migration::restore_copy(dir, name, env)
    }

    /// Whether `unlock` opens the pre-migration copy `name` (checked
    /// before restoring it, so that only someone who can open the vault
    /// replaces it). Takes as long as an unlock.
    pub fn verify_pre_migration_unlock(
        dir: &Path,
        name: &str,
        unlock: &Unlock,
    ) -> Result<(), VaultError> {
        pre_migration::verify_unlock(dir, name, unlock)
    }

    /// A vault restored from a pre-migration copy holds the sync link it
    /// had before the update, behind the account (whose log the newer
    /// app advanced): it is dropped once, as a restored `.ppbackup`
    /// starts without one; the known account stays, so signing in again
    /// is to the same account.
    fn finish_pre_migration_restore(&mut self) -> Result<(), VaultError> {
        let pending = self
            .conn
            .query_row(
                "SELECT 1 FROM meta WHERE name = ?1",
                [pre_migration::SYNC_DETACH_PENDING],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !pending {
            return Ok(());
        }
        if self.sync_enabled()? {
            self.sync_detach_restored()?;
        }
        self.conn.execute(
            "DELETE FROM meta WHERE name = ?1",
            [pre_migration::SYNC_DETACH_PENDING],
        )?;
        Ok(())
    }

    /// Unwraps the data key with the slots stored now; loads nothing.
    fn unlock_with(
        dir: &Path,
        conn: Connection,
        open_lock: open_lock::OpenLock,
        unlock: &Unlock,
        env: Env,
    ) -> Result<Vault, VaultError> {
        let tx = conn.unchecked_transaction()?;
        let (vault_id, key_id) = read_ids(dir, &tx)?;
        let stored = keys::read_slots(&tx)?;
        tx.commit()?;
        let key = keys::unlock(&stored, unlock, vault_id, key_id)?;
        Ok(Vault::unloaded(
            dir, conn, open_lock, vault_id, key_id, key, env,
        ))
    }

    fn open_with_key(
        dir: &Path,
        vault_id: Id,
        key_id: KeyId,
        key: SecretKey,
        env: Env,
    ) -> Result<Vault, VaultError> {
        let (conn, lock) = open_connection(dir, &env)?;
        let mut v = Vault::unloaded(dir, conn, lock, vault_id, key_id, key, env);
        v.load()?;
        Ok(v)
    }

    fn unloaded(
        dir: &Path,
        conn: Connection,
        open_lock: open_lock::OpenLock,
        vault_id: Id,
        key_id: KeyId,
        key: SecretKey,
        env: Env,
    ) -> Vault {
        Vault {
            dir: dir.to_path_buf(),
            conn,
            open_lock,
            vault_id,
            key_id,
            key,
            env,
            tasks: HashMap::new(),
            search_index: Default::default(),
            lists: HashMap::new(),
            last_order: None,
            session: DEFAULT_SESSION.to_string(),
            seen_seq: 0,
            changes: Changes::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn id(&self) -> Id {
        self.vault_id
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether the integrity ledger is anchored in the key: true for
    /// vaults created or rotated since the ledger exists, false for one
    /// upgraded from schema 2 until its next key rotation (see
    /// `docs/ARCHITECTURE.md`, "What the ledger cannot detect").
    pub fn ledger_required(&self) -> bool {
        self.key_id.is_derived_from(&self.key)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.env.now()
    }

    pub fn local_tz(&self) -> chrono_tz::Tz {
        self.env.local_tz
    }

    pub fn schema_version(&self) -> Result<u32, VaultError> {
        Ok(schema::version(&self.conn)?)
    }

    pub fn backup_policy(&self) -> Result<BackupPolicy, VaultError> {
        let d = BackupPolicy::default();
        let get = |name: &str, default: u32| -> Result<u32, VaultError> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
                .map(|v| v.clamp(0, u32::MAX as i64) as u32)
                .unwrap_or(default))
        };
        Ok(BackupPolicy {
            keep: get("backup_keep", d.keep)?,
            interval_hours: get("backup_interval_hours", d.interval_hours)?,
        })
    }

    pub fn set_backup_policy(&mut self, p: BackupPolicy) -> Result<(), VaultError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('backup_keep', ?1)",
            [p.keep.max(1) as i64],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('backup_interval_hours', ?1)",
            [p.interval_hours as i64],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Opens the vault in `dir` and brings its schema to this version's,
/// after a durable copy of the old file (`pre_migration.rs`). The lock is
/// taken first, so the file cannot be replaced between the checks and the
/// migration; the caller keeps it as long as the connection.
pub(crate) fn open_connection(
    dir: &Path,
    env: &Env,
) -> Result<(Connection, open_lock::OpenLock), VaultError> {
    // No lock file in a folder that holds no vault.
    if !db_path(dir).exists() {
        return Err(VaultError::NotFound {
            dir: dir.to_path_buf(),
        });
    }
    let lock = open_lock::OpenLock::shared(dir)?;
    let mut conn = open_unmigrated(dir)?;
    pre_migration::migrate(dir, &mut conn, env)?;
    Ok((conn, lock))
}

/// Opens the vault in `dir` after the checks every open makes (a vault,
/// not empty, not from a newer app), without migrating it.
pub(crate) fn open_unmigrated(dir: &Path) -> Result<Connection, VaultError> {
    let path = db_path(dir);
    if !path.exists() {
        return Err(VaultError::NotFound {
            dir: dir.to_path_buf(),
        });
    }
    // A vault is created whole (see `create`), so an empty file or schema
    // 0 means the file was emptied or replaced: never treat it as a new,
    // empty vault. Checked before any pragma that could write to it.
    if std::fs::metadata(&path)?.len() == 0 {
        return Err(VaultError::Corrupt {
            dir: dir.to_path_buf(),
            detail: "the vault file is empty".into(),
        });
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(dir, e))?;
    let v = schema::version(&conn).map_err(|e| classify(dir, e))?;
    if v == 0 {
        return Err(VaultError::Corrupt {
            dir: dir.to_path_buf(),
            detail: "the vault file has no schema".into(),
        });
    }
    schema::configure(&conn).map_err(|e| classify(dir, e))?;
    schema::check(&conn).map_err(|e| schema_error(dir, e))?;
    Ok(conn)
}

fn read_ids(dir: &Path, conn: &Connection) -> Result<(Id, KeyId), VaultError> {
    let get = |name: &str| -> Result<Vec<u8>, VaultError> {
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| classify(dir, e))?
        .ok_or_else(|| VaultError::Corrupt {
            dir: dir.to_path_buf(),
            detail: format!("the vault has no {name}"),
        })
    };
    let corrupt = |what: &str| VaultError::Corrupt {
        dir: dir.to_path_buf(),
        detail: format!("malformed {what}"),
    };
    let vid: [u8; 16] = get("vault_id")?
        .try_into()
        .map_err(|_| corrupt("vault_id"))?;
    let kid: [u8; 8] = get("key_id")?.try_into().map_err(|_| corrupt("key_id"))?;
    Ok((Id::from_bytes(vid), KeyId(kid)))
}

/// A complete vault file under a temporary name, not yet in place;
/// removed if dropped before [`BuiltDb::place`].
pub(crate) struct BuiltDb {
    dir: PathBuf,
    tmp: PathBuf,
}

impl BuiltDb {
    /// Puts the file in place, unless a vault appeared there meanwhile
    /// (another process's create or restore): then `vault_exists`, and
    /// that vault is left alone.
    pub(crate) fn place(self) -> Result<(), VaultError> {
        match files::rename_noreplace(&self.tmp, &db_path(&self.dir)) {
            Ok(()) => files::sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(VaultError::AlreadyExists {
                    dir: self.dir.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves the live vault (file, WAL and shared memory) aside as
    /// `vault.db*.replaced-STAMP`, then places this one. Called only once
    /// this file is complete, so a failure before it leaves the live vault
    /// untouched.
    ///
    /// `vault_in_use` (nothing moved) while any handle still has the live
    /// vault open, in this process or another, once `RESTORE_WAIT` is up.
    pub(crate) fn place_replacing(self, stamp: &str) -> Result<(), VaultError> {
        let _alone = open_lock::OpenLock::exclusive(&self.dir, open_lock::RESTORE_WAIT)?;
        for suffix in ["", "-wal", "-shm"] {
            let from = self.dir.join(format!("{DB_FILE}{suffix}"));
            if from.exists() {
                std::fs::rename(
                    &from,
                    self.dir.join(format!("{DB_FILE}{suffix}.replaced-{stamp}")),
                )?;
            }
        }
        self.place()
    }
}

impl Drop for BuiltDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Builds a complete vault file under a temporary name, filled by `fill`
/// inside the same transaction, and synced; [`BuiltDb::place`] puts it
/// where it belongs.
pub(crate) fn build_db(
    dir: &Path,
    vault_id: Id,
    key_id: KeyId,
    now: DateTime<Utc>,
    slots: &[WrappedSlot],
    fill: impl FnOnce(&rusqlite::Transaction) -> Result<(), VaultError>,
) -> Result<BuiltDb, VaultError> {
    let built = BuiltDb {
        dir: dir.to_path_buf(),
        tmp: files::temp_name(dir, DB_FILE),
    };
    let mut conn = Connection::open(&built.tmp)?;
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    schema::migrate_to(&mut conn, schema::CURRENT_VERSION).map_err(VaultError::Schema)?;
    let tx = conn.transaction()?;
    for (name, value) in [
        ("vault_id", vault_id.as_bytes().to_vec()),
        ("key_id", key_id.0.to_vec()),
    ] {
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)",
            rusqlite::params![name, value],
        )?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (name, value) VALUES ('created_at', ?1)",
        [now.to_rfc3339()],
    )?;
    for s in slots {
        keys::insert_slot(&tx, s, now)?;
    }
    fill(&tx)?;
    tx.commit()?;
    conn.close().map_err(|(_, e)| e)?;
    std::fs::File::open(&built.tmp)?.sync_all()?;
    Ok(built)
}

pub(crate) use files::{create_private_dir, sync_dir};

/// A second handle's way in: the vault's place and its data key (wiped
/// on drop). Made by [`Vault::twin_opener`].
pub struct TwinOpener {
    dir: PathBuf,
    vault_id: Id,
    key_id: KeyId,
    key: SecretKey,
}

impl TwinOpener {
    /// Opens the vault again and loads every record (the loading runs
    /// without the first handle, so it does not block it).
    pub fn open(self, env: Env) -> Result<Vault, VaultError> {
        Vault::open_with_key(&self.dir, self.vault_id, self.key_id, self.key, env)
    }
}
