//! Opt-in health reports (issue 10): what the desktop app tells the update
//! service about its own health, and only when the user said yes.
//!
//! The shape of a report is closed by `productivitypro_protocol::telemetry`
//! (install id, version, channel, os/arch/bundle, a service-issued token, and
//! timestamped events of four kinds), so nothing personal can ride along:
//! no task content, no paths, no error messages. This crate holds the app's
//! side of it, with time passed in:
//!
//! - [`consent`] — off by default; asked once, a week after the first run.
//! - [`queue`] — events waiting to be sent, in one small file rewritten
//!   atomically; events older than the service accepts (7 days) are dropped.
//! - [`crash`] — an append-only log the panic hook writes one line to (no
//!   lock, no rewrite while the process is failing), drained into the queue
//!   at the next start.
//! - [`report`] — queued events grouped into the reports the service takes.
//! - [`start`] — what a start queues (session, logged crashes, an update
//!   installed on the first start of a new version).
//! - [`send`] — the HTTP side: tokens, `POST /v1/telemetry`, and what each
//!   answer means for the queued events (sent, dropped, or kept for later).

pub mod consent;
pub mod crash;
mod error;
mod files;
pub mod queue;
pub mod report;
pub mod send;
pub mod start;

pub use error::HealthError;
