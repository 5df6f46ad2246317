//! Starting and stopping the service: opens storage, binds the listener,
//! builds the shared state, the router and the background jobs, and shuts
//! down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::artifacts::ArtifactStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::jobs::Jobs;
use crate::staging::Staging;
use crate::state::{AppState, Parts};

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
        let token_key = config.token_key(&mut rand::rngs::OsRng)?;
        let db = Db::connect(&config.database_url)
            .await
            .with_context(|| "opening the database (database_url)".to_string())?;
        let artifacts =
            ArtifactStore::open(&config.artifacts).context("opening the artifact store")?;
        let (staging, removed) = Staging::open(&config.staging_dir, config.max_staging_bytes)
            .with_context(|| format!("opening staging_dir {}", config.staging_dir.display()))?;
        if removed.files > 0 {
            tracing::info!(
                files = removed.files,
                bytes = removed.bytes,
                "removed uploads that stopped services left in staging"
            );
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let http = crate::fetch::client(&config.external_artifacts)
            .context("building the HTTP client for external artifacts")?;
        let state = Arc::new(AppState::new(Parts {
            config,
            public_url,
            db,
            artifacts,
            public_key,
            policy,
            clock,
            http,
            staging,
            token_key,
        }));
        state.refresh().await.context("loading release state")?;

        let (tx, rx) = oneshot::channel::<()>();
        let app = crate::routes::router(state.clone());
        let jobs = Jobs::spawn(state.clone());
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
            jobs.abort();
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

    /// Serves until `signal` (see `shutdown_signal`) fires, then shuts down gracefully.
    pub async fn run_until(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// SIGINT or SIGTERM. The handlers are installed when this is called, so
/// call it before announcing the service: a signal that arrives before the
/// returned future is polled still counts.
pub fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the SIGINT handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}
