//! The encrypted vault: one SQLite file per profile holding key slots and
//! sealed records. Unlocking decrypts every record into memory; views,
//! sorting and search are served from there. Every user action is one
//! SQLite transaction, committed durably before memory is updated.

mod backup;
mod bulk;
mod history;
mod keys;
mod records;
mod reminder_state;
mod slot_checks;
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
use crate::os_keyring::{KeyringEntry, KeyringError};
use crate::recovery::RecoveryKey;
use crate::schema;
use crate::slots::{self, SlotKind, SlotParams, WrappedSlot};

pub use backup::{BackupHeader, BackupInfo, RestoreOptions};
pub use history::{HistoryState, DEFAULT_SESSION, HISTORY_LIMIT};
pub use keys::SlotInfo;
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
    vault_id: Id,
    key_id: KeyId,
    key: SecretKey,
    env: Env,
    tasks: HashMap<TaskId, Entry<Task>>,
    /// Lower-cased title, notes, tags and list name per task, for search.
    haystacks: HashMap<TaskId, String>,
    lists: HashMap<ListId, Entry<List>>,
    last_order: Option<OrderKey>,
    /// Undo/redo stacks this process records into and replays from.
    session: String,
    /// The change sequence memory is known to be current with: every
    /// record changed after it is re-read by `refresh`.
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
        let key_id = KeyId::random(env.rng.as_mut());
        let key = SecretKey::random(env.rng.as_mut());
        let now = env.now();

        let mut wrapped: Vec<WrappedSlot> = Vec::new();
        let mut keyring_error = None;
        let keyring_entry = KeyringEntry {
            service: env.keyring_service.clone(),
            account: format!("vault-{vault_id}"),
        };
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

        let result = write_new_db(dir, vault_id, key_id, now, &wrapped, |_| Ok(()));
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

    pub fn exists(dir: &Path) -> bool {
        db_path(dir).exists()
    }

    /// Opens and unlocks the vault in `dir` and loads every record.
    pub fn open(dir: &Path, unlock: &Unlock, env: Env) -> Result<Vault, VaultError> {
        let conn = open_connection(dir)?;
        let (vault_id, key_id) = read_ids(dir, &conn)?;
        let stored = keys::read_slots(&conn)?;
        let key = keys::unlock(&stored, unlock, vault_id, key_id)?;
        Vault::assemble(dir, conn, vault_id, key_id, key, env)
    }

    fn open_with_key(
        dir: &Path,
        vault_id: Id,
        key_id: KeyId,
        key: SecretKey,
        env: Env,
    ) -> Result<Vault, VaultError> {
        let conn = open_connection(dir)?;
        Vault::assemble(dir, conn, vault_id, key_id, key, env)
    }

    fn assemble(
        dir: &Path,
        conn: Connection,
        vault_id: Id,
        key_id: KeyId,
        key: SecretKey,
        env: Env,
    ) -> Result<Vault, VaultError> {
        let mut v = Vault {
            dir: dir.to_path_buf(),
            conn,
            vault_id,
            key_id,
            key,
            env,
            tasks: HashMap::new(),
            haystacks: HashMap::new(),
            lists: HashMap::new(),
            last_order: None,
            session: DEFAULT_SESSION.to_string(),
            seen_seq: 0,
            changes: Changes::default(),
        };
        // Read before the records: whatever commits during the load has a
        // later sequence, so the next refresh picks it up.
        v.seen_seq = v.disk_change_seq()?;
        v.load()?;
        Ok(v)
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

pub(crate) fn open_connection(dir: &Path) -> Result<Connection, VaultError> {
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
    let mut conn = Connection::open_with_flags(
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
    schema::migrate_to(&mut conn, schema::CURRENT_VERSION).map_err(|e| schema_error(dir, e))?;
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

/// Builds a complete vault file under a temporary name, fills it with
/// `fill` inside the same transaction, and renames it into place.
pub(crate) fn write_new_db(
    dir: &Path,
    vault_id: Id,
    key_id: KeyId,
    now: DateTime<Utc>,
    slots: &[WrappedSlot],
    fill: impl FnOnce(&rusqlite::Transaction) -> Result<(), VaultError>,
) -> Result<(), VaultError> {
    let tmp = dir.join(format!("{DB_FILE}.creating-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut conn = Connection::open(&tmp)?;
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
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, db_path(dir))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
