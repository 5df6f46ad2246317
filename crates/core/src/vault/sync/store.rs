//! The sealed rows sync keeps in the vault, and how each is bound and
//! committed.
//!
//! - `sync_state`: named values (the account link, the clock, the account
//!   this vault synced with), each sealed with its name and change
//!   sequence and committed by the ledger (`sync-state` → sequence).
//! - `sync_records`: each record's merge state. A state whose record has a
//!   `records` row is sealed at that row's change sequence (they are
//!   always written in the same commit), so the record's own ledger entry
//!   covers both: an older state does not open beside a newer record. A
//!   *bare* state (a tombstone, or a record nobody can see yet) has its
//!   own ledger entry (`sync:task` → sequence). `bare` is in the AAD.
//! - `sync_outbox`: operations not yet sealed into a batch, and sealed
//!   batches not yet acknowledged (byte-identical until then), in
//!   position order; each committed by the ledger (`sync-outbox`).

use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::super::integrity::Pending;
use super::super::records::InTx;
use crate::crypto::{self, KeyId, SecretKey, SecureRng};
use crate::error::VaultError;
use crate::ledger::EntryKey;
use productivitypro_sync_protocol::merge::RecordState;
use productivitypro_sync_protocol::{RecordId, RecordRef};

const STATE_LABEL: &[u8] = b"productivitypro/vault/sync-state/v1";
const RECORD_LABEL: &[u8] = b"productivitypro/vault/sync-record/v1";
const OUTBOX_LABEL: &[u8] = b"productivitypro/vault/sync-outbox/v1";

pub(crate) const LEDGER_STATE: &str = "sync-state";
pub(crate) const LEDGER_OUTBOX: &str = "sync-outbox";
/// Ledger kinds of bare record states: `sync:` and the record kind (kinds
/// are `[a-z_]`, so no other ledger kind can look like one).
const LEDGER_RECORD_PREFIX: &str = "sync:";

/// A stored row's sequence, key id, nonce and ciphertext.
type SealedRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>);
/// The same with a leading column (position, or the `bare` flag).
type SealedRowAt = (i64, i64, Vec<u8>, Vec<u8>, Vec<u8>);

fn aad(label: &[u8], parts: &[&[u8]], key_id: KeyId, seq: i64) -> Vec<u8> {
    let mut a = Vec::with_capacity(label.len() + 64);
    a.extend_from_slice(label);
    for p in parts {
        a.extend_from_slice(&(p.len() as u32).to_be_bytes());
        a.extend_from_slice(p);
    }
    a.extend_from_slice(&key_id.0);
    a.extend_from_slice(&seq.to_be_bytes());
    a
}

fn state_key(name: &str) -> EntryKey {
    EntryKey::new(LEDGER_STATE, name.as_bytes())
}

pub(crate) fn record_key(r: &RecordRef) -> EntryKey {
    EntryKey::new(
        &format!("{LEDGER_RECORD_PREFIX}{}", r.kind),
        r.id.as_bytes(),
    )
}

fn outbox_key(pos: i64) -> EntryKey {
    EntryKey::new(LEDGER_OUTBOX, &pos.to_be_bytes())
}

fn tampered(kind: &'static str, id: String) -> VaultError {
    VaultError::RecordTampered { kind, id }
}

fn unreadable(kind: &'static str, id: String, e: impl ToString) -> VaultError {
    VaultError::RecordUnreadable {
        kind,
        id,
        detail: e.to_string(),
    }
}

fn check_key_id(
    kind: &'static str,
    id: &str,
    found: &[u8],
    key_id: KeyId,
) -> Result<(), VaultError> {
    if found != key_id.0 {
        return Err(VaultError::RecordWrongKey {
            kind,
            id: id.to_string(),
            found: hex::encode(found),
            expected: key_id.to_string(),
        });
    }
    Ok(())
}

// ---- named state -------------------------------------------------------

/// A named state value as stored: its value and the sequence it was
/// written at.
pub(crate) struct Named<T> {
    pub value: T,
    pub seq: i64,
}

/// Reads, opens and checks against the ledger one named state value.
pub(crate) fn read_state<T: DeserializeOwned>(
    conn: &Connection,
    ledger: &mut Pending,
    key: &SecretKey,
    key_id: KeyId,
    name: &str,
) -> Result<Option<Named<T>>, VaultError> {
    let row: Option<SealedRow> = conn
        .prepare_cached(
            "SELECT changed_seq, key_id, nonce, ciphertext FROM sync_state WHERE name = ?1",
        )?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let committed = ledger.get(conn, &state_key(name))?;
    let found = row.as_ref().map(|r| r.0);
    if committed != found {
        return Err(super::super::integrity::entry_disagreement(
            state_key(name),
            committed,
            found,
        ));
    }
    let Some((seq, kid, nonce, ct)) = row else {
        return Ok(None);
    };
    check_key_id("sync state", name, &kid, key_id)?;
    let plain = crypto::open_parts(
        key,
        &aad(STATE_LABEL, &[name.as_bytes()], key_id, seq),
        &nonce,
        &ct,
    )
    .map_err(|_| tampered("sync state", name.to_string()))?;
    let value = serde_json::from_slice(&plain)
        .map_err(|e| unreadable("sync state", name.to_string(), e))?;
    Ok(Some(Named { value, seq }))
}

/// Writes a named value at this commit's sequence; `prev` is the sequence
/// it was read at (`None`: it did not exist).
pub(crate) fn write_state<T: Serialize>(
    cx: &mut InTx<'_, '_>,
    name: &str,
    value: &T,
    prev: Option<i64>,
) -> Result<(), VaultError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(value).expect("sync state serialises"));
    let s = crypto::seal(
        cx.key,
        &aad(STATE_LABEL, &[name.as_bytes()], cx.key_id, cx.seq),
        &plain,
        &mut *cx.rng,
    );
    cx.tx
        .prepare_cached(
            "INSERT OR REPLACE INTO sync_state (name, changed_seq, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(rusqlite::params![
            name,
            cx.seq,
            cx.key_id.0.as_slice(),
            s.nonce.as_slice(),
            s.ciphertext
        ])?;
    cx.ledger.put(cx.tx, state_key(name), prev, cx.seq)
}

/// Whether a named value exists (no decryption, no check: a hint for
/// deciding whether to prepare sync work at all; the work itself reads
/// it checked).
pub(crate) fn state_exists(conn: &Connection, name: &str) -> Result<bool, VaultError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM sync_state WHERE name = ?1")?
        .query_row([name], |_| Ok(()))
        .optional()?
        .is_some())
}

// ---- record states -----------------------------------------------------

/// A record's merge state as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredState {
    pub state: RecordState,
    pub seq: i64,
    pub bare: bool,
}

fn record_text(r: &RecordRef) -> String {
    format!("{} {}", r.kind, r.id)
}

/// Reads and opens one record's merge state. A bare state is checked
/// against the ledger here; the caller checks a record-bound one against
/// its record's sequence (`record_seq`: the sequence of the `records`
/// row the caller knows, `None` if it knows of none).
pub(crate) fn read_record(
    conn: &Connection,
    ledger: Option<&mut Pending>,
    key: &SecretKey,
    key_id: KeyId,
    r: &RecordRef,
    record_seq: Option<i64>,
) -> Result<Option<StoredState>, VaultError> {
    let row: Option<SealedRowAt> = conn
        .prepare_cached(
            "SELECT bare, changed_seq, key_id, nonce, ciphertext FROM sync_records
             WHERE kind = ?1 AND id = ?2",
        )?
        .query_row(rusqlite::params![r.kind, r.id.as_bytes().as_slice()], |x| {
            Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?, x.get(4)?))
        })
        .optional()?;
    if let Some(ledger) = ledger {
        let committed = ledger.get(conn, &record_key(r))?;
        let found = row.as_ref().filter(|x| x.0 != 0).map(|x| x.1);
        if committed != found {
            return Err(super::super::integrity::entry_disagreement(
                record_key(r),
                committed,
                found,
            ));
        }
    }
    let Some((bare, seq, kid, nonce, ct)) = row else {
        return Ok(None);
    };
    let bare = bare != 0;
    if !bare {
        if let Some(expected) = record_seq {
            if seq > expected {
                // Written after the caller read the record: another
                // process's commit, as a record's own `stale`.
                return Err(VaultError::Stale {
                    kind: match r.kind.as_str() {
                        "task" => "task",
                        "list" => "list",
                        _ => "record",
                    },
                    id: r.id.to_string(),
                });
            }
            if expected != seq {
                return Err(VaultError::VaultRolledBack {
                    what: format!(
                        "the sync state of {} is at change {seq}, its record at change {expected}",
                        record_text(r)
                    ),
                });
            }
        }
    }
    open_record(key, key_id, r, bare, seq, &kid, &nonce, &ct)
        .map(|state| Some(StoredState { state, seq, bare }))
}

#[allow(clippy::too_many_arguments)]
fn open_record(
    key: &SecretKey,
    key_id: KeyId,
    r: &RecordRef,
    bare: bool,
    seq: i64,
    kid: &[u8],
    nonce: &[u8],
    ct: &[u8],
) -> Result<RecordState, VaultError> {
    let text = record_text(r);
    check_key_id("sync record", &text, kid, key_id)?;
    let a = aad(
        RECORD_LABEL,
        &[r.kind.as_bytes(), r.id.as_bytes(), &[bare as u8]],
        key_id,
        seq,
    );
    let plain = crypto::open_parts(key, &a, nonce, ct)
        .map_err(|_| tampered("sync record", text.clone()))?;
    serde_json::from_slice(&plain).map_err(|e| unreadable("sync record", text, e))
}

/// Writes a record's merge state at `seq` (this commit's, or — for a
/// state stamped on a record this commit does not rewrite — the record's
/// own). `prev` is the stored state's (sequence, bare) if there was one.
/// Keeps the ledger entry of bare states.
pub(crate) fn write_record(
    cx: &mut InTx<'_, '_>,
    r: &RecordRef,
    state: &RecordState,
    bare: bool,
    seq: i64,
    prev: Option<(i64, bool)>,
) -> Result<(), VaultError> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(state).expect("merge state serialises"));
    let s = crypto::seal(
        cx.key,
        &aad(
            RECORD_LABEL,
            &[r.kind.as_bytes(), r.id.as_bytes(), &[bare as u8]],
            cx.key_id,
            seq,
        ),
        &plain,
        &mut *cx.rng,
    );
    cx.tx
        .prepare_cached(
            "INSERT OR REPLACE INTO sync_records (kind, id, bare, changed_seq, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(rusqlite::params![
            r.kind,
            r.id.as_bytes().as_slice(),
            bare as i64,
            seq,
            cx.key_id.0.as_slice(),
            s.nonce.as_slice(),
            s.ciphertext
        ])?;
    match (prev, bare) {
        (Some((p, true)), true) => cx.ledger.put(cx.tx, record_key(r), Some(p), seq),
        (Some((p, true)), false) => cx.ledger.remove(cx.tx, &record_key(r), p),
        (_, true) => cx.ledger.put(cx.tx, record_key(r), None, seq),
        (_, false) => Ok(()),
    }
}

/// The stored sequence of a record's state (no decryption), to check
/// that nothing changed it between a read and a commit.
pub(crate) fn record_seq(conn: &Connection, r: &RecordRef) -> Result<Option<i64>, VaultError> {
    Ok(conn
        .prepare_cached("SELECT changed_seq FROM sync_records WHERE kind = ?1 AND id = ?2")?
        .query_row(rusqlite::params![r.kind, r.id.as_bytes().as_slice()], |x| {
            x.get(0)
        })
        .optional()?)
}

/// Checks one `sync_records` row as a read of many does: a bare state
/// against the ledger, a record-bound one against its record's sequence
/// (`record_seq`, read in the same statement), then opens it.
#[allow(clippy::too_many_arguments)]
fn check_and_open(
    conn: &Connection,
    ledger: &mut Pending,
    key: &SecretKey,
    key_id: KeyId,
    r: &RecordRef,
    bare: bool,
    seq: i64,
    record_seq: Option<i64>,
    sealed: (&[u8], &[u8], &[u8]),
) -> Result<RecordState, VaultError> {
    if bare {
        let committed = ledger.get(conn, &record_key(r))?;
        if committed != Some(seq) {
            return Err(super::super::integrity::entry_disagreement(
                record_key(r),
                committed,
                Some(seq),
            ));
        }
    } else if record_seq != Some(seq) {
        return Err(match record_seq {
            None => VaultError::RecordMissing {
                what: format!("{} has a sync state but no record", record_text(r)),
            },
            Some(rs) => VaultError::VaultRolledBack {
                what: format!(
                    "the sync state of {} is at change {seq}, its record at change {rs}",
                    record_text(r)
                ),
            },
        });
    }
    open_record(key, key_id, r, bare, seq, sealed.0, sealed.1, sealed.2)
}

/// Every record's merge state, opened; bare ones checked against the
/// ledger, record-bound ones against their record's row in the same
/// read (what a snapshot or a comparison needs).
pub(crate) fn read_all_records(
    conn: &Connection,
    ledger: &mut Pending,
    key: &SecretKey,
    key_id: KeyId,
) -> Result<Vec<(RecordRef, StoredState)>, VaultError> {
    let mut stmt = conn.prepare(
        "SELECT s.kind, s.id, s.bare, s.changed_seq, s.key_id, s.nonce, s.ciphertext, r.changed_seq
         FROM sync_records s LEFT JOIN records r ON r.kind = s.kind AND r.id = s.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(x) = rows.next()? {
        let kind: String = x.get(0)?;
        let id: Vec<u8> = x.get(1)?;
        let bare = x.get::<_, i64>(2)? != 0;
        let seq: i64 = x.get(3)?;
        let id = <[u8; 16]>::try_from(id.as_slice())
            .map_err(|_| tampered("sync record", hex::encode(&id)))?;
        let r = RecordRef {
            kind,
            id: RecordId(id),
        };
        let state = check_and_open(
            conn,
            ledger,
            key,
            key_id,
            &r,
            bare,
            seq,
            x.get(7)?,
            (
                &x.get::<_, Vec<u8>>(4)?,
                &x.get::<_, Vec<u8>>(5)?,
                &x.get::<_, Vec<u8>>(6)?,
            ),
        )?;
        out.push((r, StoredState { state, seq, bare }));
    }
    Ok(out)
}

/// The merge states of the given records, by key lookup, with the
/// checks of [`read_all_records`]; a record with no state must have no
/// ledger entry either (a bare state deleted from the file — a
/// tombstone, say — is found missing, not taken for a record never seen).
/// What an incremental merge reads instead of every state.
pub(crate) fn read_records<'a>(
    conn: &Connection,
    ledger: &mut Pending,
    key: &SecretKey,
    key_id: KeyId,
    refs: impl IntoIterator<Item = &'a RecordRef>,
) -> Result<Vec<(RecordRef, StoredState)>, VaultError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.bare, s.changed_seq, s.key_id, s.nonce, s.ciphertext, r.changed_seq
         FROM sync_records s LEFT JOIN records r ON r.kind = s.kind AND r.id = s.id
         WHERE s.kind = ?1 AND s.id = ?2",
    )?;
    let mut out = Vec::new();
    for r in refs {
        let row = stmt
            .query_row(rusqlite::params![r.kind, r.id.as_bytes().as_slice()], |x| {
                Ok((
                    x.get::<_, i64>(0)? != 0,
                    x.get::<_, i64>(1)?,
                    x.get::<_, Vec<u8>>(2)?,
                    x.get::<_, Vec<u8>>(3)?,
                    x.get::<_, Vec<u8>>(4)?,
                    x.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        let Some((bare, seq, kid, nonce, ct, record_seq)) = row else {
            let committed = ledger.get(conn, &record_key(r))?;
            if committed.is_some() {
                return Err(super::super::integrity::entry_disagreement(
                    record_key(r),
                    committed,
                    None,
                ));
            }
            continue;
        };
        let state = check_and_open(
            conn,
            ledger,
            key,
            key_id,
            r,
            bare,
            seq,
            record_seq,
            (&kid, &nonce, &ct),
        )?;
        out.push((r.clone(), StoredState { state, seq, bare }));
    }
    Ok(out)
}

// ---- outbox ------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutboxKind {
    /// Operations recorded by local actions, not sealed yet.
    Ops,
    /// A batch sealed under the sync key, not acknowledged yet.
    Batch,
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Ops => "ops",
            OutboxKind::Batch => "batch",
        }
    }
}

pub(crate) struct OutboxRow {
    pub pos: i64,
    pub seq: i64,
    pub plain: zeroize::Zeroizing<Vec<u8>>,
}

pub(crate) fn append_outbox(
    cx: &mut InTx<'_, '_>,
    kind: OutboxKind,
    plain: &[u8],
) -> Result<i64, VaultError> {
    // Positions are never reused (AUTOINCREMENT): each row's AAD and
    // ledger entry name one place in the outbox's history.
    let pos: i64 = cx.tx.query_row(
        "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'sync_outbox'), 0) + 1",
        [],
        |r| r.get(0),
    )?;
    let s = crypto::seal(
        cx.key,
        &aad(
            OUTBOX_LABEL,
            &[kind.as_str().as_bytes(), &pos.to_be_bytes()],
            cx.key_id,
            cx.seq,
        ),
        plain,
        &mut *cx.rng,
    );
    cx.tx
        .prepare_cached(
            "INSERT INTO sync_outbox (pos, kind, changed_seq, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(rusqlite::params![
            pos,
            kind.as_str(),
            cx.seq,
            cx.key_id.0.as_slice(),
            s.nonce.as_slice(),
            s.ciphertext
        ])?;
    cx.ledger.put(cx.tx, outbox_key(pos), None, cx.seq)?;
    Ok(pos)
}

/// The outbox rows of one kind, in order, opened and checked against the
/// ledger.
pub(crate) fn read_outbox(
    conn: &Connection,
    ledger: &mut Pending,
    key: &SecretKey,
    key_id: KeyId,
    kind: OutboxKind,
) -> Result<Vec<OutboxRow>, VaultError> {
    let rows: Vec<SealedRowAt> = conn
        .prepare_cached(
            "SELECT pos, changed_seq, key_id, nonce, ciphertext FROM sync_outbox
             WHERE kind = ?1 ORDER BY pos",
        )?
        .query_map([kind.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (pos, seq, kid, nonce, ct) in rows {
        let name = format!("{} {pos}", kind.as_str());
        let committed = ledger.get(conn, &outbox_key(pos))?;
        if committed != Some(seq) {
            return Err(super::super::integrity::entry_disagreement(
                outbox_key(pos),
                committed,
                Some(seq),
            ));
        }
        check_key_id("sync outbox", &name, &kid, key_id)?;
        let a = aad(
            OUTBOX_LABEL,
            &[kind.as_str().as_bytes(), &pos.to_be_bytes()],
            key_id,
            seq,
        );
        let plain =
            crypto::open_parts(key, &a, &nonce, &ct).map_err(|_| tampered("sync outbox", name))?;
        out.push(OutboxRow { pos, seq, plain });
    }
    Ok(out)
}

pub(crate) fn remove_outbox(cx: &mut InTx<'_, '_>, pos: i64, seq: i64) -> Result<(), VaultError> {
    cx.tx
        .prepare_cached("DELETE FROM sync_outbox WHERE pos = ?1")?
        .execute([pos])?;
    cx.ledger.remove(cx.tx, &outbox_key(pos), seq)
}

/// The sequence of one outbox row, if it is still there (no decryption).
pub(crate) fn outbox_seq(conn: &Connection, pos: i64) -> Result<Option<i64>, VaultError> {
    Ok(conn
        .prepare_cached("SELECT changed_seq FROM sync_outbox WHERE pos = ?1")?
        .query_row([pos], |r| r.get(0))
        .optional()?)
}

/// How many outbox rows of each kind there are (no decryption).
pub(crate) fn outbox_counts(conn: &Connection) -> Result<(usize, usize), VaultError> {
    let (ops, batches): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(kind = 'ops'), 0), COALESCE(SUM(kind = 'batch'), 0) FROM sync_outbox",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((ops as usize, batches as usize))
}

// ---- whole-vault work --------------------------------------------------

/// The ledger entries sync's rows hold now (no decryption): every named
/// state, every outbox row, every bare record state. A load checks them
/// like the records; record-bound states are checked when read.
pub(crate) fn ledger_entries(conn: &Connection) -> Result<Vec<(EntryKey, i64)>, VaultError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT CAST(name AS BLOB), changed_seq FROM sync_state")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name: Vec<u8> = r.get(0)?;
        out.push((EntryKey::new(LEDGER_STATE, &name), r.get(1)?));
    }
    let mut stmt = conn.prepare_cached("SELECT pos, changed_seq FROM sync_outbox")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out.push((outbox_key(r.get(0)?), r.get(1)?));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT CAST(kind AS BLOB), id, changed_seq FROM sync_records WHERE bare = 1",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let kind: Vec<u8> = r.get(0)?;
        let id: Vec<u8> = r.get(1)?;
        let kind = String::from_utf8(kind).map_err(|e| tampered("sync record", e.to_string()))?;
        if kind.is_empty() || kind.len() > 16 || id.len() > 64 {
            return Err(tampered("sync record", hex::encode(&id)));
        }
        out.push((
            EntryKey::new(&format!("{LEDGER_RECORD_PREFIX}{kind}"), &id),
            r.get(2)?,
        ));
    }
    Ok(out)
}

/// Re-seals every sync row under a new data key, same sequences (key
/// rotation carries sync forward: unsent operations must survive it).
pub(crate) fn reseal_all(
    conn: &Connection,
    old: &SecretKey,
    old_id: KeyId,
    new: &SecretKey,
    new_id: KeyId,
    rng: &mut dyn SecureRng,
) -> Result<(), VaultError> {
    let states: Vec<(String, i64, Vec<u8>, Vec<u8>)> = conn
        .prepare("SELECT name, changed_seq, nonce, ciphertext FROM sync_state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    for (name, seq, nonce, ct) in states {
        let plain = crypto::open_parts(
            old,
            &aad(STATE_LABEL, &[name.as_bytes()], old_id, seq),
            &nonce,
            &ct,
        )
        .map_err(|_| tampered("sync state", name.clone()))?;
        let s = crypto::seal(
            new,
            &aad(STATE_LABEL, &[name.as_bytes()], new_id, seq),
            &plain,
            rng,
        );
        conn.execute(
            "UPDATE sync_state SET key_id = ?1, nonce = ?2, ciphertext = ?3 WHERE name = ?4",
            rusqlite::params![new_id.0.as_slice(), s.nonce.as_slice(), s.ciphertext, name],
        )?;
    }
    type Row = (String, Vec<u8>, i64, i64, Vec<u8>, Vec<u8>);
    let records: Vec<Row> = conn
        .prepare("SELECT kind, id, bare, changed_seq, nonce, ciphertext FROM sync_records")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    for (kind, id, bare, seq, nonce, ct) in records {
        let b = [(bare != 0) as u8];
        let parts: [&[u8]; 3] = [kind.as_bytes(), &id, &b];
        let plain = crypto::open_parts(old, &aad(RECORD_LABEL, &parts, old_id, seq), &nonce, &ct)
            .map_err(|_| tampered("sync record", hex::encode(&id)))?;
        let s = crypto::seal(new, &aad(RECORD_LABEL, &parts, new_id, seq), &plain, rng);
        conn.execute(
            "UPDATE sync_records SET key_id = ?1, nonce = ?2, ciphertext = ?3 WHERE kind = ?4 AND id = ?5",
            rusqlite::params![new_id.0.as_slice(), s.nonce.as_slice(), s.ciphertext, kind, id],
        )?;
    }
    type OutboxRaw = (i64, String, i64, Vec<u8>, Vec<u8>);
    let outbox: Vec<OutboxRaw> = conn
        .prepare("SELECT pos, kind, changed_seq, nonce, ciphertext FROM sync_outbox")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    for (pos, kind, seq, nonce, ct) in outbox {
        let p = pos.to_be_bytes();
        let parts: [&[u8]; 2] = [kind.as_bytes(), &p];
        let plain = crypto::open_parts(old, &aad(OUTBOX_LABEL, &parts, old_id, seq), &nonce, &ct)
            .map_err(|_| tampered("sync outbox", pos.to_string()))?;
        let s = crypto::seal(new, &aad(OUTBOX_LABEL, &parts, new_id, seq), &plain, rng);
        conn.execute(
            "UPDATE sync_outbox SET key_id = ?1, nonce = ?2, ciphertext = ?3 WHERE pos = ?4",
            rusqlite::params![new_id.0.as_slice(), s.nonce.as_slice(), s.ciphertext, pos],
        )?;
    }
    Ok(())
}

/// Forgets everything sync kept but the named values in `keep` (signing
/// out), with their ledger entries.
pub(crate) fn clear(cx: &mut InTx<'_, '_>, keep: &[&str]) -> Result<(), VaultError> {
    for (k, seq) in ledger_entries(cx.tx)? {
        let kept = k.kind() == LEDGER_STATE && keep.iter().any(|n| n.as_bytes() == k.id());
        if !kept {
            cx.ledger.remove(cx.tx, &k, seq)?;
        }
    }
    cx.tx.execute("DELETE FROM sync_outbox", [])?;
    cx.tx.execute("DELETE FROM sync_records", [])?;
    let mut stmt = cx.tx.prepare("SELECT name FROM sync_state")?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for n in names {
        if !keep.contains(&n.as_str()) {
            cx.tx
                .execute("DELETE FROM sync_state WHERE name = ?1", [n])?;
        }
    }
    Ok(())
}
