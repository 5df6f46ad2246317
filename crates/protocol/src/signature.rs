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
    #[error("signed for version {signed}, not {expected}")]
    WrongVersion { signed: String, expected: String },
    #[error("the signature names no version (trusted comment without `version:`); sign with `pprelease sign --version {0}` or `tauri signer sign --app-version {0}`")]
    NoVersion(String),
    #[error("the signature names no version and the file name {file:?} does not carry {version}")]
    VersionNotInFileName { file: String, version: String },
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

/// The trusted comment `pprelease sign` writes (and `tauri signer sign
/// --app-version` too): `timestamp:…\tfile:…\tversion:…`.
pub fn trusted_comment(timestamp: u64, file_name: &str, version: &str) -> String {
    format!("timestamp:{timestamp}\tfile:{file_name}\tversion:{version}")
}

/// Binds a signature to the release version it is published as, so an old
/// signed build cannot be served as a new version. A signed `version:` must
/// equal `version`. Without one the signature is refused when `require` is
/// set; otherwise (builds signed by an older `tauri signer`) the file name
/// must carry the version as a whole token (`app_1.2.0_amd64.deb`, not
/// `app_11.2.0` or `app_1.2.0.1`).
pub fn check_signed_version(
    sig: &Signature,
    file_name: &str,
    version: &semver::Version,
    require: bool,
) -> Result<(), SignatureError> {
    let text = version.to_string();
    match trusted_field(sig, "version") {
        Some(signed) => {
            let parsed = semver::Version::parse(signed.strip_prefix('v').unwrap_or(signed));
            if parsed.ok().as_ref() == Some(version) {
                Ok(())
            } else {
                Err(SignatureError::WrongVersion {
                    signed: signed.to_string(),
                    expected: text,
                })
            }
        }
        None if require => Err(SignatureError::NoVersion(text)),
        None if file_name_carries_version(file_name, &text) => Ok(()),
        None => Err(SignatureError::VersionNotInFileName {
            file: file_name.to_string(),
            version: text,
        }),
    }
}

/// Whether `version` appears in `file_name` as a whole token: not preceded by
/// a digit or a dot, and not followed by a digit, a `.digit` or `-letter`
/// (which would make it another version, or a pre-release of it).
pub fn file_name_carries_version(file_name: &str, version: &str) -> bool {
    if version.is_empty() {
        return false;
    }
    let bytes = file_name.as_bytes();
    file_name.match_indices(version).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + version.len()).copied();
        let next = bytes.get(i + version.len() + 1).copied();
        let left_ok = !matches!(before, Some(b) if b.is_ascii_digit() || b == b'.');
        let right_ok = match after {
            None => true,
            Some(b) if b.is_ascii_digit() || b == b'+' => false,
            Some(b'.') => !next.is_some_and(|n| n.is_ascii_digit()),
            Some(b'-') => !next.is_some_and(|n| n.is_ascii_alphabetic()),
            Some(_) => true,
        };
        left_ok && right_ok
    })
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

    fn signed_with(comment: &str) -> Signature {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let sig = minisign::sign(
            None,
            &kp.sk,
            std::io::Cursor::new(b"x"),
            Some(comment),
            None,
        )
        .unwrap()
        .to_string();
        parse(&sig).unwrap()
    }

    #[test]
    fn signed_versions_must_match_and_unsigned_ones_need_the_file_name() {
        let v = semver::Version::parse("1.2.0").unwrap();
        let with = signed_with(&trusted_comment(1, "a", "1.2.0"));
        assert!(check_signed_version(&with, "a", &v, true).is_ok());
        let v_prefixed = signed_with("timestamp:1\tfile:a\tversion:v1.2.0");
        assert!(check_signed_version(&v_prefixed, "a", &v, true).is_ok());
        let old = signed_with(&trusted_comment(1, "a", "1.1.0"));
        assert!(matches!(
            check_signed_version(&old, "pp_1.2.0.AppImage", &v, false),
            Err(SignatureError::WrongVersion { .. })
        ));
        let none = signed_with("timestamp:1\tfile:pp_1.2.0.AppImage");
        assert!(matches!(
            check_signed_version(&none, "pp_1.2.0.AppImage", &v, true),
            Err(SignatureError::NoVersion(_))
        ));
        assert!(check_signed_version(&none, "pp_1.2.0.AppImage", &v, false).is_ok());
        assert!(matches!(
            check_signed_version(&none, "pp.AppImage", &v, false),
            Err(SignatureError::VersionNotInFileName { .. })
        ));
    }

    #[test]
    fn a_version_in_a_file_name_is_a_whole_token() {
        for yes in [
            "ProductivityPro_1.2.0_amd64.AppImage",
            "productivitypro-1.2.0-1.x86_64.rpm",
            "pp_v1.2.0.msi",
            "1.2.0.tar.gz",
            "pp-1.2.0",
        ] {
            assert!(file_name_carries_version(yes, "1.2.0"), "{yes}");
        }
        for no in [
            "pp_11.2.0.AppImage",
            "pp_1.2.0.1.AppImage",
            "pp_1.2.01.AppImage",
            "pp_1.2.0-rc.1.AppImage",
            "pp_1.2.0+build.AppImage",
            "pp_2.1.2.0.AppImage",
            "pp.AppImage",
        ] {
            assert!(!file_name_carries_version(no, "1.2.0"), "{no}");
        }
        assert!(file_name_carries_version(
            "pp_1.2.0-rc.1_x64.msi",
            "1.2.0-rc.1"
        ));
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
