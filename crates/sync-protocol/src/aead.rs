//! The two primitives everything else is built from: XChaCha20-Poly1305
//! with a random 24-byte nonce, and HKDF-SHA256 expansion with a label.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;
pub const TAG_LEN: usize = 16;

/// A 256-bit secret, wiped on drop.
pub type Secret = Zeroizing<[u8; KEY_LEN]>;

pub fn seal(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    XChaCha20Poly1305::new(key.into())
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Encryption fails only for inputs beyond 256 GiB, which callers bound.
        .unwrap_or_default()
}

/// `None` when the ciphertext, nonce, AAD or key do not match.
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// HKDF-SHA256 with an empty salt unless given; `info` is the label.
pub fn hkdf(ikm: &[u8], salt: Option<&[u8]>, info: &[u8], out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::new(salt, ikm);
    // Output lengths here are 16 or 32 bytes, far below HKDF's limit.
    let _ = hk.expand(info, out);
}

pub fn hkdf32(ikm: &[u8], salt: Option<&[u8]>, info: &[u8]) -> Secret {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    hkdf(ikm, salt, info, out.as_mut());
    out
}
