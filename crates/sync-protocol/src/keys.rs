//! Account keys. A passphrase is stretched with Argon2id (parameters stored
//! with the account) into a root from which HKDF takes a login secret (sent
//! to the server, which keeps only a slow hash of it) and a key-wrapping key
//! (never leaves the device). The random sync key, which seals every batch
//! and snapshot, is stored on the server only wrapped — by the passphrase's
//! wrapping key and optionally by a recovery key's. Changing the passphrase
//! re-wraps the same sync key; nothing is re-encrypted.

use argon2::{Algorithm, Argon2, Params, Version};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::aead::{self, Secret, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::ids::{AccountId, DeviceId, KeyId, LoginId};

/// Argon2id floor for account passphrases (the vault's floor too).
pub const MIN_M_KIB: u32 = 64 * 1024;
pub const MIN_T: u32 = 3;
/// Ceiling a client accepts, so a hostile server cannot make sign-in take
/// minutes or exhaust memory.
pub const MAX_M_KIB: u32 = 1024 * 1024;
pub const MAX_T: u32 = 16;
pub const MAX_P: u32 = 8;
pub const SALT_LEN: usize = 16;
/// nonce ‖ ciphertext(32-byte key) ‖ tag.
pub const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
/// Longest device name, in bytes of UTF-8, before sealing.
pub const MAX_DEVICE_NAME: usize = 64;

const LOGIN_ID_LABEL: &[u8] = b"productivitypro/sync/login-id/v1";
const LOGIN_LABEL: &[u8] = b"productivitypro/sync/login/v1";
const WRAP_LABEL: &[u8] = b"productivitypro/sync/wrap/v1";
const KEY_ID_LABEL: &[u8] = b"productivitypro/sync/key-id/v1";
const RECOVERY_LOGIN_LABEL: &[u8] = b"productivitypro/sync/recovery-login/v1";
const RECOVERY_WRAP_LABEL: &[u8] = b"productivitypro/sync/recovery-wrap/v1";
const DEVICE_NAME_LABEL: &[u8] = b"productivitypro/sync/device-name/v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("`{0}` does not look like an email address")]
    BadEmail(String),
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error("Argon2id parameters m={m_kib} KiB t={t} p={p} are below the minimum (m ≥ {MIN_M_KIB} KiB, t ≥ {MIN_T}, p ≥ 1)")]
    WeakParams { m_kib: u32, t: u32, p: u32 },
    #[error("Argon2id parameters m={m_kib} KiB t={t} p={p} exceed what a client accepts (m ≤ {MAX_M_KIB} KiB, t ≤ {MAX_T}, p ≤ {MAX_P})")]
    ExcessiveParams { m_kib: u32, t: u32, p: u32 },
    #[error("the KDF salt must be {SALT_LEN} bytes")]
    BadSalt,
    #[error("the wrapped sync key does not open with this passphrase or recovery key")]
    WrongSecret,
    #[error("the sync key opened but its id is {found}, not the account's {expected}: this is another account's key")]
    KeyIdMismatch { expected: KeyId, found: KeyId },
    #[error("device name is longer than {MAX_DEVICE_NAME} bytes")]
    DeviceNameTooLong,
    #[error("the sealed device name does not open under this account's key")]
    DeviceNameSealed,
}

impl KeyError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::BadEmail(_) => "invalid_email",
            KeyError::EmptyPassphrase => "empty_passphrase",
            KeyError::WeakParams { .. } => "weak_kdf_params",
            KeyError::ExcessiveParams { .. } => "excessive_kdf_params",
            KeyError::BadSalt => "invalid_kdf_salt",
            KeyError::WrongSecret => "wrong_passphrase",
            KeyError::KeyIdMismatch { .. } => "key_id_mismatch",
            KeyError::DeviceNameTooLong => "device_name_too_long",
            KeyError::DeviceNameSealed => "device_name_unreadable",
        }
    }
}

/// What the server returns before sign-in so the client can stretch the
/// passphrase the same way as at sign-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    #[serde(with = "crate::b64")]
    pub salt: Vec<u8>,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// Fresh parameters at the floor, with a random salt.
    pub fn generate(rng: &mut dyn RngCore) -> KdfParams {
        let mut salt = vec![0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        KdfParams {
            salt,
            m_kib: MIN_M_KIB,
            t: MIN_T,
            p: 1,
        }
    }

    /// What both sides enforce: at least the floor, at most the ceiling.
    pub fn validate(&self) -> Result<(), KeyError> {
        let (m_kib, t, p) = (self.m_kib, self.t, self.p);
        if self.salt.len() != SALT_LEN {
            return Err(KeyError::BadSalt);
        }
        if m_kib < MIN_M_KIB || t < MIN_T || p < 1 {
            return Err(KeyError::WeakParams { m_kib, t, p });
        }
        if m_kib > MAX_M_KIB || t > MAX_T || p > MAX_P {
            return Err(KeyError::ExcessiveParams { m_kib, t, p });
        }
        Ok(())
    }
}

/// Trimmed, NFKC, lowercase — so the same address typed on two keyboards
/// names the same account.
pub fn normalize_email(email: &str) -> Result<String, KeyError> {
    let e: String = email.trim().nfkc().collect::<String>().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && !d.is_empty() && !d.contains('@'))
        && !e.chars().any(char::is_whitespace);
    if ok {
        Ok(e)
    } else {
        Err(KeyError::BadEmail(email.chars().take(80).collect()))
    }
}

/// SHA-256(label ‖ normalised email): how the server names the account.
pub fn login_id(email: &str) -> Result<LoginId, KeyError> {
    let e = normalize_email(email)?;
    let mut h = Sha256::new();
    h.update(LOGIN_ID_LABEL);
    h.update(e.as_bytes());
    Ok(LoginId(h.finalize().into()))
}

/// The two halves of a stretched passphrase.
pub struct PassphraseKeys {
    /// Proves the passphrase to the server; the server stores a slow hash.
    pub login_secret: Secret,
    /// Wraps the sync key; never leaves the device.
    pub wrapping_key: Secret,
}

/// Argon2id(NFC(passphrase), salt, m, t, p) → 32-byte root →
/// HKDF(root, "…/login/v1") and HKDF(root, "…/wrap/v1").
/// Takes ~0.1–1 s by design; call it off any UI thread.
pub fn derive_passphrase_keys(
    passphrase: &str,
    params: &KdfParams,
) -> Result<PassphraseKeys, KeyError> {
    params.validate()?;
    if passphrase.is_empty() {
        return Err(KeyError::EmptyPassphrase);
    }
    let pass = Zeroizing::new(passphrase.nfc().collect::<String>());
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN)).map_err(|_| {
            KeyError::WeakParams {
                m_kib: params.m_kib,
                t: params.t,
                p: params.p,
            }
        })?,
    );
    let mut root = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(pass.as_bytes(), &params.salt, root.as_mut())
        .map_err(|_| KeyError::BadSalt)?;
    Ok(PassphraseKeys {
        login_secret: aead::hkdf32(root.as_ref(), None, LOGIN_LABEL),
        wrapping_key: aead::hkdf32(root.as_ref(), None, WRAP_LABEL),
    })
}

/// The account's data key: seals every batch, snapshot and device name.
#[derive(Clone)]
pub struct SyncKey(Secret);

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncKey({})", self.id())
    }
}

impl SyncKey {
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> SyncKey {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(k.as_mut());
        SyncKey(k)
    }

    pub fn from_bytes(b: [u8; KEY_LEN]) -> SyncKey {
        SyncKey(Zeroizing::new(b))
    }

    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// First 16 bytes of HKDF(key, "…/key-id/v1"): names the key, reveals nothing.
    pub fn id(&self) -> KeyId {
        let mut id = [0u8; 16];
        aead::hkdf(self.0.as_ref(), None, KEY_ID_LABEL, &mut id);
        KeyId(id)
    }
}

/// Which secret wraps a copy of the sync key; bound into the wrap's AAD so
/// a recovery wrap cannot be served as the passphrase wrap or vice versa.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapKind {
    Passphrase = 1,
    Recovery = 2,
}

/// label ‖ account (16) ‖ kind (1) ‖ key id (16).
pub fn wrap_aad(account: AccountId, kind: WrapKind, key_id: KeyId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_LABEL.len() + 33);
    aad.extend_from_slice(WRAP_LABEL);
    aad.extend_from_slice(&account.0);
    aad.push(kind as u8);
    aad.extend_from_slice(&key_id.0);
    aad
}

/// nonce ‖ XChaCha20-Poly1305(wrapping key, nonce, aad, sync key).
pub fn wrap_sync_key<R: RngCore + CryptoRng>(
    wrapping_key: &[u8; KEY_LEN],
    kind: WrapKind,
    account: AccountId,
    key: &SyncKey,
    rng: &mut R,
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    out.extend(aead::seal(
        wrapping_key,
        &nonce,
        &wrap_aad(account, kind, key.id()),
        key.expose(),
    ));
    out
}

/// Opens a wrapped sync key and checks it is the account's (`expected`):
/// the key-id check every device makes before its first sync.
pub fn unwrap_sync_key(
    wrapping_key: &[u8; KEY_LEN],
    kind: WrapKind,
    account: AccountId,
    expected: KeyId,
    wrapped: &[u8],
) -> Result<SyncKey, KeyError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(KeyError::WrongSecret);
    }
    let nonce: [u8; NONCE_LEN] = wrapped[..NONCE_LEN]
        .try_into()
        .map_err(|_| KeyError::WrongSecret)?;
    let plain = aead::open(
        wrapping_key,
        &nonce,
        &wrap_aad(account, kind, expected),
        &wrapped[NONCE_LEN..],
    )
    .ok_or(KeyError::WrongSecret)?;
    let bytes: [u8; KEY_LEN] = plain
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongSecret)?;
    let key = SyncKey::from_bytes(bytes);
    let found = key.id();
    if found != expected {
        return Err(KeyError::KeyIdMismatch { expected, found });
    }
    Ok(key)
}

/// What a recovery key (the dedicated sync recovery key, or the vault's —
/// both are 32 random bytes) yields: a proof for the server and a wrapping
/// key. Salted with the login id so one recovery key used for two accounts
/// gives unrelated proofs.
pub struct RecoveryKeys {
    pub proof: Secret,
    pub wrapping_key: Secret,
}

pub fn derive_recovery_keys(recovery_secret: &[u8; KEY_LEN], login: LoginId) -> RecoveryKeys {
    RecoveryKeys {
        proof: aead::hkdf32(recovery_secret, Some(&login.0), RECOVERY_LOGIN_LABEL),
        wrapping_key: aead::hkdf32(recovery_secret, Some(&login.0), RECOVERY_WRAP_LABEL),
    }
}

/// label ‖ account (16) ‖ device (16) ‖ key id (16).
fn device_name_aad(account: AccountId, device: DeviceId, key_id: KeyId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DEVICE_NAME_LABEL.len() + 48);
    aad.extend_from_slice(DEVICE_NAME_LABEL);
    aad.extend_from_slice(&account.0);
    aad.extend_from_slice(&device.0);
    aad.extend_from_slice(&key_id.0);
    aad
}

/// Device names ("Alice's laptop") are user content: the server stores
/// them sealed and lists them back for clients to open.
pub fn seal_device_name<R: RngCore + CryptoRng>(
    key: &SyncKey,
    account: AccountId,
    device: DeviceId,
    name: &str,
    rng: &mut R,
) -> Result<Vec<u8>, KeyError> {
    if name.len() > MAX_DEVICE_NAME {
        return Err(KeyError::DeviceNameTooLong);
    }
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = nonce.to_vec();
    out.extend(aead::seal(
        key.expose(),
        &nonce,
        &device_name_aad(account, device, key.id()),
        name.as_bytes(),
    ));
    Ok(out)
}

pub fn open_device_name(
    key: &SyncKey,
    account: AccountId,
    device: DeviceId,
    sealed: &[u8],
) -> Result<String, KeyError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(KeyError::DeviceNameSealed);
    }
    let nonce: [u8; NONCE_LEN] = sealed[..NONCE_LEN]
        .try_into()
        .map_err(|_| KeyError::DeviceNameSealed)?;
    let plain = aead::open(
        key.expose(),
        &nonce,
        &device_name_aad(account, device, key.id()),
        &sealed[NONCE_LEN..],
    )
    .ok_or(KeyError::DeviceNameSealed)?;
    String::from_utf8(plain.to_vec()).map_err(|_| KeyError::DeviceNameSealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn emails_normalise_before_hashing() {
        assert_eq!(
            login_id("  Alice@Example.COM ").unwrap(),
            login_id("alice@example.com").unwrap()
        );
        assert_ne!(
            login_id("alice@example.com").unwrap(),
            login_id("bob@example.com").unwrap()
        );
        for bad in ["", "alice", "@x", "a@", "a b@c", "a@b@c"] {
            assert_eq!(login_id(bad).unwrap_err().code(), "invalid_email", "{bad}");
        }
    }

    #[test]
    fn params_outside_the_floor_or_ceiling_are_refused() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let ok = KdfParams::generate(&mut rng);
        assert!(ok.validate().is_ok());
        let weak = KdfParams {
            m_kib: 1024,
            ..ok.clone()
        };
        assert_eq!(weak.validate().unwrap_err().code(), "weak_kdf_params");
        let huge = KdfParams {
            t: 1000,
            ..ok.clone()
        };
        assert_eq!(huge.validate().unwrap_err().code(), "excessive_kdf_params");
        let salt = KdfParams {
            salt: vec![1],
            ..ok
        };
        assert_eq!(salt.validate().unwrap_err().code(), "invalid_kdf_salt");
    }

    #[test]
    fn wraps_open_only_with_their_secret_kind_and_account() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let key = SyncKey::generate(&mut rng);
        let account = AccountId([1; 16]);
        let kek = [7u8; 32];
        let w = wrap_sync_key(&kek, WrapKind::Passphrase, account, &key, &mut rng);
        assert_eq!(w.len(), WRAPPED_LEN);
        let k = unwrap_sync_key(&kek, WrapKind::Passphrase, account, key.id(), &w).unwrap();
        assert_eq!(k.expose(), key.expose());
        let wrong = |r: Result<SyncKey, KeyError>| r.unwrap_err().code();
        assert_eq!(
            wrong(unwrap_sync_key(
                &[8; 32],
                WrapKind::Passphrase,
                account,
                key.id(),
                &w
            )),
            "wrong_passphrase"
        );
        assert_eq!(
            wrong(unwrap_sync_key(
                &kek,
                WrapKind::Recovery,
                account,
                key.id(),
                &w
            )),
            "wrong_passphrase"
        );
        assert_eq!(
            wrong(unwrap_sync_key(
                &kek,
                WrapKind::Passphrase,
                AccountId([2; 16]),
                key.id(),
                &w
            )),
            "wrong_passphrase"
        );
        // Another account's key wrapped under this account's label and our
        // wrapping key (a server swapping key material) fails the id check.
        let other = SyncKey::generate(&mut rng);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let mut forged = nonce.to_vec();
        forged.extend(aead::seal(
            &kek,
            &nonce,
            &wrap_aad(account, WrapKind::Passphrase, key.id()),
            other.expose(),
        ));
        assert_eq!(
            wrong(unwrap_sync_key(
                &kek,
                WrapKind::Passphrase,
                account,
                key.id(),
                &forged
            )),
            "key_id_mismatch"
        );
    }

    #[test]
    fn device_names_are_sealed_to_their_device() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let key = SyncKey::generate(&mut rng);
        let (a, d) = (AccountId([1; 16]), DeviceId([2; 16]));
        let s = seal_device_name(&key, a, d, "Alice's laptop", &mut rng).unwrap();
        assert_eq!(open_device_name(&key, a, d, &s).unwrap(), "Alice's laptop");
        assert!(open_device_name(&key, a, DeviceId([3; 16]), &s).is_err());
        assert!(seal_device_name(&key, a, d, &"x".repeat(65), &mut rng).is_err());
    }
}
