//! Every failure a client can cause maps to a 4xx with a stable `code`; the
//! only 5xx are the service's own storage failing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use productivitypro_protocol::api::ApiError;

#[derive(Debug)]
pub struct Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Error {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }
}

impl From<crate::db::DbError> for Error {
    fn from(e: crate::db::DbError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the service's storage failed; retry later",
        )
    }
}

impl From<crate::artifacts::StoreError> for Error {
    fn from(e: crate::artifacts::StoreError) -> Self {
        tracing::error!(error = %e, "artifact storage failure");
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "artifact_storage_unavailable",
            "artifact storage failed; retry later",
        )
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = ApiError {
            code: self.code.to_string(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, Error>;
