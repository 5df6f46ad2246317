//! Record sealing: XChaCha20-Poly1305 with the record's context bound into
//! the associated data, so a ciphertext only opens as the record it was
//! written as (same kind, id, format version, data key and change
//! sequence).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// A random source fit for keys and nonces. Passed in so tests are
/// deterministic; production code uses `rand::rngs::OsRng`.
pub trait SecureRng: RngCore + CryptoRng + Send {}
impl<T: RngCore + CryptoRng + Send> SecureRng for T {}

/// A 256-bit symmetric key, wiped from memory on drop.
#[derive(Clone)]
pub struct SecretKey(Zeroizing<[u8; KEY_LEN]>);

impl SecretKey {
    pub fn random(rng: &mut dyn SecureRng) -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(k.as_mut());
        SecretKey(k)
    }
    pub fn from_bytes(mut b: [u8; KEY_LEN]) -> Self {
        let k = SecretKey(Zeroizing::new(b));
        b.zeroize();
        k
    }
    /// Takes the key out of a slice, failing unless it is exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = b.try_into().ok()?;
        Some(SecretKey::from_bytes(arr))
    }
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// Identifies a data key without revealing it: random, assigned when the
/// key is made, bound into every record's AAD and into every slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// A random id: how keys were named before the integrity ledger. A
    /// vault whose key id is random may predate the ledger (see
    /// [`KeyId::derived`]).
    pub fn random(rng: &mut dyn SecureRng) -> Self {
        let mut b = [0u8; 8];
        rng.fill_bytes(&mut b);
        KeyId(b)
    }

    /// The id of a key made since the integrity ledger exists: a PRF of
    /// the key itself. Every slot and record binds the key id, so it
    /// cannot be changed without the key; a vault whose key id is derived
    /// therefore must have a ledger, and a missing one is an attack, not
    /// an old vault. (A random id matches by chance with odds 2^-64.)
    pub fn derived(key: &SecretKey) -> Self {
        let mut b = [0u8; 8];
        hkdf::Hkdf::<sha2::Sha256>::new(None, key.expose())
            .expand(b"productivitypro/key-id/v2", &mut b)
            .expect("8 bytes is a valid HKDF-SHA256 output length");
        KeyId(b)
    }

    pub fn is_derived_from(&self, key: &SecretKey) -> bool {
        *self == KeyId::derived(key)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// What a sealed record is; part of its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Task,
    List,
    /// An undo/redo entry (`history` table): before-images of records.
    History,
    /// This vault's reminder bookkeeping (`local_state` table): snoozes
    /// and how far reminders were checked.
    Reminders,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Task => "task",
            RecordKind::List => "list",
            RecordKind::History => "history",
            RecordKind::Reminders => "reminders",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "task" => Some(RecordKind::Task),
            "list" => Some(RecordKind::List),
            "history" => Some(RecordKind::History),
            "reminders" => Some(RecordKind::Reminders),
            _ => None,
        }
    }
}

/// Everything a record ciphertext is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordContext<'a> {
    pub kind: RecordKind,
    pub id: &'a [u8],
    pub format: u16,
    pub key_id: KeyId,
    /// The change sequence of the write that sealed it: an older
    /// ciphertext of the same record only opens with its own, older
    /// sequence, which the vault's ledger then reports as rolled back.
    pub seq: i64,
}

impl RecordContext<'_> {
    /// Length-prefixed fields, so no two contexts share an encoding.
    pub fn aad(&self) -> Vec<u8> {
        let mut aad = self.prefix(b"productivitypro/record/v2");
        aad.extend_from_slice(&self.seq.to_be_bytes());
        aad
    }

    /// The AAD records had before the change sequence was bound (vaults
    /// of schema ≤ 2). Only read while upgrading such a vault.
    pub fn aad_v1(&self) -> Vec<u8> {
        self.prefix(b"productivitypro/record/v1")
    }

    fn prefix(&self, label: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(56 + self.id.len());
        aad.extend_from_slice(label);
        for field in [self.kind.as_str().as_bytes(), self.id] {
            aad.extend_from_slice(&(field.len() as u32).to_be_bytes());
            aad.extend_from_slice(field);
        }
        aad.extend_from_slice(&self.format.to_be_bytes());
        aad.extend_from_slice(&self.key_id.0);
        aad
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

/// The AEAD refused: wrong key, altered bytes, or a different context.
/// Which one it was is for the caller to work out (it knows more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ciphertext did not authenticate")]
pub struct OpenError;

pub fn seal(key: &SecretKey, aad: &[u8], plaintext: &[u8], rng: &mut dyn SecureRng) -> Sealed {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ciphertext = key
        .cipher()
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Encryption only fails for inputs over ~256 GiB.
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer");
    Sealed { nonce, ciphertext }
}

pub fn open(key: &SecretKey, aad: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    open_parts(key, aad, &sealed.nonce, &sealed.ciphertext)
}

pub fn open_parts(
    key: &SecretKey,
    aad: &[u8],
    nonce: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if nonce.len() != NONCE_LEN || ciphertext.len() < TAG_LEN {
        return Err(OpenError);
    }
    key.cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError)
}

/// Like [`open_parts`], but decrypts in the ciphertext's own buffer (no
/// copy, no second allocation: what unlock does for every record). On
/// failure the buffer comes back as it was.
pub fn open_in_place(
    key: &SecretKey,
    aad: &[u8],
    nonce: &[u8],
    mut ciphertext: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, Vec<u8>> {
    match open_in_slice(key, aad, nonce, &mut ciphertext) {
        Ok(n) => {
            ciphertext.truncate(n);
            Ok(Zeroizing::new(ciphertext))
        }
        Err(OpenError) => Err(ciphertext),
    }
}

/// Decrypts `buf` (ciphertext and tag) where it lies and returns the
/// plaintext's length: `buf[..n]`. On failure `buf` is as it was, so the
/// record can be diagnosed.
///
/// The same XChaCha20-Poly1305 as [`seal`] and [`open_parts`] (HChaCha20
/// subkey from the nonce's first 16 bytes, then RFC 8439 ChaCha20-Poly1305
/// with the last 8 as its nonce), but computed by `ring`: the RustCrypto
/// Poly1305's AVX2 backend, picked at run time on x86-64, calls its vector
/// helpers out of line and made Poly1305 a fifth of unlock's CPU time on
/// records of a few hundred bytes. The tests check both agree.
pub fn open_in_slice(
    key: &SecretKey,
    aad: &[u8],
    nonce: &[u8],
    buf: &mut [u8],
) -> Result<usize, OpenError> {
    use chacha20::cipher::consts::U10;
    use ring::aead;
    let Ok(nonce) = <&[u8; NONCE_LEN]>::try_from(nonce) else {
        return Err(OpenError);
    };
    if buf.len() < TAG_LEN {
        return Err(OpenError);
    }
    let mut sub = chacha20::hchacha::<U10>(key.expose().into(), (&nonce[..16]).into());
    let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, sub.as_slice());
    sub.as_mut_slice().zeroize();
    let opener = aead::LessSafeKey::new(unbound.map_err(|_| OpenError)?);
    let mut ietf = [0u8; 12];
    ietf[4..].copy_from_slice(&nonce[16..]);
    // ring wipes the buffer when the tag does not match (it checks while
    // it decrypts), so a copy is kept to put back: a few hundred bytes,
    // next to a decryption of them.
    SCRATCH.with(|scratch| {
        let mut saved = scratch.borrow_mut();
        saved.clear();
        saved.extend_from_slice(buf);
        let opened = opener
            .open_in_place(
                aead::Nonce::assume_unique_for_key(ietf),
                aead::Aad::from(aad),
                buf,
            )
            .map(|plain| plain.len());
        // (Only ciphertext is kept here: nothing to wipe.)
        if opened.is_err() {
            buf.copy_from_slice(&saved);
        }
        opened.map_err(|_| OpenError)
    })
}

thread_local! {
    /// [`open_in_slice`]'s copy of the ciphertext, reused across records.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(seed)
    }

    fn ctx<'a>(kind: RecordKind, id: &'a [u8], key_id: KeyId) -> RecordContext<'a> {
        RecordContext {
            kind,
            id,
            format: 1,
            key_id,
            seq: 7,
        }
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(seed: u64, id: [u8; 16], msg in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut r = rng(seed);
            let key = SecretKey::random(&mut r);
            let kid = KeyId::random(&mut r);
            let aad = ctx(RecordKind::Task, &id, kid).aad();
            let sealed = seal(&key, &aad, &msg, &mut r);
            let opened = open(&key, &aad, &sealed).unwrap();
            prop_assert_eq!(opened.as_slice(), msg.as_slice());
        }

        #[test]
        fn any_single_byte_change_fails(seed: u64, msg in proptest::collection::vec(any::<u8>(), 1..512), pos: usize, flip in 1u8..=255) {
            let mut r = rng(seed);
            let key = SecretKey::random(&mut r);
            let aad = ctx(RecordKind::Task, b"0123456789abcdef", KeyId::random(&mut r)).aad();
            let sealed = seal(&key, &aad, &msg, &mut r);
            let total = NONCE_LEN + sealed.ciphertext.len();
            let pos = pos % total;
            let mut bad = sealed.clone();
            if pos < NONCE_LEN { bad.nonce[pos] ^= flip } else { bad.ciphertext[pos - NONCE_LEN] ^= flip }
            prop_assert!(open(&key, &aad, &bad).is_err());
        }

        #[test]
        fn any_aad_change_fails(seed: u64, id_a: [u8; 16], id_b: [u8; 16], fmt_b: u16, swap_kind: bool) {
            let mut r = rng(seed);
            let key = SecretKey::random(&mut r);
            let kid = KeyId::random(&mut r);
            let a = ctx(RecordKind::Task, &id_a, kid);
            let sealed = seal(&key, &a.aad(), b"{\"title\":\"x\"}", &mut r);
            let b = RecordContext {
                kind: if swap_kind { RecordKind::List } else { RecordKind::Task },
                id: &id_b,
                format: fmt_b,
                key_id: kid,
                seq: 7,
            };
            prop_assume!(a != b);
            // Record swap (other id), other kind, other format version: all refused.
            prop_assert!(open(&key, &b.aad(), &sealed).is_err());
            let other_kid = RecordContext { key_id: KeyId::random(&mut r), ..a };
            prop_assume!(other_kid.key_id != kid);
            prop_assert!(open(&key, &other_kid.aad(), &sealed).is_err());
        }

        /// Unlock opens with `ring`, everything else with RustCrypto:
        /// both must accept exactly what `seal` wrote, and refuse any
        /// change to it.
        #[test]
        fn ring_opening_agrees_with_rustcrypto(seed: u64, msg in proptest::collection::vec(any::<u8>(), 0..1500), aad in proptest::collection::vec(any::<u8>(), 0..80), pos: usize, flip in 1u8..=255) {
            let mut r = rng(seed);
            let key = SecretKey::random(&mut r);
            let sealed = seal(&key, &aad, &msg, &mut r);
            let mut buf = sealed.ciphertext.clone();
            let n = open_in_slice(&key, &aad, &sealed.nonce, &mut buf).unwrap();
            let rustcrypto = open(&key, &aad, &sealed).unwrap();
            prop_assert_eq!(&buf[..n], rustcrypto.as_slice());
            let mut bad = sealed.clone();
            let pos = pos % (NONCE_LEN + bad.ciphertext.len() + aad.len());
            let mut bad_aad = aad.clone();
            if pos < NONCE_LEN {
                bad.nonce[pos] ^= flip;
            } else if pos < NONCE_LEN + bad.ciphertext.len() {
                bad.ciphertext[pos - NONCE_LEN] ^= flip;
            } else {
                bad_aad[pos - NONCE_LEN - bad.ciphertext.len()] ^= flip;
            }
            let mut buf = bad.ciphertext.clone();
            prop_assert!(open_in_slice(&key, &bad_aad, &bad.nonce, &mut buf).is_err());
            prop_assert_eq!(&buf, &bad.ciphertext);
            prop_assert!(open(&key, &bad_aad, &bad).is_err());
        }

        #[test]
        fn wrong_key_fails(seed: u64, msg in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut r = rng(seed);
            let key = SecretKey::random(&mut r);
            let other = SecretKey::random(&mut r);
            let aad = ctx(RecordKind::List, b"id", KeyId::random(&mut r)).aad();
            let sealed = seal(&key, &aad, &msg, &mut r);
            prop_assert!(open(&other, &aad, &sealed).is_err());
        }
    }

    /// Regression (issue 11, point 10): an edited record's older
    /// ciphertext opened as the current one, so putting it back went
    /// unnoticed. The sequence is bound: the old ciphertext only opens
    /// with its old sequence.
    #[test]
    fn an_older_ciphertext_of_a_record_does_not_open_under_the_new_sequence() {
        let mut r = rng(5);
        let key = SecretKey::random(&mut r);
        let kid = KeyId::derived(&key);
        let id = [9u8; 16];
        let old = RecordContext {
            seq: 3,
            ..ctx(RecordKind::Task, &id, kid)
        };
        let new = RecordContext { seq: 4, ..old };
        let sealed = seal(&key, &old.aad(), b"old title", &mut r);
        assert!(open(&key, &new.aad(), &sealed).is_err());
        assert!(open(&key, &old.aad(), &sealed).is_ok());
        // v1 and v2 encodings never coincide.
        assert_ne!(old.aad_v1(), old.aad()[..old.aad_v1().len()].to_vec());
    }

    /// Unlock decrypts in the row's own buffer; a record that fails must
    /// come back as stored, so its failure can be diagnosed (moved, older
    /// version, tampered).
    #[test]
    fn opening_in_place_agrees_with_open_and_keeps_a_failed_ciphertext() {
        let mut r = rng(7);
        let key = SecretKey::random(&mut r);
        let sealed = seal(&key, b"aad", b"a title", &mut r);
        let opened = open_in_place(&key, b"aad", &sealed.nonce, sealed.ciphertext.clone()).unwrap();
        assert_eq!(
            opened.as_slice(),
            open(&key, b"aad", &sealed).unwrap().as_slice()
        );
        for (aad, ct) in [
            (&b"other aad"[..], sealed.ciphertext.clone()),
            (&b"aad"[..], {
                let mut c = sealed.ciphertext.clone();
                c[0] ^= 1;
                c
            }),
            (&b"aad"[..], sealed.ciphertext[..TAG_LEN - 1].to_vec()),
        ] {
            let back = open_in_place(&key, aad, &sealed.nonce, ct.clone()).unwrap_err();
            assert_eq!(back, ct);
        }
        let short_nonce =
            open_in_place(&key, b"aad", &sealed.nonce[1..], sealed.ciphertext.clone());
        assert_eq!(short_nonce.unwrap_err(), sealed.ciphertext);
    }

    /// The XChaCha20-Poly1305 test vector of draft-irtf-cfrg-xchacha-03
    /// (A.3.1), opened by both implementations.
    #[test]
    fn the_xchacha20_poly1305_test_vector_opens() {
        let h = |s: &str| hex::decode(s.replace(char::is_whitespace, "")).unwrap();
        let key = SecretKey::from_slice(&h(
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        ))
        .unwrap();
        let nonce = h("404142434445464748494a4b4c4d4e4f5051525354555657");
        let aad = h("50515253c0c1c2c3c4c5c6c7");
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let ct = h(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
             731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
             2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
             21f9664c97637da9768812f615c68b13b52e
             c0875924c1c7987947deafd8780acf49",
        );
        let mut buf = ct.clone();
        let n = open_in_slice(&key, &aad, &nonce, &mut buf).unwrap();
        assert_eq!(&buf[..n], plain);
        assert_eq!(
            open_parts(&key, &aad, &nonce, &ct).unwrap().as_slice(),
            plain
        );
    }

    #[test]
    fn derived_key_ids_are_recognised_and_random_ones_are_not() {
        let mut r = rng(6);
        let key = SecretKey::random(&mut r);
        assert!(KeyId::derived(&key).is_derived_from(&key));
        assert!(!KeyId::random(&mut r).is_derived_from(&key));
        assert!(!KeyId::derived(&SecretKey::random(&mut r)).is_derived_from(&key));
    }

    #[test]
    fn aad_fields_cannot_be_shifted_into_each_other() {
        let k = KeyId([1; 8]);
        // "task"+"x" must not encode like "tas"+"kx".
        let a = ctx(RecordKind::Task, b"x", k).aad();
        let b = ctx(RecordKind::List, b"x", k).aad();
        assert_ne!(a, b);
    }

    #[test]
    fn truncated_inputs_are_refused_not_panicking() {
        let mut r = rng(3);
        let key = SecretKey::random(&mut r);
        assert!(open_parts(&key, b"", &[0u8; 3], &[]).is_err());
        assert!(open_parts(&key, b"", &[0u8; 24], &[0u8; 5]).is_err());
    }
}
