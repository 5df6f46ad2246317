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
use crate::db::Audit;
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
    if r.state == ReleaseState::RolledBack {
        return Err(Error::conflict(
            "invalid_state",
            format!("{version} is rolled back; `resume` it first"),
        ));
    }
    let Some((old, _)) = r.rollout[channel.index()] else {
        return Err(Error::conflict(
            "not_in_channel",
            format!("{version} is not in {channel}; `promote {version} --to {channel}` first"),
        ));
    };
    let audit = Audit {
        at: state.now(),
        actor: &actor.name,
        action: "rollout",
        version: Some(version),
        detail: format!("{channel}: {}% -> {percent}%", old as f64 / 100.0),
    };
    state
        .db
        .set_rollout(version, channel.as_str(), bps, audit)
        .await?;
    state.refresh().await?;
    Ok(())
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
        return Err(Error::conflict(
            "invalid_state",
            format!(
                "{version} is {}; only active releases are promoted",
                r.state.as_str()
            ),
        ));
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
    let audit = Audit {
        at: state.now(),
        actor: &actor.name,
        action: "promote",
        version: Some(version),
        detail: format!("to {to} at {percent}%"),
    };
    state
        .db
        .set_rollout(version, to.as_str(), bps, audit)
        .await?;
    state.refresh().await?;
    Ok(())
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
}

pub async fn transition(
    state: &AppState,
    actor: &str,
    version: &str,
    t: Transition,
    reason: Option<&str>,
) -> ApiResult<()> {
    use ReleaseState::*;
    let snap = state.snapshot.load();
    let r = find(&snap, version)?;
    let (action, to, allowed): (&str, ReleaseState, &[ReleaseState]) = match t {
        Transition::Halt => ("halt", Halted, &[Active]),
        Transition::Resume => ("resume", Active, &[Halted, RolledBack]),
        Transition::Rollback => ("rollback", RolledBack, &[Active, Halted]),
    };
    if !allowed.contains(&r.state) {
        return Err(Error::conflict(
            "invalid_state",
            format!("cannot {action} {version}: it is {}", r.state.as_str()),
        ));
    }
    let detail = match reason {
        Some(why) => format!("{} -> {}: {why}", r.state.as_str(), to.as_str()),
        None => format!("{} -> {}", r.state.as_str(), to.as_str()),
    };
    let audit = Audit {
        at: state.now(),
        actor,
        action,
        version: Some(version),
        detail,
    };
    let stored_reason = match t {
        Transition::Resume => None,
        _ => Some(reason.unwrap_or(actor)),
    };
    if !state
        .db
        .set_state(version, r.state, to, stored_reason, audit)
        .await?
    {
        // Someone else changed it between our read and write.
        state.refresh().await?;
        return Err(Error::conflict(
            "state_changed",
            format!("{version} changed meanwhile; check `status` and retry"),
        ));
    }
    state.refresh().await?;
    Ok(())
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

/// One step of `policy` for every active rollout below 100%.
pub async fn advance(
    state: &AppState,
    actor: &Actor,
    policy: &Policy,
) -> ApiResult<AdvanceResponse> {
    policy
        .validate()
        .map_err(|e| Error::bad_request("invalid_policy", e.to_string()))?;
    state.flush_telemetry().await?;
    let health = state.db.health().await?;
    let snap = state.snapshot.load_full();
    let verdicts = verdicts(policy, &snap, &health);
    let now = state.now();
    let mut actions = Vec::new();
    for (r, v) in snap.releases.iter().zip(&verdicts) {
        let version = r.version_text.clone();
        if r.state != ReleaseState::Active {
            continue;
        }
        if let GateVerdict::Failing { reason } = v {
            let t = Transition::on_gate_failure(policy.gates.on_failure);
            transition(
                state,
                &actor.name,
                &version,
                t,
                Some(&format!("gate failed: {reason}")),
            )
            .await?;
            let now_state = state
                .snapshot
                .load()
                .release(&version)
                .map_or(ReleaseState::Halted, |r| r.state);
            actions.push(AdvanceAction::Stopped {
                version,
                state: now_state,
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
                    set_rollout(state, actor, &version, c, to).await?;
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
