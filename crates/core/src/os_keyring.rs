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
        let hex = Zeroizing::new(to_hex(secret.expose()));
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

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(s.len() / 2));
    for i in (0..s.len()).step_by(2) {
        out.push(u8::from_str_radix(&s[i..i + 2], 16).ok()?);
    }
    Some(out)
}
