//! The client's defence against a hostile or broken server. Every pulled
//! page is checked whole before anything in it is merged: each batch must
//! authenticate under the account's key with the header it is served under,
//! continue its device's hash chain exactly, arrive in cursor order, and be
//! consistent with every other device's claimed view (version vectors) and
//! with the server's own stated heads. Each way the server can cheat has
//! its own error and code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::PullPage;
use crate::batch::{self, BatchBody, BatchEnvelope, Head, OpenError};
use crate::hlc::Hlc;
use crate::ids::{AccountId, BatchId, DeviceId, Hash32, KeyId};
use crate::keys::SyncKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    #[error("the server served batch {batch} of another account")]
    ForeignAccount { batch: BatchId },
    #[error("the server served batch {batch} sealed under key {key_id}, not this account's key")]
    WrongKey { batch: BatchId, key_id: KeyId },
    #[error("the server served batch {batch} as device {claimed}'s, but it is device {actual}'s")]
    DeviceSwapped {
        batch: BatchId,
        claimed: DeviceId,
        actual: DeviceId,
    },
    #[error(
        "batch {batch} does not authenticate: altered, or moved from another account or position"
    )]
    Tampered { batch: BatchId },
    #[error("the server served device {device}'s batch {seq} again")]
    Replayed { device: DeviceId, seq: u64 },
    #[error("the server dropped device {device}'s batch {expected} (served {got} next)")]
    Dropped {
        device: DeviceId,
        expected: u64,
        got: u64,
    },
    #[error("the server served batches out of order ({detail})")]
    Reordered { detail: String },
    #[error("the server rolled back: {detail}")]
    RolledBack { detail: String },
    #[error(
        "device {device}'s history forked at batch {seq}: two different batches claim that place"
    )]
    Forked { device: DeviceId, seq: u64 },
    #[error("the server withheld device {device}'s batch {seq}: another device has seen it")]
    Withheld { device: DeviceId, seq: u64 },
    #[error("batch {batch} uses format {format}, newer than this app; update the app")]
    UnsupportedFormat { batch: BatchId, format: u16 },
    #[error("batch {batch} opened but is malformed: {detail}")]
    Malformed { batch: BatchId, detail: String },
    #[error("the server's page is inconsistent: {detail}")]
    InconsistentPage { detail: String },
    #[error("the snapshot does not authenticate or does not fit this account's history: {detail}")]
    BadSnapshot { detail: String },
}

impl IntegrityError {
    /// Stable codes front ends branch on; each names one kind of cheating.
    pub fn code(&self) -> &'static str {
        match self {
            IntegrityError::ForeignAccount { .. } => "sync_foreign_account",
            IntegrityError::WrongKey { .. } => "sync_wrong_key",
            IntegrityError::DeviceSwapped { .. } => "sync_device_swapped",
            IntegrityError::Tampered { .. } => "sync_tampered",
            IntegrityError::Replayed { .. } => "sync_replayed",
            IntegrityError::Dropped { .. } => "sync_dropped",
            IntegrityError::Reordered { .. } => "sync_reordered",
            IntegrityError::RolledBack { .. } => "sync_rolled_back",
            IntegrityError::Forked { .. } => "sync_forked",
            IntegrityError::Withheld { .. } => "sync_withheld",
            IntegrityError::UnsupportedFormat { .. } => "sync_unsupported_format",
            IntegrityError::Malformed { .. } => "sync_malformed",
            IntegrityError::InconsistentPage { .. } => "sync_inconsistent_page",
            IntegrityError::BadSnapshot { .. } => "sync_bad_snapshot",
        }
    }

    pub const CODES: &'static [&'static str] = &[
        "sync_foreign_account",
        "sync_wrong_key",
        "sync_device_swapped",
        "sync_tampered",
        "sync_replayed",
        "sync_dropped",
        "sync_reordered",
        "sync_rolled_back",
        "sync_forked",
        "sync_withheld",
        "sync_unsupported_format",
        "sync_malformed",
        "sync_inconsistent_page",
        "sync_bad_snapshot",
    ];
}

/// What a client knows of one device's chain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Chain {
    pub head: Option<Head>,
    /// Hashes by seq, for checking other devices' claims; may be pruned.
    pub hashes: BTreeMap<u64, Hash32>,
    /// The greatest operation clock in the chain so far.
    pub last_hlc: Option<Hlc>,
}

impl Chain {
    pub fn seq(&self) -> u64 {
        self.head.map_or(0, |h| h.seq)
    }
    fn hash(&self) -> Hash32 {
        self.head.map_or(Hash32::ZERO, |h| h.hash)
    }
    fn advance(&mut self, head: Head, last_hlc: Option<Hlc>) {
        self.head = Some(head);
        self.hashes.insert(head.seq, head.hash);
        if last_hlc > self.last_hlc {
            self.last_hlc = last_hlc;
        }
    }
}

/// Everything a client persists (with its vault, in the transaction that
/// merges a page) to verify the server over time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChainState {
    /// Account log position everything up to which is merged.
    pub cursor: u64,
    /// Every device's chain as verified, this device's own included (its
    /// sealed batches, acknowledged or not).
    pub chains: BTreeMap<DeviceId, Chain>,
    /// This device's highest batch the server acknowledged.
    pub own_acked: u64,
}

/// A verified batch, ready to merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub cursor: u64,
    pub device: DeviceId,
    pub seq: u64,
    pub body: BatchBody,
}

pub struct Verifier<'k> {
    pub account: AccountId,
    pub me: DeviceId,
    pub key: &'k SyncKey,
}

fn reorder(detail: impl Into<String>) -> IntegrityError {
    IntegrityError::Reordered {
        detail: detail.into(),
    }
}

impl Verifier<'_> {
    /// Checks a page served for `state.cursor`. On success returns the new
    /// state and the batches to merge (other devices' only); the caller
    /// merges them and stores the state in one transaction. On any error
    /// nothing from the page may be merged.
    pub fn verify_page(
        &self,
        state: &ChainState,
        page: &PullPage,
    ) -> Result<(ChainState, Vec<Verified>), IntegrityError> {
        let mut st = state.clone();
        if page.head < state.cursor {
            return Err(IntegrityError::RolledBack {
                detail: format!(
                    "the account log ends at {} but {} was already merged",
                    page.head, state.cursor
                ),
            });
        }
        let mut out = Vec::with_capacity(page.batches.len());
        let mut last_cursor = state.cursor;
        for (i, pb) in page.batches.iter().enumerate() {
            let env = &pb.batch;
            if pb.cursor <= last_cursor {
                return Err(reorder(format!(
                    "cursor {} served after {}",
                    pb.cursor, last_cursor
                )));
            }
            if pb.cursor > page.head {
                return Err(IntegrityError::InconsistentPage {
                    detail: format!("cursor {} beyond the stated head {}", pb.cursor, page.head),
                });
            }
            last_cursor = pb.cursor;
            let body = self.open(env, &st, page)?;
            self.extend_chain(&mut st, env, &body, &page.batches[i + 1..])?;
            self.check_claims(&st, &body)?;
            if env.device != self.me {
                out.push(Verified {
                    cursor: pb.cursor,
                    device: env.device,
                    seq: env.seq,
                    body,
                });
            }
        }
        if page.next < last_cursor || page.next > page.head || page.next < state.cursor {
            return Err(IntegrityError::InconsistentPage {
                detail: format!(
                    "next cursor {} outside [{last_cursor}, {}]",
                    page.next, page.head
                ),
            });
        }
        if !page.more && page.next != page.head {
            return Err(IntegrityError::InconsistentPage {
                detail: format!(
                    "the page is final but ends at {}, not the head {}",
                    page.next, page.head
                ),
            });
        }
        self.check_server_heads(&st, page)?;
        st.cursor = page.next;
        Ok((st, out))
    }

    fn open(
        &self,
        env: &BatchEnvelope,
        st: &ChainState,
        page: &PullPage,
    ) -> Result<BatchBody, IntegrityError> {
        let batch = env.batch_id;
        if env.account != self.account {
            return Err(IntegrityError::ForeignAccount { batch });
        }
        if env.key_id != self.key.id() {
            return Err(IntegrityError::WrongKey {
                batch,
                key_id: env.key_id,
            });
        }
        if env.check_shape().is_err() {
            return Err(IntegrityError::Tampered { batch });
        }
        match batch::open_batch(self.key, env) {
            Ok(b) => Ok(b),
            Err(OpenError::UnsupportedFormat(format)) => {
                Err(IntegrityError::UnsupportedFormat { batch, format })
            }
            Err(OpenError::Malformed(detail)) => Err(IntegrityError::Malformed { batch, detail }),
            Err(OpenError::Unauthentic) => {
                // Diagnosis: does it open as another device's batch?
                let candidates = st
                    .chains
                    .keys()
                    .chain(page.devices.keys())
                    .filter(|d| **d != env.device);
                for d in candidates {
                    let aad = batch::header_aad(
                        env.format,
                        env.account,
                        *d,
                        env.seq,
                        env.key_id,
                        env.batch_id,
                        env.prev,
                    );
                    if batch::open_raw(self.key, env, &aad).is_ok() {
                        return Err(IntegrityError::DeviceSwapped {
                            batch,
                            claimed: env.device,
                            actual: *d,
                        });
                    }
                }
                Err(IntegrityError::Tampered { batch })
            }
        }
    }

    fn extend_chain(
        &self,
        st: &mut ChainState,
        env: &BatchEnvelope,
        body: &BatchBody,
        rest: &[crate::api::PulledBatch],
    ) -> Result<(), IntegrityError> {
        let d = env.device;
        let hash = env.hash();
        let chain = st.chains.entry(d).or_default();
        if d == self.me {
            // Served our own batch: it must be one we sealed, bit for bit.
            return match chain.hashes.get(&env.seq) {
                Some(h) if *h == hash => Ok(()),
                _ => Err(IntegrityError::Forked {
                    device: d,
                    seq: env.seq,
                }),
            };
        }
        let known = chain.seq();
        if env.seq <= known {
            return match chain.hashes.get(&env.seq) {
                Some(h) if *h != hash => Err(IntegrityError::Forked {
                    device: d,
                    seq: env.seq,
                }),
                _ => Err(IntegrityError::Replayed {
                    device: d,
                    seq: env.seq,
                }),
            };
        }
        if env.seq > known + 1 {
            let missing_later = rest
                .iter()
                .any(|b| b.batch.device == d && b.batch.seq == known + 1);
            return Err(if missing_later {
                reorder(format!(
                    "device {d}'s batch {} served before its batch {}",
                    env.seq,
                    known + 1
                ))
            } else {
                IntegrityError::Dropped {
                    device: d,
                    expected: known + 1,
                    got: env.seq,
                }
            });
        }
        if env.prev != chain.hash() {
            return Err(IntegrityError::Forked {
                device: d,
                seq: env.seq,
            });
        }
        let first = body.ops.first().map(|o| o.hlc);
        if first.is_some() && first <= chain.last_hlc {
            return Err(IntegrityError::Malformed {
                batch: env.batch_id,
                detail: "operation clocks go back from the device's previous batch".into(),
            });
        }
        chain.advance(Head { seq: env.seq, hash }, body.ops.last().map(|o| o.hlc));
        Ok(())
    }

    /// A claim "device X is at (seq, hash)" from a batch served at cursor c
    /// was made after X's batch was stored, so X's batch came before c: if
    /// we have not been served it, it was withheld.
    fn check_claims(&self, st: &ChainState, body: &BatchBody) -> Result<(), IntegrityError> {
        for (x, claim) in &body.heads {
            let chain = st.chains.get(x);
            let known = chain.map_or(0, Chain::seq);
            if claim.seq > known {
                return Err(if *x == self.me {
                    IntegrityError::Forked {
                        device: *x,
                        seq: claim.seq,
                    }
                } else {
                    IntegrityError::Withheld {
                        device: *x,
                        seq: claim.seq,
                    }
                });
            }
            if let Some(h) = chain.and_then(|c| c.hashes.get(&claim.seq)) {
                if *h != claim.hash {
                    return Err(IntegrityError::Forked {
                        device: *x,
                        seq: claim.seq,
                    });
                }
            }
        }
        Ok(())
    }

    /// The server's stated heads must agree with what it served: never
    /// behind what we verified (rollback), and on a final page never ahead
    /// of it (withholding).
    fn check_server_heads(&self, st: &ChainState, page: &PullPage) -> Result<(), IntegrityError> {
        for (d, chain) in &st.chains {
            let known = if *d == self.me {
                st.own_acked
            } else {
                chain.seq()
            };
            if known == 0 {
                continue;
            }
            let stated = page.devices.get(d).map_or(0, |h| h.seq);
            if stated < known {
                return Err(IntegrityError::RolledBack {
                    detail: format!("device {d} is at batch {known} but the server says {stated}"),
                });
            }
        }
        for (d, stated) in &page.devices {
            let chain = st.chains.get(d);
            let known = chain.map_or(0, Chain::seq);
            if *d == self.me {
                // Unacknowledged batches may have landed; they must be ours.
                if stated.seq > known {
                    return Err(IntegrityError::Forked {
                        device: *d,
                        seq: stated.seq,
                    });
                }
            } else if !page.more && stated.seq > known {
                return Err(IntegrityError::Withheld {
                    device: *d,
                    seq: stated.seq,
                });
            }
            if let Some(h) = chain.and_then(|c| c.hashes.get(&stated.seq)) {
                if *h != stated.hash {
                    return Err(IntegrityError::Forked {
                        device: *d,
                        seq: stated.seq,
                    });
                }
            }
        }
        Ok(())
    }
}

impl ChainState {
    /// Records a batch this device sealed (before it is first sent).
    pub fn sealed(&mut self, me: DeviceId, env: &BatchEnvelope, body: &BatchBody) {
        self.chains.entry(me).or_default().advance(
            Head {
                seq: env.seq,
                hash: env.hash(),
            },
            body.ops.last().map(|o| o.hlc),
        );
    }

    /// This device's head: where its next batch continues from.
    pub fn own_head(&self, me: DeviceId) -> Head {
        self.chains.get(&me).and_then(|c| c.head).unwrap_or(Head {
            seq: 0,
            hash: Hash32::ZERO,
        })
    }

    /// Heads of other devices that moved since `since` (the claims a new
    /// batch carries).
    pub fn claims_since(
        &self,
        me: DeviceId,
        since: &BTreeMap<DeviceId, u64>,
    ) -> BTreeMap<DeviceId, Head> {
        self.chains
            .iter()
            .filter(|(d, _)| **d != me)
            .filter_map(|(d, c)| {
                let h = c.head?;
                (h.seq > since.get(d).copied().unwrap_or(0)).then_some((*d, h))
            })
            .collect()
    }

    /// Starts from (or fast-forwards to) a verified snapshot: each device's
    /// chain continues from the snapshot's head unless already further.
    pub fn adopt_snapshot(
        &mut self,
        me: DeviceId,
        cursor: u64,
        heads: &BTreeMap<DeviceId, Head>,
    ) -> Result<(), IntegrityError> {
        for (d, h) in heads {
            let chain = self.chains.entry(*d).or_default();
            if let Some(known) = chain.hashes.get(&h.seq) {
                if *known != h.hash {
                    return Err(IntegrityError::Forked {
                        device: *d,
                        seq: h.seq,
                    });
                }
            }
            if *d == me {
                if h.seq > chain.seq() {
                    return Err(IntegrityError::Forked {
                        device: *d,
                        seq: h.seq,
                    });
                }
                continue;
            }
            if h.seq > chain.seq() {
                chain.head = Some(*h);
                chain.hashes.insert(h.seq, h.hash);
            }
        }
        self.cursor = self.cursor.max(cursor);
        Ok(())
    }

    /// Drops remembered hashes more than `keep` batches behind each head.
    pub fn prune(&mut self, keep: u64) {
        for c in self.chains.values_mut() {
            let floor = c.seq().saturating_sub(keep);
            c.hashes = c.hashes.split_off(&floor);
        }
    }
}
