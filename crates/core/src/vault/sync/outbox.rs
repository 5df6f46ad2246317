//! Sealing pending operations into batches, and retiring batches the
//! server acknowledged (`docs/sync-protocol.md` §12 steps 2 and 3).
//!
//! A batch is sealed once: its envelope (batch id, nonce, ciphertext) is
//! kept in the outbox, sealed again under the data key, until the server
//! acknowledges it, so every retry sends identical bytes and the server
//! answers a duplicate instead of storing it twice.

use productivitypro_sync_protocol::api::PushResponse;
use productivitypro_sync_protocol::batch::{seal_batch_with_nonce, BatchHeader};
use productivitypro_sync_protocol::op::WireOp;
use productivitypro_sync_protocol::{BatchBody, BatchEnvelope, BatchId, Op};

use super::store::{self, OutboxKind};
use super::{read_in, Link, SyncError, LINK};
use crate::error::VaultError;
use crate::vault::Vault;

/// Operations per batch (the reference client's figure), and a bound on
/// their JSON so a batch stays far under the server's 1 MiB ciphertext
/// limit whatever the notes hold.
pub(crate) const MAX_OPS_PER_BATCH: usize = 1000;
pub(crate) const MAX_BATCH_PLAIN: usize = 512 * 1024;

/// A sealed batch waiting for its acknowledgement, with its outbox place.
pub(crate) struct Outgoing {
    pub pos: i64,
    pub seq: i64,
    pub envelope: BatchEnvelope,
}

impl Vault {
    /// Seals every pending operation into batches that continue this
    /// device's chain, in one transaction. Returns how many batches.
    pub fn sync_seal(&mut self) -> Result<usize, VaultError> {
        let (ops, _) = store::outbox_counts(&self.conn)?;
        if ops == 0 {
            return Ok(0);
        }
        let mut sealed = 0;
        self.commit_with(Vec::new(), &mut |cx| {
            sealed = 0;
            let Some(link) = read_in::<Link>(cx, LINK)? else {
                return Err(SyncError::NotSignedIn.into());
            };
            let mut l = link.value;
            let key = l.sync_key();
            let rows = store::read_outbox(cx.tx, cx.ledger, cx.key, cx.key_id, OutboxKind::Ops)?;
            let mut ops: Vec<Op> = Vec::new();
            for row in &rows {
                let wire: Vec<WireOp> = serde_json::from_slice(&row.plain).map_err(|e| {
                    VaultError::RecordUnreadable {
                        kind: "sync outbox",
                        id: row.pos.to_string(),
                        detail: e.to_string(),
                    }
                })?;
                for w in wire {
                    ops.push(Op::from_wire(w, l.device).map_err(|e| {
                        VaultError::RecordUnreadable {
                            kind: "sync outbox",
                            id: row.pos.to_string(),
                            detail: e.to_string(),
                        }
                    })?);
                }
            }
            let mut rest = ops.as_slice();
            while !rest.is_empty() {
                let mut size = 0;
                let n = rest
                    .iter()
                    .take(MAX_OPS_PER_BATCH)
                    .take_while(|o| {
                        size += serde_json::to_vec(&o.to_wire()).map_or(0, |v| v.len()) + 1;
                        size <= MAX_BATCH_PLAIN
                    })
                    .count()
                    .max(1);
                let (now, later) = rest.split_at(n);
                rest = later;
                let heads = l.chain.claims_since(l.device, &l.claimed);
                for (d, h) in &heads {
                    l.claimed.insert(*d, h.seq);
                }
                let own = l.chain.own_head(l.device);
                let body = BatchBody {
                    heads,
                    ops: now.to_vec(),
                };
                let mut nonce = [0u8; 24];
                cx.rng.fill_bytes(&mut nonce);
                let env = seal_batch_with_nonce(
                    &key,
                    BatchHeader {
                        batch_id: BatchId::random(&mut *cx.rng),
                        account: l.account,
                        device: l.device,
                        seq: own.seq + 1,
                        prev: own.hash,
                    },
                    &body,
                    nonce,
                );
                l.chain.sealed(l.device, &env, &body);
                let plain =
                    zeroize::Zeroizing::new(serde_json::to_vec(&env).expect("envelopes serialise"));
                store::append_outbox(cx, OutboxKind::Batch, &plain)?;
                sealed += 1;
            }
            for row in &rows {
                store::remove_outbox(cx, row.pos, row.seq)?;
            }
            store::write_state(cx, LINK, &l, Some(link.seq))
        })?;
        Ok(sealed)
    }

    /// The sealed batches not acknowledged yet, oldest first.
    pub(crate) fn sync_outgoing(&self) -> Result<Vec<Outgoing>, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ledger = self.ledger_reader(&tx)?;
        let rows = store::read_outbox(&tx, &mut ledger, &self.key, self.key_id, OutboxKind::Batch)?;
        drop(ledger);
        tx.finish()?;
        rows.into_iter()
            .map(|row| {
                let envelope = serde_json::from_slice(&row.plain).map_err(|e| {
                    VaultError::RecordUnreadable {
                        kind: "sync outbox",
                        id: row.pos.to_string(),
                        detail: e.to_string(),
                    }
                })?;
                Ok(Outgoing {
                    pos: row.pos,
                    seq: row.seq,
                    envelope,
                })
            })
            .collect()
    }

    /// Retires the batches a push answer acknowledges, after checking the
    /// answer names exactly those batches (`sync_ack_mismatch`).
    pub(crate) fn sync_acknowledge(
        &mut self,
        sent: &[Outgoing],
        answer: &PushResponse,
    ) -> Result<(), VaultError> {
        if answer.results.len() != sent.len() {
            return Err(SyncError::AckMismatch(format!(
                "{} results for {} batches",
                answer.results.len(),
                sent.len()
            ))
            .into());
        }
        for (b, a) in sent.iter().zip(&answer.results) {
            let e = &b.envelope;
            if a.batch_id != e.batch_id || a.seq != e.seq || a.cursor == 0 || a.cursor > answer.head
            {
                return Err(SyncError::AckMismatch(format!("batch {}", e.batch_id)).into());
            }
        }
        let now = self.env.now();
        self.commit_with(Vec::new(), &mut |cx| {
            let Some(link) = read_in::<Link>(cx, LINK)? else {
                return Err(SyncError::NotSignedIn.into());
            };
            let mut l = link.value;
            for (b, a) in sent.iter().zip(&answer.results) {
                // Gone already: another process acknowledged it first.
                if store::outbox_seq(cx.tx, b.pos)? == Some(b.seq) {
                    store::remove_outbox(cx, b.pos, b.seq)?;
                }
                l.chain.own_acked = l.chain.own_acked.max(a.seq);
                l.own_cursor = l.own_cursor.max(a.cursor);
            }
            l.last_exchange = Some(now);
            store::write_state(cx, LINK, &l, Some(link.seq))
        })?;
        Ok(())
    }
}
