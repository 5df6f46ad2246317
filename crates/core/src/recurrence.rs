//! Recurrence rules (RFC 5545 RRULE strings) and the phrases that make them.

use serde::{Deserialize, Serialize};

/// A validated RRULE body such as `FREQ=WEEKLY;BYDAY=MO` (no `RRULE:` prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Recurrence(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("`{rule}` is not a valid recurrence rule: {reason}")]
    Invalid { rule: String, reason: String },
}

impl Recurrence {
    pub fn parse(rule: &str) -> Result<Self, RecurrenceError> {
        let body = rule.trim();
        let body = body
            .strip_prefix("RRULE:")
            .or_else(|| body.strip_prefix("rrule:"))
            .unwrap_or(body)
            .to_ascii_uppercase();
        body.parse::<rrule::RRule<rrule::Unvalidated>>()
            .map_err(|e| RecurrenceError::Invalid {
                rule: rule.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Recurrence(body))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Recurrence {
    type Error = RecurrenceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Recurrence::parse(&s)
    }
}

impl From<Recurrence> for String {
    fn from(r: Recurrence) -> String {
        r.0
    }
}
