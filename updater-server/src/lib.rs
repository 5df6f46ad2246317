//! ProductivityPro's update service: answers tauri-plugin-updater's checks
//! from an in-memory snapshot of release state, runs staged rollouts per
//! channel, ingests opt-in health telemetry and halts unhealthy releases by
//! itself. `pprelease` (src/bin) is its release-engineering client.

pub mod artifacts;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod gates;
pub mod ingest;
pub mod metrics;
pub mod publish;
pub mod releases;
pub mod routes;
pub mod server;
pub mod snapshot;

pub use config::Config;
pub use server::{AppState, Server};
