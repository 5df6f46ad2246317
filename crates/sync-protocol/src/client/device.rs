//! A whole sync client in memory: the reference the core's engine follows.
//! Local edits are stamped by the device's HLC, applied to its replica at
//! once, sealed into batches that continue its chain, and pushed until
//! acknowledged; pulls are verified page by page and merged only whole.
//! (The core keeps the same state in the vault, each step in one
//! transaction, so a crash anywhere resumes without loss or duplicates.)

use std::collections::{BTreeMap, VecDeque};

use rand::{CryptoRng, RngCore};
use serde_json::Value;

use super::http::{ClientError, SyncClient};
use crate::api::Session;
use crate::batch::{seal_batch, BatchBody, BatchEnvelope, BatchHeader};
use crate::hlc::{HlcClock, HlcError};
use crate::ids::{AccountId, BatchId, DeviceId, RecordId, SnapshotId};
use crate::keys::SyncKey;
use crate::merge::Replica;
use crate::op::{Action, Op, RecordRef};
use crate::snapshot::{open_snapshot, seal_snapshot, SnapshotBody, SnapshotHeader};
use crate::verify::{ChainState, IntegrityError, Verifier};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    #[error(transparent)]
    Clock(#[from] HlcError),
    #[error("the server acknowledged something else than was pushed: {0}")]
    AckMismatch(String),
}

impl SyncError {
    pub fn code(&self) -> &str {
        match self {
            SyncError::Client(e) => e.code(),
            SyncError::Integrity(e) => e.code(),
            SyncError::Clock(e) => e.code(),
            SyncError::AckMismatch(_) => "sync_ack_mismatch",
        }
    }
}

/// What one `sync` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub pushed_batches: usize,
    pub pulled_batches: usize,
    pub pulled_ops: usize,
    pub snapshot_uploaded: bool,
}

pub struct MemoryDevice<R: RngCore + CryptoRng> {
    pub client: SyncClient,
    pub account: AccountId,
    pub device: DeviceId,
    pub token: String,
    key: SyncKey,
    pub clock: HlcClock,
    pub replica: Replica,
    pub chain: ChainState,
    /// Stamped and applied locally, not yet sealed.
    pending: Vec<Op>,
    /// Sealed (their bytes fixed, so a retry is byte-identical), not yet
    /// acknowledged.
    unacked: VecDeque<BatchEnvelope>,
    /// Heads claimed so far, so each batch claims only what moved.
    claimed: BTreeMap<DeviceId, u64>,
    /// Highest cursor the server gave one of our batches.
    own_cursor: u64,
    pub max_ops_per_batch: usize,
    pub max_batches_per_push: usize,
    /// Keep each push request under the server's `max_request_bytes`.
    pub max_push_bytes: usize,
    pub page_limit: Option<u32>,
    rng: R,
}

impl<R: RngCore + CryptoRng> MemoryDevice<R> {
    pub fn new(client: SyncClient, session: &Session, key: SyncKey, rng: R) -> Self {
        MemoryDevice {
            client,
            account: session.account_id,
            device: session.device_id,
            token: session.token.clone(),
            key,
            clock: HlcClock::new(session.device_id),
            replica: Replica::new(),
            chain: ChainState::default(),
            pending: Vec::new(),
            unacked: VecDeque::new(),
            claimed: BTreeMap::new(),
            own_cursor: 0,
            max_ops_per_batch: 1000,
            max_batches_per_push: 50,
            max_push_bytes: 4 << 20,
            page_limit: None,
            rng,
        }
    }

    pub fn key(&self) -> &SyncKey {
        &self.key
    }

    /// Operations not yet sealed into a batch.
    pub fn pending_ops(&self) -> usize {
        self.pending.len()
    }

    /// Sealed batches the server has not acknowledged yet.
    pub fn unacked_batches(&self) -> usize {
        self.unacked.len()
    }

    /// Copies of the sealed, unacknowledged batches, oldest first.
    pub fn sealed_batches(&self) -> Vec<BatchEnvelope> {
        self.unacked.iter().cloned().collect()
    }

    pub fn record(
        &mut self,
        record: RecordRef,
        action: Action,
        now_ms: u64,
    ) -> Result<Op, SyncError> {
        let op = Op {
            record,
            action,
            hlc: self.clock.tick(now_ms)?,
        };
        self.replica.apply(&op);
        self.pending.push(op.clone());
        Ok(op)
    }

    pub fn set(
        &mut self,
        kind: &str,
        id: RecordId,
        field: &str,
        value: Value,
        now_ms: u64,
    ) -> Result<Op, SyncError> {
        self.record(
            RecordRef::new(kind, id),
            Action::Set {
                field: field.into(),
                value,
            },
            now_ms,
        )
    }

    /// Seals pending operations into batches that continue this device's chain.
    pub fn seal(&mut self) {
        while !self.pending.is_empty() {
            let n = self.pending.len().min(self.max_ops_per_batch.max(1));
            let ops: Vec<Op> = self.pending.drain(..n).collect();
            let heads = self.chain.claims_since(self.device, &self.claimed);
            for (d, h) in &heads {
                self.claimed.insert(*d, h.seq);
            }
            let own = self.chain.own_head(self.device);
            let body = BatchBody { heads, ops };
            let env = seal_batch(
                &self.key,
                BatchHeader {
                    batch_id: BatchId::random(&mut self.rng),
                    account: self.account,
                    device: self.device,
                    seq: own.seq + 1,
                    prev: own.hash,
                },
                &body,
                &mut self.rng,
            );
            self.chain.sealed(self.device, &env, &body);
            self.unacked.push_back(env);
        }
    }

    /// Pushes every sealed batch until acknowledged; retries are safe.
    pub async fn push(&mut self) -> Result<usize, SyncError> {
        let mut pushed = 0;
        while !self.unacked.is_empty() {
            // Base64 grows ciphertext by a third; the header adds ~400 bytes.
            let mut size = 0;
            let n = self
                .unacked
                .iter()
                .take(self.max_batches_per_push.max(1))
                .take_while(|b| {
                    size += b.ciphertext.len() * 4 / 3 + 400;
                    size <= self.max_push_bytes
                })
                .count()
                .max(1);
            let batch: Vec<BatchEnvelope> = self.unacked.iter().take(n).cloned().collect();
            let r = self.client.push(&self.token, &batch).await?;
            if r.results.len() != batch.len() {
                return Err(SyncError::AckMismatch(format!(
                    "{} results for {} batches",
                    r.results.len(),
                    batch.len()
                )));
            }
            for (b, a) in batch.iter().zip(&r.results) {
                if a.batch_id != b.batch_id || a.seq != b.seq || a.cursor == 0 || a.cursor > r.head
                {
                    return Err(SyncError::AckMismatch(format!("batch {}", b.batch_id)));
                }
                self.chain.own_acked = self.chain.own_acked.max(a.seq);
                self.own_cursor = self.own_cursor.max(a.cursor);
            }
            self.unacked.drain(..n);
            pushed += n;
        }
        Ok(pushed)
    }

    /// Pulls and merges until caught up. Returns (batches, ops, snapshot wanted).
    pub async fn pull(&mut self) -> Result<(usize, usize, bool), SyncError> {
        let (mut batches, mut ops) = (0, 0);
        loop {
            let page = match self
                .client
                .pull(&self.token, self.chain.cursor, self.page_limit)
                .await
            {
                Err(e) if e.code() == "cursor_compacted" => {
                    self.load_snapshot().await?;
                    continue;
                }
                r => r?,
            };
            let verifier = Verifier {
                account: self.account,
                me: self.device,
                key: &self.key,
            };
            let (state, verified) = verifier.verify_page(&self.chain, &page)?;
            for v in &verified {
                for op in &v.body.ops {
                    self.clock.observe(&op.hlc);
                    self.replica.apply(op);
                    ops += 1;
                }
            }
            batches += verified.len();
            self.chain = state;
            if !page.more {
                return Ok((batches, ops, page.snapshot_wanted));
            }
        }
    }

    /// Loads the account's snapshot, if any, joining it into this replica.
    /// Returns whether there was one.
    pub async fn load_snapshot(&mut self) -> Result<bool, SyncError> {
        let Some(env) = self.client.snapshot(&self.token).await? else {
            return Ok(false);
        };
        let bad = |detail: &str| IntegrityError::BadSnapshot {
            detail: detail.into(),
        };
        if env.account != self.account || env.key_id != self.key.id() {
            return Err(bad("it belongs to another account or key").into());
        }
        let body = open_snapshot(&self.key, &env).map_err(|e| bad(&e.to_string()))?;
        if env.cursor < self.chain.cursor {
            // Older than what we hold: joining is harmless but adds nothing.
            return Ok(true);
        }
        self.chain
            .adopt_snapshot(self.device, env.cursor, &body.heads)?;
        if let Some(h) = body.state.max_hlc() {
            self.clock.observe(&h);
        }
        self.replica.join(&body.state);
        Ok(true)
    }

    /// Seals the whole state as a snapshot. Only a device that is caught up
    /// and has nothing unacknowledged may: the snapshot must contain exactly
    /// the batches up to its cursor.
    pub async fn upload_snapshot(&mut self) -> Result<bool, SyncError> {
        if !self.pending.is_empty()
            || !self.unacked.is_empty()
            || self.own_cursor > self.chain.cursor
        {
            return Ok(false);
        }
        let heads = self
            .chain
            .chains
            .iter()
            .filter_map(|(d, c)| c.head.map(|h| (*d, h)))
            .collect();
        let body = SnapshotBody {
            heads,
            state: self.replica.clone(),
        };
        let env = seal_snapshot(
            &self.key,
            SnapshotHeader {
                snapshot_id: SnapshotId::random(&mut self.rng),
                account: self.account,
                device: self.device,
                cursor: self.chain.cursor,
            },
            &body,
            &mut self.rng,
        );
        match self.client.put_snapshot(&self.token, &env).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == "snapshot_stale" => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Seal, push, pull; then a snapshot if the server asks and we may.
    pub async fn sync(&mut self) -> Result<SyncReport, SyncError> {
        self.seal();
        let pushed_batches = self.push().await?;
        let (pulled_batches, pulled_ops, wanted) = self.pull().await?;
        let snapshot_uploaded = wanted && self.upload_snapshot().await?;
        Ok(SyncReport {
            pushed_batches,
            pulled_batches,
            pulled_ops,
            snapshot_uploaded,
        })
    }

    /// A new device's first sync: the snapshot, then the rest of the log.
    pub async fn bootstrap(&mut self) -> Result<SyncReport, SyncError> {
        self.load_snapshot().await?;
        self.sync().await
    }
}
