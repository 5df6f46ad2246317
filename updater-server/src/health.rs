//! Judging releases by their health: each release is seen per channel and
//! per platform over the policy's window, and judged against the previous
//! release's same view. The service stops failing releases (and failing
//! platforms, alone) by itself; `advance` takes one policy step; `status`
//! shows it all.

use std::collections::HashSet;

use productivitypro_protocol::api::{
    AdvanceAction, AdvanceResponse, ChannelRollout, GateVerdict, Health, HealthWindow,
    PlatformStatus, ReleaseState, ReleaseStatus, StatusResponse,
};
use productivitypro_protocol::policy::{Gates, Policy};
use productivitypro_protocol::{Channel, Platform};

use crate::auth::Actor;
use crate::clock::rfc3339;
use crate::db::{Audit, Change, Expect, HealthViews};
use crate::error::{ApiResult, Error};
use crate::gates::{self, Step};
use crate::releases::{apply, percent_to_bps, platform_change, transition_change, Transition};
use crate::snapshot::Snapshot;
use crate::state::AppState;

pub const GATE_ACTOR: &str = "gate";

/// What the gates do to an active release.
#[derive(Clone, Debug, PartialEq)]
pub enum GateAction {
    /// Stop the release (on every platform), for this reason.
    Release(String),
    /// Stop these platforms alone: they fail while the rest passes on its own.
    Platforms(Vec<(Platform, String)>),
}

/// One release's health and verdicts.
pub struct Judged {
    pub overall: Health,
    /// Its rollout channels and any other whose installs report on it
    /// (platforms stopped on their own left out).
    pub channels: Vec<(Channel, Health, GateVerdict)>,
    /// Its platforms, across channels.
    pub platforms: Vec<(Platform, Health, GateVerdict)>,
    /// For an active release whose gate fails: what to stop.
    pub action: Option<GateAction>,
}

impl Judged {
    /// The worst channel verdict.
    pub fn gate(&self) -> GateVerdict {
        let mut worst: Option<GateVerdict> = None;
        for (_, _, v) in &self.channels {
            worst = Some(match worst {
                None => v.clone(),
                Some(w) => gates::worse(w, v),
            });
        }
        worst.unwrap_or(GateVerdict::Pending {
            reason: "no installs reported yet".into(),
        })
    }

    pub fn channel(&self, c: Channel) -> Option<&GateVerdict> {
        self.channels
            .iter()
            .find(|(x, _, _)| *x == c)
            .map(|(_, _, v)| v)
    }
}

fn failing(v: &GateVerdict) -> Option<&str> {
    match v {
        GateVerdict::Failing { reason } => Some(reason),
        _ => None,
    }
}

/// The start of the oldest hour within `gates.window` of `now`.
pub fn since_hour(now: i64, gates: &Gates) -> i64 {
    (now - gates.window.as_secs() as i64).div_euclid(3600) * 3600
}

/// Judges every release of `snap` (same order), each view against the
/// previous release's same view (the next older one not rolled back).
///
/// A failing platform is stopped alone when the release's other platforms,
/// judged without it, pass on their own; when they fail too, or have too
/// little data to show they are fine, the whole release is stopped.
pub fn judge(gates: &Gates, snap: &Snapshot, views: &HealthViews) -> Vec<Judged> {
    let n = snap.releases.len();
    let previous: Vec<Option<usize>> = (0..n)
        .map(|i| {
            snap.releases[i + 1..]
                .iter()
                .position(|x| x.state != ReleaseState::RolledBack)
                .map(|k| i + 1 + k)
        })
        .collect();
    let stopped: Vec<HashSet<String>> = snap
        .releases
        .iter()
        .map(|r| r.platform_states.keys().map(|p| p.key()).collect())
        .collect();
    let platform_view = |i: usize, p: Platform| {
        views
            .by_platform
            .get(&(snap.releases[i].version_text.clone(), p.key()))
            .cloned()
            .unwrap_or_default()
    };
    let channel_view = |i: usize, c: Channel, out: &HashSet<String>| {
        views.channel(&snap.releases[i].version_text, c.as_str(), |p| {
            out.contains(p)
        })
    };
    let mut judged = Vec::new();
    for (i, r) in snap.releases.iter().enumerate() {
        let prev = previous[i];
        let mut keys: Vec<Platform> = r.artifacts.keys().copied().collect();
        keys.sort();
        let platforms: Vec<(Platform, Health, GateVerdict)> = keys
            .into_iter()
            .map(|p| {
                let h = platform_view(i, p);
                let v = gates::verdict(gates, &h, prev.map(|k| platform_view(k, p)).as_ref());
                (p, h, v)
            })
            .collect();
        let reported: HashSet<&str> = views.channels_of(&r.version_text).collect();
        let judged_channels: Vec<Channel> = Channel::ALL
            .iter()
            .copied()
            .filter(|c| r.rollout[c.index()].is_some() || reported.contains(c.as_str()))
            .collect();
        let verdicts = |out: &HashSet<String>| -> Vec<(Channel, Health, GateVerdict)> {
            judged_channels
                .iter()
                .map(|c| {
                    let h = channel_view(i, *c, out);
                    let p = prev.map(|k| channel_view(k, *c, &stopped[k]));
                    let v = gates::verdict(gates, &h, p.as_ref());
                    (*c, h, v)
                })
                .collect()
        };
        let channels = verdicts(&stopped[i]);
        let action = if r.state != ReleaseState::Active {
            None
        } else {
            let newly: Vec<(Platform, String)> = platforms
                .iter()
                .filter(|(p, _, _)| r.state_on(*p) == ReleaseState::Active)
                .filter_map(|(p, _, v)| failing(v).map(|why| (*p, why.to_string())))
                .collect();
            let channel_failure = channels.iter().find_map(|(_, _, v)| failing(v));
            if newly.is_empty() {
                channel_failure.map(|why| GateAction::Release(why.to_string()))
            } else {
                let mut out = stopped[i].clone();
                out.extend(newly.iter().map(|(p, _)| p.key()));
                let rest = verdicts(&out);
                let rest_passes =
                    !rest.is_empty() && rest.iter().all(|(_, _, v)| *v == GateVerdict::Passing);
                if rest_passes {
                    Some(GateAction::Platforms(newly))
                } else {
                    let why = channel_failure
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{}: {}", newly[0].0, newly[0].1));
                    Some(GateAction::Release(why))
                }
            }
        };
        judged.push(Judged {
            overall: views
                .overall
                .get(&r.version_text)
                .cloned()
                .unwrap_or_default(),
            channels,
            platforms,
            action,
        });
    }
    judged
}

async fn judge_now(
    state: &AppState,
    gates: &Gates,
) -> ApiResult<(std::sync::Arc<Snapshot>, Vec<Judged>)> {
    let views = state.db.health(since_hour(state.now(), gates)).await?;
    let snap = state.snapshot.load_full();
    let judged = judge(gates, &snap, &views);
    Ok((snap, judged))
}

/// Flushes telemetry, judges every active release by the service's policy
/// and stops failing platforms and releases by itself. Returns what it
/// stopped (`1.2.0`, or `1.2.0 linux-x86_64-appimage`).
pub async fn evaluate_gates(state: &AppState) -> ApiResult<Vec<String>> {
    state.flush_telemetry().await?;
    state.refresh().await?;
    let (snap, judged) = judge_now(state, &state.policy.gates).await?;
    let t = Transition::on_gate_failure(state.policy.gates.on_failure);
    let mut stopped = Vec::new();
    state.metrics.gate_state.clear();
    for (r, j) in snap.releases.iter().zip(&judged) {
        state
            .metrics
            .gate_state
            .get_or_create(&vec![
                ("version".into(), r.version_text.clone()),
                ("gate".into(), j.gate().label().into()),
                ("state".into(), r.state.as_str().into()),
            ])
            .set(1);
        if r.state != ReleaseState::Active {
            continue;
        }
        let now = state.now();
        let actions: Vec<(Option<Platform>, String)> = match &j.action {
            None => continue,
            Some(GateAction::Release(why)) => vec![(None, format!("gate failed: {why}"))],
            Some(GateAction::Platforms(ps)) => ps
                .iter()
                .map(|(p, why)| (Some(*p), format!("gate failed on {p}: {why}")))
                .collect(),
        };
        for (platform, reason) in actions {
            let key = platform.map(Platform::key).unwrap_or_default();
            let planned = match platform {
                None => transition_change(r, GATE_ACTOR, t, Some(&reason), now),
                Some(p) => platform_change(r, p, &key, GATE_ACTOR, t, Some(&reason), now),
            };
            let result = match planned {
                Ok((change, audit)) => apply(state, &[change], vec![audit]).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    tracing::warn!(version = %r.version_text, platform = %key, %reason, "gate stopped a release");
                    stopped.push(format!("{} {key}", r.version_text).trim().to_string());
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
/// transaction: every stop and raise happens, or — when anything changed
/// meanwhile or storage fails — none does.
pub async fn advance(
    state: &AppState,
    actor: &Actor,
    policy: &Policy,
) -> ApiResult<AdvanceResponse> {
    // The shape was checked when the body parsed; what fails here is sense
    // (steps out of order, a window that is not whole hours).
    policy
        .validate()
        .map_err(|e| Error::unprocessable("invalid_policy", e.to_string()))?;
    state.flush_telemetry().await?;
    state.refresh().await?;
    let (snap, judged) = judge_now(state, &policy.gates).await?;
    let now = state.now();
    let t = Transition::on_gate_failure(policy.gates.on_failure);
    let to_state = match t {
        Transition::Rollback => ReleaseState::RolledBack,
        _ => ReleaseState::Halted,
    };
    let mut actions = Vec::new();
    // Owned first, so the changes below can borrow them.
    let reasons: Vec<Vec<(Option<Platform>, String, String)>> = judged
        .iter()
        .map(|j| match &j.action {
            None => Vec::new(),
            Some(GateAction::Release(why)) => vec![(None, String::new(), why.clone())],
            Some(GateAction::Platforms(ps)) => ps
                .iter()
                .map(|(p, why)| (Some(*p), p.key(), why.clone()))
                .collect(),
        })
        .collect();
    let whys: Vec<Vec<String>> = reasons
        .iter()
        .map(|rs| {
            rs.iter()
                .map(|(_, _, r)| format!("gate failed: {r}"))
                .collect()
        })
        .collect();
    let mut changes = Vec::new();
    let mut audits = Vec::new();
    for (i, (r, j)) in snap.releases.iter().zip(&judged).enumerate() {
        if r.state != ReleaseState::Active {
            continue;
        }
        let version = r.version_text.clone();
        let mut release_stopped = false;
        for ((platform, key, reason), why) in reasons[i].iter().zip(&whys[i]) {
            let (change, audit) = match platform {
                None => transition_change(r, &actor.name, t, Some(why), now)?,
                Some(p) => platform_change(r, *p, key, &actor.name, t, Some(why), now)?,
            };
            changes.push(change);
            audits.push(audit);
            release_stopped |= platform.is_none();
            actions.push(AdvanceAction::Stopped {
                version: version.clone(),
                platform: *platform,
                state: to_state,
                reason: reason.clone(),
            });
        }
        if release_stopped {
            continue;
        }
        for c in Channel::ALL {
            let Some((bps, since)) = r.rollout[c.index()] else {
                continue;
            };
            let percent = bps as f64 / 100.0;
            let pending = GateVerdict::Pending {
                reason: "no data yet".into(),
            };
            let v = j.channel(c).unwrap_or(&pending);
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
    let gates = &state.policy.gates;
    let since = since_hour(state.now(), gates);
    let (snap, judged) = judge_now(state, gates).await?;
    let releases = snap
        .releases
        .iter()
        .zip(judged)
        .map(|(r, j)| {
            let gate = j.gate();
            ReleaseStatus {
                version: r.version_text.clone(),
                state: r.state,
                state_reason: r.state_reason.clone(),
                published_at: r.pub_date.clone(),
                channels: j
                    .channels
                    .into_iter()
                    .map(|(c, health, gate)| {
                        let rollout = r.rollout[c.index()];
                        ChannelRollout {
                            channel: c,
                            percent: rollout.map(|(bps, _)| bps as f64 / 100.0),
                            since: rollout.map(|(_, since)| rfc3339(since)),
                            health,
                            gate,
                        }
                    })
                    .collect(),
                platforms: j
                    .platforms
                    .into_iter()
                    .map(|(p, health, gate)| PlatformStatus {
                        platform: p,
                        state: r.state_on(p),
                        state_reason: match r.platform_states.get(&p) {
                            Some((_, why)) if r.state_on(p) != r.state => why.clone(),
                            _ => None,
                        },
                        health,
                        gate,
                    })
                    .collect(),
                health: j.overall,
                gate,
            }
        })
        .collect();
    Ok(StatusResponse {
        window: HealthWindow {
            hours: gates.window.as_secs() / 3600,
            since: rfc3339(since),
        },
        releases,
    })
}
