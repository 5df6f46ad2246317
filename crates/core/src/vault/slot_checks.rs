//! Checks on the key slots of an open vault, for front ends that guard
//! slot changes: prove the current passphrase before replacing it, and
//! put the key back in the OS keyring when its entry went missing.

use std::path::Path;

use super::keys::{self, keyring_entry_of, SlotInfo};
use super::{open_unmigrated, Unlock, Vault};
use crate::error::VaultError;
use crate::os_keyring::KeyringError;
use crate::slots::SlotKind;

impl Vault {
    /// The key slots of the vault in `dir` without unlocking it: what each
    /// is, never what it holds (an unlock screen offers the ways in that
    /// exist).
    pub fn slots_in(dir: &Path) -> Result<Vec<SlotInfo>, VaultError> {
        // Key slots are the same in every schema: no migration needed
        // (nor wanted, with no clock here to name the copy).
        let conn = open_unmigrated(dir)?;
        Ok(keys::read_slots(&conn)?
            .into_iter()
            .map(|s| SlotInfo {
                id: s.id,
                kind: s.slot.params.kind(),
                created_at: s.created_at,
                keyring_account: keyring_entry_of(&s.slot.params).map(|e| e.account),
            })
            .collect())
    }

    /// Whether `passphrase` opens this vault's passphrase slot:
    /// `no_such_slot` if there is none, `wrong_passphrase` if it does not.
    /// Takes as long as an unlock (Argon2id): call it off the UI thread.
    pub fn verify_passphrase(&self, passphrase: &str) -> Result<(), VaultError> {
        let stored = keys::read_slots(&self.conn)?;
        let unlock = Unlock::passphrase(passphrase);
        keys::unlock(&stored, &unlock, self.vault_id, self.key_id).map(drop)
    }

    pub fn has_slot(&self, kind: SlotKind) -> Result<bool, VaultError> {
        Ok(self.slots()?.iter().any(|s| s.kind == kind))
    }

    /// When the vault has a keyring slot whose OS-keyring entry is gone or
    /// no longer matches (removed, or a new login keyring), stores a fresh
    /// secret and replaces the slot, so the next start opens without a
    /// passphrase again. Returns whether it did. A keyring that is merely
    /// unavailable right now is left alone (its entry may be fine), and a
    /// vault without a keyring slot stays without one (that was chosen).
    pub fn repair_keyring_slot(&mut self) -> Result<bool, VaultError> {
        let stored = keys::read_slots(&self.conn)?;
        if !stored
            .iter()
            .any(|s| s.slot.params.kind() == SlotKind::Keyring)
        {
            return Ok(false);
        }
        match keys::unlock(&stored, &Unlock::Keyring, self.vault_id, self.key_id) {
            Ok(_) => Ok(false),
            Err(VaultError::Keyring {
                source: KeyringError::Missing | KeyringError::Damaged(_),
            }) => self.add_keyring_slot().map(|_| true),
            Err(VaultError::Keyring {
                source: KeyringError::Unavailable(_),
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
