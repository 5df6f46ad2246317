//! A sealed commitment to a set of entries `(kind, id) → change sequence`,
//! which can name what is missing or older — not just say "mismatch".
//!
//! The vault uses it for its records (`vault/integrity.rs`); the sync
//! client is meant to use it the same way for what a server must hold
//! (kind = device, id = batch). Storage is the caller's business: this
//! module only encodes, seals, opens and compares.
//!
//! Layout: entries are spread over a power-of-two number of parts
//! ([`parts_for`]: ~256 entries each, 16 to 4096 parts) by a keyed hash
//! of their key (so nobody without the key can pile entries into one
//! part). Each part is sealed on its own, bound to its index and to the
//! sequence at which it was last written. The **head** is sealed too and
//! holds the newest change sequence, the entry count, and the sequence of
//! every part. A write re-seals the head and the parts it touches, so it
//! costs O(entries / parts + parts), not O(entries); when the entries
//! outgrow the parts, the writer rebuilds with twice as many ([`needs_more_parts`]).
//!
//! What a holder of the stored bytes can do, and what it yields:
//! - delete an entry's object → [`Discrepancy::Missing`], named;
//! - put back an older object → [`Discrepancy::Older`], named;
//! - put back a deleted object → [`Discrepancy::Unexpected`], named;
//! - put back an older part (with its older objects) → the head names the
//!   part as older ([`PartFault::Older`]);
//! - put back an older head → objects newer than the head are named
//!   ([`Discrepancy::Newer`]), or parts newer than the head.
//! - roll back *everything* (head, parts and objects) to one older
//!   consistent state: **not detectable** from the stored bytes alone;
//!   only a sequence remembered outside them (a high-water mark) can.

use std::collections::{HashMap, HashSet};
use std::fmt;

use hkdf::Hkdf;
use sha2::{Digest, Sha256};

use crate::crypto::{self, KeyId, Sealed, SecretKey, SecureRng};
use crate::domain::Id;

/// Bounds of the part count, which the head stores; a ledger is built
/// with [`parts_for`] its size and grows by rebuilding.
pub const MIN_PARTS: u16 = 16;
pub const MAX_PARTS: u16 = 4096;
/// Entries per part a ledger is built for; it is rebuilt at twice that.
const TARGET_PER_PART: u64 = 256;

/// The part count to build a ledger of `count` entries with.
pub fn parts_for(count: u64) -> u16 {
    let mut p = MIN_PARTS;
    while p < MAX_PARTS && count > p as u64 * TARGET_PER_PART {
        p *= 2;
    }
    p
}

/// Whether a ledger with this head should be rebuilt with more parts.
pub fn needs_more_parts(head: &Head) -> bool {
    let parts = head.parts.len() as u64;
    parts < MAX_PARTS as u64 && head.count > parts * 2 * TARGET_PER_PART
}

const HEAD_VERSION: u8 = 1;
const PART_VERSION: u8 = 1;
const MAX_KIND_LEN: usize = 64;
const MAX_ID_LEN: usize = 128;

/// An entry's identity: its kind and id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey(Box<[u8]>);

impl EntryKey {
    /// Kinds are short ASCII labels (`task`, `list`, …); ids are opaque.
    /// Panics on an empty or over-long kind or id: kinds are constants
    /// and ids fixed-size, so that is a bug, never input.
    pub fn new(kind: &str, id: &[u8]) -> Self {
        assert!(
            (1..=MAX_KIND_LEN).contains(&kind.len()) && id.len() <= MAX_ID_LEN,
            "ledger entry kind or id out of range"
        );
        let mut b = Vec::with_capacity(1 + kind.len() + id.len());
        b.push(kind.len() as u8);
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(id);
        EntryKey(b.into_boxed_slice())
    }

    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef::from_bytes(&self.0).expect("an EntryKey is always well-formed")
    }

    pub fn kind(&self) -> &str {
        self.as_ref().kind
    }

    pub fn id(&self) -> &[u8] {
        self.as_ref().id
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An entry's identity, borrowed (from an opened part, or a row).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub kind: &'a str,
    pub id: &'a [u8],
}

impl EntryRef<'_> {
    pub fn to_key(self) -> EntryKey {
        EntryKey::new(self.kind, self.id)
    }

    /// From the stored form `[kind length][kind][id]`, checked.
    fn from_bytes(b: &[u8]) -> Option<EntryRef<'_>> {
        let n = *b.first()? as usize;
        let kind = std::str::from_utf8(b.get(1..1 + n)?).ok()?;
        if n == 0 || n > MAX_KIND_LEN || b.len() - 1 - n > MAX_ID_LEN {
            return None;
        }
        Some(EntryRef {
            kind,
            id: &b[1 + n..],
        })
    }
}

impl fmt::Display for EntryRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Record ids are 16 random bytes; other entries (the top of an
        // undo stack, "undo/cli") are named in words.
        let words = !self.id.is_empty() && self.id.iter().all(|b| b.is_ascii_graphic());
        match <[u8; 16]>::try_from(self.id) {
            Ok(b) if !words => write!(f, "{} {}", self.kind, Id::from_bytes(b)),
            _ if words => write!(f, "{} {}", self.kind, String::from_utf8_lossy(self.id)),
            _ => write!(f, "{} {}", self.kind, hex::encode(self.id)),
        }
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

impl fmt::Debug for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryKey({self})")
    }
}

/// What a ledger's sealed pieces are bound to: whose ledger it is (the
/// vault id), what it commits to (a label), and which key sealed it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub label: &'a str,
    pub owner: &'a [u8],
    pub key_id: KeyId,
}

impl Scope<'_> {
    /// `piece` 0 is the head, `i + 1` is part `i`; `seq` is the sequence
    /// at which that piece was written.
    fn aad(&self, piece: u32, seq: i64) -> Vec<u8> {
        let mut a = b"productivitypro/ledger/v1".to_vec();
        for field in [self.label.as_bytes(), self.owner] {
            a.extend_from_slice(&(field.len() as u32).to_be_bytes());
            a.extend_from_slice(field);
        }
        a.extend_from_slice(&self.key_id.0);
        a.extend_from_slice(&piece.to_be_bytes());
        a.extend_from_slice(&seq.to_be_bytes());
        a
    }
}

/// The head: the newest change sequence and where every part stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub count: u64,
    /// The sequence each part was last written at; 0 = never written.
    pub parts: Vec<i64>,
}

impl Head {
    pub fn empty(seq: i64, parts: u16) -> Self {
        Head {
            seq,
            count: 0,
            parts: vec![0; parts.max(1) as usize],
        }
    }

    /// Sequences as LEB128 varints: the head is re-sealed on every
    /// commit, and most sequences fit in 2–3 bytes.
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(24 + 3 * self.parts.len());
        b.push(HEAD_VERSION);
        put_varint(&mut b, self.seq as u64);
        put_varint(&mut b, self.count);
        b.extend_from_slice(&(self.parts.len() as u16).to_be_bytes());
        for s in &self.parts {
            put_varint(&mut b, *s as u64);
        }
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader(b);
        if r.u8()? != HEAD_VERSION {
            return None;
        }
        let seq = r.varint()? as i64;
        let count = r.varint()?;
        let n = r.u16()?;
        if n == 0 || n > MAX_PARTS {
            return None;
        }
        let parts = (0..n)
            .map(|_| r.varint().map(|s| s as i64))
            .collect::<Option<Vec<_>>>()?;
        r.end()?;
        Some(Head { seq, count, parts })
    }

    pub fn seal(&self, key: &SecretKey, scope: Scope, rng: &mut dyn SecureRng) -> Sealed {
        crypto::seal(key, &scope.aad(0, self.seq), &self.encode(), rng)
    }

    /// Opens a stored head; `seq` is the sequence stored beside it.
    pub fn open(
        key: &SecretKey,
        scope: Scope,
        seq: i64,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Self, PieceFault> {
        let plain = crypto::open_parts(key, &scope.aad(0, seq), nonce, ciphertext)
            .map_err(|_| PieceFault::DoesNotAuthenticate)?;
        let head = Head::decode(&plain).ok_or(PieceFault::Malformed)?;
        if head.seq != seq {
            return Err(PieceFault::Malformed);
        }
        Ok(head)
    }
}

/// The entries of one part, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part {
    entries: Vec<(EntryKey, i64)>,
}

impl Part {
    /// A part of these entries, which must be sorted by key and unique.
    pub fn from_sorted(entries: Vec<(EntryKey, i64)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Part { entries }
    }

    pub fn entries(&self) -> &[(EntryKey, i64)] {
        &self.entries
    }

    pub fn into_entries(self) -> Vec<(EntryKey, i64)> {
        self.entries
    }

    pub fn get(&self, key: &EntryKey) -> Option<i64> {
        self.entries
            .binary_search_by(|(k, _)| k.cmp(key))
            .ok()
            .map(|i| self.entries[i].1)
    }

    /// Sets an entry's sequence; returns the previous one.
    pub fn set(&mut self, key: EntryKey, seq: i64) -> Option<i64> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, seq)),
            Err(i) => {
                self.entries.insert(i, (key, seq));
                None
            }
        }
    }

    /// Removes an entry; returns its sequence.
    pub fn remove(&mut self, key: &EntryKey) -> Option<i64> {
        match self.entries.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(5 + self.entries.len() * 30);
        b.push(PART_VERSION);
        b.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for (k, s) in &self.entries {
            b.push(k.as_bytes().len() as u8);
            b.extend_from_slice(k.as_bytes());
            put_varint(&mut b, *s as u64);
        }
        b
    }

    pub fn seal(
        &self,
        key: &SecretKey,
        scope: Scope,
        index: u16,
        seq: i64,
        rng: &mut dyn SecureRng,
    ) -> Sealed {
        crypto::seal(key, &scope.aad(index as u32 + 1, seq), &self.encode(), rng)
    }

    pub fn open(
        key: &SecretKey,
        scope: Scope,
        index: u16,
        seq: i64,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Self, PieceFault> {
        PartView::open(key, scope, index, seq, nonce, ciphertext).map(|v| v.to_part())
    }
}

/// An opened part read in place: checked once when opened, then iterated
/// without allocating (a load reads every part).
pub struct PartView(Vec<u8>);

impl PartView {
    pub fn open(
        key: &SecretKey,
        scope: Scope,
        index: u16,
        seq: i64,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Self, PieceFault> {
        // Opened where it lies (a load opens every part): one copy of the
        // ciphertext, no second buffer.
        let mut plain = ciphertext.to_vec();
        let aad = scope.aad(index as u32 + 1, seq);
        let n = crypto::open_in_slice(key, &aad, nonce, &mut plain)
            .map_err(|_| PieceFault::DoesNotAuthenticate)?;
        plain.truncate(n);
        PartView::from_plain(plain).ok_or(PieceFault::Malformed)
    }

    /// Checks the encoding: well-formed entries, strictly ascending keys
    /// (lookups rely on it), exactly the declared count, nothing after.
    fn from_plain(plain: Vec<u8>) -> Option<Self> {
        let view = PartView(plain);
        let mut prev: Option<&[u8]> = None;
        let mut r = view.reader()?;
        while let Some((key, _)) = r.next_raw()? {
            if prev.is_some_and(|p| p >= key) {
                return None;
            }
            EntryRef::from_bytes(key)?;
            prev = Some(key);
        }
        r.0.end()?;
        Some(view)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (EntryRef<'_>, i64)> + '_ {
        let mut r = self.reader();
        std::iter::from_fn(move || {
            let (key, seq) = r.as_mut()?.next_raw()??;
            Some((EntryRef::from_bytes(key)?, seq))
        })
    }

    pub fn len(&self) -> usize {
        self.reader().map_or(0, |r| r.1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn to_part(&self) -> Part {
        Part::from_sorted(self.iter().map(|(k, s)| (k.to_key(), s)).collect())
    }

    fn reader(&self) -> Option<PartReader<'_>> {
        let mut r = Reader(&self.0);
        if r.u8()? != PART_VERSION {
            return None;
        }
        let n = r.u32()? as usize;
        Some(PartReader(r, n, 0))
    }
}

/// Walks a part's encoding: (reader, declared count, entries read).
struct PartReader<'a>(Reader<'a>, usize, usize);

impl<'a> PartReader<'a> {
    /// `Some(None)` at the declared end, `None` if malformed.
    fn next_raw(&mut self) -> Option<Option<(&'a [u8], i64)>> {
        if self.2 == self.1 {
            return Some(None);
        }
        let len = self.0.u8()? as usize;
        let key = self.0.take(len)?;
        let seq = self.0.varint()? as i64;
        self.2 += 1;
        Some(Some((key, seq)))
    }
}

/// Why a stored head or part could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceFault {
    /// It was altered, or belongs to another ledger, key, index or sequence.
    DoesNotAuthenticate,
    /// It authenticated but does not parse: a bug, never an attack.
    Malformed,
}

/// Which part an entry lives in: a keyed hash, so the spread cannot be
/// steered by choosing ids.
pub struct Partitioner {
    key: [u8; 32],
    parts: u16,
}

impl Partitioner {
    pub fn new(data_key: &SecretKey, parts: u16) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, data_key.expose())
            .expand(b"productivitypro/ledger-parts/v1", &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Partitioner {
            key,
            parts: parts.max(1),
        }
    }

    pub fn part_of(&self, entry: &EntryKey) -> u16 {
        let h = Sha256::new()
            .chain_update(self.key)
            .chain_update(entry.as_bytes())
            .finalize();
        u16::from_be_bytes([h[0], h[1]]) % self.parts
    }
}

impl Drop for Partitioner {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

/// How a stored part disagrees with the head that commits to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartFault {
    /// The head says the part was written at `committed`; there is none.
    Missing { index: u16, committed: i64 },
    /// The stored part is from an earlier write than the head commits to.
    Older {
        index: u16,
        found: i64,
        committed: i64,
    },
    /// The stored part is newer than the head (the head was put back).
    Newer {
        index: u16,
        found: i64,
        committed: i64,
    },
}

/// Checks the stored parts (`(index, seq)` as stored beside each) against
/// the head: every committed part is there at its committed sequence, and
/// nothing else is.
pub fn check_parts(head: &Head, stored: &[(u16, i64)]) -> Vec<PartFault> {
    let mut faults = Vec::new();
    let mut seen = vec![false; head.parts.len()];
    for &(index, found) in stored {
        let committed = head.parts.get(index as usize).copied().unwrap_or(0);
        if let Some(s) = seen.get_mut(index as usize) {
            *s = true;
        }
        if found < committed {
            faults.push(PartFault::Older {
                index,
                found,
                committed,
            });
        } else if found > committed {
            faults.push(PartFault::Newer {
                index,
                found,
                committed,
            });
        }
    }
    for (i, &committed) in head.parts.iter().enumerate() {
        if committed != 0 && !seen[i] {
            faults.push(PartFault::Missing {
                index: i as u16,
                committed,
            });
        }
    }
    faults
}

/// How what was found disagrees with what the ledger commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discrepancy {
    /// Committed at `committed`, not found.
    Missing { key: EntryKey, committed: i64 },
    /// Found as written at `found`, but a later write (`committed`) is
    /// committed: an older copy was put back.
    Older {
        key: EntryKey,
        found: i64,
        committed: i64,
    },
    /// Found newer than committed: the ledger itself is older.
    Newer {
        key: EntryKey,
        found: i64,
        committed: i64,
    },
    /// Found but not committed at all: a deleted entry was put back (or
    /// the ledger is older than its creation).
    Unexpected { key: EntryKey, found: i64 },
}

impl Discrepancy {
    pub fn is_missing(&self) -> bool {
        matches!(self, Discrepancy::Missing { .. })
    }

    pub fn key(&self) -> &EntryKey {
        match self {
            Discrepancy::Missing { key, .. }
            | Discrepancy::Older { key, .. }
            | Discrepancy::Newer { key, .. }
            | Discrepancy::Unexpected { key, .. } => key,
        }
    }
}

impl fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Discrepancy::Missing { key, committed } => {
                write!(f, "{key} (last written at change {committed}) is missing")
            }
            Discrepancy::Older {
                key,
                found,
                committed,
            } => write!(
                f,
                "{key} is an older version (change {found}; change {committed} was committed)"
            ),
            Discrepancy::Newer {
                key,
                found,
                committed,
            } => write!(
                f,
                "{key} (change {found}) is newer than the integrity ledger (change {committed})"
            ),
            Discrepancy::Unexpected { key, found } => write!(
                f,
                "{key} (change {found}) was deleted, or never committed, but is present"
            ),
        }
    }
}

/// What was found, as the caller holds it (a map per kind, say), so the
/// comparison needs no copy of it.
pub trait Found {
    fn seq_of(&self, entry: EntryRef) -> Option<i64>;
    fn count(&self) -> usize;
    /// Every entry found; only called when the sets differ.
    fn entries(&self) -> Vec<(EntryKey, i64)>;
}

impl Found for HashMap<EntryKey, i64> {
    fn seq_of(&self, entry: EntryRef) -> Option<i64> {
        self.get(&entry.to_key()).copied()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn entries(&self) -> Vec<(EntryKey, i64)> {
        self.iter().map(|(k, s)| (k.clone(), *s)).collect()
    }
}

/// Compares what was found with what is committed. Ids are unique per
/// kind, so equal counts plus every committed entry found at its sequence
/// means the sets are equal; the extras are only looked for when counts
/// differ. `committed` is called once, and again only then.
pub fn compare<'a, I>(committed: impl Fn() -> I, found: &impl Found) -> Vec<Discrepancy>
where
    I: Iterator<Item = (EntryRef<'a>, i64)>,
{
    let mut out = Vec::new();
    let mut matched = 0usize;
    for (key, c) in committed() {
        match found.seq_of(key) {
            None => out.push(Discrepancy::Missing {
                key: key.to_key(),
                committed: c,
            }),
            Some(f) => {
                matched += 1;
                if f < c {
                    out.push(Discrepancy::Older {
                        key: key.to_key(),
                        found: f,
                        committed: c,
                    });
                } else if f > c {
                    out.push(Discrepancy::Newer {
                        key: key.to_key(),
                        found: f,
                        committed: c,
                    });
                }
            }
        }
    }
    if matched != found.count() {
        let known: HashSet<EntryKey> = committed().map(|(k, _)| k.to_key()).collect();
        let mut extra: Vec<Discrepancy> = found
            .entries()
            .into_iter()
            .filter(|(k, _)| !known.contains(k))
            .map(|(key, found)| Discrepancy::Unexpected { key, found })
            .collect();
        extra.sort_by_key(|d| d.to_string());
        out.extend(extra);
    }
    out
}

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    /// LEB128, at most 10 bytes, no redundant trailing zero byte (so
    /// every value has exactly one encoding).
    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            if i == 9 && byte > 1 {
                return None;
            }
            v |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return None;
                }
                return Some(v);
            }
        }
        None
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha20Rng {
        rand_chacha::ChaCha20Rng::seed_from_u64(42)
    }

    fn scope(key_id: KeyId) -> Scope<'static> {
        Scope {
            label: "test",
            owner: b"owner",
            key_id,
        }
    }

    fn k(kind: &str, n: u8) -> EntryKey {
        EntryKey::new(kind, &[n; 16])
    }

    #[test]
    fn head_and_parts_round_trip_and_are_bound_to_their_place() {
        let mut r = rng();
        let key = SecretKey::random(&mut r);
        let s = scope(KeyId::derived(&key));
        let mut head = Head::empty(9, 16);
        head.parts[3] = 9;
        head.count = 2;
        let sealed = head.seal(&key, s, &mut r);
        assert_eq!(
            Head::open(&key, s, 9, &sealed.nonce, &sealed.ciphertext).unwrap(),
            head
        );
        // Another sequence, another owner: refused.
        assert_eq!(
            Head::open(&key, s, 8, &sealed.nonce, &sealed.ciphertext),
            Err(PieceFault::DoesNotAuthenticate)
        );
        let other = Scope {
            owner: b"other",
            ..s
        };
        assert!(Head::open(&key, other, 9, &sealed.nonce, &sealed.ciphertext).is_err());

        let mut part = Part::default();
        part.set(k("task", 2), 9);
        part.set(k("list", 1), 4);
        assert_eq!(part.set(k("task", 2), 10), Some(9));
        let sealed = part.seal(&key, s, 3, 10, &mut r);
        let back = Part::open(&key, s, 3, 10, &sealed.nonce, &sealed.ciphertext).unwrap();
        assert_eq!(back, part);
        assert_eq!(back.get(&k("task", 2)), Some(10));
        // Moved to another index, or an older sequence claimed: refused.
        assert!(Part::open(&key, s, 4, 10, &sealed.nonce, &sealed.ciphertext).is_err());
        assert!(Part::open(&key, s, 3, 9, &sealed.nonce, &sealed.ciphertext).is_err());
        // A head never opens as a part.
        let hs = head.seal(&key, s, &mut r);
        assert!(Part::open(&key, s, u16::MAX, 9, &hs.nonce, &hs.ciphertext).is_err());
    }

    #[test]
    fn varints_round_trip_and_have_one_encoding() {
        for v in [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX, (-1i64) as u64] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut r = Reader(&b);
            assert_eq!(r.varint(), Some(v));
            assert!(r.end().is_some());
        }
        assert_eq!(Reader(&[0x80, 0x00]).varint(), None, "redundant zero");
        assert_eq!(Reader(&[0xff; 11]).varint(), None, "too long");
        assert_eq!(Reader(&[0x80]).varint(), None, "cut short");
    }

    #[test]
    fn malformed_plaintexts_are_refused_not_panicking() {
        for bytes in [
            &b""[..],
            &[PART_VERSION],
            &[PART_VERSION, 0, 0, 0, 1],
            &[PART_VERSION, 255, 255, 255, 255, 3, 1, b'x'],
            &[PART_VERSION, 0, 0, 0, 0, 1],
        ] {
            assert!(PartView::from_plain(bytes.to_vec()).is_none(), "{bytes:?}");
        }
        assert!(Head::decode(&[HEAD_VERSION, 0, 0]).is_none());
        assert!(
            Head::decode(&[HEAD_VERSION, 0, 0, 0, 0]).is_none(),
            "no parts"
        );
        let mut h = Head::empty(1, 16).encode();
        h.push(0);
        assert!(Head::decode(&h).is_none());
        // Entries out of order would make lookups lie: refused.
        let mut p = Part::default();
        p.set(k("task", 1), 1);
        p.set(k("task", 2), 1);
        let mut enc = p.encode();
        let first = 5;
        let len = 1 + enc[first] as usize + 1;
        let (a, b) = (
            enc[first..first + len].to_vec(),
            enc[first + len..].to_vec(),
        );
        enc.truncate(first);
        enc.extend(b);
        enc.extend(a);
        assert!(PartView::from_plain(enc).is_none());
    }

    #[test]
    fn compare_names_missing_older_newer_and_unexpected_entries() {
        let committed = [
            (k("list", 1), 2),
            (k("task", 1), 5),
            (k("task", 2), 7),
            (k("task", 3), 3),
        ];
        let found: HashMap<EntryKey, i64> = [
            (k("list", 1), 2),
            (k("task", 2), 6),
            (k("task", 3), 4),
            (k("task", 4), 1),
        ]
        .into_iter()
        .collect();
        let refs = || committed.iter().map(|(k, s)| (k.as_ref(), *s));
        let d = compare(refs, &found);
        assert_eq!(
            d,
            vec![
                Discrepancy::Missing {
                    key: k("task", 1),
                    committed: 5
                },
                Discrepancy::Older {
                    key: k("task", 2),
                    found: 6,
                    committed: 7
                },
                Discrepancy::Newer {
                    key: k("task", 3),
                    found: 4,
                    committed: 3
                },
                Discrepancy::Unexpected {
                    key: k("task", 4),
                    found: 1
                },
            ]
        );
        let text = d[0].to_string();
        assert!(
            text.starts_with("task ") && text.contains("missing"),
            "{text}"
        );
        let same: HashMap<EntryKey, i64> = committed.iter().cloned().collect();
        assert!(compare(refs, &same).is_empty());
    }

    #[test]
    fn parts_are_checked_against_the_head() {
        let mut head = Head::empty(10, 16);
        head.parts[0] = 4;
        head.parts[1] = 10;
        head.parts[2] = 6;
        let faults = check_parts(&head, &[(0, 4), (1, 8), (3, 9)]);
        assert_eq!(
            faults,
            vec![
                PartFault::Older {
                    index: 1,
                    found: 8,
                    committed: 10
                },
                PartFault::Newer {
                    index: 3,
                    found: 9,
                    committed: 0
                },
                PartFault::Missing {
                    index: 2,
                    committed: 6
                },
            ]
        );
        assert!(check_parts(&head, &[(0, 4), (1, 10), (2, 6)]).is_empty());
    }

    #[test]
    fn part_counts_grow_with_the_ledger_and_stay_bounded() {
        assert_eq!(parts_for(0), MIN_PARTS);
        assert_eq!(parts_for(4096), 16);
        assert_eq!(parts_for(4097), 32);
        assert_eq!(parts_for(100_000), 512);
        assert_eq!(parts_for(u64::MAX), MAX_PARTS);
        let mut h = Head::empty(1, 16);
        h.count = 8192;
        assert!(!needs_more_parts(&h));
        h.count = 8193;
        assert!(needs_more_parts(&h));
        let mut h = Head::empty(1, MAX_PARTS);
        h.count = u64::MAX;
        assert!(!needs_more_parts(&h), "never beyond the maximum");
    }

    #[test]
    fn the_partitioner_is_keyed_and_spreads_entries() {
        let mut r = rng();
        let a = Partitioner::new(&SecretKey::random(&mut r), 256);
        let b = Partitioner::new(&SecretKey::random(&mut r), 256);
        let mut counts = vec![0u32; 256];
        let mut differ = 0;
        for n in 0..10_000u32 {
            let key = EntryKey::new("task", &n.to_be_bytes());
            counts[a.part_of(&key) as usize] += 1;
            differ += (a.part_of(&key) != b.part_of(&key)) as u32;
        }
        // 10k entries over 256 parts: ~39 each; none empty or hoarding.
        assert!(counts.iter().all(|&c| (10..100).contains(&c)), "{counts:?}");
        assert!(differ > 9_000, "another key gives another spread");
    }
}
