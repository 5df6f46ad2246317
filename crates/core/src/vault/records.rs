//! Sealed records on disk ↔ domain values in memory.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;

use super::{Entry, Vault};
use crate::crypto::{self, KeyId, RecordContext, RecordKind, Sealed, SecretKey};
use crate::domain::{Id, List, Task, FORMAT_VERSION};
use crate::error::VaultError;

/// One record to write in a transaction.
pub(crate) enum Write {
    /// `expected_seq` is `None` for a new record, else the sequence the
    /// caller last saw; a mismatch means another process wrote it.
    Put {
        kind: RecordKind,
        id: Id,
        plaintext: zeroize::Zeroizing<Vec<u8>>,
        expected_seq: Option<i64>,
    },
    Delete {
        kind: RecordKind,
        id: Id,
        expected_seq: i64,
    },
}

/// Extra work inside a commit's transaction; see [`Vault::commit_with`].
pub(crate) type TxHook<'a> =
    &'a mut dyn FnMut(&rusqlite::Transaction<'_>, i64) -> Result<(), VaultError>;

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

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> zeroize::Zeroizing<Vec<u8>> {
    // Serialising our own plain structs to a Vec cannot fail.
    zeroize::Zeroizing::new(serde_json::to_vec(v).expect("domain types serialise"))
}

/// A records row as stored, before decryption.
struct RawRecord {
    kind: RecordKind,
    id: Vec<u8>,
    format: i64,
    key_id: Vec<u8>,
    nonce: Vec<u8>,
    ct: Vec<u8>,
    seq: i64,
}

impl Vault {
    fn context<'a>(&self, kind: RecordKind, id: &'a [u8]) -> RecordContext<'a> {
        record_context(kind, id, self.key_id)
    }

    /// Decrypts every record into memory. Any record that fails is a hard
    /// error naming the record: a vault is never shown partially.
    ///
    /// Rows are read on this thread; decryption, parsing and search
    /// indexing are spread over the available cores (they dominate unlock
    /// time for large vaults).
    pub(super) fn load(&mut self) -> Result<(), VaultError> {
        // Rows are read per kind below; a row of any other kind (or whose
        // kind is no longer text) must fail the load, not be skipped.
        let odd: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT CAST(kind AS BLOB) FROM records WHERE kind NOT IN ('task', 'list') LIMIT 1",
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
        let (key, key_id) = (&self.key, self.key_id);
        let mut lists = HashMap::new();
        let mut failed: Option<(OpenFailure, RawRecord)> = None;
        self.read_raw(Some(RecordKind::List), |raw| {
            match open_raw::<List>(key, key_id, &raw) {
                Ok(l) => {
                    lists.insert(
                        l.id,
                        Entry {
                            value: l,
                            seq: raw.seq,
                        },
                    );
                }
                Err(f) => failed = failed.take().or(Some((f, raw))),
            }
        })?;
        if let Some((f, raw)) = failed {
            return Err(self.failure(f, &raw));
        }

        // Tasks: this thread reads batches of rows while workers decrypt,
        // parse and index the batches already read.
        const BATCH: usize = 2048;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let lists_ref = &lists;
        type Done = (Vec<(Task, i64, String)>, Option<(OpenFailure, RawRecord)>);
        let (batch_tx, batch_rx) = std::sync::mpsc::sync_channel::<Vec<RawRecord>>(workers * 2);
        let batch_rx = std::sync::Mutex::new(batch_rx);
        let (read_result, done): (Result<(), VaultError>, Vec<Done>) =
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        let batch_rx = &batch_rx;
                        scope.spawn(move || {
                            let mut out = Vec::new();
                            let mut failure = None;
                            loop {
                                let next = batch_rx.lock().map(|rx| rx.recv());
                                let Ok(Ok(batch)) = next else { break };
                                for raw in batch {
                                    if failure.is_some() {
                                        break;
                                    }
                                    match open_raw::<Task>(key, key_id, &raw) {
                                        Ok(t) => {
                                            let h = super::views::haystack(&t, lists_ref);
                                            out.push((t, raw.seq, h));
                                        }
                                        Err(f) => failure = Some((f, raw)),
                                    }
                                }
                            }
                            (out, failure)
                        })
                    })
                    .collect();
                let mut batch = Vec::with_capacity(BATCH);
                let read = self.read_raw(Some(RecordKind::Task), |raw| {
                    batch.push(raw);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        let _ = batch_tx.send(full);
                    }
                });
                if !batch.is_empty() {
                    let _ = batch_tx.send(batch);
                }
                drop(batch_tx);
                let done = handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect();
                (read, done)
            });
        read_result?;
        let total: usize = done.iter().map(|(v, _)| v.len()).sum();
        let mut tasks = HashMap::with_capacity(total);
        let mut haystacks = HashMap::with_capacity(total);
        for (part, failure) in done {
            if let Some((f, raw)) = failure {
                return Err(self.failure(f, &raw));
            }
            for (t, seq, h) in part {
                haystacks.insert(t.id, h);
                tasks.insert(t.id, Entry { value: t, seq });
            }
        }
        self.last_order = tasks.values().map(|e| &e.value.order).max().cloned();
        self.tasks = tasks;
        self.haystacks = haystacks;
        self.lists = lists;
        Ok(())
    }

    /// Streams the records rows (of one kind, or all) to `each`.
    fn read_raw(
        &self,
        kind: Option<RecordKind>,
        mut each: impl FnMut(RawRecord),
    ) -> Result<(), VaultError> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, id, format, key_id, nonce, ciphertext, changed_seq FROM records
             WHERE ?1 IS NULL OR kind = ?1",
        )?;
        let mut rows = stmt.query([kind.map(RecordKind::as_str)])?;
        while let Some(r) = rows.next()? {
            // Read bytes whatever the stored type: an edited row whose blob
            // became text must be reported as tampered, not as a storage
            // error.
            let bytes = |i: usize| -> Result<Vec<u8>, VaultError> {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                        b.to_vec()
                    }
                    _ => Vec::new(),
                })
            };
            let kind_b = bytes(0)?;
            let kind_s = String::from_utf8_lossy(&kind_b);
            let kind = RecordKind::parse(&kind_s).ok_or_else(|| VaultError::Corrupt {
                dir: self.dir.clone(),
                detail: format!("unknown record kind `{kind_s}`"),
            })?;
            each(RawRecord {
                kind,
                id: bytes(1)?,
                format: r.get(2)?,
                key_id: bytes(3)?,
                nonce: bytes(4)?,
                ct: bytes(5)?,
                seq: r.get(6)?,
            });
        }
        Ok(())
    }

    /// Turns a worker's failure into the error to show; an AEAD failure
    /// is diagnosed (tampered vs moved) with the database at hand.
    fn failure(&self, f: OpenFailure, raw: &RawRecord) -> VaultError {
        match f {
            OpenFailure::Aead => self.diagnose(raw.kind, &raw.id, &raw.nonce, &raw.ct),
            OpenFailure::Other(e) => e,
        }
    }

    /// Works out why a record failed to open: it authenticates as some
    /// other record (moved/swapped), or it does not authenticate at all.
    fn diagnose(&self, kind: RecordKind, id: &[u8], nonce: &[u8], ct: &[u8]) -> VaultError {
        let candidates: Vec<(String, Vec<u8>)> = self
            .conn
            .prepare("SELECT kind, id FROM records")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .unwrap_or_default();
        for (other_kind, other_id) in candidates {
            let Some(other_kind) = RecordKind::parse(&other_kind) else {
                continue;
            };
            if other_kind == kind && other_id == id {
                continue;
            }
            let aad = self.context(other_kind, &other_id).aad();
            if crypto::open_parts(&self.key, &aad, nonce, ct).is_ok() {
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
        VaultError::RecordTampered {
            kind: VaultError::record_kind(kind),
            id: VaultError::id_text(id),
        }
    }

    /// Every task and list written after change sequence `since`, and
    /// every deletion after it, read in one read transaction.
    pub(super) fn read_changed_since(&self, since: i64) -> Result<ChangedSince, VaultError> {
        let tx = self.conn.unchecked_transaction()?;
        let seq: i64 = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'change_seq'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let mut raws = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT CAST(kind AS BLOB), id, format, key_id, nonce, ciphertext, changed_seq
                 FROM records WHERE changed_seq > ?1",
            )?;
            let mut rows = stmt.query([since])?;
            while let Some(r) = rows.next()? {
                let bytes = |i: usize| -> Result<Vec<u8>, VaultError> {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                            b.to_vec()
                        }
                        _ => Vec::new(),
                    })
                };
                let kind_b = bytes(0)?;
                let kind_s = String::from_utf8_lossy(&kind_b);
                let kind = RecordKind::parse(&kind_s)
                    .filter(|k| matches!(k, RecordKind::Task | RecordKind::List))
                    .ok_or_else(|| VaultError::Corrupt {
                        dir: self.dir.clone(),
                        detail: format!("unknown record kind `{kind_s}`"),
                    })?;
                raws.push(RawRecord {
                    kind,
                    id: bytes(1)?,
                    format: r.get(2)?,
                    key_id: bytes(3)?,
                    nonce: bytes(4)?,
                    ct: bytes(5)?,
                    seq: r.get(6)?,
                });
            }
        }
        let mut deleted = Vec::new();
        {
            let mut stmt = tx.prepare(
                "SELECT t.kind, t.id FROM tombstones t
                 WHERE t.changed_seq > ?1
                   AND NOT EXISTS (SELECT 1 FROM records r WHERE r.kind = t.kind AND r.id = t.id)",
            )?;
            let mut rows = stmt.query([since])?;
            while let Some(r) = rows.next()? {
                let kind: String = r.get(0)?;
                let id: Vec<u8> = r.get(1)?;
                if let (Some(kind), Ok(id)) = (RecordKind::parse(&kind), <[u8; 16]>::try_from(id)) {
                    deleted.push((kind, Id::from_bytes(id)));
                }
            }
        }
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
                RecordKind::Task => open_raw::<Task>(key, key_id, &raw).map(|t| {
                    out.tasks.push((t, raw.seq));
                }),
                _ => open_raw::<List>(key, key_id, &raw).map(|l| {
                    out.lists.push((l, raw.seq));
                }),
            };
            if let Err(f) = opened {
                return Err(self.failure(f, &raw));
            }
        }
        Ok(out)
    }

    pub(super) fn seal_record(&mut self, kind: RecordKind, id: &Id, plaintext: &[u8]) -> Sealed {
        let aad = self.context(kind, id.as_bytes()).aad();
        crypto::seal(&self.key, &aad, plaintext, self.env.rng.as_mut())
    }

    /// Every record in memory sealed under another key (for rotation).
    pub(super) fn sealed_all(
        &mut self,
        key: &SecretKey,
        key_id: KeyId,
    ) -> Result<Vec<(RecordKind, Id, Sealed)>, VaultError> {
        let mut out = Vec::with_capacity(self.tasks.len() + self.lists.len());
        let items: Vec<(RecordKind, Id, zeroize::Zeroizing<Vec<u8>>)> = self
            .tasks
            .values()
            .map(|e| (RecordKind::Task, e.value.id, encode(&e.value)))
            .chain(
                self.lists
                    .values()
                    .map(|e| (RecordKind::List, e.value.id, encode(&e.value))),
            )
            .collect();
        for (kind, id, plain) in items {
            let ctx = RecordContext {
                kind,
                id: id.as_bytes(),
                format: FORMAT_VERSION,
                key_id,
            };
            let sealed = crypto::seal(key, &ctx.aad(), &plain, self.env.rng.as_mut());
            out.push((kind, id, sealed));
        }
        Ok(out)
    }

    /// Applies `writes` in one durable transaction and returns the new
    /// change sequence every written record now carries.
    #[allow(dead_code)] // user actions go through `commit_with` (history)
    pub(crate) fn commit(&mut self, writes: Vec<Write>) -> Result<i64, VaultError> {
        self.commit_with(writes, &mut |_, _| Ok(()))
    }

    /// [`commit`](Self::commit), plus `hook`'s rows in the same
    /// transaction (the undo history). The hook runs inside the write lock
    /// with the new change sequence, before the record writes; an error
    /// from it rolls everything back.
    pub(crate) fn commit_with(
        &mut self,
        writes: Vec<Write>,
        hook: TxHook<'_>,
    ) -> Result<i64, VaultError> {
        let sealed: Vec<(Write, Option<Sealed>)> = writes
            .into_iter()
            .map(|w| {
                let s = match &w {
                    Write::Put {
                        kind,
                        id,
                        plaintext,
                        ..
                    } => Some(self.seal_record(*kind, id, plaintext)),
                    Write::Delete { .. } => None,
                };
                (w, s)
            })
            .collect();
        let key_id = self.key_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq: i64 = tx
            .query_row(
                "SELECT value FROM meta WHERE name = 'change_seq'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0)
            + 1;
        hook(&tx, seq)?;
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
            for (w, s) in &sealed {
                match (w, s) {
                    (
                        Write::Put {
                            kind,
                            id,
                            expected_seq,
                            ..
                        },
                        Some(s),
                    ) => {
                        let base = rusqlite::params![
                            kind.as_str(),
                            id.as_bytes().as_slice(),
                            FORMAT_VERSION,
                            key_id.0.as_slice(),
                            s.nonce.as_slice(),
                            s.ciphertext,
                            seq
                        ];
                        let n = match expected_seq {
                            None => insert.execute(base)?,
                            Some(exp) => update.execute(rusqlite::params![
                                kind.as_str(),
                                id.as_bytes().as_slice(),
                                FORMAT_VERSION,
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
                    }
                    (
                        Write::Delete {
                            kind,
                            id,
                            expected_seq,
                        },
                        _,
                    ) => {
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
                    }
                    (Write::Put { .. }, None) => unreachable!("every put was sealed above"),
                }
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('change_seq', ?1)",
            [seq],
        )?;
        tx.commit()?;
        Ok(seq)
    }
}

enum OpenFailure {
    /// The ciphertext did not authenticate under its own context.
    Aead,
    Other(VaultError),
}

fn record_context(kind: RecordKind, id: &[u8], key_id: KeyId) -> RecordContext<'_> {
    RecordContext {
        kind,
        id,
        format: FORMAT_VERSION,
        key_id,
    }
}

/// Decrypts and parses one row. Runs on worker threads, so it touches
/// nothing but its arguments.
fn open_raw<T: DeserializeOwned + HasId>(
    key: &SecretKey,
    key_id: KeyId,
    raw: &RawRecord,
) -> Result<T, OpenFailure> {
    let (kind, id) = (raw.kind, raw.id.as_slice());
    let kind_s = VaultError::record_kind(kind);
    let id_s = || VaultError::id_text(id);
    if raw.key_id != key_id.0 {
        return Err(OpenFailure::Other(VaultError::RecordWrongKey {
            kind: kind_s,
            id: id_s(),
            found: raw.key_id.iter().map(|b| format!("{b:02x}")).collect(),
            expected: key_id.to_string(),
        }));
    }
    if raw.format != FORMAT_VERSION as i64 {
        return Err(OpenFailure::Other(VaultError::RecordUnreadable {
            kind: kind_s,
            id: id_s(),
            detail: format!(
                "record format {}; this version reads format {FORMAT_VERSION} (update the app)",
                raw.format
            ),
        }));
    }
    let plain = crypto::open_parts(
        key,
        &record_context(kind, id, key_id).aad(),
        &raw.nonce,
        &raw.ct,
    )
    .map_err(|_| OpenFailure::Aead)?;
    let value: T = serde_json::from_slice(&plain).map_err(|e| {
        OpenFailure::Other(VaultError::RecordUnreadable {
            kind: kind_s,
            id: id_s(),
            detail: e.to_string(),
        })
    })?;
    // The AAD already binds the row id; this also catches a payload whose
    // own id disagrees with its row (a bug, not an attack).
    if value.id().as_bytes().as_slice() != id {
        return Err(OpenFailure::Other(VaultError::RecordUnreadable {
            kind: kind_s,
            id: id_s(),
            detail: format!("payload is for {}", value.id()),
        }));
    }
    Ok(value)
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
