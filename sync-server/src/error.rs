//! Every failure a client can cause is a 4xx with a stable `code` from
//! `api::ERROR_CODES` (which also fixes its status); the only 5xx is the
//! service's own storage failing.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use productivitypro_sync_protocol::api::{ApiError, ERROR_CODES};

#[derive(Debug)]
pub struct Error {
    pub code: &'static str,
    pub message: String,
    pub details: Option<serde_json::Value>,
    pub retry_after: Option<u64>,
}

pub fn status_of(code: &str) -> StatusCode {
    ERROR_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .and_then(|(_, s)| StatusCode::from_u16(*s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST)
}

impl Error {
    /// `code` must be one of `api::ERROR_CODES` (a test checks every call).
    pub fn of(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }
}

impl From<crate::db::DbError> for Error {
    fn from(e: crate::db::DbError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Error::of(
            "storage_unavailable",
            "the service's storage failed; retry later",
        )
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = self.retry_after;
        let body = ApiError {
            code: self.code.to_string(),
            message: self.message,
            details: self.details,
        };
        let mut r = (status, axum::Json(body)).into_response();
        r.extensions_mut().insert(ErrorCode(self.code));
        if let Some(s) = retry {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

pub type ApiResult<T> = Result<T, Error>;

/// Attached to error responses so the metrics layer can count refusals by code.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode(pub &'static str);
