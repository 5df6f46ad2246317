//! Wiring: shared state, the router, background loops (telemetry flush and
//! gates, snapshot refresh from other replicas) and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use productivitypro_protocol::policy::Policy;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::artifacts::ArtifactStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::snapshot::Snapshot;

pub struct AppState {
    pub config: Config,
    pub public_url: String,
    pub db: Db,
    pub snapshot: ArcSwap<Snapshot>,
    pub artifacts: ArtifactStore,
    pub public_key: minisign_verify::PublicKey,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub ingest: Ingest,
    pub metrics: Metrics,
    pub http: reqwest::Client,
    /// Serialises snapshot rebuilds so an older state never replaces a newer one.
    rebuild: Mutex<()>,
}

impl AppState {
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

    /// Writes counted telemetry to the database; on failure keeps it for the next flush.
    pub async fn flush_telemetry(&self) -> Result<(), DbError> {
        let (counts, installs) = self.ingest.take();
        if counts.is_empty() && installs.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.db.add_telemetry(&counts, &installs).await {
            self.ingest.restore(counts, installs);
            return Err(e);
        }
        Ok(())
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Opens storage, binds `config.listen` and serves until `stop`.
    pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
        let public_key = config.public_key()?;
        let policy = config.policy()?;
        let db = Db::connect(&config.database_url)
            .await
            .with_context(|| "opening the database (database_url)".to_string())?;
        let artifacts =
            ArtifactStore::open(&config.artifacts).context("opening the artifact store")?;
        std::fs::create_dir_all(&config.staging_dir)
            .with_context(|| format!("creating staging_dir {}", config.staging_dir.display()))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        // Fetches externally hosted artifacts at publish: a stalled host fails
        // the publish instead of holding it open.
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        let state = Arc::new(AppState {
            ingest: Ingest::new(config.telemetry.burst, config.telemetry.per_hour),
            config,
            public_url,
            db,
            snapshot: ArcSwap::from_pointee(Snapshot::empty()),
            artifacts,
            public_key,
            policy,
            clock,
            metrics: Metrics::new(),
            http,
            rebuild: Mutex::new(()),
        });
        state.refresh().await.context("loading release state")?;

        let (tx, rx) = oneshot::channel::<()>();
        let app = crate::routes::router(state.clone());
        let loops = spawn_loops(state.clone());
        let st = state.clone();
        let task = tokio::spawn(async move {
            let result = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
            loops.abort();
            // Counts taken since the last flush are written before exit.
            if let Err(e) = st.flush_telemetry().await {
                tracing::error!(error = %e, "final telemetry flush failed");
            }
            result.context("serving")
        });
        tracing::info!(%addr, "updater-server listening");
        Ok(Server {
            addr,
            state,
            shutdown: Some(tx),
            task,
        })
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task")?
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

struct Loops(Vec<JoinHandle<()>>);

impl Loops {
    fn abort(&self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

fn spawn_loops(state: Arc<AppState>) -> Loops {
    let s = state.clone();
    let flush = tokio::spawn(async move {
        let mut tick = tokio::time::interval(s.config.telemetry.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = s.flush_telemetry().await {
                tracing::warn!(error = %e, "telemetry flush failed; will retry");
            }
            s.ingest.prune(s.clock.now());
        }
    });
    let s = state.clone();
    let gates = tokio::spawn(async move {
        let mut tick = tokio::time::interval(s.config.gate_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = crate::releases::evaluate_gates(&s).await {
                tracing::warn!(code = e.code, message = %e.message, "gate evaluation failed");
            }
        }
    });
    let s = state;
    let refresh = tokio::spawn(async move {
        let mut tick = tokio::time::interval(s.config.refresh_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = s.refresh().await {
                tracing::warn!(error = %e, "snapshot refresh failed");
            }
        }
    });
    Loops(vec![flush, gates, refresh])
}
