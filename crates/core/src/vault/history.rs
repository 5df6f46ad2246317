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
//!
//! Integrity: an entry's AAD binds, besides a record's context and its
//! change sequence, its stack and the entry below it (`below`), so each
//! stack is a chain; the integrity ledger commits to every entry
//! (`history`, id → sequence) and to the top of every stack
//! (`history-top`, "undo/cli" → the top entry's sequence; within a stack
//! sequences rise with position, at most one push per commit). Load
//! checks all of it without decrypting an entry; an undo or redo checks
//! that the entry it replays is the committed top and, when it pops it,
//! that the entry below is committed — so an entry deleted, put back or
//! reordered outside the app is an error, never a different undo.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::integrity::Pending;
use super::records::{self, encode, Aad, InTx, Write};
use super::{Entry, Vault};
use crate::crypto::{self, KeyId, RecordKind, SecretKey, SecureRng};
use crate::domain::{Id, List, ListId, Task, TaskId, FORMAT_VERSION};
use crate::error::VaultError;
use crate::ledger::EntryKey;

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
    fn parse(s: &str) -> Option<Stack> {
        match s {
            "undo" => Some(Stack::Undo),
            "redo" => Some(Stack::Redo),
            _ => None,
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
    /// Applying entry `entry` of stack `from` (opened at change `seq`,
    /// sealed with `below` under it); its inverse goes on the other stack.
    Replay {
        from: Stack,
        entry: Id,
        seq: i64,
        below: Option<Id>,
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

/// The ledger's name for a history entry.
fn entry_key(id: &Id) -> EntryKey {
    EntryKey::new(RecordKind::History.as_str(), id.as_bytes())
}

/// The ledger entry kind committing to the top of each stack.
pub(super) const TOP_KIND: &str = "history-top";

/// The ledger's name for the top of a stack: "undo/cli".
fn top_key(session: &str, stack: Stack) -> EntryKey {
    EntryKey::new(TOP_KIND, format!("{}/{session}", stack.as_str()).as_bytes())
}

/// A history entry's AAD: a record's (kind, id, format, key id, change
/// sequence), then its stack and the entry below it, so that an entry
/// opens only in its place in its chain.
fn entry_aad(id: &Id, key_id: KeyId, seq: i64, stack: Stack, below: Option<&Id>) -> Vec<u8> {
    let mut aad = records::aad(Aad::V2, RecordKind::History, id.as_bytes(), key_id, seq);
    aad.push(match stack {
        Stack::Undo => b'u',
        Stack::Redo => b'r',
    });
    match below {
        None => aad.push(0),
        Some(b) => {
            aad.push(1);
            aad.extend_from_slice(b.as_bytes());
        }
    }
    aad
}

/// The entry on top of a stack, as the table says (highest position).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Top {
    id: Id,
    seq: i64,
}

fn id_of(bytes: Vec<u8>) -> Result<Id, VaultError> {
    <[u8; 16]>::try_from(bytes.as_slice())
        .map(Id::from_bytes)
        .map_err(|_| VaultError::RecordTampered {
            kind: "history",
            id: VaultError::id_text(&bytes),
        })
}

fn table_top(conn: &Connection, session: &str, stack: Stack) -> Result<Option<Top>, VaultError> {
    let row: Option<(Vec<u8>, i64)> = conn
        .prepare_cached(
            "SELECT id, changed_seq FROM history WHERE session = ?1 AND stack = ?2
             ORDER BY pos DESC LIMIT 1",
        )?
        .query_row([session, stack.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(id, seq)| {
        Ok(Top {
            id: id_of(id)?,
            seq,
        })
    })
    .transpose()
}

/// The top of a stack, checked against the ledger: the entry the table
/// has on top must be the one committed there.
fn checked_top(
    conn: &Connection,
    ledger: &mut Pending,
    session: &str,
    stack: Stack,
) -> Result<Option<Top>, VaultError> {
    let found = table_top(conn, session, stack)?;
    let committed = ledger.get(conn, &top_key(session, stack))?;
    let found_seq = found.as_ref().map(|t| t.seq);
    if found_seq != committed {
        let history = format!("the {} history of session `{session}`", stack.as_str());
        return Err(match (committed, found_seq) {
            (Some(c), None) => VaultError::RecordMissing {
                what: format!("{history} is empty, but its top entry (change {c}) is committed"),
            },
            (Some(c), Some(f)) if f < c => VaultError::RecordMissing {
                what: format!(
                    "the top entry of {history} (change {c}) is missing; change {f} is on top"
                ),
            },
            (c, f) => VaultError::VaultRolledBack {
                what: format!(
                    "{history} has change {} on top, but the integrity ledger commits to {}",
                    f.map_or("nothing".into(), |f| f.to_string()),
                    c.map_or("an empty one".into(), |c| format!("change {c}")),
                ),
            },
        });
    }
    Ok(found)
}

/// Removes every entry of a stack, from the table and the ledger.
fn clear_stack(
    conn: &Connection,
    ledger: &mut Pending,
    session: &str,
    stack: Stack,
) -> Result<(), VaultError> {
    let Some(top) = checked_top(conn, ledger, session, stack)? else {
        return Ok(());
    };
    remove_where(
        conn,
        ledger,
        "session = ?1 AND stack = ?2",
        rusqlite::params![session, stack.as_str()],
    )?;
    ledger.remove(conn, &top_key(session, stack), top.seq)
}

/// Deletes the entries `filter` selects, and their ledger entries (each
/// must be committed at the sequence its row says).
fn remove_where(
    conn: &Connection,
    ledger: &mut Pending,
    filter: &str,
    params: impl rusqlite::Params + Copy,
) -> Result<(), VaultError> {
    let rows: Vec<(Vec<u8>, i64)> = conn
        .prepare_cached(&format!(
            "SELECT id, changed_seq FROM history WHERE {filter}"
        ))?
        .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, seq) in rows {
        ledger.remove(conn, &entry_key(&id_of(id)?), seq)?;
    }
    conn.prepare_cached(&format!("DELETE FROM history WHERE {filter}"))?
        .execute(params)?;
    Ok(())
}

/// What a replay takes off its stack.
struct Consumed {
    stack: Stack,
    id: Id,
    seq: i64,
    below: Option<Id>,
}

/// A history entry ready to be sealed and written by the action's
/// transaction (sealed there: its AAD binds the action's sequence and
/// the entry it goes on top of).
pub(super) struct PendingEntry {
    id: Id,
    session: String,
    label: String,
    to: Stack,
    /// The entry being replayed, removed in the same transaction.
    consumed: Option<Consumed>,
    clear_redo: bool,
    /// Records a replay creates: they must not exist on disk.
    must_be_absent: Vec<(RecordKind, Id)>,
    plaintext: zeroize::Zeroizing<Vec<u8>>,
    /// "undo" or "redo" for a replay, for the conflict error.
    conflict: Option<&'static str>,
}

impl PendingEntry {
    pub(super) fn write(&self, cx: &mut InTx<'_, '_>) -> Result<(), VaultError> {
        let tx = cx.tx;
        let session = self.session.as_str();
        // Only replays consume entries or need records absent.
        let conflict = |what: String| VaultError::UndoConflict {
            action: self.conflict.unwrap_or("undo"),
            label: self.label.clone(),
            what,
        };
        if let Some(c) = &self.consumed {
            let top = checked_top(tx, cx.ledger, session, c.stack)?;
            if top.as_ref().map(|t| (t.id, t.seq)) != Some((c.id, c.seq)) {
                return Err(conflict(
                    "the history entry (another process used it)".into(),
                ));
            }
            tx.prepare_cached("DELETE FROM history WHERE id = ?1")?
                .execute([c.id.as_bytes().as_slice()])?;
            cx.ledger.remove(tx, &entry_key(&c.id), c.seq)?;
            // The entry below becomes the top, unless it was dropped for
            // the length limit (then nothing is left below it either). A
            // committed entry missing from the table is caught by the
            // next replay's top check, and by the next load.
            let below = match &c.below {
                Some(b) => cx.ledger.get(tx, &entry_key(b))?,
                None => None,
            };
            let top = top_key(session, c.stack);
            match below {
                Some(seq) => cx.ledger.put(tx, top, Some(c.seq), seq)?,
                None => cx.ledger.remove(tx, &top, c.seq)?,
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
            clear_stack(tx, cx.ledger, session, Stack::Redo)?;
        }
        let to = self.to;
        let below = checked_top(tx, cx.ledger, session, to)?;
        let pos: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(pos), 0) + 1 FROM history WHERE session = ?1 AND stack = ?2",
            )?
            .query_row([session, to.as_str()], |r| r.get(0))?;
        let below_id = below.as_ref().map(|t| t.id);
        let sealed = crypto::seal(
            cx.key,
            &entry_aad(&self.id, cx.key_id, cx.seq, to, below_id.as_ref()),
            &self.plaintext,
            &mut *cx.rng,
        );
        tx.prepare_cached(
            "INSERT INTO history (id, session, stack, pos, label, format, key_id, nonce, ciphertext,
                                  changed_seq, below)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(rusqlite::params![
            self.id.as_bytes().as_slice(),
            session,
            to.as_str(),
            pos,
            self.label,
            FORMAT_VERSION,
            cx.key_id.0.as_slice(),
            sealed.nonce.as_slice(),
            sealed.ciphertext,
            cx.seq,
            below_id.as_ref().map(|b| b.as_bytes().to_vec()),
        ])?;
        cx.ledger.put(tx, entry_key(&self.id), None, cx.seq)?;
        cx.ledger.put(
            tx,
            top_key(session, to),
            below.as_ref().map(|t| t.seq),
            cx.seq,
        )?;
        remove_where(
            tx,
            cx.ledger,
            "session = ?1 AND stack = ?2 AND pos <= ?3",
            rusqlite::params![session, to.as_str(), pos - HISTORY_LIMIT],
        )
    }
}

/// The ledger entries the history table holds now: every entry, and the
/// top of every stack. Reads no ciphertext. Entries sealed under another
/// key, and stacks whose sequences do not rise with their positions,
/// were altered outside the app.
pub(super) fn ledger_entries(
    conn: &Connection,
    key_id: KeyId,
) -> Result<Vec<(EntryKey, i64)>, VaultError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, session, stack, changed_seq, key_id FROM history
         ORDER BY session, stack, pos",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut top: Option<(String, Stack, i64)> = None;
    while let Some(r) = rows.next()? {
        let id = id_of(r.get(0)?)?;
        let session: String = r.get(1)?;
        let stack =
            Stack::parse(&r.get::<_, String>(2)?).ok_or_else(|| VaultError::RecordTampered {
                kind: "history",
                id: id.to_string(),
            })?;
        let seq: i64 = r.get(3)?;
        let found_key: Vec<u8> = r.get(4)?;
        if found_key != key_id.0 {
            return Err(VaultError::RecordWrongKey {
                kind: "history",
                id: id.to_string(),
                found: hex::encode(&found_key),
                expected: key_id.to_string(),
            });
        }
        match top.take() {
            Some((s, st, below)) if s == session && st == stack && seq <= below => {
                return Err(VaultError::VaultRolledBack {
                    what: format!(
                        "the {} history of session `{session}` is out of order (change {seq} above change {below})",
                        stack.as_str()
                    ),
                });
            }
            Some((s, st, _)) if s == session && st == stack => {}
            Some((s, st, seq)) => out.push((top_key(&s, st), seq)),
            None => {}
        }
        top = Some((session, stack, seq));
        out.push((entry_key(&id), seq));
    }
    if let Some((s, st, seq)) = top {
        out.push((top_key(&s, st), seq));
    }
    Ok(out)
}

/// Brings the history of a vault written before the ledger existed up to
/// date: each entry re-sealed with its place in its chain, at sequences
/// from `*next + 1` on (rising with position, as the checks expect).
/// Returns the ledger entries. Entries sealed under a key rotated away
/// could never be opened (that version ignored them too) and are dropped.
pub(super) fn upgrade_legacy(
    conn: &Connection,
    key: &SecretKey,
    key_id: KeyId,
    next: &mut i64,
    rng: &mut dyn SecureRng,
) -> Result<Vec<(EntryKey, i64)>, VaultError> {
    conn.execute(
        "DELETE FROM history WHERE key_id <> ?1",
        [key_id.0.as_slice()],
    )?;
    type OldRow = (Vec<u8>, String, String, Vec<u8>, Vec<u8>);
    let rows: Vec<OldRow> = conn
        .prepare(
            "SELECT id, session, stack, nonce, ciphertext FROM history
             ORDER BY session, stack, pos",
        )?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare(
        "UPDATE history SET nonce = ?1, ciphertext = ?2, changed_seq = ?3, below = ?4 WHERE id = ?5",
    )?;
    let mut out = Vec::with_capacity(rows.len() + 4);
    let mut prev: Option<(String, Stack, Id, i64)> = None;
    for (id, session, stack, nonce, ct) in rows {
        let id = id_of(id)?;
        let tampered = || VaultError::RecordTampered {
            kind: "history",
            id: id.to_string(),
        };
        let stack = Stack::parse(&stack).ok_or_else(tampered)?;
        let old = records::aad(Aad::V1, RecordKind::History, id.as_bytes(), key_id, 0);
        let plain = crypto::open_parts(key, &old, &nonce, &ct).map_err(|_| tampered())?;
        let below = match prev.take() {
            Some((s, st, below, _)) if s == session && st == stack => Some(below),
            Some((s, st, _, seq)) => {
                out.push((top_key(&s, st), seq));
                None
            }
            None => None,
        };
        *next += 1;
        let seq = *next;
        let sealed = crypto::seal(
            key,
            &entry_aad(&id, key_id, seq, stack, below.as_ref()),
            &plain,
            rng,
        );
        update.execute(rusqlite::params![
            sealed.nonce.as_slice(),
            sealed.ciphertext,
            seq,
            below.map(|b| b.as_bytes().to_vec()),
            id.as_bytes().as_slice()
        ])?;
        out.push((entry_key(&id), seq));
        prev = Some((session, stack, id, seq));
    }
    if let Some((s, st, _, seq)) = prev {
        out.push((top_key(&s, st), seq));
    }
    Ok(out)
}

/// The top entry of a stack as read, before decryption.
struct Row {
    id: Id,
    seq: i64,
    stack: Stack,
    below: Option<Id>,
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

    /// The labels on top of this session's undo and redo stacks, each
    /// checked to be the committed top (a label is display text; the
    /// entry it stands for is checked again, sealed, when replayed).
    pub fn history_state(&self) -> Result<HistoryState, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ledger = self.ledger_reader(&tx)?;
        let mut top = |stack: Stack| -> Result<Option<String>, VaultError> {
            let Some(t) = checked_top(&tx, &mut ledger, &self.session, stack)? else {
                return Ok(None);
            };
            Ok(Some(tx.query_row(
                "SELECT label FROM history WHERE id = ?1",
                [t.id.as_bytes().as_slice()],
                |r| r.get(0),
            )?))
        };
        let undo_label = top(Stack::Undo)?;
        let redo_label = top(Stack::Redo)?;
        drop(ledger);
        tx.finish()?;
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
        // Every record must still be exactly as the action left it. The
        // digest is of the payload the action wrote: a task's is compact
        // (format 2) since that format exists, JSON in entries recorded
        // before, so a task matches either way.
        for image in &payload.images {
            let (what, as_left) = match image {
                Image::Task { id, after, .. } => (
                    format!("task {}", id.short()),
                    match (self.tasks.get(id), after) {
                        (Some(e), Some(after)) => {
                            digest(&records::task_payload(&e.value).1) == *after
                                || digest(&encode(&e.value)) == *after
                        }
                        (current, after) => current.is_none() && after.is_none(),
                    },
                ),
                Image::List { id, after, .. } => (
                    format!("list {}", id.short()),
                    self.lists.get(id).map(|e| digest(&encode(&e.value))) == *after,
                ),
            };
            if !as_left {
                return Err(conflict(what));
            }
        }
        let (tasks, lists, deletes) = self.images_to_writes(payload.images);
        let op = HistoryOp::Replay {
            from,
            entry: row.id,
            seq: row.seq,
            below: row.below,
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
            HistoryOp::Replay {
                from,
                entry,
                seq,
                below,
                label,
            } => {
                let action = match from {
                    Stack::Undo => "undo",
                    Stack::Redo => "redo",
                };
                let consumed = Consumed {
                    stack: from,
                    id: entry,
                    seq,
                    below,
                };
                (label, from.other(), Some(consumed), false, Some(action))
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
                    ..
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
        Ok(Some(PendingEntry {
            id,
            session: self.session.clone(),
            label,
            to,
            consumed,
            clear_redo,
            must_be_absent,
            plaintext: encode(&payload),
            conflict,
        }))
    }

    /// The committed top entry of `stack`, read in one read transaction.
    fn top_row(&self, stack: Stack) -> Result<Option<Row>, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut ledger = self.ledger_reader(&tx)?;
        let Some(top) = checked_top(&tx, &mut ledger, &self.session, stack)? else {
            return Ok(None);
        };
        drop(ledger);
        let (label, format, nonce, ciphertext, below): (
            String,
            i64,
            Vec<u8>,
            Vec<u8>,
            Option<Vec<u8>>,
        ) = tx.query_row(
            "SELECT label, format, nonce, ciphertext, below FROM history WHERE id = ?1",
            [top.id.as_bytes().as_slice()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
        tx.finish()?;
        Ok(Some(Row {
            id: top.id,
            seq: top.seq,
            stack,
            below: below.map(id_of).transpose()?,
            label,
            format,
            nonce,
            ciphertext,
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
        let aad = entry_aad(&row.id, self.key_id, row.seq, row.stack, row.below.as_ref());
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

    /// An entry opens only in its own place in its chain: same sequence,
    /// same stack, same entry below.
    #[test]
    fn an_entry_opens_only_in_its_place_in_its_stack() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let key = SecretKey::random(&mut rng);
        let kid = KeyId::derived(&key);
        let (id, below) = (Id::from_bytes([1; 16]), Id::from_bytes([2; 16]));
        let aad = entry_aad(&id, kid, 5, Stack::Undo, Some(&below));
        let sealed = crypto::seal(&key, &aad, b"images", &mut rng);
        let opens =
            |aad: &[u8]| crypto::open_parts(&key, aad, &sealed.nonce, &sealed.ciphertext).is_ok();
        assert!(opens(&aad));
        assert!(!opens(&entry_aad(&id, kid, 5, Stack::Redo, Some(&below))));
        assert!(!opens(&entry_aad(&id, kid, 5, Stack::Undo, None)));
        assert!(!opens(&entry_aad(&id, kid, 5, Stack::Undo, Some(&id))));
        assert!(!opens(&entry_aad(&id, kid, 4, Stack::Undo, Some(&below))));
        assert!(!opens(&entry_aad(
            &below,
            kid,
            5,
            Stack::Undo,
            Some(&below)
        )));
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
                let (_, compact) = records::task_payload(&t);
                let back = super::super::compact::decode(t.id, &compact).unwrap();
                prop_assert_eq!(digest(&records::task_payload(&back).1), digest(&compact));
            }
            for l in b.lists {
                let bytes = encode(&l);
                let back: List = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(digest(&encode(&back)), digest(&bytes));
            }
        }
    }
}
