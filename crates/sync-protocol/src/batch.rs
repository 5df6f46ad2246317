//! Batches: a device's operations, sealed under the sync key, in a per-device
//! hash chain. The plaintext header travels beside the ciphertext (the
//! server needs it to order and index), and all of it is bound into the
//! AAD, so the server can neither edit a header nor move a ciphertext to
//! another account, device, position or key.

use std::collections::BTreeMap;

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::ids::{AccountId, BatchId, DeviceId, Hash32, KeyId};
use crate::keys::SyncKey;
use crate::op::{Op, OpError, WireOp};

/// Version of the sealed plaintext layout; bound into the AAD.
pub const FORMAT_VERSION: u16 = 1;
/// Formats this build can open.
pub const SUPPORTED_FORMATS: &[u16] = &[1];

pub const BATCH_LABEL: &[u8] = b"productivitypro/sync/batch/v1";
pub const CHAIN_LABEL: &[u8] = b"productivitypro/sync/chain/v1";
/// 29 label + 2 format + 16 account + 16 device + 8 seq + 16 key id + 16 batch id + 32 prev.
pub const AAD_LEN: usize = 135;

/// What the server stores and serves. Everything but `nonce` and
/// `ciphertext` is the header, also authenticated through the AAD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchEnvelope {
    pub batch_id: BatchId,
    pub account: AccountId,
    pub device: DeviceId,
    /// 1 for a device's first batch, then +1 each; no gaps.
    pub seq: u64,
    pub format: u16,
    pub key_id: KeyId,
    /// Chain hash of the same device's batch `seq - 1`; zeros for seq 1.
    pub prev: Hash32,
    #[serde(with = "crate::b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "crate::b64")]
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("nonce must be {NONCE_LEN} bytes, got {0}")]
    Nonce(usize),
    #[error("ciphertext of {0} bytes is shorter than its {TAG_LEN}-byte tag")]
    Ciphertext(usize),
    #[error("seq must start at 1")]
    Seq,
    #[error("a device's first batch (seq 1) must have an all-zero prev")]
    Genesis,
    #[error("format must be at least 1")]
    Format,
}

impl BatchEnvelope {
    /// Fixed layout, no length prefixes needed (every field has a fixed size):
    /// label ‖ format u16be ‖ account ‖ device ‖ seq u64be ‖ key id ‖ batch id ‖ prev.
    pub fn aad(&self) -> Vec<u8> {
        header_aad(
            self.format,
            self.account,
            self.device,
            self.seq,
            self.key_id,
            self.batch_id,
            self.prev,
        )
    }

    /// SHA-256(chain label ‖ AAD ‖ nonce ‖ ciphertext): what the device's
    /// next batch names as `prev`, and what heads in version vectors carry.
    pub fn hash(&self) -> Hash32 {
        let mut h = Sha256::new();
        h.update(CHAIN_LABEL);
        h.update(self.aad());
        h.update(&self.nonce);
        h.update(&self.ciphertext);
        Hash32(h.finalize().into())
    }

    /// Structural checks both server and client make before anything else.
    pub fn check_shape(&self) -> Result<(), ShapeError> {
        if self.nonce.len() != NONCE_LEN {
            return Err(ShapeError::Nonce(self.nonce.len()));
        }
        if self.ciphertext.len() < TAG_LEN {
            return Err(ShapeError::Ciphertext(self.ciphertext.len()));
        }
        if self.seq == 0 {
            return Err(ShapeError::Seq);
        }
        if self.seq == 1 && self.prev != Hash32::ZERO {
            return Err(ShapeError::Genesis);
        }
        if self.format == 0 {
            return Err(ShapeError::Format);
        }
        Ok(())
    }
}

pub fn header_aad(
    format: u16,
    account: AccountId,
    device: DeviceId,
    seq: u64,
    key_id: KeyId,
    batch_id: BatchId,
    prev: Hash32,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LEN);
    aad.extend_from_slice(BATCH_LABEL);
    aad.extend_from_slice(&format.to_be_bytes());
    aad.extend_from_slice(&account.0);
    aad.extend_from_slice(&device.0);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&key_id.0);
    aad.extend_from_slice(&batch_id.0);
    aad.extend_from_slice(&prev.0);
    aad
}

/// A device head: its latest batch's seq and chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: Hash32,
}

/// The sealed plaintext.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchBody {
    /// The sender's verified view of other devices' heads that moved since
    /// its previous batch (a delta version vector). A receiver that was
    /// never served a head claimed here knows the server withheld it.
    pub heads: BTreeMap<DeviceId, Head>,
    pub ops: Vec<Op>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBody {
    heads: BTreeMap<DeviceId, (u64, Hash32)>,
    ops: Vec<WireOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the batch does not authenticate under this key and header")]
    Unauthentic,
    #[error("batch format {0} is newer than this app understands; update the app")]
    UnsupportedFormat(u16),
    #[error("the batch opened but its contents are malformed: {0}")]
    Malformed(String),
}

impl From<OpError> for OpenError {
    fn from(e: OpError) -> Self {
        OpenError::Malformed(e.to_string())
    }
}

impl BatchBody {
    pub fn to_json(&self) -> Vec<u8> {
        let w = WireBody {
            heads: self
                .heads
                .iter()
                .map(|(d, h)| (*d, (h.seq, h.hash)))
                .collect(),
            ops: self.ops.iter().map(Op::to_wire).collect(),
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8], device: DeviceId) -> Result<BatchBody, OpenError> {
        let w: WireBody =
            serde_json::from_slice(bytes).map_err(|e| OpenError::Malformed(e.to_string()))?;
        let ops = w
            .ops
            .into_iter()
            .map(|o| Op::from_wire(o, device))
            .collect::<Result<Vec<_>, _>>()?;
        // A device stamps each of its operations with a fresh tick, so
        // clocks inside one batch strictly increase.
        if ops.windows(2).any(|w| w[0].hlc >= w[1].hlc) {
            return Err(OpenError::Malformed(
                "operation clocks do not strictly increase".into(),
            ));
        }
        Ok(BatchBody {
            heads: w
                .heads
                .into_iter()
                .map(|(d, (seq, hash))| (d, Head { seq, hash }))
                .collect(),
            ops,
        })
    }
}

/// The header of a batch about to be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub batch_id: BatchId,
    pub account: AccountId,
    pub device: DeviceId,
    pub seq: u64,
    pub prev: Hash32,
}

pub fn seal_batch<R: RngCore + CryptoRng>(
    key: &SyncKey,
    header: BatchHeader,
    body: &BatchBody,
    rng: &mut R,
) -> BatchEnvelope {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_batch_with_nonce(key, header, body, nonce)
}

/// Sealing with a given nonce: for test vectors. A nonce must never repeat
/// under one key; production code uses [`seal_batch`].
pub fn seal_batch_with_nonce(
    key: &SyncKey,
    header: BatchHeader,
    body: &BatchBody,
    nonce: [u8; NONCE_LEN],
) -> BatchEnvelope {
    let mut env = BatchEnvelope {
        batch_id: header.batch_id,
        account: header.account,
        device: header.device,
        seq: header.seq,
        format: FORMAT_VERSION,
        key_id: key.id(),
        prev: header.prev,
        nonce: nonce.to_vec(),
        ciphertext: Vec::new(),
    };
    env.ciphertext = aead::seal(key.expose(), &nonce, &env.aad(), &body.to_json());
    env
}

/// Opens a batch exactly as labelled by its header.
pub fn open_batch(key: &SyncKey, env: &BatchEnvelope) -> Result<BatchBody, OpenError> {
    let plain = open_raw(key, env, &env.aad())?;
    BatchBody::from_json(&plain, env.device)
}

/// Opens with a given AAD (the client's diagnosis of a swapped batch tries
/// the labels it might have been moved from).
pub fn open_raw(
    key: &SyncKey,
    env: &BatchEnvelope,
    aad: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, OpenError> {
    if !SUPPORTED_FORMATS.contains(&env.format) {
        return Err(OpenError::UnsupportedFormat(env.format));
    }
    let nonce: [u8; NONCE_LEN] = env
        .nonce
        .as_slice()
        .try_into()
        .map_err(|_| OpenError::Unauthentic)?;
    aead::open(key.expose(), &nonce, aad, &env.ciphertext).ok_or(OpenError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::RecordId;
    use crate::op::{Action, RecordRef};
    use rand::SeedableRng;

    fn sample(rng: &mut rand_chacha::ChaCha20Rng) -> (SyncKey, BatchEnvelope) {
        let key = SyncKey::generate(rng);
        let dev = DeviceId([2; 16]);
        let body = BatchBody {
            heads: BTreeMap::new(),
            ops: vec![Op {
                record: RecordRef::new("task", RecordId([9; 16])),
                action: Action::Set {
                    field: "title".into(),
                    value: serde_json::json!("Buy milk"),
                },
                hlc: Hlc::new(1, 0, dev).unwrap(),
            }],
        };
        let header = BatchHeader {
            batch_id: BatchId([3; 16]),
            account: AccountId([1; 16]),
            device: dev,
            seq: 1,
            prev: Hash32::ZERO,
        };
        let env = seal_batch(&key, header, &body, rng);
        (key, env)
    }

    #[test]
    fn aad_has_the_documented_length_and_every_header_field_is_bound() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let (key, env) = sample(&mut rng);
        assert_eq!(env.aad().len(), AAD_LEN);
        assert!(open_batch(&key, &env).is_ok());
        type Edit = Box<dyn Fn(&mut BatchEnvelope)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.account = AccountId([7; 16])),
            Box::new(|e| e.device = DeviceId([7; 16])),
            Box::new(|e| e.seq = 2),
            Box::new(|e| e.batch_id = BatchId([7; 16])),
            Box::new(|e| e.prev = Hash32([7; 32])),
            Box::new(|e| e.ciphertext[0] ^= 1),
            Box::new(|e| e.nonce[0] ^= 1),
        ];
        for edit in edits {
            let mut e = env.clone();
            edit(&mut e);
            assert_eq!(open_batch(&key, &e).unwrap_err(), OpenError::Unauthentic);
            assert_ne!(e.hash(), env.hash());
        }
        let mut e = env.clone();
        e.format = 9;
        assert_eq!(
            open_batch(&key, &e).unwrap_err(),
            OpenError::UnsupportedFormat(9)
        );
    }

    #[test]
    fn shape_checks_catch_what_cannot_be_a_batch() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let (_, env) = sample(&mut rng);
        assert!(env.check_shape().is_ok());
        let mut e = env.clone();
        e.nonce.pop();
        assert!(matches!(e.check_shape(), Err(ShapeError::Nonce(23))));
        let mut e = env.clone();
        e.ciphertext.truncate(3);
        assert!(e.check_shape().is_err());
        let mut e = env.clone();
        e.prev = Hash32([1; 32]);
        assert_eq!(e.check_shape(), Err(ShapeError::Genesis));
        let mut e = env;
        e.seq = 0;
        assert_eq!(e.check_shape(), Err(ShapeError::Seq));
    }
}
