//! Account flows for a vault (`docs/sync-protocol.md` §2, "Flows"): sign
//! up, sign in, recover, change the passphrase, set a recovery key, list
//! and sign out devices, sign out. `pp` and the desktop app both call
//! these, so both get the same checks.
//!
//! Must hold:
//! - the passphrase and recovery key are used here and dropped; only the
//!   sync key and the device token are kept, sealed in the vault's link;
//! - a flow that fails leaves the vault as it was (it links only after
//!   the server said yes and the key-id check passed) and uploads no task;
//! - a passphrase change re-wraps the same sync key: nothing is
//!   re-encrypted, other devices keep syncing with the key they hold.
//!
//! Blocking: each call runs the protocol crate's async client on a
//! private current-thread runtime (call from a plain thread or the
//! blocking pool, never inside a runtime's worker).

use productivitypro_sync_protocol::api::{DeviceInfo, Proof};
use productivitypro_sync_protocol::client::account::{self, AccountError, Known};
use productivitypro_sync_protocol::client::SyncClient;
use productivitypro_sync_protocol::keys;
use productivitypro_sync_protocol::DeviceId;
use zeroize::Zeroizing;

use super::{NewLink, SyncError};
use crate::error::VaultError;
use crate::recovery::RecoveryKey;
use crate::vault::Vault;

/// Which recovery key opens the sync key when the passphrase is lost.
pub enum RecoveryChoice {
    /// A new dedicated sync recovery key, returned once to show the user.
    Dedicated,
    /// A key the user already holds (e.g. the vault's recovery key).
    Existing(RecoveryKey),
    /// None: a lost passphrase means the account cannot be opened again.
    Without,
}

/// A device of the account, for `pp sync devices` and the app.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncDevice {
    pub device_id: DeviceId,
    /// The name the device gave itself, opened with the sync key
    /// (`None` if it set none).
    pub name: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub signed_out: bool,
    pub current: bool,
    pub head: u64,
}

impl From<AccountError> for SyncError {
    fn from(e: AccountError) -> Self {
        SyncError::Account {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, SyncError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SyncError::Transport {
            code: "server_unreachable".into(),
            message: format!("cannot start the network runtime: {e}"),
        })
}

fn run<T>(f: impl std::future::Future<Output = Result<T, AccountError>>) -> Result<T, VaultError> {
    Ok(runtime()?.block_on(f).map_err(SyncError::from)?)
}

/// Refuses an empty passphrase before anything is derived or sent.
fn check_passphrase(p: &str) -> Result<(), VaultError> {
    if p.trim().is_empty() {
        return Err(SyncError::from(AccountError::Key(keys::KeyError::EmptyPassphrase)).into());
    }
    Ok(())
}

impl Vault {
    fn sync_refuse_if_linked(&self) -> Result<(), VaultError> {
        if let Some(info) = self.sync_info()? {
            return Err(SyncError::AlreadySignedIn {
                account: info.account,
            }
            .into());
        }
        Ok(())
    }

    fn sync_known(&self) -> Result<Option<Known>, VaultError> {
        Ok(self.sync_known_account()?.map(|k| Known {
            account: k.account,
            key_id: k.key_id,
        }))
    }

    /// Creates an account and links this vault to it (its tasks become
    /// operations to send). Returns the dedicated recovery key to show
    /// once, if one was made.
    pub fn sync_signup(
        &mut self,
        server: &str,
        email: &str,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<Option<RecoveryKey>, VaultError> {
        self.sync_refuse_if_linked()?;
        check_passphrase(passphrase)?;
        let (secret, shown) = match recovery {
            RecoveryChoice::Dedicated => {
                let k = RecoveryKey::generate(self.env.rng.as_mut());
                (Some(k.clone()), Some(k))
            }
            RecoveryChoice::Existing(k) => (Some(k), None),
            RecoveryChoice::Without => (None, None),
        };
        let device = self.sync_new_device_id();
        let client = SyncClient::new(server);
        let rng = &mut self.env.rng.as_mut();
        let signed = run(account::signup(
            &client,
            email,
            passphrase,
            secret.as_ref().map(|k| k.secret().expose()),
            device,
            None,
            None,
            rng,
        ))?;
        self.sync_enable(new_link(server, email, signed))?;
        Ok(shown)
    }

    /// Signs in to an existing account (key-id check included) and links
    /// this vault to it.
    pub fn sync_login(
        &mut self,
        server: &str,
        email: &str,
        passphrase: &str,
    ) -> Result<(), VaultError> {
        self.sync_refuse_if_linked()?;
        check_passphrase(passphrase)?;
        let known = self.sync_known()?;
        let device = self.sync_new_device_id();
        let client = SyncClient::new(server);
        let signed = run(async {
            let (login, _, pk) = account::derive(&client, email, passphrase).await?;
            account::login(&client, login, &pk, device, known.as_ref()).await
        })?;
        self.sync_enable(new_link(server, email, signed))
    }

    /// Opens the account with its recovery key (the dedicated one or the
    /// vault's, whichever was set), sets `new_passphrase`, and links this
    /// vault. If setting the passphrase fails, the device just signed in
    /// is signed out again and the vault stays unlinked.
    pub fn sync_recover(
        &mut self,
        server: &str,
        email: &str,
        recovery: &RecoveryKey,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<(), VaultError> {
        self.sync_refuse_if_linked()?;
        check_passphrase(new_passphrase)?;
        let known = self.sync_known()?;
        let device = self.sync_new_device_id();
        let client = SyncClient::new(server);
        let secret = recovery.secret().expose();
        let rt = runtime()?;
        let signed = rt
            .block_on(async {
                let login = keys::login_id(email)?;
                account::recover(&client, login, secret, device, known.as_ref()).await
            })
            .map_err(SyncError::from)?;
        let login = keys::login_id(email).map_err(|e| SyncError::from(AccountError::Key(e)))?;
        let proof = Proof::RecoveryProof(keys::derive_recovery_keys(secret, login).proof.to_vec());
        let rng = &mut self.env.rng.as_mut();
        let changed = rt.block_on(account::change_passphrase(
            &client,
            &signed,
            proof,
            new_passphrase,
            sign_out_other_devices,
            rng,
        ));
        if let Err(e) = changed {
            let _ = rt.block_on(client.sign_out(&signed.session.token, None));
            return Err(SyncError::from(e).into());
        }
        self.sync_enable(new_link(server, email, signed))
    }

    /// Changes the account's passphrase: proven with the current one, the
    /// same sync key re-wrapped under the new one. A wrong current
    /// passphrase is `invalid_credentials` and changes nothing.
    pub fn sync_change_passphrase(
        &mut self,
        current: &str,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<(), VaultError> {
        check_passphrase(current)?;
        check_passphrase(new_passphrase)?;
        let link = self.sync_link()?.value;
        let client = SyncClient::new(&link.server);
        let key = link.sync_key();
        let rng = &mut self.env.rng.as_mut();
        run(async {
            let (_, _, pk) = account::derive(&client, &link.email, current).await?;
            account::rewrap_passphrase(
                &client,
                &link.token,
                link.account,
                &key,
                Proof::LoginSecret(pk.login_secret.to_vec()),
                new_passphrase,
                sign_out_other_devices,
                rng,
            )
            .await
        })
    }

    /// Sets or replaces the account's recovery key (proven with the
    /// passphrase). `Dedicated` returns the new key to show once.
    pub fn sync_set_recovery(
        &mut self,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<Option<RecoveryKey>, VaultError> {
        check_passphrase(passphrase)?;
        let (secret, shown) = match recovery {
            RecoveryChoice::Dedicated => {
                let k = RecoveryKey::generate(self.env.rng.as_mut());
                (k.clone(), Some(k))
            }
            RecoveryChoice::Existing(k) => (k, None),
            RecoveryChoice::Without => {
                return Err(SyncError::Account {
                    code: "invalid_request".into(),
                    message: "no recovery key given".into(),
                }
                .into())
            }
        };
        let link = self.sync_link()?.value;
        let client = SyncClient::new(&link.server);
        let key = link.sync_key();
        let rng = &mut self.env.rng.as_mut();
        run(async {
            let (login, _, pk) = account::derive(&client, &link.email, passphrase).await?;
            account::set_recovery(
                &client,
                &link.token,
                login,
                &pk.login_secret,
                link.account,
                &key,
                secret.secret().expose(),
                rng,
            )
            .await
        })?;
        Ok(shown)
    }

    /// The account's devices, names opened with the sync key.
    pub fn sync_devices(&self) -> Result<Vec<SyncDevice>, VaultError> {
        let link = self.sync_link()?.value;
        let key = link.sync_key();
        let list = run(async {
            Ok(SyncClient::new(&link.server)
                .devices(&link.token)
                .await?
                .devices)
        })?;
        Ok(list
            .into_iter()
            .map(|d: DeviceInfo| SyncDevice {
                name: d
                    .name
                    .as_ref()
                    .and_then(|n| keys::open_device_name(&key, link.account, d.device_id, n).ok()),
                device_id: d.device_id,
                created_at: d.created_at,
                last_seen_at: d.last_seen_at,
                signed_out: d.signed_out,
                current: d.current,
                head: d.head,
            })
            .collect())
    }

    /// Signs another device of the account out (this one: [`Vault::sync_sign_out`]).
    pub fn sync_sign_out_device(&self, device: DeviceId) -> Result<(), VaultError> {
        let link = self.sync_link()?.value;
        if device == link.device {
            return Err(SyncError::Account {
                code: "invalid_request".into(),
                message: "that is this device; sign out of sync instead".into(),
            }
            .into());
        }
        run(async {
            Ok(SyncClient::new(&link.server)
                .sign_out(&link.token, Some(device))
                .await?)
        })
    }

    /// Signs this device out and stops syncing; tasks stay. Refuses with
    /// `sync_unsent` (before anything is signed out) while changes are
    /// unsent, unless `discard_unsent`.
    pub fn sync_sign_out(
        &mut self,
        discard_unsent: bool,
        forget_account: bool,
    ) -> Result<(), VaultError> {
        let e = self.sync_endpoint()?;
        if self.sync_has_outgoing()? && !discard_unsent {
            self.sync_disable(forget_account, false)?;
        }
        let signed_out =
            run(async { Ok(SyncClient::new(&e.server).sign_out(&e.token, None).await?) });
        match signed_out {
            Ok(()) => {}
            // Already signed out elsewhere: nothing left to do there.
            Err(VaultError::Sync(SyncError::Account { code, .. }))
                if matches!(code.as_str(), "device_signed_out" | "invalid_token") => {}
            Err(err) => return Err(err),
        }
        self.sync_disable(forget_account, true)
    }
}

fn new_link(server: &str, email: &str, s: account::SignedIn) -> NewLink {
    NewLink {
        server: server.to_string(),
        email: email.to_string(),
        account: s.session.account_id,
        device: s.session.device_id,
        key: s.key,
        token: Zeroizing::new(s.session.token),
    }
}
