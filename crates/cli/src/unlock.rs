//! Where the vault is and how to unlock it, from flags and environment.
//! Secrets come only from files or the environment, never from argv
//! (which other users can read in the process list).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
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
}

fn default_dir() -> Result<PathBuf> {
    let base = if cfg!(target_os = "windows") {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
    };
    Ok(base
        .context("cannot find a data folder; pass --data-dir or set PRODUCTIVITYPRO_DATA_DIR")?
        .join("productivitypro"))
}

fn local_tz(flag: Option<&str>) -> Result<chrono_tz::Tz> {
    if let Some(name) = flag {
        return name.parse().map_err(|_| {
            anyhow::anyhow!("--tz `{name}` is not an IANA zone name (e.g. Europe/Berlin)")
        });
    }
    let from_env = std::env::var("TZ")
        .ok()
        .map(|s| s.trim_start_matches(':').to_string());
    let name = from_env
        .filter(|s| !s.is_empty())
        .or_else(|| iana_time_zone::get_timezone().ok());
    Ok(name.and_then(|n| n.parse().ok()).unwrap_or(chrono_tz::UTC))
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
        let dir = match &cli.data_dir {
            Some(d) => d.clone(),
            None => default_dir()?,
        };
        Ok(Context {
            dir,
            no_keyring: cli.no_keyring,
            passphrase_file: cli.passphrase_file.clone(),
            recovery_key_file: cli.recovery_key_file.clone(),
            new_passphrase_file: cli.new_passphrase_file.clone(),
            tz: local_tz(cli.tz.as_deref())?,
        })
    }

    pub fn env(&self) -> Env {
        let mut env = Env::system(self.tz);
        // Lets tests and side-by-side installs keep their keyring entries apart.
        if let Ok(service) = std::env::var("PRODUCTIVITYPRO_KEYRING_SERVICE") {
            if !service.is_empty() {
                env.keyring_service = service;
            }
        }
        env
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
