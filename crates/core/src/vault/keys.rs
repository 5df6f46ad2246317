//! Unlocking, key slots and data-key rotation.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use zeroize::Zeroizing;

use super::records::{self, check_key, Aad};
use super::{history, integrity, reminder_state, Unlock, Vault};
use crate::crypto::{self, KeyId, SecretKey, SecureRng};
use crate::domain::Id;
use crate::error::VaultError;
use crate::ledger::EntryKey;
use crate::os_keyring::{KeyringEntry, KeyringError};
use crate::recovery::RecoveryKey;
use crate::slots::{self, SlotError, SlotKind, SlotParams, WrappedSlot};

/// A slot as shown to the user: what it is, never what it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SlotInfo {
    pub id: i64,
    pub kind: SlotKind,
    pub created_at: String,
    /// For a keyring slot, the OS keyring entry's account name (not
    /// secret: it is how the entry is found).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyring_account: Option<String>,
}

/// A keyring entry name no other slot uses: `vault-<vault id>-<random>`.
/// Names were `vault-<vault id>` before, which a restored copy of the
/// same vault (same id) on the same machine shared — and overwrote.
/// Slots store their entry's name, so old names keep working.
pub(crate) fn new_keyring_entry(
    service: &str,
    vault_id: Id,
    rng: &mut dyn SecureRng,
) -> KeyringEntry {
    let mut suffix = [0u8; 8];
    rng.fill_bytes(&mut suffix);
    KeyringEntry {
        service: service.to_string(),
        account: format!("vault-{vault_id}-{}", hex::encode(suffix)),
    }
}

pub(crate) fn keyring_entry_of(params: &SlotParams) -> Option<KeyringEntry> {
    match params {
        SlotParams::Keyring { service, account } => Some(KeyringEntry {
            service: service.clone(),
            account: account.clone(),
        }),
        _ => None,
    }
}

pub(crate) struct StoredSlot {
    pub id: i64,
    pub slot: WrappedSlot,
    pub created_at: String,
}

pub(crate) fn read_slots(conn: &Connection) -> Result<Vec<StoredSlot>, VaultError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, params, nonce, wrapped, created_at FROM key_slots ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Vec<u8>>(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, params, nonce, wrapped, created_at) = row?;
        let damaged = |detail: String| VaultError::SlotDamaged {
            kind: SlotKind::parse(&kind).unwrap_or(SlotKind::Recovery),
            slot: id,
            detail,
        };
        let params: SlotParams =
            serde_json::from_str(&params).map_err(|e| damaged(format!("parameters: {e}")))?;
        if params.kind().as_str() != kind {
            return Err(damaged(format!(
                "kind column `{kind}` disagrees with its parameters"
            )));
        }
        out.push(StoredSlot {
            id,
            slot: WrappedSlot {
                params,
                nonce,
                wrapped,
            },
            created_at,
        });
    }
    Ok(out)
}

pub(crate) fn insert_slot(
    tx: &Transaction,
    s: &WrappedSlot,
    now: DateTime<Utc>,
) -> Result<i64, VaultError> {
    let params = serde_json::to_string(&s.params).map_err(|e| VaultError::SlotDamaged {
        kind: s.params.kind(),
        slot: 0,
        detail: e.to_string(),
    })?;
    tx.execute(
        "INSERT INTO key_slots (kind, params, nonce, wrapped, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![s.params.kind().as_str(), params, s.nonce, s.wrapped, now.to_rfc3339()],
    )?;
    Ok(tx.last_insert_rowid())
}

fn slot_error(kind: SlotKind, id: i64, e: SlotError) -> VaultError {
    match (e, kind) {
        (SlotError::CostOutOfBounds { m_kib, t, p }, kind) => VaultError::KdfParamsOutOfBounds {
            kind,
            slot: id,
            m_kib,
            t,
            p,
        },
        (SlotError::WrongKey, SlotKind::Passphrase) => VaultError::WrongPassphrase,
        (SlotError::WrongKey, SlotKind::Recovery) => VaultError::WrongRecoveryKey,
        (e, kind) => VaultError::SlotDamaged {
            kind,
            slot: id,
            detail: e.to_string(),
        },
    }
}

/// The key-encryption key for one slot, from what the user gave us.
fn kek_for(slot: &StoredSlot, unlock: &Unlock) -> Result<SecretKey, VaultError> {
    let kind = slot.slot.params.kind();
    match (unlock, &slot.slot.params) {
        (Unlock::Keyring, SlotParams::Keyring { service, account }) => KeyringEntry {
            service: service.clone(),
            account: account.clone(),
        }
        .load()
        .map_err(|source| VaultError::Keyring { source }),
        (Unlock::Passphrase(p), params @ SlotParams::Passphrase { .. }) => {
            slots::passphrase_kek(p, params).map_err(|e| slot_error(kind, slot.id, e))
        }
        (Unlock::RecoveryKey(text), params @ SlotParams::Recovery { .. }) => {
            let rk = RecoveryKey::parse(text)?;
            slots::recovery_kek(rk.secret(), params).map_err(|e| slot_error(kind, slot.id, e))
        }
        _ => Err(VaultError::NoSuchSlot { kind }),
    }
}

fn unlock_kind(unlock: &Unlock) -> SlotKind {
    match unlock {
        Unlock::Keyring => SlotKind::Keyring,
        Unlock::Passphrase(_) => SlotKind::Passphrase,
        Unlock::RecoveryKey(_) => SlotKind::Recovery,
    }
}

/// Unwraps the data key with the first slot of the kind the user chose.
pub(crate) fn unlock(
    slots: &[StoredSlot],
    unlock: &Unlock,
    vault_id: Id,
    key_id: KeyId,
) -> Result<SecretKey, VaultError> {
    unlock_slots(slots.iter(), unlock, vault_id, key_id)
}

pub(crate) fn unlock_slots<'a>(
    slots: impl Iterator<Item = &'a StoredSlot>,
    unlock: &Unlock,
    vault_id: Id,
    key_id: KeyId,
) -> Result<SecretKey, VaultError> {
    let kind = unlock_kind(unlock);
    let mut last = VaultError::NoSuchSlot { kind };
    for slot in slots.filter(|s| s.slot.params.kind() == kind) {
        match kek_for(slot, unlock).and_then(|kek| {
            slots::unwrap(&slot.slot, &kek, vault_id, key_id)
                .map_err(|e| slot_error(kind, slot.id, e))
        }) {
            Ok(key) => return Ok(key),
            Err(e) => last = e,
        }
    }
    // A keyring secret that exists but does not open the slot means the
    // entry was overwritten; say so rather than "damaged slot".
    if let VaultError::SlotDamaged {
        kind: SlotKind::Keyring,
        ..
    } = last
    {
        return Err(VaultError::Keyring {
            source: KeyringError::Damaged("the keyring entry no longer matches this vault".into()),
        });
    }
    Err(last)
}

impl Vault {
    pub fn slots(&self) -> Result<Vec<SlotInfo>, VaultError> {
        Ok(read_slots(&self.conn)?
            .into_iter()
            .map(|s| SlotInfo {
                id: s.id,
                kind: s.slot.params.kind(),
                created_at: s.created_at,
                keyring_account: keyring_entry_of(&s.slot.params).map(|e| e.account),
            })
            .collect())
    }

    /// A write transaction on the slots, refused if another process has
    /// replaced the data key: a slot wrapping our (old) key would open to
    /// a key no record uses.
    fn slot_transaction(&mut self) -> Result<Transaction<'_>, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_key(&tx, self.key_id)?;
        Ok(tx)
    }

    /// Replaces all slots of `kind` with `new` in one transaction.
    fn replace_slots(&mut self, kind: SlotKind, new: WrappedSlot) -> Result<i64, VaultError> {
        let now = self.env.now();
        let tx = self.slot_transaction()?;
        tx.execute("DELETE FROM key_slots WHERE kind = ?1", [kind.as_str()])?;
        let id = insert_slot(&tx, &new, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// Wraps the current data key for a slot.
    fn wrap_current(&mut self, params: SlotParams, kek: &SecretKey) -> WrappedSlot {
        slots::wrap(
            params,
            kek,
            &self.key,
            self.vault_id,
            self.key_id,
            self.env.rng.as_mut(),
        )
    }

    /// Adds a passphrase slot, or changes the passphrase if there is one.
    pub fn set_passphrase(&mut self, passphrase: &str) -> Result<i64, VaultError> {
        if passphrase.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let (params, kek) = slots::new_passphrase_kek(passphrase, self.env.rng.as_mut())
            .map_err(|e| slot_error(SlotKind::Passphrase, 0, e))?;
        let slot = self.wrap_current(params, &kek);
        self.replace_slots(SlotKind::Passphrase, slot)
    }

    /// Makes a new recovery key; the old one stops working.
    pub fn new_recovery_key(&mut self) -> Result<RecoveryKey, VaultError> {
        let (rk, params, kek) = slots::new_recovery_kek(self.env.rng.as_mut())
            .map_err(|e| slot_error(SlotKind::Recovery, 0, e))?;
        let slot = self.wrap_current(params, &kek);
        self.replace_slots(SlotKind::Recovery, slot)?;
        Ok(rk)
    }

    /// Adds an OS-keyring slot under a fresh entry name, replacing any
    /// keyring slot the vault had. In this order, so that the keyring
    /// unlock never stops working half-way and no existing entry is ever
    /// overwritten:
    /// 1. commit the new slot beside the old ones (an entry that does not
    ///    exist yet only makes that one slot unusable);
    /// 2. store the secret (on failure, the new slot is taken out again);
    /// 3. commit the removal of the old keyring slots, then delete their
    ///    entries.
    pub fn add_keyring_slot(&mut self) -> Result<i64, VaultError> {
        let entry = new_keyring_entry(
            &self.env.keyring_service,
            self.vault_id,
            self.env.rng.as_mut(),
        );
        let kek = SecretKey::random(self.env.rng.as_mut());
        let params = SlotParams::Keyring {
            service: entry.service.clone(),
            account: entry.account.clone(),
        };
        let slot = self.wrap_current(params, &kek);
        let now = self.env.now();
        let tx = self.slot_transaction()?;
        let new_id = insert_slot(&tx, &slot, now)?;
        tx.commit()?;

        if let Err(source) = entry.store(&kek) {
            let undo = self.slot_transaction().and_then(|tx| {
                tx.execute("DELETE FROM key_slots WHERE id = ?1", [new_id])?;
                tx.commit()?;
                Ok(())
            });
            let _ = entry.delete();
            undo?;
            return Err(VaultError::Keyring { source });
        }

        let tx = self.slot_transaction()?;
        let old: Vec<KeyringEntry> = read_slots(&tx)?
            .into_iter()
            .filter(|s| s.id != new_id)
            .filter_map(|s| keyring_entry_of(&s.slot.params))
            .collect();
        tx.execute(
            "DELETE FROM key_slots WHERE kind = ?1 AND id != ?2",
            rusqlite::params![SlotKind::Keyring.as_str(), new_id],
        )?;
        tx.commit()?;
        for e in old.iter().filter(|e| **e != entry) {
            let _ = e.delete();
        }
        Ok(new_id)
    }

    /// Removes one slot; refuses to remove the last one. The check and
    /// the removal are one transaction, so two processes removing the
    /// last two slots at once cannot both succeed.
    pub fn remove_slot(&mut self, id: i64) -> Result<SlotKind, VaultError> {
        let tx = self.slot_transaction()?;
        let all = read_slots(&tx)?;
        let slot = all
            .iter()
            .find(|s| s.id == id)
            .ok_or(VaultError::NoSlotId(id))?;
        if all.len() == 1 {
            return Err(VaultError::LastSlot);
        }
        let kind = slot.slot.params.kind();
        let keyring = keyring_entry_of(&slot.slot.params);
        tx.execute("DELETE FROM key_slots WHERE id = ?1", [id])?;
        tx.commit()?;
        // Only after the slot is gone: a dangling keyring entry is harmless,
        // a slot whose secret is gone is not.
        if let Some(entry) = keyring {
            let _ = entry.delete();
        }
        Ok(kind)
    }

    /// Replaces the data key: every record is re-sealed, the ledger
    /// rebuilt and every slot re-wrapped in one transaction. The keyring
    /// secret is reused, the passphrase must be given (if there is a
    /// passphrase slot) and is checked, and a new recovery key is issued.
    ///
    /// Like every write it refuses to run on a stale view: if any other
    /// process committed since this one loaded (or changed the slots since
    /// they were read here), it fails with `stale` and changes nothing.
    /// Records are re-sealed row by row from the file — whatever their
    /// kind — after checking them, the undo history and the reminder
    /// state against the ledger, so rotation never launders a tampered
    /// vault. The undo history and the reminder state are cleared.
    pub fn rotate_key(&mut self, passphrase: Option<&str>) -> Result<RotatedKey, VaultError> {
        let stored = read_slots(&self.conn)?;
        let new_key = SecretKey::random(self.env.rng.as_mut());
        let new_key_id = KeyId::derived(&new_key);
        let mut new_slots = Vec::new();
        let mut recovery_key = None;
        for s in &stored {
            // The KEK each slot gets under the new key: the same keyring
            // secret, the proven passphrase with fresh salt, a new
            // recovery key.
            let (params, kek) = match &s.slot.params {
                SlotParams::Keyring { .. } => {
                    (s.slot.params.clone(), kek_for(s, &Unlock::Keyring)?)
                }
                SlotParams::Passphrase { .. } => {
                    let p = passphrase.ok_or(VaultError::PassphraseRequired)?;
                    let unlock = Unlock::Passphrase(Zeroizing::new(p.to_string()));
                    unlock_slots(std::iter::once(s), &unlock, self.vault_id, self.key_id)?;
                    slots::new_passphrase_kek(p, self.env.rng.as_mut())
                        .map_err(|e| slot_error(SlotKind::Passphrase, s.id, e))?
                }
                SlotParams::Recovery { .. } => {
                    let (rk, params, kek) = slots::new_recovery_kek(self.env.rng.as_mut())
                        .map_err(|e| slot_error(SlotKind::Recovery, s.id, e))?;
                    recovery_key = Some(rk);
                    (params, kek)
                }
            };
            new_slots.push(slots::wrap(
                params,
                &kek,
                &new_key,
                self.vault_id,
                new_key_id,
                self.env.rng.as_mut(),
            ));
        }
        let now = self.env.now();
        let (old_key, old_key_id) = (&self.key, self.key_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_key(&tx, old_key_id)?;
        let old_scope = integrity::scope(&self.vault_id, old_key_id);
        let head = integrity::require_head(&tx, old_key, old_scope)?;
        if head.seq != self.seen_seq {
            return Err(VaultError::StaleVault {
                loaded: self.seen_seq,
                current: head.seq,
            });
        }
        let now_ids: Vec<i64> = read_slots(&tx)?.iter().map(|s| s.id).collect();
        if now_ids != stored.iter().map(|s| s.id).collect::<Vec<_>>() {
            return Err(VaultError::Stale {
                kind: "key slots",
                id: "(added or removed)".into(),
            });
        }
        let committed = integrity::read_committed(&tx, old_key, old_scope, &head)?;
        let mut rows = Vec::with_capacity(committed.len());
        records::read_raw(&tx, &self.dir, None, |raw| rows.push(raw))?;
        let mut found: std::collections::HashMap<EntryKey, i64> = rows
            .iter()
            .map(|r| (EntryKey::new(r.kind.as_str(), &r.id), r.seq))
            .collect();
        found.extend(history::ledger_entries(&tx, old_key_id)?);
        found.extend(reminder_state::ledger_entries(&tx, old_key, old_key_id)?);
        // Sync's rows are carried forward (unsent operations and the
        // account link must survive a rotation), re-sealed in place.
        let sync_entries = super::sync::store::ledger_entries(&tx)?;
        found.extend(sync_entries.iter().cloned());
        integrity::verify(&committed, &found)?;
        drop(found);
        {
            let mut update = tx.prepare(
                "UPDATE records SET key_id = ?1, nonce = ?2, ciphertext = ?3
                 WHERE kind = ?4 AND id = ?5 AND changed_seq = ?6",
            )?;
            for raw in &rows {
                // Each record keeps its format (JSON tasks stay JSON until
                // they are next written).
                let format = records::row_format(raw.format);
                let old_aad =
                    records::record_aad(Aad::V2, raw.kind, &raw.id, format, old_key_id, raw.seq);
                let plain =
                    crypto::open_parts(old_key, &old_aad, &raw.nonce, &raw.ct).map_err(|_| {
                        VaultError::RecordTampered {
                            kind: raw.kind.as_str(),
                            id: VaultError::id_text(&raw.id),
                        }
                    })?;
                let new_aad =
                    records::record_aad(Aad::V2, raw.kind, &raw.id, format, new_key_id, raw.seq);
                let s = crypto::seal(&new_key, &new_aad, &plain, self.env.rng.as_mut());
                update.execute(rusqlite::params![
                    new_key_id.0.as_slice(),
                    s.nonce.as_slice(),
                    s.ciphertext,
                    raw.kind.as_str(),
                    raw.id.as_slice(),
                    raw.seq
                ])?;
            }
        }
        // The undo history and the reminder state start fresh (as they
        // always have): they are sealed under the old key, and a rotation
        // after a leak should carry forward only the records. The new
        // ledger commits to exactly the records just checked.
        tx.execute_batch("DELETE FROM history; DELETE FROM local_state;")?;
        super::sync::store::reseal_all(
            &tx,
            old_key,
            old_key_id,
            &new_key,
            new_key_id,
            self.env.rng.as_mut(),
        )?;
        let seq = head.seq + 1;
        integrity::write_fresh(
            &tx,
            &new_key,
            integrity::scope(&self.vault_id, new_key_id),
            rows.iter()
                .map(|r| (EntryKey::new(r.kind.as_str(), &r.id), r.seq))
                .chain(sync_entries),
            seq,
            self.env.rng.as_mut(),
        )?;
        tx.execute("DELETE FROM key_slots", [])?;
        for s in &new_slots {
            insert_slot(&tx, s, now)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'key_id'",
            [new_key_id.0.as_slice()],
        )?;
        records::mirror_change_seq(&tx, seq)?;
        tx.commit()?;
        self.key = new_key;
        self.key_id = new_key_id;
        self.seen_seq = seq;
        Ok(RotatedKey {
            key_id: new_key_id,
            records: rows.len(),
            recovery_key,
        })
    }
}

pub struct RotatedKey {
    pub key_id: KeyId,
    pub records: usize,
    /// The new recovery key, when the vault had a recovery slot.
    pub recovery_key: Option<RecoveryKey>,
}
