//! ProductivityPro core: the task domain, the encrypted vault, the
//! quick-add grammar and import/export. No Tauri, no HTTP server.

pub mod domain;
pub mod interchange;
pub mod order;
pub mod quickadd;
pub mod recurrence;

pub use domain::{Due, Id, List, ListId, Priority, Task, TaskId, FORMAT_VERSION};
pub use order::OrderKey;
pub use recurrence::Recurrence;
