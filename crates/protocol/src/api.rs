//! The release API of the update service (`/v1/releases`, `/v1/status`,
//! `/v1/audit`), shared by the service and `pprelease`.

use serde::{Deserialize, Serialize};

use crate::{Channel, Platform};

/// Error body of every 4xx: `code` is stable and what clients branch on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// Token scopes. `admin` includes the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Publish,
    Rollout,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Publish => "publish",
            Scope::Rollout => "rollout",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "publish" => Some(Scope::Publish),
            "rollout" => Some(Scope::Rollout),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

/// The first part of a publish request (multipart field `release`); the
/// files follow as parts named by their platform key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub version: String,
    /// Markdown.
    #[serde(default)]
    pub notes: String,
    pub channel: Channel,
    /// Starting rollout in percent.
    #[serde(default = "hundred")]
    pub percent: f64,
    pub artifacts: Vec<ArtifactSpec>,
}

fn hundred() -> f64 {
    100.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSpec {
    pub platform: Platform,
    /// The name the signature's trusted comment must carry.
    pub file_name: String,
    /// The minisign `.sig` text.
    pub signature: String,
    /// Set for artifacts hosted elsewhere (GitHub Releases, a CDN); the
    /// service downloads it once to verify the signature. Unset: the file is
    /// uploaded in the same request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutRequest {
    pub channel: Channel,
    pub percent: f64,
}

/// Body of halt, resume and rollback.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Act on this platform of the release only; the others keep their state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Offered to installs in its rollout.
    Active,
    /// Offered to nobody new; installs on it stay. `resume` undoes it.
    Halted,
    /// Offered to nobody; installs on it are offered the previous good release.
    RolledBack,
}

impl ReleaseState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Active => "active",
            ReleaseState::Halted => "halted",
            ReleaseState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(ReleaseState::Active),
            "halted" => Some(ReleaseState::Halted),
            "rolled_back" => Some(ReleaseState::RolledBack),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRollout {
    pub channel: Channel,
    /// None: not rolled out to this channel itself; its installs get it
    /// through a wider channel they see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// RFC 3339: when the release reached this percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Installs on this channel, within the window (stopped platforms left out).
    pub health: Health,
    pub gate: GateVerdict,
}

/// A platform of a release: its own state (a platform can be stopped alone)
/// and its health across channels within the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlatformStatus {
    pub platform: Platform,
    /// The release's state, or this platform's own when it was stopped alone.
    pub state: ReleaseState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub health: Health,
    pub gate: GateVerdict,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GateVerdict {
    /// Not enough data yet to judge.
    Pending {
        reason: String,
    },
    Passing,
    Failing {
        reason: String,
    },
}

impl GateVerdict {
    pub fn label(&self) -> &'static str {
        match self {
            GateVerdict::Pending { .. } => "pending",
            GateVerdict::Passing => "passing",
            GateVerdict::Failing { .. } => "failing",
        }
    }
}

/// What the gates judge. Install counts are distinct installs; event counts
/// are capped per install and hour, so neither grows with one install's volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// Installs that reported a session or a crash.
    pub installs: u64,
    /// ...of which crashed at least once.
    pub crashed_installs: u64,
    /// Installs that reported installing it or failing to.
    pub update_installs: u64,
    /// ...of which failed at least once.
    pub failed_update_installs: u64,
    pub sessions: u64,
    pub crashes: u64,
    pub updates_installed: u64,
    pub updates_failed: u64,
}

impl Health {
    /// Share of installs that crashed.
    pub fn crash_rate(&self) -> Option<f64> {
        (self.installs > 0).then(|| self.crashed_installs as f64 / self.installs as f64)
    }

    /// Share of installs that did not crash, floored at 0.
    pub fn crash_free_rate(&self) -> Option<f64> {
        self.crash_rate().map(|r| (1.0 - r).max(0.0))
    }

    /// Share of installs whose update to it failed.
    pub fn update_failure_rate(&self) -> Option<f64> {
        (self.update_installs > 0)
            .then(|| self.failed_update_installs as f64 / self.update_installs as f64)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStatus {
    pub version: String,
    pub state: ReleaseState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub published_at: String,
    /// The channels it is rolled out to, and any other whose installs report on it.
    pub channels: Vec<ChannelRollout>,
    pub platforms: Vec<PlatformStatus>,
    /// All installs, within the window.
    pub health: Health,
    /// The worst of its channels' verdicts.
    pub gate: GateVerdict,
}

/// The stretch of telemetry health is judged over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthWindow {
    pub hours: u64,
    /// RFC 3339: the start of the oldest hour counted.
    pub since: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub window: HealthWindow,
    /// Newest first.
    pub releases: Vec<ReleaseStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// Token name, or `gate` for the service's own decisions.
    pub actor: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditResponse {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
}

/// What one `advance` did, per release and channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AdvanceAction {
    Raised {
        version: String,
        channel: Channel,
        from: f64,
        to: f64,
    },
    Baking {
        version: String,
        channel: Channel,
        percent: f64,
        remaining_secs: u64,
    },
    Waiting {
        version: String,
        channel: Channel,
        percent: f64,
        reason: String,
    },
    Stopped {
        version: String,
        /// Set when only this platform was stopped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<Platform>,
        state: ReleaseState,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvanceResponse {
    pub actions: Vec<AdvanceAction>,
}
