//! What every request handler and background job shares: configuration,
//! storage, the release snapshot and the telemetry counts. Built once by
//! `server.rs`; used by `routes`, `releases`, `publish` and `jobs`, none of
//! which depend on each other through it.

use std::sync::Arc;

use arc_swap::ArcSwap;
use productivitypro_protocol::policy::Policy;
use tokio::sync::Mutex;

use crate::artifacts::ArtifactStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::ingest::{Ingest, Limits};
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;
use crate::staging::Staging;
use crate::telemetry_token::TokenKey;

pub struct AppState {
    pub config: Config,
    pub public_url: String,
    pub db: Db,
    pub snapshot: ArcSwap<Snapshot>,
    pub artifacts: ArtifactStore,
    pub public_key: minisign_verify::PublicKey,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub ingest: Arc<Ingest>,
    pub staging: Staging,
    /// MACs telemetry tokens (`telemetry_token.rs`).
    pub token_key: TokenKey,
    pub metrics: Metrics,
    /// Fetches externally hosted artifacts (`fetch.rs`'s guarded client).
    pub http: reqwest::Client,
    /// Wakes the delta builder (`deltas.rs`) after a publish.
    pub delta_wake: tokio::sync::Notify,
    /// Serialises snapshot rebuilds so an older state never replaces a newer one.
    rebuild: Mutex<()>,
    /// Held while counts taken from memory are on their way to the database.
    flushing: Arc<Mutex<()>>,
}

/// The parts of `AppState` that are opened before it exists.
pub struct Parts {
    pub config: Config,
    pub public_url: String,
    pub db: Db,
    pub artifacts: ArtifactStore,
    pub public_key: minisign_verify::PublicKey,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    pub staging: Staging,
    pub token_key: TokenKey,
}

impl AppState {
    pub fn new(p: Parts) -> Self {
        AppState {
            ingest: Arc::new(Ingest::new(Limits {
                burst: p.config.telemetry.burst,
                per_hour: p.config.telemetry.per_hour,
                counted_per_hour: p.config.telemetry.counted_per_hour,
                new_installs_per_ip: p.config.telemetry.new_installs_per_ip,
                new_installs_per_wide_network: p.config.telemetry.new_installs_per_wide_network,
                max_installs: p.config.telemetry.max_installs,
                max_ips: p.config.telemetry.max_ips,
            })),
            token_key: p.token_key,
            config: p.config,
            public_url: p.public_url,
            db: p.db,
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            artifacts: p.artifacts,
            public_key: p.public_key,
            policy: p.policy,
            clock: p.clock,
            metrics: Metrics::new(),
            http: p.http,
            staging: p.staging,
            delta_wake: tokio::sync::Notify::new(),
            rebuild: Mutex::new(()),
            flushing: Arc::new(Mutex::new(())),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// Rebuilds the snapshot from the database if it changed; reads only the
    /// generation counter when it did not.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let _guard = self.rebuild.lock().await;
        if self.db.generation().await? == self.snapshot.load().generation {
            return Ok(());
        }
        let state = self.db.load_state().await?;
        if state.generation == self.snapshot.load().generation {
            return Ok(());
        }
        let snap = Snapshot::build(state, &self.public_url);
        self.metrics.rollout_percent.clear();
        for r in &snap.releases {
            for c in productivitypro_protocol::Channel::ALL {
                if let Some((bps, _)) = r.rollout[c.index()] {
                    self.metrics
                        .rollout_percent
                        .get_or_create(&vec![
                            ("version".into(), r.version_text.clone()),
                            ("channel".into(), c.as_str().into()),
                        ])
                        .set(bps as f64 / 100.0);
                }
            }
        }
        self.snapshot.store(snap);
        Ok(())
    }

    /// Writes counted telemetry to the database; on failure keeps it for the
    /// next flush. Once counts leave memory they reach the database or come
    /// back, even if the caller is cancelled (a dropped request, the loops
    /// aborted at shutdown): the write runs in its own task, and the next
    /// flush — the final one at shutdown included — waits for it.
    pub async fn flush_telemetry(&self) -> Result<(), DbError> {
        let guard = self.flushing.clone().lock_owned().await;
        let (ingest, db) = (self.ingest.clone(), self.db.clone());
        let write = tokio::spawn(async move {
            let _guard = guard;
            let batch = ingest.take();
            if batch.is_empty() {
                return Ok(());
            }
            if let Err(e) = db.add_telemetry(&batch).await {
                ingest.restore(batch);
                return Err(e);
            }
            Ok(())
        });
        match write.await {
            Ok(result) => result,
            Err(e) => Err(DbError::Sql(sqlx::Error::Io(std::io::Error::other(e)))),
        }
    }
}
