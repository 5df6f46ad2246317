//! Key slots: the data key is only ever stored wrapped, once per slot
//! (like LUKS). Any one slot opens the vault.
//!
//! Each slot wraps the data key under a key-encryption key (KEK) taken from
//! the OS keyring, derived from a passphrase (Argon2id) or from a recovery
//! key (HKDF). The wrap's AAD binds the vault id, the slot kind and the
//! data key's id, so a slot cannot be moved between vaults or kinds.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::crypto::{self, KeyId, SecretKey, SecureRng, KEY_LEN};
use crate::domain::Id;
use crate::recovery::RecoveryKey;

/// Minimum Argon2id cost accepted for new passphrase slots.
pub const MIN_ARGON2_M_KIB: u32 = 64 * 1024;
pub const MIN_ARGON2_T: u32 = 3;

/// The most Argon2id cost a stored slot may ask for. Slot parameters come
/// from the vault file or a backup header — both untrusted — and are read
/// before anything authenticates, so an edited header could otherwise
/// make an unlock allocate terabytes or run for hours. Generous next to
/// what we write (64 MiB, 3 passes, 1 lane).
pub const MAX_ARGON2_M_KIB: u32 = 1024 * 1024;
pub const MAX_ARGON2_T: u32 = 10;
pub const MAX_ARGON2_P: u32 = 16;
// What this app writes is inside the bounds it accepts.
const _: () = assert!(MIN_ARGON2_M_KIB <= MAX_ARGON2_M_KIB && MIN_ARGON2_T <= MAX_ARGON2_T);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    Keyring,
    Passphrase,
    Recovery,
}

impl SlotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Keyring => "keyring",
            SlotKind::Passphrase => "passphrase",
            SlotKind::Recovery => "recovery",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keyring" => Some(SlotKind::Keyring),
            "passphrase" => Some(SlotKind::Passphrase),
            "recovery" => Some(SlotKind::Recovery),
            _ => None,
        }
    }
}

impl std::fmt::Display for SlotKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a slot's KEK is obtained. Stored (as JSON) next to the wrapped key;
/// holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlotParams {
    Keyring {
        service: String,
        account: String,
    },
    Passphrase {
        #[serde(with = "hex_bytes")]
        salt: Vec<u8>,
        m_kib: u32,
        t: u32,
        p: u32,
    },
    Recovery {
        #[serde(with = "hex_bytes")]
        salt: Vec<u8>,
    },
}

impl SlotParams {
    pub fn kind(&self) -> SlotKind {
        match self {
            SlotParams::Keyring { .. } => SlotKind::Keyring,
            SlotParams::Passphrase { .. } => SlotKind::Passphrase,
            SlotParams::Recovery { .. } => SlotKind::Recovery,
        }
    }

    pub fn new_passphrase(rng: &mut dyn SecureRng) -> Self {
        let mut salt = vec![0u8; 16];
        rng.fill_bytes(&mut salt);
        SlotParams::Passphrase {
            salt,
            m_kib: MIN_ARGON2_M_KIB,
            t: MIN_ARGON2_T,
            p: 1,
        }
    }

    pub fn new_recovery(rng: &mut dyn SecureRng) -> Self {
        let mut salt = vec![0u8; 16];
        rng.fill_bytes(&mut salt);
        SlotParams::Recovery { salt }
    }
}

/// A stored slot: params plus the wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedSlot {
    pub params: SlotParams,
    #[serde(with = "hex_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "hex_bytes")]
    pub wrapped: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("slot parameters are unusable: {0}")]
    BadParams(String),
    #[error(
        "the slot asks for more Argon2 work than allowed ({m_kib} KiB, {t} passes, {p} lanes)"
    )]
    CostOutOfBounds { m_kib: u32, t: u32, p: u32 },
    #[error("the key does not open this slot")]
    WrongKey,
}

fn aad(vault_id: Id, kind: SlotKind, key_id: KeyId) -> Vec<u8> {
    let mut a = b"productivitypro/slot/v1".to_vec();
    a.extend_from_slice(vault_id.as_bytes());
    a.extend_from_slice(&(kind.as_str().len() as u32).to_be_bytes());
    a.extend_from_slice(kind.as_str().as_bytes());
    a.extend_from_slice(&key_id.0);
    a
}

/// Argon2id over the passphrase with the slot's stored cost.
pub fn passphrase_kek(passphrase: &str, params: &SlotParams) -> Result<SecretKey, SlotError> {
    let SlotParams::Passphrase { salt, m_kib, t, p } = params else {
        return Err(SlotError::BadParams("not a passphrase slot".into()));
    };
    if *m_kib > MAX_ARGON2_M_KIB || *t > MAX_ARGON2_T || *p > MAX_ARGON2_P {
        return Err(SlotError::CostOutOfBounds {
            m_kib: *m_kib,
            t: *t,
            p: *p,
        });
    }
    let params = Params::new(*m_kib, *t, *p, Some(KEY_LEN))
        .map_err(|e| SlotError::BadParams(e.to_string()))?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| SlotError::BadParams(e.to_string()))?;
    Ok(SecretKey::from_bytes(*out))
}

/// A recovery key already carries 256 random bits, so a fast KDF is
/// enough; the per-slot salt keeps KEKs distinct across vaults.
pub fn recovery_kek(secret: &SecretKey, params: &SlotParams) -> Result<SecretKey, SlotError> {
    let SlotParams::Recovery { salt } = params else {
        return Err(SlotError::BadParams("not a recovery slot".into()));
    };
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(Some(salt), secret.expose())
        .expand(b"productivitypro/recovery-slot/v1", out.as_mut())
        .map_err(|e| SlotError::BadParams(e.to_string()))?;
    Ok(SecretKey::from_bytes(*out))
}

/// A new passphrase slot's parameters and the KEK they derive.
pub fn new_passphrase_kek(
    passphrase: &str,
    rng: &mut dyn SecureRng,
) -> Result<(SlotParams, SecretKey), SlotError> {
    let params = SlotParams::new_passphrase(rng);
    let kek = passphrase_kek(passphrase, &params)?;
    Ok((params, kek))
}

/// A new recovery key, its slot's parameters and the KEK they derive.
pub fn new_recovery_kek(
    rng: &mut dyn SecureRng,
) -> Result<(RecoveryKey, SlotParams, SecretKey), SlotError> {
    let rk = RecoveryKey::generate(rng);
    let params = SlotParams::new_recovery(rng);
    let kek = recovery_kek(rk.secret(), &params)?;
    Ok((rk, params, kek))
}

pub fn wrap(
    params: SlotParams,
    kek: &SecretKey,
    data_key: &SecretKey,
    vault_id: Id,
    key_id: KeyId,
    rng: &mut dyn SecureRng,
) -> WrappedSlot {
    let sealed = crypto::seal(
        kek,
        &aad(vault_id, params.kind(), key_id),
        data_key.expose(),
        rng,
    );
    WrappedSlot {
        params,
        nonce: sealed.nonce.to_vec(),
        wrapped: sealed.ciphertext,
    }
}

pub fn unwrap(
    slot: &WrappedSlot,
    kek: &SecretKey,
    vault_id: Id,
    key_id: KeyId,
) -> Result<SecretKey, SlotError> {
    let plain = crypto::open_parts(
        kek,
        &aad(vault_id, slot.params.kind(), key_id),
        &slot.nonce,
        &slot.wrapped,
    )
    .map_err(|_| SlotError::WrongKey)?;
    SecretKey::from_slice(&plain).ok_or(SlotError::WrongKey)
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn slot_json_keeps_lowercase_hex_and_rejects_bad_hex() {
        let slot = WrappedSlot {
            params: SlotParams::Recovery {
                salt: vec![0xde, 0xad],
            },
            nonce: vec![0x0f],
            wrapped: vec![],
        };
        let j = serde_json::to_string(&slot).unwrap();
        assert_eq!(
            j,
            r#"{"params":{"kind":"recovery","salt":"dead"},"nonce":"0f","wrapped":""}"#
        );
        assert_eq!(serde_json::from_str::<WrappedSlot>(&j).unwrap(), slot);
        for bad in [r#""0""#, r#""zz""#, r#""+f""#] {
            let j = format!(
                r#"{{"params":{{"kind":"recovery","salt":"00"}},"nonce":{bad},"wrapped":""}}"#
            );
            assert!(serde_json::from_str::<WrappedSlot>(&j).is_err(), "{bad}");
        }
    }

    #[test]
    fn slot_opens_only_in_its_vault_with_its_key() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let data = SecretKey::random(&mut rng);
        let (vid, kid) = (Id::random(&mut rng), KeyId::random(&mut rng));
        let params = SlotParams::new_recovery(&mut rng);
        let secret = SecretKey::random(&mut rng);
        let kek = recovery_kek(&secret, &params).unwrap();
        let slot = wrap(params, &kek, &data, vid, kid, &mut rng);
        assert_eq!(
            unwrap(&slot, &kek, vid, kid).unwrap().expose(),
            data.expose()
        );
        assert_eq!(
            unwrap(&slot, &kek, Id::random(&mut rng), kid).unwrap_err(),
            SlotError::WrongKey
        );
        let other = recovery_kek(&SecretKey::random(&mut rng), &slot.params).unwrap();
        assert_eq!(
            unwrap(&slot, &other, vid, kid).unwrap_err(),
            SlotError::WrongKey
        );
    }

    #[test]
    fn passphrase_params_meet_the_minimum_and_bad_params_are_errors() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let SlotParams::Passphrase { m_kib, t, .. } = SlotParams::new_passphrase(&mut rng) else {
            unreachable!()
        };
        assert!(m_kib >= 65536 && t >= 3);
        let bad = SlotParams::Passphrase {
            salt: vec![1; 16],
            m_kib: 1,
            t: 0,
            p: 0,
        };
        assert!(matches!(
            passphrase_kek("x", &bad),
            Err(SlotError::BadParams(_))
        ));
        let json = serde_json::to_string(&SlotParams::new_passphrase(&mut rng)).unwrap();
        assert!(json.contains("\"kind\":\"passphrase\""));
    }

    /// Regression (issue 11, point 14): Argon2 cost was taken from the
    /// file as is, so an edited slot could demand any memory and time.
    /// Out-of-bounds costs are refused before anything is allocated —
    /// the 4 TiB case would abort the process if it were attempted.
    #[test]
    fn argon2_costs_from_a_file_are_bounded_before_use() {
        let params = |m_kib, t, p| SlotParams::Passphrase {
            salt: vec![1; 16],
            m_kib,
            t,
            p,
        };
        for (m, t, p) in [
            (u32::MAX, 3, 1),
            (MAX_ARGON2_M_KIB + 1, 1, 1),
            (65536, MAX_ARGON2_T + 1, 1),
            (65536, 1_000_000, 1),
            (65536, 3, MAX_ARGON2_P + 1),
        ] {
            assert_eq!(
                passphrase_kek("x", &params(m, t, p)).err(),
                Some(SlotError::CostOutOfBounds { m_kib: m, t, p }),
                "{m} {t} {p}"
            );
        }
        assert!(passphrase_kek("x", &params(8, 1, 1)).is_ok());
    }
}
