//! Minisign signatures as Tauri uses them: the `.sig` text (untrusted comment,
//! signature, trusted comment, global signature) travels base64-encoded, and
//! the public key is base64 of the `.pub` file text.

use base64::Engine as _;
use minisign_verify::{PublicKey, Signature};

#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("not base64")]
    Base64,
    #[error("not UTF-8 text")]
    Utf8,
    #[error("not a minisign signature (expected 4 lines: untrusted comment, signature, trusted comment, global signature)")]
    Malformed,
    #[error("not a minisign public key (expected the .pub file text, base64 of it, or the bare key line)")]
    MalformedKey,
    #[error("signed by another key (key id differs from the configured public key)")]
    WrongKey,
    #[error("legacy (non-prehashed) signature: re-sign with minisign >= 0.8, `tauri signer sign` or `pprelease sign`")]
    Legacy,
    #[error("the signature does not match the file's bytes")]
    Mismatch,
    #[error("the signed trusted comment names {signed:?}, not {expected:?}")]
    WrongFile { signed: String, expected: String },
    #[error("the signed trusted comment names no file (expected `file:NAME`)")]
    NoFileName,
}

/// Decodes the base64 `signature` field into the `.sig` text and checks it parses.
pub fn decode_base64(b64: &str) -> Result<String, SignatureError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| SignatureError::Base64)?;
    let text = String::from_utf8(bytes).map_err(|_| SignatureError::Utf8)?;
    parse(&text)?;
    Ok(text)
}

pub fn parse(sig_text: &str) -> Result<Signature, SignatureError> {
    Signature::decode(sig_text).map_err(|_| SignatureError::Malformed)
}

/// Accepts the forms release engineers have at hand: Tauri's `pubkey`
/// (base64 of the `.pub` text), the `.pub` text itself, or its bare key line.
pub fn parse_public_key(s: &str) -> Result<PublicKey, SignatureError> {
    let s = s.trim();
    if let Ok(k) = PublicKey::decode(s) {
        return Ok(k);
    }
    if let Ok(k) = PublicKey::from_base64(s) {
        return Ok(k);
    }
    let text = base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(SignatureError::MalformedKey)?;
    PublicKey::decode(text.trim()).map_err(|_| SignatureError::MalformedKey)
}

/// The `key:value` fields of a trusted comment, tab separated
/// (`timestamp:1700000000\tfile:app.AppImage`).
pub fn trusted_field<'a>(sig: &'a Signature, key: &str) -> Option<&'a str> {
    sig.trusted_comment()
        .split('\t')
        .filter_map(|kv| kv.split_once(':'))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// Checks that the signature is from `key` and names `file_name`, then returns a
/// verifier to feed the file's bytes to, so large files are checked while they stream.
pub fn begin_verify<'a>(
    key: &'a PublicKey,
    sig: &'a Signature,
    file_name: &str,
) -> Result<minisign_verify::StreamVerifier<'a>, SignatureError> {
    match trusted_field(sig, "file") {
        None => return Err(SignatureError::NoFileName),
        Some(signed) if signed != file_name => {
            return Err(SignatureError::WrongFile {
                signed: signed.into(),
                expected: file_name.into(),
            })
        }
        Some(_) => {}
    }
    key.verify_stream(sig).map_err(|e| match e {
        minisign_verify::Error::UnexpectedKeyId => SignatureError::WrongKey,
        minisign_verify::Error::UnsupportedLegacyMode => SignatureError::Legacy,
        _ => SignatureError::Malformed,
    })
}

pub fn finish_verify(mut v: minisign_verify::StreamVerifier<'_>) -> Result<(), SignatureError> {
    v.finalize().map_err(|_| SignatureError::Mismatch)
}

/// Verifies bytes in memory (small artifacts, tests, the app after a delta rebuild).
pub fn verify_bytes(
    key: &PublicKey,
    sig_text: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<(), SignatureError> {
    let sig = parse(sig_text)?;
    let mut v = begin_verify(key, &sig, file_name)?;
    v.update(bytes);
    finish_verify(v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh key pair and a signature made the way `tauri signer sign` makes
    /// them (minisign crate, prehashed, `timestamp:..\tfile:..` trusted comment).
    pub(crate) fn signed(bytes: &[u8], file: &str) -> (String, String) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let pub_text = kp.pk.to_box().unwrap().to_string();
        let trusted = format!("timestamp:1700000000\tfile:{file}");
        let sig = minisign::sign(
            Some(&kp.pk),
            &kp.sk,
            std::io::Cursor::new(bytes),
            Some(&trusted),
            None,
        )
        .unwrap()
        .to_string();
        (pub_text, sig)
    }

    #[test]
    fn every_key_form_parses_to_the_same_key() {
        let (pub_text, sig) = signed(b"x", "x");
        let bare = pub_text.lines().nth(1).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pub_text);
        for form in [pub_text.as_str(), bare, &b64] {
            verify_bytes(&parse_public_key(form).unwrap(), &sig, "x", b"x").unwrap();
        }
        assert!(matches!(
            parse_public_key("nonsense"),
            Err(SignatureError::MalformedKey)
        ));
    }

    #[test]
    fn verifies_and_names_each_failure() {
        let (pub_text, sig) = signed(b"test", "app.AppImage");
        let key = parse_public_key(&pub_text).unwrap();
        verify_bytes(&key, &sig, "app.AppImage", b"test").unwrap();
        assert!(matches!(
            verify_bytes(&key, &sig, "app.AppImage", b"tesT"),
            Err(SignatureError::Mismatch)
        ));
        assert!(matches!(
            verify_bytes(&key, &sig, "other.AppImage", b"test"),
            Err(SignatureError::WrongFile { .. })
        ));
        assert!(matches!(
            verify_bytes(&key, "garbage", "app.AppImage", b"test"),
            Err(SignatureError::Malformed)
        ));
        let (other_pub, _) = signed(b"test", "app.AppImage");
        let other = parse_public_key(&other_pub).unwrap();
        assert!(matches!(
            verify_bytes(&other, &sig, "app.AppImage", b"test"),
            Err(SignatureError::WrongKey)
        ));
    }
}
