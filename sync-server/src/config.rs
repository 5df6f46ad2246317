//! Configuration: built-in defaults, then a TOML file, then `SYNC_*`
//! environment variables (`__` separates nested keys: `SYNC_RATE__PER_IP=600`).
//! The database password, if any, comes inside `SYNC_DATABASE_URL`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use productivitypro_sync_protocol::api::Limits;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where the SQLite database lives unless `database_url` is set.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; defaults to `{data_dir}/sync.db`.
    pub database_url: Option<String>,
    /// `json` (services) or `text` (a terminal).
    pub log_format: String,
    pub limits: LimitConfig,
    pub rate: RateConfig,
    /// Cost of the server's own hash of each login secret. The secret is
    /// already a 256-bit Argon2id output; this hash makes a stolen database
    /// useless for signing in.
    pub login_hash: HashCost,
    /// Ask for a snapshot after this many batches since the last one...
    pub snapshot_every_batches: u64,
    /// ...or when the last one is older than this and anything changed.
    #[serde(with = "humantime_serde")]
    pub snapshot_max_age: Duration,
    /// Batches covered by a snapshot are deleted once this old, so devices
    /// that were offline up to this long still catch up incrementally.
    #[serde(with = "humantime_serde")]
    pub keep_after_snapshot: Duration,
    #[serde(with = "humantime_serde")]
    pub compaction_interval: Duration,
    /// WebSocket ping interval; a socket silent for two intervals is closed.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Push, account and device requests.
    pub max_request_bytes: u64,
    /// One batch's ciphertext.
    pub max_batch_bytes: u64,
    pub max_batches_per_push: u32,
    pub max_page_batches: u32,
    /// Ciphertext bytes per pull page (at least one batch is always served).
    pub max_page_bytes: u64,
    pub max_snapshot_bytes: u64,
    /// Devices signed in at once per account.
    pub max_devices: u32,
    /// Notification sockets open at once per account.
    pub max_sockets_per_account: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateConfig {
    /// Requests per minute from one client address, and the burst allowed.
    pub per_ip: u32,
    pub per_ip_burst: u32,
    /// Requests per minute for one account (all its devices).
    pub per_account: u32,
    pub per_account_burst: u32,
    /// Sign-up, sign-in, recovery and parameter lookups per minute per
    /// address: each costs an Argon2id hash.
    pub auth_per_ip: u32,
    pub auth_burst: u32,
    /// Behind a load balancer: the header carrying the client address
    /// (its last entry is used, the one the balancer appended).
    pub client_ip_header: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashCost {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8090".parse().expect("literal address"),
            data_dir: "sync-data".into(),
            database_url: None,
            log_format: "json".into(),
            limits: LimitConfig {
                max_request_bytes: 8 << 20,
                max_batch_bytes: 1 << 20,
                max_batches_per_push: 100,
                max_page_batches: 1000,
                max_page_bytes: 8 << 20,
                max_snapshot_bytes: 64 << 20,
                max_devices: 100,
                max_sockets_per_account: 100,
            },
            rate: RateConfig {
                per_ip: 1200,
                per_ip_burst: 600,
                per_account: 1200,
                per_account_burst: 600,
                auth_per_ip: 30,
                auth_burst: 10,
                client_ip_header: None,
            },
            // OWASP's Argon2id floor: ~20 ms here per sign-in.
            login_hash: HashCost {
                m_kib: 19 * 1024,
                t: 2,
                p: 1,
            },
            snapshot_every_batches: 1000,
            snapshot_max_age: Duration::from_secs(14 * 86400),
            keep_after_snapshot: Duration::from_secs(30 * 86400),
            compaction_interval: Duration::from_secs(600),
            ping_interval: Duration::from_secs(30),
        }
    }
}

impl Config {
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut f = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            f = f.merge(Toml::file(path));
        }
        let config: Config = f
            .merge(Env::prefixed("SYNC_").split("__"))
            .extract()
            .context("invalid configuration")?;
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if self.limits.max_batches_per_push == 0 || self.limits.max_page_batches == 0 {
            bail!("limits.max_batches_per_push and limits.max_page_batches must be at least 1");
        }
        if self.limits.max_request_bytes < self.limits.max_batch_bytes {
            bail!("limits.max_request_bytes must be at least limits.max_batch_bytes");
        }
        if self.login_hash.m_kib < 8 * 1024 || self.login_hash.t < 1 {
            bail!("login_hash must be at least m_kib = 8192, t = 1");
        }
        if self.ping_interval.is_zero() || self.compaction_interval.is_zero() {
            bail!("ping_interval and compaction_interval must be positive");
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("sync.db").display()))
    }

    pub fn public_limits(&self) -> Limits {
        Limits {
            max_request_bytes: self.limits.max_request_bytes,
            max_batch_bytes: self.limits.max_batch_bytes,
            max_batches_per_push: self.limits.max_batches_per_push,
            max_page_batches: self.limits.max_page_batches,
            max_snapshot_bytes: self.limits.max_snapshot_bytes,
            max_devices: self.limits.max_devices,
        }
    }
}
