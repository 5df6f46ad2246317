use std::path::{Path, PathBuf};

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
    #[error("the update service address {0:?} cannot be used: {1}")]
    Service(String, String),
    #[error("no HTTP client: {0}")]
    Client(String),
}

impl HealthError {
    /// Stable code for logs and the UI's error table.
    pub fn code(&self) -> &'static str {
        match self {
            HealthError::Write { .. } => "health_write_failed",
            HealthError::Offline(_) => "health_offline",
            HealthError::Refused { .. } => "health_refused",
            HealthError::Service(..) => "health_service_invalid",
            HealthError::Client(_) => "health_client_failed",
        }
    }

    /// A failed read or write of one of the crate's files.
    pub(crate) fn write(path: &Path) -> impl FnOnce(std::io::Error) -> HealthError + '_ {
        move |source| HealthError::Write {
            path: path.to_owned(),
            source,
        }
    }
}
