//! `pp sync …`: account flows (the protocol crate's client, with its
//! key-id check) and the vault's sync engine over HTTP. The sync
//! passphrase comes from a file or the environment, never from argv.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use productivitypro_core::vault::sync::{HttpTransport, RecoveryChoice, SyncReport};
use productivitypro_core::{RecoveryKey, Vault};
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::account::AccountError;
use productivitypro_sync_protocol::client::{ClientError, Notifications};
use productivitypro_sync_protocol::DeviceId;
use zeroize::Zeroizing;

use crate::args::SyncCommand;
use crate::output;
use crate::unlock::Context;

/// A failure of the server or of an account flow, with its stable code.
#[derive(Debug)]
pub struct SyncCliError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for SyncCliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyncCliError {}

impl From<AccountError> for SyncCliError {
    fn from(e: AccountError) -> Self {
        SyncCliError {
            code: e.code().to_string(),
            message: hint(e.code(), e.to_string()),
        }
    }
}

impl From<ClientError> for SyncCliError {
    fn from(e: ClientError) -> Self {
        SyncCliError {
            code: e.code().to_string(),
            message: hint(e.code(), e.to_string()),
        }
    }
}

fn hint(code: &str, message: String) -> String {
    match code {
        "invalid_credentials" => {
            format!("{message}; check the email and the sync passphrase (or recovery key)")
        }
        "wrong_passphrase" => format!("{message}; check the sync passphrase"),
        "account_exists" => format!("{message}; use `pp sync login` instead"),
        "device_signed_out" | "invalid_token" => {
            format!("{message}; sign in again with `pp sync logout --discard-unsent` then `pp sync login`")
        }
        _ => message,
    }
}

pub fn error_code(e: &anyhow::Error) -> Option<String> {
    e.downcast_ref::<SyncCliError>().map(|s| s.code.clone())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the network runtime")
}

/// A secret's first line from `file`, or else from the environment
/// variable `var`; never from argv.
fn secret_from(
    file: Option<&Path>,
    var: &str,
    what: &str,
    flag: &str,
) -> Result<Zeroizing<String>> {
    let p = match file {
        Some(f) => Zeroizing::new(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        None => match std::env::var(var) {
            Ok(p) => Zeroizing::new(p),
            Err(_) => bail!("no {what}: set {var} or pass {flag}"),
        },
    };
    if p.trim().is_empty() {
        return Err(SyncCliError {
            code: "empty_passphrase".into(),
            message: format!("the {what} is empty"),
        }
        .into());
    }
    Ok(p)
}

fn sync_passphrase(file: Option<&Path>) -> Result<Zeroizing<String>> {
    secret_from(
        file,
        "PRODUCTIVITYPRO_SYNC_PASSPHRASE",
        "sync passphrase",
        "--sync-passphrase-file",
    )
}

fn new_sync_passphrase(file: Option<&Path>) -> Result<Zeroizing<String>> {
    secret_from(
        file,
        "PRODUCTIVITYPRO_NEW_SYNC_PASSPHRASE",
        "new sync passphrase",
        "--new-sync-passphrase-file",
    )
}

fn recovery_key_file(f: &Path) -> Result<RecoveryKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
    );
    RecoveryKey::parse(text.lines().next().unwrap_or("")).map_err(|e| {
        SyncCliError {
            code: "invalid_recovery_key".into(),
            message: e.to_string(),
        }
        .into()
    })
}

fn show_sync_recovery_key(rk: &RecoveryKey) {
    println!("sync recovery key (shown once; it reopens the sync account if the passphrase is lost — `pp sync recover`):");
    output::recovery_key(rk);
}

fn print_report(r: &SyncReport, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "sealed_batches": r.sealed_batches,
                "pushed_batches": r.pushed_batches,
                "pulled_batches": r.pulled_batches,
                "pulled_ops": r.pulled_ops,
                "written": r.written,
                "removed": r.removed,
            }))?
        );
    } else {
        println!(
            "sent {} batch(es); received {} batch(es) with {} change(s): {} task(s)/list(s) updated, {} removed",
            r.pushed_batches, r.pulled_batches, r.pulled_ops, r.written, r.removed
        );
    }
    Ok(())
}

fn sync_once(v: &mut Vault) -> Result<SyncReport> {
    let endpoint = v.sync_endpoint()?;
    let mut t = HttpTransport::new(&endpoint).map_err(|e| SyncCliError {
        code: e.code,
        message: e.message,
    })?;
    Ok(v.sync_now(&mut t)?)
}

/// Adds the next step to an account flow's error, keeping its code.
fn account_step(e: productivitypro_core::VaultError) -> anyhow::Error {
    let code = e.code();
    let message = hint(code, e.to_string());
    anyhow::Error::new(e).context(message)
}

pub fn run(ctx: &Context, cmd: SyncCommand) -> Result<()> {
    match cmd {
        SyncCommand::Signup {
            server,
            email,
            sync_passphrase_file,
            sync_recovery_key_file,
            no_recovery_key,
        } => {
            let pass = sync_passphrase(sync_passphrase_file.as_deref())?;
            let recovery = match (&sync_recovery_key_file, no_recovery_key) {
                (Some(f), _) => RecoveryChoice::Existing(recovery_key_file(f)?),
                (None, true) => RecoveryChoice::Without,
                (None, false) => RecoveryChoice::Dedicated,
            };
            let mut v = ctx.open()?;
            let shown = v
                .sync_signup(&server, &email, &pass, recovery)
                .map_err(account_step)?;
            println!("signed up; this vault now syncs with {server}");
            if let Some(rk) = &shown {
                show_sync_recovery_key(rk);
            }
            print_report(&sync_once(&mut v)?, false)
        }
        SyncCommand::Login {
            server,
            email,
            sync_passphrase_file,
        } => {
            let pass = sync_passphrase(sync_passphrase_file.as_deref())?;
            let mut v = ctx.open()?;
            v.sync_login(&server, &email, &pass).map_err(account_step)?;
            println!("signed in; this vault now syncs with {server}");
            print_report(&sync_once(&mut v)?, false)
        }
        SyncCommand::Passphrase {
            sync_passphrase_file,
            new_sync_passphrase_file,
            sign_out_other_devices,
        } => {
            let current = sync_passphrase(sync_passphrase_file.as_deref())?;
            let new = new_sync_passphrase(new_sync_passphrase_file.as_deref())?;
            let mut v = ctx.open()?;
            v.sync_change_passphrase(&current, &new, sign_out_other_devices)
                .map_err(account_step)?;
            println!("sync passphrase changed; other devices keep syncing (they sign in with the new passphrase next time)");
            Ok(())
        }
        SyncCommand::Recover {
            server,
            email,
            sync_recovery_key_file,
            new_sync_passphrase_file,
            sign_out_other_devices,
        } => {
            let rk = recovery_key_file(&sync_recovery_key_file)?;
            let new = new_sync_passphrase(new_sync_passphrase_file.as_deref())?;
            let mut v = ctx.open()?;
            v.sync_recover(&server, &email, &rk, &new, sign_out_other_devices)
                .map_err(account_step)?;
            println!("account recovered: the new sync passphrase is set and this vault syncs with {server}");
            print_report(&sync_once(&mut v)?, false)
        }
        SyncCommand::RecoveryKey {
            sync_passphrase_file,
            sync_recovery_key_file,
        } => {
            let pass = sync_passphrase(sync_passphrase_file.as_deref())?;
            let recovery = match &sync_recovery_key_file {
                Some(f) => RecoveryChoice::Existing(recovery_key_file(f)?),
                None => RecoveryChoice::Dedicated,
            };
            let mut v = ctx.open()?;
            let shown = v.sync_set_recovery(&pass, recovery).map_err(account_step)?;
            println!("the previous sync recovery key no longer opens the account");
            if let Some(rk) = &shown {
                show_sync_recovery_key(rk);
            }
            Ok(())
        }
        SyncCommand::Status { json } => {
            let v = ctx.open()?;
            let info = v.sync_info()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
                return Ok(());
            }
            match info {
                None => println!("sync: off (`pp sync signup` or `pp sync login`)"),
                Some(i) => {
                    println!("sync: on, {} as {}", i.server, i.email);
                    println!("account {}  device {}", i.account, i.device);
                    println!(
                        "merged up to {}; {} change row(s) and {} batch(es) waiting to be sent",
                        i.cursor, i.pending_op_rows, i.unsent_batches
                    );
                    match i.last_exchange {
                        Some(t) => println!("last exchange {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
                        None => println!("never exchanged yet"),
                    }
                }
            }
            Ok(())
        }
        SyncCommand::Now { json } => {
            let mut v = ctx.open()?;
            let r = sync_once(&mut v)?;
            print_report(&r, json)
        }
        SyncCommand::Devices { json, sign_out } => {
            let mut v = ctx.open()?;
            if let Some(id) = sign_out {
                let id: DeviceId = id.parse().map_err(|e| SyncCliError {
                    code: "invalid_request".into(),
                    message: format!("{e}"),
                })?;
                v.sync_sign_out_device(id).map_err(account_step)?;
                println!("device {id} signed out");
                return Ok(());
            }
            let list = v.sync_devices().map_err(account_step)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for d in &list {
                println!(
                    "{}{}{}  last seen {}{}",
                    d.device_id,
                    d.name
                        .as_deref()
                        .map(|n| format!(" {n}"))
                        .unwrap_or_default(),
                    if d.current { " (this device)" } else { "" },
                    chrono::DateTime::from_timestamp(d.last_seen_at, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default(),
                    if d.signed_out { "  signed out" } else { "" }
                );
            }
            Ok(())
        }
        SyncCommand::Logout {
            discard_unsent,
            forget_account,
        } => {
            let mut v = ctx.open()?;
            if v.sync_has_outgoing()? && !discard_unsent {
                // Try to send first; refuse (with sync_unsent) if it fails.
                if let Err(err) = sync_once(&mut v) {
                    eprintln!("warning: could not send pending changes: {err:#}");
                }
            }
            v.sync_sign_out(discard_unsent, forget_account)
                .map_err(account_step)?;
            println!("signed out; tasks stay in this vault");
            Ok(())
        }
        SyncCommand::Watch => {
            let mut v = ctx.open()?;
            print_report(&sync_once(&mut v)?, false)?;
            let e = v.sync_endpoint()?;
            let rt = runtime()?;
            let mut socket = rt
                .block_on(Notifications::connect(&e.server, &e.token))
                .map_err(SyncCliError::from)?;
            eprintln!("watching for changes (Ctrl-C to stop)");
            loop {
                // A notice is a hint, not the data: pull when the head
                // moved past our cursor, and at least every minute (which
                // also sends what other `pp` runs recorded meanwhile).
                let notice = rt.block_on(async {
                    tokio::time::timeout(std::time::Duration::from_secs(60), socket.next()).await
                });
                let due = match notice {
                    Err(_) => true,
                    Ok(Ok(Some(Notice::Head { head }))) => {
                        head > v.sync_info()?.map_or(0, |i| i.cursor)
                    }
                    Ok(Ok(Some(Notice::SignedOut))) => {
                        return Err(SyncCliError {
                            code: "device_signed_out".into(),
                            message: "this device was signed out from another device".into(),
                        }
                        .into())
                    }
                    Ok(Ok(None)) => bail!("the server closed the notification socket"),
                    Ok(Err(err)) => return Err(SyncCliError::from(err).into()),
                };
                if due || v.sync_has_outgoing()? {
                    watch_round(&mut v)?;
                }
            }
        }
    }
}

/// One round of `watch`: another `pp` may have written since the last
/// (a `stale` commit, or sync state moved), so reload and try again; a
/// refused page or an unreachable server is reported and retried on the
/// next notice — the watch goes on.
fn watch_round(v: &mut Vault) -> Result<()> {
    for _ in 0..3 {
        v.refresh()?;
        match sync_once(v) {
            Ok(r) => {
                if r.pulled_ops + r.pushed_batches > 0 {
                    print_report(&r, false)?;
                }
                return Ok(());
            }
            Err(e) => match e
                .downcast_ref::<productivitypro_core::VaultError>()
                .map(|v| v.code())
            {
                Some("stale" | "sync_state_moved") => continue,
                Some("device_signed_out" | "invalid_token" | "account_mismatch") => return Err(e),
                _ => {
                    eprintln!("warning: sync failed, will retry: {e:#}");
                    return Ok(());
                }
            },
        }
    }
    Ok(())
}
