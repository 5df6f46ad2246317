//! Where the vault is and how to unlock it, from flags and environment.
//! Secrets come only from files or the environment, never from argv
//! (which other users can read in the process list).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use productivitypro_core::profile::EnvVars;
use productivitypro_core::{Env, Unlock, Vault};
use zeroize::Zeroizing;

use crate::args::Cli;

/// The undo/redo session `pp` records into (the desktop app uses "app").
pub const HISTORY_SESSION: &str = "cli";

pub struct Context {
    pub dir: PathBuf,
    pub no_keyring: bool,
    passphrase_file: Option<PathBuf>,
    recovery_key_file: Option<PathBuf>,
    new_passphrase_file: Option<PathBuf>,
    tz: chrono_tz::Tz,
    vars: EnvVars,
}

/// The first line of a secret file, without its line ending.
fn read_secret(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or("").to_string(),
    ))
}

fn env_secret(name: &str) -> Option<Zeroizing<String>> {
    std::env::var(name).ok().map(Zeroizing::new)
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Result<Self> {
        let vars = EnvVars::from_process();
        let dir = vars
            .data_dir(cli.data_dir.clone())
            .context("pass --data-dir")?;
        Ok(Context {
            dir,
            no_keyring: cli.no_keyring,
            passphrase_file: cli.passphrase_file.clone(),
            recovery_key_file: cli.recovery_key_file.clone(),
            new_passphrase_file: cli.new_passphrase_file.clone(),
            tz: vars.local_tz(cli.tz.as_deref())?,
            vars,
        })
    }

    pub fn env(&self) -> Env {
        self.vars.system_env(self.tz)
    }

    pub fn passphrase(&self) -> Result<Option<Zeroizing<String>>> {
        match &self.passphrase_file {
            Some(f) => read_secret(f).map(Some),
            None => Ok(env_secret("PRODUCTIVITYPRO_PASSPHRASE")),
        }
    }

    pub fn new_passphrase(&self) -> Result<Option<Zeroizing<String>>> {
        match &self.new_passphrase_file {
            Some(f) => read_secret(f).map(Some),
            None => Ok(env_secret("PRODUCTIVITYPRO_NEW_PASSPHRASE")),
        }
    }

    fn recovery_key(&self) -> Result<Option<Zeroizing<String>>> {
        match &self.recovery_key_file {
            Some(f) => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(f)
                        .with_context(|| format!("reading {}", f.display()))?,
                );
                Ok(Some(Zeroizing::new(text.trim().to_string())))
            }
            None => Ok(env_secret("PRODUCTIVITYPRO_RECOVERY_KEY")),
        }
    }

    /// Passphrase, then recovery key, then the OS keyring.
    pub fn unlock(&self) -> Result<Unlock> {
        if let Some(p) = self.passphrase()? {
            return Ok(Unlock::Passphrase(p));
        }
        if let Some(k) = self.recovery_key()? {
            return Ok(Unlock::RecoveryKey(k));
        }
        if self.no_keyring {
            anyhow::bail!("--no-keyring given but no passphrase or recovery key: set PRODUCTIVITYPRO_PASSPHRASE, --passphrase-file, PRODUCTIVITYPRO_RECOVERY_KEY or --recovery-key-file");
        }
        Ok(Unlock::Keyring)
    }

    /// A backup has no keyring slot: only passphrase or recovery key.
    pub fn restore_unlock(&self) -> Result<Unlock> {
        match self.unlock()? {
            Unlock::Keyring => anyhow::bail!("a backup opens only with its passphrase or recovery key: set PRODUCTIVITYPRO_PASSPHRASE, --passphrase-file, PRODUCTIVITYPRO_RECOVERY_KEY or --recovery-key-file"),
            u => Ok(u),
        }
    }

    /// Opens the vault in `pp`'s own undo session ("cli", so `pp add …;
    /// pp undo` works across runs) and empties trash past its retention.
    pub fn open(&self) -> Result<Vault> {
        let mut v = Vault::open(&self.dir, &self.unlock()?, self.env())?;
        v.set_history_session(HISTORY_SESSION)?;
        if let Err(e) = v.empty_expired_trash() {
            eprintln!("warning: emptying old trash failed: {e}");
        }
        Ok(v)
    }

    /// After a write: the automatic backup, if one is due. A failed backup
    /// is reported but does not undo the (already committed) write.
    pub fn after_write(&self, v: &mut Vault) -> Result<()> {
        if let Err(e) = v.backup_if_due() {
            eprintln!("warning: automatic backup failed: {e}");
        }
        Ok(())
    }
}
