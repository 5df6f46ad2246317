//! The sync client engine, inside the vault (`docs/sync-protocol.md` is
//! the contract; `productivitypro-sync-protocol` holds its crypto, clock,
//! merge rules and checks). The network is behind [`Transport`], so the
//! engine runs the same against the real server and in-process.
//!
//! Every step is one vault transaction, together with what it belongs to
//! (§12 of the spec), so a crash anywhere repeats at most the last
//! network call:
//! - a local action records its operations (stamped by the clock, whose
//!   last value is stored with them) and each touched record's new merge
//!   state in the action's own transaction (`local.rs`);
//! - sealing turns pending operations into batches that continue this
//!   device's chain; an acknowledgement retires them (`outbox.rs`);
//! - a pulled page is verified whole, then merged in one transaction
//!   with the verifier state it advances to (`merge.rs`);
//! - `engine.rs` drives seal → push → pull → merge.
//!
//! Sealed rows and their integrity: `store.rs`. Fields: `fields.rs`.

mod account;
mod engine;
pub(crate) mod fields;
mod http;
pub(crate) mod local;
mod merge;
mod outbox;
mod reissue;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::records::InTx;
use super::Vault;
use crate::error::VaultError;
use productivitypro_sync_protocol::hlc::HlcError;
use productivitypro_sync_protocol::keys::SyncKey;
use productivitypro_sync_protocol::{AccountId, DeviceId, IntegrityError, KeyId as SyncKeyId};

pub use account::{JoinRefused, Joined, RecoveryChoice, SyncAccount, SyncDevice, SyncJoin};
pub use engine::{SyncReport, Transport, TransportError};
pub use http::HttpTransport;
pub(crate) use local::LocalPlan;

/// Named values in `sync_state`.
pub(crate) const LINK: &str = "link";
pub(crate) const CLOCK: &str = "clock";
pub(crate) const KNOWN: &str = "known";

/// Verified chain hashes kept per device for checking other devices'
/// claims; older ones are dropped.
const KEEP_HASHES: u64 = 512;

/// What can go wrong with sync inside the vault. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this vault does not sync; sign in with `pp sync login` or `pp sync signup`")]
    NotSignedIn,
    #[error("this vault already syncs account {account}; sign out first (`pp sync logout`)")]
    AlreadySignedIn { account: AccountId },
    #[error("this vault synced account {expected} (key {expected_key}) before; refusing account {found} (key {found_key}) so that two accounts' tasks are never mixed — use the same account, or sign out with --forget-account first")]
    AccountMismatch {
        expected: AccountId,
        expected_key: SyncKeyId,
        found: AccountId,
        found_key: SyncKeyId,
    },
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    #[error("the server acknowledged something else than was pushed: {0}")]
    AckMismatch(String),
    #[error(transparent)]
    Clock(#[from] HlcError),
    #[error("another process synced or signed in this vault meanwhile; try again")]
    StateMoved,
    #[error("{kind} {id} was deleted for good, and a syncing vault keeps deletions forever (every device must agree), so it cannot be brought back; add it again instead")]
    Purged { kind: String, id: String },
    #[error("{ops} operation rows and {batches} sealed batches were not sent yet; sync first, or sign out with --discard-unsent")]
    Unsent { ops: usize, batches: usize },
    #[error("the sync server could not be used: {message}")]
    Transport { code: String, message: String },
    /// An account flow failed (the server's code, or the client's own:
    /// `wrong_passphrase`, `key_id_mismatch`, `invalid_email`, …).
    #[error("{message}")]
    Account { code: String, message: String },
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NotSignedIn => "sync_off",
            SyncError::AlreadySignedIn { .. } => "sync_already_on",
            SyncError::AccountMismatch { .. } => "account_mismatch",
            SyncError::Integrity(e) => e.code(),
            SyncError::AckMismatch(_) => "sync_ack_mismatch",
            SyncError::Clock(e) => e.code(),
            SyncError::StateMoved => "sync_state_moved",
            SyncError::Purged { .. } => "record_purged",
            SyncError::Unsent { .. } => "sync_unsent",
            SyncError::Transport { code, .. } => server_code(code),
            SyncError::Account { code, .. } => match code.as_str() {
                "account_mismatch" => "account_mismatch",
                c => CLIENT_ACCOUNT_CODES
                    .iter()
                    .find(|k| **k == c)
                    .copied()
                    .unwrap_or_else(|| server_code(c)),
            },
        }
    }
}

/// Codes an account flow makes on the client (`KeyError::code`).
const CLIENT_ACCOUNT_CODES: &[&str] = &[
    "invalid_email",
    "empty_passphrase",
    "weak_kdf_params",
    "excessive_kdf_params",
    "invalid_kdf_salt",
    "wrong_passphrase",
    "key_id_mismatch",
    "device_name_too_long",
    "device_name_unreadable",
];

/// The server's codes are a closed list (`api::ERROR_CODES`); anything
/// else is an answer this client cannot use.
fn server_code(code: &str) -> &'static str {
    match code {
        "server_unreachable" => "server_unreachable",
        c => productivitypro_sync_protocol::api::ERROR_CODES
            .iter()
            .find(|(k, _)| *k == c)
            .map_or("bad_response", |(k, _)| k),
    }
}

/// The sync key, serialised inside the sealed link only.
#[derive(Clone)]
pub(crate) struct KeyBytes(pub Zeroizing<[u8; 32]>);

impl Serialize for KeyBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(hex::encode(*self.0)))
    }
}

impl<'de> Deserialize<'de> for KeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        let mut k = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s.as_bytes(), k.as_mut()).map_err(serde::de::Error::custom)?;
        Ok(KeyBytes(k))
    }
}

/// The account link: everything about the account, sealed under the
/// vault's data key (sync key and device token included).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Link {
    pub server: String,
    pub email: String,
    pub account: AccountId,
    pub device: DeviceId,
    pub key: KeyBytes,
    pub key_id: SyncKeyId,
    pub token: String,
    pub chain: productivitypro_sync_protocol::ChainState,
    /// Heads claimed in our batches so far (each batch claims what moved).
    pub claimed: BTreeMap<DeviceId, u64>,
    /// The highest cursor the server gave one of our batches.
    pub own_cursor: u64,
    pub last_exchange: Option<DateTime<Utc>>,
    pub signed_in_at: DateTime<Utc>,
}

impl Link {
    pub fn sync_key(&self) -> SyncKey {
        SyncKey::from_bytes(*self.key.0)
    }
}

/// The clock: what every local action in a syncing vault reads and
/// writes, so it is kept apart from the (larger) link.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ClockState {
    pub device: DeviceId,
    pub ms: u64,
    pub counter: u32,
}

/// The account this vault synced with; kept after signing out so that
/// another account's sign-in is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownAccount {
    pub account: AccountId,
    pub key_id: SyncKeyId,
}

/// What signing up or in produced (after the key-id check), for
/// [`Vault::sync_enable`].
#[derive(Clone)]
pub struct NewLink {
    pub server: String,
    pub email: String,
    pub account: AccountId,
    pub device: DeviceId,
    pub key: SyncKey,
    pub token: Zeroizing<String>,
}

/// Where to reach the server, for the transport.
pub struct SyncEndpoint {
    pub server: String,
    pub token: Zeroizing<String>,
    pub account: AccountId,
    pub device: DeviceId,
}

/// What `pp sync status` and the app show (no keys, no token).
#[derive(Debug, Clone, Serialize)]
pub struct SyncInfo {
    pub server: String,
    pub email: String,
    pub account: AccountId,
    pub device: DeviceId,
    pub key_id: SyncKeyId,
    /// The account log position merged up to.
    pub cursor: u64,
    /// Rows of operations recorded but not sealed into a batch yet.
    pub pending_op_rows: usize,
    /// Sealed batches the server has not acknowledged yet.
    pub unsent_batches: usize,
    /// This device's last batch the server acknowledged.
    pub acknowledged_seq: u64,
    pub devices_seen: usize,
    pub last_exchange: Option<DateTime<Utc>>,
    pub signed_in_at: DateTime<Utc>,
}

/// Reads a named state inside a commit, checked against the ledger.
pub(crate) fn read_in<T: serde::de::DeserializeOwned>(
    cx: &mut InTx<'_, '_>,
    name: &str,
) -> Result<Option<store::Named<T>>, VaultError> {
    store::read_state(cx.tx, cx.ledger, cx.key, cx.key_id, name)
}

impl Vault {
    /// Reads named sync state in a read transaction, checked against the
    /// ledger.
    pub(crate) fn sync_read<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<store::Named<T>>, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ledger = self.ledger_reader(&tx)?;
        let v = store::read_state(&tx, &mut ledger, &self.key, self.key_id, name)?;
        drop(ledger);
        tx.finish()?;
        Ok(v)
    }

    pub(crate) fn sync_link(&self) -> Result<store::Named<Link>, VaultError> {
        self.sync_read::<Link>(LINK)?
            .ok_or_else(|| SyncError::NotSignedIn.into())
    }

    /// Whether this vault syncs (a hint read without decryption; every
    /// sync step reads the state checked).
    pub fn sync_enabled(&self) -> Result<bool, VaultError> {
        store::state_exists(&self.conn, CLOCK)
    }

    /// A fresh random device id (from the vault's random source).
    pub fn sync_new_device_id(&mut self) -> DeviceId {
        DeviceId::random(self.env.rng.as_mut())
    }

    /// The account this vault syncs or synced with, if any.
    pub fn sync_known_account(&self) -> Result<Option<KnownAccount>, VaultError> {
        Ok(self.sync_read::<KnownAccount>(KNOWN)?.map(|n| n.value))
    }

    /// Starts syncing with an account the caller signed in to (after its
    /// key-id check). Refuses another account than the one this vault
    /// synced with before (`account_mismatch`). In the same transaction
    /// every record already here is stamped: its fields become
    /// operations waiting to be sent, so the account gets them (records
    /// have random ids, so they join the account's tasks, never replace
    /// them).
    pub fn sync_enable(&mut self, new: NewLink) -> Result<(), VaultError> {
        let known = KnownAccount {
            account: new.account,
            key_id: new.key.id(),
        };
        if let Some(k) = self.sync_known_account()? {
            if k != known {
                return Err(SyncError::AccountMismatch {
                    expected: k.account,
                    expected_key: k.key_id,
                    found: known.account,
                    found_key: known.key_id,
                }
                .into());
            }
        }
        let now = self.env.now();
        let link = Link {
            server: new.server,
            email: new.email,
            account: new.account,
            device: new.device,
            key: KeyBytes(Zeroizing::new(*new.key.expose())),
            key_id: new.key.id(),
            token: new.token.to_string(),
            chain: Default::default(),
            claimed: BTreeMap::new(),
            own_cursor: 0,
            last_exchange: None,
            signed_in_at: now,
        };
        let clock = ClockState {
            device: new.device,
            ms: 0,
            counter: 0,
        };
        let stamp = LocalPlan::stamp_existing(self);
        self.commit_with(Vec::new(), &mut |cx| {
            let prev_known = read_in::<KnownAccount>(cx, KNOWN)?;
            if let Some(l) = read_in::<Link>(cx, LINK)? {
                return Err(SyncError::AlreadySignedIn {
                    account: l.value.account,
                }
                .into());
            }
            if let Some(k) = &prev_known {
                if k.value != known {
                    return Err(SyncError::StateMoved.into());
                }
            }
            store::write_state(cx, LINK, &link, None)?;
            store::write_state(cx, CLOCK, &clock, None)?;
            store::write_state(cx, KNOWN, &known, prev_known.map(|k| k.seq))?;
            stamp.record(cx)
        })?;
        Ok(())
    }

    /// Stops syncing: forgets the account link, the merge states and the
    /// outbox (and, with `forget_account`, which account this vault
    /// synced with). Tasks stay. Refuses while operations are unsent,
    /// unless `discard_unsent`. The caller signs the device out on the
    /// server first.
    pub fn sync_disable(
        &mut self,
        forget_account: bool,
        discard_unsent: bool,
    ) -> Result<(), VaultError> {
        self.sync_link()?;
        let (ops, batches) = store::outbox_counts(&self.conn)?;
        if (ops > 0 || batches > 0) && !discard_unsent {
            return Err(SyncError::Unsent { ops, batches }.into());
        }
        let keep: &[&str] = if forget_account { &[] } else { &[KNOWN] };
        self.commit_with(Vec::new(), &mut |cx| store::clear(cx, keep))?;
        Ok(())
    }

    /// Drops the sync link, merge states and outbox without asking (the
    /// caller knows they are stale: a vault restored from a copy taken
    /// before an update); keeps which account this vault synced with.
    pub(crate) fn sync_detach_restored(&mut self) -> Result<(), VaultError> {
        self.commit_with(Vec::new(), &mut |cx| store::clear(cx, &[KNOWN]))?;
        Ok(())
    }

    /// The server, token and ids the transport needs.
    pub fn sync_endpoint(&self) -> Result<SyncEndpoint, VaultError> {
        let link = self.sync_link()?.value;
        Ok(SyncEndpoint {
            server: link.server,
            token: Zeroizing::new(link.token),
            account: link.account,
            device: link.device,
        })
    }

    /// What sync is doing, without keys or token; `None` if this vault
    /// does not sync.
    pub fn sync_info(&self) -> Result<Option<SyncInfo>, VaultError> {
        let Some(link) = self.sync_read::<Link>(LINK)? else {
            return Ok(None);
        };
        let (pending_op_rows, unsent_batches) = store::outbox_counts(&self.conn)?;
        let l = link.value;
        Ok(Some(SyncInfo {
            server: l.server,
            email: l.email,
            account: l.account,
            device: l.device,
            key_id: l.key_id,
            cursor: l.chain.cursor,
            pending_op_rows,
            unsent_batches,
            acknowledged_seq: l.chain.own_acked,
            devices_seen: l.chain.chains.len(),
            last_exchange: l.last_exchange,
            signed_in_at: l.signed_in_at,
        }))
    }

    /// Whether there is anything to push (a cheap count, no decryption).
    pub fn sync_has_outgoing(&self) -> Result<bool, VaultError> {
        let (ops, batches) = store::outbox_counts(&self.conn)?;
        Ok(ops + batches > 0)
    }
}
