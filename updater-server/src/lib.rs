//! ProductivityPro's update service: answers tauri-plugin-updater's checks
//! from an in-memory snapshot of release state, runs staged rollouts per
//! channel, ingests opt-in health telemetry and halts unhealthy releases by
//! itself. `pprelease` (crates/pprelease) is its release-engineering client.

pub mod artifacts;
pub mod auth;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod db;
pub mod deltas;
pub mod error;
pub mod fetch;
pub mod gates;
pub mod health;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod publish;
pub mod releases;
pub mod routes;
pub mod server;
pub mod snapshot;
pub mod staging;
pub mod state;
pub mod telemetry_token;

pub use config::Config;
pub use server::Server;
pub use state::AppState;
