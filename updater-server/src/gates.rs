//! Health gates: pure functions from a release's telemetry (and the previous
//! release's) to a verdict, and from a rollout's state to its next step.

use productivitypro_protocol::api::{GateVerdict, Health};
use productivitypro_protocol::policy::{Gates, Policy};

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// Judges one view of a release (a channel or a platform, within the
/// window) against the policy and the previous release's same view. Every
/// count is of distinct installs.
pub fn verdict(g: &Gates, h: &Health, previous: Option<&Health>) -> GateVerdict {
    // Update failures are judged on their own: a release can fail to install
    // long before it has sessions.
    if h.update_installs >= g.min_update_attempts.max(1) {
        let rate = h.update_failure_rate().unwrap_or(0.0);
        if rate > g.max_update_failure_rate {
            return GateVerdict::Failing {
                reason: format!(
                    "update failure rate {} > {} ({} of {} installs failed to update)",
                    pct(rate),
                    pct(g.max_update_failure_rate),
                    h.failed_update_installs,
                    h.update_installs
                ),
            };
        }
    }
    if h.installs < g.min_sessions.max(1) {
        return GateVerdict::Pending {
            reason: format!("{} of {} installs reported", h.installs, g.min_sessions),
        };
    }
    let rate = h.crash_rate().unwrap_or(0.0);
    if rate > g.max_crash_rate {
        return GateVerdict::Failing {
            reason: format!(
                "crash rate {} > {} ({} of {} installs crashed)",
                pct(rate),
                pct(g.max_crash_rate),
                h.crashed_installs,
                h.installs
            ),
        };
    }
    if let Some(prev_rate) = previous
        .filter(|p| p.installs >= g.min_sessions.max(1))
        .and_then(Health::crash_rate)
    {
        // A previous release with no crashes at all gives no ratio to judge
        // by; the absolute gate above still applies.
        if prev_rate > 0.0 && rate > prev_rate * g.max_crash_rate_vs_previous {
            return GateVerdict::Failing {
                reason: format!(
                    "crash rate {} is {:.1}x the previous release's {} (limit {:.1}x)",
                    pct(rate),
                    rate / prev_rate,
                    pct(prev_rate),
                    g.max_crash_rate_vs_previous
                ),
            };
        }
    }
    GateVerdict::Passing
}

/// The worse of two verdicts: failing over pending over passing.
pub fn worse(a: GateVerdict, b: &GateVerdict) -> GateVerdict {
    let rank = |v: &GateVerdict| match v {
        GateVerdict::Passing => 0,
        GateVerdict::Pending { .. } => 1,
        GateVerdict::Failing { .. } => 2,
    };
    if rank(b) > rank(&a) {
        b.clone()
    } else {
        a
    }
}

/// What `advance` does with one channel's rollout of a healthy-or-pending release.
#[derive(Debug, PartialEq)]
pub enum Step {
    Raise(f64),
    Bake { remaining_secs: u64 },
    Wait(String),
    Done,
}

pub fn next_step(
    policy: &Policy,
    percent: f64,
    since: i64,
    now: i64,
    verdict: &GateVerdict,
) -> Step {
    let Some(next) = policy.next_step(percent) else {
        return Step::Done;
    };
    let baked = now.saturating_sub(since).max(0) as u64;
    let bake = policy.rollout.bake_time.as_secs();
    if baked < bake {
        return Step::Bake {
            remaining_secs: bake - baked,
        };
    }
    match verdict {
        GateVerdict::Passing => Step::Raise(next),
        GateVerdict::Pending { reason } => Step::Wait(reason.clone()),
        GateVerdict::Failing { reason } => Step::Wait(reason.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_POLICY;

    fn policy() -> Policy {
        Policy::from_toml(DEFAULT_POLICY).unwrap()
    }

    /// `installs` that reported sessions, `crashed` of them crashed.
    fn health(installs: u64, crashed: u64) -> Health {
        Health {
            installs,
            crashed_installs: crashed,
            sessions: installs,
            crashes: crashed,
            ..Default::default()
        }
    }

    #[test]
    fn judges_crash_rates_only_after_enough_installs() {
        let g = policy().gates;
        assert_eq!(verdict(&g, &health(10, 10), None).label(), "pending");
        assert_eq!(verdict(&g, &health(1000, 10), None).label(), "passing");
        assert_eq!(verdict(&g, &health(1000, 30), None).label(), "failing");
    }

    #[test]
    fn events_without_distinct_installs_weigh_nothing() {
        // One install's thousand crash events are one crashed install.
        let g = policy().gates;
        let h = Health {
            installs: 1,
            crashed_installs: 1,
            sessions: 1000,
            crashes: 1000,
            update_installs: 1,
            failed_update_installs: 1,
            updates_failed: 1000,
            ..Default::default()
        };
        assert_eq!(verdict(&g, &h, None).label(), "pending");
    }

    #[test]
    fn compares_with_the_previous_release() {
        let g = policy().gates;
        let prev = health(1000, 5);
        assert_eq!(
            verdict(&g, &health(1000, 7), Some(&prev)).label(),
            "passing"
        );
        assert_eq!(
            verdict(&g, &health(1000, 8), Some(&prev)).label(),
            "failing"
        );
        assert_eq!(
            verdict(&g, &health(1000, 8), Some(&health(10, 5))).label(),
            "passing",
            "previous too small"
        );
    }

    #[test]
    fn update_failures_fail_without_sessions() {
        let g = policy().gates;
        let h = Health {
            update_installs: 50,
            failed_update_installs: 10,
            ..Default::default()
        };
        assert_eq!(verdict(&g, &h, None).label(), "failing");
        let h = Health {
            update_installs: 50,
            failed_update_installs: 2,
            ..Default::default()
        };
        assert_eq!(verdict(&g, &h, None).label(), "pending");
        let h = Health {
            update_installs: 49,
            failed_update_installs: 49,
            ..Default::default()
        };
        assert_eq!(
            verdict(&g, &h, None).label(),
            "pending",
            "fewer installs than min_update_attempts"
        );
    }

    #[test]
    fn steps_wait_for_bake_time_and_health() {
        let p = policy();
        let six_h = 6 * 3600;
        assert_eq!(
            next_step(&p, 1.0, 0, six_h - 1, &GateVerdict::Passing),
            Step::Bake { remaining_secs: 1 }
        );
        assert_eq!(
            next_step(&p, 1.0, 0, six_h, &GateVerdict::Passing),
            Step::Raise(5.0)
        );
        assert_eq!(
            next_step(&p, 7.0, 0, six_h, &GateVerdict::Passing),
            Step::Raise(25.0)
        );
        assert!(matches!(
            next_step(
                &p,
                5.0,
                0,
                six_h,
                &GateVerdict::Pending { reason: "x".into() }
            ),
            Step::Wait(_)
        ));
        assert_eq!(
            next_step(&p, 100.0, 0, six_h, &GateVerdict::Passing),
            Step::Done
        );
    }
}
