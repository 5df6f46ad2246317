//! A reference client (feature `client`): typed HTTP calls, the account
//! flows, the notification socket, and `MemoryDevice`, a complete sync
//! engine over an in-memory replica. It proves the server end to end
//! before the core's engine exists, and is the model that engine follows.

pub mod account;
pub mod device;
pub mod http;
pub mod notifications;

pub use device::{MemoryDevice, SyncError, SyncReport};
pub use http::{ClientError, SyncClient};
pub use notifications::Notifications;
