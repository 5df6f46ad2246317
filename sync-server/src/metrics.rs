//! Prometheus metrics at `/metrics`. No label carries an account, device
//! or anything a user typed: only route-independent counts and error codes.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    pub batches_stored: Counter,
    pub batches_duplicate: Counter,
    pub bytes_stored: Counter,
    pub batches_served: Counter,
    pub bytes_served: Counter,
    pub snapshots_stored: Counter,
    pub batches_compacted: Counter,
    pub notices_sent: Counter,
    pub sockets: Gauge,
    pub group_commits: Gauge,
    pub group_pushes: Gauge,
    pub sign_ins: Family<Labels, Counter>,
    pub refused: Family<Labels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            batches_stored: Counter::default(),
            batches_duplicate: Counter::default(),
            bytes_stored: Counter::default(),
            batches_served: Counter::default(),
            bytes_served: Counter::default(),
            snapshots_stored: Counter::default(),
            batches_compacted: Counter::default(),
            notices_sent: Counter::default(),
            sockets: Gauge::default(),
            group_commits: Gauge::default(),
            group_pushes: Gauge::default(),
            sign_ins: Family::default(),
            refused: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "sync_batches_stored",
            "Batches appended to account logs",
            m.batches_stored.clone(),
        );
        registry.register(
            "sync_batches_duplicate",
            "Pushed batches that were already stored (retries)",
            m.batches_duplicate.clone(),
        );
        registry.register(
            "sync_bytes_stored",
            "Ciphertext bytes appended",
            m.bytes_stored.clone(),
        );
        registry.register(
            "sync_batches_served",
            "Batches served by pulls",
            m.batches_served.clone(),
        );
        registry.register(
            "sync_bytes_served",
            "Ciphertext bytes served by pulls",
            m.bytes_served.clone(),
        );
        registry.register(
            "sync_snapshots_stored",
            "Snapshots stored",
            m.snapshots_stored.clone(),
        );
        registry.register(
            "sync_batches_compacted",
            "Batches deleted after a snapshot covered them",
            m.batches_compacted.clone(),
        );
        registry.register(
            "sync_notices_sent",
            "Head notices sent on notification sockets",
            m.notices_sent.clone(),
        );
        registry.register(
            "sync_sockets",
            "Open notification sockets",
            m.sockets.clone(),
        );
        registry.register(
            "sync_sign_ins",
            "Sign-ups, sign-ins and recoveries by result",
            m.sign_ins.clone(),
        );
        registry.register(
            "sync_refused",
            "Requests refused, by error code",
            m.refused.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn refused(&self, code: &str) {
        self.refused
            .get_or_create(&vec![("code".into(), code.into())])
            .inc();
    }

    pub fn sign_in(&self, kind: &str, result: &str) {
        self.sign_ins
            .get_or_create(&vec![
                ("kind".into(), kind.into()),
                ("result".into(), result.into()),
            ])
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
