//! `pp sync …`: account flows (the protocol crate's client, with its
//! key-id check) and the vault's sync engine over HTTP. The sync
//! passphrase comes from a file or the environment, never from argv.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use productivitypro_core::vault::sync::{HttpTransport, KnownAccount, NewLink, SyncReport};
use productivitypro_core::Vault;
use productivitypro_sync_protocol::api::Notice;
use productivitypro_sync_protocol::client::account::{self, AccountError, Known, SignedIn};
use productivitypro_sync_protocol::client::{ClientError, Notifications, SyncClient};
use zeroize::Zeroizing;

use crate::args::SyncCommand;
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
        "invalid_credentials" => format!("{message}; check the email and the sync passphrase"),
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

fn sync_passphrase(file: Option<&Path>) -> Result<Zeroizing<String>> {
    let p = match file {
        Some(f) => Zeroizing::new(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ),
        None => match std::env::var("PRODUCTIVITYPRO_SYNC_PASSPHRASE") {
            Ok(p) => Zeroizing::new(p),
            Err(_) => bail!("no sync passphrase: set PRODUCTIVITYPRO_SYNC_PASSPHRASE or pass --sync-passphrase-file"),
        },
    };
    if p.trim().is_empty() {
        return Err(SyncCliError {
            code: "empty_passphrase".into(),
            message: "the sync passphrase is empty".into(),
        }
        .into());
    }
    Ok(p)
}

fn enable(v: &mut Vault, server: &str, email: &str, s: SignedIn) -> Result<()> {
    v.sync_enable(NewLink {
        server: server.to_string(),
        email: email.to_string(),
        account: s.session.account_id,
        device: s.session.device_id,
        key: s.key,
        token: Zeroizing::new(s.session.token),
    })?;
    Ok(())
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

pub fn run(ctx: &Context, cmd: SyncCommand) -> Result<()> {
    match cmd {
        SyncCommand::Signup {
            server,
            email,
            sync_passphrase_file,
        } => {
            let pass = sync_passphrase(sync_passphrase_file.as_deref())?;
            let mut v = ctx.open()?;
            if v.sync_info()?.is_some() {
                bail!("this vault already syncs; `pp sync logout` first");
            }
            let device = v.sync_new_device_id();
            let client = SyncClient::new(&server);
            let signed = runtime()?
                .block_on(account::signup(
                    &client,
                    &email,
                    &pass,
                    None,
                    device,
                    None,
                    None,
                    &mut rand::rngs::OsRng,
                ))
                .map_err(SyncCliError::from)?;
            enable(&mut v, &server, &email, signed)?;
            println!("signed up; this vault now syncs with {server}");
            print_report(&sync_once(&mut v)?, false)
        }
        SyncCommand::Login {
            server,
            email,
            sync_passphrase_file,
        } => {
            let pass = sync_passphrase(sync_passphrase_file.as_deref())?;
            let mut v = ctx.open()?;
            if v.sync_info()?.is_some() {
                bail!("this vault already syncs; `pp sync logout` first");
            }
            let known = v
                .sync_known_account()?
                .map(|KnownAccount { account, key_id }| Known { account, key_id });
            let device = v.sync_new_device_id();
            let client = SyncClient::new(&server);
            let rt = runtime()?;
            let signed = rt
                .block_on(async {
                    let (login, _, pk) = account::derive(&client, &email, &pass).await?;
                    account::login(&client, login, &pk, device, known.as_ref()).await
                })
                .map_err(SyncCliError::from)?;
            enable(&mut v, &server, &email, signed)?;
            println!("signed in; this vault now syncs with {server}");
            print_report(&sync_once(&mut v)?, false)
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
        SyncCommand::Devices { json } => {
            let v = ctx.open()?;
            let e = v.sync_endpoint()?;
            let list = runtime()?
                .block_on(SyncClient::new(&e.server).devices(&e.token))
                .map_err(SyncCliError::from)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list.devices)?);
                return Ok(());
            }
            for d in &list.devices {
                println!(
                    "{}{}  last seen {}{}",
                    d.device_id,
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
            let e = v.sync_endpoint()?;
            if v.sync_has_outgoing()? && !discard_unsent {
                // Try to send first; refuse (with sync_unsent) if it fails.
                if let Err(err) = sync_once(&mut v) {
                    eprintln!("warning: could not send pending changes: {err:#}");
                }
            }
            // Refuses with `sync_unsent` before anything is signed out.
            if v.sync_has_outgoing()? && !discard_unsent {
                v.sync_disable(forget_account, false)?;
            }
            match runtime()?.block_on(SyncClient::new(&e.server).sign_out(&e.token, None)) {
                Ok(()) => {}
                // Already signed out elsewhere: nothing left to do there.
                Err(err) if matches!(err.code(), "device_signed_out" | "invalid_token") => {}
                Err(err) => return Err(SyncCliError::from(err).into()),
            }
            v.sync_disable(forget_account, true)?;
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
