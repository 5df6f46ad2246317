//! Creating, unlocking and locking the vault, and its key slots. The
//! recovery key crosses IPC only to be shown (at creation and when a new
//! one is made); the data key never does.

use std::collections::BTreeSet;
use std::sync::Arc;

use productivitypro_core::slots::SlotKind as CoreSlotKind;
use productivitypro_core::vault::{CreateOptions, KeyringChoice};
use productivitypro_core::{Unlock, Vault, VaultError};
use tauri::{AppHandle, Runtime, State};
use zeroize::Zeroizing;

use crate::args::{
    Args, PassphraseSetArgs, PathArgs, PreMigrationRestoreArgs, VaultConfirmRecoveryArgs,
    VaultCreateArgs, VaultUnlockArgs,
};
use crate::dto::{
    Confirmed, Created, LockReason, NewRecoveryKey, PreMigrationCopy, SlotInfo, Snapshot,
    UnlockMethod,
};
use crate::error::{codes, io_error, IpcError, IpcResult};
use crate::shell::{blocking, Shell};
use crate::{background, emit, report};

/// A secret from the UI, wiped when dropped (the IPC layer's own copies
/// are out of reach).
fn secret(s: Option<String>, what: &str) -> IpcResult<Zeroizing<String>> {
    match s {
        Some(s) if !s.is_empty() => Ok(Zeroizing::new(s)),
        _ => Err(IpcError::invalid(format!("{what} is missing"))),
    }
}

#[tauri::command]
pub async fn vault_create<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<VaultCreateArgs>,
) -> IpcResult<Created> {
    let shell = shell.inner().clone();
    let passphrase = args.0.passphrase.map(Zeroizing::new);
    let created = blocking(move || {
        let _busy = shell.begin_long()?;
        let c = Vault::create(
            &shell.cfg.data_dir,
            CreateOptions {
                keyring: KeyringChoice::IfAvailable,
                passphrase,
            },
            shell.env(),
        )?;
        let keyring_error = c
            .keyring_error
            .map(|source| IpcError::from(VaultError::Keyring { source }));
        let text = c.recovery_key.display_text();
        shell.install(c.vault)?;
        shell.set_pending_recovery(c.recovery_key);
        tracing::info!(
            keyring = keyring_error.is_none(),
            keyring_error = keyring_error.as_ref().map(|e| e.code.as_ref()),
            "vault created"
        );
        Ok(Created {
            recovery_key: text.to_string(),
            keyring_error,
        })
    })
    .await?;
    background::vault_opened(&app);
    Ok(created)
}

/// "I saved it": the user types back groups of the recovery key just
/// shown. Two different groups must match; then the key is forgotten.
#[tauri::command]
pub fn vault_confirm_recovery(
    shell: State<'_, Arc<Shell>>,
    args: Args<VaultConfirmRecoveryArgs>,
) -> IpcResult<Confirmed> {
    let answers = args.0.answers;
    let groups: BTreeSet<u32> = answers.iter().map(|a| a.group).collect();
    if groups.len() < 2 || groups.len() != answers.len() {
        return Err(IpcError::invalid(
            "type back two different groups of the recovery key",
        ));
    }
    let typed: Vec<(usize, &str)> = answers
        .iter()
        .map(|a| (a.group as usize, a.text.as_str()))
        .collect();
    let ok = shell.with_pending_recovery(|k| match k {
        Some(k) => Ok(k.confirms(&typed)),
        None => Err(IpcError::new(
            codes::NO_PENDING_RECOVERY_KEY,
            "there is no new recovery key to confirm",
        )),
    })?;
    if ok {
        shell.clear_pending_recovery();
    }
    tracing::info!(ok, "recovery key confirmation");
    Ok(Confirmed { ok })
}

/// Writes the recovery key being confirmed to a file the user chose,
/// readable by the user only.
#[tauri::command]
pub async fn recovery_key_save(
    shell: State<'_, Arc<Shell>>,
    args: Args<PathArgs>,
) -> IpcResult<()> {
    let path = args.0.path;
    let shell = shell.inner().clone();
    blocking(move || {
        let text = shell.with_pending_recovery(|k| {
            k.map(|k| k.display_text()).ok_or_else(|| {
                IpcError::new(
                    codes::NO_PENDING_RECOVERY_KEY,
                    "there is no new recovery key to save",
                )
            })
        })?;
        let path = std::path::PathBuf::from(path);
        crate::files::write_private(
            &path,
            format!(
                "ProductivityPro recovery key\n\n{}\n\nKeep it somewhere safe: it opens your vault if the keyring and passphrase cannot.\n",
                text.as_str()
            )
            .as_bytes(),
        )
        .map_err(|e| io_error("writing", &path, e))?;
        tracing::info!("recovery key saved to a file");
        Ok(())
    })
    .await
}

fn unlock_of(method: UnlockMethod, secret: Option<String>) -> IpcResult<Unlock> {
    Ok(match method {
        UnlockMethod::Keyring => Unlock::Keyring,
        UnlockMethod::Passphrase => Unlock::Passphrase(self::secret(secret, "the passphrase")?),
        UnlockMethod::RecoveryKey => Unlock::RecoveryKey(self::secret(secret, "the recovery key")?),
    })
}

#[tauri::command]
pub async fn vault_unlock<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<VaultUnlockArgs>,
) -> IpcResult<Snapshot> {
    let VaultUnlockArgs { method, secret } = args.0;
    let unlock = unlock_of(method, secret)?;
    let shell = shell.inner().clone();
    let snapshot = blocking(move || {
        let _busy = shell.begin_long()?;
        if shell.is_unlocked() {
            return shell.with_vault(|v| report::snapshot(v));
        }
        let mut vault = Vault::open(&shell.cfg.data_dir, &unlock, shell.env()).map_err(|e| {
            tracing::info!(?method, code = e.code(), "unlock failed");
            IpcError::from(e)
        })?;
        if !matches!(unlock, Unlock::Keyring) {
            // The keyring lost the vault's key (removed, new login
            // keyring): put it back so the next start needs no secret.
            match vault.repair_keyring_slot() {
                Ok(true) => tracing::info!("keyring slot restored"),
                Ok(false) => {}
                Err(e) => tracing::warn!(code = e.code(), "keyring slot not restored"),
            }
        }
        let snap = report::snapshot(&vault)?;
        tracing::info!(?method, tasks = vault.task_count(), "vault unlocked");
        shell.install(vault)?;
        Ok(snap)
    })
    .await?;
    background::vault_opened(&app);
    Ok(snapshot)
}

/// After `vault_too_new` (a newer app upgraded the vault): the copies of
/// the vault from before that upgrade which this version opens, newest
/// first. Names only, never the folder.
#[tauri::command]
pub async fn pre_migration_list(shell: State<'_, Arc<Shell>>) -> IpcResult<Vec<PreMigrationCopy>> {
    let shell = shell.inner().clone();
    blocking(move || {
        Ok(Vault::pre_migration_copies(&shell.cfg.data_dir)?
            .into_iter()
            .map(PreMigrationCopy::from)
            .collect())
    })
    .await
}

/// Puts a pre-migration copy in place of a vault this version cannot open
/// (the newer file is kept aside as `vault.db.replaced-<time>`), then
/// unlocks it. The secret is checked against the copy first: a wrong one
/// changes nothing.
#[tauri::command]
pub async fn pre_migration_restore<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<PreMigrationRestoreArgs>,
) -> IpcResult<Snapshot> {
    let PreMigrationRestoreArgs {
        name,
        method,
        secret,
    } = args.0;
    let unlock = unlock_of(method, secret)?;
    let shell = shell.inner().clone();
    let snapshot = blocking(move || {
        let _busy = shell.begin_long()?;
        let dir = &shell.cfg.data_dir;
        // Only for a vault this version cannot open: going back from one
        // it reads would only lose what changed since the copy.
        if shell.is_unlocked() || Vault::slots_in(dir).is_ok() {
            return Err(IpcError::invalid(
                "this version opens the vault as it is; nothing was changed",
            ));
        }
        Vault::verify_pre_migration_unlock(dir, &name, &unlock)?;
        let copy = Vault::restore_pre_migration(dir, &name, &shell.env())?;
        tracing::info!(schema = copy.schema, "pre-migration copy restored");
        let vault = Vault::open(dir, &unlock, shell.env())?;
        let snap = report::snapshot(&vault)?;
        tracing::info!(tasks = vault.task_count(), "vault unlocked");
        shell.install(vault)?;
        Ok(snap)
    })
    .await?;
    background::vault_opened(&app);
    Ok(snapshot)
}

/// Drops the data key and every decrypted task.
#[tauri::command]
pub async fn vault_lock<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
) -> IpcResult<()> {
    let shell = shell.inner().clone();
    let was = blocking(move || Ok(shell.lock_vault())).await?;
    if was {
        emit::locked(&app, LockReason::User);
    }
    Ok(())
}

#[tauri::command]
pub async fn vault_snapshot(shell: State<'_, Arc<Shell>>) -> IpcResult<Snapshot> {
    let shell = shell.inner().clone();
    blocking(move || shell.with_vault(|v| report::snapshot(v))).await
}

#[tauri::command]
pub async fn slots_list(shell: State<'_, Arc<Shell>>) -> IpcResult<Vec<SlotInfo>> {
    let shell = shell.inner().clone();
    blocking(move || shell.with_vault(|v| Ok(v.slots()?.into_iter().map(SlotInfo::from).collect())))
        .await
}

/// Adds a passphrase, or changes it: then the current one must be given
/// and right.
#[tauri::command]
pub async fn passphrase_set(
    shell: State<'_, Arc<Shell>>,
    args: Args<PassphraseSetArgs>,
) -> IpcResult<()> {
    let PassphraseSetArgs { current, next } = args.0;
    let current = current.map(Zeroizing::new);
    let next = Zeroizing::new(next);
    let shell = shell.inner().clone();
    blocking(move || {
        let _busy = shell.begin_long()?;
        shell.with_vault(|v| {
            if v.has_slot(CoreSlotKind::Passphrase)? {
                match current.as_deref() {
                    Some(c) if !c.is_empty() => v.verify_passphrase(c)?,
                    _ => return Err(VaultError::PassphraseRequired.into()),
                }
            }
            v.set_passphrase(&next)?;
            tracing::info!("passphrase set");
            Ok(())
        })
    })
    .await
}

/// A new recovery key (the old one stops working), shown once and then
/// confirmed like at first run.
#[tauri::command]
pub async fn recovery_key_new(shell: State<'_, Arc<Shell>>) -> IpcResult<NewRecoveryKey> {
    let shell = shell.inner().clone();
    blocking(move || {
        let _busy = shell.begin_long()?;
        let key = shell.with_vault(|v| Ok(v.new_recovery_key()?))?;
        let text = key.display_text().to_string();
        shell.set_pending_recovery(key);
        tracing::info!("new recovery key made");
        Ok(NewRecoveryKey { recovery_key: text })
    })
    .await
}

/// Locks for the idle timer; the UI is told why.
pub fn lock_for_idle<R: Runtime>(app: &AppHandle<R>, shell: &Shell) {
    if shell.lock_vault() {
        tracing::info!("idle lock");
        emit::locked(app, LockReason::Idle);
    }
}
