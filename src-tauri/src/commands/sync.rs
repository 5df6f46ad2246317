//! Sync account commands (docs/desktop-ipc.md, "Sync"), over the core's
//! account flows (`SyncJoin`, `SyncAccount`), which `pp sync` uses too. The
//! passphrase comes in, is used on the blocking pool and wiped; the sync
//! key and the device token stay sealed in the vault. The exchanges
//! themselves run in `sync_worker`.

use std::sync::Arc;

use productivitypro_core::recovery::RecoveryKey;
use productivitypro_core::vault::sync::{Joined, RecoveryChoice, SyncAccount, SyncJoin};
use productivitypro_core::VaultError;
use productivitypro_sync_protocol::DeviceId;
use tauri::{AppHandle, Runtime, State};
use zeroize::Zeroizing;

use crate::args::Args;
use crate::error::{IpcError, IpcResult};
use crate::shell::{blocking, Shell};
use crate::sync_dto::{
    SyncDeviceArgs, SyncDeviceDto, SyncPassphraseArgs, SyncRecoverArgs, SyncRecoveryKey,
    SyncRecoveryKeyArgs, SyncSignInArgs, SyncSignOutArgs, SyncSignedUp, SyncStatus,
};
use crate::sync_worker;

fn status<R: Runtime>(app: &AppHandle<R>) -> SyncStatus {
    sync_worker::worker(app).map_or_else(SyncStatus::off, |w| w.status())
}

fn server_url(s: &str) -> IpcResult<String> {
    let s = s.trim().trim_end_matches('/');
    if !(s.starts_with("https://") || s.starts_with("http://")) || s.len() < 10 {
        return Err(IpcError::new(
            "invalid_server",
            "the sync server must be an http(s):// address",
        ));
    }
    Ok(s.to_string())
}

struct Credentials {
    server: String,
    email: String,
    passphrase: Zeroizing<String>,
}

fn credentials(a: SyncSignInArgs) -> IpcResult<Credentials> {
    let passphrase = Zeroizing::new(a.passphrase);
    Ok(Credentials {
        server: server_url(&a.server)?,
        email: a.email.trim().to_string(),
        passphrase,
    })
}

/// Joins an account ([`SyncJoin`]): the vault is held to read what the
/// join needs and to link, never across the key derivation and the
/// server's round trips, so the task list stays editable meanwhile. A join
/// that cannot be linked (the vault was locked or linked in between)
/// signs its new device out again.
fn join<T>(
    shell: &Shell,
    remote: impl FnOnce(SyncJoin) -> Result<(Joined, T), VaultError>,
) -> IpcResult<T> {
    let _busy = shell.begin_long()?;
    let start = shell.with_vault(|v| {
        v.refresh()?;
        Ok(v.sync_join()?)
    })?;
    let (joined, out) = remote(start)?;
    let mut joined = Some(joined);
    match shell.with_vault(|v| Ok(joined.take().map(|j| v.sync_link_joined(j)))) {
        Ok(Some(Ok(()))) | Ok(None) => Ok(out),
        Ok(Some(Err(refused))) => Err(refused.abandon().into()),
        Err(e) => {
            if let Some(j) = joined {
                j.abandon();
            }
            Err(e)
        }
    }
}

/// The linked account, read out of the vault so that its flows
/// ([`SyncAccount`]) run off the vault's lock.
fn account(shell: &Shell) -> IpcResult<SyncAccount> {
    shell.with_vault(|v| Ok(v.sync_account()?))
}

/// What the status indicator and the Settings → Sync page show.
#[tauri::command]
pub async fn sync_status<R: Runtime>(app: AppHandle<R>) -> IpcResult<SyncStatus> {
    Ok(status(&app))
}

/// Creates an account, links this vault and starts syncing. Returns the
/// new sync recovery key, to be shown once.
#[tauri::command]
pub async fn sync_sign_up<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncSignInArgs>,
) -> IpcResult<SyncSignedUp> {
    let c = credentials(args.0)?;
    let shell = shell.inner().clone();
    let shown = blocking(move || {
        join(&shell, |j| {
            j.signup(
                &c.server,
                &c.email,
                &c.passphrase,
                RecoveryChoice::Dedicated,
            )
        })
    })
    .await?;
    tracing::info!("sync signed up");
    sync_worker::wake(&app);
    Ok(SyncSignedUp {
        recovery_key: shown
            .map(|k| k.display_text().to_string())
            .unwrap_or_default(),
        status: status(&app),
    })
}

/// Signs in to an account (key-id check included) and starts syncing.
#[tauri::command]
pub async fn sync_sign_in<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncSignInArgs>,
) -> IpcResult<SyncStatus> {
    let c = credentials(args.0)?;
    let shell = shell.inner().clone();
    blocking(move || {
        join(&shell, |j| {
            Ok((j.login(&c.server, &c.email, &c.passphrase)?, ()))
        })
    })
    .await?;
    tracing::info!("sync signed in");
    sync_worker::wake(&app);
    Ok(status(&app))
}

/// Exchange now (the loop does it on its own; this is the button).
#[tauri::command]
pub async fn sync_now<R: Runtime>(app: AppHandle<R>) -> IpcResult<SyncStatus> {
    sync_worker::wake(&app);
    Ok(status(&app))
}

#[tauri::command]
pub async fn sync_devices(shell: State<'_, Arc<Shell>>) -> IpcResult<Vec<SyncDeviceDto>> {
    let shell = shell.inner().clone();
    let list = blocking(move || Ok(account(&shell)?.devices()?)).await?;
    let at = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    };
    Ok(list
        .into_iter()
        .map(|d| SyncDeviceDto {
            id: d.device_id.to_string(),
            name: d.name,
            created_at: at(d.created_at),
            last_seen_at: at(d.last_seen_at),
            signed_out: d.signed_out,
            current: d.current,
        })
        .collect())
}

/// Signs another device of the account out.
#[tauri::command]
pub async fn sync_device_sign_out(
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncDeviceArgs>,
) -> IpcResult<()> {
    let id: DeviceId = args
        .0
        .device_id
        .parse()
        .map_err(|e| IpcError::invalid(format!("deviceId: {e}")))?;
    let shell = shell.inner().clone();
    blocking(move || Ok(account(&shell)?.sign_out_device(id)?)).await
}

/// Signs this device out and stops syncing; tasks stay. Refused with
/// `sync_unsent` while changes are unsent, unless `discardUnsent`.
#[tauri::command]
pub async fn sync_sign_out<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncSignOutArgs>,
) -> IpcResult<SyncStatus> {
    let discard = args.0.discard_unsent.unwrap_or(false);
    let shell = shell.inner().clone();
    let worker = sync_worker::worker(&app);
    blocking(move || {
        let _busy = shell.begin_long()?;
        // Until the vault is unlinked, the loop must not report the
        // server's "signed out" as an error (regression:
        // signing_out_never_shows_an_error_status).
        let _leaving = worker.as_ref().map(|w| w.leaving());
        shell.with_vault(|v| {
            v.refresh()?;
            Ok(v.sync_sign_out(discard, false)?)
        })
    })
    .await?;
    tracing::info!("sync signed out");
    sync_worker::wake(&app);
    Ok(SyncStatus::off())
}

/// Changes the account's sync passphrase (`pp sync passphrase`): proven
/// with the current one; the sync key is re-wrapped, nothing re-encrypted.
/// A wrong current passphrase is `invalid_credentials` and changes nothing.
#[tauri::command]
pub async fn sync_passphrase_change(
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncPassphraseArgs>,
) -> IpcResult<()> {
    let a = args.0;
    let current = Zeroizing::new(a.current);
    let new = Zeroizing::new(a.new_passphrase);
    let others = a.sign_out_other_devices.unwrap_or(false);
    let shell = shell.inner().clone();
    blocking(move || {
        let _busy = shell.begin_long()?;
        Ok(account(&shell)?.change_passphrase(&current, &new, others)?)
    })
    .await?;
    tracing::info!(others, "sync passphrase changed");
    Ok(())
}

/// Makes a new sync recovery key (`pp sync recovery-key`), proven with
/// the sync passphrase; the previous one stops working. The key is shown
/// once and held, like a new vault recovery key, until the user types two
/// of its groups back (`vault_confirm_recovery`) or saves it to a file
/// (`recovery_key_save`).
#[tauri::command]
pub async fn sync_recovery_key_new(
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncRecoveryKeyArgs>,
) -> IpcResult<SyncRecoveryKey> {
    let passphrase = Zeroizing::new(args.0.passphrase);
    let shell = shell.inner().clone();
    blocking(move || {
        let _busy = shell.begin_long()?;
        let key = account(&shell)?
            .set_recovery(&passphrase, RecoveryChoice::Dedicated)?
            .ok_or_else(|| IpcError::internal("no recovery key was made"))?;
        let text = key.display_text().to_string();
        shell.set_pending_recovery(key);
        tracing::info!("sync recovery key replaced");
        Ok(SyncRecoveryKey { recovery_key: text })
    })
    .await
}

/// Forgot the sync passphrase (`pp sync recover`): opens the account with
/// its recovery key, sets the new passphrase and starts syncing.
#[tauri::command]
pub async fn sync_recover<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<SyncRecoverArgs>,
) -> IpcResult<SyncStatus> {
    let a = args.0;
    let server = server_url(&a.server)?;
    let email = a.email.trim().to_string();
    let typed = Zeroizing::new(a.recovery_key);
    let key = RecoveryKey::parse(&typed).map_err(VaultError::from)?;
    let new = Zeroizing::new(a.new_passphrase);
    let others = a.sign_out_other_devices.unwrap_or(false);
    let shell = shell.inner().clone();
    blocking(move || {
        join(&shell, |j| {
            Ok((j.recover(&server, &email, &key, &new, others)?, ()))
        })
    })
    .await?;
    tracing::info!(others, "sync recovered with the recovery key");
    sync_worker::wake(&app);
    Ok(status(&app))
}
