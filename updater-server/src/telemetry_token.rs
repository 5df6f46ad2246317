//! Telemetry tokens: what makes a health report cost one real update check.
//! A token is `1.<issued at>.<MAC>`, the MAC an HMAC-SHA256 under the
//! service's secret over (install id, version, channel, issue time), so it is
//! checked without any state and every replica sharing the secret accepts
//! the tokens of the others.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use productivitypro_protocol::Channel;
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const VERSION: &str = "1";
/// Tokens from a clock this far ahead are still accepted.
const SKEW_SECS: i64 = 600;

/// The HMAC key. Its Debug never shows it.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the report carries no telemetry token; take the one the update check answered with, or POST /v1/telemetry/token")]
    Missing,
    #[error("the telemetry token is not valid for this install, version and channel")]
    Invalid,
    #[error("the telemetry token has expired; an update check or POST /v1/telemetry/token gives a new one")]
    Expired,
}

impl TokenError {
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Missing => "missing_telemetry_token",
            TokenError::Invalid => "invalid_telemetry_token",
            TokenError::Expired => "telemetry_token_expired",
        }
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Self {
        TokenKey(secret.to_vec())
    }

    fn mac(&self, install: &Uuid, version: &str, channel: Channel, issued_at: i64) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut m = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        m.update(b"productivitypro telemetry token v1\0");
        m.update(install.as_bytes());
        m.update(version.as_bytes());
        m.update(b"\0");
        m.update(channel.as_str().as_bytes());
        m.update(b"\0");
        m.update(&issued_at.to_be_bytes());
        m
    }

    pub fn issue(&self, install: &Uuid, version: &str, channel: Channel, now: i64) -> String {
        let tag = self
            .mac(install, version, channel, now)
            .finalize()
            .into_bytes();
        format!("{VERSION}.{now}.{}", B64.encode(tag))
    }

    /// Checks `token` for this install, version and channel at `now`.
    pub fn verify(
        &self,
        token: &str,
        install: &Uuid,
        version: &str,
        channel: Channel,
        now: i64,
        ttl_secs: i64,
    ) -> Result<(), TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let mut parts = token.splitn(3, '.');
        let (Some(VERSION), Some(at), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let issued_at: i64 = at.parse().map_err(|_| TokenError::Invalid)?;
        let tag = B64.decode(tag).map_err(|_| TokenError::Invalid)?;
        // Constant-time comparison.
        self.mac(install, version, channel, issued_at)
            .verify_slice(&tag)
            .map_err(|_| TokenError::Invalid)?;
        if issued_at > now + SKEW_SECS {
            return Err(TokenError::Invalid);
        }
        if now - issued_at > ttl_secs {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_only_for_its_install_version_channel_and_lifetime() {
        let key = TokenKey::new(b"0123456789abcdef0123456789abcdef");
        let id = Uuid::new_v4();
        let t = key.issue(&id, "1.2.0", Channel::Beta, 1_000_000);
        let ok = |token: &str, id: &Uuid, v: &str, c: Channel, now: i64| {
            key.verify(token, id, v, c, now, 3600)
        };
        assert_eq!(ok(&t, &id, "1.2.0", Channel::Beta, 1_000_100), Ok(()));
        assert_eq!(
            ok(&t, &Uuid::new_v4(), "1.2.0", Channel::Beta, 1_000_100),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            ok(&t, &id, "1.2.1", Channel::Beta, 1_000_100),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            ok(&t, &id, "1.2.0", Channel::Stable, 1_000_100),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            ok(&t, &id, "1.2.0", Channel::Beta, 1_003_601),
            Err(TokenError::Expired)
        );
        assert_eq!(
            ok("", &id, "1.2.0", Channel::Beta, 0),
            Err(TokenError::Missing)
        );
        // A changed issue time (to extend a token's life) breaks the MAC.
        let later = t.replacen("1000000", "1003000", 1);
        assert_eq!(
            ok(&later, &id, "1.2.0", Channel::Beta, 1_003_700),
            Err(TokenError::Invalid)
        );
        let other_key = TokenKey::new(b"another secret of thirty-two chars!");
        assert_eq!(
            other_key.verify(&t, &id, "1.2.0", Channel::Beta, 1_000_100, 3600),
            Err(TokenError::Invalid)
        );
        for junk in ["1", "1.x.y", "2.1000000.AAAA", "1.1000000.!!"] {
            assert_eq!(
                ok(junk, &id, "1.2.0", Channel::Beta, 1_000_100),
                Err(TokenError::Invalid)
            );
        }
    }
}
