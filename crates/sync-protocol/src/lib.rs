//! ProductivityPro's end-to-end encrypted sync protocol, shared by the
//! `sync-server` and the clients. `docs/sync-protocol.md` is the contract;
//! `docs/sync-vectors/*.json` are its worked examples, checked by this
//! crate's tests and the server's.
//!
//! Pure by default (no I/O, no runtime): keys and their wrapping (`keys`),
//! sealed batches and their hash chains (`batch`), snapshots (`snapshot`),
//! the hybrid logical clock (`hlc`), operations and merge rules (`op`,
//! `merge`), the client's integrity checks (`verify`) and the HTTP bodies
//! (`api`). With the `client` feature, `client` is a reference HTTP and
//! WebSocket client and an in-memory device that syncs end to end.

pub mod aead;
pub mod api;
pub mod b64;
pub mod batch;
pub mod hlc;
pub mod ids;
pub mod keys;
pub mod merge;
pub mod op;
pub mod snapshot;
pub mod verify;

#[cfg(feature = "client")]
pub mod client;

pub use batch::{BatchBody, BatchEnvelope, Head};
pub use hlc::{Hlc, HlcClock};
pub use ids::{AccountId, BatchId, DeviceId, Hash32, KeyId, LoginId, RecordId, SnapshotId};
pub use keys::{KdfParams, SyncKey};
pub use merge::Replica;
pub use op::{Action, Op, RecordRef};
pub use verify::{ChainState, IntegrityError, Verifier};
