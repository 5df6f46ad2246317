//! Our own CSV: one row per task, for spreadsheets and scripts.
//!
//! Columns (header row required, in any order, names case-insensitive):
//!
//! | column       | export                                   | import                                           |
//! |--------------|------------------------------------------|--------------------------------------------------|
//! | `id`         | 32 hex digits                            | optional; empty → fresh random id                |
//! | `title`      | as stored                                | required, non-blank, kept exactly                |
//! | `notes`      | as stored (newlines quoted)              | optional                                         |
//! | `list`       | list name                                | lists are found or created by (trimmed) name     |
//! | `tags`       | space-separated                          | split on whitespace, each via `normalize_tag`    |
//! | `priority`   | `0`–`4` (0 none, 1 most urgent)          | empty → 0                                        |
//! | `due_date`   | `YYYY-MM-DD`                             |                                                  |
//! | `due_time`   | `HH:MM` or `HH:MM:SS[.f]`                | needs `due_date`                                 |
//! | `due_tz`     | IANA zone                                | needs `due_time`                                 |
//! | `recurrence` | RRULE body (`FREQ=WEEKLY;BYDAY=MO`)      | validated                                        |
//! | `parent`     | parent's id                              | must be the `id` of a row in the file            |
//! | `done`       | `true`/`false`                           | also yes/no/1/0/x/empty                          |
//! | `done_at`, `created_at`, `updated_at` | RFC 3339 UTC, full precision | RFC 3339 or `YYYY-MM-DD HH:MM[:SS]` (UTC); empty timestamps → now |
//!
//! Rows are written in manual order (by order key) and imported rows get
//! fresh order keys in row order, so the order survives but not the keys.
//! What the CSV does not carry: order keys themselves, list ids, colours,
//! archived flags, list order and timestamps, and lists without tasks.
//! Unknown columns are rejected, so a misspelt header is an error rather
//! than silently dropped data.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc};

use super::{
    blank_task, check_bundle, malformed, quoted, tag_from, utf8, Bundle, Format, ImportContext,
    InterchangeError, ListsByName, Location, Subject,
};
use crate::domain::{validate_tz, Due, Id, Priority};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

const F: Format = Format::Csv;

pub const COLUMNS: [&str; 15] = [
    "id",
    "title",
    "notes",
    "list",
    "tags",
    "priority",
    "due_date",
    "due_time",
    "due_tz",
    "recurrence",
    "parent",
    "done",
    "done_at",
    "created_at",
    "updated_at",
];

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub(super) fn time_text(t: NaiveTime) -> String {
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S%.f").to_string()
    }
}

pub(super) fn export(bundle: &Bundle, out: &mut dyn Write) -> Result<(), InterchangeError> {
    let names: HashMap<_, _> = bundle.lists.iter().map(|l| (l.id, &l.name)).collect();
    let mut rows: Vec<_> = bundle.tasks.iter().collect();
    rows.sort_by(|a, b| a.order.cmp(&b.order));
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(COLUMNS).map_err(csv_write_error)?;
    for t in rows {
        let (date, time, tz) = match &t.due {
            Some(d) => (
                d.date.format("%Y-%m-%d").to_string(),
                d.time.map(time_text).unwrap_or_default(),
                d.tz.clone().unwrap_or_default(),
            ),
            None => Default::default(),
        };
        let record = [
            t.id.to_string(),
            t.title.clone(),
            t.notes.clone(),
            t.list
                .and_then(|l| names.get(&l).map(|n| n.to_string()))
                .unwrap_or_default(),
            t.tags.iter().cloned().collect::<Vec<_>>().join(" "),
            t.priority.get().to_string(),
            date,
            time,
            tz,
            t.recurrence
                .as_ref()
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            t.parent.map(|p| p.to_string()).unwrap_or_default(),
            t.done.to_string(),
            t.done_at.as_ref().map(timestamp).unwrap_or_default(),
            timestamp(&t.created_at),
            timestamp(&t.updated_at),
        ];
        w.write_record(&record).map_err(csv_write_error)?;
    }
    w.flush()?;
    Ok(())
}

pub(super) fn csv_write_error(e: ::csv::Error) -> InterchangeError {
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => InterchangeError::Io(io),
        other => InterchangeError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}

/// Reads the next non-blank row into `record` and returns where it is
/// (file line, and its number among non-blank rows, counted in `n`);
/// `None` at the end of the file. Shared by every CSV importer so blank
/// rows and numbering mean the same in all of them.
pub(super) fn next_row(
    format: Format,
    reader: &mut ::csv::Reader<&[u8]>,
    record: &mut ::csv::StringRecord,
    n: &mut u64,
) -> Result<Option<Location>, InterchangeError> {
    loop {
        if !reader
            .read_record(record)
            .map_err(|e| csv_read_error(format, e))?
        {
            return Ok(None);
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        *n += 1;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        return Ok(Some(Location::at_line(line).with_record(*n)));
    }
}

/// Maps a csv crate error to Malformed (with its line when known).
pub(super) fn csv_read_error(format: Format, e: ::csv::Error) -> InterchangeError {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields but the header has {expected_len}"),
        ::csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8 text".to_string(),
        _ => {
            let mut m = e.to_string();
            if let Some(cut) = m.find(": ") {
                if m.starts_with("CSV") {
                    m = m[cut + 2..].to_string();
                }
            }
            m
        }
    };
    let location = match line {
        Some(l) => Location::at_line(l),
        None => Location::default(),
    };
    malformed(format, location, message)
}

pub(super) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

pub(super) fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "x" => Some(true),
        "false" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

struct Row {
    line: u64,
    record: u64,
    parent: Option<Id>,
}

pub(super) fn import(input: &[u8], ctx: &mut ImportContext) -> Result<Bundle, InterchangeError> {
    let text = utf8(F, input)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_read_error(F, e))?.clone();
    let mut col: HashMap<&'static str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().to_ascii_lowercase();
        let Some(&name) = COLUMNS.iter().find(|c| **c == h) else {
            return Err(malformed(
                F,
                Location::at_line(1),
                format!(
                    "unknown column {} (expected some of: {})",
                    quoted(&h),
                    COLUMNS.join(", ")
                ),
            ));
        };
        if col.insert(name, i).is_some() {
            return Err(malformed(
                F,
                Location::at_line(1),
                format!("column `{name}` appears twice"),
            ));
        }
    }
    if !col.contains_key("title") {
        return Err(malformed(
            F,
            Location::at_line(1),
            "the header row has no `title` column (is the first row a header?)",
        ));
    }

    let mut lists = ListsByName::default();
    let mut tasks = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut ids = HashSet::new();
    let mut record = ::csv::StringRecord::new();
    let mut n = 0u64;
    while let Some(at) = next_row(F, &mut reader, &mut record, &mut n)? {
        let line = at.line.unwrap_or(0);
        let bad = |m: String| malformed(F, at, m);
        if record.len() > headers.len() {
            return Err(bad(format!(
                "row has {} fields but the header has {}",
                record.len(),
                headers.len()
            )));
        }
        let get = |c: &str| col.get(c).and_then(|&i| record.get(i)).unwrap_or("");

        let id_text = get("id").trim();
        let id = if !id_text.is_empty() {
            id_text
                .to_ascii_lowercase()
                .parse::<Id>()
                .map_err(|_| bad(format!("id {} is not 32 hex digits", quoted(id_text))))?
        } else {
            Id::random(&mut *ctx.rng)
        };
        if !ids.insert(id) {
            return Err(bad(format!("id {id} appears twice")));
        }
        let title = get("title");
        if title.trim().is_empty() {
            return Err(bad(
                "a task needs a title (the `title` column is empty)".into()
            ));
        }
        let mut task = blank_task(id, title.to_string(), ctx.now);
        task.notes = get("notes").to_string();
        task.list = lists.get_or_create(get("list"), ctx);
        task.tags = get("tags")
            .split_whitespace()
            .filter_map(tag_from)
            .collect::<BTreeSet<_>>();
        let p = get("priority").trim();
        if !p.is_empty() {
            task.priority = p
                .parse::<u8>()
                .ok()
                .and_then(|p| Priority::new(p).ok())
                .ok_or_else(|| bad(format!("priority {} is not 0-4", quoted(p))))?;
        }
        let (date, time, tz) = (
            get("due_date").trim(),
            get("due_time").trim(),
            get("due_tz").trim(),
        );
        if !date.is_empty() {
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| bad(format!("due_date {} is not YYYY-MM-DD", quoted(date))))?;
            let time = if time.is_empty() {
                None
            } else {
                Some(parse_time(time).ok_or_else(|| {
                    bad(format!(
                        "due_time {} is not HH:MM or HH:MM:SS",
                        quoted(time)
                    ))
                })?)
            };
            let tz = if tz.is_empty() {
                None
            } else {
                validate_tz(tz).map_err(|_| {
                    bad(format!(
                        "due_tz {} is not an IANA time zone name",
                        quoted(tz)
                    ))
                })?;
                if time.is_none() {
                    return Err(bad("due_tz needs a due_time".into()));
                }
                Some(tz.to_string())
            };
            task.due = Some(Due { date, time, tz });
        } else if !time.is_empty() || !tz.is_empty() {
            return Err(bad("due_time and due_tz need a due_date".into()));
        }
        let rule = get("recurrence").trim();
        if !rule.is_empty() {
            task.recurrence = Some(Recurrence::parse(rule).map_err(|e| bad(e.to_string()))?);
        }
        let parent = get("parent").trim();
        let parent = if parent.is_empty() {
            None
        } else {
            Some(
                parent
                    .to_ascii_lowercase()
                    .parse::<Id>()
                    .map_err(|_| bad(format!("parent {} is not 32 hex digits", quoted(parent))))?,
            )
        };
        let done = get("done");
        task.done = parse_bool(done)
            .ok_or_else(|| bad(format!("done {} is not true or false", quoted(done))))?;
        for (name, slot) in [("done_at", 0), ("created_at", 1), ("updated_at", 2)] {
            let v = get(name).trim();
            if v.is_empty() {
                continue;
            }
            let t = parse_timestamp(v)
                .ok_or_else(|| bad(format!("{name} {} is not an RFC 3339 timestamp", quoted(v))))?;
            match slot {
                0 => task.done_at = Some(t),
                1 => task.created_at = t,
                _ => task.updated_at = t,
            }
        }
        tasks.push(task);
        rows.push(Row {
            line,
            record: n,
            parent,
        });
    }

    for (task, row) in tasks.iter_mut().zip(&rows) {
        if let Some(p) = row.parent {
            if !ids.contains(&p) {
                return Err(malformed(
                    F,
                    Location::at_line(row.line).with_record(row.record),
                    format!("parent {p} is not the id of a row in this file"),
                ));
            }
            task.parent = Some(p);
        }
    }
    let keys = OrderKey::sequence(None, tasks.len());
    for (t, k) in tasks.iter_mut().zip(keys) {
        t.order = k;
    }
    let bundle = Bundle {
        lists: lists.finish(),
        tasks,
    };
    check_bundle(&bundle).map_err(|p| {
        let loc = match p.subject {
            Subject::Task(i) => Location::at_line(rows[i].line).with_record(rows[i].record),
            Subject::List(_) => Location::default(),
        };
        malformed(F, loc, p.message)
    })?;
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, with_ctx};
    use super::*;
    use proptest::prelude::*;

    fn to_csv(b: &Bundle) -> String {
        let mut out = Vec::new();
        export(b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn imp(text: &str) -> Result<Bundle, InterchangeError> {
        with_ctx(|ctx| import(text.as_bytes(), ctx))
    }

    /// What the CSV round trip can carry: tasks in order-key order, with
    /// list references replaced by names and order keys renumbered.
    fn comparable(b: &Bundle) -> Vec<(crate::domain::Task, Option<String>)> {
        let mut tasks = b.tasks.clone();
        tasks.sort_by(|a, b| a.order.cmp(&b.order));
        let keys = OrderKey::sequence(None, tasks.len());
        tasks
            .into_iter()
            .zip(keys)
            .map(|(mut t, k)| {
                t.order = k;
                let name = t
                    .list
                    .take()
                    .and_then(|l| b.lists.iter().find(|x| x.id == l))
                    .map(|l| l.name.clone());
                (t, name)
            })
            .collect()
    }

    proptest! {
        /// Everything but order keys and list metadata (see module docs).
        #[test]
        fn export_import_round_trip_is_lossless(mut b in testgen::bundle()) {
            // Lists are matched by name in CSV, so names must be unique.
            for (i, l) in b.lists.iter_mut().enumerate() {
                l.name = format!("{} {i}", l.name);
            }
            let text = to_csv(&b);
            let back = imp(&text).unwrap();
            prop_assert_eq!(comparable(&back), comparable(&b));
            let used: BTreeSet<_> = b.tasks.iter().filter_map(|t| t.list).collect();
            prop_assert_eq!(back.lists.len(), used.len());
        }

        #[test]
        fn import_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }

        #[test]
        fn import_of_damaged_exports_never_panics(
            b in testgen::bundle(),
            cuts in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = to_csv(&b).into_bytes();
            for (ix, byte) in cuts {
                let i = ix.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }
    }

    #[test]
    fn quotes_commas_quotes_and_newlines() {
        let mut b = Bundle::default();
        let mut t = blank_task(
            "0123456789abcdef0123456789abcdef".parse().unwrap(),
            "Buy milk, eggs and \"good\" bread\nsoon".into(),
            DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        t.notes = "line 1\r\nline 2".into();
        b.tasks.push(t);
        let text = to_csv(&b);
        assert!(
            text.contains("\"Buy milk, eggs and \"\"good\"\" bread\nsoon\""),
            "{text}"
        );
        let back = imp(&text).unwrap();
        assert_eq!(back.tasks[0].title, b.tasks[0].title);
        assert_eq!(back.tasks[0].notes, b.tasks[0].notes);
    }

    #[test]
    fn minimal_hand_written_file() {
        let text = "\u{feff}Title,List,Tags,Priority,Due_Date,Due_Time,Due_TZ\n\
                    Call mum,Home,@family  phone,1,2024-05-01,18:30,Europe/Berlin\n\
                    ,,,,,,\n\
                    Water plants,Home,,,2024-05-02,,\n\
                    File taxes,Admin,,4,,,\n";
        let b = imp(text).unwrap();
        assert_eq!(b.tasks.len(), 3);
        assert_eq!(b.lists.len(), 2);
        let t = &b.tasks[0];
        assert_eq!(t.tags.iter().collect::<Vec<_>>(), ["family", "phone"]);
        assert_eq!(t.priority.get(), 1);
        assert_eq!(
            t.due.as_ref().unwrap().to_string(),
            "2024-05-01 18:30 Europe/Berlin"
        );
        assert_eq!(b.tasks[0].list, b.tasks[1].list);
        assert!(b.tasks[0].order < b.tasks[1].order && b.tasks[1].order < b.tasks[2].order);
        assert!(b.lists[0].order < b.lists[1].order);
    }

    fn err(text: &str) -> (Location, String) {
        match imp(text) {
            Err(InterchangeError::Malformed {
                location, message, ..
            }) => (location, message),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn malformed_rows_report_line_and_record() {
        let (loc, msg) = err("title,priority\na,1\n\"b\nc\",2\nd,9\n");
        assert_eq!((loc.line, loc.record), (Some(5), Some(3)));
        assert_eq!(msg, "priority `9` is not 0-4");
        let (loc, msg) = err("title,due_time\na,10:00\n");
        assert_eq!(loc.line, Some(2));
        assert!(msg.contains("need a due_date"), "{msg}");
        let (loc, msg) = err("title,prority\na,1\n");
        assert_eq!(loc.line, Some(1));
        assert!(msg.contains("unknown column"), "{msg}");
        let (_, msg) = err("id,title,parent\n,a,0123456789abcdef0123456789abcdef\n");
        assert!(msg.contains("parent"), "{msg}");
        let (loc, msg) = err("title,recurrence\na,\nb,FREQ=SOMETIMES\n");
        assert_eq!(loc.line, Some(3));
        assert!(msg.contains("not a valid recurrence rule"), "{msg}");
        let (_, msg) = err("title,notes\na,b,c\n");
        assert!(msg.contains("3 fields"), "{msg}");
    }

    #[test]
    fn parent_cycle_is_malformed() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "ffffffffffffffffffffffffffffffff";
        let (loc, msg) = err(&format!("id,title,parent\n{a},x,{b}\n{b},y,{a}\n"));
        assert!(msg.contains("cycle"), "{msg}");
        assert_eq!(loc.line, Some(2));
    }
}
