//! The desktop around the window: tray, global shortcut, autostart, deep
//! links and launch arguments, single instance. Each is driven from Rust,
//! so the UI needs none of these plugins' npm packages.

pub mod autostart;
pub mod launch;
pub mod shortcut;
pub mod tray;
pub mod window;
