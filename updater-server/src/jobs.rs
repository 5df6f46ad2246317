//! The service's background work: telemetry flushes (and pruning, in memory
//! and past the retention in the database), its own gate evaluations, and
//! snapshot refreshes when another replica changed release state, and delta
//! patch builds (woken by a publish). Each loop
//! runs on a fixed interval until the server stops.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::state::AppState;

pub struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    pub fn spawn(state: Arc<AppState>) -> Jobs {
        let s = state.clone();
        let flush = tokio::spawn(async move {
            let mut pruned_hour = i64::MIN;
            let mut tick = tokio::time::interval(s.config.telemetry.flush_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = s.flush_telemetry().await {
                    tracing::warn!(error = %e, "telemetry flush failed; will retry");
                }
                s.ingest.prune(s.clock.now());
                // Telemetry older than its retention leaves the database, at most once an hour.
                let hour = s.now().div_euclid(3600);
                if hour != pruned_hour {
                    let keep = s.config.telemetry.retention.as_secs() as i64;
                    match s
                        .db
                        .prune_telemetry((s.now() - keep).div_euclid(3600) * 3600)
                        .await
                    {
                        Ok(n) => {
                            pruned_hour = hour;
                            if n > 0 {
                                tracing::info!(rows = n, "pruned telemetry past its retention");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "pruning telemetry failed; will retry")
                        }
                    }
                }
            }
        });
        let s = state.clone();
        let gates = tokio::spawn(async move {
            let mut tick = tokio::time::interval(s.config.gate_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = crate::health::evaluate_gates(&s).await {
                    tracing::warn!(code = e.code, message = %e.message, "gate evaluation failed");
                }
            }
        });
        let s = state.clone();
        let deltas = tokio::spawn(async move {
            let mut tick = tokio::time::interval(s.config.deltas.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = s.delta_wake.notified() => {}
                }
                crate::deltas::build_missing(&s).await;
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
        Jobs(vec![flush, gates, deltas, refresh])
    }

    pub fn abort(&self) {
        for h in &self.0 {
            h.abort();
        }
    }
}
