//! Wiring: shared state, the router, background loops (compaction, rate
//! bucket pruning, the PostgreSQL notification listener) and graceful
//! shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rand::RngCore;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::SecretHasher;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Backend, Db};
use crate::limits::RateLimits;
use crate::metrics::Metrics;
use crate::notify::Hub;

pub struct AppState {
    pub config: Config,
    pub db: Arc<Db>,
    pub hub: Arc<Hub>,
    pub limits: RateLimits,
    pub hasher: Arc<SecretHasher>,
    pub metrics: Metrics,
    pub clock: Arc<dyn Clock>,
    /// Keys the decoy KDF parameters of unknown logins.
    pub pepper: Vec<u8>,
    /// Tells open sockets the server is stopping.
    pub shutdown: watch::Sender<bool>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
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
        config.check()?;
        let url = config.database_url();
        let db = Arc::new(
            Db::connect(&url)
                .await
                .context("opening the database (database_url)")?,
        );
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let pepper = hex::decode(db.pepper(&hex::encode(fresh)).await?)
            .context("the stored pepper is not hex")?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let postgres = db.backend() == Backend::Postgres;
        let hub = Hub::new(!postgres);
        let state = Arc::new(AppState {
            limits: RateLimits::new(&config.rate),
            hasher: SecretHasher::new(&config.login_hash)?,
            config,
            db: db.clone(),
            hub: hub.clone(),
            metrics: Metrics::new(),
            clock,
            pepper,
            shutdown: watch::channel(false).0,
        });
        let mut loops = vec![spawn_compaction(state.clone()), spawn_prune(state.clone())];
        if postgres {
            loops.push(crate::notify::spawn_listener(url, hub, db));
        }
        let (tx, rx) = oneshot::channel::<()>();
        let app = crate::routes::router(state.clone());
        let st = state.clone();
        let task = tokio::spawn(async move {
            let result = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                // Upgraded sockets are outside hyper's graceful shutdown.
                let _ = st.shutdown.send(true);
            })
            .await;
            for l in &loops {
                l.abort();
            }
            result.context("serving")
        });
        tracing::info!(%addr, "sync-server listening");
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

fn spawn_compaction(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(state.config.compaction_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let accounts = match state.db.accounts_with_snapshots().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "compaction: listing accounts failed");
                    continue;
                }
            };
            for a in accounts {
                if let Err(e) = crate::batches::compact(&state, a).await {
                    tracing::warn!(code = e.code, "compaction failed; will retry");
                }
            }
        }
    })
}

fn spawn_prune(state: Arc<AppState>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            state.limits.prune();
        }
    })
}
