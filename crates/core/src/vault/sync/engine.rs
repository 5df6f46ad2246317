//! One sync round: seal → push until acknowledged → pull and merge until
//! caught up. The network is a [`Transport`] (HTTP to `sync-server` for
//! `pp` and the app; anything in-process for tests), so the engine holds
//! no runtime and no HTTP client.

use productivitypro_sync_protocol::api::{PullPage, PushResponse};
use productivitypro_sync_protocol::{BatchEnvelope, Verifier};

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
        let mut report = SyncReport {
            sealed_batches: self.sync_seal()?,
            ..Default::default()
        };
        report.pushed_batches = self.sync_push(transport)?;
        self.sync_pull(transport, None, &mut report)?;
        Ok(report)
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
            let page = transport
                .pull(link.value.chain.cursor, page_limit)
                .map_err(SyncError::from)?;
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
            let merged = self.sync_merge(&ops, chain, link.seq)?;
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
