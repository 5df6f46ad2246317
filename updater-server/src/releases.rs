//! Release state changes — rollout, promote, halt, resume, rollback, gates,
//! advance — each one transaction with its audit entry, then a snapshot rebuild.

use std::collections::HashMap;

use productivitypro_protocol::api::{
    AdvanceAction, AdvanceResponse, ChannelRollout, GateVerdict, Health, ReleaseState,
    ReleaseStatus, StatusResponse,
};
use productivitypro_protocol::policy::{OnGateFailure, Policy};
use productivitypro_protocol::Channel;
use semver::Version;

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::db::{Audit, Change, Conflict, Expect};
use crate::error::{ApiResult, Error};
use crate::gates::{self, Step};
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

fn find<'a>(snap: &'a Snapshot, version: &str) -> ApiResult<&'a Release> {
    snap.release(version)
        .ok_or_else(|| Error::not_found("unknown_release", format!("no release {version}")))
}

/// Applies `changes` atomically; a conflict found inside the transaction
/// becomes the matching 4xx, and the snapshot is rebuilt either way.
async fn apply(state: &AppState, changes: &[Change<'_>], audits: Vec<Audit<'_>>) -> ApiResult<()> {
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
    /// What the policy does to a release whose gate fails.
    fn on_gate_failure(on: OnGateFailure) -> Self {
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
fn transition_change<'a>(
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

pub async fn transition(
    state: &AppState,
    actor: &str,
    version: &str,
    t: Transition,
    reason: Option<&str>,
) -> ApiResult<()> {
    let snap = state.snapshot.load_full();
    let r = find(&snap, version)?;
    let (change, audit) = transition_change(r, actor, t, reason, state.now())?;
    apply(state, &[change], vec![audit]).await
}

fn previous_health<'a>(
    snap: &Snapshot,
    i: usize,
    health: &'a HashMap<String, Health>,
) -> Option<&'a Health> {
    snap.releases[i + 1..]
        .iter()
        .find(|r| r.state != ReleaseState::RolledBack)
        .and_then(|r| health.get(&r.version_text))
}

fn verdicts(
    policy: &Policy,
    snap: &Snapshot,
    health: &HashMap<String, Health>,
) -> Vec<GateVerdict> {
    let empty = Health::default();
    (0..snap.releases.len())
        .map(|i| {
            let h = health.get(&snap.releases[i].version_text).unwrap_or(&empty);
            gates::verdict(&policy.gates, h, previous_health(snap, i, health))
        })
        .collect()
}

/// Flushes telemetry, judges every active release by the service's policy and
/// stops the failing ones by itself. Returns the versions it stopped.
pub async fn evaluate_gates(state: &AppState) -> ApiResult<Vec<String>> {
    state.flush_telemetry().await?;
    state.refresh().await?;
    let health = state.db.health().await?;
    let snap = state.snapshot.load_full();
    let verdicts = verdicts(&state.policy, &snap, &health);
    let mut stopped = Vec::new();
    state.metrics.gate_state.clear();
    for (r, v) in snap.releases.iter().zip(&verdicts) {
        state
            .metrics
            .gate_state
            .get_or_create(&vec![
                ("version".into(), r.version_text.clone()),
                ("gate".into(), v.label().into()),
                ("state".into(), r.state.as_str().into()),
            ])
            .set(1);
        if let (ReleaseState::Active, GateVerdict::Failing { reason }) = (r.state, v) {
            let t = Transition::on_gate_failure(state.policy.gates.on_failure);
            let reason = format!("gate failed: {reason}");
            match transition(state, GATE_ACTOR, &r.version_text, t, Some(&reason)).await {
                Ok(()) => {
                    tracing::warn!(version = %r.version_text, %reason, "gate stopped a release");
                    stopped.push(r.version_text.clone());
                }
                // Another replica or an engineer got there first.
                Err(e) if e.code == "state_changed" || e.code == "invalid_state" => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(stopped)
}

/// One step of `policy` for every active rollout below 100%, applied as one
/// transaction: every raise and stop happens, or — when anything changed
/// meanwhile or storage fails — none does.
pub async fn advance(
    state: &AppState,
    actor: &Actor,
    policy: &Policy,
) -> ApiResult<AdvanceResponse> {
    policy
        .validate()
        .map_err(|e| Error::bad_request("invalid_policy", e.to_string()))?;
    state.flush_telemetry().await?;
    state.refresh().await?;
    let health = state.db.health().await?;
    let snap = state.snapshot.load_full();
    let verdicts = verdicts(policy, &snap, &health);
    let now = state.now();
    let mut actions = Vec::new();
    let mut changes = Vec::new();
    let mut audits = Vec::new();
    let reasons: Vec<Option<String>> = verdicts
        .iter()
        .map(|v| match v {
            GateVerdict::Failing { reason } => Some(format!("gate failed: {reason}")),
            _ => None,
        })
        .collect();
    for ((r, v), stop_reason) in snap.releases.iter().zip(&verdicts).zip(&reasons) {
        let version = r.version_text.clone();
        if r.state != ReleaseState::Active {
            continue;
        }
        if let (GateVerdict::Failing { reason }, Some(why)) = (v, stop_reason) {
            let t = Transition::on_gate_failure(policy.gates.on_failure);
            let (change, audit) = transition_change(r, &actor.name, t, Some(why), now)?;
            let to = match change {
                Change::State { to, .. } => to,
                Change::Rollout { .. } => r.state,
            };
            changes.push(change);
            audits.push(audit);
            actions.push(AdvanceAction::Stopped {
                version,
                state: to,
                reason: reason.clone(),
            });
            continue;
        }
        for c in Channel::ALL {
            let Some((bps, since)) = r.rollout[c.index()] else {
                continue;
            };
            let percent = bps as f64 / 100.0;
            match gates::next_step(policy, percent, since, now, v) {
                Step::Done => {}
                Step::Bake { remaining_secs } => actions.push(AdvanceAction::Baking {
                    version: version.clone(),
                    channel: c,
                    percent,
                    remaining_secs,
                }),
                Step::Wait(reason) => actions.push(AdvanceAction::Waiting {
                    version: version.clone(),
                    channel: c,
                    percent,
                    reason,
                }),
                Step::Raise(to) => {
                    changes.push(Change::Rollout {
                        version: &r.version_text,
                        channel: c.as_str(),
                        bps: percent_to_bps(to)?,
                        at: now,
                        expect: Expect::Bps(bps as i64),
                    });
                    audits.push(Audit {
                        at: now,
                        actor: &actor.name,
                        action: "rollout",
                        version: Some(&r.version_text),
                        detail: format!("{c}: {percent}% -> {to}% (advance)"),
                    });
                    actions.push(AdvanceAction::Raised {
                        version: version.clone(),
                        channel: c,
                        from: percent,
                        to,
                    });
                }
            }
        }
    }
    if !changes.is_empty() {
        apply(state, &changes, audits).await?;
    }
    Ok(AdvanceResponse { actions })
}

pub async fn status(state: &AppState) -> ApiResult<StatusResponse> {
    let health = state.db.health().await?;
    let snap = state.snapshot.load_full();
    let verdicts = verdicts(&state.policy, &snap, &health);
    let releases = snap
        .releases
        .iter()
        .zip(verdicts)
        .map(|(r, gate)| {
            let mut platforms: Vec<_> = r.artifacts.keys().copied().collect();
            platforms.sort();
            ReleaseStatus {
                version: r.version_text.clone(),
                state: r.state,
                state_reason: r.state_reason.clone(),
                published_at: r.pub_date.clone(),
                channels: Channel::ALL
                    .iter()
                    .filter_map(|c| {
                        r.rollout[c.index()].map(|(bps, since)| ChannelRollout {
                            channel: *c,
                            percent: bps as f64 / 100.0,
                            since: rfc3339(since),
                        })
                    })
                    .collect(),
                platforms,
                health: health.get(&r.version_text).cloned().unwrap_or_default(),
                gate,
            }
        })
        .collect();
    Ok(StatusResponse { releases })
}
