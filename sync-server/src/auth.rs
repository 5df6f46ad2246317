//! Who is calling. Device tokens (`pps_…`, 256 random bits) are shown once
//! and stored as SHA-256; login secrets and recovery proofs are stored only
//! as Argon2id hashes, checked off the async runtime and a few at a time so
//! a burst of sign-ins cannot exhaust memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use productivitypro_sync_protocol::api::TOKEN_PREFIX;
use productivitypro_sync_protocol::keys::{KdfParams, MIN_M_KIB, MIN_T, SALT_LEN};
use productivitypro_sync_protocol::{AccountId, DeviceId, KeyId, LoginId};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::error::{ApiResult, Error};
use crate::server::AppState;

/// A new device token (shown once) and the hash the database keeps.
pub fn new_token() -> (String, String) {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    );
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An authenticated device.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub account: AccountId,
    pub device: DeviceId,
    pub key_id: KeyId,
}

fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            Error::of(
                "missing_token",
                "send Authorization: Bearer <device token> (from sign-up or sign-in)",
            )
        })?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 128)
        .ok_or_else(|| {
            Error::of(
                "invalid_token",
                "the Authorization header is not `Bearer pps_...`",
            )
        })
}

/// Checks the device token, then the account's rate limit.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let token = bearer(headers)?;
    let owner = state
        .db
        .token_owner(&token_hash(token))
        .await?
        .ok_or_else(|| Error::of("invalid_token", "unknown device token; sign in again"))?;
    if owner.revoked {
        return Err(Error::of(
            "device_signed_out",
            "this device was signed out; sign in again to sync",
        ));
    }
    state.limits.account(owner.account)?;
    let now = state.now();
    // last_seen_at is for the device list; minute precision spares a write
    // per request.
    if now - owner.last_seen_at >= 60 {
        state
            .db
            .touch_device(owner.account, owner.device, now)
            .await?;
    }
    Ok(Caller {
        account: owner.account,
        device: owner.device,
        key_id: owner
            .key_id
            .parse()
            .map_err(|_| Error::from(crate::db::DbError::Corrupt("key id".into())))?,
    })
}

/// Slow hashing of login secrets and recovery proofs.
pub struct SecretHasher {
    argon: Argon2<'static>,
    permits: Semaphore,
    /// Verified against when the login does not exist, so unknown and known
    /// logins take the same time.
    dummy: String,
}

impl SecretHasher {
    pub fn new(cost: &HashCost) -> anyhow::Result<Arc<SecretHasher>> {
        let params = Params::new(cost.m_kib, cost.t, cost.p, None)
            .map_err(|e| anyhow::anyhow!("login_hash parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy = argon
            .hash_password(&[0u8; 32], &salt)
            .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
            .to_string();
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Arc::new(SecretHasher {
            argon,
            permits: Semaphore::new(workers),
            dummy,
        }))
    }

    pub async fn hash(self: &Arc<Self>, secret: Vec<u8>) -> ApiResult<String> {
        let _permit = self.permits.acquire().await.map_err(|_| busy())?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            me.argon
                .hash_password(&secret, &salt)
                .map(|h| h.to_string())
                .map_err(|_| busy())
        })
        .await
        .map_err(|_| busy())?
    }

    /// False for a wrong secret or no stored hash (`None`).
    pub async fn verify(
        self: &Arc<Self>,
        secret: Vec<u8>,
        stored: Option<String>,
    ) -> ApiResult<bool> {
        let _permit = self.permits.acquire().await.map_err(|_| busy())?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let phc = stored.unwrap_or_else(|| me.dummy.clone());
            let ok = PasswordHash::new(&phc)
                .map(|h| me.argon.verify_password(&secret, &h).is_ok())
                .unwrap_or(false);
            ok && known
        })
        .await
        .map_err(|_| busy())
    }
}

fn busy() -> Error {
    Error::of("storage_unavailable", "the service is shutting down; retry")
}

/// Stable made-up parameters for a login that does not exist, so the
/// parameter lookup does not tell who has an account.
pub fn decoy_kdf(pepper: &[u8], login: LoginId) -> KdfParams {
    let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes any key length");
    mac.update(b"productivitypro/sync/decoy-salt/v1");
    mac.update(&login.0);
    let d = mac.finalize().into_bytes();
    KdfParams {
        salt: d[..SALT_LEN].to_vec(),
        m_kib: MIN_M_KIB,
        t: MIN_T,
        p: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_stored_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert!(a.starts_with("pps_") && a != b);
        assert_eq!(ha, token_hash(&a));
        assert!(!ha.contains(&a[4..]));
    }

    #[test]
    fn decoy_parameters_are_stable_per_login_and_valid() {
        let l1 = LoginId([1; 32]);
        let a = decoy_kdf(b"pepper", l1);
        assert_eq!(a, decoy_kdf(b"pepper", l1));
        assert_ne!(a.salt, decoy_kdf(b"pepper", LoginId([2; 32])).salt);
        assert_ne!(a.salt, decoy_kdf(b"other", l1).salt);
        a.validate().unwrap();
    }

    #[tokio::test]
    async fn secrets_verify_only_against_their_hash() {
        let h = SecretHasher::new(&HashCost {
            m_kib: 8192,
            t: 1,
            p: 1,
        })
        .unwrap();
        let stored = h.hash(vec![7; 32]).await.unwrap();
        assert!(h.verify(vec![7; 32], Some(stored.clone())).await.unwrap());
        assert!(!h.verify(vec![8; 32], Some(stored)).await.unwrap());
        assert!(
            !h.verify(vec![0; 32], None).await.unwrap(),
            "the dummy never signs anyone in"
        );
    }
}
