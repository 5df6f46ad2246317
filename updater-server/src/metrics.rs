//! Prometheus metrics at `/metrics`. The update-check counters are resolved
//! once at start-up so the hot path only increments an atomic.

use productivitypro_protocol::Channel;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(String, String)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckResult {
    Offered,
    Rollback,
    NoUpdate,
    BadRequest,
}

const RESULTS: [(CheckResult, &str); 4] = [
    (CheckResult::Offered, "offered"),
    (CheckResult::Rollback, "rollback"),
    (CheckResult::NoUpdate, "none"),
    (CheckResult::BadRequest, "bad_request"),
];

pub struct Metrics {
    registry: Registry,
    checks: [[Counter; 4]; 4],
    pub rollout_percent: Family<Labels, Gauge<f64, AtomicU64>>,
    pub gate_state: Family<Labels, Gauge>,
    pub telemetry_events: Family<Labels, Counter>,
    pub telemetry_rejected: Family<Labels, Counter>,
    /// Telemetry tokens handed out, and refused (a network's allowance of new
    /// installs used up, or the tables full).
    pub tokens: Family<Labels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let checks_family = Family::<Labels, Counter>::default();
        let checks = std::array::from_fn(|c| {
            let channel = Channel::ALL.get(c).map_or("unknown", |c| c.as_str());
            std::array::from_fn(|r| {
                checks_family
                    .get_or_create(&vec![
                        ("channel".into(), channel.into()),
                        ("result".into(), RESULTS[r].1.into()),
                    ])
                    .clone()
            })
        });
        registry.register(
            "updater_update_checks",
            "Update checks by channel and result",
            checks_family,
        );
        let rollout_percent = Family::default();
        registry.register(
            "updater_rollout_percent",
            "Rollout percentage per release and channel",
            rollout_percent.clone(),
        );
        let gate_state = Family::default();
        registry.register(
            "updater_release_gate",
            "1 for each release's current gate verdict (pending, passing, failing) and state",
            gate_state.clone(),
        );
        let telemetry_events = Family::default();
        registry.register(
            "updater_telemetry_events",
            "Telemetry events accepted, by kind",
            telemetry_events.clone(),
        );
        let telemetry_rejected = Family::default();
        registry.register(
            "updater_telemetry_rejected",
            "Telemetry reports refused, by code",
            telemetry_rejected.clone(),
        );
        let tokens = Family::default();
        registry.register(
            "updater_telemetry_tokens",
            "Telemetry token requests by result (issued, refused)",
            tokens.clone(),
        );
        Metrics {
            tokens,
            registry,
            checks,
            rollout_percent,
            gate_state,
            telemetry_events,
            telemetry_rejected,
        }
    }

    /// `channel` None: the request did not name a valid one.
    pub fn check(&self, channel: Option<Channel>, result: CheckResult) {
        let c = channel.map_or(3, Channel::index);
        let r = RESULTS.iter().position(|(x, _)| *x == result).unwrap_or(3);
        self.checks[c][r].inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
