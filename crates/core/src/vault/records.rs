//! Sealed records on disk ↔ domain values in memory.
//!
//! Every record's AAD binds its kind, id, format, key id and change
//! sequence, and every write goes through [`Vault::commit_with`], which
//! updates the integrity ledger (`integrity.rs`) in the same transaction;
//! `load` checks the records found (and the history and reminder state)
//! against it, and `read_changed_since` checks what a refresh reloads.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{compact, integrity, Entry, Vault};
use crate::crypto::{self, KeyId, RecordContext, RecordKind, SecretKey, SecureRng};
use crate::domain::{Id, List, Task, TaskId, FORMAT_VERSION};
use crate::error::VaultError;
use crate::ledger::{EntryKey, EntryRef, Found};
use crate::order::OrderKey;

/// One record to write in a transaction.
pub(crate) enum Write {
    /// `expected_seq` is `None` for a new record, else the sequence the
    /// caller last saw; a mismatch means another process wrote it.
    Put {
        kind: RecordKind,
        id: Id,
        /// The payload's record format (bound into the AAD).
        format: u16,
        plaintext: zeroize::Zeroizing<Vec<u8>>,
        expected_seq: Option<i64>,
    },
    Delete {
        kind: RecordKind,
        id: Id,
        expected_seq: i64,
    },
}

/// What extra work inside a commit's transaction gets: the transaction,
/// the ledger changes being made, and what to seal with at the new
/// change sequence.
pub(crate) struct InTx<'t, 'k> {
    pub tx: &'t rusqlite::Transaction<'t>,
    pub ledger: &'t mut integrity::Pending<'k>,
    pub key: &'k SecretKey,
    pub key_id: KeyId,
    pub seq: i64,
    pub rng: &'t mut dyn SecureRng,
}

/// Extra work inside a commit's transaction; see [`Vault::commit_with`].
pub(crate) type TxHook<'a> = &'a mut dyn FnMut(&mut InTx<'_, '_>) -> Result<(), VaultError>;

/// What changed on disk after a change sequence (see
/// [`Vault::read_changed_since`]).
pub(super) struct ChangedSince {
    pub tasks: Vec<(Task, i64)>,
    pub lists: Vec<(List, i64)>,
    /// Records deleted after the sequence (and not written again since).
    pub deleted: Vec<(RecordKind, Id)>,
    /// The vault's change sequence these reads are consistent with.
    pub seq: i64,
}

/// The JSON payload of format 1 (lists, history entries, local state,
/// and tasks written before format 2).
pub(crate) fn encode<T: serde::Serialize>(v: &T) -> zeroize::Zeroizing<Vec<u8>> {
    // Serialising our own plain structs to a Vec cannot fail.
    zeroize::Zeroizing::new(serde_json::to_vec(v).expect("domain types serialise"))
}

/// A task's record payload as written now, and its format.
pub(crate) fn task_payload(t: &Task) -> (u16, zeroize::Zeroizing<Vec<u8>>) {
    (compact::FORMAT, zeroize::Zeroizing::new(compact::encode(t)))
}

/// A list's record payload as written now, and its format.
pub(crate) fn list_payload(l: &List) -> (u16, zeroize::Zeroizing<Vec<u8>>) {
    (FORMAT_VERSION, encode(l))
}

/// A stored `format` column as the AAD binds it; a value no format has
/// (only a damaged row has one) gives an AAD nothing was sealed with.
pub(crate) fn row_format(format: i64) -> u16 {
    u16::try_from(format).unwrap_or(u16::MAX)
}

/// Which AAD the stored records carry: v1 (no change sequence) only in a
/// vault that predates the ledger and is about to be upgraded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aad {
    V1,
    V2,
}

/// The AAD of a format-1 (JSON) payload: history entries, local state.
pub(crate) fn aad(aad_v: Aad, kind: RecordKind, id: &[u8], key_id: KeyId, seq: i64) -> Vec<u8> {
    record_aad(aad_v, kind, id, FORMAT_VERSION, key_id, seq)
}

/// The AAD of a record stored in `format`.
pub(crate) fn record_aad(
    aad: Aad,
    kind: RecordKind,
    id: &[u8],
    format: u16,
    key_id: KeyId,
    seq: i64,
) -> Vec<u8> {
    let ctx = RecordContext {
        kind,
        id,
        format,
        key_id,
        seq,
    };
    match aad {
        Aad::V1 => ctx.aad_v1(),
        Aad::V2 => ctx.aad(),
    }
}

/// A records row as stored, before decryption.
pub(crate) struct RawRecord {
    pub kind: RecordKind,
    pub id: Short<16>,
    pub format: i64,
    pub key_id: Short<8>,
    pub nonce: Short<24>,
    pub ct: Vec<u8>,
    pub seq: i64,
}

/// A short column (id, key id, nonce) held inline, so that reading a row
/// allocates only for its ciphertext (unlock reads 100k rows on one
/// thread and frees them on others). A longer value — only a damaged row
/// has one — is kept whole, to be reported as found.
pub(crate) struct Short<const N: usize> {
    len: usize,
    inline: [u8; N],
    long: Vec<u8>,
}

impl<const N: usize> Short<N> {
    pub fn new(b: &[u8]) -> Self {
        let mut inline = [0; N];
        if b.len() <= N {
            inline[..b.len()].copy_from_slice(b);
            Short {
                len: b.len(),
                inline,
                long: Vec::new(),
            }
        } else {
            Short {
                len: b.len(),
                inline,
                long: b.to_vec(),
            }
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        if self.len <= N {
            &self.inline[..self.len]
        } else {
            &self.long
        }
    }
}

impl<const N: usize> std::ops::Deref for Short<N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Everything `load` reads, installed into the vault only when complete.
struct Loaded {
    tasks: HashMap<TaskId, Entry<Task>>,
    lists: HashMap<Id, Entry<List>>,
    last_order: Option<OrderKey>,
    /// The ledger head's sequence, or `None` for a vault to upgrade.
    head_seq: Option<i64>,
}

/// What a load found, as the maps it builds anyway: the ledger check
/// looks records up there instead of copying 100k keys. Everything else
/// the ledger covers (history entries and the tops of their stacks,
/// local state: a few hundred entries) is in `others`.
struct LoadedRecords<'a> {
    tasks: &'a HashMap<TaskId, Entry<Task>>,
    lists: &'a HashMap<Id, Entry<List>>,
    others: &'a HashMap<EntryKey, i64>,
}

impl Found for LoadedRecords<'_> {
    fn seq_of(&self, e: EntryRef) -> Option<i64> {
        // Exhaustive on purpose: a new kind must say where it is loaded,
        // or it would be reported missing on every open.
        let id = || <[u8; 16]>::try_from(e.id).ok().map(Id::from_bytes);
        match RecordKind::parse(e.kind) {
            Some(RecordKind::Task) => self.tasks.get(&id()?).map(|x| x.seq),
            Some(RecordKind::List) => self.lists.get(&id()?).map(|x| x.seq),
            Some(RecordKind::History | RecordKind::Reminders) | None => {
                self.others.get(&e.to_key()).copied()
            }
        }
    }

    fn count(&self) -> usize {
        self.tasks.len() + self.lists.len() + self.others.len()
    }

    fn entries(&self) -> Vec<(EntryKey, i64)> {
        let key = |kind: RecordKind, id: &Id, seq: i64| {
            (EntryKey::new(kind.as_str(), id.as_bytes()), seq)
        };
        self.tasks
            .iter()
            .map(|(id, e)| key(RecordKind::Task, id, e.seq))
            .chain(
                self.lists
                    .iter()
                    .map(|(id, e)| key(RecordKind::List, id, e.seq)),
            )
            .chain(self.others.iter().map(|(k, s)| (k.clone(), *s)))
            .collect()
    }
}

/// The committed entries, opened and indexed compactly for the check of
/// a load (built on another thread while the load builds its maps).
struct CommittedIndex {
    parts: Vec<crate::ledger::PartView>,
    /// Tasks and lists per kind, so that the check of each record is one
    /// lookup by id.
    seqs: HashMap<RecordKind, HashMap<Id, i64>>,
    len: usize,
    /// Every other committed entry (history, local state, and anything
    /// no loaded map could hold).
    others: HashMap<EntryKey, i64>,
}

impl CommittedIndex {
    fn build(parts: Vec<crate::ledger::PartView>) -> Self {
        let mut seqs: HashMap<RecordKind, HashMap<Id, i64>> = HashMap::new();
        let mut others = HashMap::new();
        let mut len = 0;
        // Sized once for every entry (nearly all are tasks), not grown
        // through a dozen rehashes.
        let total: usize = parts.iter().map(|p| p.len()).sum();
        for (e, seq) in parts.iter().flat_map(|p| p.iter()) {
            let record = RecordKind::parse(e.kind)
                .filter(|k| matches!(k, RecordKind::Task | RecordKind::List));
            match (record, <[u8; 16]>::try_from(e.id)) {
                (Some(kind), Ok(id)) => {
                    seqs.entry(kind)
                        .or_insert_with(|| match kind {
                            RecordKind::Task => HashMap::with_capacity(total),
                            _ => HashMap::new(),
                        })
                        .insert(Id::from_bytes(id), seq);
                    len += 1;
                }
                _ => {
                    others.insert(e.to_key(), seq);
                }
            }
        }
        CommittedIndex {
            parts,
            seqs,
            len,
            others,
        }
    }

    /// The committed sequences of one kind.
    fn of_kind(&self, kind: RecordKind) -> Option<&HashMap<Id, i64>> {
        self.seqs.get(&kind)
    }

    /// Whether this record is committed at this sequence.
    fn agrees(&self, kind: RecordKind, id: &Id, seq: i64) -> bool {
        self.of_kind(kind).and_then(|m| m.get(id)) == Some(&seq)
    }

    /// Equal sets: same size, every loaded record committed at its
    /// sequence (`all_agree`, from [`Self::agrees`] on each), and the
    /// other entries equal. Only if not does the slow path work out what
    /// differs.
    fn verify(&self, found: &LoadedRecords, all_agree: bool) -> Result<(), VaultError> {
        if all_agree
            && self.len + self.others.len() == found.count()
            && &self.others == found.others
        {
            return Ok(());
        }
        integrity::verify(&self.parts, found)
    }
}

/// The key id the vault file names now (it changes on rotation).
pub(crate) fn stored_key_id(conn: &Connection) -> Result<Vec<u8>, VaultError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE name = 'key_id'", [], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .optional()?
        .unwrap_or_default())
}

/// Fails with `key_rotated` unless the file's key is still `key_id`.
/// Every writer calls it inside its transaction: a process holding a key
/// that another one replaced must not write under it.
pub(crate) fn check_key(conn: &Connection, key_id: KeyId) -> Result<(), VaultError> {
    if stored_key_id(conn)? != key_id.0 {
        return Err(VaultError::KeyRotated);
    }
    Ok(())
}

/// Streams the records rows (of one kind, or all) to `each`.
pub(crate) fn read_raw(
    conn: &Connection,
    dir: &std::path::Path,
    kind: Option<RecordKind>,
    each: impl FnMut(RawRecord),
) -> Result<(), VaultError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq FROM records
         WHERE ?1 IS NULL OR kind = ?1",
    )?;
    let rows = stmt.query([kind.map(RecordKind::as_str)])?;
    read_rows(rows, dir, each)
}

/// Streams the records rows of `kind` to `each` as borrowed from SQLite
/// (the unlock pipeline copies them into its batches).
fn read_kind_borrowed(
    conn: &Connection,
    dir: &std::path::Path,
    kind: RecordKind,
    each: impl FnMut(RowHead<'_>, &[u8]),
) -> Result<(), VaultError> {
    // The same statement as `read_raw`'s: written so, SQLite scans the
    // table in storage order; `WHERE kind = ?1` alone would walk the
    // (kind, id) index and fetch each row from a random place.
    let mut stmt = conn.prepare_cached(
        "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq FROM records
         WHERE ?1 IS NULL OR kind = ?1",
    )?;
    let rows = stmt.query([Some(kind.as_str())])?;
    read_rows_borrowed(rows, dir, each)
}

/// Rows of `kind, id, format, key_id, nonce, ciphertext, changed_seq`.
fn read_rows(
    rows: rusqlite::Rows<'_>,
    dir: &std::path::Path,
    mut each: impl FnMut(RawRecord),
) -> Result<(), VaultError> {
    read_rows_borrowed(rows, dir, |head, ct| {
        each(RawRecord {
            kind: head.kind,
            id: Short::new(head.id),
            format: head.format,
            key_id: Short::new(head.key_id),
            nonce: Short::new(head.nonce),
            ct: ct.to_vec(),
            seq: head.seq,
        })
    })
}

/// [`read_rows`] without copying: each row's columns as SQLite holds them.
fn read_rows_borrowed(
    mut rows: rusqlite::Rows<'_>,
    dir: &std::path::Path,
    mut each: impl FnMut(RowHead<'_>, &[u8]),
) -> Result<(), VaultError> {
    while let Some(r) = rows.next()? {
        // Read bytes whatever the stored type: an edited row whose blob
        // became text must be reported as tampered, not as a storage
        // error.
        let bytes = |i: usize| -> Result<&[u8], VaultError> {
            Ok(match r.get_ref(i)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => &[],
            })
        };
        let kind_s = String::from_utf8_lossy(bytes(0)?);
        let kind = RecordKind::parse(&kind_s)
            .filter(|k| matches!(k, RecordKind::Task | RecordKind::List))
            .ok_or_else(|| VaultError::Corrupt {
                dir: dir.to_path_buf(),
                detail: format!("unknown record kind `{kind_s}`"),
            })?;
        let head = RowHead {
            kind,
            id: bytes(1)?,
            format: r.get(2)?,
            key_id: bytes(3)?,
            nonce: bytes(4)?,
            seq: r.get(6)?,
        };
        each(head, bytes(5)?);
    }
    Ok(())
}

/// Task rows read for the workers: their ciphertexts back to back in one
/// buffer, so reading a row allocates nothing and a worker frees one
/// buffer per batch, not one per row (allocating on the reading thread
/// and freeing on another was a tenth of unlock's CPU time in malloc).
struct RawBatch {
    rows: Vec<BatchRow>,
    cts: Vec<u8>,
}

struct BatchRow {
    id: Short<16>,
    format: i64,
    key_id: Short<8>,
    nonce: Short<24>,
    seq: i64,
    ct: std::ops::Range<usize>,
}

impl RawBatch {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        RawBatch {
            rows: Vec::with_capacity(rows),
            cts: Vec::with_capacity(bytes),
        }
    }

    fn push(&mut self, head: &RowHead<'_>, ct: &[u8]) {
        let start = self.cts.len();
        self.cts.extend_from_slice(ct);
        self.rows.push(BatchRow {
            id: Short::new(head.id),
            format: head.format,
            key_id: Short::new(head.key_id),
            nonce: Short::new(head.nonce),
            seq: head.seq,
            ct: start..self.cts.len(),
        });
    }
}

impl BatchRow {
    fn head(&self) -> RowHead<'_> {
        RowHead {
            kind: RecordKind::Task,
            id: &self.id,
            format: self.format,
            key_id: &self.key_id,
            nonce: &self.nonce,
            seq: self.seq,
        }
    }

    /// The row as read (its ciphertext as `open_row` left it on failure:
    /// untouched), for diagnosis.
    fn to_raw(&self, cts: &[u8]) -> RawRecord {
        RawRecord {
            kind: RecordKind::Task,
            id: Short::new(&self.id),
            format: self.format,
            key_id: Short::new(&self.key_id),
            nonce: Short::new(&self.nonce),
            ct: cts[self.ct.clone()].to_vec(),
            seq: self.seq,
        }
    }
}

/// Seals and inserts the records of a vault being built (creation,
/// restore) at `seq`, with a ledger committing to exactly them.
pub(crate) fn insert_initial(
    conn: &Connection,
    key: &SecretKey,
    key_id: KeyId,
    vault_id: &Id,
    rows: &[(RecordKind, Id, u16, zeroize::Zeroizing<Vec<u8>>)],
    seq: i64,
    rng: &mut dyn SecureRng,
) -> Result<(), VaultError> {
    let mut stmt = conn.prepare(
        "INSERT INTO records (kind, id, format, key_id, nonce, ciphertext, changed_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (kind, id, format, plain) in rows {
        let s = crypto::seal(
            key,
            &record_aad(Aad::V2, *kind, id.as_bytes(), *format, key_id, seq),
            plain,
            rng,
        );
        stmt.execute(rusqlite::params![
            kind.as_str(),
            id.as_bytes().as_slice(),
            format,
            key_id.0.as_slice(),
            s.nonce.as_slice(),
            s.ciphertext,
            seq
        ])?;
    }
    let entries = rows
        .iter()
        .map(|(kind, id, _, _)| (EntryKey::new(kind.as_str(), id.as_bytes()), seq));
    integrity::write_fresh(
        conn,
        key,
        integrity::scope(vault_id, key_id),
        entries,
        seq,
        rng,
    )?;
    mirror_change_seq(conn, seq)
}

/// Mirrors the ledger head's sequence into `meta` in the same
/// transaction: a plaintext hint for readers that only need to know
/// whether something changed (refresh, sync), never trusted for
/// integrity — the sealed head is what load and rotation check.
pub(crate) fn mirror_change_seq(conn: &Connection, seq: i64) -> Result<(), VaultError> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (name, value) VALUES ('change_seq', ?1)",
        [seq],
    )?;
    Ok(())
}

impl Vault {
    /// Decrypts every record into memory and checks the set against the
    /// integrity ledger. Any record that fails, and any record missing,
    /// older than committed or back from deletion, is a hard error naming
    /// it: a vault is never shown partially.
    ///
    /// A vault written before the ledger existed is upgraded here, the
    /// first time its key is at hand.
    pub(super) fn load(&mut self) -> Result<(), VaultError> {
        loop {
            let loaded = self.read_all()?;
            let seen = match loaded.head_seq {
                Some(seq) => seq,
                None => match self.upgrade_legacy()? {
                    Some(seq) => seq,
                    // Another process upgraded it meanwhile: read again.
                    None => continue,
                },
            };
            self.tasks = loaded.tasks;
            self.lists = loaded.lists;
            // Built again, from these tasks, when first needed.
            self.search_index = Default::default();
            self.last_order = loaded.last_order;
            self.seen_seq = seen;
            return Ok(());
        }
    }

    /// Reads everything in one read transaction, so a concurrent writer
    /// cannot give it a torn view (records from before and after one of
    /// its commits, or a ledger that does not match the records).
    ///
    /// Rows are read on this thread; decryption, parsing and search
    /// indexing are spread over the available cores (they dominate unlock
    /// time for large vaults).
    fn read_all(&self) -> Result<Loaded, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        if stored_key_id(&tx)? != self.key_id.0 {
            return Err(VaultError::KeyRotated);
        }
        // Rows are read per kind below; a row of any other kind (or whose
        // kind is no longer text) must fail the load, not be skipped. As
        // ranges around the two kinds (SQLite orders numbers before text
        // before blobs), so that the (kind, id) index answers with a seek
        // instead of a scan of the whole index (~15 ms at 100k records).
        let odd: Option<Vec<u8>> = tx
            .query_row(
                "SELECT CAST(kind AS BLOB) FROM records
                 WHERE kind < 'list' OR (kind > 'list' AND kind < 'task') OR kind > 'task'
                 LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(kind) = odd {
            return Err(VaultError::Corrupt {
                dir: self.dir.clone(),
                detail: format!("unknown record kind `{}`", String::from_utf8_lossy(&kind)),
            });
        }
        let scope = integrity::scope(&self.vault_id, self.key_id);
        let head = integrity::read_head(&tx, &self.key, scope)?;
        let aad_v = match &head {
            Some(_) => Aad::V2,
            None if self.key_id.is_derived_from(&self.key) => return Err(integrity::head_missing()),
            None => Aad::V1,
        };
        // The ledger's parts are read first, so that another core can open
        // and index them while the records are read and decrypted.
        let sealed = match &head {
            Some(h) => Some(integrity::read_sealed_parts(&tx, h)?),
            None => None,
        };
        let (key, key_id) = (&self.key, self.key_id);
        let mut lists = HashMap::new();
        let mut failed: Option<(OpenFailure, RawRecord)> = None;
        read_raw(
            &tx,
            &self.dir,
            Some(RecordKind::List),
            |raw| match open_raw::<List>(key, key_id, aad_v, raw) {
                Ok((l, seq)) => {
                    lists.insert(l.id, Entry { value: l, seq });
                }
                Err(f) => failed = failed.take().or(Some(*f)),
            },
        )?;
        if let Some((f, raw)) = failed {
            return Err(self.failure(f, &raw, aad_v, head.as_ref().map(|h| h.seq)));
        }

        // Tasks: this thread reads batches of rows while workers decrypt
        // and parse the batches already read; once every row is read, it
        // puts the workers' results into the task map (and checks each
        // against the ledger) while they finish, so no core idles at the
        // end. The search index is not built here (`search_index.rs`).
        const BATCH: usize = 2048;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        type Opened = Result<Vec<(Task, i64)>, (OpenFailure, RawRecord)>;
        type Index = Option<Result<CommittedIndex, VaultError>>;
        let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<RawBatch>(workers * 2);
        let batch_rx = std::sync::Mutex::new(batch_rx);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Opened>();
        // A small ledger is indexed here and now; a large one on its own
        // thread, beside the record pipeline (a thread costs more than a
        // few thousand entries take).
        const INDEX_ON_A_THREAD: u64 = 16_384;
        let (sealed, mut index): (_, Index) = match sealed {
            Some(p) if p.count() < INDEX_ON_A_THREAD => {
                (None, Some(p.open(key, scope).map(CommittedIndex::build)))
            }
            other => (other, None),
        };
        // The ledger's count (sealed, so not an attacker's number, but
        // bounded anyway) sizes the map once instead of growing it.
        let expected = head.as_ref().map_or(0, |h| h.count.min(1 << 20) as usize);
        let mut tasks: HashMap<TaskId, Entry<Task>> = HashMap::with_capacity(expected);
        let mut agree = true;
        let mut failure: Option<(OpenFailure, RawRecord)> = None;
        let read_result: Result<(), VaultError> = std::thread::scope(|threads| {
            let index_thread = sealed.map(|sealed| {
                threads.spawn(move || sealed.open(key, scope).map(CommittedIndex::build))
            });
            for _ in 0..workers {
                let batch_rx = &batch_rx;
                let done_tx = done_tx.clone();
                threads.spawn(move || {
                    let mut failed = false;
                    loop {
                        let next = batch_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok(batch)) = next else { break };
                        // After a failure the load fails anyway: batches
                        // are only taken (so the reader never blocks on a
                        // full channel), not opened.
                        if failed {
                            continue;
                        }
                        let RawBatch { rows, mut cts } = batch;
                        let mut out = Vec::with_capacity(rows.len());
                        let mut opened = Ok(());
                        for row in &rows {
                            let ct = &mut cts[row.ct.clone()];
                            match open_row::<Task>(key, key_id, aad_v, &row.head(), ct) {
                                Ok(t) => out.push((t, row.seq)),
                                Err(f) => {
                                    opened = Err((f, row.to_raw(&cts)));
                                    break;
                                }
                            }
                        }
                        failed = opened.is_err();
                        let _ = done_tx.send(opened.map(|()| out));
                    }
                });
            }
            drop(done_tx);
            let mut batch = RawBatch::with_capacity(BATCH, BATCH * 256);
            let read = read_kind_borrowed(&tx, &self.dir, RecordKind::Task, |head, ct| {
                batch.push(&head, ct);
                if batch.rows.len() == BATCH {
                    // The next batch is likely as big as this one.
                    let bytes = batch.cts.len() + batch.cts.len() / 8;
                    let full = std::mem::replace(&mut batch, RawBatch::with_capacity(BATCH, bytes));
                    let _ = batch_tx.send(full);
                }
            });
            if !batch.rows.is_empty() {
                let _ = batch_tx.send(batch);
            }
            drop(batch_tx);
            if let Some(h) = index_thread {
                index = Some(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            // Each record is checked against the ledger as it goes into
            // its map, while its data is at hand; only on a difference
            // does the slow path (`CommittedIndex::verify`) work out what
            // differs.
            let task_seqs = match &index {
                Some(Ok(i)) => Some(i.of_kind(RecordKind::Task)),
                _ => None,
            };
            // Ends when every worker has stopped (their senders dropped).
            for opened in done_rx.iter() {
                match opened {
                    Ok(part) => {
                        for (t, seq) in part {
                            if let Some(committed) = task_seqs {
                                agree &= committed.and_then(|m| m.get(&t.id)) == Some(&seq);
                            }
                            tasks.insert(t.id, Entry { value: t, seq });
                        }
                    }
                    Err(f) => failure = failure.take().or(Some(f)),
                }
            }
            read
        });
        if let Some((f, raw)) = failure {
            return Err(self.failure(f, &raw, aad_v, head.as_ref().map(|h| h.seq)));
        }
        read_result?;
        // Everything else the ledger covers, in the same read transaction
        // (a vault to upgrade has none of it sealed the new way yet).
        let mut others = HashMap::new();
        if head.is_some() {
            others.extend(super::history::ledger_entries(&tx, key_id)?);
            others.extend(super::reminder_state::ledger_entries(&tx, key, key_id)?);
            others.extend(super::sync::store::ledger_entries(&tx)?);
        }
        tx.commit()?;
        let index = index.transpose()?;
        if let Some(index) = index {
            agree &= lists
                .iter()
                .all(|(id, e)| index.agrees(RecordKind::List, id, e.seq));
            let found = LoadedRecords {
                tasks: &tasks,
                lists: &lists,
                others: &others,
            };
            index.verify(&found, agree)?;
        }
        let last_order = tasks.values().map(|e| &e.value.order).max().cloned();
        Ok(Loaded {
            tasks,
            lists,
            last_order,
            head_seq: head.map(|h| h.seq),
        })
    }

    /// Brings a vault written before the ledger existed (schema 2, or 3
    /// with undo history and reminder state) up to date, in one
    /// transaction: every record, history entry and local state re-sealed
    /// with its change sequence in the AAD, and a ledger committing to
    /// them. Returns the head's sequence, or `None` if another process did
    /// it first.
    ///
    /// Nothing can have changed since `read_all`: older apps cannot open a
    /// schema-4 file, and newer ones only write after upgrading.
    fn upgrade_legacy(&mut self) -> Result<Option<i64>, VaultError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_key(&tx, self.key_id)?;
        let scope = integrity::scope(&self.vault_id, self.key_id);
        if integrity::read_head(&tx, &self.key, scope)?.is_some() {
            return Ok(None);
        }
        let mut rows = Vec::new();
        read_raw(&tx, &self.dir, None, |raw| rows.push(raw))?;
        // The newest sequence ever used, deletions included, so that the
        // ledger's sequence never goes back.
        let mut max_seq: i64 = tx.query_row(
            "SELECT max(
                 coalesce((SELECT value FROM meta WHERE name = 'change_seq'), 0),
                 coalesce((SELECT max(changed_seq) FROM tombstones), 0))",
            [],
            |r| r.get(0),
        )?;
        let mut entries = Vec::with_capacity(rows.len());
        {
            let mut update = tx.prepare(
                "UPDATE records SET nonce = ?1, ciphertext = ?2 WHERE kind = ?3 AND id = ?4",
            )?;
            for raw in &rows {
                let format = row_format(raw.format);
                let old = record_aad(Aad::V1, raw.kind, &raw.id, format, self.key_id, raw.seq);
                let plain =
                    crypto::open_parts(&self.key, &old, &raw.nonce, &raw.ct).map_err(|_| {
                        VaultError::RecordTampered {
                            kind: raw.kind.as_str(),
                            id: VaultError::id_text(&raw.id),
                        }
                    })?;
                let new = record_aad(Aad::V2, raw.kind, &raw.id, format, self.key_id, raw.seq);
                let s = crypto::seal(&self.key, &new, &plain, self.env.rng.as_mut());
                update.execute(rusqlite::params![
                    s.nonce.as_slice(),
                    s.ciphertext,
                    raw.kind.as_str(),
                    raw.id.as_slice()
                ])?;
                max_seq = max_seq.max(raw.seq);
                entries.push((EntryKey::new(raw.kind.as_str(), &raw.id), raw.seq));
            }
        }
        // History entries and local state get sequences of their own
        // above every record's, in order (see `history::upgrade_legacy`).
        let mut seq = max_seq;
        let rng = self.env.rng.as_mut();
        entries.extend(super::history::upgrade_legacy(
            &tx,
            &self.key,
            self.key_id,
            &mut seq,
            rng,
        )?);
        entries.extend(super::reminder_state::upgrade_legacy(
            &tx,
            &self.key,
            self.key_id,
            &mut seq,
            rng,
        )?);
        integrity::write_fresh(&tx, &self.key, scope, entries, seq, rng)?;
        mirror_change_seq(&tx, seq)?;
        tx.commit()?;
        Ok(Some(seq))
    }

    /// Turns a worker's failure into the error to show; an AEAD failure
    /// is diagnosed (tampered, moved, or an older copy) with the database
    /// at hand.
    fn failure(
        &self,
        f: OpenFailure,
        raw: &RawRecord,
        aad_v: Aad,
        head: Option<i64>,
    ) -> VaultError {
        match f {
            OpenFailure::Aead => self.diagnose(raw, aad_v, head),
            OpenFailure::Other(e) => e,
        }
    }

    /// Works out why a record failed to open: it authenticates as some
    /// other record (moved/swapped), as an older write of itself whose
    /// sequence column was edited to pass (rolled back), or not at all.
    fn diagnose(&self, raw: &RawRecord, aad_v: Aad, head: Option<i64>) -> VaultError {
        let (kind, id) = (raw.kind, raw.id.as_slice());
        let opens = |aad: &[u8]| crypto::open_parts(&self.key, aad, &raw.nonce, &raw.ct).is_ok();
        let candidates: Vec<(String, Vec<u8>, i64, i64)> = self
            .conn
            .prepare("SELECT kind, id, changed_seq, format FROM records")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect::<Result<_, _>>()
            })
            .unwrap_or_default();
        for (other_kind, other_id, other_seq, other_format) in candidates {
            let Some(other_kind) = RecordKind::parse(&other_kind) else {
                continue;
            };
            if other_kind == kind && other_id == id {
                continue;
            }
            let other_format = row_format(other_format);
            if opens(&record_aad(
                aad_v,
                other_kind,
                &other_id,
                other_format,
                self.key_id,
                other_seq,
            )) {
                return VaultError::RecordMoved {
                    kind: VaultError::record_kind(kind),
                    found_at: VaultError::id_text(id),
                    belongs_to: format!(
                        "{} {}",
                        other_kind.as_str(),
                        VaultError::id_text(&other_id)
                    ),
                };
            }
        }
        // An older ciphertext of this record, put back under its current
        // sequence number: it opens only with the sequence it was written
        // at. Bounded, since this is only the diagnosis of a failure.
        if let (Aad::V2, Some(head)) = (aad_v, head) {
            const TRIES: i64 = 1 << 20;
            for seq in (head.saturating_sub(TRIES).max(0)..=head).rev() {
                let format = row_format(raw.format);
                if seq != raw.seq && opens(&record_aad(Aad::V2, kind, id, format, self.key_id, seq))
                {
                    return VaultError::VaultRolledBack {
                        what: format!(
                            "{} {} is an older version (change {seq}) stored as change {}",
                            kind.as_str(),
                            VaultError::id_text(id),
                            raw.seq
                        ),
                    };
                }
            }
        }
        VaultError::RecordTampered {
            kind: VaultError::record_kind(kind),
            id: VaultError::id_text(id),
        }
    }

    /// The ledger as committed, for checks inside a read transaction
    /// (never written through: it is dropped unfinished). Fails with
    /// `key_rotated` if another process replaced the key.
    pub(super) fn ledger_reader<'a>(
        &'a self,
        conn: &Connection,
    ) -> Result<integrity::Pending<'a>, VaultError> {
        check_key(conn, self.key_id)?;
        integrity::Pending::begin(
            conn,
            &self.key,
            integrity::scope(&self.vault_id, self.key_id),
        )
    }

    /// Every task and list written after change sequence `since`, and
    /// every deletion after it, read in one read transaction and checked
    /// against the integrity ledger read in the same transaction: a row
    /// put back, rolled back or dropped outside the app is an error, never
    /// a change to apply. Only the ledger parts those rows live in are
    /// opened, so a refresh costs what changed, not the vault's size.
    pub(super) fn read_changed_since(&self, since: i64) -> Result<ChangedSince, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        // A process still holding a key another one rotated away must
        // reopen, not misread what the new key sealed.
        check_key(&tx, self.key_id)?;
        let scope = integrity::scope(&self.vault_id, self.key_id);
        let mut ledger = integrity::Pending::begin(&tx, &self.key, scope)?;
        let seq = ledger.head.seq;
        if seq < since {
            return Err(VaultError::VaultRolledBack {
                what: format!(
                    "the integrity ledger is at change {seq}, but this process already read change {since}"
                ),
            });
        }
        let mut raws = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq
                 FROM records WHERE changed_seq > ?1",
            )?;
            let rows = stmt.query([since])?;
            read_rows(rows, &self.dir, |raw| raws.push(raw))?;
        }
        for raw in &raws {
            let key = EntryKey::new(raw.kind.as_str(), &raw.id);
            let committed = ledger.get(&tx, &key)?;
            if committed != Some(raw.seq) {
                return Err(integrity::entry_disagreement(key, committed, Some(raw.seq)));
            }
        }
        let mut deleted = Vec::new();
        {
            let mut stmt = tx.prepare_cached(
                "SELECT t.kind, t.id FROM tombstones t
                 WHERE t.changed_seq > ?1
                   AND NOT EXISTS (SELECT 1 FROM records r WHERE r.kind = t.kind AND r.id = t.id)",
            )?;
            let mut rows = stmt.query([since])?;
            while let Some(r) = rows.next()? {
                let kind: String = r.get(0)?;
                let id: Vec<u8> = r.get(1)?;
                let (Some(kind), Ok(id)) = (RecordKind::parse(&kind), <[u8; 16]>::try_from(id))
                else {
                    continue;
                };
                // Tombstones are plaintext hints: a record is gone only if
                // the ledger no longer commits to it.
                let key = EntryKey::new(kind.as_str(), &id);
                if let Some(committed) = ledger.get(&tx, &key)? {
                    return Err(integrity::entry_disagreement(key, Some(committed), None));
                }
                deleted.push((kind, Id::from_bytes(id)));
            }
        }
        drop(ledger);
        tx.finish()?;
        let (key, key_id) = (&self.key, self.key_id);
        let mut out = ChangedSince {
            tasks: Vec::new(),
            lists: Vec::new(),
            deleted,
            seq,
        };
        for raw in raws {
            let opened = match raw.kind {
                RecordKind::Task => open_raw(key, key_id, Aad::V2, raw).map(|t| out.tasks.push(t)),
                _ => open_raw(key, key_id, Aad::V2, raw).map(|l| out.lists.push(l)),
            };
            if let Err(failed) = opened {
                let (f, raw) = *failed;
                return Err(self.failure(f, &raw, Aad::V2, Some(seq)));
            }
        }
        Ok(out)
    }

    /// Applies `writes` in one durable transaction and returns the new
    /// change sequence every written record now carries. Inside the
    /// transaction it checks that the vault's key is still ours, runs
    /// `hook` (the undo history, reminder state: whatever else the action
    /// writes, with the same sequence and ledger), checks that every
    /// record is at the sequence the caller saw, and updates the
    /// integrity ledger. An error anywhere rolls everything back.
    pub(crate) fn commit_with(
        &mut self,
        writes: Vec<Write>,
        hook: TxHook<'_>,
    ) -> Result<i64, VaultError> {
        let key_id = self.key_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_key(&tx, key_id)?;
        let scope = integrity::scope(&self.vault_id, key_id);
        let mut ledger = integrity::Pending::begin(&tx, &self.key, scope)?;
        let prev = ledger.head.seq;
        let seq = prev + 1;
        hook(&mut InTx {
            tx: &tx,
            ledger: &mut ledger,
            key: &self.key,
            key_id,
            seq,
            rng: self.env.rng.as_mut(),
        })?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (kind, id, format, key_id, nonce, ciphertext, changed_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE records SET format = ?3, key_id = ?4, nonce = ?5, ciphertext = ?6, changed_seq = ?7
                 WHERE kind = ?1 AND id = ?2 AND changed_seq = ?8",
            )?;
            let mut delete = tx.prepare_cached(
                "DELETE FROM records WHERE kind = ?1 AND id = ?2 AND changed_seq = ?3",
            )?;
            let mut tomb = tx.prepare_cached(
                "INSERT OR REPLACE INTO tombstones (kind, id, changed_seq) VALUES (?1, ?2, ?3)",
            )?;
            for w in &writes {
                match w {
                    Write::Put {
                        kind,
                        id,
                        format,
                        plaintext,
                        expected_seq,
                    } => {
                        let s = crypto::seal(
                            &self.key,
                            &record_aad(Aad::V2, *kind, id.as_bytes(), *format, key_id, seq),
                            plaintext,
                            self.env.rng.as_mut(),
                        );
                        let n = match expected_seq {
                            None => insert.execute(rusqlite::params![
                                kind.as_str(),
                                id.as_bytes().as_slice(),
                                format,
                                key_id.0.as_slice(),
                                s.nonce.as_slice(),
                                s.ciphertext,
                                seq
                            ])?,
                            Some(exp) => update.execute(rusqlite::params![
                                kind.as_str(),
                                id.as_bytes().as_slice(),
                                format,
                                key_id.0.as_slice(),
                                s.nonce.as_slice(),
                                s.ciphertext,
                                seq,
                                exp
                            ])?,
                        };
                        if n != 1 {
                            return Err(VaultError::Stale {
                                kind: kind.as_str(),
                                id: id.to_string(),
                            });
                        }
                        ledger.put(
                            &tx,
                            EntryKey::new(kind.as_str(), id.as_bytes()),
                            *expected_seq,
                            seq,
                        )?;
                    }
                    Write::Delete {
                        kind,
                        id,
                        expected_seq,
                    } => {
                        let n = delete.execute(rusqlite::params![
                            kind.as_str(),
                            id.as_bytes().as_slice(),
                            expected_seq
                        ])?;
                        if n != 1 {
                            return Err(VaultError::Stale {
                                kind: kind.as_str(),
                                id: id.to_string(),
                            });
                        }
                        tomb.execute(rusqlite::params![
                            kind.as_str(),
                            id.as_bytes().as_slice(),
                            seq
                        ])?;
                        ledger.remove(
                            &tx,
                            &EntryKey::new(kind.as_str(), id.as_bytes()),
                            *expected_seq,
                        )?;
                    }
                }
            }
        }
        ledger.finish(&tx, seq, self.env.rng.as_mut())?;
        mirror_change_seq(&tx, seq)?;
        tx.commit()?;
        // Only if nobody else committed since we last looked are we still
        // in step with the whole vault (what rotation requires).
        if prev == self.seen_seq {
            self.seen_seq = seq;
        }
        Ok(seq)
    }
}

enum OpenFailure {
    /// The ciphertext did not authenticate under its own context.
    Aead,
    Other(VaultError),
}

/// Decrypts (in the row's own buffer) and parses one row. Runs on worker
/// threads, so it touches nothing but its arguments. On failure the row
/// comes back as read, for [`Vault::diagnose`].
fn open_raw<T: Stored>(
    key: &SecretKey,
    key_id: KeyId,
    aad_v: Aad,
    mut raw: RawRecord,
) -> Result<(T, i64), Box<(OpenFailure, RawRecord)>> {
    let head = RowHead {
        kind: raw.kind,
        id: &raw.id,
        format: raw.format,
        key_id: &raw.key_id,
        nonce: &raw.nonce,
        seq: raw.seq,
    };
    match open_row(key, key_id, aad_v, &head, &mut raw.ct) {
        Ok(v) => Ok((v, raw.seq)),
        Err(f) => Err(Box::new((f, raw))),
    }
}

/// A row's columns other than its ciphertext.
struct RowHead<'a> {
    kind: RecordKind,
    id: &'a [u8],
    format: i64,
    key_id: &'a [u8],
    nonce: &'a [u8],
    seq: i64,
}

/// Decrypts `ct` where it lies and parses it; on failure `ct` is as it
/// was read.
fn open_row<T: Stored>(
    key: &SecretKey,
    key_id: KeyId,
    aad_v: Aad,
    row: &RowHead<'_>,
    ct: &mut [u8],
) -> Result<T, OpenFailure> {
    let kind_s = VaultError::record_kind(row.kind);
    let id_s = || VaultError::id_text(row.id);
    if row.key_id != key_id.0 {
        return Err(OpenFailure::Other(VaultError::RecordWrongKey {
            kind: kind_s,
            id: id_s(),
            found: hex::encode(row.key_id),
            expected: key_id.to_string(),
        }));
    }
    let format = match u16::try_from(row.format) {
        Ok(f) if T::reads(f) => f,
        _ => {
            return Err(OpenFailure::Other(VaultError::RecordUnreadable {
                kind: kind_s,
                id: id_s(),
                detail: format!(
                    "record format {}; this version reads format {} (update the app)",
                    row.format,
                    T::FORMATS
                ),
            }))
        }
    };
    let aad = record_aad(aad_v, row.kind, row.id, format, key_id, row.seq);
    let Ok(n) = crypto::open_in_slice(key, &aad, row.nonce, ct) else {
        return Err(OpenFailure::Aead);
    };
    let id = <[u8; 16]>::try_from(row.id).map(Id::from_bytes);
    let parsed = match id {
        Ok(id) => T::decode(format, id, &ct[..n]),
        Err(_) => Err(format!("row id of {} bytes", row.id.len())),
    };
    // The plaintext is not needed past here, and the buffer may outlive
    // this call (a batch): wipe it.
    zeroize::Zeroize::zeroize(&mut ct[..n]);
    parsed.map_err(|detail| {
        OpenFailure::Other(VaultError::RecordUnreadable {
            kind: kind_s,
            id: id_s(),
            detail,
        })
    })
}

/// A value stored as a record: the formats it is read in.
pub(crate) trait Stored: Sized {
    /// For the "update the app" error.
    const FORMATS: &'static str;
    fn reads(format: u16) -> bool;
    /// Parses a payload of `format` (one [`Self::reads`]) from row `id`.
    fn decode(format: u16, id: Id, plain: &[u8]) -> Result<Self, String>;
}

/// A JSON (format 1) payload, whose own id must be its row's: the AAD
/// already binds the row id, so a disagreement is a bug, not an attack.
fn decode_json<T: serde::de::DeserializeOwned + HasId>(id: Id, plain: &[u8]) -> Result<T, String> {
    let value: T = serde_json::from_slice(plain).map_err(|e| e.to_string())?;
    if value.id() != id {
        return Err(format!("payload is for {}", value.id()));
    }
    Ok(value)
}

impl Stored for Task {
    const FORMATS: &'static str = "1 or 2";
    fn reads(format: u16) -> bool {
        format == FORMAT_VERSION || format == compact::FORMAT
    }
    fn decode(format: u16, id: Id, plain: &[u8]) -> Result<Self, String> {
        if format == compact::FORMAT {
            compact::decode(id, plain).map_err(|e| e.to_string())
        } else {
            decode_json(id, plain)
        }
    }
}

impl Stored for List {
    const FORMATS: &'static str = "1";
    fn reads(format: u16) -> bool {
        format == FORMAT_VERSION
    }
    fn decode(_: u16, id: Id, plain: &[u8]) -> Result<Self, String> {
        decode_json(id, plain)
    }
}

pub(crate) trait HasId {
    fn id(&self) -> Id;
}

impl HasId for Task {
    fn id(&self) -> Id {
        self.id
    }
}

impl HasId for List {
    fn id(&self) -> Id {
        self.id
    }
}
