//! What reminders need to remember between runs — how far they were
//! checked (to find the ones missed while the app was closed) and the
//! snoozes — sealed in the `local_state` table like a record (dates are
//! user content). Not synced and not undoable; a write does not bump the
//! change sequence, so it does not look like a change to other processes.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::records::encode;
use super::Vault;
use crate::crypto::{self, RecordContext, RecordKind};
use crate::domain::{Id, TaskId, FORMAT_VERSION};
use crate::error::VaultError;
use crate::reminders::{self, ReminderCheck, ReminderSettings};

const NAME: &str = "reminders";

/// id, version, format, key id, nonce, ciphertext.
type StateRow = (Vec<u8>, i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);
/// A snooze longer than a week is a typo.
const MAX_SNOOZE_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderState {
    /// Reminders up to this instant have been shown.
    pub checked_up_to: Option<DateTime<Utc>>,
    /// Tasks to remind of again, and when.
    pub snoozes: BTreeMap<TaskId, DateTime<Utc>>,
}

impl Vault {
    /// The stored state and its version (0: none stored yet). A state
    /// sealed under a data key rotated away since reads as empty.
    fn read_reminder_state(&self) -> Result<(ReminderState, i64), VaultError> {
        let row: Option<StateRow> = self
            .conn
            .query_row(
                "SELECT id, version, format, key_id, nonce, ciphertext FROM local_state WHERE name = ?1",
                [NAME],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .optional()?;
        let Some((id, version, format, key_id, nonce, ct)) = row else {
            return Ok((ReminderState::default(), 0));
        };
        if key_id != self.key_id.0 {
            return Ok((ReminderState::default(), version));
        }
        let id_text = VaultError::id_text(&id);
        if format != FORMAT_VERSION as i64 {
            return Err(VaultError::RecordUnreadable {
                kind: NAME,
                id: id_text,
                detail: format!("format {format}"),
            });
        }
        let aad = RecordContext {
            kind: RecordKind::Reminders,
            id: &id,
            format: FORMAT_VERSION,
            key_id: self.key_id,
        }
        .aad();
        let plain = crypto::open_parts(&self.key, &aad, &nonce, &ct).map_err(|_| {
            VaultError::RecordTampered {
                kind: NAME,
                id: id_text.clone(),
            }
        })?;
        let state = serde_json::from_slice(&plain).map_err(|e| VaultError::RecordUnreadable {
            kind: NAME,
            id: id_text,
            detail: e.to_string(),
        })?;
        Ok((state, version))
    }

    /// Replaces the state if it is still at `version` (else `stale`).
    fn write_reminder_state(
        &mut self,
        state: &ReminderState,
        version: i64,
    ) -> Result<(), VaultError> {
        let id = Id::random(self.env.rng.as_mut());
        let sealed = self.seal_record(RecordKind::Reminders, &id, &encode(state));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx
            .query_row(
                "SELECT version FROM local_state WHERE name = ?1",
                [NAME],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if current != version {
            return Err(VaultError::Stale {
                kind: NAME,
                id: "state".into(),
            });
        }
        tx.execute(
            "INSERT OR REPLACE INTO local_state (name, id, version, format, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                NAME,
                id.as_bytes().as_slice(),
                version + 1,
                FORMAT_VERSION,
                self.key_id.0.as_slice(),
                sealed.nonce.as_slice(),
                sealed.ciphertext
            ],
        )?;
        tx.commit()?;
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
