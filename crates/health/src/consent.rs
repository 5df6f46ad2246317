//! Whether health reports are sent. Off until the user says yes; the app
//! asks once, when a week has passed since its first run (a fresh install
//! is not greeted with a question about telemetry), and the answer can be
//! changed in Settings at any time.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::files::write_atomically;
use crate::HealthError;

/// How long after the first run the app asks.
pub const ASK_AFTER: Duration = Duration::days(7);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// When this install first ran (the consent file was made).
    pub first_run: DateTime<Utc>,
    /// The user's answer, once given (from the question or Settings).
    pub decision: Option<Decision>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub enabled: bool,
    pub at: DateTime<Utc>,
}

impl Consent {
    pub fn first_run(now: DateTime<Utc>) -> Self {
        Consent {
            first_run: now,
            decision: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.decision.is_some_and(|d| d.enabled)
    }

    /// The question is due: never answered, and the install is a week old.
    pub fn should_ask(&self, now: DateTime<Utc>) -> bool {
        self.decision.is_none() && now - self.first_run >= ASK_AFTER
    }

    pub fn decide(&mut self, enabled: bool, now: DateTime<Utc>) {
        self.decision = Some(Decision { enabled, at: now });
    }
}

/// `consent.json` in the app's data folder.
pub struct ConsentFile {
    path: PathBuf,
}

impl ConsentFile {
    pub fn in_dir(dir: &Path) -> Self {
        ConsentFile {
            path: dir.join("health-consent.json"),
        }
    }

    /// The saved consent; on first run (or an unreadable file) a fresh one,
    /// saved at once so the week is counted from the real first run. An
    /// unreadable file never turns reporting on: a fresh consent is off.
    pub fn load_or_create(&self, now: DateTime<Utc>) -> Result<Consent, HealthError> {
        let unreadable = match fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(c) => return Ok(c),
                Err(e) => Some(e.to_string()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = unreadable {
            tracing::warn!(
                code = "health_consent_unreadable",
                error = %error,
                "health consent file unreadable; reports stay off until the user decides"
            );
        }
        let fresh = Consent::first_run(now);
        self.save(&fresh)?;
        Ok(fresh)
    }

    pub fn save(&self, c: &Consent) -> Result<(), HealthError> {
        // A derived Serialize of plain fields cannot fail.
        let bytes = serde_json::to_vec_pretty(c).expect("consent serialises");
        write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn off_by_default_and_asked_once_after_a_week() {
        let mut c = Consent::first_run(t("2026-11-01T10:00:00Z"));
        assert!(!c.enabled());
        assert!(!c.should_ask(t("2026-11-08T09:59:59Z")));
        assert!(c.should_ask(t("2026-11-08T10:00:00Z")));
        c.decide(false, t("2026-11-08T10:00:00Z"));
        assert!(!c.should_ask(t("2026-12-30T00:00:00Z")), "asked once only");
        assert!(!c.enabled());
        c.decide(true, t("2026-11-09T00:00:00Z"));
        assert!(c.enabled());
    }

    #[test]
    fn the_first_run_is_remembered_and_a_corrupt_file_stays_off() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConsentFile::in_dir(dir.path());
        let first = f.load_or_create(t("2026-11-01T10:00:00Z")).unwrap();
        let again = f.load_or_create(t("2026-11-20T10:00:00Z")).unwrap();
        assert_eq!(first, again, "the first run is not reset by later starts");

        let mut yes = again.clone();
        yes.decide(true, t("2026-11-20T10:00:00Z"));
        f.save(&yes).unwrap();
        assert!(f
            .load_or_create(t("2026-11-21T10:00:00Z"))
            .unwrap()
            .enabled());

        std::fs::write(dir.path().join("health-consent.json"), b"{not json").unwrap();
        let after = f.load_or_create(t("2026-11-22T10:00:00Z")).unwrap();
        assert!(!after.enabled(), "a damaged file never turns reports on");
    }
}
