//! The vault's integrity ledger on disk: the `ledger` table holds the
//! sealed head (piece 0) and parts (piece i + 1) of a [`crate::ledger`]
//! commitment to everything sealed in the vault: every record's `(kind,
//! id) → changed_seq`, every undo history entry and the top of each undo
//! stack (`history.rs`), and the reminder state (`reminder_state.rs`).
//!
//! It is written only by [`Pending`], inside the same transaction as what
//! it describes — which `Vault::commit_with` (and its hook) and the
//! whole-vault writers (create, restore, rotation, upgrade) do — so any
//! kind written through them is covered without knowing about it here.
//! [`Pending`] also serves read transactions that check a few entries
//! (refresh, undo, the reminder state) without opening every part.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension};

use crate::crypto::{KeyId, SecretKey, SecureRng};
use crate::domain::Id;
use crate::error::VaultError;
use crate::ledger::{
    self, check_parts, needs_more_parts, parts_for, Discrepancy, EntryKey, Found, Head, Part,
    PartFault, PartView, Partitioner, PieceFault, Scope,
};

const LABEL: &str = "vault-records";
/// How many named items an error lists before "and N more".
const NAMED: usize = 5;

pub(crate) fn scope(vault_id: &Id, key_id: KeyId) -> Scope<'_> {
    Scope {
        label: LABEL,
        owner: vault_id.as_bytes(),
        key_id,
    }
}

/// The piece's name in errors.
fn piece_name(piece: i64) -> String {
    if piece == 0 {
        "head".into()
    } else {
        format!("part {}", piece - 1)
    }
}

fn piece_error(piece: i64, found_key: &[u8], key_id: KeyId, fault: PieceFault) -> VaultError {
    if found_key != key_id.0 {
        return VaultError::RecordWrongKey {
            kind: "ledger",
            id: piece_name(piece),
            found: hex::encode(found_key),
            expected: key_id.to_string(),
        };
    }
    match fault {
        PieceFault::DoesNotAuthenticate => VaultError::RecordTampered {
            kind: "ledger",
            id: piece_name(piece),
        },
        PieceFault::Malformed => VaultError::RecordUnreadable {
            kind: "ledger",
            id: piece_name(piece),
            detail: "it authenticates but does not parse".into(),
        },
    }
}

/// A ledger row as stored.
struct StoredPiece {
    seq: i64,
    key_id: Vec<u8>,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

fn read_piece(conn: &Connection, piece: i64) -> Result<Option<StoredPiece>, VaultError> {
    Ok(conn
        .prepare_cached("SELECT seq, key_id, nonce, ciphertext FROM ledger WHERE piece = ?1")?
        .query_row([piece], |r| {
            Ok(StoredPiece {
                seq: r.get(0)?,
                key_id: r.get(1)?,
                nonce: r.get(2)?,
                ciphertext: r.get(3)?,
            })
        })
        .optional()?)
}

/// Reads and opens the head; `None` if the vault has none (written before
/// the ledger existed, or the head was deleted — the caller decides).
pub(crate) fn read_head(
    conn: &Connection,
    key: &SecretKey,
    scope: Scope,
) -> Result<Option<Head>, VaultError> {
    let Some(p) = read_piece(conn, 0)? else {
        return Ok(None);
    };
    Head::open(key, scope, p.seq, &p.nonce, &p.ciphertext)
        .map(Some)
        .map_err(|f| piece_error(0, &p.key_id, scope.key_id, f))
}

/// The head, which a vault with a ledger must have.
pub(crate) fn require_head(
    conn: &Connection,
    key: &SecretKey,
    scope: Scope,
) -> Result<Head, VaultError> {
    read_head(conn, key, scope)?.ok_or_else(head_missing)
}

pub(crate) fn head_missing() -> VaultError {
    VaultError::RecordMissing {
        what: "the integrity ledger's head is missing (it commits to every record, \
               and this vault's key was made with the ledger, so it must have one)"
            .into(),
    }
}

/// The ledger's parts as stored: read inside the caller's transaction and
/// checked against the head, opened later (possibly on another thread).
pub(crate) struct SealedParts {
    parts: Vec<(u16, StoredPiece)>,
    count: u64,
}

pub(crate) fn read_sealed_parts(conn: &Connection, head: &Head) -> Result<SealedParts, VaultError> {
    let mut stmt =
        conn.prepare("SELECT piece, seq, key_id, nonce, ciphertext FROM ledger WHERE piece > 0")?;
    let mut rows = stmt.query([])?;
    let mut stored = Vec::new();
    let mut parts = Vec::new();
    while let Some(r) = rows.next()? {
        let piece: i64 = r.get(0)?;
        let Ok(index) = u16::try_from(piece - 1) else {
            return Err(VaultError::VaultRolledBack {
                what: format!("ledger piece {piece} is not part of any ledger"),
            });
        };
        let p = StoredPiece {
            seq: r.get(1)?,
            key_id: r.get(2)?,
            nonce: r.get(3)?,
            ciphertext: r.get(4)?,
        };
        stored.push((index, p.seq));
        parts.push((index, p));
    }
    let faults = check_parts(head, &stored);
    if !faults.is_empty() {
        return Err(part_faults(head, &faults));
    }
    Ok(SealedParts {
        parts,
        count: head.count,
    })
}

impl SealedParts {
    /// How many entries the head commits to.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Every committed entry, as opened parts, their total checked
    /// against the head's count.
    pub fn open(self, key: &SecretKey, scope: Scope) -> Result<Vec<PartView>, VaultError> {
        let mut out = Vec::with_capacity(self.parts.len());
        let mut total = 0u64;
        for (index, p) in self.parts {
            let part = PartView::open(key, scope, index, p.seq, &p.nonce, &p.ciphertext)
                .map_err(|f| piece_error(index as i64 + 1, &p.key_id, scope.key_id, f))?;
            total += part.len() as u64;
            out.push(part);
        }
        if total != self.count {
            return Err(VaultError::VaultRolledBack {
                what: format!(
                    "the integrity ledger's parts hold {total} records but its head commits to {}",
                    self.count
                ),
            });
        }
        Ok(out)
    }
}

/// Every committed entry, as opened parts (see [`SealedParts`]).
pub(crate) fn read_committed(
    conn: &Connection,
    key: &SecretKey,
    scope: Scope,
    head: &Head,
) -> Result<Vec<PartView>, VaultError> {
    read_sealed_parts(conn, head)?.open(key, scope)
}

fn part_faults(head: &Head, faults: &[PartFault]) -> VaultError {
    let text = |f: &PartFault| {
        match f {
        PartFault::Missing { index, committed } => {
            format!("ledger part {index} (written at change {committed}) is missing")
        }
        PartFault::Older {
            index,
            found,
            committed,
        } => format!(
            "ledger part {index} is an older version (change {found}; change {committed} was committed)"
        ),
        PartFault::Newer {
            index,
            found,
            committed,
        } => format!(
            "ledger part {index} (change {found}) is newer than the ledger's head (change {committed}, written at change {})",
            head.seq
        ),
    }
    };
    let what = name_list(faults.iter().map(text), faults.len());
    if faults
        .iter()
        .all(|f| matches!(f, PartFault::Missing { .. }))
    {
        VaultError::RecordMissing { what }
    } else {
        VaultError::VaultRolledBack { what }
    }
}

fn name_list(items: impl Iterator<Item = String>, total: usize) -> String {
    let mut s: Vec<String> = items.take(NAMED).collect();
    if total > NAMED {
        s.push(format!("and {} more", total - NAMED));
    }
    s.join("; ")
}

/// Checks the records found against the committed entries; any
/// difference is an error naming the records. Anything older, newer or
/// back from deletion makes it a rollback; only absences make it
/// "missing".
pub(crate) fn verify(committed: &[PartView], found: &impl Found) -> Result<(), VaultError> {
    let d = ledger::compare(|| committed.iter().flat_map(|p| p.iter()), found);
    if d.is_empty() {
        return Ok(());
    }
    // Name the rollback evidence first: it explains the absences too.
    let mut sorted: Vec<&Discrepancy> = d.iter().filter(|x| !x.is_missing()).collect();
    sorted.extend(d.iter().filter(|x| x.is_missing()));
    // The top of an undo stack only follows from its entries (an entry
    // deleted leaves an older one on top): what happened to the entries
    // decides what to call it, unless only tops differ.
    let derived = |x: &&Discrepancy| x.key().kind() == super::history::TOP_KIND;
    let entries_differ = sorted.iter().any(|x| !derived(x));
    let rolled_back = sorted
        .iter()
        .filter(|x| !entries_differ || !derived(x))
        .any(|x| !x.is_missing());
    let what = name_list(sorted.iter().map(|x| x.to_string()), sorted.len());
    Err(if rolled_back {
        VaultError::VaultRolledBack { what }
    } else {
        VaultError::RecordMissing { what }
    })
}

/// A part being changed: as stored, plus this transaction's changes
/// (`None` = removed), merged when sealed. Bulk writes (an import) thus
/// cost O(n log n), not a sorted insert each.
#[derive(Default)]
struct Touched {
    base: Part,
    changes: BTreeMap<EntryKey, Option<i64>>,
}

impl Touched {
    fn get(&self, key: &EntryKey) -> Option<i64> {
        match self.changes.get(key) {
            Some(v) => *v,
            None => self.base.get(key),
        }
    }

    fn merged(&self) -> Part {
        let base = self.base.entries();
        let mut out = Vec::with_capacity(base.len() + self.changes.len());
        let mut b = base.iter().peekable();
        for (k, v) in &self.changes {
            while let Some((bk, bs)) = b.next_if(|(bk, _)| bk < k) {
                out.push((bk.clone(), *bs));
            }
            b.next_if(|(bk, _)| bk == k);
            if let Some(v) = v {
                out.push((k.clone(), *v));
            }
        }
        out.extend(b.cloned());
        Part::from_sorted(out)
    }
}

/// Ledger changes of one write transaction. Parts are read (and checked
/// against the head) only when touched.
pub(crate) struct Pending<'a> {
    key: &'a SecretKey,
    scope: Scope<'a>,
    partitioner: Partitioner,
    pub head: Head,
    touched: BTreeMap<u16, Touched>,
}

impl<'a> Pending<'a> {
    /// Starts from the stored head, which must exist.
    pub fn begin(
        conn: &Connection,
        key: &'a SecretKey,
        scope: Scope<'a>,
    ) -> Result<Self, VaultError> {
        let head = require_head(conn, key, scope)?;
        Ok(Pending {
            key,
            partitioner: Partitioner::new(key, head.parts.len() as u16),
            scope,
            head,
            touched: BTreeMap::new(),
        })
    }

    /// Starts an empty ledger with room for `count` entries.
    fn fresh(key: &'a SecretKey, scope: Scope<'a>, count: u64) -> Self {
        let parts = parts_for(count);
        Pending {
            key,
            partitioner: Partitioner::new(key, parts),
            scope,
            head: Head::empty(0, parts),
            touched: BTreeMap::new(),
        }
    }

    fn part(&mut self, conn: &Connection, index: u16) -> Result<&mut Touched, VaultError> {
        if !self.touched.contains_key(&index) {
            let committed = self.head.parts[index as usize];
            let row = read_piece(conn, index as i64 + 1)?;
            let fault = match &row {
                None if committed != 0 => Some(PartFault::Missing { index, committed }),
                Some(p) if p.seq < committed => Some(PartFault::Older {
                    index,
                    found: p.seq,
                    committed,
                }),
                Some(p) if p.seq > committed => Some(PartFault::Newer {
                    index,
                    found: p.seq,
                    committed,
                }),
                _ => None,
            };
            if let Some(f) = fault {
                return Err(part_faults(&self.head, &[f]));
            }
            let base = match row {
                None => Part::default(),
                Some(p) => Part::open(self.key, self.scope, index, p.seq, &p.nonce, &p.ciphertext)
                    .map_err(|f| piece_error(index as i64 + 1, &p.key_id, self.scope.key_id, f))?,
            };
            self.touched.insert(
                index,
                Touched {
                    base,
                    changes: BTreeMap::new(),
                },
            );
        }
        Ok(self.touched.get_mut(&index).expect("inserted above"))
    }

    /// The sequence `key` is committed at, as this transaction left it
    /// (`None`: not committed). Opens only the part it lives in.
    pub fn get(&mut self, conn: &Connection, key: &EntryKey) -> Result<Option<i64>, VaultError> {
        let index = self.partitioner.part_of(key);
        Ok(self.part(conn, index)?.get(key))
    }

    /// Records that `key` is now at `seq`; it must have been at
    /// `expected` (`None`: not there). The records row was checked the
    /// same way, so a disagreement means the ledger and the records were
    /// changed apart from each other since the vault was loaded.
    pub fn put(
        &mut self,
        conn: &Connection,
        key: EntryKey,
        expected: Option<i64>,
        seq: i64,
    ) -> Result<(), VaultError> {
        let index = self.partitioner.part_of(&key);
        let part = self.part(conn, index)?;
        let before = part.get(&key);
        if before != expected {
            return Err(disagreement(&key.to_string(), before, expected));
        }
        part.changes.insert(key, Some(seq));
        if before.is_none() {
            self.head.count += 1;
        }
        Ok(())
    }

    pub fn remove(
        &mut self,
        conn: &Connection,
        key: &EntryKey,
        expected: i64,
    ) -> Result<(), VaultError> {
        let index = self.partitioner.part_of(key);
        let part = self.part(conn, index)?;
        let before = part.get(key);
        if before != Some(expected) {
            return Err(disagreement(&key.to_string(), before, Some(expected)));
        }
        part.changes.insert(key.clone(), None);
        self.head.count -= 1;
        Ok(())
    }

    /// Seals the touched parts and the head at `seq` and stores them; or,
    /// when the entries have outgrown the parts, rebuilds the whole ledger
    /// with more.
    pub fn finish(
        mut self,
        conn: &Connection,
        seq: i64,
        rng: &mut dyn SecureRng,
    ) -> Result<(), VaultError> {
        if needs_more_parts(&self.head) {
            let mut all = Vec::with_capacity(self.head.count as usize);
            for index in 0..self.head.parts.len() as u16 {
                all.extend(self.part(conn, index)?.merged().into_entries());
            }
            return write_fresh(conn, self.key, self.scope, all, seq, rng);
        }
        let mut put = conn.prepare_cached(
            "INSERT OR REPLACE INTO ledger (piece, seq, key_id, nonce, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let key_id = self.scope.key_id.0;
        for (index, part) in &self.touched {
            let s = part.merged().seal(self.key, self.scope, *index, seq, rng);
            put.execute(rusqlite::params![
                *index as i64 + 1,
                seq,
                key_id.as_slice(),
                s.nonce.as_slice(),
                s.ciphertext
            ])?;
            self.head.parts[*index as usize] = seq;
        }
        self.head.seq = seq;
        let s = self.head.seal(self.key, self.scope, rng);
        put.execute(rusqlite::params![
            0,
            seq,
            key_id.as_slice(),
            s.nonce.as_slice(),
            s.ciphertext
        ])?;
        Ok(())
    }
}

fn disagreement(name: &str, ledger: Option<i64>, record: Option<i64>) -> VaultError {
    let at = |s: Option<i64>| match s {
        Some(s) => format!("change {s}"),
        None => "absent".into(),
    };
    VaultError::VaultRolledBack {
        what: format!(
            "{name} is at {} in the integrity ledger but at {} in the records",
            at(ledger),
            at(record)
        ),
    }
}

/// `key` is committed at `committed` but was found at `found`, outside
/// a whole-vault check (a refresh, an undo): named the way a load would.
pub(crate) fn entry_disagreement(
    key: EntryKey,
    committed: Option<i64>,
    found: Option<i64>,
) -> VaultError {
    let d = match (committed, found) {
        (Some(committed), None) => Discrepancy::Missing { key, committed },
        (None, Some(found)) => Discrepancy::Unexpected { key, found },
        (Some(committed), Some(found)) if found < committed => Discrepancy::Older {
            key,
            found,
            committed,
        },
        (Some(committed), Some(found)) => Discrepancy::Newer {
            key,
            found,
            committed,
        },
        (None, None) => unreachable!("no disagreement between two absences"),
    };
    let what = d.to_string();
    if d.is_missing() {
        VaultError::RecordMissing { what }
    } else {
        VaultError::VaultRolledBack { what }
    }
}

/// Replaces the whole ledger with one committing to `entries` (unique
/// keys) at `seq`, with as many parts as their number calls for
/// (rotation, restore, upgrade, creation, growth).
pub(crate) fn write_fresh(
    conn: &Connection,
    key: &SecretKey,
    scope: Scope,
    entries: impl IntoIterator<Item = (EntryKey, i64)>,
    seq: i64,
    rng: &mut dyn SecureRng,
) -> Result<(), VaultError> {
    let entries: Vec<(EntryKey, i64)> = entries.into_iter().collect();
    conn.execute("DELETE FROM ledger", [])?;
    let mut p = Pending::fresh(key, scope, entries.len() as u64);
    let mut by_part: BTreeMap<u16, Vec<(EntryKey, i64)>> = BTreeMap::new();
    for (k, s) in entries {
        by_part
            .entry(p.partitioner.part_of(&k))
            .or_default()
            .push((k, s));
    }
    for (index, mut list) in by_part {
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list.dedup_by(|a, b| a.0 == b.0);
        p.head.count += list.len() as u64;
        p.touched.insert(
            index,
            Touched {
                base: Part::from_sorted(list),
                changes: BTreeMap::new(),
            },
        );
    }
    p.finish(conn, seq, rng)
}
