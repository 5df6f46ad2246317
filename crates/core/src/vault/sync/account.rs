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
use productivitypro_sync_protocol::keys::{self, SyncKey};
use productivitypro_sync_protocol::DeviceId;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use zeroize::Zeroizing;

use super::{NewLink, SyncEndpoint, SyncError};
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

/// Joining an account (sign up, sign in, recover) in three steps, so that
/// the key derivation and the server's round trips — seconds normally, up
/// to the client's timeouts on a stalled server — run without the vault:
/// [`Vault::sync_join`] reads what they need, [`SyncJoin::signup`] (or
/// `login`, `recover`) talks to the server, [`Vault::sync_link_joined`]
/// links. The app holds its vault lock only for the first and last steps,
/// so tasks can be edited while a sign-in waits on the network.
pub struct SyncJoin {
    known: Option<Known>,
    device: DeviceId,
    /// Seeded from the vault's random source, so runs with a seeded vault
    /// stay deterministic.
    rng: StdRng,
}

/// An account this device was just signed in to, not linked yet.
pub struct Joined {
    link: NewLink,
}

/// [`Vault::sync_link_joined`] refused (the vault was linked meanwhile, or
/// to another account). The device the server just signed in should be
/// signed out again: [`JoinRefused::abandon`], off the vault's lock.
pub struct JoinRefused {
    pub error: VaultError,
    /// Boxed: it carries the whole link, and errors are passed by value.
    joined: Box<Joined>,
}

impl JoinRefused {
    /// Signs the unlinked device out ([`Joined::abandon`]) and returns why
    /// the link was refused.
    pub fn abandon(self) -> VaultError {
        self.joined.abandon();
        self.error
    }
}

impl Joined {
    /// Signs the device out again, for a join that will not be linked
    /// (best effort: a device left signed in holds no data and can be
    /// signed out from another device's list).
    pub fn abandon(self) {
        let client = SyncClient::new(&self.link.server);
        let _ = run(async { Ok(client.sign_out(&self.link.token, None).await?) });
    }
}

impl SyncJoin {
    /// Creates an account. Also returns the dedicated recovery key to
    /// show once, if one was made.
    pub fn signup(
        mut self,
        server: &str,
        email: &str,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<(Joined, Option<RecoveryKey>), VaultError> {
        check_passphrase(passphrase)?;
        let (secret, shown) = match recovery {
            RecoveryChoice::Dedicated => {
                let k = RecoveryKey::generate(&mut self.rng);
                (Some(k.clone()), Some(k))
            }
            RecoveryChoice::Existing(k) => (Some(k), None),
            RecoveryChoice::Without => (None, None),
        };
        let client = SyncClient::new(server);
        let signed = run(account::signup(
            &client,
            email,
            passphrase,
            secret.as_ref().map(|k| k.secret().expose()),
            self.device,
            None,
            None,
            &mut self.rng,
        ))?;
        Ok((joined(server, email, signed), shown))
    }

    /// Signs in to an existing account (key-id check included).
    pub fn login(self, server: &str, email: &str, passphrase: &str) -> Result<Joined, VaultError> {
        check_passphrase(passphrase)?;
        let client = SyncClient::new(server);
        let signed = run(async {
            let (login, _, pk) = account::derive(&client, email, passphrase).await?;
            account::login(&client, login, &pk, self.device, self.known.as_ref()).await
        })?;
        Ok(joined(server, email, signed))
    }

    /// Opens the account with its recovery key (the dedicated one or the
    /// vault's, whichever was set) and sets `new_passphrase`. If setting
    /// the passphrase fails, the device just signed in is signed out again.
    pub fn recover(
        mut self,
        server: &str,
        email: &str,
        recovery: &RecoveryKey,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<Joined, VaultError> {
        check_passphrase(new_passphrase)?;
        let client = SyncClient::new(server);
        let secret = recovery.secret().expose();
        let rt = runtime()?;
        let signed = rt
            .block_on(async {
                let login = keys::login_id(email)?;
                account::recover(&client, login, secret, self.device, self.known.as_ref()).await
            })
            .map_err(SyncError::from)?;
        let login = keys::login_id(email).map_err(|e| SyncError::from(AccountError::Key(e)))?;
        let proof = Proof::RecoveryProof(keys::derive_recovery_keys(secret, login).proof.to_vec());
        let changed = rt.block_on(account::change_passphrase(
            &client,
            &signed,
            proof,
            new_passphrase,
            sign_out_other_devices,
            &mut self.rng,
        ));
        if let Err(e) = changed {
            let _ = rt.block_on(client.sign_out(&signed.session.token, None));
            return Err(SyncError::from(e).into());
        }
        Ok(joined(server, email, signed))
    }
}

/// The account a linked vault syncs with, read out of the vault so that
/// its flows (devices, passphrase, recovery key) run without holding it;
/// like [`SyncJoin`], for the app's vault lock.
pub struct SyncAccount {
    endpoint: SyncEndpoint,
    email: String,
    key: SyncKey,
    rng: StdRng,
}

impl SyncAccount {
    /// Changes the account's passphrase: proven with the current one, the
    /// same sync key re-wrapped under the new one. A wrong current
    /// passphrase is `invalid_credentials` and changes nothing.
    pub fn change_passphrase(
        &mut self,
        current: &str,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<(), VaultError> {
        check_passphrase(current)?;
        check_passphrase(new_passphrase)?;
        let client = SyncClient::new(&self.endpoint.server);
        run(async {
            let (_, _, pk) = account::derive(&client, &self.email, current).await?;
            account::rewrap_passphrase(
                &client,
                &self.endpoint.token,
                self.endpoint.account,
                &self.key,
                Proof::LoginSecret(pk.login_secret.to_vec()),
                new_passphrase,
                sign_out_other_devices,
                &mut self.rng,
            )
            .await
        })
    }

    /// Sets or replaces the account's recovery key (proven with the
    /// passphrase). `Dedicated` returns the new key to show once.
    pub fn set_recovery(
        &mut self,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<Option<RecoveryKey>, VaultError> {
        check_passphrase(passphrase)?;
        let (secret, shown) = match recovery {
            RecoveryChoice::Dedicated => {
                let k = RecoveryKey::generate(&mut self.rng);
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
        let client = SyncClient::new(&self.endpoint.server);
        run(async {
            let (login, _, pk) = account::derive(&client, &self.email, passphrase).await?;
            account::set_recovery(
                &client,
                &self.endpoint.token,
                login,
                &pk.login_secret,
                self.endpoint.account,
                &self.key,
                secret.secret().expose(),
                &mut self.rng,
            )
            .await
        })?;
        Ok(shown)
    }

    /// The account's devices, names opened with the sync key.
    pub fn devices(&self) -> Result<Vec<SyncDevice>, VaultError> {
        let list = run(async {
            Ok(SyncClient::new(&self.endpoint.server)
                .devices(&self.endpoint.token)
                .await?
                .devices)
        })?;
        Ok(list
            .into_iter()
            .map(|d: DeviceInfo| SyncDevice {
                name: d.name.as_ref().and_then(|n| {
                    keys::open_device_name(&self.key, self.endpoint.account, d.device_id, n).ok()
                }),
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
    pub fn sign_out_device(&self, device: DeviceId) -> Result<(), VaultError> {
        if device == self.endpoint.device {
            return Err(SyncError::Account {
                code: "invalid_request".into(),
                message: "that is this device; sign out of sync instead".into(),
            }
            .into());
        }
        run(async {
            Ok(SyncClient::new(&self.endpoint.server)
                .sign_out(&self.endpoint.token, Some(device))
                .await?)
        })
    }
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

    fn sync_rng(&mut self) -> StdRng {
        let mut seed = [0u8; 32];
        self.env.rng.fill_bytes(&mut seed);
        StdRng::from_seed(seed)
    }

    /// The first step of joining an account ([`SyncJoin`]): refuses a
    /// vault that already syncs, and picks this device's new id.
    pub fn sync_join(&mut self) -> Result<SyncJoin, VaultError> {
        self.sync_refuse_if_linked()?;
        let known = self.sync_known_account()?.map(|k| Known {
            account: k.account,
            key_id: k.key_id,
        });
        Ok(SyncJoin {
            known,
            device: self.sync_new_device_id(),
            rng: self.sync_rng(),
        })
    }

    /// The last step of joining: links this vault to the account (its
    /// tasks become operations to send). Refused if the vault was linked
    /// meanwhile or synced with another account before.
    pub fn sync_link_joined(&mut self, joined: Joined) -> Result<(), JoinRefused> {
        let checked = self
            .sync_refuse_if_linked()
            .and_then(|()| self.sync_enable(joined.link.clone()));
        checked.map_err(|error| JoinRefused {
            error,
            joined: Box::new(joined),
        })
    }

    fn sync_join_here(
        &mut self,
        remote: impl FnOnce(SyncJoin) -> Result<Joined, VaultError>,
    ) -> Result<(), VaultError> {
        let joined = remote(self.sync_join()?)?;
        self.sync_link_joined(joined).map_err(JoinRefused::abandon)
    }

    /// Creates an account and links this vault to it, all three steps of
    /// [`SyncJoin`] at once. Returns the dedicated recovery key to show
    /// once, if one was made.
    pub fn sync_signup(
        &mut self,
        server: &str,
        email: &str,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<Option<RecoveryKey>, VaultError> {
        let mut shown = None;
        self.sync_join_here(|j| {
            let (joined, key) = j.signup(server, email, passphrase, recovery)?;
            shown = key;
            Ok(joined)
        })?;
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
        self.sync_join_here(|j| j.login(server, email, passphrase))
    }

    /// [`SyncJoin::recover`], then links this vault; if anything fails the
    /// vault stays unlinked.
    pub fn sync_recover(
        &mut self,
        server: &str,
        email: &str,
        recovery: &RecoveryKey,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<(), VaultError> {
        self.sync_join_here(|j| {
            j.recover(
                server,
                email,
                recovery,
                new_passphrase,
                sign_out_other_devices,
            )
        })
    }

    /// The linked account, for its flows off the vault's lock.
    pub fn sync_account(&mut self) -> Result<SyncAccount, VaultError> {
        let link = self.sync_link()?.value;
        Ok(SyncAccount {
            key: link.sync_key(),
            endpoint: SyncEndpoint {
                server: link.server,
                token: Zeroizing::new(link.token),
                account: link.account,
                device: link.device,
            },
            email: link.email,
            rng: self.sync_rng(),
        })
    }

    /// [`SyncAccount::change_passphrase`] on this vault's account.
    pub fn sync_change_passphrase(
        &mut self,
        current: &str,
        new_passphrase: &str,
        sign_out_other_devices: bool,
    ) -> Result<(), VaultError> {
        self.sync_account()?
            .change_passphrase(current, new_passphrase, sign_out_other_devices)
    }

    /// [`SyncAccount::set_recovery`] on this vault's account.
    pub fn sync_set_recovery(
        &mut self,
        passphrase: &str,
        recovery: RecoveryChoice,
    ) -> Result<Option<RecoveryKey>, VaultError> {
        self.sync_account()?.set_recovery(passphrase, recovery)
    }

    /// [`SyncAccount::devices`] of this vault's account.
    pub fn sync_devices(&mut self) -> Result<Vec<SyncDevice>, VaultError> {
        self.sync_account()?.devices()
    }

    /// [`SyncAccount::sign_out_device`] on this vault's account.
    pub fn sync_sign_out_device(&mut self, device: DeviceId) -> Result<(), VaultError> {
        self.sync_account()?.sign_out_device(device)
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

fn joined(server: &str, email: &str, s: account::SignedIn) -> Joined {
    Joined {
        link: NewLink {
            server: server.to_string(),
            email: email.to_string(),
            account: s.session.account_id,
            device: s.session.device_id,
            key: s.key,
            token: Zeroizing::new(s.session.token),
        },
    }
}
