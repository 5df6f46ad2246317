//! Logs to a daily-rotated file in the OS log folder (the last week is
//! kept). Only this app's and the core's events are written, and those
//! carry ids, counts and error codes — never titles, notes, tags, list
//! names, dates or error messages (which may quote what the user typed).
//! Other crates' events are left out: a plugin may log a deep-link URL,
//! which holds a task title.

use std::path::Path;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub const FILE_PREFIX: &str = "productivitypro";
/// `debug` for more detail (still only ids and codes).
pub const LEVEL_ENV: &str = "PRODUCTIVITYPRO_LOG";

/// Starts logging into `dir`. Returns an error if the folder cannot be
/// used; a second call in one process does nothing.
pub fn init(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir)
        .map_err(|e| e.to_string())?;
    let level = match std::env::var(LEVEL_ENV).as_deref() {
        Ok("debug") => LevelFilter::DEBUG,
        Ok("warn") => LevelFilter::WARN,
        _ => LevelFilter::INFO,
    };
    let targets = Targets::new()
        .with_target("productivitypro_app", level)
        .with_target("productivitypro_core", level)
        .with_target("productivitypro", level);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(appender)
        .with_ansi(false)
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(targets))
        .try_init();
    Ok(())
}

use tracing_subscriber::Layer as _;
