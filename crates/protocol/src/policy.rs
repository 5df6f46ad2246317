//! The canary policy (`installers/rollout-policy.toml`): the rollout steps and
//! the health gates a release must pass. The service applies the gates on its
//! own; `pprelease advance` sends the same policy to take one step.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub rollout: RolloutSteps,
    pub gates: Gates,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSteps {
    /// Percentages, strictly increasing, ending at 100.
    pub steps: Vec<f64>,
    /// How long a release stays at a step before `advance` may raise it.
    #[serde(with = "duration")]
    pub bake_time: Duration,
}

/// Health gates, judged over the last `window` of telemetry, separately for
/// each channel and each platform. Counts are distinct installs, never events,
/// so one install (or one forger) weighs one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// How far back health is judged (whole hours; default 24h).
    #[serde(default = "default_window", with = "duration")]
    pub window: Duration,
    /// Distinct installs with a session (or crash) before the crash rate is judged.
    #[serde(deserialize_with = "whole_number")]
    pub min_sessions: u64,
    /// Share of those installs that crashed at least once, above which a release fails.
    pub max_crash_rate: f64,
    /// Fails when the crash rate exceeds the previous release's times this.
    pub max_crash_rate_vs_previous: f64,
    /// Distinct installs that installed or failed to install it before the
    /// failure rate is judged.
    #[serde(deserialize_with = "whole_number")]
    pub min_update_attempts: u64,
    /// Share of those installs that failed to install it, above which a release fails.
    pub max_update_failure_rate: f64,
    /// What the service does by itself when a gate fails.
    #[serde(default)]
    pub on_failure: OnGateFailure,
}

/// Largest count a policy may name.
pub const MAX_COUNT: u64 = 1_000_000_000_000_000;

/// A count up to `MAX_COUNT`: JSON (and JSON Schema's `integer`) also spell
/// whole numbers as `200.0`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number of at least 0")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            if v <= MAX_COUNT {
                Ok(v)
            } else {
                Err(E::custom(format!("{v} is over {MAX_COUNT}")))
            }
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::custom("must be at least 0"))
                .and_then(|v| self.visit_u64(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            if v.fract() == 0.0 && (0.0..=MAX_COUNT as f64).contains(&v) {
                Ok(v as u64)
            } else {
                Err(E::custom(format!(
                    "{v} is not a whole number from 0 to {MAX_COUNT}"
                )))
            }
        }
    }
    d.deserialize_any(Whole)
}

fn default_window() -> Duration {
    Duration::from_secs(24 * 3600)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnGateFailure {
    /// Stop offering the release and offer installs on it the previous good one.
    #[default]
    Rollback,
    /// Stop offering the release; installs on it stay.
    Halt,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid TOML of the expected shape: {0}")]
    Toml(String),
    #[error("policy: {0}")]
    Invalid(String),
}

/// Units a duration in a policy may use (what `humantime` writes and reads).
const DURATION_UNITS: &[&str] = &[
    "nsec", "ns", "usec", "us", "msec", "ms", "seconds", "second", "sec", "s", "minutes", "minute",
    "min", "m", "hours", "hour", "hr", "h", "days", "day", "d", "weeks", "week", "w", "months",
    "month", "M", "years", "year", "y",
];

/// Most terms a policy duration may have (so no sum overflows).
const MAX_DURATION_TERMS: usize = 8;

/// Whether `s` is a policy duration: up to 8 space-separated
/// `<1-9 digits><unit>` terms, e.g. `6h`, `1day 6h`. Stricter than
/// `humantime` alone, so the API description can state it exactly.
pub fn is_duration(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ').count() <= MAX_DURATION_TERMS
        && s.split(' ').all(|term| {
            let digits = term.bytes().take_while(u8::is_ascii_digit).count();
            (1..=9).contains(&digits) && DURATION_UNITS.contains(&&term[digits..])
        })
}

/// Serde for policy durations: `humantime` text, checked by `is_duration` first.
mod duration {
    use std::time::Duration;

    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        humantime_serde::serialize(d, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if !super::is_duration(&s) {
            return Err(de::Error::custom(format!(
                "{s:?} is not a duration like \"6h\" or \"1day 6h\""
            )));
        }
        humantime::parse_duration(&s).map_err(de::Error::custom)
    }
}

impl Policy {
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |m: &str| Err(PolicyError::Invalid(m.into()));
        let steps = &self.rollout.steps;
        if steps.is_empty() || steps.windows(2).any(|w| w[0] >= w[1]) {
            return bad("rollout.steps must be strictly increasing");
        }
        if steps[0] <= 0.0 || steps.last() != Some(&100.0) {
            return bad("rollout.steps must be above 0 and end at 100");
        }
        let g = &self.gates;
        for (name, rate) in [
            ("max_crash_rate", g.max_crash_rate),
            ("max_update_failure_rate", g.max_update_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(PolicyError::Invalid(format!(
                    "gates.{name} must be within 0..=1"
                )));
            }
        }
        let hours = g.window.as_secs() / 3600;
        if hours == 0 || hours > 24 * 30 || !g.window.as_secs().is_multiple_of(3600) {
            return bad("gates.window must be whole hours, from 1h to 30 days");
        }
        // NaN fails too: only a ratio of at least 1 makes sense.
        if g.max_crash_rate_vs_previous.is_nan() || g.max_crash_rate_vs_previous < 1.0 {
            return bad("gates.max_crash_rate_vs_previous must be at least 1");
        }
        Ok(())
    }

    /// The first step above `percent`, if any.
    pub fn next_step(&self, percent: f64) -> Option<f64> {
        self.rollout.steps.iter().copied().find(|s| *s > percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_parses() {
        let text = include_str!("../../../installers/rollout-policy.toml");
        let p = Policy::from_toml(text).unwrap();
        assert_eq!(p.next_step(1.0), Some(5.0));
        assert_eq!(p.next_step(100.0), None);
    }

    #[test]
    fn bad_policies_are_refused() {
        let text = include_str!("../../../installers/rollout-policy.toml");
        assert!(Policy::from_toml(
            &text.replace("steps = [1, 5, 25, 50, 100]", "steps = [5, 1, 100]")
        )
        .is_err());
        assert!(
            Policy::from_toml(&text.replace("steps = [1, 5, 25, 50, 100]", "steps = [1, 5]"))
                .is_err()
        );
        assert!(
            Policy::from_toml(&text.replace("max_crash_rate = 0.02", "max_crash_rate = 2"))
                .is_err()
        );
        assert!(Policy::from_toml(&format!("{text}\nsurprise = 1\n")).is_err());
        assert!(Policy::from_toml(&text.replace("window = \"24h\"", "window = \"90m\"")).is_err());
        assert!(
            Policy::from_toml(&text.replace("bake_time = \"6h\"", "bake_time = \"6 h\"")).is_err()
        );
        assert!(
            is_duration("1day 6h")
                && is_duration("30m")
                && !is_duration("h")
                && !is_duration("1h  2m")
        );
        assert!(Policy::from_toml(&text.replace("window = \"24h\"", "window = \"0s\"")).is_err());
        let p = Policy::from_toml(&text.replace("window = \"24h\"", "window = \"6h\"")).unwrap();
        assert_eq!(p.gates.window, Duration::from_secs(6 * 3600));
    }
}
