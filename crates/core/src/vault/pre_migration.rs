//! Copies of the vault taken just before a schema migration, and the way
//! back to one of them.
//!
//! What must hold: an existing vault is never migrated before a complete,
//! synced copy of it at its old schema exists in `<vault dir>/pre-migration/`
//! (`vault-schema-<N>-<stamp>.db`). The copy is the vault file itself
//! (`VACUUM INTO`, which includes the WAL's commits): records are sealed
//! and key slots wrapped there as in the vault, so it holds no plaintext.
//! If the copy cannot be made the vault is left as it is
//! (`migration_backup_failed`). An app that finds the vault too new
//! (`vault_too_new`) offers the copies it can read; restoring one moves
//! the newer file aside (`vault.db*.replaced-<stamp>`, never deleted).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::{
    classify, create_private_dir, db_path, files, keys, read_ids, schema_error, sync_dir, BuiltDb,
    Unlock, DB_FILE,
};
use crate::env::Env;
use crate::error::VaultError;
use crate::schema::{self, Migrated, APPLICATION_ID, CURRENT_VERSION};

pub const PRE_MIGRATION_DIR: &str = "pre-migration";
/// How many copies are kept; older ones are removed after a new one is
/// durable.
pub const PRE_MIGRATION_KEEP: usize = 2;
const PREFIX: &str = "vault-schema-";
const SUFFIX: &str = ".db";
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";
/// In a restored copy: the sync link it holds is older than the account
/// (the newer app synced on), so it is dropped at the next unlock, which
/// has the key (`Vault::finish_pre_migration_restore`).
pub(crate) const SYNC_DETACH_PENDING: &str = "sync_detach_pending";

/// A copy of the vault from before a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreMigrationCopy {
    /// The file name in `pre-migration/` (what restore takes).
    pub name: String,
    /// The schema the vault had when it was copied.
    pub schema: u32,
    pub created_at: DateTime<Utc>,
    pub bytes: u64,
}

pub fn pre_migration_dir(dir: &Path) -> PathBuf {
    dir.join(PRE_MIGRATION_DIR)
}

fn parse_name(name: &str) -> Option<(u32, DateTime<Utc>)> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (schema, stamp) = rest.split_once('-')?;
    if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(stamp, STAMP).ok()?;
    Some((schema.parse().ok()?, t.and_utc()))
}

/// Every file named like a copy, readable or not, newest first.
fn named_copies(dir: &Path) -> Result<Vec<PreMigrationCopy>, VaultError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(pre_migration_dir(dir)) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some((schema, created_at)) = parse_name(&name) else {
            continue;
        };
        out.push(PreMigrationCopy {
            name,
            schema,
            created_at,
            bytes: entry.metadata()?.len(),
        });
    }
    out.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    Ok(out)
}

/// Opens a copy read-only and checks that this version can use it: a
/// vault's application id, a schema this version reads, a sound file.
/// Returns the schema actually in the file.
fn inspect(path: &Path, name: &str) -> Result<u32, VaultError> {
    let damaged = |detail: String| VaultError::PreMigrationCopyDamaged {
        name: name.to_string(),
        detail,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| damaged(e.to_string()))?;
    let read = || -> rusqlite::Result<(i32, u32, String, bool)> {
        let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version = schema::version(&conn)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        let has_id = conn
            .query_row("SELECT 1 FROM meta WHERE name = 'vault_id'", [], |_| Ok(()))
            .optional()?
            .is_some();
        Ok((app_id, version, check, has_id))
    };
    let (app_id, version, check, has_id) = read().map_err(|e| damaged(e.to_string()))?;
    if app_id != APPLICATION_ID {
        return Err(damaged(format!(
            "application id {app_id:#x} is not a ProductivityPro vault's"
        )));
    }
    if version > CURRENT_VERSION {
        return Err(VaultError::PreMigrationCopyTooNew {
            name: name.to_string(),
            found: version,
            supported: CURRENT_VERSION,
        });
    }
    if version == 0 || !has_id {
        return Err(damaged("it holds no vault".into()));
    }
    if check != "ok" {
        return Err(damaged(format!("integrity check: {check}")));
    }
    Ok(version)
}

/// The copies this version can open, newest first (what a `vault_too_new`
/// screen offers). Copies that are too new or damaged are left out.
pub fn readable_copies(dir: &Path) -> Result<Vec<PreMigrationCopy>, VaultError> {
    let mut out = Vec::new();
    for mut c in named_copies(dir)? {
        if let Ok(schema) = inspect(&pre_migration_dir(dir).join(&c.name), &c.name) {
            c.schema = schema;
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether `unlock` opens the copy `name` (its own key slots, read-only):
/// what a front end checks before putting the copy in place, so that only
/// someone who can open the vault replaces it, and a mistyped secret
/// changes nothing.
pub fn verify_unlock(dir: &Path, name: &str, unlock: &Unlock) -> Result<(), VaultError> {
    let path = existing_copy(dir, name)?;
    inspect(&path, name)?;
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| VaultError::PreMigrationCopyDamaged {
        name: name.to_string(),
        detail: e.to_string(),
    })?;
    let (vault_id, key_id) = read_ids(dir, &conn)?;
    let stored = keys::read_slots(&conn)?;
    keys::unlock(&stored, unlock, vault_id, key_id).map(drop)
}

/// The path of the copy `name`, which must be a bare name of the
/// expected shape (never a path elsewhere) and exist.
fn existing_copy(dir: &Path, name: &str) -> Result<PathBuf, VaultError> {
    let path = pre_migration_dir(dir).join(name);
    if parse_name(name).is_none() || !path.is_file() {
        return Err(VaultError::PreMigrationCopyNotFound {
            name: name.to_string(),
        });
    }
    Ok(path)
}

/// Removes a file on drop unless disarmed.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Writes a consistent copy of the open vault into `pre-migration/`,
/// synced, under its final name only once complete. Returns the schema
/// of the copy, or `None` when the vault turned out to be current already
/// (another process migrated it meanwhile; the copy is dropped).
fn save_copy(dir: &Path, conn: &Connection, now: DateTime<Utc>) -> Result<Option<u32>, VaultError> {
    let fail = |detail: String| VaultError::MigrationBackupFailed {
        dir: dir.to_path_buf(),
        detail,
    };
    let copies = pre_migration_dir(dir);
    create_private_dir(&copies).map_err(|e| fail(e.to_string()))?;
    let tmp_path = files::temp_name(&copies, "vault-schema");
    let Some(tmp_str) = tmp_path.to_str().map(str::to_owned) else {
        return Err(fail("the folder's name is not valid Unicode".into()));
    };
    // Created empty first with private permissions: `VACUUM INTO` writes
    // into an empty file and keeps its mode.
    {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.open(&tmp_path).map_err(|e| fail(e.to_string()))?;
    }
    let mut tmp = TempFile(Some(tmp_path.clone()));
    conn.execute("VACUUM INTO ?1", [&tmp_str])
        .map_err(|e| fail(e.to_string()))?;
    let copied = (|| -> Result<u32, VaultError> {
        let c = Connection::open(&tmp_path)?;
        // A file on its own, readable without a WAL next to it.
        c.pragma_update(None, "journal_mode", "DELETE")?;
        let v = schema::version(&c)?;
        c.close().map_err(|(_, e)| e)?;
        std::fs::File::open(&tmp_path)?.sync_all()?;
        Ok(v)
    })()
    .map_err(|e| fail(e.to_string()))?;
    if copied >= CURRENT_VERSION {
        return Ok(None);
    }
    let name = format!("{PREFIX}{copied}-{}{SUFFIX}", now.format(STAMP));
    match files::rename_noreplace(&tmp_path, &copies.join(&name)) {
        Ok(()) => tmp.0 = None,
        // Another process copied the same vault at the same moment: its
        // copy is complete (it is renamed only once synced); keep it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    sync_dir(&copies).map_err(|e| fail(e.to_string()))?;
    prune(dir);
    Ok(Some(copied))
}

/// Keeps the newest [`PRE_MIGRATION_KEEP`] copies. Best effort: the new
/// copy is durable already, and an old one left behind harms nothing.
fn prune(dir: &Path) {
    if let Ok(all) = named_copies(dir) {
        for old in all.into_iter().skip(PRE_MIGRATION_KEEP) {
            let _ = std::fs::remove_file(pre_migration_dir(dir).join(old.name));
        }
        let _ = sync_dir(&pre_migration_dir(dir));
    }
}

/// Brings an open vault to [`CURRENT_VERSION`], copying it first when it
/// is older. The version is read again inside the write lock: if another
/// process (perhaps an older app) moved it since the copy, the copy is
/// taken again from the new version.
pub(crate) fn migrate(dir: &Path, conn: &mut Connection, env: &Env) -> Result<(), VaultError> {
    for _ in 0..3 {
        let found = schema::version(conn).map_err(|e| classify(dir, e))?;
        schema::check_readable(found, CURRENT_VERSION).map_err(|e| schema_error(dir, e))?;
        if found >= CURRENT_VERSION {
            return Ok(());
        }
        let Some(copied) = save_copy(dir, conn, env.now())? else {
            return Ok(());
        };
        match schema::migrate_from(conn, copied, CURRENT_VERSION)
            .map_err(|e| schema_error(dir, e))?
        {
            Migrated::Done(_) => return Ok(()),
            Migrated::Moved(_) => continue,
        }
    }
    Err(VaultError::MigrationBackupFailed {
        dir: dir.to_path_buf(),
        detail: "another app kept upgrading the vault while it was being copied; close other \
                 ProductivityPro windows and `pp`, then open it again"
            .into(),
    })
}

/// Puts the copy `name` in place of the vault in `dir`. The live vault
/// (file, WAL, shared memory), whatever its version, is moved aside as
/// `vault.db*.replaced-<stamp>` and never deleted: the newer app can still
/// open it. The copy itself stays in `pre-migration/`. At its next unlock
/// the restored vault drops its sync link (see [`SYNC_DETACH_PENDING`]).
pub fn restore_copy(dir: &Path, name: &str, env: &Env) -> Result<PreMigrationCopy, VaultError> {
    let path = existing_copy(dir, name)?;
    let created_at = parse_name(name).map(|(_, t)| t).unwrap_or_default();
    let schema = inspect(&path, name)?;

    let built = BuiltDb {
        dir: dir.to_path_buf(),
        tmp: files::temp_name(dir, DB_FILE),
    };
    std::fs::copy(&path, &built.tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&built.tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    {
        let c = Connection::open(&built.tmp).map_err(|e| classify(dir, e))?;
        c.pragma_update(None, "journal_mode", "DELETE")?;
        c.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?1, 1)",
            [SYNC_DETACH_PENDING],
        )?;
        c.close().map_err(|(_, e)| e)?;
    }
    std::fs::File::open(&built.tmp)?.sync_all()?;
    let bytes = std::fs::metadata(&path)?.len();
    if db_path(dir).exists() {
        built.place_replacing(&env.now().format(STAMP).to_string())?;
    } else {
        built.place()?;
    }
    Ok(PreMigrationCopy {
        name: name.to_string(),
        schema,
        created_at,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_expected_shape_are_copies() {
        let (s, t) = parse_name("vault-schema-4-20261123T090000.000Z.db").unwrap();
        assert_eq!(s, 4);
        assert_eq!(t.to_rfc3339(), "2026-11-23T09:00:00+00:00");
        for bad in [
            "vault-schema.creating-1-2-3",
            "vault-schema--20261123T090000.000Z.db",
            "vault-schema-x-20261123T090000.000Z.db",
            "vault-schema-4-yesterday.db",
            "../vault-schema-4-20261123T090000.000Z.db",
            "vault-schema-4-20261123T090000.000Z.db/..",
        ] {
            assert!(parse_name(bad).is_none(), "{bad}");
        }
    }
}
