//! The only SQL, written once for SQLite (one file, the embedded default)
//! and PostgreSQL (many stateless replicas). Ids are stored as hex text,
//! key material and ciphertext as blobs; nothing here can read either.
//!
//! Ordering rule: a push locks its account row first (`UPDATE … RETURNING`
//! takes the row lock on PostgreSQL and the write lock on SQLite), so the
//! account's cursors are assigned in commit order and a reader never sees
//! cursor n+1 committed before n — the gap that would let a pull skip a
//! batch forever.

use productivitypro_sync_protocol::api::{AccountInfo, DeviceInfo, PulledBatch};
use productivitypro_sync_protocol::batch::{BatchEnvelope, Head};
use productivitypro_sync_protocol::keys::KdfParams;
use productivitypro_sync_protocol::snapshot::SnapshotEnvelope;
use productivitypro_sync_protocol::{AccountId, DeviceId, Hash32};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    Url(String),
    #[error(
        "database schema {found} is newer than this build knows ({known}); upgrade the service"
    )]
    TooNew { found: i64, known: i64 },
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Db {
    pool: AnyPool,
    backend: Backend,
    url: String,
    /// SQLite has one writer; queueing writers here keeps them off SQLite's
    /// sleep-and-retry busy handler. PostgreSQL needs no such gate.
    write_gate: Arc<Mutex<()>>,
    /// SQLite: pushes go to one committer that stores whatever has queued
    /// up in one transaction (group commit: one fsync for many pushes).
    pushes: Option<mpsc::Sender<PushJob>>,
    /// Group transactions committed, and the pushes they held.
    pub groups: Arc<GroupStats>,
}

#[derive(Default)]
pub struct GroupStats {
    pub commits: std::sync::atomic::AtomicU64,
    pub pushes: std::sync::atomic::AtomicU64,
}

/// One push waiting for the committer.
struct PushJob {
    account: AccountId,
    device: DeviceId,
    batches: Vec<(BatchEnvelope, Hash32)>,
    now: i64,
    reply: oneshot::Sender<Result<Result<PushOutcome, PushRefusal>, DbError>>,
}

/// Pushes taken into one group transaction at most.
const GROUP_MAX: usize = 128;

/// `{blob}` is the one type the two databases spell differently.
const MIGRATIONS: &[&[&str]] = &[&[
    "CREATE TABLE accounts (id TEXT PRIMARY KEY, login_id TEXT NOT NULL UNIQUE,
        kdf_salt {blob} NOT NULL, kdf_m BIGINT NOT NULL, kdf_t BIGINT NOT NULL, kdf_p BIGINT NOT NULL,
        login_hash TEXT NOT NULL, key_id TEXT NOT NULL, wrapped_key {blob} NOT NULL,
        recovery_hash TEXT, recovery_wrapped {blob},
        head BIGINT NOT NULL, compacted_through BIGINT NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE devices (account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        id TEXT NOT NULL, name {blob}, created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL,
        revoked_at BIGINT, head_seq BIGINT NOT NULL, head_hash {blob} NOT NULL,
        PRIMARY KEY (account, id))",
    "CREATE TABLE tokens (hash TEXT PRIMARY KEY, account TEXT NOT NULL, device TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        FOREIGN KEY (account, device) REFERENCES devices(account, id) ON DELETE CASCADE)",
    "CREATE INDEX tokens_device ON tokens (account, device)",
    "CREATE TABLE batches (account TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        cursor BIGINT NOT NULL, batch_id TEXT NOT NULL, device TEXT NOT NULL, seq BIGINT NOT NULL,
        format BIGINT NOT NULL, key_id TEXT NOT NULL, prev {blob} NOT NULL, nonce {blob} NOT NULL,
        ciphertext {blob} NOT NULL, hash {blob} NOT NULL, received_at BIGINT NOT NULL,
        PRIMARY KEY (account, cursor), UNIQUE (account, batch_id), UNIQUE (account, device, seq))",
    "CREATE TABLE snapshots (account TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
        snapshot_id TEXT NOT NULL, device TEXT NOT NULL, cursor BIGINT NOT NULL, format BIGINT NOT NULL,
        key_id TEXT NOT NULL, nonce {blob} NOT NULL, ciphertext {blob} NOT NULL, created_at BIGINT NOT NULL)",
]];

/// Tables holding per-account rows, children first (deletion order).
pub const ACCOUNT_TABLES: &[&str] = &["tokens", "batches", "snapshots", "devices", "accounts"];

pub struct AccountRow {
    pub id: AccountId,
    pub kdf: KdfParams,
    pub login_hash: String,
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
    pub recovery_hash: Option<String>,
    pub recovery_wrapped: Option<Vec<u8>>,
}

pub struct NewAccount<'a> {
    pub id: AccountId,
    pub login_id: &'a str,
    pub kdf: &'a KdfParams,
    pub login_hash: &'a str,
    pub key_id: &'a str,
    pub wrapped_key: &'a [u8],
    pub recovery_hash: Option<&'a str>,
    pub recovery_wrapped: Option<&'a [u8]>,
    pub device: DeviceId,
    pub device_name: Option<&'a [u8]>,
    pub token_hash: &'a str,
    pub now: i64,
}

/// Who a token belongs to.
pub struct TokenOwner {
    pub account: AccountId,
    pub device: DeviceId,
    pub key_id: String,
    pub revoked: bool,
    pub last_seen_at: i64,
}

pub enum LoginDevice {
    Fresh,
    Existing,
    Revoked,
    TooMany,
}

/// Why a push was refused (each is a 409 for the client).
#[derive(Debug)]
pub enum PushRefusal {
    BatchIdReused { batch: String },
    SeqConflict { head: Head },
    SeqGap { head: Head },
    ChainMismatch { head: Head },
    DeviceRevoked,
}

pub struct Accepted {
    pub batch_id: String,
    pub seq: u64,
    pub cursor: u64,
    pub duplicate: bool,
}

pub struct PushOutcome {
    pub results: Vec<Accepted>,
    pub head: u64,
    pub stored: usize,
}

pub enum PullOutcome {
    Page(PageRows),
    Ahead {
        head: u64,
    },
    Compacted {
        compacted_through: u64,
        snapshot_cursor: Option<u64>,
    },
}

pub struct PageRows {
    pub batches: Vec<PulledBatch>,
    pub next: u64,
    pub more: bool,
    pub head: u64,
    pub devices: Vec<(DeviceId, Head)>,
    pub snapshot_cursor: Option<u64>,
    pub snapshot_at: Option<i64>,
}

pub enum SnapshotRefusal {
    Ahead { head: u64 },
    Stale { current: u64 },
}

fn hex_id<T: std::str::FromStr>(s: &str) -> Result<T, DbError> {
    s.parse().map_err(|_| DbError::Corrupt(format!("id {s:?}")))
}

fn hash32(b: &[u8]) -> Result<Hash32, DbError> {
    b.try_into()
        .map(Hash32)
        .map_err(|_| DbError::Corrupt("hash length".into()))
}

fn unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.message().contains("UNIQUE")
                || d.code().as_deref() == Some("23505")
        }
        _ => false,
    }
}

impl Db {
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(DbError::Url(url.to_string()));
        };
        let opts =
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 8 } else { 16 });
        let pool = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                let path = std::path::Path::new(path.split('?').next().unwrap_or_default());
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Sql(sqlx::Error::Io(e)))?;
                }
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let pool = opts
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // FULL: an acknowledged push survives a power cut,
                            // not only a killed process. secure_delete: a
                            // deleted account's ciphertext is overwritten.
                            for pragma in [
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA synchronous = FULL",
                                "PRAGMA secure_delete = ON",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await?;
                pool
            }
            Backend::Postgres => opts.connect(url).await?,
        };
        let write_gate = Arc::new(Mutex::new(()));
        let groups = Arc::new(GroupStats::default());
        let pushes = (backend == Backend::Sqlite).then(|| {
            let (tx, rx) = mpsc::channel(1024);
            tokio::spawn(committer(
                pool.clone(),
                write_gate.clone(),
                groups.clone(),
                rx,
            ));
            tx
        });
        let db = Db {
            pool,
            backend,
            url: url.to_string(),
            write_gate,
            pushes,
            groups,
        };
        db.migrate().await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn gate(&self) -> Option<MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.lock().await),
            Backend::Postgres => None,
        }
    }

    async fn migrate(&self) -> Result<(), DbError> {
        let blob = match self.backend {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        };
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        if self.backend == Backend::Postgres {
            // Replicas starting together migrate one at a time.
            sqlx::query("LOCK TABLE meta IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let current: i64 = sqlx::query("SELECT value FROM meta WHERE key = 'schema'")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .map_or(Ok(0), |s| {
                s.parse::<i64>()
                    .map_err(|_| DbError::Corrupt("schema".into()))
            })?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(DbError::TooNew {
                found: current,
                known,
            });
        }
        for step in &MIGRATIONS[current as usize..] {
            for sql in *step {
                let sql = sql.replace("{blob}", blob);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("DELETE FROM meta WHERE key = 'schema'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('schema', $1)")
            .bind(known.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// A random server secret that keys the made-up KDF parameters for
    /// unknown logins; created once, shared by every replica.
    pub async fn pepper(&self, fresh: &str) -> Result<String, DbError> {
        let _g = self.gate().await;
        let insert = match self.backend {
            Backend::Sqlite => "INSERT OR IGNORE INTO meta (key, value) VALUES ('pepper', $1)",
            Backend::Postgres => {
                "INSERT INTO meta (key, value) VALUES ('pepper', $1) ON CONFLICT (key) DO NOTHING"
            }
        };
        sqlx::query(insert).bind(fresh).execute(&self.pool).await?;
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'pepper'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    // ---- accounts ----

    /// Ok(false): the login id or account id is taken.
    pub async fn create_account(&self, a: NewAccount<'_>) -> Result<bool, DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "INSERT INTO accounts (id, login_id, kdf_salt, kdf_m, kdf_t, kdf_p, login_hash, key_id,
                wrapped_key, recovery_hash, recovery_wrapped, head, compacted_through, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, 0, $12)",
        )
        .bind(a.id.hex())
        .bind(a.login_id)
        .bind(a.kdf.salt.as_slice())
        .bind(a.kdf.m_kib as i64)
        .bind(a.kdf.t as i64)
        .bind(a.kdf.p as i64)
        .bind(a.login_hash)
        .bind(a.key_id)
        .bind(a.wrapped_key)
        .bind(a.recovery_hash)
        .bind(a.recovery_wrapped)
        .bind(a.now)
        .execute(&mut *tx)
        .await;
        match r {
            Err(e) if unique_violation(&e) => return Ok(false),
            r => {
                r?;
            }
        }
        Self::insert_device(&mut tx, a.id, a.device, a.device_name, a.now).await?;
        Self::insert_token(&mut tx, a.token_hash, a.id, a.device, a.now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn insert_device(
        tx: &mut Transaction<'static, Any>,
        account: AccountId,
        device: DeviceId,
        name: Option<&[u8]>,
        now: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO devices (account, id, name, created_at, last_seen_at, revoked_at, head_seq, head_hash)
             VALUES ($1, $2, $3, $4, $4, NULL, 0, $5)",
        )
        .bind(account.hex())
        .bind(device.hex())
        .bind(name)
        .bind(now)
        .bind(Hash32::ZERO.0.as_slice())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_token(
        tx: &mut Transaction<'static, Any>,
        hash: &str,
        account: AccountId,
        device: DeviceId,
        now: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO tokens (hash, account, device, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(account.hex())
        .bind(device.hex())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    fn account_row(r: &sqlx::any::AnyRow) -> Result<AccountRow, DbError> {
        Ok(AccountRow {
            id: hex_id(&r.try_get::<String, _>(0)?)?,
            kdf: KdfParams {
                salt: r.try_get(1)?,
                m_kib: r.try_get::<i64, _>(2)? as u32,
                t: r.try_get::<i64, _>(3)? as u32,
                p: r.try_get::<i64, _>(4)? as u32,
            },
            login_hash: r.try_get(5)?,
            key_id: r.try_get(6)?,
            wrapped_key: r.try_get(7)?,
            recovery_hash: r.try_get(8)?,
            recovery_wrapped: r.try_get(9)?,
        })
    }

    const ACCOUNT_COLUMNS: &'static str = "id, kdf_salt, kdf_m, kdf_t, kdf_p, login_hash, key_id, wrapped_key, recovery_hash, recovery_wrapped";

    pub async fn account_by_login(&self, login_id: &str) -> Result<Option<AccountRow>, DbError> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE login_id = $1",
            Self::ACCOUNT_COLUMNS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(login_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Self::account_row(&r))
            .transpose()
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<AccountRow>, DbError> {
        let sql = format!(
            "SELECT {} FROM accounts WHERE id = $1",
            Self::ACCOUNT_COLUMNS
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.hex())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Self::account_row(&r))
            .transpose()
    }

    pub async fn account_info(&self, id: AccountId) -> Result<Option<AccountInfo>, DbError> {
        let row = sqlx::query(
            "SELECT a.key_id, a.kdf_salt, a.kdf_m, a.kdf_t, a.kdf_p, a.head, a.recovery_hash,
                    a.compacted_through, a.created_at, s.cursor
             FROM accounts a LEFT JOIN snapshots s ON s.account = a.id WHERE a.id = $1",
        )
        .bind(id.hex())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(AccountInfo {
            account_id: id,
            key_id: hex_id(&r.try_get::<String, _>(0)?)?,
            kdf: KdfParams {
                salt: r.try_get(1)?,
                m_kib: r.try_get::<i64, _>(2)? as u32,
                t: r.try_get::<i64, _>(3)? as u32,
                p: r.try_get::<i64, _>(4)? as u32,
            },
            head: r.try_get::<i64, _>(5)? as u64,
            has_recovery: r.try_get::<Option<String>, _>(6)?.is_some(),
            compacted_through: r.try_get::<i64, _>(7)? as u64,
            created_at: r.try_get(8)?,
            snapshot_cursor: r.try_get::<Option<i64>, _>(9)?.map(|c| c as u64),
        }))
    }

    /// Registers (or re-registers) a device at sign-in and issues a token.
    pub async fn login_device(
        &self,
        account: AccountId,
        device: DeviceId,
        token_hash: &str,
        max_devices: u32,
        now: i64,
    ) -> Result<LoginDevice, DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        Self::lock_account(&mut tx, account).await?;
        let existing = sqlx::query("SELECT revoked_at FROM devices WHERE account = $1 AND id = $2")
            .bind(account.hex())
            .bind(device.hex())
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match existing {
            Some(r) if r.try_get::<Option<i64>, _>(0)?.is_some() => {
                return Ok(LoginDevice::Revoked)
            }
            Some(_) => {
                // The same device signing in again (its token was lost):
                // its old tokens stop working.
                sqlx::query("DELETE FROM tokens WHERE account = $1 AND device = $2")
                    .bind(account.hex())
                    .bind(device.hex())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE devices SET last_seen_at = $3 WHERE account = $1 AND id = $2")
                    .bind(account.hex())
                    .bind(device.hex())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                LoginDevice::Existing
            }
            None => {
                let active: i64 = sqlx::query(
                    "SELECT COUNT(*) FROM devices WHERE account = $1 AND revoked_at IS NULL",
                )
                .bind(account.hex())
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                if active >= max_devices as i64 {
                    return Ok(LoginDevice::TooMany);
                }
                Self::insert_device(&mut tx, account, device, None, now).await?;
                LoginDevice::Fresh
            }
        };
        Self::insert_token(&mut tx, token_hash, account, device, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn lock_account(
        tx: &mut Transaction<'static, Any>,
        account: AccountId,
    ) -> Result<Option<u64>, DbError> {
        let row = sqlx::query("UPDATE accounts SET head = head WHERE id = $1 RETURNING head")
            .bind(account.hex())
            .fetch_optional(&mut **tx)
            .await?;
        row.map(|r| r.try_get::<i64, _>(0).map(|h| h as u64))
            .transpose()
            .map_err(Into::into)
    }

    pub async fn token_owner(&self, token_hash: &str) -> Result<Option<TokenOwner>, DbError> {
        let row = sqlx::query(
            "SELECT t.account, t.device, a.key_id, d.revoked_at, d.last_seen_at
             FROM tokens t
             JOIN devices d ON d.account = t.account AND d.id = t.device
             JOIN accounts a ON a.id = t.account
             WHERE t.hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(TokenOwner {
            account: hex_id(&r.try_get::<String, _>(0)?)?,
            device: hex_id(&r.try_get::<String, _>(1)?)?,
            key_id: r.try_get(2)?,
            revoked: r.try_get::<Option<i64>, _>(3)?.is_some(),
            last_seen_at: r.try_get(4)?,
        }))
    }

    pub async fn touch_device(
        &self,
        account: AccountId,
        device: DeviceId,
        now: i64,
    ) -> Result<(), DbError> {
        let _g = self.gate().await;
        sqlx::query("UPDATE devices SET last_seen_at = $3 WHERE account = $1 AND id = $2")
            .bind(account.hex())
            .bind(device.hex())
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_passphrase(
        &self,
        account: AccountId,
        kdf: &KdfParams,
        login_hash: &str,
        wrapped_key: &[u8],
        sign_out_others_except: Option<DeviceId>,
        now: i64,
    ) -> Result<(), DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE accounts SET kdf_salt = $2, kdf_m = $3, kdf_t = $4, kdf_p = $5, login_hash = $6, wrapped_key = $7
             WHERE id = $1",
        )
        .bind(account.hex())
        .bind(kdf.salt.as_slice())
        .bind(kdf.m_kib as i64)
        .bind(kdf.t as i64)
        .bind(kdf.p as i64)
        .bind(login_hash)
        .bind(wrapped_key)
        .execute(&mut *tx)
        .await?;
        if let Some(keep) = sign_out_others_except {
            Self::revoke(&mut tx, account, Some(keep), None, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_recovery(
        &self,
        account: AccountId,
        recovery: Option<(&str, &[u8])>,
    ) -> Result<(), DbError> {
        let _g = self.gate().await;
        sqlx::query("UPDATE accounts SET recovery_hash = $2, recovery_wrapped = $3 WHERE id = $1")
            .bind(account.hex())
            .bind(recovery.map(|r| r.0))
            .bind(recovery.map(|r| r.1))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes every row of the account, in one transaction.
    pub async fn delete_account(&self, account: AccountId) -> Result<(), DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        // The account row first, like every writer, so a concurrent push
        // waits instead of deadlocking on the device rows.
        Self::lock_account(&mut tx, account).await?;
        for table in ACCOUNT_TABLES {
            let col = if *table == "accounts" {
                "id"
            } else {
                "account"
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE {col} = $1"
            )))
            .bind(account.hex())
            .execute(&mut *tx)
            .await?;
        }
        if self.backend == Backend::Postgres {
            notify(&mut tx, &format!("d:{account}")).await?;
        }
        tx.commit().await?;
        if self.backend == Backend::Sqlite {
            // Old page images of the deleted rows live on in the WAL until
            // a checkpoint; truncate it so nothing of the account remains.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    // ---- devices ----

    pub async fn devices(
        &self,
        account: AccountId,
        current: DeviceId,
    ) -> Result<Vec<DeviceInfo>, DbError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_seen_at, revoked_at, head_seq FROM devices
             WHERE account = $1 ORDER BY created_at, id",
        )
        .bind(account.hex())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: DeviceId = hex_id(&r.try_get::<String, _>(0)?)?;
                Ok(DeviceInfo {
                    device_id: id,
                    name: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    last_seen_at: r.try_get(3)?,
                    signed_out: r.try_get::<Option<i64>, _>(4)?.is_some(),
                    current: id == current,
                    head: r.try_get::<i64, _>(5)? as u64,
                })
            })
            .collect()
    }

    pub async fn set_device_name(
        &self,
        account: AccountId,
        device: DeviceId,
        name: &[u8],
    ) -> Result<(), DbError> {
        let _g = self.gate().await;
        sqlx::query("UPDATE devices SET name = $3 WHERE account = $1 AND id = $2")
            .bind(account.hex())
            .bind(device.hex())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Signs out one device (`only`), or all but `keep`. Their tokens stop
    /// working; their chains stay part of the account's history.
    async fn revoke(
        tx: &mut Transaction<'static, Any>,
        account: AccountId,
        keep: Option<DeviceId>,
        only: Option<DeviceId>,
        now: i64,
    ) -> Result<u64, DbError> {
        // Token rows stay, so a signed-out device is told so
        // (`device_signed_out`) rather than that its token is unknown.
        let (devices, second) = match only {
            Some(d) => (
                "UPDATE devices SET revoked_at = $3 WHERE account = $1 AND id = $2 AND revoked_at IS NULL",
                d.hex(),
            ),
            None => (
                "UPDATE devices SET revoked_at = $3 WHERE account = $1 AND id <> $2 AND revoked_at IS NULL",
                keep.map(|d| d.hex()).unwrap_or_default(),
            ),
        };
        let r = sqlx::query(devices)
            .bind(account.hex())
            .bind(&second)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// Ok(false): no such active device.
    pub async fn sign_out(
        &self,
        account: AccountId,
        device: Option<DeviceId>,
        keep: Option<DeviceId>,
        now: i64,
    ) -> Result<bool, DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        let n = Self::revoke(&mut tx, account, keep, device, now).await?;
        if self.backend == Backend::Postgres {
            notify(&mut tx, &format!("r:{account}")).await?;
        }
        tx.commit().await?;
        Ok(n > 0 || device.is_none())
    }

    pub async fn device_active(
        &self,
        account: AccountId,
        device: DeviceId,
    ) -> Result<bool, DbError> {
        let row = sqlx::query("SELECT revoked_at FROM devices WHERE account = $1 AND id = $2")
            .bind(account.hex())
            .bind(device.hex())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<i64>, _>(0)?.is_none(),
            None => false,
        })
    }

    // ---- batches ----

    /// Stores consecutive batches of one device, all or nothing. Batches
    /// already stored under the same id and hash are answered as duplicates.
    /// `batches` must already be consecutive (seq and prev) among themselves.
    pub async fn push(
        &self,
        account: AccountId,
        device: DeviceId,
        batches: &[(BatchEnvelope, Hash32)],
        now: i64,
    ) -> Result<Result<PushOutcome, PushRefusal>, DbError> {
        if let Some(q) = &self.pushes {
            let (reply, answer) = oneshot::channel();
            let job = PushJob {
                account,
                device,
                batches: batches.to_vec(),
                now,
                reply,
            };
            if q.send(job).await.is_ok() {
                if let Ok(r) = answer.await {
                    return r;
                }
            }
            // The committer is gone (shutting down): store it directly.
        }
        let _g = self.gate().await;
        push_one(&self.pool, self.backend, account, device, batches, now).await
    }

    /// One consistent page: head, device heads and batches read in one
    /// snapshot, so "no more" really means everything up to `head`.
    pub async fn pull(
        &self,
        account: AccountId,
        device: DeviceId,
        after: u64,
        limit: u32,
        max_bytes: u64,
    ) -> Result<PullOutcome, DbError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(
            "SELECT a.head, a.compacted_through, s.cursor, s.created_at
             FROM accounts a LEFT JOIN snapshots s ON s.account = a.id WHERE a.id = $1",
        )
        .bind(account.hex())
        .fetch_one(&mut *tx)
        .await?;
        let head = r.try_get::<i64, _>(0)? as u64;
        let compacted = r.try_get::<i64, _>(1)? as u64;
        let snapshot_cursor = r.try_get::<Option<i64>, _>(2)?.map(|c| c as u64);
        let snapshot_at = r.try_get::<Option<i64>, _>(3)?;
        if after > head {
            return Ok(PullOutcome::Ahead { head });
        }
        if after < compacted {
            return Ok(PullOutcome::Compacted {
                compacted_through: compacted,
                snapshot_cursor,
            });
        }
        let rows = sqlx::query(
            "SELECT cursor, batch_id, device, seq, format, key_id, prev, nonce, ciphertext FROM batches
             WHERE account = $1 AND cursor > $2 AND device <> $3 ORDER BY cursor LIMIT $4",
        )
        .bind(account.hex())
        .bind(after as i64)
        .bind(device.hex())
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut batches = Vec::with_capacity(rows.len());
        let mut bytes = 0u64;
        let mut capped = false;
        for r in &rows {
            let ciphertext: Vec<u8> = r.try_get(8)?;
            if !batches.is_empty() && bytes + ciphertext.len() as u64 > max_bytes {
                capped = true;
                break;
            }
            bytes += ciphertext.len() as u64;
            batches.push(PulledBatch {
                cursor: r.try_get::<i64, _>(0)? as u64,
                batch: BatchEnvelope {
                    batch_id: hex_id(&r.try_get::<String, _>(1)?)?,
                    account,
                    device: hex_id(&r.try_get::<String, _>(2)?)?,
                    seq: r.try_get::<i64, _>(3)? as u64,
                    format: r.try_get::<i64, _>(4)? as u16,
                    key_id: hex_id(&r.try_get::<String, _>(5)?)?,
                    prev: hash32(&r.try_get::<Vec<u8>, _>(6)?)?,
                    nonce: r.try_get(7)?,
                    ciphertext,
                },
            });
        }
        let full = capped || rows.len() as u64 >= limit as u64;
        let (next, more) = match batches.last() {
            Some(last) if full => (last.cursor, last.cursor < head),
            _ => (head, false),
        };
        let devs = sqlx::query(
            "SELECT id, head_seq, head_hash FROM devices WHERE account = $1 AND head_seq > 0",
        )
        .bind(account.hex())
        .fetch_all(&mut *tx)
        .await?;
        let devices = devs
            .iter()
            .map(|r| {
                Ok((
                    hex_id::<DeviceId>(&r.try_get::<String, _>(0)?)?,
                    Head {
                        seq: r.try_get::<i64, _>(1)? as u64,
                        hash: hash32(&r.try_get::<Vec<u8>, _>(2)?)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, DbError>>()?;
        tx.commit().await?;
        Ok(PullOutcome::Page(PageRows {
            batches,
            next,
            more,
            head,
            devices,
            snapshot_cursor,
            snapshot_at,
        }))
    }

    pub async fn head(&self, account: AccountId) -> Result<Option<u64>, DbError> {
        Ok(sqlx::query("SELECT head FROM accounts WHERE id = $1")
            .bind(account.hex())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .map(|h| h as u64))
    }

    // ---- snapshots ----

    pub async fn put_snapshot(
        &self,
        s: &SnapshotEnvelope,
        now: i64,
    ) -> Result<Result<(), SnapshotRefusal>, DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        let head = Self::lock_account(&mut tx, s.account).await?.unwrap_or(0);
        if s.cursor > head {
            return Ok(Err(SnapshotRefusal::Ahead { head }));
        }
        let current: Option<i64> = sqlx::query("SELECT cursor FROM snapshots WHERE account = $1")
            .bind(s.account.hex())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if let Some(c) = current {
            if s.cursor <= c as u64 {
                return Ok(Err(SnapshotRefusal::Stale { current: c as u64 }));
            }
        }
        sqlx::query("DELETE FROM snapshots WHERE account = $1")
            .bind(s.account.hex())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO snapshots (account, snapshot_id, device, cursor, format, key_id, nonce, ciphertext, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(s.account.hex())
        .bind(s.snapshot_id.hex())
        .bind(s.device.hex())
        .bind(s.cursor as i64)
        .bind(s.format as i64)
        .bind(s.key_id.hex())
        .bind(s.nonce.as_slice())
        .bind(s.ciphertext.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    pub async fn snapshot(&self, account: AccountId) -> Result<Option<SnapshotEnvelope>, DbError> {
        let row = sqlx::query(
            "SELECT snapshot_id, device, cursor, format, key_id, nonce, ciphertext FROM snapshots WHERE account = $1",
        )
        .bind(account.hex())
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(SnapshotEnvelope {
            snapshot_id: hex_id(&r.try_get::<String, _>(0)?)?,
            account,
            device: hex_id(&r.try_get::<String, _>(1)?)?,
            cursor: r.try_get::<i64, _>(2)? as u64,
            format: r.try_get::<i64, _>(3)? as u16,
            key_id: hex_id(&r.try_get::<String, _>(4)?)?,
            nonce: r.try_get(5)?,
            ciphertext: r.try_get(6)?,
        }))
    }

    /// Drops batches covered by the account's snapshot and received before
    /// `cutoff`; returns the new `compacted_through`.
    pub async fn compact(&self, account: AccountId, cutoff: i64) -> Result<u64, DbError> {
        let _g = self.gate().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT MAX(b.cursor) FROM batches b JOIN snapshots s ON s.account = b.account
             WHERE b.account = $1 AND b.cursor <= s.cursor AND b.received_at < $2",
        )
        .bind(account.hex())
        .bind(cutoff)
        .fetch_one(&mut *tx)
        .await?;
        let upto: Option<i64> = row.try_get(0)?;
        if let Some(upto) = upto {
            sqlx::query("DELETE FROM batches WHERE account = $1 AND cursor <= $2")
                .bind(account.hex())
                .bind(upto)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE accounts SET compacted_through = $2 WHERE id = $1 AND compacted_through < $2",
            )
            .bind(account.hex())
            .bind(upto)
            .execute(&mut *tx)
            .await?;
        }
        let through: i64 = sqlx::query("SELECT compacted_through FROM accounts WHERE id = $1")
            .bind(account.hex())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(through as u64)
    }

    pub async fn accounts_with_snapshots(&self) -> Result<Vec<AccountId>, DbError> {
        sqlx::query("SELECT account FROM snapshots")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| hex_id(&r.try_get::<String, _>(0)?))
            .collect()
    }

    /// Every table's rows as text, for tests that prove deletion.
    pub async fn dump(&self) -> Result<Vec<(String, String)>, DbError> {
        let mut out = Vec::new();
        for table in ACCOUNT_TABLES.iter().chain(["meta"].iter()) {
            let sql = format!("SELECT * FROM {table}");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?;
            for r in rows {
                let mut cols = Vec::new();
                for i in 0..r.len() {
                    let text = r
                        .try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .or_else(|| {
                            r.try_get::<Option<i64>, _>(i)
                                .ok()
                                .flatten()
                                .map(|v| v.to_string())
                        })
                        .or_else(|| {
                            r.try_get::<Option<Vec<u8>>, _>(i)
                                .ok()
                                .flatten()
                                .map(hex::encode)
                        })
                        .unwrap_or_default();
                    cols.push(text);
                }
                out.push((table.to_string(), cols.join("|")));
            }
        }
        Ok(out)
    }
}

async fn notify(tx: &mut Transaction<'static, Any>, payload: &str) -> Result<(), DbError> {
    // pg_notify returns void, which the Any driver cannot decode; compare it
    // away. Delivered to listeners only if the transaction commits.
    sqlx::query("SELECT pg_notify('pp_sync', $1) IS NULL")
        .bind(payload)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The common case in three statements: the batches continue the
/// device's chain and none was stored before. Returns None (having
/// changed nothing) otherwise, for `push_checked` to sort out.
///
/// Inside a group transaction (`compensate`, SQLite) a refusal undoes
/// this push's own statements and leaves the transaction usable; alone
/// (PostgreSQL, where a failed statement aborts the transaction) the
/// caller drops the transaction instead.
async fn apply_fast(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    account: AccountId,
    device: DeviceId,
    batches: &[(BatchEnvelope, Hash32)],
    now: i64,
    compensate: bool,
) -> Result<Option<PushOutcome>, DbError> {
    let (Some((first, _)), Some((last, last_hash))) = (batches.first(), batches.last()) else {
        return Ok(None);
    };
    let k = batches.len() as i64;
    // Locks the account row first, as every writer does.
    let head: Option<i64> =
        sqlx::query("UPDATE accounts SET head = head + $2 WHERE id = $1 RETURNING head")
            .bind(account.hex())
            .bind(k)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    let Some(head) = head.map(|h| h as u64) else {
        return Ok(None);
    };
    let moved = sqlx::query(
        "UPDATE devices SET head_seq = $3, head_hash = $4, last_seen_at = $5
         WHERE account = $1 AND id = $2 AND head_seq = $6 AND head_hash = $7 AND revoked_at IS NULL",
    )
    .bind(account.hex())
    .bind(device.hex())
    .bind(last.seq as i64)
    .bind(last_hash.0.as_slice())
    .bind(now)
    .bind(first.seq as i64 - 1)
    .bind(first.prev.0.as_slice())
    .execute(&mut **tx)
    .await?;
    if moved.rows_affected() != 1 {
        if compensate {
            uncount(tx, account, k).await?;
        }
        return Ok(None);
    }
    let base = head - batches.len() as u64;
    let mut sql = String::from(
        "INSERT INTO batches (account, cursor, batch_id, device, seq, format, key_id, prev, nonce,
            ciphertext, hash, received_at) VALUES ",
    );
    for i in 0..batches.len() {
        let p = i * 12;
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(${},${},${},${},${},${},${},${},${},${},${},${})",
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8,
            p + 9,
            p + 10,
            p + 11,
            p + 12
        ));
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (i, (b, hash)) in batches.iter().enumerate() {
        q = q
            .bind(account.hex())
            .bind((base + 1 + i as u64) as i64)
            .bind(b.batch_id.hex())
            .bind(device.hex())
            .bind(b.seq as i64)
            .bind(b.format as i64)
            .bind(b.key_id.hex())
            .bind(b.prev.0.as_slice())
            .bind(b.nonce.as_slice())
            .bind(b.ciphertext.as_slice())
            .bind(hash.0.as_slice())
            .bind(now);
    }
    match q.execute(&mut **tx).await {
        // A batch id used before: the careful path names the problem.
        Err(e) if unique_violation(&e) => {
            if compensate {
                uncount(tx, account, k).await?;
                sqlx::query(
                    "UPDATE devices SET head_seq = $3, head_hash = $4 WHERE account = $1 AND id = $2",
                )
                .bind(account.hex())
                .bind(device.hex())
                .bind(first.seq as i64 - 1)
                .bind(first.prev.0.as_slice())
                .execute(&mut **tx)
                .await?;
            }
            return Ok(None);
        }
        r => {
            r?;
        }
    }
    if backend == Backend::Postgres {
        notify(tx, &format!("h:{account}:{head}")).await?;
    }
    Ok(Some(PushOutcome {
        results: batches
            .iter()
            .enumerate()
            .map(|(i, (b, _))| Accepted {
                batch_id: b.batch_id.hex(),
                seq: b.seq,
                cursor: base + 1 + i as u64,
                duplicate: false,
            })
            .collect(),
        head,
        stored: batches.len(),
    }))
}

/// Every case, one batch at a time: duplicates, reused ids, conflicts,
/// gaps, broken chains, revoked devices.
async fn push_checked(
    pool: &AnyPool,
    backend: Backend,
    account: AccountId,
    device: DeviceId,
    batches: &[(BatchEnvelope, Hash32)],
    now: i64,
) -> Result<Result<PushOutcome, PushRefusal>, DbError> {
    let mut tx = pool.begin().await?;
    let Some(mut head) = Db::lock_account(&mut tx, account).await? else {
        return Ok(Err(PushRefusal::DeviceRevoked));
    };
    let row = sqlx::query(
        "SELECT head_seq, head_hash, revoked_at FROM devices WHERE account = $1 AND id = $2",
    )
    .bind(account.hex())
    .bind(device.hex())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Err(PushRefusal::DeviceRevoked));
    };
    if row.try_get::<Option<i64>, _>(2)?.is_some() {
        return Ok(Err(PushRefusal::DeviceRevoked));
    }
    let mut dev_head = Head {
        seq: row.try_get::<i64, _>(0)? as u64,
        hash: hash32(&row.try_get::<Vec<u8>, _>(1)?)?,
    };
    let mut results = Vec::with_capacity(batches.len());
    let mut stored = 0;
    for (b, hash) in batches {
        let existing =
            sqlx::query("SELECT cursor, hash FROM batches WHERE account = $1 AND batch_id = $2")
                .bind(account.hex())
                .bind(b.batch_id.hex())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(e) = existing {
            if hash32(&e.try_get::<Vec<u8>, _>(1)?)? != *hash {
                return Ok(Err(PushRefusal::BatchIdReused {
                    batch: b.batch_id.hex(),
                }));
            }
            results.push(Accepted {
                batch_id: b.batch_id.hex(),
                seq: b.seq,
                cursor: e.try_get::<i64, _>(0)? as u64,
                duplicate: true,
            });
            continue;
        }
        if b.seq <= dev_head.seq {
            return Ok(Err(PushRefusal::SeqConflict { head: dev_head }));
        }
        if b.seq > dev_head.seq + 1 {
            return Ok(Err(PushRefusal::SeqGap { head: dev_head }));
        }
        if b.prev != dev_head.hash {
            return Ok(Err(PushRefusal::ChainMismatch { head: dev_head }));
        }
        head += 1;
        sqlx::query(
            "INSERT INTO batches (account, cursor, batch_id, device, seq, format, key_id, prev, nonce,
                ciphertext, hash, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(account.hex())
        .bind(head as i64)
        .bind(b.batch_id.hex())
        .bind(device.hex())
        .bind(b.seq as i64)
        .bind(b.format as i64)
        .bind(b.key_id.hex())
        .bind(b.prev.0.as_slice())
        .bind(b.nonce.as_slice())
        .bind(b.ciphertext.as_slice())
        .bind(hash.0.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        dev_head = Head {
            seq: b.seq,
            hash: *hash,
        };
        stored += 1;
        results.push(Accepted {
            batch_id: b.batch_id.hex(),
            seq: b.seq,
            cursor: head,
            duplicate: false,
        });
    }
    if stored > 0 {
        sqlx::query("UPDATE devices SET head_seq = $3, head_hash = $4, last_seen_at = $5 WHERE account = $1 AND id = $2")
            .bind(account.hex())
            .bind(device.hex())
            .bind(dev_head.seq as i64)
            .bind(dev_head.hash.0.as_slice())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE accounts SET head = $2 WHERE id = $1")
            .bind(account.hex())
            .bind(head as i64)
            .execute(&mut *tx)
            .await?;
        if backend == Backend::Postgres {
            // One notice per push, whatever its size: NOTIFY serialises
            // commits, so it must never be per operation.
            notify(&mut tx, &format!("h:{account}:{head}")).await?;
        }
    }
    tx.commit().await?;
    Ok(Ok(PushOutcome {
        results,
        head,
        stored,
    }))
}

/// Takes a push's reserved cursors back.
async fn uncount(
    tx: &mut Transaction<'static, Any>,
    account: AccountId,
    k: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE accounts SET head = head - $2 WHERE id = $1")
        .bind(account.hex())
        .bind(k)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// One push in its own transaction: the fast path, else the careful one.
async fn push_one(
    pool: &AnyPool,
    backend: Backend,
    account: AccountId,
    device: DeviceId,
    batches: &[(BatchEnvelope, Hash32)],
    now: i64,
) -> Result<Result<PushOutcome, PushRefusal>, DbError> {
    let mut tx = pool.begin().await?;
    if let Some(done) = apply_fast(&mut tx, backend, account, device, batches, now, false).await? {
        tx.commit().await?;
        return Ok(Ok(done));
    }
    drop(tx);
    push_checked(pool, backend, account, device, batches, now).await
}

/// SQLite's committer: waits for a push, takes every other push queued
/// behind it, stores all that take the fast path in one transaction, then
/// runs the rest one by one. Answers each push only after its commit.
async fn committer(
    pool: AnyPool,
    gate: Arc<Mutex<()>>,
    stats: Arc<GroupStats>,
    mut rx: mpsc::Receiver<PushJob>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let _g = gate.lock().await;
        if jobs.len() == 1 {
            let job = jobs.remove(0);
            let r = push_one(
                &pool,
                Backend::Sqlite,
                job.account,
                job.device,
                &job.batches,
                job.now,
            )
            .await;
            let _ = job.reply.send(r);
            continue;
        }
        match group(&pool, &jobs).await {
            Ok(outcomes) => {
                use std::sync::atomic::Ordering::Relaxed;
                stats.commits.fetch_add(1, Relaxed);
                stats.pushes.fetch_add(jobs.len() as u64, Relaxed);
                for (job, fast) in jobs.into_iter().zip(outcomes) {
                    let r = match fast {
                        Some(o) => Ok(Ok(o)),
                        None => {
                            push_checked(
                                &pool,
                                Backend::Sqlite,
                                job.account,
                                job.device,
                                &job.batches,
                                job.now,
                            )
                            .await
                        }
                    };
                    let _ = job.reply.send(r);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "group commit failed; storing the pushes one by one");
                for job in jobs {
                    let r = push_one(
                        &pool,
                        Backend::Sqlite,
                        job.account,
                        job.device,
                        &job.batches,
                        job.now,
                    )
                    .await;
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}

async fn group(pool: &AnyPool, jobs: &[PushJob]) -> Result<Vec<Option<PushOutcome>>, DbError> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        out.push(
            apply_fast(
                &mut tx,
                Backend::Sqlite,
                j.account,
                j.device,
                &j.batches,
                j.now,
                true,
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use productivitypro_sync_protocol::{BatchId, KeyId};

    fn env(
        account: AccountId,
        device: DeviceId,
        id: u8,
        seq: u64,
        prev: Hash32,
    ) -> (BatchEnvelope, Hash32) {
        let e = BatchEnvelope {
            batch_id: BatchId([id; 16]),
            account,
            device,
            seq,
            format: 1,
            key_id: KeyId([1; 16]),
            prev,
            nonce: vec![0; 24],
            ciphertext: vec![id; 16],
        };
        let h = e.hash();
        (e, h)
    }

    fn job(account: AccountId, device: DeviceId, b: (BatchEnvelope, Hash32)) -> PushJob {
        PushJob {
            account,
            device,
            batches: vec![b],
            now: 1,
            reply: oneshot::channel().0,
        }
    }

    #[tokio::test]
    async fn a_refused_push_inside_a_group_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        let kdf = KdfParams {
            salt: vec![0; 16],
            m_kib: 65536,
            t: 3,
            p: 1,
        };
        let ids = [
            (AccountId([1; 16]), DeviceId([1; 16])),
            (AccountId([2; 16]), DeviceId([2; 16])),
        ];
        for (n, (a, d)) in ids.iter().enumerate() {
            let created = db
                .create_account(NewAccount {
                    id: *a,
                    login_id: &format!("login{n}"),
                    kdf: &kdf,
                    login_hash: "h",
                    key_id: &KeyId([1; 16]).hex(),
                    wrapped_key: &[0; 72],
                    recovery_hash: None,
                    recovery_wrapped: None,
                    device: *d,
                    device_name: None,
                    token_hash: &format!("t{n}"),
                    now: 1,
                })
                .await
                .unwrap();
            assert!(created);
        }
        let (a1, d1) = ids[0];
        let (a2, d2) = ids[1];
        let first = env(a1, d1, 10, 1, Hash32::ZERO);
        // Continues the chain but reuses the first batch's id.
        let reused = env(a1, d1, 10, 2, first.1);
        let other = env(a2, d2, 20, 1, Hash32::ZERO);
        let jobs = vec![
            job(a1, d1, first.clone()),
            job(a1, d1, reused),
            job(a2, d2, other),
        ];
        let out = group(&db.pool, &jobs).await.unwrap();
        assert_eq!(
            out.iter().map(Option::is_some).collect::<Vec<_>>(),
            vec![true, false, true]
        );
        assert_eq!(out[2].as_ref().unwrap().results[0].cursor, 1);
        assert_eq!(
            db.head(a1).await.unwrap(),
            Some(1),
            "the refused push's cursor was given back"
        );
        let page = match db
            .pull(a1, DeviceId([9; 16]), 0, 10, 1 << 20)
            .await
            .unwrap()
        {
            PullOutcome::Page(p) => p,
            _ => panic!("a page"),
        };
        assert_eq!(page.batches.len(), 1);
        assert_eq!(
            page.devices,
            vec![(
                d1,
                Head {
                    seq: 1,
                    hash: first.1
                }
            )],
            "the device head was restored"
        );
        // The careful path then names the problem.
        let r = push_checked(&db.pool, Backend::Sqlite, a1, d1, &jobs[1].batches, 1)
            .await
            .unwrap();
        assert!(matches!(r, Err(PushRefusal::BatchIdReused { .. })));
    }
}
