//! Accounts, sessions and devices. The server sees a login id (a hash of the
//! email), the Argon2id parameters, a login secret it hashes again, and
//! wrapped keys it cannot open — never the email, the passphrase or a key.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use productivitypro_sync_protocol::api::{
    AccountInfo, DeleteAccount, DeviceList, DeviceName, LoginRequest, ParamsRequest,
    ParamsResponse, PassphraseChange, Proof, RecoverRequest, RecoveryChange, RecoveryWrap, Session,
    SignOutAll, SignupRequest,
};
use productivitypro_sync_protocol::keys::{KdfParams, KeyError, WRAPPED_LEN};
use productivitypro_sync_protocol::{AccountId, DeviceId};

use crate::auth::{self, authenticate, Caller};
use crate::db::{AccountRow, LoginDevice, NewAccount};
use crate::error::{ApiResult, Error};
use crate::routes::{client_ip, read_json, St};
use crate::server::AppState;

/// Account requests are small; this bounds them well below the push limit.
const ACCOUNT_BODY: u64 = 16 * 1024;
/// Sealed device names: nonce + at most 64 bytes + tag.
const MAX_SEALED_NAME: usize = 24 + 64 + 16;
const SECRET_LEN: usize = 32;

fn check_kdf(kdf: &KdfParams) -> ApiResult<()> {
    kdf.validate().map_err(|e| match e {
        KeyError::WeakParams { .. } => Error::of("weak_kdf_params", e.to_string()),
        _ => Error::of("invalid_request", e.to_string()),
    })
}

fn check_len(what: &str, b: &[u8], len: usize) -> ApiResult<()> {
    if b.len() != len {
        return Err(Error::of(
            "invalid_request",
            format!("{what} must be {len} bytes, got {}", b.len()),
        ));
    }
    Ok(())
}

fn check_recovery(r: &RecoveryWrap) -> ApiResult<()> {
    check_len("recovery.proof", &r.proof, SECRET_LEN)?;
    check_len("recovery.wrapped_key", &r.wrapped_key, WRAPPED_LEN)
}

fn check_name(name: &[u8]) -> ApiResult<()> {
    if name.len() > MAX_SEALED_NAME || name.len() < 40 {
        return Err(Error::of(
            "invalid_request",
            format!("a sealed device name is 40–{MAX_SEALED_NAME} bytes"),
        ));
    }
    Ok(())
}

fn invalid_credentials() -> Error {
    Error::of(
        "invalid_credentials",
        "wrong email or passphrase (or recovery key), or no such account",
    )
}

pub async fn params(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ParamsResponse>> {
    state.limits.auth(client_ip(&state, &headers, peer))?;
    let req: ParamsRequest = read_json(body, ACCOUNT_BODY).await?;
    let kdf = match state.db.account_by_login(&req.login_id.hex()).await? {
        Some(a) => a.kdf,
        None => auth::decoy_kdf(&state.pepper, req.login_id),
    };
    Ok(Json(ParamsResponse { kdf }))
}

pub async fn signup(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Session>)> {
    state.limits.auth(client_ip(&state, &headers, peer))?;
    let req: SignupRequest = read_json(body, ACCOUNT_BODY).await?;
    check_kdf(&req.kdf)?;
    check_len("login_secret", &req.login_secret, SECRET_LEN)?;
    check_len("wrapped_key", &req.wrapped_key, WRAPPED_LEN)?;
    if let Some(r) = &req.recovery {
        check_recovery(r)?;
    }
    if let Some(n) = &req.device_name {
        check_name(n)?;
    }
    let login_hash = state.hasher.hash(req.login_secret.clone()).await?;
    let recovery_hash = match &req.recovery {
        Some(r) => Some(state.hasher.hash(r.proof.clone()).await?),
        None => None,
    };
    let (token, token_hash) = auth::new_token();
    let created = state
        .db
        .create_account(NewAccount {
            id: req.account_id,
            login_id: &req.login_id.hex(),
            kdf: &req.kdf,
            login_hash: &login_hash,
            key_id: &req.key_id.hex(),
            wrapped_key: &req.wrapped_key,
            recovery_hash: recovery_hash.as_deref(),
            recovery_wrapped: req.recovery.as_ref().map(|r| r.wrapped_key.as_slice()),
            device: req.device_id,
            device_name: req.device_name.as_deref(),
            token_hash: &token_hash,
            now: state.now(),
        })
        .await?;
    if !created {
        state.metrics.sign_in("signup", "exists");
        return Err(Error::of(
            "account_exists",
            "an account with this email (or account id) exists; sign in instead",
        ));
    }
    state.metrics.sign_in("signup", "ok");
    tracing::info!(account = %short(req.account_id), "account created");
    Ok((
        StatusCode::CREATED,
        Json(Session {
            account_id: req.account_id,
            device_id: req.device_id,
            token,
            key_id: req.key_id,
            wrapped_key: req.wrapped_key,
        }),
    ))
}

/// Account ids in logs are cut to 8 hex digits: enough to correlate, not
/// an identifier to collect.
pub fn short(a: AccountId) -> String {
    a.hex()[..8].to_string()
}

async fn open_session(
    state: &AppState,
    account: &AccountRow,
    device: DeviceId,
    wrapped_key: Vec<u8>,
    kind: &str,
) -> ApiResult<Session> {
    let (token, token_hash) = auth::new_token();
    match state
        .db
        .login_device(
            account.id,
            device,
            &token_hash,
            state.config.limits.max_devices,
            state.now(),
        )
        .await?
    {
        LoginDevice::Revoked => {
            state.metrics.sign_in(kind, "device_revoked");
            return Err(Error::of(
                "device_revoked",
                "this device id was signed out; sign in with a new device id",
            ));
        }
        LoginDevice::TooMany => {
            state.metrics.sign_in(kind, "too_many_devices");
            return Err(Error::of(
                "too_many_devices",
                format!(
                    "the account has {} devices signed in; sign one out first",
                    state.config.limits.max_devices
                ),
            ));
        }
        LoginDevice::Fresh | LoginDevice::Existing => {}
    }
    state.metrics.sign_in(kind, "ok");
    tracing::info!(account = %short(account.id), kind, "device signed in");
    Ok(Session {
        account_id: account.id,
        device_id: device,
        token,
        key_id: account
            .key_id
            .parse()
            .map_err(|_| Error::from(crate::db::DbError::Corrupt("key id".into())))?,
        wrapped_key,
    })
}

pub async fn login(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Session>> {
    state.limits.auth(client_ip(&state, &headers, peer))?;
    let req: LoginRequest = read_json(body, ACCOUNT_BODY).await?;
    let account = state.db.account_by_login(&req.login_id.hex()).await?;
    let stored = account.as_ref().map(|a| a.login_hash.clone());
    if !state.hasher.verify(req.login_secret, stored).await? {
        state.metrics.sign_in("login", "invalid_credentials");
        return Err(invalid_credentials());
    }
    let Some(account) = account else {
        return Err(invalid_credentials());
    };
    let wrapped = account.wrapped_key.clone();
    Ok(Json(
        open_session(&state, &account, req.device_id, wrapped, "login").await?,
    ))
}

pub async fn recover(
    State(state): St,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Session>> {
    state.limits.auth(client_ip(&state, &headers, peer))?;
    let req: RecoverRequest = read_json(body, ACCOUNT_BODY).await?;
    let account = state.db.account_by_login(&req.login_id.hex()).await?;
    let stored = account.as_ref().and_then(|a| a.recovery_hash.clone());
    if !state.hasher.verify(req.recovery_proof, stored).await? {
        state.metrics.sign_in("recover", "invalid_credentials");
        return Err(invalid_credentials());
    }
    let Some((account, wrapped)) = account.and_then(|a| {
        let w = a.recovery_wrapped.clone()?;
        Some((a, w))
    }) else {
        return Err(invalid_credentials());
    };
    Ok(Json(
        open_session(&state, &account, req.device_id, wrapped, "recover").await?,
    ))
}

pub async fn info(State(state): St, headers: HeaderMap) -> ApiResult<Json<AccountInfo>> {
    let c = authenticate(&state, &headers).await?;
    let info = state
        .db
        .account_info(c.account)
        .await?
        .ok_or_else(|| Error::of("invalid_token", "the account no longer exists"))?;
    Ok(Json(info))
}

async fn account_of(state: &AppState, c: &Caller) -> ApiResult<AccountRow> {
    state
        .db
        .account(c.account)
        .await?
        .ok_or_else(|| Error::of("invalid_token", "the account no longer exists"))
}

async fn check_login_secret(
    state: &Arc<AppState>,
    a: &AccountRow,
    secret: Vec<u8>,
) -> ApiResult<()> {
    if !state
        .hasher
        .verify(secret, Some(a.login_hash.clone()))
        .await?
    {
        return Err(invalid_credentials());
    }
    Ok(())
}

pub async fn change_passphrase(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let req: PassphraseChange = read_json(body, ACCOUNT_BODY).await?;
    check_kdf(&req.kdf)?;
    check_len("login_secret", &req.login_secret, SECRET_LEN)?;
    check_len("wrapped_key", &req.wrapped_key, WRAPPED_LEN)?;
    let a = account_of(&state, &c).await?;
    match req.proof {
        Proof::LoginSecret(s) => check_login_secret(&state, &a, s).await?,
        Proof::RecoveryProof(p) => {
            if !state.hasher.verify(p, a.recovery_hash.clone()).await? {
                return Err(invalid_credentials());
            }
        }
    }
    let login_hash = state.hasher.hash(req.login_secret).await?;
    let keep = req.sign_out_other_devices.then_some(c.device);
    state
        .db
        .set_passphrase(
            c.account,
            &req.kdf,
            &login_hash,
            &req.wrapped_key,
            keep,
            state.now(),
        )
        .await?;
    if keep.is_some() {
        state.hub.revoked(c.account);
    }
    tracing::info!(account = %short(c.account), "passphrase changed");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn change_recovery(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let req: RecoveryChange = read_json(body, ACCOUNT_BODY).await?;
    if let Some(r) = &req.recovery {
        check_recovery(r)?;
    }
    let a = account_of(&state, &c).await?;
    check_login_secret(&state, &a, req.login_secret).await?;
    match req.recovery {
        Some(r) => {
            let h = state.hasher.hash(r.proof).await?;
            state
                .db
                .set_recovery(c.account, Some((&h, &r.wrapped_key)))
                .await?;
        }
        None => state.db.set_recovery(c.account, None).await?,
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(State(state): St, headers: HeaderMap, body: Body) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let req: DeleteAccount = read_json(body, ACCOUNT_BODY).await?;
    let a = account_of(&state, &c).await?;
    check_login_secret(&state, &a, req.login_secret).await?;
    state.db.delete_account(c.account).await?;
    state.hub.deleted(c.account);
    tracing::info!(account = %short(c.account), "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn devices(State(state): St, headers: HeaderMap) -> ApiResult<Json<DeviceList>> {
    let c = authenticate(&state, &headers).await?;
    Ok(Json(DeviceList {
        devices: state.db.devices(c.account, c.device).await?,
    }))
}

pub async fn rename_device(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let req: DeviceName = read_json(body, ACCOUNT_BODY).await?;
    check_name(&req.name)?;
    state
        .db
        .set_device_name(c.account, c.device, &req.name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sign_out_device(
    State(state): St,
    headers: HeaderMap,
    Path(device): Path<String>,
) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let device: DeviceId = if device == "current" {
        c.device
    } else {
        device
            .parse()
            .map_err(|e: productivitypro_sync_protocol::ids::ParseHexError| {
                Error::of("invalid_request", e.to_string())
            })?
    };
    if !state
        .db
        .sign_out(c.account, Some(device), None, state.now())
        .await?
    {
        return Err(Error::of(
            "unknown_device",
            "no signed-in device with that id on this account",
        ));
    }
    state.hub.revoked(c.account);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn sign_out_all(
    State(state): St,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let c = authenticate(&state, &headers).await?;
    let req: SignOutAll = read_json(body, ACCOUNT_BODY).await?;
    let keep = (!req.include_current).then_some(c.device);
    state
        .db
        .sign_out(c.account, None, keep, state.now())
        .await?;
    state.hub.revoked(c.account);
    Ok(StatusCode::NO_CONTENT)
}
