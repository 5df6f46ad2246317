//! Identifiers and digests on the wire. All are random or derived bytes
//! (never user content), written as lowercase hex in JSON and raw in AAD.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {what} ({len} bytes as lowercase hex)")]
pub struct ParseHexError {
    pub what: &'static str,
    pub len: usize,
    pub text: String,
}

/// Parses exactly `N` bytes of lowercase hex (uppercase is refused so that
/// each value has one spelling, which the server compares as text).
pub fn parse_hex<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], ParseHexError> {
    let err = || ParseHexError {
        what,
        len: N,
        text: s.chars().take(80).collect(),
    };
    if s.len() != 2 * N || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(err());
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|_| err())?;
    Ok(out)
}

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub const LEN: usize = $len;
            pub fn random(rng: &mut dyn RngCore) -> Self {
                let mut b = [0u8; $len];
                rng.fill_bytes(&mut b);
                $name(b)
            }
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
            pub fn hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<$len>($what, s).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// An account, chosen at random by the client that signs up.
    AccountId, 16, "account id");
hex_id!(
    /// A device's sync identity, chosen at random at sign-in. Never reused
    /// once a device's local sync state is lost or it was signed out.
    DeviceId, 16, "device id");
hex_id!(
    /// Chosen by the client for each batch; the server's idempotency key.
    BatchId, 16, "batch id");
hex_id!(
    /// Chosen by the client for each snapshot.
    SnapshotId, 16, "snapshot id");
hex_id!(
    /// Names a sync key without revealing it (HKDF of the key).
    KeyId, 16, "key id");
hex_id!(
    /// What the server knows an account by: a hash of the normalised email,
    /// so the server never sees the email itself.
    LoginId, 32, "login id");
hex_id!(
    /// SHA-256 digest: a batch's chain hash.
    Hash32, 32, "hash");
hex_id!(
    /// A record (task, list) id, as the vault makes them: 128 random bits.
    RecordId, 16, "record id");

impl Hash32 {
    /// The `prev` of a device's first batch.
    pub const ZERO: Hash32 = Hash32([0; 32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_round_trip_and_refuse_other_spellings() {
        let id: DeviceId = "00112233445566778899aabbccddeeff".parse().unwrap();
        assert_eq!(id.to_string(), "00112233445566778899aabbccddeeff");
        assert_eq!(
            serde_json::from_str::<DeviceId>(&serde_json::to_string(&id).unwrap()).unwrap(),
            id
        );
        for bad in [
            "00112233445566778899AABBCCDDEEFF",
            "0011",
            "zz112233445566778899aabbccddeeff",
            "",
        ] {
            let e = bad.parse::<DeviceId>().unwrap_err();
            assert!(e.to_string().contains("device id"), "{e}");
        }
    }
}
