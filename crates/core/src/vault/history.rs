//! Undo and redo.
//!
//! Every user action records the before-images of the records it writes
//! (sealed, in the `history` table) in the same transaction as the action,
//! on the undo stack of this process's *session* ("cli" for `pp`, "app" for
//! the desktop app), and clears that session's redo stack. Undo applies the
//! before-images as a new, ordinary action (new change sequences) and puts
//! the images it replaced on the redo stack; redo is the mirror image.
//!
//! Each image also carries a digest of the record as the action left it.
//! Undo refuses (`undo_conflict`) unless every record is still exactly that
//! — so a change made since, by another process or another session, is
//! never clobbered. Images are restored verbatim (`updated_at` included),
//! so undoing several actions in a row matches digest for digest.
//!
//! Only the label ("3 tasks completed" — fixed words and a count, never
//! user content) is plaintext, so the state of the stacks is known without
//! decrypting anything.

use std::collections::HashSet;

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::records::{encode, Write};
use super::{Entry, Vault};
use crate::crypto::{self, KeyId, RecordContext, RecordKind, Sealed};
use crate::domain::{Id, List, ListId, Task, TaskId, FORMAT_VERSION};
use crate::error::VaultError;

/// Entries kept per session and stack; older ones are dropped.
pub const HISTORY_LIMIT: i64 = 100;

/// The session a vault records into until told otherwise.
pub const DEFAULT_SESSION: &str = "default";

/// What the undo/redo buttons show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryState {
    pub can_undo: bool,
    pub can_redo: bool,
    pub undo_label: Option<String>,
    pub redo_label: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stack {
    Undo,
    Redo,
}

impl Stack {
    fn as_str(self) -> &'static str {
        match self {
            Stack::Undo => "undo",
            Stack::Redo => "redo",
        }
    }
    fn other(self) -> Stack {
        match self {
            Stack::Undo => Stack::Redo,
            Stack::Redo => Stack::Undo,
        }
    }
}

/// How a write takes part in the history.
pub(super) enum HistoryOp {
    /// Not a user action (emptying expired trash): nothing is recorded.
    None,
    /// A user action: recorded on the undo stack; clears the redo stack.
    Action(String),
    /// Applying entry `entry` of stack `from`; its inverse goes on the
    /// other stack.
    Replay {
        from: Stack,
        entry: Id,
        label: String,
    },
}

impl HistoryOp {
    pub(super) fn action(label: impl Into<String>) -> Self {
        HistoryOp::Action(label.into())
    }
}

/// "Task deleted" for one, "3 tasks deleted" for more.
pub(super) fn count_label(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        format!("{n} {many}")
    }
}

type Hash = String;

/// 128 bits of SHA-256: it only has to tell "changed" from "as left", and
/// it sits inside the sealed payload, where nobody can choose it. Short,
/// because an import of 100k tasks has an image for each.
fn digest(plaintext: &[u8]) -> Hash {
    hex::encode(&Sha256::digest(plaintext)[..16])
}

/// One record's state before an action, and a digest of it after.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Image {
    Task {
        id: TaskId,
        before: Option<Task>,
        after: Option<Hash>,
    },
    List {
        id: ListId,
        before: Option<List>,
        after: Option<Hash>,
    },
}

/// The sealed part of a history entry. Session and label are repeated
/// inside so a row cannot be relabelled or moved to another session.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    session: String,
    label: String,
    images: Vec<Image>,
}

/// A history row sealed and ready to be written by the action's
/// transaction.
pub(super) struct PendingEntry {
    id: Id,
    session: String,
    label: String,
    to: Stack,
    /// The entry being replayed, removed in the same transaction.
    consumed: Option<(Stack, Id)>,
    clear_redo: bool,
    /// Records a replay creates: they must not exist on disk.
    must_be_absent: Vec<(RecordKind, Id)>,
    key_id: KeyId,
    sealed: Sealed,
    /// "undo" or "redo" for a replay, for the conflict error.
    conflict: Option<&'static str>,
}

impl PendingEntry {
    pub(super) fn write(&self, tx: &rusqlite::Transaction<'_>) -> Result<(), VaultError> {
        // Only replays consume entries or need records absent.
        let conflict = |what: String| VaultError::UndoConflict {
            action: self.conflict.unwrap_or("undo"),
            label: self.label.clone(),
            what,
        };
        // Rows sealed under a data key that was rotated away can never be
        // opened again.
        tx.prepare_cached("DELETE FROM history WHERE key_id <> ?1")?
            .execute([self.key_id.0.as_slice()])?;
        if let Some((stack, id)) = self.consumed {
            let n = tx.execute(
                "DELETE FROM history WHERE id = ?1 AND session = ?2 AND stack = ?3",
                rusqlite::params![id.as_bytes().as_slice(), self.session, stack.as_str()],
            )?;
            if n != 1 {
                return Err(conflict(
                    "the history entry (another process used it)".into(),
                ));
            }
        }
        for (kind, id) in &self.must_be_absent {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM records WHERE kind = ?1 AND id = ?2",
                    rusqlite::params![kind.as_str(), id.as_bytes().as_slice()],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(conflict(format!("{} {id}", kind.as_str())));
            }
        }
        if self.clear_redo {
            tx.prepare_cached("DELETE FROM history WHERE session = ?1 AND stack = 'redo'")?
                .execute([&self.session])?;
        }
        let to = self.to.as_str();
        let pos: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(pos), 0) + 1 FROM history WHERE session = ?1 AND stack = ?2",
            )?
            .query_row([&self.session, to], |r| r.get(0))?;
        tx.prepare_cached(
            "INSERT INTO history (id, session, stack, pos, label, format, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(rusqlite::params![
            self.id.as_bytes().as_slice(),
            self.session,
            to,
            pos,
            self.label,
            FORMAT_VERSION,
            self.key_id.0.as_slice(),
            self.sealed.nonce.as_slice(),
            self.sealed.ciphertext
        ])?;
        tx.prepare_cached("DELETE FROM history WHERE session = ?1 AND stack = ?2 AND pos <= ?3")?
            .execute(rusqlite::params![self.session, to, pos - HISTORY_LIMIT])?;
        Ok(())
    }
}

/// A history row as read, before decryption.
struct Row {
    id: Id,
    label: String,
    format: i64,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn valid_session(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Vault {
    /// Records and replays undo history in session `name` from now on
    /// (`pp` uses "cli", the desktop app "app").
    pub fn set_history_session(&mut self, name: &str) -> Result<(), VaultError> {
        if !valid_session(name) {
            return Err(VaultError::BadSession(name.to_string()));
        }
        self.session = name.to_string();
        Ok(())
    }

    pub fn history_session(&self) -> &str {
        &self.session
    }

    /// The labels on top of this session's undo and redo stacks.
    pub fn history_state(&self) -> Result<HistoryState, VaultError> {
        let top = |stack: Stack| -> Result<Option<String>, VaultError> {
            Ok(self
                .conn
                .query_row(
                    "SELECT label FROM history WHERE session = ?1 AND stack = ?2 AND key_id = ?3
                     ORDER BY pos DESC LIMIT 1",
                    rusqlite::params![self.session, stack.as_str(), self.key_id.0.as_slice()],
                    |r| r.get(0),
                )
                .optional()?)
        };
        let undo_label = top(Stack::Undo)?;
        let redo_label = top(Stack::Redo)?;
        Ok(HistoryState {
            can_undo: undo_label.is_some(),
            can_redo: redo_label.is_some(),
            undo_label,
            redo_label,
        })
    }

    /// Undoes this session's last action; returns its label.
    pub fn undo(&mut self) -> Result<String, VaultError> {
        self.replay(Stack::Undo)
    }

    /// Redoes this session's last undone action; returns its label.
    pub fn redo(&mut self) -> Result<String, VaultError> {
        self.replay(Stack::Redo)
    }

    fn replay(&mut self, from: Stack) -> Result<String, VaultError> {
        let action = match from {
            Stack::Undo => "undo",
            Stack::Redo => "redo",
        };
        let row = self.top_row(from)?.ok_or(match from {
            Stack::Undo => VaultError::UndoEmpty,
            Stack::Redo => VaultError::RedoEmpty,
        })?;
        let payload = self.open_row(&row)?;
        let conflict = |what: String| VaultError::UndoConflict {
            action,
            label: row.label.clone(),
            what,
        };
        // Every record must still be exactly as the action left it.
        for image in &payload.images {
            let (what, current, expected) = match image {
                Image::Task { id, after, .. } => (
                    format!("task {}", id.short()),
                    self.tasks.get(id).map(|e| digest(&encode(&e.value))),
                    after,
                ),
                Image::List { id, after, .. } => (
                    format!("list {}", id.short()),
                    self.lists.get(id).map(|e| digest(&encode(&e.value))),
                    after,
                ),
            };
            if current.as_ref() != expected.as_ref() {
                return Err(conflict(what));
            }
        }
        let (tasks, lists, deletes) = self.images_to_writes(payload.images);
        let op = HistoryOp::Replay {
            from,
            entry: row.id,
            label: row.label.clone(),
        };
        match self.store(tasks, lists, deletes, op) {
            Ok(()) => Ok(row.label),
            // Memory was behind the file: another process changed a record.
            Err(VaultError::Stale { kind, id }) => Err(conflict(format!("{kind} {id}"))),
            Err(e) => Err(e),
        }
    }

    /// Turns before-images into writes. A live task whose list or parent
    /// is gone or trashed (changed since, elsewhere) goes to the Inbox / to
    /// the top level rather than pointing at nothing.
    fn images_to_writes(
        &self,
        images: Vec<Image>,
    ) -> (Vec<Task>, Vec<List>, Vec<(RecordKind, Id)>) {
        let mut tasks = Vec::new();
        let mut lists = Vec::new();
        let mut deletes = Vec::new();
        for image in images {
            match image {
                Image::Task {
                    before: Some(t), ..
                } => tasks.push(t),
                Image::Task {
                    id, before: None, ..
                } => deletes.push((RecordKind::Task, id)),
                Image::List {
                    before: Some(l), ..
                } => lists.push(l),
                Image::List {
                    id, before: None, ..
                } => deletes.push((RecordKind::List, id)),
            }
        }
        let deleted: HashSet<Id> = deletes.iter().map(|(_, id)| *id).collect();
        let list_after: HashSet<ListId> = self
            .lists
            .keys()
            .copied()
            .filter(|l| !deleted.contains(l))
            .chain(lists.iter().map(|l| l.id))
            .collect();
        let written: std::collections::HashMap<TaskId, bool> =
            tasks.iter().map(|t| (t.id, t.is_trashed())).collect();
        let trashed_after = |id: &TaskId| -> Option<bool> {
            if deleted.contains(id) {
                return None;
            }
            written
                .get(id)
                .copied()
                .or_else(|| self.tasks.get(id).map(|e| e.value.is_trashed()))
        };
        // Trashed tasks may point at what is gone: a restore from the trash
        // sorts that out (see `restore_tasks`).
        for t in tasks.iter_mut().filter(|t| !t.is_trashed()) {
            if t.list.is_some_and(|l| !list_after.contains(&l)) {
                t.list = None;
            }
            if let Some(p) = t.parent {
                if trashed_after(&p) != Some(false) {
                    t.parent = None;
                }
            }
        }
        (tasks, lists, deletes)
    }

    /// The history entry `op` asks for, sealed; `None` when nothing is
    /// recorded. Reads the before-images from memory, so it must run
    /// before memory changes.
    pub(super) fn history_entry(
        &mut self,
        op: HistoryOp,
        writes: &[Write],
    ) -> Result<Option<PendingEntry>, VaultError> {
        let (label, to, consumed, clear_redo, conflict) = match op {
            HistoryOp::None => return Ok(None),
            HistoryOp::Action(label) => (label, Stack::Undo, None, true, None),
            HistoryOp::Replay { from, entry, label } => {
                let action = match from {
                    Stack::Undo => "undo",
                    Stack::Redo => "redo",
                };
                (
                    label,
                    from.other(),
                    Some((from, entry)),
                    false,
                    Some(action),
                )
            }
        };
        let mut images = Vec::with_capacity(writes.len());
        let mut must_be_absent = Vec::new();
        for w in writes {
            let (kind, id, after) = match w {
                Write::Put {
                    kind,
                    id,
                    plaintext,
                    expected_seq,
                } => {
                    if expected_seq.is_none() && consumed.is_some() {
                        must_be_absent.push((*kind, *id));
                    }
                    (*kind, *id, Some(digest(plaintext)))
                }
                Write::Delete { kind, id, .. } => (*kind, *id, None),
            };
            images.push(match kind {
                RecordKind::Task => Image::Task {
                    id,
                    before: self.tasks.get(&id).map(|e: &Entry<Task>| e.value.clone()),
                    after,
                },
                RecordKind::List => Image::List {
                    id,
                    before: self.lists.get(&id).map(|e: &Entry<List>| e.value.clone()),
                    after,
                },
                other => unreachable!("{} records have no history", other.as_str()),
            });
        }
        let payload = Payload {
            session: self.session.clone(),
            label: label.clone(),
            images,
        };
        let id = Id::random(self.env.rng.as_mut());
        let sealed = self.seal_record(RecordKind::History, &id, &encode(&payload));
        Ok(Some(PendingEntry {
            id,
            session: self.session.clone(),
            label,
            to,
            consumed,
            clear_redo,
            must_be_absent,
            key_id: self.key_id,
            sealed,
            conflict,
        }))
    }

    fn top_row(&self, stack: Stack) -> Result<Option<Row>, VaultError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, label, format, nonce, ciphertext FROM history
                 WHERE session = ?1 AND stack = ?2 AND key_id = ?3
                 ORDER BY pos DESC LIMIT 1",
                rusqlite::params![self.session, stack.as_str(), self.key_id.0.as_slice()],
                |r| {
                    let id: Vec<u8> = r.get(0)?;
                    Ok((id, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                },
            )
            .optional()?
            .map(|(id, label, format, nonce, ciphertext)| {
                let id = <[u8; 16]>::try_from(id)
                    .map(Id::from_bytes)
                    .unwrap_or(Id::from_bytes([0; 16]));
                Row {
                    id,
                    label,
                    format,
                    nonce,
                    ciphertext,
                }
            }))
    }

    fn open_row(&self, row: &Row) -> Result<Payload, VaultError> {
        let tampered = || VaultError::RecordTampered {
            kind: "history",
            id: row.id.to_string(),
        };
        if row.format != FORMAT_VERSION as i64 {
            return Err(VaultError::RecordUnreadable {
                kind: "history",
                id: row.id.to_string(),
                detail: format!("format {}", row.format),
            });
        }
        let aad = RecordContext {
            kind: RecordKind::History,
            id: row.id.as_bytes(),
            format: FORMAT_VERSION,
            key_id: self.key_id,
        }
        .aad();
        let plain = crypto::open_parts(&self.key, &aad, &row.nonce, &row.ciphertext)
            .map_err(|_| tampered())?;
        let payload: Payload =
            serde_json::from_slice(&plain).map_err(|e| VaultError::RecordUnreadable {
                kind: "history",
                id: row.id.to_string(),
                detail: e.to_string(),
            })?;
        if payload.session != self.session || payload.label != row.label {
            return Err(tampered());
        }
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_plain_words() {
        for ok in ["cli", "app", "my-session_2", &"a".repeat(32)] {
            assert!(valid_session(ok), "{ok}");
        }
        for bad in ["", "CLI", "with space", "ä", &"a".repeat(33), "a/b"] {
            assert!(!valid_session(bad), "{bad}");
        }
    }

    #[test]
    fn labels_count_only_when_there_are_several() {
        assert_eq!(
            count_label(1, "Task deleted", "tasks deleted"),
            "Task deleted"
        );
        assert_eq!(
            count_label(3, "Task deleted", "tasks deleted"),
            "3 tasks deleted"
        );
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;
    use crate::interchange::testgen;
    use proptest::prelude::*;

    proptest! {
        /// Undo compares digests of records as read back from disk with
        /// digests of what was written: encoding must survive a round trip
        /// byte for byte.
        #[test]
        fn records_encode_identically_after_a_round_trip(b in testgen::bundle(), trashed in any::<bool>()) {
            for mut t in b.tasks {
                if trashed { t.trashed_at = Some(t.updated_at); }
                let bytes = encode(&t);
                let back: Task = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(digest(&encode(&back)), digest(&bytes));
            }
            for l in b.lists {
                let bytes = encode(&l);
                let back: List = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(digest(&encode(&back)), digest(&bytes));
            }
        }
    }
}
