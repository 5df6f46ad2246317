//! The service's durable state, on SQLite (one file, the embedded default) or
//! PostgreSQL (many replicas), through the same SQL. Every change to release
//! state runs in one transaction with its audit entry and bumps `generation`,
//! which replicas poll to rebuild their in-memory snapshot.

use std::collections::HashMap;

use productivitypro_protocol::api::{AuditEntry, Health, ReleaseState};
use productivitypro_protocol::telemetry::EventKind;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use crate::clock::rfc3339;

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
    #[error("the database's schema number {0} is damaged (meta.schema must be 0 or more); restore the database from a backup")]
    CorruptSchema(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// Schema steps, append-only; `{id}` is the auto-incrementing key, the one
/// spelling the two databases disagree on.
const MIGRATIONS: &[&[&str]] = &[
    &[
    "CREATE TABLE releases (version TEXT PRIMARY KEY, notes TEXT NOT NULL, state TEXT NOT NULL,
        state_reason TEXT, published_at BIGINT NOT NULL, published_by TEXT NOT NULL)",
    "CREATE TABLE artifacts (version TEXT NOT NULL REFERENCES releases(version), platform TEXT NOT NULL,
        file_name TEXT NOT NULL, url TEXT, object_key TEXT, size BIGINT NOT NULL, sha256 TEXT NOT NULL,
        signature TEXT NOT NULL, PRIMARY KEY (version, platform))",
    "CREATE TABLE rollouts (version TEXT NOT NULL REFERENCES releases(version), channel TEXT NOT NULL,
        percent_bps BIGINT NOT NULL, since BIGINT NOT NULL, PRIMARY KEY (version, channel))",
    "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT)",
    "CREATE TABLE audit (id {id}, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        version TEXT, detail TEXT NOT NULL)",
    "CREATE TABLE telemetry_hourly (version TEXT NOT NULL, channel TEXT NOT NULL, hour BIGINT NOT NULL,
        kind TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (version, channel, hour, kind))",
    "CREATE TABLE installs_seen (version TEXT NOT NULL, install_id TEXT NOT NULL,
        PRIMARY KEY (version, install_id))",
    "INSERT INTO meta (key, value) VALUES ('generation', 0)",
    ],
    // 2: telemetry per platform, with each reporting install's last hour per
    // event kind (distinct installs within a window), and per-platform
    // release states. Old counts keep their hours under platform `unknown`
    // (they still count for channels and releases as a whole); the old
    // `installs_seen` rows carried no time, cannot be placed in any window
    // and are dropped.
    &[
        "CREATE TABLE telemetry_counts (version TEXT NOT NULL, channel TEXT NOT NULL, platform TEXT NOT NULL,
            hour BIGINT NOT NULL, kind TEXT NOT NULL, count BIGINT NOT NULL,
            PRIMARY KEY (version, channel, platform, hour, kind))",
        "INSERT INTO telemetry_counts (version, channel, platform, hour, kind, count)
            SELECT version, channel, 'unknown', hour, kind, count FROM telemetry_hourly",
        "DROP TABLE telemetry_hourly",
        "DROP TABLE installs_seen",
        "CREATE INDEX telemetry_counts_hour ON telemetry_counts (hour)",
        "CREATE TABLE telemetry_installs (version TEXT NOT NULL, channel TEXT NOT NULL, platform TEXT NOT NULL,
            install_id TEXT NOT NULL, kind TEXT NOT NULL, last_hour BIGINT NOT NULL,
            PRIMARY KEY (version, channel, platform, install_id, kind))",
        "CREATE INDEX telemetry_installs_last_hour ON telemetry_installs (last_hour)",
        "CREATE TABLE platform_states (version TEXT NOT NULL REFERENCES releases(version),
            platform TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, PRIMARY KEY (version, platform))",
    ],
    // 3: delta patches (issue 10): one row per attempt to patch `version`'s
    // artifact on `platform` from `from_version`'s; `ready` rows name the
    // stored patch, `failed` ones why there is none (so it is not retried).
    &[
        "CREATE TABLE deltas (version TEXT NOT NULL REFERENCES releases(version), platform TEXT NOT NULL,
            from_version TEXT NOT NULL REFERENCES releases(version), state TEXT NOT NULL, method TEXT NOT NULL,
            object_key TEXT, size BIGINT, sha256 TEXT, reason TEXT, built_at BIGINT NOT NULL,
            build_ms BIGINT NOT NULL, PRIMARY KEY (version, platform, from_version))",
    ],
];

pub struct ReleaseRow {
    pub version: String,
    pub notes: String,
    pub state: ReleaseState,
    pub state_reason: Option<String>,
    pub published_at: i64,
}

pub struct ArtifactRow {
    pub version: String,
    pub platform: String,
    pub file_name: String,
    pub url: Option<String>,
    pub object_key: Option<String>,
    pub size: i64,
    pub sha256: String,
    pub signature: String,
}

pub struct RolloutRow {
    pub version: String,
    pub channel: String,
    pub percent_bps: i64,
    pub since: i64,
}

/// A platform of a release stopped on its own.
pub struct PlatformStateRow {
    pub version: String,
    pub platform: String,
    pub state: ReleaseState,
    pub reason: Option<String>,
}

/// A stored delta patch into `version`'s artifact on `platform`.
pub struct DeltaRow {
    pub version: String,
    pub platform: String,
    pub from_version: String,
    pub method: String,
    pub object_key: String,
    pub size: i64,
    pub sha256: String,
}

/// The outcome of one patch build, as recorded.
pub enum DeltaOutcome<'a> {
    Ready {
        object_key: &'a str,
        size: i64,
        sha256: &'a str,
    },
    Failed {
        reason: &'a str,
    },
}

pub struct State {
    pub generation: i64,
    pub releases: Vec<ReleaseRow>,
    pub artifacts: Vec<ArtifactRow>,
    pub rollouts: Vec<RolloutRow>,
    pub platform_states: Vec<PlatformStateRow>,
    pub deltas: Vec<DeltaRow>,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who did what, written with the change it describes.
pub struct Audit<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub version: Option<&'a str>,
    pub detail: String,
}

pub struct NewRelease<'a> {
    pub version: &'a str,
    pub notes: &'a str,
    pub channel: &'a str,
    pub percent_bps: i64,
    pub artifacts: Vec<ArtifactRow>,
}

/// One change to release state, with the state it expects to find.
pub enum Change<'a> {
    /// Sets a channel's rollout of an active release.
    Rollout {
        version: &'a str,
        channel: &'a str,
        bps: i64,
        at: i64,
        expect: Expect,
    },
    /// Moves a release from `from` to `to`.
    State {
        version: &'a str,
        from: ReleaseState,
        to: ReleaseState,
        reason: Option<&'a str>,
    },
    /// Stops one platform of a release on its own (`to` Some) or lifts that
    /// stop (`to` None); `from` is its own state now (None: not stopped).
    PlatformState {
        version: &'a str,
        platform: &'a str,
        from: Option<ReleaseState>,
        to: Option<ReleaseState>,
        reason: Option<&'a str>,
    },
}

/// What a rollout change expects of the channel's current rollout.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// The release is in the channel (at any percentage).
    Present,
    /// The release is not in the channel yet.
    Absent,
    /// The release is in the channel at exactly these basis points.
    Bps(i64),
}

/// Why `apply` changed nothing.
#[derive(Debug, PartialEq)]
pub enum Conflict {
    Unknown(String),
    NotActive {
        version: String,
        state: ReleaseState,
    },
    /// Someone else changed it since it was read.
    Changed(String),
}

/// Where telemetry is counted: a release version, the reporting install's
/// channel and platform (`linux-x86_64-appimage`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub version: String,
    pub channel: String,
    pub platform: String,
}

/// Telemetry taken from memory for one flush.
#[derive(Default)]
pub struct TelemetryBatch {
    /// Events to add, by cell, hour start and kind.
    pub counts: HashMap<(Cell, i64, EventKind), u64>,
    /// The latest hour each install reported each kind in, by cell.
    pub installs: HashMap<(Cell, Uuid, EventKind), i64>,
}

impl TelemetryBatch {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.installs.is_empty()
    }

    /// Adds `other` (a batch whose flush failed) back into this one.
    pub fn merge(&mut self, other: TelemetryBatch) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, h) in other.installs {
            let e = self.installs.entry(k).or_insert(h);
            *e = (*e).max(h);
        }
    }
}

/// Health within a window, per release and per view of it.
#[derive(Default)]
pub struct HealthViews {
    pub overall: HashMap<String, Health>,
    /// By (version, platform), across channels.
    pub by_platform: HashMap<(String, String), Health>,
    /// By (version, channel, platform).
    pub cells: HashMap<(String, String, String), Health>,
}

/// Rows a single multi-row statement writes at most (bounded by bind parameters).
const BATCH_ROWS: usize = 500;

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
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 16 });
        let pool = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                let path = std::path::Path::new(path.split('?').next().unwrap_or_default());
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Sql(sqlx::Error::Io(e)))?;
                }
                // One writer at a time; readers wait on the lock instead of failing.
                let url = if url.contains('?') {
                    url.to_string()
                } else {
                    format!("{url}?mode=rwc")
                };
                let pool = opts
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA busy_timeout = 10000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
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
        let db = Db { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once, so a read inside it cannot be overtaken by another writer.
    async fn write(&self) -> Result<Transaction<'static, Any>, DbError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Row-lock suffix for reads a write in the same transaction depends on.
    fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    async fn migrate(&self) -> Result<(), DbError> {
        let id = match self.backend {
            Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Backend::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        };
        let mut tx = self.write().await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        )
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
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        let known = MIGRATIONS.len() as i64;
        if current < 0 {
            return Err(DbError::CorruptSchema(current));
        }
        if current > known {
            return Err(DbError::TooNew {
                found: current,
                known,
            });
        }
        for step in &MIGRATIONS[current as usize..] {
            for sql in *step {
                let sql = sql.replace("{id}", id);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query("DELETE FROM meta WHERE key = 'schema'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('schema', $1)")
            .bind(known)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn generation(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'generation'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Everything the snapshot is built from, read in one transaction that
    /// sees one state of the database: PostgreSQL's default READ COMMITTED
    /// would let each statement see a different one.
    pub async fn load_state(&self) -> Result<State, DbError> {
        let mut tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let generation: i64 = sqlx::query("SELECT value FROM meta WHERE key = 'generation'")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let releases =
            sqlx::query("SELECT version, notes, state, state_reason, published_at FROM releases")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(ReleaseRow {
                        version: r.try_get(0)?,
                        notes: r.try_get(1)?,
                        state: parse_state(&r.try_get::<String, _>(2)?),
                        state_reason: r.try_get(3)?,
                        published_at: r.try_get(4)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let artifacts = sqlx::query(
            "SELECT version, platform, file_name, url, object_key, size, sha256, signature FROM artifacts",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(ArtifactRow {
                version: r.try_get(0)?,
                platform: r.try_get(1)?,
                file_name: r.try_get(2)?,
                url: r.try_get(3)?,
                object_key: r.try_get(4)?,
                size: r.try_get(5)?,
                sha256: r.try_get(6)?,
                signature: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let rollouts = sqlx::query("SELECT version, channel, percent_bps, since FROM rollouts")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(RolloutRow {
                    version: r.try_get(0)?,
                    channel: r.try_get(1)?,
                    percent_bps: r.try_get(2)?,
                    since: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let platform_states =
            sqlx::query("SELECT version, platform, state, reason FROM platform_states")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(PlatformStateRow {
                        version: r.try_get(0)?,
                        platform: r.try_get(1)?,
                        state: parse_state(&r.try_get::<String, _>(2)?),
                        reason: r.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let deltas = sqlx::query(
            "SELECT version, platform, from_version, method, object_key, size, sha256 FROM deltas
             WHERE state = 'ready'",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(DeltaRow {
                version: r.try_get(0)?,
                platform: r.try_get(1)?,
                from_version: r.try_get(2)?,
                method: r.try_get(3)?,
                object_key: r.try_get(4)?,
                size: r.try_get(5)?,
                sha256: r.try_get(6)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
        tx.commit().await?;
        Ok(State {
            generation,
            releases,
            artifacts,
            rollouts,
            platform_states,
            deltas,
        })
    }

    /// Every (version, platform, from_version) a patch build was recorded
    /// for, ready or failed: what the builder skips.
    pub async fn delta_attempts(&self) -> Result<Vec<(String, String, String)>, DbError> {
        sqlx::query("SELECT version, platform, from_version FROM deltas")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Records a patch build. Returns false when another replica recorded
    /// the same patch first (the caller removes its own object). A ready
    /// patch bumps `generation`, so every replica starts announcing it.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_delta(
        &self,
        version: &str,
        platform: &str,
        from_version: &str,
        method: &str,
        outcome: DeltaOutcome<'_>,
        at: i64,
        build_ms: i64,
    ) -> Result<bool, DbError> {
        let mut tx = self.write().await?;
        let (state, key, size, sha, reason) = match outcome {
            DeltaOutcome::Ready {
                object_key,
                size,
                sha256,
            } => ("ready", Some(object_key), Some(size), Some(sha256), None),
            DeltaOutcome::Failed { reason } => ("failed", None, None, None, Some(reason)),
        };
        let n = sqlx::query(
            "INSERT INTO deltas (version, platform, from_version, state, method, object_key, size, sha256,
                reason, built_at, build_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (version, platform, from_version) DO NOTHING",
        )
        .bind(version)
        .bind(platform)
        .bind(from_version)
        .bind(state)
        .bind(method)
        .bind(key)
        .bind(size)
        .bind(sha)
        .bind(reason)
        .bind(at)
        .bind(build_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if state == "ready" {
            Self::bump(tx).await?;
        } else {
            tx.commit().await?;
        }
        Ok(true)
    }

    async fn audit_in(tx: &mut Transaction<'static, Any>, audit: Audit<'_>) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO audit (at, actor, action, version, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(audit.at)
        .bind(audit.actor)
        .bind(audit.action)
        .bind(audit.version)
        .bind(audit.detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Bumps `generation` (so replicas rebuild their snapshot) and commits.
    async fn bump(mut tx: Transaction<'static, Any>) -> Result<(), DbError> {
        sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn finish(mut tx: Transaction<'static, Any>, audit: Audit<'_>) -> Result<(), DbError> {
        Self::audit_in(&mut tx, audit).await?;
        Self::bump(tx).await
    }

    /// Inserts a release, its artifacts and its first rollout. Returns false
    /// when the version exists already (another replica may have won the race).
    pub async fn insert_release(
        &self,
        r: NewRelease<'_>,
        audit: Audit<'_>,
    ) -> Result<bool, DbError> {
        let mut tx = self.write().await?;
        let inserted = sqlx::query(
            "INSERT INTO releases (version, notes, state, state_reason, published_at, published_by)
             VALUES ($1, $2, 'active', NULL, $3, $4) ON CONFLICT (version) DO NOTHING",
        )
        .bind(r.version)
        .bind(r.notes)
        .bind(audit.at)
        .bind(audit.actor)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for a in &r.artifacts {
            sqlx::query(
                "INSERT INTO artifacts (version, platform, file_name, url, object_key, size, sha256, signature)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(r.version)
            .bind(&a.platform)
            .bind(&a.file_name)
            .bind(&a.url)
            .bind(&a.object_key)
            .bind(a.size)
            .bind(&a.sha256)
            .bind(&a.signature)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO rollouts (version, channel, percent_bps, since) VALUES ($1, $2, $3, $4)",
        )
        .bind(r.version)
        .bind(r.channel)
        .bind(r.percent_bps)
        .bind(audit.at)
        .execute(&mut *tx)
        .await?;
        Self::finish(tx, audit).await?;
        Ok(true)
    }

    /// Applies `changes` with their audit entries in one transaction, each
    /// checked against the state it expects inside that transaction: all of
    /// them, or — on the first conflict or failure — none.
    pub async fn apply(
        &self,
        changes: &[Change<'_>],
        audits: Vec<Audit<'_>>,
    ) -> Result<Result<(), Conflict>, DbError> {
        let mut tx = self.write().await?;
        for c in changes {
            let conflict = match c {
                Change::Rollout {
                    version,
                    channel,
                    bps,
                    at,
                    expect,
                } => {
                    self.rollout_in(&mut tx, version, channel, *bps, *at, *expect)
                        .await?
                }
                Change::State {
                    version,
                    from,
                    to,
                    reason,
                } => {
                    let n = sqlx::query(
                        "UPDATE releases SET state = $1, state_reason = $2 WHERE version = $3 AND state = $4",
                    )
                    .bind(to.as_str())
                    .bind(*reason)
                    .bind(*version)
                    .bind(from.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    (n == 0).then(|| Conflict::Changed(version.to_string()))
                }
                Change::PlatformState {
                    version,
                    platform,
                    from,
                    to,
                    reason,
                } => {
                    self.platform_state_in(&mut tx, version, platform, *from, *to, *reason)
                        .await?
                }
            };
            if let Some(c) = conflict {
                tx.rollback().await?;
                return Ok(Err(c));
            }
        }
        for a in audits {
            Self::audit_in(&mut tx, a).await?;
        }
        Self::bump(tx).await?;
        Ok(Ok(()))
    }

    async fn platform_state_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        version: &str,
        platform: &str,
        from: Option<ReleaseState>,
        to: Option<ReleaseState>,
        reason: Option<&str>,
    ) -> Result<Option<Conflict>, DbError> {
        let current: Option<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT state FROM platform_states WHERE version = $1 AND platform = $2{}",
            self.for_update()
        )))
        .bind(version)
        .bind(platform)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if current.as_deref().map(parse_state) != from {
            return Ok(Some(Conflict::Changed(version.to_string())));
        }
        match to {
            None => {
                sqlx::query("DELETE FROM platform_states WHERE version = $1 AND platform = $2")
                    .bind(version)
                    .bind(platform)
                    .execute(&mut **tx)
                    .await?;
            }
            Some(to) => {
                sqlx::query(
                    "INSERT INTO platform_states (version, platform, state, reason) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (version, platform) DO UPDATE SET state = excluded.state, reason = excluded.reason",
                )
                .bind(version)
                .bind(platform)
                .bind(to.as_str())
                .bind(reason)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(None)
    }

    async fn rollout_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        version: &str,
        channel: &str,
        bps: i64,
        at: i64,
        expect: Expect,
    ) -> Result<Option<Conflict>, DbError> {
        let state = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT state FROM releases WHERE version = $1{}",
            self.for_update()
        )))
        .bind(version)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(state) = state else {
            return Ok(Some(Conflict::Unknown(version.to_string())));
        };
        let state = parse_state(&state.try_get::<String, _>(0)?);
        if state != ReleaseState::Active {
            return Ok(Some(Conflict::NotActive {
                version: version.to_string(),
                state,
            }));
        }
        let current: Option<i64> =
            sqlx::query("SELECT percent_bps FROM rollouts WHERE version = $1 AND channel = $2")
                .bind(version)
                .bind(channel)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        let expected = match expect {
            Expect::Present => current.is_some(),
            Expect::Absent => current.is_none(),
            Expect::Bps(b) => current == Some(b),
        };
        if !expected {
            return Ok(Some(Conflict::Changed(version.to_string())));
        }
        sqlx::query(
            "INSERT INTO rollouts (version, channel, percent_bps, since) VALUES ($1, $2, $3, $4)
             ON CONFLICT (version, channel) DO UPDATE SET percent_bps = excluded.percent_bps, since = excluded.since",
        )
        .bind(version)
        .bind(channel)
        .bind(bps)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(None)
    }

    pub async fn insert_token(
        &self,
        id: &str,
        name: &str,
        hash: &str,
        scopes: &str,
        created_at: i64,
        expires_at: Option<i64>,
    ) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO tokens (id, name, hash, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(hash)
        .bind(scopes)
        .bind(created_at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let audit = Audit {
            at: created_at,
            actor: "updater-server token create",
            action: "token_create",
            version: None,
            detail: format!("token {id} ({name}) scopes {scopes}"),
        };
        Self::finish(tx, audit).await
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, DbError> {
        let row = sqlx::query(
            "SELECT id, name, scopes, created_at, expires_at, revoked_at FROM tokens WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| token_row(&r)).transpose()?)
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>, DbError> {
        let rows = sqlx::query(
            "SELECT id, name, scopes, created_at, expires_at, revoked_at FROM tokens ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_row).collect::<Result<_, _>>()?)
    }

    pub async fn revoke_token(&self, id: &str, at: i64) -> Result<bool, DbError> {
        let mut tx = self.write().await?;
        let n =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        let audit = Audit {
            at,
            actor: "updater-server token revoke",
            action: "token_revoke",
            version: None,
            detail: format!("token {id}"),
        };
        Self::finish(tx, audit).await?;
        Ok(true)
    }

    pub async fn audit(&self, limit: i64) -> Result<Vec<AuditEntry>, DbError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, version, detail FROM audit ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    at: rfc3339(r.try_get(1)?),
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    version: r.try_get(4)?,
                    detail: r.try_get(5)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Adds a flush's telemetry in one transaction. Additive upserts (counts
    /// add up, last hours take the later), so replicas flushing at once never
    /// lose each other's data.
    pub async fn add_telemetry(&self, batch: &TelemetryBatch) -> Result<(), DbError> {
        let mut tx = self.write().await?;
        let counts: Vec<_> = batch.counts.iter().collect();
        for chunk in counts.chunks(BATCH_ROWS) {
            let sql = format!(
                "INSERT INTO telemetry_counts (version, channel, platform, hour, kind, count) VALUES {}
                 ON CONFLICT (version, channel, platform, hour, kind)
                 DO UPDATE SET count = telemetry_counts.count + excluded.count",
                placeholders(chunk.len(), 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((cell, hour, kind), n) in chunk {
                q = q
                    .bind(cell.version.as_str())
                    .bind(cell.channel.as_str())
                    .bind(cell.platform.as_str())
                    .bind(*hour)
                    .bind(kind.as_str())
                    .bind(**n as i64);
            }
            q.execute(&mut *tx).await?;
        }
        let installs: Vec<_> = batch.installs.iter().collect();
        for chunk in installs.chunks(BATCH_ROWS) {
            let sql = format!(
                "INSERT INTO telemetry_installs (version, channel, platform, install_id, kind, last_hour) VALUES {}
                 ON CONFLICT (version, channel, platform, install_id, kind)
                 DO UPDATE SET last_hour = CASE WHEN excluded.last_hour > telemetry_installs.last_hour
                     THEN excluded.last_hour ELSE telemetry_installs.last_hour END",
                placeholders(chunk.len(), 6)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((cell, install, kind), hour) in chunk {
                q = q
                    .bind(cell.version.as_str())
                    .bind(cell.channel.as_str())
                    .bind(cell.platform.as_str())
                    .bind(install.to_string())
                    .bind(kind.as_str())
                    .bind(**hour);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes telemetry of hours before `before_hour`; returns rows removed.
    pub async fn prune_telemetry(&self, before_hour: i64) -> Result<u64, DbError> {
        let mut tx = self.write().await?;
        let a = sqlx::query("DELETE FROM telemetry_counts WHERE hour < $1")
            .bind(before_hour)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let b = sqlx::query("DELETE FROM telemetry_installs WHERE last_hour < $1")
            .bind(before_hour)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(a + b)
    }

    /// Health from the hour starting at `since_hour` on: distinct installs
    /// and event counts per release, per (release, platform) and per cell
    /// (release, channel, platform). An install has one platform, so a
    /// channel's distinct installs are the sum of its cells'.
    pub async fn health(&self, since_hour: i64) -> Result<HealthViews, DbError> {
        let mut views = HealthViews::default();
        for (group, view) in [
            ("t.version", View::Overall),
            ("t.version, t.platform", View::Platform),
            ("t.version, t.channel, t.platform", View::Cell),
        ] {
            let width = group.split(',').count();
            let counts = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {group}, t.kind, CAST(SUM(t.count) AS BIGINT) FROM telemetry_counts t
                 WHERE t.hour >= $1 GROUP BY {group}, t.kind"
            )))
            .bind(since_hour)
            .fetch_all(&self.pool)
            .await?;
            for r in &counts {
                let n = r.try_get::<i64, _>(width + 1)?.max(0) as u64;
                let kind: String = r.try_get(width)?;
                let h = views.entry(view, r)?;
                match kind.as_str() {
                    "session_start" => h.sessions += n,
                    "crash" => h.crashes += n,
                    "update_installed" => h.updates_installed += n,
                    "update_failed" => h.updates_failed += n,
                    _ => {}
                }
            }
            let distinct = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {group},
                    COUNT(DISTINCT CASE WHEN t.kind IN ('session_start', 'crash') THEN t.install_id END),
                    COUNT(DISTINCT CASE WHEN t.kind = 'crash' THEN t.install_id END),
                    COUNT(DISTINCT CASE WHEN t.kind IN ('update_installed', 'update_failed') THEN t.install_id END),
                    COUNT(DISTINCT CASE WHEN t.kind = 'update_failed' THEN t.install_id END)
                 FROM telemetry_installs t WHERE t.last_hour >= $1 GROUP BY {group}"
            )))
            .bind(since_hour)
            .fetch_all(&self.pool)
            .await?;
            for r in &distinct {
                let n = |i: usize| r.try_get::<i64, _>(width + i).map(|v| v.max(0) as u64);
                let (a, b, c, d) = (n(0)?, n(1)?, n(2)?, n(3)?);
                let h = views.entry(view, r)?;
                h.installs = a;
                h.crashed_installs = b;
                h.update_installs = c;
                h.failed_update_installs = d;
            }
        }
        Ok(views)
    }
}

#[derive(Clone, Copy)]
enum View {
    Overall,
    Platform,
    Cell,
}

impl HealthViews {
    fn entry(&mut self, view: View, r: &sqlx::any::AnyRow) -> Result<&mut Health, sqlx::Error> {
        let version: String = r.try_get(0)?;
        Ok(match view {
            View::Overall => self.overall.entry(version).or_default(),
            View::Platform => self
                .by_platform
                .entry((version, r.try_get(1)?))
                .or_default(),
            View::Cell => self
                .cells
                .entry((version, r.try_get(1)?, r.try_get(2)?))
                .or_default(),
        })
    }

    /// Installs on `channel` running `version`, leaving out the platforms `skip` names.
    pub fn channel(&self, version: &str, channel: &str, skip: impl Fn(&str) -> bool) -> Health {
        let mut sum = Health::default();
        for ((v, c, p), h) in &self.cells {
            if v == version && c == channel && !skip(p) {
                sum.installs += h.installs;
                sum.crashed_installs += h.crashed_installs;
                sum.update_installs += h.update_installs;
                sum.failed_update_installs += h.failed_update_installs;
                sum.sessions += h.sessions;
                sum.crashes += h.crashes;
                sum.updates_installed += h.updates_installed;
                sum.updates_failed += h.updates_failed;
            }
        }
        sum
    }

    /// The channels installs running `version` reported from.
    pub fn channels_of<'a>(&'a self, version: &'a str) -> impl Iterator<Item = &'a str> {
        self.cells
            .keys()
            .filter(move |(v, _, _)| v == version)
            .map(|(_, c, _)| c.as_str())
    }
}

/// `($1, $2, ..), ($n+1, ..)` for `rows` rows of `width` values.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_state(s: &str) -> ReleaseState {
    // Written only by this code; anything else would be a hand edit, and
    // refusing to offer it is the safe reading.
    ReleaseState::parse(s).unwrap_or(ReleaseState::Halted)
}

fn token_row(r: &sqlx::any::AnyRow) -> Result<TokenRow, sqlx::Error> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scopes: r.try_get(2)?,
        created_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}
