//! Release state changes — rollout, promote, halt, resume, rollback, of a
//! release or one platform of it — each one transaction with its audit
//! entry, checked against the state it expects inside that transaction, then
//! a snapshot rebuild. `health.rs` decides the changes the gates make.

use productivitypro_protocol::api::ReleaseState;
use productivitypro_protocol::policy::OnGateFailure;
use productivitypro_protocol::{Channel, Platform};
use semver::Version;

use crate::auth::Actor;
use crate::db::{Audit, Change, Conflict, Expect};
use crate::error::{ApiResult, Error};
use crate::snapshot::{Release, Snapshot, FULL};
use crate::state::AppState;

pub const GATE_ACTOR: &str = "gate";

/// Percent (0..=100, two decimals at most) to basis points.
pub fn percent_to_bps(percent: f64) -> ApiResult<i64> {
    let bps = percent * 100.0;
    if !(0.0..=FULL as f64).contains(&bps) || (bps - bps.round()).abs() > 1e-6 {
        return Err(Error::bad_request(
            "invalid_percent",
            format!("percent {percent} must be within 0..=100 with at most two decimals"),
        ));
    }
    Ok(bps.round() as i64)
}

/// Versions must rise along a channel line: a new release in `channel` must be
/// newer than every release that installs on `channel` can already see.
pub fn check_newer(snap: &Snapshot, version: &Version, channel: Channel) -> ApiResult<()> {
    let newest = snap
        .releases
        .iter()
        .filter(|r| r.version != *version)
        .filter(|r| {
            Channel::ALL
                .iter()
                .any(|c| r.rollout[c.index()].is_some() && channel.sees(*c))
        })
        .map(|r| &r.version)
        .max();
    match newest {
        Some(n) if n >= version => Err(Error::conflict(
            "version_not_newer",
            format!("{version} is not newer than {n}, already in the {channel} line"),
        )),
        _ => Ok(()),
    }
}

pub fn find<'a>(snap: &'a Snapshot, version: &str) -> ApiResult<&'a Release> {
    snap.release(version)
        .ok_or_else(|| Error::not_found("unknown_release", format!("no release {version}")))
}

/// Applies `changes` atomically; a conflict found inside the transaction
/// becomes the matching 4xx, and the snapshot is rebuilt either way.
pub async fn apply(
    state: &AppState,
    changes: &[Change<'_>],
    audits: Vec<Audit<'_>>,
) -> ApiResult<()> {
    let result = state.db.apply(changes, audits).await?;
    state.refresh().await?;
    result.map_err(|c| match c {
        Conflict::Unknown(v) => Error::not_found("unknown_release", format!("no release {v}")),
        Conflict::NotActive { version, state } => not_active(&version, state),
        Conflict::Changed(v) => Error::conflict(
            "state_changed",
            format!("{v} changed meanwhile; check `status` and retry"),
        ),
    })
}

fn not_active(version: &str, state: ReleaseState) -> Error {
    Error::conflict(
        "invalid_state",
        format!(
            "{version} is {}; `resume` it before changing its rollout",
            state.as_str()
        ),
    )
}

pub async fn set_rollout(
    state: &AppState,
    actor: &Actor,
    version: &str,
    channel: Channel,
    percent: f64,
) -> ApiResult<()> {
    let bps = percent_to_bps(percent)?;
    let snap = state.snapshot.load();
    let r = find(&snap, version)?;
    // Judged again inside the transaction; this only gives the clear answer early.
    if r.state != ReleaseState::Active {
        return Err(not_active(version, r.state));
    }
    let Some((old, _)) = r.rollout[channel.index()] else {
        return Err(Error::conflict(
            "not_in_channel",
            format!("{version} is not in {channel}; `promote {version} --to {channel}` first"),
        ));
    };
    let now = state.now();
    let audit = Audit {
        at: now,
        actor: &actor.name,
        action: "rollout",
        version: Some(version),
        detail: format!("{channel}: {}% -> {percent}%", old as f64 / 100.0),
    };
    let change = Change::Rollout {
        version,
        channel: channel.as_str(),
        bps,
        at: now,
        expect: Expect::Present,
    };
    apply(state, &[change], vec![audit]).await
}

pub async fn promote(
    state: &AppState,
    actor: &Actor,
    version: &str,
    to: Channel,
    percent: f64,
) -> ApiResult<()> {
    let bps = percent_to_bps(percent)?;
    let snap = state.snapshot.load();
    let r = find(&snap, version)?;
    if r.state != ReleaseState::Active {
        return Err(not_active(version, r.state));
    }
    if let Some(widest) = Channel::ALL.iter().find(|c| r.rollout[c.index()].is_some()) {
        if to >= *widest {
            return Err(Error::conflict(
                "invalid_promotion",
                format!("{version} is already in {widest}; promote only to a wider channel (canary -> beta -> stable)"),
            ));
        }
    }
    check_newer(&snap, &r.version, to)?;
    let now = state.now();
    let audit = Audit {
        at: now,
        actor: &actor.name,
        action: "promote",
        version: Some(version),
        detail: format!("to {to} at {percent}%"),
    };
    let change = Change::Rollout {
        version,
        channel: to.as_str(),
        bps,
        at: now,
        expect: Expect::Absent,
    };
    apply(state, &[change], vec![audit]).await
}

#[derive(Clone, Copy, Debug)]
pub enum Transition {
    Halt,
    Resume,
    Rollback,
}

impl Transition {
    /// What the policy does to a release (or platform) whose gate fails.
    pub fn on_gate_failure(on: OnGateFailure) -> Self {
        match on {
            OnGateFailure::Rollback => Transition::Rollback,
            OnGateFailure::Halt => Transition::Halt,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Transition::Halt => "halt",
            Transition::Resume => "resume",
            Transition::Rollback => "rollback",
        }
    }
}

/// The change and audit entry that move `r` by `t`, if `t` applies to its state.
pub fn transition_change<'a>(
    r: &'a Release,
    actor: &'a str,
    t: Transition,
    reason: Option<&'a str>,
    at: i64,
) -> ApiResult<(Change<'a>, Audit<'a>)> {
    use ReleaseState::*;
    let (to, allowed): (ReleaseState, &[ReleaseState]) = match t {
        Transition::Halt => (Halted, &[Active]),
        Transition::Resume => (Active, &[Halted, RolledBack]),
        Transition::Rollback => (RolledBack, &[Active, Halted]),
    };
    let version = r.version_text.as_str();
    if !allowed.contains(&r.state) {
        return Err(Error::conflict(
            "invalid_state",
            format!(
                "cannot {} {version}: it is {}",
                t.action(),
                r.state.as_str()
            ),
        ));
    }
    let detail = match reason {
        Some(why) => format!("{} -> {}: {why}", r.state.as_str(), to.as_str()),
        None => format!("{} -> {}", r.state.as_str(), to.as_str()),
    };
    let change = Change::State {
        version,
        from: r.state,
        to,
        reason: match t {
            Transition::Resume => None,
            _ => Some(reason.unwrap_or(actor)),
        },
    };
    let audit = Audit {
        at,
        actor,
        action: t.action(),
        version: Some(version),
        detail,
    };
    Ok((change, audit))
}

/// Like `transition_change`, for one platform of `r` on its own. `key` is
/// `platform.key()`, kept by the caller for the change to borrow.
pub fn platform_change<'a>(
    r: &'a Release,
    platform: Platform,
    key: &'a str,
    actor: &'a str,
    t: Transition,
    reason: Option<&'a str>,
    at: i64,
) -> ApiResult<(Change<'a>, Audit<'a>)> {
    use ReleaseState::*;
    let version = r.version_text.as_str();
    if !r.artifacts.contains_key(&platform) {
        return Err(Error::not_found(
            "unknown_platform",
            format!("{version} has no artifact for {platform}"),
        ));
    }
    let own = r.platform_states.get(&platform).map(|(s, _)| *s);
    let now = r.state_on(platform);
    let to = match t {
        Transition::Halt if now == Active => Some(Halted),
        Transition::Rollback if now != RolledBack => Some(RolledBack),
        Transition::Resume if own.is_some() => None,
        _ => {
            return Err(Error::conflict(
                "invalid_state",
                format!(
                    "cannot {} {version} on {platform}: it is {}{}",
                    t.action(),
                    now.as_str(),
                    if own.is_none() && t.action() == "resume" {
                        " and was not stopped on this platform alone"
                    } else {
                        ""
                    }
                ),
            ))
        }
    };
    let name = |s: Option<ReleaseState>| s.map_or(now.as_str(), |s| s.as_str());
    let to_name = to.map_or(r.state.as_str(), |s| s.as_str());
    let detail = match reason {
        Some(why) => format!("{platform}: {} -> {to_name}: {why}", name(own)),
        None => format!("{platform}: {} -> {to_name}", name(own)),
    };
    let change = Change::PlatformState {
        version,
        platform: key,
        from: own,
        to,
        reason: to.map(|_| reason.unwrap_or(actor)),
    };
    let audit = Audit {
        at,
        actor,
        action: t.action(),
        version: Some(version),
        detail,
    };
    Ok((change, audit))
}

/// Halts, resumes or rolls back a release, or only its `platform`.
pub async fn transition(
    state: &AppState,
    actor: &str,
    version: &str,
    t: Transition,
    reason: Option<&str>,
    platform: Option<Platform>,
) -> ApiResult<()> {
    let snap = state.snapshot.load_full();
    let r = find(&snap, version)?;
    let key = platform.map(Platform::key).unwrap_or_default();
    let (change, audit) = match platform {
        None => transition_change(r, actor, t, reason, state.now())?,
        Some(p) => platform_change(r, p, &key, actor, t, reason, state.now())?,
    };
    apply(state, &[change], vec![audit]).await
}
