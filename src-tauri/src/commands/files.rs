//! Backups, export and import: files the user picked in a dialog. Exports
//! and imports use every format `pp` has; imports are all or nothing.

use std::path::PathBuf;
use std::sync::Arc;

use productivitypro_core::interchange::{self, Format, ImportContext};
use productivitypro_core::vault::RestoreOptions;
use productivitypro_core::{Unlock, Vault};
use tauri::{AppHandle, Runtime, State};
use zeroize::Zeroizing;

use crate::args::{Args, BackupRestoreArgs, ExportToArgs, ImportFromArgs};
use crate::dto::{BackupInfo, Changes, Exported, Snapshot, UnlockMethod};
use crate::error::{io_error, IpcError, IpcResult};
use crate::shell::{blocking, Shell};
use crate::{background, files, report};

/// Imports larger than this are refused before reading (a JSON export of
/// 100k tasks is ~40 MB).
const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

#[tauri::command]
pub async fn backups_list(shell: State<'_, Arc<Shell>>) -> IpcResult<Vec<BackupInfo>> {
    let shell = shell.inner().clone();
    blocking(move || {
        shell.with_vault(|v| Ok(v.backups()?.into_iter().map(BackupInfo::from).collect()))
    })
    .await
}

#[tauri::command]
pub async fn backup_now(shell: State<'_, Arc<Shell>>) -> IpcResult<BackupInfo> {
    let shell = shell.inner().clone();
    blocking(move || {
        let _busy = shell.begin_long()?;
        shell.with_vault(|v| {
            let b = v.backup_now()?;
            tracing::info!(bytes = b.bytes, "backup written");
            Ok(b.into())
        })
    })
    .await
}

/// Replaces the vault with a backup (the current file is kept aside, never
/// deleted). A backup opens only with the passphrase or recovery key that
/// were valid when it was made; the keyring slot is re-created on this
/// machine.
#[tauri::command]
pub async fn backup_restore<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<BackupRestoreArgs>,
) -> IpcResult<Snapshot> {
    let BackupRestoreArgs {
        path,
        method,
        secret,
    } = args.0;
    if secret.is_empty() {
        return Err(IpcError::invalid(
            "the passphrase or recovery key is missing",
        ));
    }
    let secret = Zeroizing::new(secret);
    let unlock = match method {
        UnlockMethod::Passphrase => Unlock::Passphrase(secret),
        UnlockMethod::RecoveryKey => Unlock::RecoveryKey(secret),
        UnlockMethod::Keyring => {
            return Err(IpcError::invalid(
                "a backup opens only with its passphrase or recovery key",
            ))
        }
    };
    let shell = shell.inner().clone();
    let snap = blocking(move || {
        let _busy = shell.begin_long()?;
        if !shell.is_unlocked() {
            // Only someone who can open the vault may replace it.
            return Err(IpcError::locked());
        }
        let path = PathBuf::from(path);
        // A trial restore into a scratch folder first: a wrong file or
        // secret leaves the open vault as it is.
        let scratch = shell
            .cfg
            .data_dir
            .join(format!(".restore-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let trial = Vault::restore(
            &path,
            &scratch,
            &unlock,
            RestoreOptions {
                keyring: false,
                replace: false,
            },
            shell.env(),
        );
        let _ = std::fs::remove_dir_all(&scratch);
        if let Err(e) = trial {
            tracing::info!(code = e.code(), "restore refused");
            return Err(e.into());
        }
        shell.lock_vault();
        let vault = Vault::restore(
            &path,
            &shell.cfg.data_dir,
            &unlock,
            RestoreOptions {
                keyring: true,
                replace: true,
            },
            shell.env(),
        )
        .inspect_err(|e| tracing::warn!(code = e.code(), "restore failed after its trial"))?;
        let snap = report::snapshot(&vault)?;
        tracing::info!(tasks = vault.task_count(), "backup restored");
        shell.install(vault)?;
        Ok(snap)
    })
    .await;
    match &snap {
        Ok(_) => background::vault_opened(&app),
        // Only a failure after the trial leaves the vault locked.
        Err(_) if !shell_unlocked(&app) => crate::emit::locked(&app, crate::dto::LockReason::User),
        Err(_) => {}
    }
    snap
}

fn shell_unlocked<R: Runtime>(app: &AppHandle<R>) -> bool {
    use tauri::Manager;
    app.state::<Arc<Shell>>().is_unlocked()
}

fn format(name: &str) -> IpcResult<Format> {
    Ok(name.parse::<Format>()?)
}

#[tauri::command]
pub async fn export_to(
    shell: State<'_, Arc<Shell>>,
    args: Args<ExportToArgs>,
) -> IpcResult<Exported> {
    let ExportToArgs { format, path } = args.0;
    let format = self::format(&format)?;
    if !format.can_export() {
        return Err(IpcError::invalid(format!(
            "{} files can be imported but not exported",
            format.label()
        )));
    }
    let shell = shell.inner().clone();
    blocking(move || {
        let (bytes, n) = shell.with_vault(|v| {
            let bundle = v.export_bundle();
            let mut buf = Vec::new();
            interchange::export(format, &bundle, &mut buf)?;
            Ok((buf, bundle.tasks.len()))
        })?;
        let path = PathBuf::from(path);
        files::write_private(&path, &bytes).map_err(|e| io_error("writing", &path, e))?;
        tracing::info!(format = format.name(), tasks = n, "exported");
        Ok(Exported { tasks: n as u32 })
    })
    .await
}

/// Imports a file as one undoable action. Tasks without a list go into
/// `listName` when given (an existing list, or a new one).
#[tauri::command]
pub async fn import_from<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Arc<Shell>>,
    args: Args<ImportFromArgs>,
) -> IpcResult<Changes> {
    let ImportFromArgs {
        format,
        path,
        list_name,
    } = args.0;
    let format = self::format(&format)?;
    let list_name = list_name.filter(|n| !n.trim().is_empty());
    let shell = shell.inner().clone();
    let changes = blocking(move || {
        let _busy = shell.begin_long()?;
        let path = PathBuf::from(path);
        let bytes = files::read_limited(&path, MAX_IMPORT_BYTES)
            .map_err(|e| io_error("reading", &path, e))?;
        shell.touch();
        shell.with_vault(|v| {
            let mut rng = rand::rngs::OsRng;
            let mut ctx = ImportContext {
                now: v.now(),
                rng: &mut rng,
                local_tz: v.local_tz(),
            };
            let bundle = interchange::import(format, &bytes, &mut ctx)?;
            // Foreign formats merge lists by name; our JSON is lossless.
            let merge = format != Format::Json;
            let r = match &list_name {
                Some(name) => v.import_into_list(bundle, merge, name),
                None => v.import(bundle, merge),
            }
            .map_err(|e| {
                tracing::info!(format = format.name(), code = e.code(), "import refused");
                IpcError::from(e)
            })?;
            tracing::info!(
                format = format.name(),
                tasks = r.tasks,
                lists = r.lists_created,
                "imported"
            );
            report::take_changes(v)
        })
    })
    .await?;
    background::rearm_reminders(&app);
    Ok(changes)
}
