//! Delta patches (issue 10): after a publish (and on an interval, for other
//! replicas' publishes and builds that could not be recorded), each stored
//! artifact gets a patch from the same platform's artifact of each of the
//! `deltas.from_releases` releases below it. One build at a time, on a
//! blocking thread, for artifacts of at most `deltas.max_artifact_bytes`:
//! memory stays bounded by one pair. A build that fails is recorded as
//! failed (logged, never retried) and only means that install pays the
//! full download; a storage or database error is retried on the next round.

use std::collections::HashSet;
use std::time::Instant;

use productivitypro_delta::Method;
use productivitypro_protocol::{BundleType, Platform};

use crate::db::DeltaOutcome;
use crate::state::AppState;

/// One patch to build: into `version`'s artifact from `from`'s.
struct Job {
    version: String,
    from: String,
    platform: Platform,
    new_key: String,
    new_size: u64,
    old_key: String,
    old_size: u64,
}

/// Patches the snapshot's releases lack, newest release first.
fn missing(state: &AppState, attempted: &HashSet<(String, String, String)>) -> Vec<Job> {
    let snap = state.snapshot.load_full();
    let cfg = &state.config.deltas;
    let mut jobs = Vec::new();
    // `releases` is newest first: the ones below release i are i+1.. .
    for (i, r) in snap.releases.iter().enumerate() {
        for (platform, a) in &r.artifacts {
            let Some(new_key) = &a.object_key else {
                continue;
            };
            if a.size > cfg.max_artifact_bytes {
                continue;
            }
            let older = snap.releases[i + 1..]
                .iter()
                .filter_map(|o| Some((o, o.artifacts.get(platform)?)))
                .take(cfg.from_releases);
            for (o, oa) in older {
                let key = (
                    r.version_text.clone(),
                    platform.to_string(),
                    o.version_text.clone(),
                );
                let (Some(old_key), true) = (&oa.object_key, oa.size <= cfg.max_artifact_bytes)
                else {
                    continue;
                };
                if attempted.contains(&key) {
                    continue;
                }
                jobs.push(Job {
                    version: r.version_text.clone(),
                    from: o.version_text.clone(),
                    platform: *platform,
                    new_key: new_key.clone(),
                    new_size: a.size,
                    old_key: old_key.clone(),
                    old_size: oa.size,
                });
            }
        }
    }
    jobs
}

/// Builds every missing patch, one at a time. Never fails: problems are logged.
pub async fn build_missing(state: &AppState) {
    if !state.config.deltas.enabled || state.config.deltas.from_releases == 0 {
        return;
    }
    let methods = match state.config.deltas.methods() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "delta patches disabled");
            return;
        }
    };
    let attempted: HashSet<_> = match state.db.delta_attempts().await {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read delta patches; will retry");
            return;
        }
    };
    let mut built = false;
    for job in missing(state, &attempted) {
        match build_one(state, &job, &methods).await {
            Ok(ready) => built |= ready,
            Err(e) => tracing::warn!(
                version = %job.version, from = %job.from, platform = %job.platform,
                error = %e, "delta patch not built; will retry"
            ),
        }
    }
    if built {
        if let Err(e) = state.refresh().await {
            tracing::warn!(error = %e, "snapshot refresh after delta patches failed");
        }
    }
}

/// Builds, stores and records one patch. Ok(true): a patch is ready; Ok(false):
/// recorded as failed, or another replica recorded it first; Err: retry later.
async fn build_one(state: &AppState, job: &Job, methods: &[Method]) -> anyhow::Result<bool> {
    let old = state
        .artifacts
        .get_bytes(&job.old_key, job.old_size)
        .await?;
    let new = state
        .artifacts
        .get_bytes(&job.new_key, job.new_size)
        .await?;
    // The .deb method only for .deb artifacts; the others take any bytes.
    let methods: Vec<Method> = methods
        .iter()
        .copied()
        .filter(|m| *m != Method::Deb || job.platform.bundle == BundleType::Deb)
        .collect();
    let started = Instant::now();
    // The first method that builds wins; the refusals say why the earlier ones did not.
    let max_percent = state.config.deltas.max_patch_percent;
    let (built, refusals) = tokio::task::spawn_blocking(move || {
        let mut refusals = Vec::new();
        for method in methods {
            match productivitypro_delta::build(&old, &new, method) {
                // A patch nearly the artifact's size saves nothing and costs
                // the client a rebuild (compressed packages, docs/benchmarks.md).
                Ok(patch) if patch.len() as u64 * 100 > new.len() as u64 * max_percent => {
                    refusals.push(format!(
                        "{method}: patch of {} bytes is more than {max_percent}% of the {}-byte artifact",
                        patch.len(),
                        new.len()
                    ))
                }
                Ok(patch) => return (Some((method, patch)), refusals),
                Err(e) => refusals.push(format!("{method}: {}: {e}", e.code())),
            }
        }
        (None, refusals)
    })
    .await?;
    let build_ms = started.elapsed().as_millis() as i64;
    let platform = job.platform.to_string();
    let reason = refusals.join("; ");
    if built.is_some() && !refusals.is_empty() {
        tracing::info!(
            version = %job.version, from = %job.from, platform = %platform, refused = %reason,
            "earlier delta methods did not build; a later one did"
        );
    }
    match built {
        Some((method, patch)) => {
            let size = patch.len() as i64;
            let sha256 = hex::encode(productivitypro_delta::sha256(&patch));
            let key = format!(
                "deltas/{}/{}/{}/{}.ppdelta",
                job.version,
                platform,
                job.from,
                uuid::Uuid::new_v4().simple()
            );
            state.artifacts.put_bytes(&key, patch).await?;
            let recorded = state
                .db
                .record_delta(
                    &job.version,
                    &platform,
                    &job.from,
                    method.as_str(),
                    DeltaOutcome::Ready {
                        object_key: &key,
                        size,
                        sha256: &sha256,
                    },
                    state.now(),
                    build_ms,
                )
                .await;
            match recorded {
                Ok(true) => {
                    tracing::info!(
                        version = %job.version, from = %job.from, platform = %platform,
                        %method, patch_bytes = size, full_bytes = job.new_size, build_ms,
                        "delta patch built"
                    );
                    Ok(true)
                }
                Ok(false) => {
                    state.artifacts.delete(&key).await?;
                    Ok(false)
                }
                Err(e) => {
                    let _ = state.artifacts.delete(&key).await;
                    Err(e.into())
                }
            }
        }
        None => {
            tracing::warn!(
                version = %job.version, from = %job.from, platform = %platform,
                error = %reason, "delta patch build failed; installs get the full download"
            );
            state
                .db
                .record_delta(
                    &job.version,
                    &platform,
                    &job.from,
                    "none",
                    DeltaOutcome::Failed { reason: &reason },
                    state.now(),
                    build_ms,
                )
                .await?;
            Ok(false)
        }
    }
}
