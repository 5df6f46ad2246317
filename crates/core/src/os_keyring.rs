//! The OS keyring (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows) through the `keyring` crate, whose native backends
//! are enabled explicitly in the workspace manifest. There is no fallback:
//! if the platform store is unusable the caller gets `Unavailable`.

use zeroize::Zeroizing;

use crate::crypto::SecretKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("the OS keyring is not available ({0})")]
    Unavailable(String),
    #[error("the vault's key is not in the OS keyring (it was removed, or this is another machine or user)")]
    Missing,
    #[error("the OS keyring entry is damaged ({0})")]
    Damaged(String),
}

/// One keyring entry, named by service and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringEntry {
    pub service: String,
    pub account: String,
}

impl KeyringEntry {
    fn entry(&self) -> Result<keyring::Entry, KeyringError> {
        keyring::Entry::new(&self.service, &self.account).map_err(map_err)
    }

    pub fn store(&self, secret: &SecretKey) -> Result<(), KeyringError> {
        let hex = to_hex(secret.expose());
        self.entry()?.set_password(&hex).map_err(map_err)?;
        // Read back: some stores accept a write they cannot serve later
        // (a locked collection, a read-only session).
        let back = self.load()?;
        if back.expose() != secret.expose() {
            return Err(KeyringError::Damaged(
                "the value read back differs from the value written".into(),
            ));
        }
        Ok(())
    }

    pub fn load(&self) -> Result<SecretKey, KeyringError> {
        let pw = Zeroizing::new(self.entry()?.get_password().map_err(map_err)?);
        from_hex(&pw)
            .and_then(|b| SecretKey::from_slice(&b))
            .ok_or_else(|| KeyringError::Damaged("not a 256-bit hex key".into()))
    }

    pub fn delete(&self) -> Result<(), KeyringError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }
}

fn map_err(e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoEntry => KeyringError::Missing,
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            KeyringError::Unavailable(e.to_string())
        }
        other => KeyringError::Damaged(other.to_string()),
    }
}

/// Lowercase hex of a secret. Encodes into buffers sized up front, so no
/// reallocation leaves an unzeroed copy of the key behind.
fn to_hex(b: &[u8]) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; b.len() * 2]);
    hex::encode_to_slice(b, &mut buf).expect("the buffer is twice the input's length");
    let text = String::from_utf8(std::mem::take(&mut *buf)).expect("hex digits are ASCII");
    Zeroizing::new(text)
}

/// `None` for odd length or a non-hex digit; the bytes go straight into a
/// zeroizing buffer.
fn from_hex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(vec![0u8; s.len() / 2]);
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_secret_hex_is_lowercase_and_malformed_text_is_refused() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 8).collect();
        let text = to_hex(&bytes);
        assert_eq!(
            text.as_str(),
            "0008101820283038404850586068707880889098a0a8b0b8c0c8d0d8e0e8f0f8"
        );
        assert_eq!(from_hex(&text).unwrap().as_slice(), bytes.as_slice());
        assert_eq!(
            from_hex(&text.to_uppercase()).unwrap().as_slice(),
            bytes.as_slice()
        );
        for bad in ["0", "0g", "+f", "éé"] {
            assert!(from_hex(bad).is_none(), "{bad}");
        }
    }
}
