//! `POST /v1/telemetry`: the only health data the app sends, and only when the
//! user opted in. The schema is closed: an install id (random), the version
//! and channel, os/arch/bundle, the telemetry token the service issued for
//! that install and version, and timestamped events of four kinds. Anything
//! else — an unknown field, a fifth kind, a long string — is rejected, so
//! nothing personal can ride along.
//!
//! Tokens come with every update-check answer (`UpdateOffer::telemetry_tokens`,
//! one per version the answer concerns) or, when a check offers nothing, from
//! `POST /v1/telemetry/token` (`TokenRequest`). A report without a valid token
//! for its install id and version is refused, so forged health data costs one
//! real check per fake install.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::manifest::parse_version;
use crate::{Arch, BundleType, Channel, Os, Platform, PlatformError};

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 4096;
/// Most events in one report.
pub const MAX_EVENTS: usize = 32;
/// Oldest event accepted: apps queue events while offline, but not forever.
pub const MAX_EVENT_AGE: Duration = Duration::days(7);
/// Clock skew tolerated for events from the future.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(10);
/// Longest token accepted (the service's tokens are far shorter).
pub const MAX_TOKEN_LEN: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SessionStart,
    Crash,
    /// `version` is the version that was installed.
    UpdateInstalled,
    /// `version` is the version whose installation failed.
    UpdateFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::SessionStart,
        EventKind::Crash,
        EventKind::UpdateInstalled,
        EventKind::UpdateFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionStart => "session_start",
            EventKind::Crash => "crash",
            EventKind::UpdateInstalled => "update_installed",
            EventKind::UpdateFailed => "update_failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryReport {
    #[serde(with = "crate::install_id")]
    pub install_id: Uuid,
    pub version: String,
    pub channel: Channel,
    pub os: Os,
    pub arch: Arch,
    /// As the update check's `bundle_type`; absent: the OS's default bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_type: Option<BundleType>,
    /// The token issued for this install id, version and channel. Missing
    /// parses as empty, which the service refuses with its own code.
    #[serde(default)]
    pub token: String,
    pub events: Vec<TelemetryEvent>,
}

impl TelemetryReport {
    /// The artifact slot the reporting install runs.
    pub fn platform(&self) -> Result<Platform, PlatformError> {
        Platform::new(
            self.os,
            self.arch,
            self.bundle_type.unwrap_or(self.os.default_bundle()),
        )
    }
}

/// `POST /v1/telemetry/token`: a token for an install whose check was
/// answered 204 (a 204 has no body to carry one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(with = "crate::install_id")]
    pub install_id: Uuid,
    pub version: String,
    pub channel: Channel,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
    /// RFC 3339: reports carrying the token are refused after this.
    pub expires_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryEvent {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("report is {0} bytes; at most {MAX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    #[error("report does not match the schema: {0}")]
    Schema(#[from] serde_json::Error),
    #[error("version {0:?} is not semver")]
    Version(String),
    #[error("a report carries 1 to {MAX_EVENTS} events, not {0}")]
    EventCount(usize),
    #[error("event time {0} is more than 7 days old or in the future")]
    Time(DateTime<Utc>),
    #[error("{0}")]
    Platform(#[from] PlatformError),
    #[error("the token is longer than {MAX_TOKEN_LEN} characters")]
    Token,
}

impl TelemetryError {
    /// Whether the report is well-formed but cannot be taken (HTTP 422),
    /// rather than malformed (400): its event times are judged against now,
    /// and its bundle type against its OS.
    pub fn is_semantic(&self) -> bool {
        matches!(self, TelemetryError::Time(_) | TelemetryError::Platform(_))
    }

    /// Stable code for the HTTP error body and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            TelemetryError::TooLarge(_) => "payload_too_large",
            TelemetryError::Schema(_) => "invalid_telemetry",
            TelemetryError::Version(_) => "invalid_version",
            TelemetryError::EventCount(_) => "invalid_event_count",
            TelemetryError::Time(_) => "invalid_event_time",
            TelemetryError::Platform(_) => "invalid_platform",
            TelemetryError::Token => "invalid_telemetry_token",
        }
    }
}

impl TelemetryReport {
    /// Parses a request body; `now` bounds the accepted event times.
    pub fn parse(bytes: &[u8], now: DateTime<Utc>) -> Result<Self, TelemetryError> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(TelemetryError::TooLarge(bytes.len()));
        }
        let report: TelemetryReport = crate::from_json_objects(bytes, &["", "events[]"])?;
        if parse_version(&report.version).is_err()
            || report.version.starts_with('v')
            || report.version.len() > crate::MAX_VERSION_LEN
        {
            return Err(TelemetryError::Version(report.version));
        }
        if report.events.is_empty() || report.events.len() > MAX_EVENTS {
            return Err(TelemetryError::EventCount(report.events.len()));
        }
        for e in &report.events {
            if e.at < now - MAX_EVENT_AGE || e.at > now + MAX_CLOCK_SKEW {
                return Err(TelemetryError::Time(e.at));
            }
        }
        report.platform()?;
        if report.token.len() > MAX_TOKEN_LEN {
            return Err(TelemetryError::Token);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-23T12:00:00Z".parse().unwrap()
    }

    fn body(extra: &str) -> String {
        format!(
            r#"{{"install_id":"6f1c1f5e-0d0c-4a8e-9d59-3b2f3c1a7e10","version":"1.2.0","channel":"beta","os":"linux","arch":"x86_64","token":"1.1795000000.abc","events":[{{"kind":"crash","at":"2026-11-23T11:59:00Z"}}]{extra}}}"#
        )
    }

    #[test]
    fn accepts_the_closed_schema() {
        let r = TelemetryReport::parse(body("").as_bytes(), now()).unwrap();
        assert_eq!(r.events[0].kind, EventKind::Crash);
        assert_eq!(r.platform().unwrap().key(), "linux-x86_64-appimage");
        let deb = TelemetryReport::parse(body(r#","bundle_type":"deb""#).as_bytes(), now());
        assert_eq!(deb.unwrap().platform().unwrap().key(), "linux-x86_64-deb");
        let no_token = body("").replace(r#""token":"1.1795000000.abc","#, "");
        assert_eq!(
            TelemetryReport::parse(no_token.as_bytes(), now())
                .unwrap()
                .token,
            ""
        );
    }

    #[test]
    fn rejects_anything_extra_or_out_of_range() {
        let e = TelemetryReport::parse(body(r#","email":"a@b.c""#).as_bytes(), now()).unwrap_err();
        assert_eq!(e.code(), "invalid_telemetry");
        let big = body(&format!(r#","pad":"{}""#, "x".repeat(5000)));
        assert_eq!(
            TelemetryReport::parse(big.as_bytes(), now())
                .unwrap_err()
                .code(),
            "payload_too_large"
        );
        let old = body("").replace("2026-11-23T11:59:00Z", "2026-11-01T00:00:00Z");
        assert_eq!(
            TelemetryReport::parse(old.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_event_time"
        );
        let bad_kind = body("").replace("crash", "keystroke");
        assert_eq!(
            TelemetryReport::parse(bad_kind.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_telemetry"
        );
        let bad_version = body("").replace("1.2.0", "1.2");
        assert_eq!(
            TelemetryReport::parse(bad_version.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_version"
        );
        let msi_on_linux = body(r#","bundle_type":"msi""#);
        assert_eq!(
            TelemetryReport::parse(msi_on_linux.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_platform"
        );
        let long_token = body("").replace("1.1795000000.abc", &"a".repeat(200));
        assert_eq!(
            TelemetryReport::parse(long_token.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_telemetry_token"
        );
        let simple_id = body("").replace(
            "6f1c1f5e-0d0c-4a8e-9d59-3b2f3c1a7e10",
            "6f1c1f5e0d0c4a8e9d593b2f3c1a7e10",
        );
        assert_eq!(
            TelemetryReport::parse(simple_id.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_telemetry",
            "only the hyphenated form"
        );
        let event_as_array = body("").replace(
            r#"{"kind":"crash","at":"2026-11-23T11:59:00Z"}"#,
            r#"["crash","2026-11-23T11:59:00Z"]"#,
        );
        assert_eq!(
            TelemetryReport::parse(event_as_array.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_telemetry"
        );
        let no_id = body("").replace("6f1c1f5e-0d0c-4a8e-9d59-3b2f3c1a7e10", "alice");
        assert_eq!(
            TelemetryReport::parse(no_id.as_bytes(), now())
                .unwrap_err()
                .code(),
            "invalid_telemetry"
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = TelemetryReport::parse(&bytes, now());
        }
    }
}
