//! Account flows on the client side: what is derived, sent and checked for
//! sign-up, sign-in (with the key-id check), recovery and passphrase change.

use rand::{CryptoRng, RngCore};

use super::http::{ClientError, SyncClient};
use crate::api::{
    LoginRequest, PassphraseChange, Proof, RecoverRequest, RecoveryChange, RecoveryWrap, Session,
    SignupRequest,
};
use crate::ids::{AccountId, DeviceId, KeyId, LoginId};
use crate::keys::{self, KdfParams, KeyError, PassphraseKeys, SyncKey, WrapKind};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("this device already syncs account {expected} with key {expected_key}; the server holds account {found} with key {found_key}: refusing to mix two accounts' data")]
    AccountMismatch {
        expected: AccountId,
        expected_key: KeyId,
        found: AccountId,
        found_key: KeyId,
    },
}

impl AccountError {
    pub fn code(&self) -> &str {
        match self {
            AccountError::Client(e) => e.code(),
            AccountError::Key(e) => e.code(),
            AccountError::AccountMismatch { .. } => "account_mismatch",
        }
    }
}

/// A signed-in device: its session and the opened sync key.
pub struct SignedIn {
    pub session: Session,
    pub key: SyncKey,
}

/// What a device that synced before remembers, to refuse another account.
pub struct Known {
    pub account: AccountId,
    pub key_id: KeyId,
}

/// Stretches the passphrase with the parameters the server holds for this
/// login. Slow (Argon2id); the caller may cache the result for the session.
pub async fn derive(
    client: &SyncClient,
    email: &str,
    passphrase: &str,
) -> Result<(LoginId, KdfParams, PassphraseKeys), AccountError> {
    let login = keys::login_id(email)?;
    let kdf = client.params(login).await?.kdf;
    let pk = keys::derive_passphrase_keys(passphrase, &kdf)?;
    Ok((login, kdf, pk))
}

/// Signs up: a fresh account id, sync key and KDF salt; the recovery wrap
/// if a recovery secret (a dedicated one or the vault's) is given.
#[allow(clippy::too_many_arguments)]
pub async fn signup<R: RngCore + CryptoRng>(
    client: &SyncClient,
    email: &str,
    passphrase: &str,
    recovery_secret: Option<&[u8; 32]>,
    device: DeviceId,
    device_name: Option<&str>,
    kdf: Option<KdfParams>,
    rng: &mut R,
) -> Result<SignedIn, AccountError> {
    let login = keys::login_id(email)?;
    let kdf = kdf.unwrap_or_else(|| KdfParams::generate(rng));
    let pk = keys::derive_passphrase_keys(passphrase, &kdf)?;
    signup_derived(
        client,
        login,
        kdf,
        &pk,
        recovery_secret,
        device,
        device_name,
        rng,
    )
    .await
}

/// Sign-up with keys already derived (tests reuse one derivation).
#[allow(clippy::too_many_arguments)]
pub async fn signup_derived<R: RngCore + CryptoRng>(
    client: &SyncClient,
    login: LoginId,
    kdf: KdfParams,
    pk: &PassphraseKeys,
    recovery_secret: Option<&[u8; 32]>,
    device: DeviceId,
    device_name: Option<&str>,
    rng: &mut R,
) -> Result<SignedIn, AccountError> {
    let account = AccountId::random(rng);
    let key = SyncKey::generate(rng);
    let wrapped_key =
        keys::wrap_sync_key(&pk.wrapping_key, WrapKind::Passphrase, account, &key, rng);
    let recovery = recovery_secret.map(|secret| {
        let rk = keys::derive_recovery_keys(secret, login);
        RecoveryWrap {
            proof: rk.proof.to_vec(),
            wrapped_key: keys::wrap_sync_key(
                &rk.wrapping_key,
                WrapKind::Recovery,
                account,
                &key,
                rng,
            ),
        }
    });
    let device_name = device_name
        .map(|n| keys::seal_device_name(&key, account, device, n, rng))
        .transpose()?;
    let session = client
        .signup(&SignupRequest {
            login_id: login,
            account_id: account,
            kdf,
            login_secret: pk.login_secret.to_vec(),
            key_id: key.id(),
            wrapped_key,
            recovery,
            device_id: device,
            device_name,
        })
        .await?;
    Ok(SignedIn { session, key })
}

/// Signs in and opens the sync key, then makes the key-id check: the key
/// must be the account's, and — if this device synced before — the same
/// account and key as before.
pub async fn login(
    client: &SyncClient,
    login: LoginId,
    pk: &PassphraseKeys,
    device: DeviceId,
    known: Option<&Known>,
) -> Result<SignedIn, AccountError> {
    let session = client
        .login(&LoginRequest {
            login_id: login,
            login_secret: pk.login_secret.to_vec(),
            device_id: device,
        })
        .await?;
    open(session, &pk.wrapping_key, WrapKind::Passphrase, known)
}

/// Signs in with a recovery secret; follow with [`change_passphrase`]
/// using `Proof::RecoveryProof`.
pub async fn recover(
    client: &SyncClient,
    login: LoginId,
    recovery_secret: &[u8; 32],
    device: DeviceId,
    known: Option<&Known>,
) -> Result<SignedIn, AccountError> {
    let rk = keys::derive_recovery_keys(recovery_secret, login);
    let session = client
        .recover(&RecoverRequest {
            login_id: login,
            recovery_proof: rk.proof.to_vec(),
            device_id: device,
        })
        .await?;
    open(session, &rk.wrapping_key, WrapKind::Recovery, known)
}

fn open(
    session: Session,
    wrapping_key: &[u8; 32],
    kind: WrapKind,
    known: Option<&Known>,
) -> Result<SignedIn, AccountError> {
    let key = keys::unwrap_sync_key(
        wrapping_key,
        kind,
        session.account_id,
        session.key_id,
        &session.wrapped_key,
    )?;
    if let Some(k) = known {
        if k.account != session.account_id || k.key_id != session.key_id {
            return Err(AccountError::AccountMismatch {
                expected: k.account,
                expected_key: k.key_id,
                found: session.account_id,
                found_key: session.key_id,
            });
        }
    }
    Ok(SignedIn { session, key })
}

/// Re-wraps the same sync key under a new passphrase.
#[allow(clippy::too_many_arguments)]
pub async fn change_passphrase<R: RngCore + CryptoRng>(
    client: &SyncClient,
    signed_in: &SignedIn,
    proof: Proof,
    new_passphrase: &str,
    sign_out_other_devices: bool,
    rng: &mut R,
) -> Result<(), AccountError> {
    rewrap_passphrase(
        client,
        &signed_in.session.token,
        signed_in.session.account_id,
        &signed_in.key,
        proof,
        new_passphrase,
        sign_out_other_devices,
        rng,
    )
    .await
}

/// [`change_passphrase`] for a device that is already signed in (its
/// token and the sync key it keeps). The new passphrase is checked before
/// anything is sent; the server replaces parameters, hash and wrap in one
/// transaction or not at all.
#[allow(clippy::too_many_arguments)]
pub async fn rewrap_passphrase<R: RngCore + CryptoRng>(
    client: &SyncClient,
    token: &str,
    account: AccountId,
    key: &SyncKey,
    proof: Proof,
    new_passphrase: &str,
    sign_out_other_devices: bool,
    rng: &mut R,
) -> Result<(), AccountError> {
    let kdf = KdfParams::generate(rng);
    let pk = keys::derive_passphrase_keys(new_passphrase, &kdf)?;
    let wrapped_key =
        keys::wrap_sync_key(&pk.wrapping_key, WrapKind::Passphrase, account, key, rng);
    client
        .change_passphrase(
            token,
            &PassphraseChange {
                proof,
                kdf,
                login_secret: pk.login_secret.to_vec(),
                wrapped_key,
                sign_out_other_devices,
            },
        )
        .await?;
    Ok(())
}

/// Sets (or replaces) the account's recovery wrap: `recovery_secret` (a
/// dedicated sync recovery key or the vault's) will open the same sync
/// key. Proven with the current login secret.
#[allow(clippy::too_many_arguments)]
pub async fn set_recovery<R: RngCore + CryptoRng>(
    client: &SyncClient,
    token: &str,
    login: LoginId,
    login_secret: &[u8; 32],
    account: AccountId,
    key: &SyncKey,
    recovery_secret: &[u8; 32],
    rng: &mut R,
) -> Result<(), AccountError> {
    let rk = keys::derive_recovery_keys(recovery_secret, login);
    client
        .change_recovery(
            token,
            &RecoveryChange {
                login_secret: login_secret.to_vec(),
                recovery: Some(RecoveryWrap {
                    proof: rk.proof.to_vec(),
                    wrapped_key: keys::wrap_sync_key(
                        &rk.wrapping_key,
                        WrapKind::Recovery,
                        account,
                        key,
                        rng,
                    ),
                }),
            },
        )
        .await?;
    Ok(())
}
