//! One sync round: seal → push until acknowledged → pull and merge until
//! caught up. The network is a [`Transport`] (HTTP to `sync-server` for
//! `pp` and the app; anything in-process for tests), so the engine holds
//! no runtime and no HTTP client.

use productivitypro_sync_protocol::api::{PullPage, PushResponse};
use productivitypro_sync_protocol::snapshot::{
    open_snapshot, seal_snapshot, SnapshotBody, SnapshotEnvelope, SnapshotHeader,
};
use productivitypro_sync_protocol::{BatchEnvelope, IntegrityError, Replica, SnapshotId, Verifier};

use super::merge::{Incoming, Scope};
use super::{store, Link, LINK};

use super::outbox::Outgoing;
use super::SyncError;
use crate::error::VaultError;
use crate::vault::Vault;

/// A failed call to the server: its error `code` (the server's, or
/// `server_unreachable` / `bad_response`) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    pub code: String,
    pub message: String,
}

/// The two calls a sync round needs (`docs/sync-protocol.md` §5).
pub trait Transport {
    fn push(&mut self, batches: &[BatchEnvelope]) -> Result<PushResponse, TransportError>;
    fn pull(&mut self, cursor: u64, limit: Option<u32>) -> Result<PullPage, TransportError>;
    /// The account's snapshot; `None` if it has none (`no_snapshot`).
    fn snapshot(&mut self) -> Result<Option<SnapshotEnvelope>, TransportError>;
    /// Stores a snapshot; `false` if the server has a newer one
    /// (`snapshot_stale`).
    fn put_snapshot(&mut self, s: &SnapshotEnvelope) -> Result<bool, TransportError>;
}

impl From<TransportError> for SyncError {
    fn from(e: TransportError) -> Self {
        SyncError::Transport {
            code: e.code,
            message: e.message,
        }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub sealed_batches: usize,
    pub pushed_batches: usize,
    pub pulled_batches: usize,
    pub pulled_ops: usize,
    pub written: usize,
    pub removed: usize,
    pub snapshot_wanted: bool,
    /// A snapshot was joined (a new device, or one told its cursor was
    /// compacted away).
    pub snapshot_loaded: bool,
    pub snapshot_uploaded: bool,
}

/// Batches per push request, and a bound on the request's size (base64
/// grows ciphertext by a third; the header adds ~400 bytes) under the
/// server's 8 MiB body limit.
const MAX_BATCHES_PER_PUSH: usize = 50;
const MAX_PUSH_BYTES: usize = 4 << 20;

impl Vault {
    /// Pushes everything pending, then pulls and merges until caught up.
    /// Each step commits on its own, so an interrupted round (a crash, a
    /// lost connection) is simply run again: a retried push sends the
    /// same bytes, a re-pulled page is merged idempotently.
    pub fn sync_now(&mut self, transport: &mut dyn Transport) -> Result<SyncReport, VaultError> {
        // A merge writes records at the sequences memory knows: take in
        // what other processes committed first (cheap when nothing did).
        self.refresh()?;
        let mut report = SyncReport {
            sealed_batches: self.sync_seal()?,
            ..Default::default()
        };
        report.pushed_batches = self.sync_push(transport)?;
        if self.sync_link()?.value.chain.cursor == 0 {
            // A new device starts from the snapshot, not from the
            // account's first batch.
            report.snapshot_loaded = self.sync_load_snapshot(transport)?;
        }
        self.sync_pull(transport, None, &mut report)?;
        if report.snapshot_wanted {
            report.snapshot_uploaded = self.sync_upload_snapshot(transport)?;
        }
        Ok(report)
    }

    /// Joins the account's snapshot, verified: sealed for this account
    /// and key, and consistent with every chain head already verified.
    /// Returns whether there was one.
    pub fn sync_load_snapshot(
        &mut self,
        transport: &mut dyn Transport,
    ) -> Result<bool, VaultError> {
        let Some(env) = transport.snapshot().map_err(SyncError::from)? else {
            return Ok(false);
        };
        let link = self.sync_link()?;
        let key = link.value.sync_key();
        let bad = |detail: String| SyncError::Integrity(IntegrityError::BadSnapshot { detail });
        if env.account != link.value.account || env.key_id != key.id() {
            return Err(bad("it belongs to another account or key".into()).into());
        }
        let body = open_snapshot(&key, &env).map_err(|e| bad(e.to_string()))?;
        if env.cursor < link.value.chain.cursor {
            // Older than what is merged here: it adds nothing.
            return Ok(true);
        }
        let mut chain = link.value.chain.clone();
        chain
            .adopt_snapshot(link.value.device, env.cursor, &body.heads)
            .map_err(SyncError::from)?;
        self.sync_merge_in(
            Incoming::State(&body.state),
            chain,
            link.seq,
            Scope::Everything,
        )?;
        Ok(true)
    }

    /// Seals the whole merge state as the account's snapshot. Only when
    /// caught up with nothing unsent: the snapshot must hold exactly the
    /// batches up to its cursor. Returns whether the server took it.
    pub fn sync_upload_snapshot(
        &mut self,
        transport: &mut dyn Transport,
    ) -> Result<bool, VaultError> {
        if self.sync_has_outgoing()? {
            return Ok(false);
        }
        // The link and the states from one read.
        let (link, records) = {
            let tx = self.conn.unchecked_transaction()?;
            let mut ledger = self.ledger_reader(&tx)?;
            let link = store::read_state::<Link>(&tx, &mut ledger, &self.key, self.key_id, LINK)?
                .ok_or(SyncError::NotSignedIn)?
                .value;
            let records = store::read_all_records(&tx, &mut ledger, &self.key, self.key_id)?;
            drop(ledger);
            tx.finish()?;
            (link, records)
        };
        if link.own_cursor > link.chain.cursor {
            return Ok(false);
        }
        let body = SnapshotBody {
            heads: link
                .chain
                .chains
                .iter()
                .filter_map(|(d, c)| c.head.map(|h| (*d, h)))
                .collect(),
            state: Replica {
                records: records.into_iter().map(|(r, s)| (r, s.state)).collect(),
            },
        };
        let key = link.sync_key();
        let env = seal_snapshot(
            &key,
            SnapshotHeader {
                snapshot_id: SnapshotId::random(self.env.rng.as_mut()),
                account: link.account,
                device: link.device,
                cursor: link.chain.cursor,
            },
            &body,
            &mut self.env.rng.as_mut(),
        );
        Ok(transport.put_snapshot(&env).map_err(SyncError::from)?)
    }

    /// Pushes every sealed batch until acknowledged.
    pub fn sync_push(&mut self, transport: &mut dyn Transport) -> Result<usize, VaultError> {
        let mut pushed = 0;
        loop {
            let mut outgoing = self.sync_outgoing()?;
            if outgoing.is_empty() {
                return Ok(pushed);
            }
            let mut size = 0;
            let n = outgoing
                .iter()
                .take(MAX_BATCHES_PER_PUSH)
                .take_while(|b| {
                    size += b.envelope.ciphertext.len() * 4 / 3 + 400;
                    size <= MAX_PUSH_BYTES
                })
                .count()
                .max(1);
            outgoing.truncate(n);
            let envelopes: Vec<BatchEnvelope> = outgoing
                .iter()
                .map(|o: &Outgoing| o.envelope.clone())
                .collect();
            let answer = transport.push(&envelopes).map_err(SyncError::from)?;
            self.sync_acknowledge(&outgoing, &answer)?;
            pushed += n;
        }
    }

    /// Pulls from the stored cursor and merges page by page: each page is
    /// verified whole before anything in it is merged, and merged in one
    /// transaction with the verifier state it leads to.
    pub fn sync_pull(
        &mut self,
        transport: &mut dyn Transport,
        page_limit: Option<u32>,
        report: &mut SyncReport,
    ) -> Result<(), VaultError> {
        loop {
            let link = self.sync_link()?;
            let page = match transport.pull(link.value.chain.cursor, page_limit) {
                // Our cursor is below the compaction point: join the
                // snapshot (nothing local is lost: it is the merge join),
                // then pull after it.
                Err(e) if e.code == "cursor_compacted" => {
                    if !self.sync_load_snapshot(transport)? {
                        return Err(SyncError::from(e).into());
                    }
                    report.snapshot_loaded = true;
                    continue;
                }
                r => r.map_err(SyncError::from)?,
            };
            let key = link.value.sync_key();
            let verifier = Verifier {
                account: link.value.account,
                me: link.value.device,
                key: &key,
            };
            let (chain, verified) = verifier
                .verify_page(&link.value.chain, &page)
                .map_err(SyncError::from)?;
            let ops: Vec<_> = verified
                .into_iter()
                .flat_map(|v| {
                    report.pulled_batches += 1;
                    v.body.ops
                })
                .collect();
            let merged = self.sync_merge(Incoming::Ops(&ops), chain, link.seq)?;
            report.pulled_ops += merged.ops;
            report.written += merged.written;
            report.removed += merged.removed;
            report.snapshot_wanted = page.snapshot_wanted;
            if !page.more {
                return Ok(());
            }
        }
    }
}
