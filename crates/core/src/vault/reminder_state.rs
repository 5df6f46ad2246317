//! What reminders need to remember between runs — how far they were
//! checked (to find the ones missed while the app was closed) and the
//! snoozes — sealed in the `local_state` table like a record (dates are
//! user content). Not synced and not undoable. Covered by the integrity
//! ledger like a record (`reminders state` → its change sequence, which
//! its AAD binds): a write is a commit of its own, so it advances the
//! change sequence (a refresh elsewhere finds no record changed), and a
//! state deleted or put back outside the app is an error, never a
//! silently lost snooze.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::integrity;
use super::records::{self, encode, Aad};
use super::Vault;
use crate::crypto::{self, KeyId, RecordKind, SecretKey, SecureRng};
use crate::domain::{Id, TaskId, FORMAT_VERSION};
use crate::error::VaultError;
use crate::ledger::EntryKey;
use crate::reminders::{self, ReminderCheck, ReminderSettings};

const NAME: &str = "reminders";

/// A snooze longer than a week is a typo.
const MAX_SNOOZE_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderState {
    /// Reminders up to this instant have been shown.
    pub checked_up_to: Option<DateTime<Utc>>,
    /// Tasks to remind of again, and when.
    pub snoozes: BTreeMap<TaskId, DateTime<Utc>>,
}

/// The ledger's name for the reminder state (there is one per vault).
fn state_key() -> EntryKey {
    EntryKey::new(RecordKind::Reminders.as_str(), b"state")
}

/// A `local_state` row as stored.
struct Stored {
    id: Vec<u8>,
    seq: i64,
    format: i64,
    key_id: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn read_row(conn: &Connection) -> Result<Option<Stored>, VaultError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, changed_seq, format, key_id, nonce, ciphertext FROM local_state
             WHERE name = ?1",
        )?
        .query_row([NAME], |r| {
            Ok(Stored {
                id: r.get(0)?,
                seq: r.get(1)?,
                format: r.get(2)?,
                key_id: r.get(3)?,
                nonce: r.get(4)?,
                ciphertext: r.get(5)?,
            })
        })
        .optional()?)
}

fn open_state(key: &SecretKey, key_id: KeyId, row: &Stored) -> Result<ReminderState, VaultError> {
    let id_text = VaultError::id_text(&row.id);
    if row.key_id != key_id.0 {
        return Err(VaultError::RecordWrongKey {
            kind: NAME,
            id: id_text,
            found: hex::encode(&row.key_id),
            expected: key_id.to_string(),
        });
    }
    if row.format != FORMAT_VERSION as i64 {
        return Err(VaultError::RecordUnreadable {
            kind: NAME,
            id: id_text,
            detail: format!("format {}", row.format),
        });
    }
    let aad = records::aad(Aad::V2, RecordKind::Reminders, &row.id, key_id, row.seq);
    let plain = crypto::open_parts(key, &aad, &row.nonce, &row.ciphertext).map_err(|_| {
        VaultError::RecordTampered {
            kind: NAME,
            id: id_text.clone(),
        }
    })?;
    serde_json::from_slice(&plain).map_err(|e| VaultError::RecordUnreadable {
        kind: NAME,
        id: id_text,
        detail: e.to_string(),
    })
}

/// Rows of `local_state` other than the reminder state: none is ever
/// written, so one is an edit from outside.
fn check_names(conn: &Connection) -> Result<(), VaultError> {
    let odd: Option<String> = conn
        .query_row(
            "SELECT CAST(name AS TEXT) FROM local_state WHERE name <> ?1 LIMIT 1",
            [NAME],
            |r| r.get(0),
        )
        .optional()?;
    match odd {
        Some(name) => Err(VaultError::RecordTampered {
            kind: "local state",
            id: name,
        }),
        None => Ok(()),
    }
}

/// The ledger entries the local state holds now, each opened (one small
/// row), so a load also proves it authentic.
pub(super) fn ledger_entries(
    conn: &Connection,
    key: &SecretKey,
    key_id: KeyId,
) -> Result<Vec<(EntryKey, i64)>, VaultError> {
    check_names(conn)?;
    Ok(match read_row(conn)? {
        Some(row) => {
            open_state(key, key_id, &row)?;
            vec![(state_key(), row.seq)]
        }
        None => Vec::new(),
    })
}

/// Brings the state of a vault written before the ledger existed up to
/// date (re-sealed at `*next + 1`); returns its ledger entry. A state
/// sealed under a key rotated away could never be opened (that version
/// read it as empty) and is dropped.
pub(super) fn upgrade_legacy(
    conn: &Connection,
    key: &SecretKey,
    key_id: KeyId,
    next: &mut i64,
    rng: &mut dyn SecureRng,
) -> Result<Vec<(EntryKey, i64)>, VaultError> {
    conn.execute(
        "DELETE FROM local_state WHERE key_id <> ?1",
        [key_id.0.as_slice()],
    )?;
    check_names(conn)?;
    let Some(row) = read_row(conn)? else {
        return Ok(Vec::new());
    };
    let old = records::aad(Aad::V1, RecordKind::Reminders, &row.id, key_id, 0);
    let plain = crypto::open_parts(key, &old, &row.nonce, &row.ciphertext).map_err(|_| {
        VaultError::RecordTampered {
            kind: NAME,
            id: VaultError::id_text(&row.id),
        }
    })?;
    *next += 1;
    let seq = *next;
    let aad = records::aad(Aad::V2, RecordKind::Reminders, &row.id, key_id, seq);
    let sealed = crypto::seal(key, &aad, &plain, rng);
    conn.execute(
        "UPDATE local_state SET nonce = ?1, ciphertext = ?2, changed_seq = ?3 WHERE name = ?4",
        rusqlite::params![sealed.nonce.as_slice(), sealed.ciphertext, seq, NAME],
    )?;
    Ok(vec![(state_key(), seq)])
}

impl Vault {
    /// The stored state and the change sequence it was written at (0:
    /// none stored yet), checked against the ledger in one read
    /// transaction.
    fn read_reminder_state(&self) -> Result<(ReminderState, i64), VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ledger = self.ledger_reader(&tx)?;
        let committed = ledger.get(&tx, &state_key())?;
        drop(ledger);
        let row = read_row(&tx)?;
        tx.finish()?;
        let found = row.as_ref().map(|r| r.seq);
        if found != committed {
            return Err(integrity::entry_disagreement(state_key(), committed, found));
        }
        match row {
            None => Ok((ReminderState::default(), 0)),
            Some(row) => Ok((open_state(&self.key, self.key_id, &row)?, row.seq)),
        }
    }

    /// Replaces the state if it is still the one written at `seen` (else
    /// `stale`), in a commit of its own.
    fn write_reminder_state(&mut self, state: &ReminderState, seen: i64) -> Result<(), VaultError> {
        let plaintext = encode(state);
        self.commit_with(Vec::new(), &mut |cx| {
            let row: Option<(Vec<u8>, i64, i64)> = cx
                .tx
                .query_row(
                    "SELECT id, version, changed_seq FROM local_state WHERE name = ?1",
                    [NAME],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if row.as_ref().map_or(0, |r| r.2) != seen {
                return Err(VaultError::Stale {
                    kind: NAME,
                    id: "state".into(),
                });
            }
            let (id, version) = match &row {
                Some((id, version, _)) => (id.clone(), *version),
                None => (Id::random(&mut *cx.rng).as_bytes().to_vec(), 0),
            };
            let aad = records::aad(Aad::V2, RecordKind::Reminders, &id, cx.key_id, cx.seq);
            let sealed = crypto::seal(cx.key, &aad, &plaintext, &mut *cx.rng);
            cx.tx.execute(
                "INSERT OR REPLACE INTO local_state
                     (name, id, version, format, key_id, nonce, ciphertext, changed_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    NAME,
                    id,
                    version + 1,
                    FORMAT_VERSION,
                    cx.key_id.0.as_slice(),
                    sealed.nonce.as_slice(),
                    sealed.ciphertext,
                    cx.seq
                ],
            )?;
            cx.ledger.put(cx.tx, state_key(), row.map(|r| r.2), cx.seq)
        })?;
        Ok(())
    }

    pub fn reminder_state(&self) -> Result<ReminderState, VaultError> {
        Ok(self.read_reminder_state()?.0)
    }

    /// The reminders due since the last check (see [`reminders::check`]),
    /// and remembers that they were shown: each reminder comes out of
    /// exactly one call. Snoozes that ran out are dropped. Call it at
    /// unlock and at `next_wake` (or once a minute).
    pub fn check_reminders(
        &mut self,
        settings: &ReminderSettings,
    ) -> Result<ReminderCheck, VaultError> {
        let (mut state, version) = self.read_reminder_state()?;
        let now = self.env.now();
        let check = reminders::check(
            self.tasks.values().map(|e| &e.value),
            &state.snoozes,
            settings,
            self.env.local_tz,
            state.checked_up_to,
            now,
        );
        // A clock set back must not show the same reminders again.
        state.checked_up_to = Some(state.checked_up_to.map_or(now, |c| c.max(now)));
        state.snoozes.retain(|id, until| {
            *until > now && self.tasks.get(id).is_some_and(|e| e.value.is_open())
        });
        self.write_reminder_state(&state, version)?;
        Ok(check)
    }

    /// Reminds of `task` again in `minutes`; returns when.
    pub fn snooze(&mut self, task: TaskId, minutes: u32) -> Result<DateTime<Utc>, VaultError> {
        if minutes == 0 || minutes > MAX_SNOOZE_MINUTES {
            return Err(VaultError::InvalidSetting(format!(
                "a snooze is 1 to {MAX_SNOOZE_MINUTES} minutes, not {minutes}"
            )));
        }
        self.editable_task(task)?;
        let (mut state, version) = self.read_reminder_state()?;
        let until = self.env.now() + Duration::minutes(minutes as i64);
        state.snoozes.insert(task, until);
        self.write_reminder_state(&state, version)?;
        Ok(until)
    }
}
