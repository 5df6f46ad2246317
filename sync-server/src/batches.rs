//! The account log: push (append a device's next batches, idempotent by
//! batch id), pull (a consistent page after a cursor), snapshots and the
//! compaction they allow. The server checks everything it can see — who
//! may write which chain, key id, format, sizes, chain continuity — and
//! can open nothing.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use productivitypro_sync_protocol::api::{
    PullPage, PushRequest, PushResponse, PushResult, SnapshotStored,
};
use productivitypro_sync_protocol::batch::{Head, SUPPORTED_FORMATS};
use productivitypro_sync_protocol::snapshot::SnapshotEnvelope;
use serde_json::json;

use crate::auth::{authenticate, Caller};
use crate::db::{PullOutcome, PushRefusal, SnapshotRefusal};
use crate::error::{ApiResult, Error};
use crate::routes::{read_json, St};
use crate::server::AppState;

fn head_details(h: &Head) -> serde_json::Value {
    json!({ "device_head": { "seq": h.seq, "hash": h.hash } })
}

fn check_owner(
    c: &Caller,
    account: productivitypro_sync_protocol::AccountId,
    device: productivitypro_sync_protocol::DeviceId,
    key_id: productivitypro_sync_protocol::KeyId,
    format: u16,
) -> ApiResult<()> {
    if account != c.account {
        return Err(Error::of(
            "account_mismatch",
            "the batch names another account than this device's",
        ));
    }
    if device != c.device {
        return Err(Error::of(
            "device_mismatch",
            "a device may only write its own chain",
        ));
    }
    if key_id != c.key_id {
        return Err(Error::of(
            "key_mismatch",
            format!(
                "sealed under key {key_id}, but the account's key is {}; sign in again",
                c.key_id
            ),
        ));
    }
    if !SUPPORTED_FORMATS.contains(&format) {
        return Err(Error::of(
            "unsupported_format",
            format!("format {format} is not one this server accepts ({SUPPORTED_FORMATS:?})"),
        ));
    }
    Ok(())
}

pub async fn push(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<PushResponse>> {
    let c = authenticate(&state, &headers).await?;
    let limits = &state.config.limits;
    let req: PushRequest = read_json(body, limits.max_request_bytes).await?;
    if req.batches.is_empty() {
        return Err(Error::of("invalid_request", "batches must not be empty"));
    }
    if req.batches.len() > limits.max_batches_per_push as usize {
        return Err(Error::of(
            "invalid_request",
            format!("at most {} batches per push", limits.max_batches_per_push),
        ));
    }
    let mut hashed = Vec::with_capacity(req.batches.len());
    for (i, b) in req.batches.iter().enumerate() {
        b.check_shape()
            .map_err(|e| Error::of("invalid_batch", format!("batch {i}: {e}")))?;
        if b.ciphertext.len() as u64 > limits.max_batch_bytes {
            return Err(Error::of(
                "batch_too_large",
                format!(
                    "batch {i} has {} bytes of ciphertext; the limit is {}",
                    b.ciphertext.len(),
                    limits.max_batch_bytes
                ),
            ));
        }
        check_owner(&c, b.account, b.device, b.key_id, b.format)?;
        let hash = b.hash();
        if let Some((prev, prev_hash)) = hashed.last() {
            let prev: &productivitypro_sync_protocol::BatchEnvelope = prev;
            if b.seq != prev.seq + 1 || b.prev != *prev_hash {
                return Err(Error::of(
                    "invalid_batch",
                    format!("batch {i} does not continue batch {}: one push carries consecutive batches", i - 1),
                ));
            }
        }
        hashed.push((b.clone(), hash));
    }
    let outcome = state
        .db
        .push(c.account, c.device, &hashed, state.now())
        .await?
        .map_err(|r| match r {
            PushRefusal::BatchIdReused { batch } => Error::of(
                "batch_id_reused",
                format!("batch id {batch} was already used for a different batch"),
            ),
            PushRefusal::SeqConflict { head } => Error::of(
                "seq_conflict",
                format!(
                    "this device's chain is already at batch {}; a stored batch cannot be replaced",
                    head.seq
                ),
            )
            .with_details(head_details(&head)),
            PushRefusal::SeqGap { head } => Error::of(
                "seq_gap",
                format!(
                    "this device's chain is at batch {}; push batch {} next",
                    head.seq,
                    head.seq + 1
                ),
            )
            .with_details(head_details(&head)),
            PushRefusal::ChainMismatch { head } => Error::of(
                "chain_mismatch",
                "prev is not the hash of this device's latest batch",
            )
            .with_details(head_details(&head)),
            PushRefusal::DeviceRevoked => Error::of(
                "device_signed_out",
                "this device was signed out; sign in again to sync",
            ),
        })?;
    let new_bytes: usize = hashed
        .iter()
        .zip(&outcome.results)
        .filter(|(_, r)| !r.duplicate)
        .map(|((b, _), _)| b.ciphertext.len())
        .sum();
    state.metrics.batches_stored.inc_by(outcome.stored as u64);
    state
        .metrics
        .batches_duplicate
        .inc_by((outcome.results.len() - outcome.stored) as u64);
    state.metrics.bytes_stored.inc_by(new_bytes as u64);
    if outcome.stored > 0 {
        state.hub.head(c.account, outcome.head);
    }
    let results = outcome
        .results
        .into_iter()
        .zip(&hashed)
        .map(|(r, (b, _))| PushResult {
            batch_id: b.batch_id,
            seq: r.seq,
            cursor: r.cursor,
            duplicate: r.duplicate,
        })
        .collect();
    Ok(Json(PushResponse {
        results,
        head: outcome.head,
    }))
}

fn parse_query(q: Option<&str>, max_limit: u32) -> ApiResult<(u64, u32)> {
    let mut after = 0u64;
    let mut limit = max_limit;
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "after" => {
                after = v.parse().map_err(|_| {
                    Error::of(
                        "invalid_request",
                        "after must be a cursor (a non-negative integer)",
                    )
                })?
            }
            "limit" => {
                let l: u32 = v.parse().map_err(|_| {
                    Error::of("invalid_request", "limit must be a positive integer")
                })?;
                if l == 0 {
                    return Err(Error::of("invalid_request", "limit must be at least 1"));
                }
                limit = l.min(max_limit);
            }
            other => {
                return Err(Error::of(
                    "invalid_request",
                    format!(
                        "unknown query parameter {:?}",
                        other.chars().take(32).collect::<String>()
                    ),
                ))
            }
        }
    }
    Ok((after, limit))
}

pub async fn pull(
    State(state): St,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<PullPage>> {
    let c = authenticate(&state, &headers).await?;
    let limits = &state.config.limits;
    let (after, limit) = parse_query(q.as_deref(), limits.max_page_batches)?;
    match state
        .db
        .pull(c.account, c.device, after, limit, limits.max_page_bytes)
        .await?
    {
        PullOutcome::Ahead { head } => Err(Error::of(
            "cursor_ahead",
            format!("cursor {after} is beyond the account's head {head}: this device's sync state is not from this account's log"),
        )
        .with_details(json!({ "head": head }))),
        PullOutcome::Compacted {
            compacted_through,
            snapshot_cursor,
        } => Err(Error::of(
            "cursor_compacted",
            format!("batches up to {compacted_through} were compacted; load the snapshot, then pull after its cursor"),
        )
        .with_details(json!({ "compacted_through": compacted_through, "snapshot_cursor": snapshot_cursor }))),
        PullOutcome::Page(p) => {
            state.metrics.batches_served.inc_by(p.batches.len() as u64);
            state
                .metrics
                .bytes_served
                .inc_by(p.batches.iter().map(|b| b.batch.ciphertext.len() as u64).sum());
            let since = p.head - p.snapshot_cursor.unwrap_or(0);
            let aged = p
                .snapshot_at
                .is_some_and(|t| state.now() - t > state.config.snapshot_max_age.as_secs() as i64);
            Ok(Json(PullPage {
                snapshot_wanted: since >= state.config.snapshot_every_batches || (aged && since > 0),
                batches: p.batches,
                next: p.next,
                more: p.more,
                head: p.head,
                devices: p.devices.into_iter().collect(),
            }))
        }
    }
}

pub async fn put_snapshot(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<SnapshotStored>)> {
    let c = authenticate(&state, &headers).await?;
    let max = state.config.limits.max_snapshot_bytes;
    // Base64 grows the ciphertext by a third; the envelope adds a little.
    let s: SnapshotEnvelope = read_json(body, max / 3 * 4 + 8192).await?;
    s.check_shape()
        .map_err(|e| Error::of("invalid_snapshot", e))?;
    if s.ciphertext.len() as u64 > max {
        return Err(Error::of(
            "payload_too_large",
            format!("snapshots are at most {max} bytes of ciphertext"),
        ));
    }
    check_owner(&c, s.account, s.device, s.key_id, s.format)?;
    state
        .db
        .put_snapshot(&s, state.now())
        .await?
        .map_err(|r| match r {
            SnapshotRefusal::Ahead { head } => Error::of(
                "cursor_ahead",
                format!(
                    "the snapshot's cursor {} is beyond the account's head {head}",
                    s.cursor
                ),
            ),
            SnapshotRefusal::Stale { current } => Error::of(
                "snapshot_stale",
                format!("the stored snapshot already covers cursor {current}"),
            ),
        })?;
    state.metrics.snapshots_stored.inc();
    let compacted_through = compact(&state, s.account).await?;
    Ok((
        StatusCode::CREATED,
        Json(SnapshotStored {
            cursor: s.cursor,
            compacted_through,
        }),
    ))
}

/// Deletes batches the snapshot covers that are older than the retention.
pub async fn compact(
    state: &AppState,
    account: productivitypro_sync_protocol::AccountId,
) -> ApiResult<u64> {
    let cutoff = state.now() - state.config.keep_after_snapshot.as_secs() as i64;
    Ok(state.db.compact(account, cutoff).await?)
}

pub async fn get_snapshot(
    State(state): St,
    headers: HeaderMap,
) -> ApiResult<Json<SnapshotEnvelope>> {
    let c = authenticate(&state, &headers).await?;
    state
        .db
        .snapshot(c.account)
        .await?
        .map(Json)
        .ok_or_else(|| {
            Error::of(
                "no_snapshot",
                "this account has no snapshot yet; pull from cursor 0",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_queries_are_parsed_strictly() {
        assert_eq!(parse_query(None, 100).unwrap(), (0, 100));
        assert_eq!(parse_query(Some("after=5&limit=7"), 100).unwrap(), (5, 7));
        assert_eq!(parse_query(Some("limit=500"), 100).unwrap(), (0, 100));
        for bad in ["after=-1", "after=x", "limit=0", "limit=", "cursor=3"] {
            assert_eq!(
                parse_query(Some(bad), 100).unwrap_err().code,
                "invalid_request",
                "{bad}"
            );
        }
    }
}
