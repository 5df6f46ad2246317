//! The service's background work: telemetry flushes, its own gate
//! evaluations, and snapshot refreshes when another replica changed release
//! state. Each loop runs on a fixed interval until the server stops.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::state::AppState;

pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    pub fn spawn(state: Arc<AppState>) -> Jobs {
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
        Jobs(vec![flush, gates, refresh])
    }

    pub fn abort(&self) {
        for h in &self.0 {
            h.abort();
        }
    }
}
