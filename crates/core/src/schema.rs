//! The vault's SQLite schema and its versioned migrations.
//!
//! `PRAGMA user_version` holds the schema version. Migrations only ever
//! append: a vault written by any earlier version upgrades in one
//! transaction on open, and a vault from a newer app is refused rather
//! than guessed at.

use rusqlite::{Connection, TransactionBehavior};

/// Marks the file as a ProductivityPro vault (`PRAGMA application_id`).
pub const APPLICATION_ID: i32 = 0x5050_5631; // "PPV1"

/// Each entry takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: settings and ids, key slots, sealed records.
    "CREATE TABLE meta (
         name  TEXT PRIMARY KEY,
         value BLOB NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE key_slots (
         id         INTEGER PRIMARY KEY,
         kind       TEXT NOT NULL,
         params     TEXT NOT NULL,
         nonce      BLOB NOT NULL,
         wrapped    BLOB NOT NULL,
         created_at TEXT NOT NULL
     );
     -- A rowid table: a WITHOUT ROWID b-tree keeps only ~1 KB of a row
     -- in the page (4 KiB pages), so every task with long notes would
     -- spill into an overflow page of its own; here the limit is ~4 KB.
     CREATE TABLE records (
         kind       TEXT NOT NULL,
         id         BLOB NOT NULL,
         format     INTEGER NOT NULL,
         key_id     BLOB NOT NULL,
         nonce      BLOB NOT NULL,
         ciphertext BLOB NOT NULL,
         UNIQUE (kind, id)
     );",
    // v2: a local change sequence per record plus tombstones, so the sync
    // engine can find what changed since its last push and so two
    // processes on one vault detect each other's writes.
    "ALTER TABLE records ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX records_changed_seq ON records (changed_seq);
     CREATE TABLE tombstones (
         kind        TEXT NOT NULL,
         id          BLOB NOT NULL,
         changed_seq INTEGER NOT NULL,
         PRIMARY KEY (kind, id)
     ) WITHOUT ROWID;
     UPDATE records SET changed_seq = 1;
     INSERT OR REPLACE INTO meta (name, value) VALUES ('change_seq', 1);",
    // v3: the trash and undo history. Trashed tasks are task records with
    // `trashed_at` set inside their sealed payload, which a v2 reader would
    // show as live tasks: this version bump is what makes it refuse the
    // file (`vault_too_new`) instead. `history` holds each session's undo
    // and redo stacks: the label (fixed words such as "Task deleted", never
    // user content) is plaintext so the stack's state is known without a
    // key; the before-images are sealed like records.
    "CREATE TABLE history (
         id         BLOB PRIMARY KEY,
         session    TEXT NOT NULL,
         stack      TEXT NOT NULL CHECK (stack IN ('undo', 'redo')),
         pos        INTEGER NOT NULL,
         label      TEXT NOT NULL,
         format     INTEGER NOT NULL,
         key_id     BLOB NOT NULL,
         nonce      BLOB NOT NULL,
         ciphertext BLOB NOT NULL,
         UNIQUE (session, stack, pos)
     );
     -- Per-vault bookkeeping that is not a task or list (reminder state),
     -- sealed like a record; `version` guards against lost updates.
     CREATE TABLE local_state (
         name       TEXT PRIMARY KEY,
         id         BLOB NOT NULL,
         version    INTEGER NOT NULL,
         format     INTEGER NOT NULL,
         key_id     BLOB NOT NULL,
         nonce      BLOB NOT NULL,
         ciphertext BLOB NOT NULL
     );",
    // v4: the integrity ledger (`ledger.rs`, `vault/integrity.rs`): piece
    // 0 is the sealed head, piece i + 1 the sealed part i; `seq` is the
    // change sequence each was written at (bound into its AAD). Records,
    // history entries and local state written from now on bind their
    // change sequence into their AAD (a history entry also its stack and
    // the entry below it, `below`), and the ledger commits to all of them.
    // Re-sealing what is already there and building the first ledger
    // needs the data key, so it happens at the first unlock
    // (`upgrade_legacy`). The version bump alone keeps older apps, which
    // would write without updating the ledger, from opening the file.
    "CREATE TABLE ledger (
         piece      INTEGER PRIMARY KEY,
         seq        INTEGER NOT NULL,
         key_id     BLOB NOT NULL,
         nonce      BLOB NOT NULL,
         ciphertext BLOB NOT NULL
     );
     ALTER TABLE history ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE history ADD COLUMN below BLOB;
     ALTER TABLE local_state ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;",
    // v5: end-to-end encrypted sync (`vault/sync/`). `sync_records` holds
    // each record's merge state (field values with their clocks, tags,
    // tombstone), sealed; `bare` marks a state with no `records` row (a
    // tombstone, or a record nobody can see yet) — only those have a
    // ledger entry of their own, the others are bound to their record's
    // change sequence. `sync_outbox` holds operations not yet sealed into
    // a batch and sealed batches not yet acknowledged, in order;
    // `sync_state` the account link, the clock and the verifier's state.
    // The version bump keeps older apps, which would write without
    // recording operations, from opening a vault that syncs.
    "CREATE TABLE sync_state (
         name        TEXT PRIMARY KEY,
         changed_seq INTEGER NOT NULL,
         key_id      BLOB NOT NULL,
         nonce       BLOB NOT NULL,
         ciphertext  BLOB NOT NULL
     );
     CREATE TABLE sync_records (
         kind        TEXT NOT NULL,
         id          BLOB NOT NULL,
         bare        INTEGER NOT NULL,
         changed_seq INTEGER NOT NULL,
         key_id      BLOB NOT NULL,
         nonce       BLOB NOT NULL,
         ciphertext  BLOB NOT NULL,
         PRIMARY KEY (kind, id)
     );
     CREATE INDEX sync_records_bare ON sync_records (bare) WHERE bare = 1;
     CREATE TABLE sync_outbox (
         pos         INTEGER PRIMARY KEY AUTOINCREMENT,
         kind        TEXT NOT NULL CHECK (kind IN ('ops', 'batch')),
         changed_seq INTEGER NOT NULL,
         key_id      BLOB NOT NULL,
         nonce       BLOB NOT NULL,
         ciphertext  BLOB NOT NULL
     );",
];

pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("this vault was written by a newer ProductivityPro (schema {found}; this version reads up to {supported}); update the app")]
    TooNew { found: u32, supported: u32 },
    #[error("this file is not a ProductivityPro vault (application id {0:#x})")]
    ForeignFile(i32),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Connection settings every vault connection uses. `synchronous=FULL`
/// in WAL mode makes each commit durable across power loss, not only
/// across a process crash.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Temporary tables and sorts stay in memory, never in temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    Ok(())
}

pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Whether a reader of schema `supported` may open a file of schema
/// `found`: never one from a newer app, which may hold what it would
/// misread (e.g. trashed tasks, from v3, read as live ones by v2).
pub fn check_readable(found: u32, supported: u32) -> Result<(), SchemaError> {
    if found > supported {
        return Err(SchemaError::TooNew { found, supported });
    }
    Ok(())
}

/// What [`migrate_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrated {
    /// The file is at `target` (or was already).
    Done(u32),
    /// Inside the write lock the file was at another version than the one
    /// the caller copied (another process migrated it meanwhile): nothing
    /// was changed; look again.
    Moved(u32),
}

/// Checks that `conn` holds a vault (or an empty file) this version may
/// read, and returns its schema version.
pub fn check(conn: &Connection) -> Result<u32, SchemaError> {
    let app_id: i32 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let found = version(conn)?;
    if app_id != APPLICATION_ID && !(app_id == 0 && found == 0) {
        return Err(SchemaError::ForeignFile(app_id));
    }
    check_readable(found, CURRENT_VERSION)?;
    Ok(found)
}

/// Brings the schema from `from` to `target` only if, inside the write
/// lock, the file is still at `from` (or already at `target`): the caller
/// saved a copy of the file at `from` first, and a migration must never
/// start from a version nobody copied.
pub fn migrate_from(
    conn: &mut Connection,
    from: u32,
    target: u32,
) -> Result<Migrated, SchemaError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    check_readable(found, CURRENT_VERSION)?;
    if found >= target {
        return Ok(Migrated::Done(found));
    }
    if found != from {
        return Ok(Migrated::Moved(found));
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(Migrated::Done(target))
}

/// Brings the schema to `target` (normally [`CURRENT_VERSION`]) without
/// a copy first: only for files being built (schema 0); an existing
/// vault goes through `vault::pre_migration`.
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32, SchemaError> {
    let found = check(conn)?;
    if found >= target {
        return Ok(found);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read inside the write lock: another process may have migrated.
    let found = version(&tx)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(target.max(found))
}
