//! Configuration: built-in defaults, then a TOML file, then `UPDATER_*`
//! environment variables (`__` separates nested keys:
//! `UPDATER_ARTIFACTS__KIND=s3`). Secrets (the database password inside
//! `UPDATER_DATABASE_URL`, S3 credentials as `AWS_*`) come from the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use productivitypro_protocol::policy::Policy;
use serde::{Deserialize, Serialize};

use crate::telemetry_token::TokenKey;

/// The policy the service gates with when the config names none.
pub const DEFAULT_POLICY: &str = include_str!("../../installers/rollout-policy.toml");

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// The base of artifact URLs handed to clients; defaults to `http://{listen}`.
    pub public_url: Option<String>,
    pub database_url: String,
    pub artifacts: ArtifactConfig,
    /// Uploads are verified here before they enter the store.
    pub staging_dir: PathBuf,
    /// The release signing public key: Tauri's `pubkey` string or the `.pub` text.
    pub public_key: Option<String>,
    pub public_key_file: Option<PathBuf>,
    pub policy_file: Option<PathBuf>,
    /// Every artifact's signature must name the release version
    /// (`version:` in its trusted comment, as `pprelease sign --version` and
    /// `tauri signer sign --app-version` write it). Turn off only for builds
    /// signed by older `tauri signer`s; their file names must then carry the version.
    pub require_signed_version: bool,
    pub max_artifact_bytes: u64,
    /// Upper bound of all files being uploaded at once; beyond it a publish
    /// is refused with 503 `staging_full` until others finish.
    pub max_staging_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub gate_interval: Duration,
    /// How often a replica checks whether another one changed release state.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    pub telemetry: TelemetryConfig,
    /// Peers whose `X-Forwarded-For` names the client (a load balancer, a CDN);
    /// per-network limits apply to the address it names instead of theirs.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub external_artifacts: ExternalArtifactsConfig,
    /// `json` (services) or `text` (a terminal).
    pub log_format: String,
    pub deltas: DeltaConfig,
}

/// Delta patches (issue 10), built in the background after a publish.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaConfig {
    pub enabled: bool,
    /// Patches are built into each new artifact from the same platform's
    /// artifact of this many releases below it.
    pub from_releases: usize,
    /// Methods tried in order, the first that builds wins: `deb` (.deb
    /// artifacts only; builds only where recompression is byte-exact),
    /// `zstd`, `bsdiff`, `chunked` (docs/benchmarks.md says why `deb`, then
    /// `zstd`, then `chunked`: an AppImage's shifted squashfs blocks).
    pub methods: Vec<String>,
    /// Artifacts larger than this get no patch: a build holds the old and
    /// the new artifact and the patch in memory (bsdiff ~9x the old one).
    pub max_artifact_bytes: u64,
    /// A patch larger than this share of its artifact (percent) is not
    /// kept: the next method is tried, and with none left the install
    /// downloads the full artifact.
    pub max_patch_percent: u64,
    /// How often the builder looks for missing patches besides being woken
    /// by a publish (another replica's publish, a build that failed to record).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl DeltaConfig {
    pub fn methods(&self) -> anyhow::Result<Vec<productivitypro_delta::Method>> {
        if self.enabled && self.methods.is_empty() {
            bail!("deltas.methods is empty (set deltas.enabled = false to build no patches)");
        }
        self.methods
            .iter()
            .map(|m| {
                m.parse()
                    .map_err(|e: String| anyhow::anyhow!("deltas.methods: {e}"))
            })
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ArtifactConfig {
    Local {
        path: PathBuf,
    },
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: Option<String>,
        #[serde(default)]
        allow_http: bool,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// Events one install may send at once...
    pub burst: u32,
    /// ...and per hour after that.
    pub per_hour: u32,
    /// The key telemetry tokens are MACed with: at least 32 characters, the
    /// same on every replica (`UPDATER_TELEMETRY__SECRET`). Required with
    /// PostgreSQL; with SQLite an unset secret is drawn at random on each
    /// start, which voids the tokens issued before.
    pub secret: Option<Secret>,
    /// How long a token stays valid.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Events of one kind from one install that count per hour.
    pub counted_per_hour: u8,
    /// New install ids one network (IPv4 address, IPv6 /64) gets tokens for per hour.
    pub new_installs_per_ip: u32,
    /// New install ids one wide network (IPv4 /24, IPv6 /48) gets tokens for
    /// per hour, across all of its addresses: without it a /48 would be
    /// 65,536 networks of its own.
    pub new_installs_per_wide_network: u32,
    /// Installs tracked in memory at once (about 80 bytes each).
    pub max_installs: usize,
    /// Networks tracked in memory at once.
    pub max_ips: usize,
    /// How long telemetry is kept in the database (at least the gates' window).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// A secret from the config or the environment; never shown by Debug.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Artifacts published by URL are downloaded once, verified and copied into
/// the store; these bound where that download may go.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalArtifactsConfig {
    /// Allow loopback, private and link-local addresses (an internal mirror; tests).
    pub allow_private_hosts: bool,
    /// Hosts a download may be redirected to besides the URL's own, e.g.
    /// `["objects.githubusercontent.com", "release-assets.githubusercontent.com"]`
    /// for GitHub Releases.
    pub redirect_hosts: Vec<String>,
    /// Longest a single download may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            public_url: None,
            database_url: "sqlite://updater-data/updater.db".into(),
            artifacts: ArtifactConfig::Local {
                path: "updater-data/artifacts".into(),
            },
            staging_dir: "updater-data/staging".into(),
            public_key: None,
            public_key_file: None,
            policy_file: None,
            require_signed_version: true,
            max_artifact_bytes: 2 << 30,
            max_staging_bytes: 8 << 30,
            gate_interval: Duration::from_secs(60),
            refresh_interval: Duration::from_secs(2),
            telemetry: TelemetryConfig {
                flush_interval: Duration::from_secs(5),
                burst: 60,
                per_hour: 60,
                secret: None,
                token_ttl: Duration::from_secs(7 * 24 * 3600),
                counted_per_hour: 3,
                new_installs_per_ip: 10,
                new_installs_per_wide_network: 100,
                max_installs: 500_000,
                max_ips: 100_000,
                retention: Duration::from_secs(30 * 24 * 3600),
            },
            trusted_proxies: Vec::new(),
            external_artifacts: ExternalArtifactsConfig {
                allow_private_hosts: false,
                redirect_hosts: Vec::new(),
                timeout: Duration::from_secs(30 * 60),
            },
            log_format: "json".into(),
            deltas: DeltaConfig {
                enabled: true,
                from_releases: 3,
                methods: vec!["deb".into(), "zstd".into(), "chunked".into()],
                max_artifact_bytes: 256 << 20,
                max_patch_percent: 50,
                interval: Duration::from_secs(60),
            },
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
            .merge(Env::prefixed("UPDATER_").split("__"))
            .extract()
            .context("invalid configuration")?;
        config.deltas.methods()?;
        if config.deltas.max_artifact_bytes > productivitypro_delta::MAX_ARTIFACT_SIZE {
            bail!(
                "deltas.max_artifact_bytes is above what patches support ({} bytes)",
                productivitypro_delta::MAX_ARTIFACT_SIZE
            );
        }
        if let ArtifactConfig::Local { path } = &config.artifacts {
            if path.as_os_str().is_empty() {
                bail!("artifacts.path is empty");
            }
        }
        Ok(config)
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    pub fn public_key(&self) -> anyhow::Result<minisign_verify::PublicKey> {
        let text = match (&self.public_key, &self.public_key_file) {
            (Some(k), _) => k.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("reading public_key_file {}", path.display()))?,
            (None, None) => bail!(
                "no release public key: set UPDATER_PUBLIC_KEY (or public_key / public_key_file in the config) \
                 to the key `pprelease keygen` printed"
            ),
        };
        productivitypro_protocol::signature::parse_public_key(&text)
            .context("the configured public key")
    }

    /// The telemetry token key: the configured secret, or (SQLite only) a
    /// random one for this run.
    pub fn token_key(&self, rng: &mut dyn rand::RngCore) -> anyhow::Result<TokenKey> {
        match &self.telemetry.secret {
            Some(s) if s.0.trim().len() >= 32 => Ok(TokenKey::new(s.0.trim().as_bytes())),
            Some(_) => bail!(
                "telemetry.secret is too short: use at least 32 random characters (e.g. `openssl rand -hex 32`)"
            ),
            None if !self.database_url.starts_with("sqlite:") => bail!(
                "telemetry.secret is required with PostgreSQL: every replica must MAC telemetry tokens \
                 with the same key. Set UPDATER_TELEMETRY__SECRET (or telemetry.secret) to at least 32 \
                 random characters, e.g. `openssl rand -hex 32`"
            ),
            None => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                tracing::warn!(
                    "telemetry.secret is unset: using a random one for this run; tokens issued \
                     before a restart are refused until installs check again (set UPDATER_TELEMETRY__SECRET)"
                );
                Ok(TokenKey::new(&k))
            }
        }
    }

    pub fn policy(&self) -> anyhow::Result<Policy> {
        let text = match &self.policy_file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading policy_file {}", path.display()))?,
            None => DEFAULT_POLICY.to_string(),
        };
        let policy = Policy::from_toml(&text)?;
        if policy.gates.window > self.telemetry.retention {
            bail!(
                "telemetry.retention ({}) is shorter than the policy's gates.window ({})",
                humantime::format_duration(self.telemetry.retention),
                humantime::format_duration(policy.gates.window)
            );
        }
        Ok(policy)
    }
}
