//! Encrypted backups: one self-contained file, restorable on another
//! machine with the passphrase or the recovery key.
//!
//! Layout: `PPBACKUP` magic, a format byte, a big-endian u32 header
//! length, the header (JSON: ids, time, the passphrase and recovery slots
//! — never the keyring slot, which is useless elsewhere), then the payload
//! nonce and ciphertext. The payload (every list and task) is sealed under
//! the data key with the header bytes as AAD, so neither half can be
//! swapped or edited.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{build_db, keys, records, sync_dir, Unlock, Vault, BACKUP_DIR};
use crate::crypto::{self, KeyId, NONCE_LEN};
use crate::domain::{Id, List, Task, FORMAT_VERSION};
use crate::env::Env;
use crate::error::VaultError;
use crate::os_keyring::KeyringError;
use crate::slots::{SlotKind, WrappedSlot};

const MAGIC: &[u8; 8] = b"PPBACKUP";
/// 2: the payload may hold trashed tasks, which a reader of format 1 would
/// restore as live ones; format 1 files (no trash) are still read.
const BACKUP_FORMAT: u8 = 2;
const OLDEST_BACKUP_FORMAT: u8 = 1;
const MAX_HEADER: usize = 1 << 20;
const EXTENSION: &str = "ppbackup";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupHeader {
    #[serde(with = "hex16")]
    pub vault_id: [u8; 16],
    #[serde(with = "hex8")]
    pub key_id: [u8; 8],
    pub created_at: DateTime<Utc>,
    pub record_format: u16,
    pub tasks: usize,
    pub lists: usize,
    pub slots: Vec<WrappedSlot>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    lists: Vec<List>,
    tasks: Vec<Task>,
}

/// A backup file in the vault's rotating backup folder.
#[derive(Debug, Clone, Serialize)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub bytes: u64,
}

pub struct RestoreOptions {
    /// Also add an OS-keyring slot on this machine (best effort).
    pub keyring: bool,
    /// Replace an existing vault in the target folder (it is kept aside as
    /// `vault.db.replaced-<time>`, never deleted, and only once the
    /// restored vault is complete).
    pub replace: bool,
}

fn bad(path: &Path, detail: impl Into<String>) -> VaultError {
    VaultError::BadBackup {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn payload_aad(header: &[u8]) -> Vec<u8> {
    let mut a = b"productivitypro/backup/v1".to_vec();
    a.extend_from_slice(header);
    a
}

/// A backup file split into its parts.
struct Framed {
    header: BackupHeader,
    /// The header exactly as stored: the payload's AAD.
    header_bytes: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Reads and checks the framing.
fn parse(path: &Path, bytes: &[u8]) -> Result<Framed, VaultError> {
    if bytes.len() < MAGIC.len() + 5 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad(path, "not a ProductivityPro backup (bad magic)"));
    }
    let fmt = bytes[MAGIC.len()];
    if !(OLDEST_BACKUP_FORMAT..=BACKUP_FORMAT).contains(&fmt) {
        return Err(bad(
            path,
            format!("backup format {fmt} is not supported (update the app)"),
        ));
    }
    let at = MAGIC.len() + 1;
    let hlen =
        u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
    let body = &bytes[at + 4..];
    if hlen > MAX_HEADER || body.len() < hlen + NONCE_LEN + crypto::TAG_LEN {
        return Err(bad(path, "the file is truncated"));
    }
    let header_bytes = body[..hlen].to_vec();
    let header: BackupHeader = serde_json::from_slice(&header_bytes)
        .map_err(|e| bad(path, format!("damaged header: {e}")))?;
    let nonce = body[hlen..hlen + NONCE_LEN].to_vec();
    let ct = body[hlen + NONCE_LEN..].to_vec();
    Ok(Framed {
        header,
        header_bytes,
        nonce,
        ciphertext: ct,
    })
}

impl Vault {
    /// Writes an encrypted backup of the whole vault to `path`, atomically
    /// (temporary file, fsync, rename).
    pub fn write_backup(&mut self, path: &Path) -> Result<BackupInfo, VaultError> {
        let created_at = self.env.now();
        let slots: Vec<WrappedSlot> = keys::read_slots(&self.conn)?
            .into_iter()
            .map(|s| s.slot)
            .filter(|s| s.params.kind() != SlotKind::Keyring)
            .collect();
        let bundle = self.bundle();
        let header = BackupHeader {
            vault_id: *self.vault_id.as_bytes(),
            key_id: self.key_id.0,
            created_at,
            record_format: FORMAT_VERSION,
            tasks: bundle.tasks.len(),
            lists: bundle.lists.len(),
            slots,
        };
        let header_bytes = serde_json::to_vec(&header).map_err(|e| bad(path, e.to_string()))?;
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&Payload {
                lists: bundle.lists,
                tasks: bundle.tasks,
            })
            .map_err(|e| bad(path, e.to_string()))?,
        );
        let sealed = crypto::seal(
            &self.key,
            &payload_aad(&header_bytes),
            &plain,
            self.env.rng.as_mut(),
        );
        drop(plain);

        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("backup"),
            std::process::id()
        ));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&[BACKUP_FORMAT])?;
            f.write_all(&(header_bytes.len() as u32).to_be_bytes())?;
            f.write_all(&header_bytes)?;
            f.write_all(&sealed.nonce)?;
            f.write_all(&sealed.ciphertext)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result?;
        Ok(BackupInfo {
            path: path.to_path_buf(),
            created_at,
            bytes: std::fs::metadata(path)?.len(),
        })
    }

    fn backup_dir(&self) -> PathBuf {
        self.dir.join(BACKUP_DIR)
    }

    /// The automatic backups, newest first.
    pub fn backups(&self) -> Result<Vec<BackupInfo>, VaultError> {
        let dir = self.backup_dir();
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(stamp) = name
                .to_str()
                .and_then(|n| n.strip_prefix("vault-"))
                .and_then(|n| n.strip_suffix(&format!(".{EXTENSION}")))
            else {
                continue;
            };
            let Ok(t) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ") else {
                continue;
            };
            out.push(BackupInfo {
                path: entry.path(),
                created_at: t.and_utc(),
                bytes: entry.metadata()?.len(),
            });
        }
        out.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        Ok(out)
    }

    /// Writes a new automatic backup and deletes the oldest beyond the
    /// policy's `keep`.
    pub fn backup_now(&mut self) -> Result<BackupInfo, VaultError> {
        let now = self.env.now();
        let name = format!("vault-{}.{EXTENSION}", now.format("%Y%m%dT%H%M%S%.3fZ"));
        let info = self.write_backup(&self.backup_dir().join(name))?;
        let keep = self.backup_policy()?.keep.max(1) as usize;
        for old in self.backups()?.into_iter().skip(keep) {
            std::fs::remove_file(&old.path)?;
        }
        Ok(info)
    }

    /// Makes an automatic backup if the newest is older than the policy's
    /// interval (0 disables automatic backups).
    pub fn backup_if_due(&mut self) -> Result<Option<BackupInfo>, VaultError> {
        let policy = self.backup_policy()?;
        if policy.interval_hours == 0 {
            return Ok(None);
        }
        let now = self.env.now();
        let due = match self.backups()?.first() {
            Some(b) => now - b.created_at >= chrono::Duration::hours(policy.interval_hours as i64),
            None => true,
        };
        if due {
            self.backup_now().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a backup's header without any key (what `vault status` shows).
    pub fn inspect_backup(path: &Path) -> Result<BackupHeader, VaultError> {
        let bytes = std::fs::read(path)?;
        Ok(parse(path, &bytes)?.header)
    }

    /// Restores `backup` into `dir` as a complete vault, unlocking it with
    /// the passphrase or the recovery key that was valid when it was made.
    pub fn restore(
        backup: &Path,
        dir: &Path,
        unlock: &Unlock,
        opts: RestoreOptions,
        env: Env,
    ) -> Result<Vault, VaultError> {
        let bytes = std::fs::read(backup)?;
        let Framed {
            header,
            header_bytes,
            nonce,
            ciphertext: ct,
        } = parse(backup, &bytes)?;
        let vault_id = Id::from_bytes(header.vault_id);
        let key_id = KeyId(header.key_id);
        let stored: Vec<keys::StoredSlot> = header
            .slots
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, slot)| keys::StoredSlot {
                id: i as i64 + 1,
                slot,
                created_at: String::new(),
            })
            .collect();
        let key = keys::unlock(&stored, unlock, vault_id, key_id)?;
        let plain =
            crypto::open_parts(&key, &payload_aad(&header_bytes), &nonce, &ct).map_err(|_| {
                bad(
                    backup,
                    "the backup was altered or damaged (it does not authenticate)",
                )
            })?;
        let payload: Payload = serde_json::from_slice(&plain)
            .map_err(|e| bad(backup, format!("unreadable contents: {e}")))?;
        drop(plain);

        // A payload that authenticates was written by us; still, the
        // vault is built from it only if it is self-consistent.
        let mut ids = std::collections::HashSet::new();
        for id in payload
            .lists
            .iter()
            .map(|l| (crypto::RecordKind::List, l.id))
            .chain(
                payload
                    .tasks
                    .iter()
                    .map(|t| (crypto::RecordKind::Task, t.id)),
            )
        {
            if !ids.insert(id) {
                return Err(bad(
                    backup,
                    format!("it holds {} {} twice", id.0.as_str(), id.1),
                ));
            }
        }

        let replacing = super::db_path(dir).exists();
        if replacing && !opts.replace {
            return Err(VaultError::AlreadyExists {
                dir: dir.to_path_buf(),
            });
        }
        super::create_private_dir(dir)?;

        // Seal each record anew for the fresh file (new nonces, same key),
        // all at change 1, with a ledger committing to them.
        let mut env = env;
        let now = env.now();
        let mut rows = Vec::with_capacity(payload.tasks.len() + payload.lists.len());
        for l in &payload.lists {
            let (format, plain) = records::list_payload(l);
            rows.push((crypto::RecordKind::List, l.id, format, plain));
        }
        for t in &payload.tasks {
            let (format, plain) = records::task_payload(t);
            rows.push((crypto::RecordKind::Task, t.id, format, plain));
        }
        // The new file is complete and synced before the live vault (if
        // any) is touched.
        let built = build_db(dir, vault_id, key_id, now, &header.slots, |tx| {
            records::insert_initial(tx, &key, key_id, &vault_id, &rows, 1, env.rng.as_mut())
        })?;
        drop(rows);
        if replacing {
            let stamp = now.format("%Y%m%dT%H%M%S%.3fZ").to_string();
            built.place_replacing(&stamp)?;
        } else {
            built.place()?;
        }
        let mut vault = Vault::open_with_key(dir, vault_id, key_id, key, env)?;
        if opts.keyring {
            match vault.add_keyring_slot() {
                Ok(_) => {}
                Err(VaultError::Keyring {
                    source: KeyringError::Unavailable(_),
                }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(vault)
    }
}

macro_rules! hex_array {
    ($name:ident, $n:expr) => {
        mod $name {
            use serde::{Deserialize, Deserializer, Serializer};
            pub fn serialize<S: Serializer>(b: &[u8; $n], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(b))
            }
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; $n], D::Error> {
                let s = String::deserialize(d)?;
                let mut out = [0u8; $n];
                hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
                Ok(out)
            }
        }
    };
}
hex_array!(hex16, 16);
hex_array!(hex8, 8);
