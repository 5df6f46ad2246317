//! Record format 2: tasks in a compact binary encoding.
//!
//! Format 1 is the JSON of [`Task`] (field names, ids as hex, timestamps
//! as RFC 3339): about 400 bytes for a typical task, and parsing it was a
//! quarter of unlocking a large vault. This is the same value in about a
//! third of the bytes, read without text parsing. The record's format is
//! bound into its AAD, so a record is read only the way it was written;
//! tasks written before it stay format 1 until they are next written
//! (both are read, see `records.rs`). Lists, history entries and local
//! state stay JSON (few, or off the unlock path).
//!
//! Layout, fields in this order and nothing after them:
//! - title, notes: string
//! - list: option of id
//! - tags: count, then each string, strictly ascending (a `BTreeSet`)
//! - priority: byte 0–4
//! - due: option of (date: i32 days from CE; time: option of (u32
//!   seconds from midnight, u32 nanoseconds); tz: option of string)
//! - recurrence: option of string (the RRULE body, validated on read)
//! - parent: option of id
//! - order: string (validated on read)
//! - done: byte 0 or 1
//! - done_at: option of instant; created_at, updated_at: instant;
//!   trashed_at: option of instant
//!
//! A string is a length (LEB128, at most the bytes left) and UTF-8; an
//! option is a byte 0 or 1 and then the value; an id is its 16 bytes; an
//! instant is i64 seconds and u32 nanoseconds since the Unix epoch (little
//! endian). The task's own id is not stored: it is the row's, which the
//! AAD binds. Anything else — a byte out of range, a string that is not
//! UTF-8, a value the domain refuses, bytes left over — is an error, never
//! a guess.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};

use crate::domain::{Due, Id, Priority, Task};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

/// The `format` of a task record in this encoding.
pub(crate) const FORMAT: u16 = 2;

/// Why a format-2 payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compact task record: {0}")]
pub(crate) struct DecodeError(String);

fn err<T>(what: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(what.into()))
}

pub(crate) fn encode(t: &Task) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(96 + t.title.len() + t.notes.len()));
    w.str(&t.title);
    w.str(&t.notes);
    w.opt(t.list.as_ref(), |w, id| w.id(id));
    w.len(t.tags.len());
    for tag in &t.tags {
        w.str(tag);
    }
    w.0.push(t.priority.get());
    w.opt(t.due.as_ref(), |w, d| {
        w.0.extend_from_slice(&d.date.num_days_from_ce().to_le_bytes());
        w.opt(d.time.as_ref(), |w, t| {
            w.0.extend_from_slice(&t.num_seconds_from_midnight().to_le_bytes());
            w.0.extend_from_slice(&t.nanosecond().to_le_bytes());
        });
        w.opt(d.tz.as_ref(), |w, tz| w.str(tz));
    });
    w.opt(t.recurrence.as_ref(), |w, r| w.str(r.as_str()));
    w.opt(t.parent.as_ref(), |w, id| w.id(id));
    w.str(t.order.as_str());
    w.0.push(u8::from(t.done));
    w.opt(t.done_at.as_ref(), |w, at| w.instant(at));
    w.instant(&t.created_at);
    w.instant(&t.updated_at);
    w.opt(t.trashed_at.as_ref(), |w, at| w.instant(at));
    w.0
}

/// Reads the task stored under row id `id`.
pub(crate) fn decode(id: Id, b: &[u8]) -> Result<Task, DecodeError> {
    let mut r = Reader { b, at: 0 };
    let title = r.string()?;
    let notes = r.string()?;
    let list = r.opt(Reader::id)?;
    let mut tags = BTreeSet::new();
    for _ in 0..r.len()? {
        let tag = r.string()?;
        if tags.last().is_some_and(|last: &String| *last >= tag) {
            return err("tags out of order");
        }
        tags.insert(tag);
    }
    let priority = Priority::new(r.byte()?).or_else(|e| err(e.to_string()))?;
    let due = r.opt(|r| {
        let days = i32::from_le_bytes(r.array()?);
        let Some(date) = NaiveDate::from_num_days_from_ce_opt(days) else {
            return err("due date out of range");
        };
        let time = r.opt(|r| {
            let secs = u32::from_le_bytes(r.array()?);
            let nanos = u32::from_le_bytes(r.array()?);
            NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                .map_or_else(|| err("due time out of range"), Ok)
        })?;
        let tz = r.opt(Reader::string)?;
        Ok(Due { date, time, tz })
    })?;
    let recurrence =
        r.opt(|r| Recurrence::try_from(r.string()?).or_else(|e| err(e.to_string())))?;
    let parent = r.opt(Reader::id)?;
    let order = OrderKey::try_from(r.string()?).or_else(|e| err(e.to_string()))?;
    let done = match r.byte()? {
        0 => false,
        1 => true,
        b => return err(format!("done is {b}")),
    };
    let done_at = r.opt(Reader::instant)?;
    let created_at = r.instant()?;
    let updated_at = r.instant()?;
    let trashed_at = r.opt(Reader::instant)?;
    if r.at != b.len() {
        return err(format!("{} bytes after the last field", b.len() - r.at));
    }
    Ok(Task {
        id,
        title,
        notes,
        list,
        tags,
        priority,
        due,
        recurrence,
        parent,
        order,
        done,
        done_at,
        created_at,
        updated_at,
        trashed_at,
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn len(&mut self, mut n: usize) {
        loop {
            let low = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn id(&mut self, id: &Id) {
        self.0.extend_from_slice(id.as_bytes());
    }

    fn instant(&mut self, t: &DateTime<Utc>) {
        self.0.extend_from_slice(&t.timestamp().to_le_bytes());
        self.0
            .extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
    }

    fn opt<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                f(self, v);
            }
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.b.len() - self.at {
            return err("truncated");
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// A LEB128 length, which must fit in what is left (so a hostile
    /// length never makes anything allocate).
    fn len(&mut self) -> Result<usize, DecodeError> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if (b == 0 && shift > 0) || n > (self.b.len() - self.at) as u64 {
                    return err("bad length");
                }
                return Ok(n as usize);
            }
        }
        err("bad length")
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.len()?;
        match std::str::from_utf8(self.take(n)?) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => err("a string is not UTF-8"),
        }
    }

    fn id(&mut self) -> Result<Id, DecodeError> {
        Ok(Id::from_bytes(self.array()?))
    }

    fn instant(&mut self) -> Result<DateTime<Utc>, DecodeError> {
        let secs = i64::from_le_bytes(self.array()?);
        let nanos = u32::from_le_bytes(self.array()?);
        DateTime::from_timestamp(secs, nanos).map_or_else(|| err("instant out of range"), Ok)
    }

    fn opt<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => f(self).map(Some),
            b => err(format!("option tag {b}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (
            -62_135_596_800i64..253_402_300_799i64,
            prop_oneof![Just(0u32), 0u32..1_000_000_000],
        )
            .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "\\PC{0,40}", "[a-z ]{100,300}"]
    }

    fn id() -> impl Strategy<Value = Id> {
        any::<[u8; 16]>().prop_map(Id::from_bytes)
    }

    prop_compose! {
        fn due()(
            days in 1i32..3_000_000,
            time in proptest::option::of((0u32..86_400, prop_oneof![Just(0u32), 0u32..1_000_000_000])),
            tz in proptest::option::of(prop_oneof![Just("Europe/Berlin".to_string()), "\\PC{0,20}"]),
        ) -> Due {
            Due {
                date: NaiveDate::from_num_days_from_ce_opt(days).unwrap(),
                time: time.map(|(s, n)| NaiveTime::from_num_seconds_from_midnight_opt(s, n).unwrap()),
                tz,
            }
        }
    }

    prop_compose! {
        fn task()(
            id in id(),
            title in text(),
            notes in text(),
            list in proptest::option::of(id()),
            tags in proptest::collection::btree_set("\\PC{1,12}", 0..4),
            priority in 0u8..=4,
            due in proptest::option::of(due()),
            recurrence in proptest::option::of(prop_oneof![Just("FREQ=WEEKLY;BYDAY=MO"), Just("FREQ=DAILY;INTERVAL=2")]),
            parent in proptest::option::of(id()),
            order in "[0-9A-Za-z]{0,6}[1-9A-Za-z]",
            done: bool,
            done_at in proptest::option::of(instant()),
            created_at in instant(),
            updated_at in instant(),
            trashed_at in proptest::option::of(instant()),
        ) -> Task {
            Task {
                id,
                title,
                notes,
                list,
                tags,
                priority: Priority::new(priority).unwrap(),
                due,
                recurrence: recurrence.map(|r| Recurrence::parse(r).unwrap()),
                parent,
                order: OrderKey::parse(&order).unwrap(),
                done,
                done_at,
                created_at,
                updated_at,
                trashed_at,
            }
        }
    }

    proptest! {
        #[test]
        fn any_task_reads_back_as_written(t in task()) {
            let bytes = encode(&t);
            prop_assert_eq!(decode(t.id, &bytes), Ok(t.clone()));
            // And the same as its JSON (format 1) reads.
            let json: Task = serde_json::from_slice(&serde_json::to_vec(&t).unwrap()).unwrap();
            prop_assert_eq!(decode(t.id, &bytes).unwrap(), json);
        }

        #[test]
        fn any_cut_or_extended_payload_is_refused(t in task(), cut: usize, extra in proptest::collection::vec(any::<u8>(), 1..4)) {
            let bytes = encode(&t);
            let cut = cut % bytes.len();
            prop_assert!(decode(t.id, &bytes[..cut]).is_err());
            let mut longer = bytes.clone();
            longer.extend_from_slice(&extra);
            prop_assert!(decode(t.id, &longer).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(Id::from_bytes([1; 16]), &b);
        }
    }

    fn sample() -> Task {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        Task {
            id: Id::from_bytes([7; 16]),
            title: "Pay rent".into(),
            notes: String::new(),
            list: None,
            tags: ["bills".to_string(), "home".to_string()].into(),
            priority: Priority::new(1).unwrap(),
            due: None,
            recurrence: None,
            parent: None,
            order: OrderKey::first(),
            done: false,
            done_at: None,
            created_at: at,
            updated_at: at,
            trashed_at: None,
        }
    }

    /// The layout is a stored format: this is what a task looks like in
    /// it, byte for byte, so a change to the encoder cannot slip through.
    #[test]
    fn the_layout_is_as_documented() {
        let secs = 1_796_029_200i64.to_le_bytes();
        let mut want = vec![8];
        want.extend_from_slice(b"Pay rent");
        want.extend_from_slice(&[0, 0, 2, 5]);
        want.extend_from_slice(b"bills");
        want.push(4);
        want.extend_from_slice(b"home");
        want.extend_from_slice(&[1, 0, 0, 0, 1, b'V', 0, 0]);
        for _ in 0..2 {
            want.extend_from_slice(&secs);
            want.extend_from_slice(&[0; 4]);
        }
        want.push(0);
        assert_eq!(encode(&sample()), want);
        assert_eq!(decode(sample().id, &want), Ok(sample()));
    }

    #[test]
    fn values_the_domain_refuses_are_errors() {
        let good = encode(&sample());
        // Priority 5 (the byte after the tags).
        let p = 1 + 8 + 2 + 1 + 6 + 5;
        assert_eq!(good[p], 1);
        let mut bad = good.clone();
        bad[p] = 5;
        assert!(decode(sample().id, &bad)
            .unwrap_err()
            .0
            .contains("priority"));
        // An order key ending in 0.
        let mut t = sample();
        t.order = OrderKey::parse("V1").unwrap();
        let mut bad = encode(&t);
        let o = bad.iter().position(|&b| b == b'1').unwrap();
        bad[o] = b'0';
        assert!(decode(t.id, &bad).unwrap_err().0.contains("order key"));
        // A title that is not UTF-8.
        let mut bad = good.clone();
        bad[1] = 0xff;
        assert!(decode(sample().id, &bad).unwrap_err().0.contains("UTF-8"));
        // Tags out of order, and an option tag that is neither 0 nor 1.
        let mut bad = good.clone();
        bad.splice(
            12..23,
            [4, b'h', b'o', b'm', b'e', 5, b'b', b'i', b'l', b'l', b's'],
        );
        assert!(decode(sample().id, &bad).unwrap_err().0.contains("order"));
        let mut bad = good;
        bad[10] = 2;
        assert!(decode(sample().id, &bad).unwrap_err().0.contains("option"));
    }

    #[test]
    fn a_leap_second_reads_back() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let mut t = sample();
        t.done_at = Some(leap);
        t.due = Some(Due {
            date: leap.date_naive(),
            time: Some(leap.time()),
            tz: None,
        });
        assert_eq!(decode(t.id, &encode(&t)), Ok(t));
    }
}
