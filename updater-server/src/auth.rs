//! Bearer tokens for the write API. A token is shown once at creation; the
//! database keeps only its SHA-256, so a database leak gives no usable tokens.

use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use productivitypro_protocol::api::Scope;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::db::{Db, TokenRow};
use crate::error::Error;

const PREFIX: &str = "ppu_";

/// Who is acting: recorded in the audit log.
pub struct Actor {
    pub name: String,
    pub scopes: Vec<Scope>,
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token (to show once) and its id (to list and revoke by).
pub fn generate(rng: &mut dyn RngCore) -> (String, String) {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let mut id = [0u8; 6];
    rng.fill_bytes(&mut id);
    (
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        ),
        hex::encode(id),
    )
}

pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, String> {
    list.split(',')
        .map(|s| {
            Scope::parse(s.trim())
                .ok_or_else(|| format!("unknown scope {s:?}: expected publish, rollout or admin"))
        })
        .collect()
}

fn unauthorized(code: &'static str, message: &str) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, code, message)
}

/// Checks the request's bearer token has `needed` (or `admin`) and is live at `now`.
pub async fn authorize(
    db: &Db,
    headers: &HeaderMap,
    needed: Option<Scope>,
    now: i64,
) -> Result<Actor, Error> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthorized(
                "missing_token",
                "send Authorization: Bearer <token> (updater-server token create)",
            )
        })?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| t.starts_with(PREFIX))
        .ok_or_else(|| {
            unauthorized(
                "invalid_token",
                "the Authorization header is not `Bearer ppu_...`",
            )
        })?;
    let row: TokenRow = db
        .token_by_hash(&hash(token))
        .await?
        .ok_or_else(|| unauthorized("invalid_token", "unknown token"))?;
    if row.revoked_at.is_some() {
        return Err(unauthorized("token_revoked", "this token was revoked"));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(unauthorized(
            "token_expired",
            "this token has expired; create a new one",
        ));
    }
    let scopes = parse_scopes(&row.scopes).unwrap_or_default();
    if let Some(needed) = needed {
        if !scopes.iter().any(|s| *s == needed || *s == Scope::Admin) {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!(
                    "this action needs a token with the {} scope",
                    needed.as_str()
                ),
            ));
        }
    }
    Ok(Actor {
        name: format!("{} ({})", row.name, row.id),
        scopes,
    })
}
