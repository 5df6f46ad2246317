//! Snapshots: a caught-up device seals its whole merged state (tombstones
//! and clocks included) with the heads of every device chain it covers, so
//! a new device loads one snapshot and pulls only what came after, and the
//! server can drop the batches the snapshot covers.

use std::collections::BTreeMap;

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::batch::{Head, OpenError, FORMAT_VERSION, SUPPORTED_FORMATS};
use crate::ids::{AccountId, DeviceId, Hash32, KeyId, RecordId, SnapshotId};
use crate::keys::SyncKey;
use crate::merge::{RecordState, Replica};
use crate::op::RecordRef;

pub const SNAPSHOT_LABEL: &[u8] = b"productivitypro/sync/snapshot/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEnvelope {
    pub snapshot_id: SnapshotId,
    pub account: AccountId,
    /// The device that sealed it.
    pub device: DeviceId,
    /// The account log position it covers: every batch with a cursor at or
    /// below this is in the state.
    pub cursor: u64,
    pub format: u16,
    pub key_id: KeyId,
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub ciphertext: Vec<u8>,
}

impl SnapshotEnvelope {
    /// label ‖ format u16be ‖ account ‖ key id ‖ snapshot id ‖ device ‖ cursor u64be.
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(SNAPSHOT_LABEL.len() + 2 + 64 + 8);
        aad.extend_from_slice(SNAPSHOT_LABEL);
        aad.extend_from_slice(&self.format.to_be_bytes());
        aad.extend_from_slice(&self.account.0);
        aad.extend_from_slice(&self.key_id.0);
        aad.extend_from_slice(&self.snapshot_id.0);
        aad.extend_from_slice(&self.device.0);
        aad.extend_from_slice(&self.cursor.to_be_bytes());
        aad
    }

    pub fn check_shape(&self) -> Result<(), String> {
        if self.nonce.len() != NONCE_LEN {
            return Err(format!("nonce must be {NONCE_LEN} bytes"));
        }
        if self.ciphertext.len() < TAG_LEN {
            return Err("ciphertext is shorter than its tag".into());
        }
        if self.format == 0 {
            return Err("format must be at least 1".into());
        }
        Ok(())
    }
}

/// A snapshot's plaintext.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotBody {
    /// Every device chain's head at `cursor`: pulling after the snapshot,
    /// each device's next batch must continue from here.
    pub heads: BTreeMap<DeviceId, Head>,
    pub state: Replica,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    k: String,
    id: RecordId,
    s: RecordState,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSnapshot {
    heads: BTreeMap<DeviceId, (u64, Hash32)>,
    records: Vec<WireRecord>,
}

impl SnapshotBody {
    pub fn to_json(&self) -> Vec<u8> {
        let w = WireSnapshot {
            heads: self
                .heads
                .iter()
                .map(|(d, h)| (*d, (h.seq, h.hash)))
                .collect(),
            records: self
                .state
                .records
                .iter()
                .map(|(r, s)| WireRecord {
                    k: r.kind.clone(),
                    id: r.id,
                    s: s.clone(),
                })
                .collect(),
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<SnapshotBody, OpenError> {
        let w: WireSnapshot =
            serde_json::from_slice(bytes).map_err(|e| OpenError::Malformed(e.to_string()))?;
        let mut state = Replica::new();
        for r in w.records {
            state.records.insert(
                RecordRef {
                    kind: r.k,
                    id: r.id,
                },
                r.s,
            );
        }
        Ok(SnapshotBody {
            heads: w
                .heads
                .into_iter()
                .map(|(d, (seq, hash))| (d, Head { seq, hash }))
                .collect(),
            state,
        })
    }
}

pub struct SnapshotHeader {
    pub snapshot_id: SnapshotId,
    pub account: AccountId,
    pub device: DeviceId,
    pub cursor: u64,
}

pub fn seal_snapshot<R: RngCore + CryptoRng>(
    key: &SyncKey,
    header: SnapshotHeader,
    body: &SnapshotBody,
    rng: &mut R,
) -> SnapshotEnvelope {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_snapshot_with_nonce(key, header, body, nonce)
}

pub fn seal_snapshot_with_nonce(
    key: &SyncKey,
    header: SnapshotHeader,
    body: &SnapshotBody,
    nonce: [u8; NONCE_LEN],
) -> SnapshotEnvelope {
    let mut env = SnapshotEnvelope {
        snapshot_id: header.snapshot_id,
        account: header.account,
        device: header.device,
        cursor: header.cursor,
        format: FORMAT_VERSION,
        key_id: key.id(),
        nonce: nonce.to_vec(),
        ciphertext: Vec::new(),
    };
    env.ciphertext = aead::seal(key.expose(), &nonce, &env.aad(), &body.to_json());
    env
}

pub fn open_snapshot(key: &SyncKey, env: &SnapshotEnvelope) -> Result<SnapshotBody, OpenError> {
    if !SUPPORTED_FORMATS.contains(&env.format) {
        return Err(OpenError::UnsupportedFormat(env.format));
    }
    let nonce: [u8; NONCE_LEN] = env
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| OpenError::Unauthentic)?;
    let plain = aead::open(key.expose(), &nonce, &env.aad(), &env.ciphertext)
        .ok_or(OpenError::Unauthentic)?;
    SnapshotBody::from_json(&plain)
}
