//! ProductivityPro core: the task domain, the encrypted vault, the
//! quick-add grammar and import/export. No Tauri, no HTTP server.
//!
//! The vault's rules (see `docs/ARCHITECTURE.md`): only random ids and
//! sync metadata are stored in plaintext; every record is sealed with its
//! kind, id, format version, key id and change sequence as associated
//! data; a sealed ledger commits to the set of records; the data key
//! exists on disk only wrapped in key slots.

pub mod crypto;
pub mod domain;
pub mod env;
pub mod error;
pub mod interchange;
pub mod ledger;
pub mod order;
pub mod os_keyring;
pub mod profile;
pub mod quickadd;
pub mod recovery;
pub mod recurrence;
pub mod recurrence_text;
pub mod reminders;
pub mod schema;
pub mod slots;
mod stored_time;
pub mod vault;

pub use domain::{Due, Id, List, ListId, Priority, Task, TaskId, FORMAT_VERSION};
pub use env::{Clock, Env, FixedClock, SystemClock};
pub use error::VaultError;
pub use order::OrderKey;
pub use recovery::RecoveryKey;
pub use recurrence::Recurrence;
pub use vault::{
    Changes, CreateOptions, Created, Filter, KeyringChoice, PreMigrationCopy, Query, Sort, Unlock,
    Vault, View,
};
