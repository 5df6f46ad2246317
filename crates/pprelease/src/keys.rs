//! Signing keys in Tauri's formats, so keys and signatures move freely
//! between `pprelease` and `tauri signer`: the secret key file holds base64 of
//! the minisign secret-key text, the public key is base64 of the `.pub` text,
//! and a `.sig` file holds base64 of the minisign signature text.

use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct Generated {
    /// The secret key file's content.
    pub secret_file: String,
    /// Tauri's `pubkey` / the service's `public_key`.
    pub public_b64: String,
}

pub fn generate(password: &str) -> anyhow::Result<Generated> {
    let kp = minisign::KeyPair::generate_encrypted_keypair(Some(password.to_string()))?;
    let sk_box = kp
        .sk
        .to_box(Some("rsign encrypted secret key"))?
        .into_string();
    let pk_box = kp.pk.to_box()?.into_string();
    Ok(Generated {
        secret_file: B64.encode(sk_box),
        public_b64: B64.encode(pk_box),
    })
}

/// Text that is either itself or base64 of itself (both forms are in use).
fn maybe_base64(s: &str) -> String {
    let t = s.trim();
    B64.decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|d| d.starts_with("untrusted comment:"))
        .unwrap_or_else(|| t.to_string())
}

/// Loads a secret key from its file content (Tauri's base64 form or the raw minisign text).
pub fn load_secret(content: &str, password: &str) -> anyhow::Result<minisign::SecretKey> {
    let text = maybe_base64(content);
    let sk_box = minisign::SecretKeyBox::from_string(&text).context("not a minisign secret key")?;
    minisign::SecretKey::from_box(sk_box, Some(password.to_string())).context(
        "could not open the secret key (wrong password? set TAURI_SIGNING_PRIVATE_KEY_PASSWORD)",
    )
}

/// Signs `file` for release `version` the way `tauri signer sign --app-version`
/// does; returns the `.sig` text (not base64). The version in the trusted
/// comment is what stops an old build being published (or installed) as a new one.
pub fn sign_file(sk: &minisign::SecretKey, file: &Path, version: &str) -> anyhow::Result<String> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no UTF-8 file name", file.display()))?;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let trusted = productivitypro_protocol::signature::trusted_comment(ts, name, version);
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
    );
    let sig = minisign::sign(
        None,
        sk,
        reader,
        Some(&trusted),
        Some("signature from tauri secret key"),
    )?;
    Ok(sig.into_string())
}

/// Reads a `.sig` file in either form and returns the signature text.
pub fn read_signature(path: &Path) -> anyhow::Result<String> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let text = maybe_base64(&content);
    if productivitypro_protocol::signature::parse(&text).is_err() {
        bail!("{} is not a minisign signature", path.display());
    }
    Ok(text)
}

/// The file Tauri writes next to a signed artifact: base64 of the signature text.
pub fn signature_file_content(sig_text: &str) -> String {
    B64.encode(sig_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_what_the_protocol_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let g = generate("pw").unwrap();
        let sk = load_secret(&g.secret_file, "pw").unwrap();
        assert!(load_secret(&g.secret_file, "wrong").is_err());
        let f = dir.path().join("app.AppImage");
        std::fs::write(&f, b"bytes").unwrap();
        let sig = sign_file(&sk, &f, "1.2.0").unwrap();
        let pk = productivitypro_protocol::signature::parse_public_key(&g.public_b64).unwrap();
        productivitypro_protocol::signature::verify_bytes(&pk, &sig, "app.AppImage", b"bytes")
            .unwrap();
        let sig_path = dir.path().join("app.AppImage.sig");
        std::fs::write(&sig_path, signature_file_content(&sig)).unwrap();
        assert_eq!(read_signature(&sig_path).unwrap(), sig);
        let parsed = productivitypro_protocol::signature::parse(&sig).unwrap();
        assert_eq!(
            productivitypro_protocol::signature::trusted_field(&parsed, "version"),
            Some("1.2.0")
        );
    }
}
