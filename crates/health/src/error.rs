use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the update service cannot be reached: {0}")]
    Offline(String),
    #[error("the update service answered {status} ({code})")]
    Refused { status: u16, code: String },
}

impl HealthError {
    /// Stable code for logs and the UI's error table.
    pub fn code(&self) -> &'static str {
        match self {
            HealthError::Write { .. } => "health_write_failed",
            HealthError::Offline(_) => "health_offline",
            HealthError::Refused { .. } => "health_refused",
        }
    }
}
