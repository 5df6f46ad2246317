//! ProductivityPro's end-to-end encrypted sync service. It keeps, per
//! account, an append-only log of sealed batches (one hash chain per
//! device), sealed snapshots, wrapped keys and device tokens — ciphertext
//! and random ids only — and tells online devices when the log grows.
//! `docs/sync-protocol.md` is the contract; the wire types and crypto are
//! in `productivitypro-sync-protocol`.

pub mod accounts;
pub mod auth;
pub mod batches;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod routes;
pub mod scratch;
pub mod server;
pub mod ws;

pub use config::Config;
pub use server::{AppState, Server};
