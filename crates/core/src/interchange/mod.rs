//! Import and export of tasks and lists.
//!
//! | format        | export | import | carries                                                        |
//! |---------------|--------|--------|----------------------------------------------------------------|
//! | `json`        | yes    | yes    | everything, exactly (ids, order keys, lists, timestamps)        |
//! | `csv`         | yes    | yes    | every task field; lists by name only; order as row order        |
//! | `ical`        | yes    | yes    | every field of our own export (timestamps to the second)        |
//! | `todoist`     | no     | yes    | Todoist's "export as template" CSV                              |
//! | `taskwarrior` | no     | yes    | the output of `task export` (array or one object per line)      |
//!
//! The per-format modules document their mappings. Rules shared by every
//! importer:
//!
//! * Input is bytes; it must be UTF-8 (a leading byte-order mark is
//!   ignored). Any byte sequence gives either a [`Bundle`] or an
//!   [`InterchangeError::Malformed`] naming the line and/or record — never a
//!   panic and never a partial bundle.
//! * Everything is validated as it is read: titles are non-blank, tags go
//!   through [`normalize_tag`] (whitespace inside a foreign tag becomes `-`),
//!   colours through [`normalize_colour`], time zones must be IANA names,
//!   recurrence rules must parse, and a parent must be a task of the same
//!   file (no cycles). The first problem ends the import.
//! * Records that carry no order get [`OrderKey`]s in file order (after
//!   any keys the file does carry); lists created by name likewise.
//! * `created_at`/`updated_at` come from the file when it has them, else
//!   [`ImportContext::now`]. Ids come from the file when it has a usable
//!   one (see each format), else are drawn from [`ImportContext::rng`].
//! * Error messages name fields, lines and records but never quote titles,
//!   notes, tags or list names (errors end up in logs).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::domain::{normalize_colour, normalize_tag, validate_tz, Id, List, ListId, Task};
use crate::order::OrderKey;

mod csv;
mod ical;
mod json;
mod taskwarrior;
mod todoist;

pub use json::JSON_VERSION;

/// What gets exported or comes out of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    pub lists: Vec<List>,
    pub tasks: Vec<Task>,
}

/// An interchange format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Our own lossless JSON document.
    Json,
    /// Our own CSV: one row per task.
    Csv,
    /// iCalendar (RFC 5545), one VTODO per task.
    Ical,
    /// Todoist's template/backup CSV (import only).
    Todoist,
    /// Taskwarrior's `task export` JSON (import only).
    Taskwarrior,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Csv,
        Format::Ical,
        Format::Todoist,
        Format::Taskwarrior,
    ];

    /// The name used on the command line and by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Ical => "ical",
            Format::Todoist => "todoist",
            Format::Taskwarrior => "taskwarrior",
        }
    }

    /// How error messages name the format ("todoist CSV, line 7: …").
    pub fn label(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Csv => "CSV",
            Format::Ical => "iCalendar",
            Format::Todoist => "todoist CSV",
            Format::Taskwarrior => "taskwarrior JSON",
        }
    }

    /// The usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json | Format::Taskwarrior => "json",
            Format::Csv | Format::Todoist => "csv",
            Format::Ical => "ics",
        }
    }

    pub fn can_export(self) -> bool {
        matches!(self, Format::Json | Format::Csv | Format::Ical)
    }

    pub fn can_import(self) -> bool {
        true
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected json, csv, ical, todoist or taskwarrior)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "ical" | "ics" | "icalendar" => Ok(Format::Ical),
            "todoist" => Ok(Format::Todoist),
            "taskwarrior" => Ok(Format::Taskwarrior),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// What an import needs from its caller.
pub struct ImportContext<'a> {
    /// Used for `created_at`/`updated_at` when the file has none, and to
    /// resolve relative dates ("tomorrow").
    pub now: DateTime<Utc>,
    /// Source of fresh ids.
    pub rng: &'a mut dyn rand::RngCore,
    /// The user's zone: UTC instants from the file become wall-clock times
    /// in this zone (with the zone recorded on the due date).
    pub local_tz: chrono_tz::Tz,
}

/// Where in the input a problem is. Lines and columns are 1-based and
/// count physical lines of the input; `record` is the 1-based number of the
/// record (task row, VTODO, JSON object) within its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub record: Option<u64>,
}

impl Location {
    pub fn at_line(line: u64) -> Self {
        Location {
            line: Some(line),
            ..Location::default()
        }
    }
    pub fn at_record(record: u64) -> Self {
        Location {
            record: Some(record),
            ..Location::default()
        }
    }
    pub fn with_record(mut self, record: u64) -> Self {
        self.record = Some(record);
        self
    }
    pub fn is_empty(&self) -> bool {
        self.line.is_none() && self.column.is_none() && self.record.is_none()
    }
    /// `", line 7, record 3"`, or nothing when unknown.
    fn suffix(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            format!(", {self}")
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(c) = self.column {
            parts.push(format!("column {c}"));
        }
        if let Some(r) = self.record {
            parts.push(format!("record {r}"));
        }
        if parts.is_empty() {
            f.write_str("unknown position")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// The input is not valid for the format; nothing was imported.
    #[error("{}{}: {message}", .format.label(), .location.suffix())]
    Malformed {
        format: Format,
        location: Location,
        message: String,
    },
    /// The format cannot be read or written in this direction.
    #[error("{} {direction} is not supported", .format.label())]
    Unsupported {
        format: Format,
        direction: &'static str,
    },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `bundle` in `format`.
pub fn export(
    format: Format,
    bundle: &Bundle,
    out: &mut dyn std::io::Write,
) -> Result<(), InterchangeError> {
    match format {
        Format::Json => json::export(bundle, out),
        Format::Csv => csv::export(bundle, out),
        Format::Ical => ical::export(bundle, out),
        Format::Todoist | Format::Taskwarrior => Err(InterchangeError::Unsupported {
            format,
            direction: "export",
        }),
    }
}

/// Reads `input` as `format`. Either every record is valid and the whole
/// bundle is returned, or the first problem is returned.
pub fn import(
    format: Format,
    input: &[u8],
    ctx: &mut ImportContext,
) -> Result<Bundle, InterchangeError> {
    match format {
        Format::Json => json::import(input),
        Format::Csv => csv::import(input, ctx),
        Format::Ical => ical::import(input, ctx),
        Format::Todoist => todoist::import(input, ctx),
        Format::Taskwarrior => taskwarrior::import(input, ctx),
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the format modules.

pub(super) fn malformed(
    format: Format,
    location: Location,
    message: impl Into<String>,
) -> InterchangeError {
    InterchangeError::Malformed {
        format,
        location,
        message: message.into(),
    }
}

/// Checks that `input` is UTF-8 and drops a leading byte-order mark.
pub(super) fn utf8(format: Format, input: &[u8]) -> Result<&str, InterchangeError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    std::str::from_utf8(input).map_err(|e| {
        let good = &input[..e.valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let column = good.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
        malformed(
            format,
            Location {
                line: Some(line),
                column: Some(column),
                record: None,
            },
            "the file is not UTF-8 text",
        )
    })
}

/// A value from the file, shortened and quoted for an error message.
/// Only used for structural values (dates, numbers, zone names, rules),
/// never for titles, notes, tags or list names.
pub(super) fn quoted(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        let short: String = s.chars().take(MAX).collect();
        format!("`{short}…`")
    } else {
        format!("`{s}`")
    }
}

/// A tag from a foreign source: trimmed, runs of whitespace turned into
/// `-`, then [`normalize_tag`]. `None` when nothing is left (e.g. `@`).
pub(super) fn tag_from(raw: &str) -> Option<String> {
    let joined = raw.split_whitespace().collect::<Vec<_>>().join("-");
    normalize_tag(&joined).ok()
}

/// A stored tag is valid when it is non-empty and has no whitespace (what
/// [`normalize_tag`] guarantees).
pub(super) fn is_valid_tag(t: &str) -> bool {
    !t.is_empty() && !t.chars().any(char::is_whitespace)
}

/// An id from another application, kept when it is one of ours (32 hex
/// digits) or a random (version 4) UUID; anything else (time-based UUIDs
/// embed a MAC address, other UIDs may embed host names or content) is
/// replaced by a fresh random id, because ids are stored in plaintext.
pub(super) fn id_from_foreign(s: &str) -> Option<Id> {
    let s = s.trim();
    let s = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    if s.len() == 32 {
        return s.to_ascii_lowercase().parse().ok();
    }
    let b = s.as_bytes();
    let dashed = s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    if !dashed {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let id: Id = hex.to_ascii_lowercase().parse().ok()?;
    let bytes = id.as_bytes();
    let version4 = bytes[6] >> 4 == 4;
    let rfc_variant = bytes[8] >> 6 == 0b10;
    (version4 && rfc_variant).then_some(id)
}

/// A task with every optional field empty.
pub(super) fn blank_task(id: Id, title: String, now: DateTime<Utc>) -> Task {
    Task {
        id,
        title,
        notes: String::new(),
        list: None,
        tags: BTreeSet::new(),
        priority: crate::domain::Priority::NONE,
        due: None,
        recurrence: None,
        parent: None,
        order: OrderKey::first(),
        done: false,
        done_at: None,
        created_at: now,
        updated_at: now,
        trashed_at: None,
    }
}

/// Keys for records in file order: records that have a key keep it, the
/// others get increasing keys after the largest one present.
pub(super) fn fill_orders(keys: Vec<Option<OrderKey>>) -> Vec<OrderKey> {
    let max = keys.iter().flatten().max().cloned();
    let missing = keys.iter().filter(|k| k.is_none()).count();
    let mut fresh = OrderKey::sequence(max.as_ref(), missing).into_iter();
    keys.into_iter()
        .map(|k| k.unwrap_or_else(|| fresh.next().unwrap_or_else(OrderKey::first)))
        .collect()
}

/// Lists created by name while importing, in order of first mention.
#[derive(Default)]
pub(super) struct ListsByName {
    pub lists: Vec<List>,
    pub orders: Vec<Option<OrderKey>>,
    by_name: HashMap<String, usize>,
    ids: HashSet<ListId>,
}

impl ListsByName {
    /// Adds a fully known list (e.g. from our own iCalendar export).
    pub fn add(&mut self, list: List) {
        self.by_name
            .entry(list.name.clone())
            .or_insert(self.lists.len());
        self.ids.insert(list.id);
        self.orders.push(Some(list.order.clone()));
        self.lists.push(list);
    }

    pub fn has_id(&self, id: ListId) -> bool {
        self.ids.contains(&id)
    }

    /// The list called `name` (trimmed), created if needed; `None` for a
    /// blank name.
    pub fn get_or_create(&mut self, name: &str, ctx: &mut ImportContext) -> Option<ListId> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        if let Some(&i) = self.by_name.get(name) {
            return Some(self.lists[i].id);
        }
        let list = List {
            id: Id::random(&mut *ctx.rng),
            name: name.to_string(),
            colour: None,
            order: OrderKey::first(),
            archived: false,
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        let id = list.id;
        self.ids.insert(id);
        self.by_name.insert(name.to_string(), self.lists.len());
        self.orders.push(None);
        self.lists.push(list);
        Some(id)
    }

    /// The lists, with keys filled in for the ones created by name.
    pub fn finish(self) -> Vec<List> {
        let keys = fill_orders(self.orders);
        self.lists
            .into_iter()
            .zip(keys)
            .map(|(mut l, k)| {
                l.order = k;
                l
            })
            .collect()
    }
}

/// Which record a [`Problem`] is about (index into the bundle's vector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Subject {
    List(usize),
    Task(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub subject: Subject,
    pub message: String,
}

/// Checks the invariants every imported bundle must satisfy.
pub(super) fn check_bundle(b: &Bundle) -> Result<(), Problem> {
    let list_err = |i: usize, m: String| Problem {
        subject: Subject::List(i),
        message: m,
    };
    let task_err = |i: usize, m: String| Problem {
        subject: Subject::Task(i),
        message: m,
    };
    let mut list_ids = HashSet::new();
    for (i, l) in b.lists.iter().enumerate() {
        if !list_ids.insert(l.id) {
            return Err(list_err(i, format!("list id {} appears twice", l.id)));
        }
        if l.name.trim().is_empty() {
            return Err(list_err(i, "a list needs a name".into()));
        }
        if let Some(c) = &l.colour {
            if normalize_colour(c).as_deref() != Ok(c.as_str()) {
                return Err(list_err(
                    i,
                    format!(
                        "colour {} is not of the form #rrggbb (lowercase)",
                        quoted(c)
                    ),
                ));
            }
        }
    }
    let mut index = HashMap::new();
    for (i, t) in b.tasks.iter().enumerate() {
        if index.insert(t.id, i).is_some() {
            return Err(task_err(i, format!("task id {} appears twice", t.id)));
        }
    }
    for (i, t) in b.tasks.iter().enumerate() {
        if t.title.trim().is_empty() {
            return Err(task_err(i, "a task needs a title".into()));
        }
        if let Some(l) = t.list {
            if !list_ids.contains(&l) {
                return Err(task_err(i, format!("list {l} is not a list in this file")));
            }
        }
        if !t.tags.iter().all(|tag| is_valid_tag(tag)) {
            return Err(task_err(i, "a tag is empty or contains whitespace".into()));
        }
        if let Some(due) = &t.due {
            if let Some(tz) = &due.tz {
                if validate_tz(tz).is_err() {
                    return Err(task_err(
                        i,
                        format!("time zone {} is not an IANA zone name", quoted(tz)),
                    ));
                }
                if due.time.is_none() {
                    return Err(task_err(i, "a due time zone needs a due time".into()));
                }
            }
        }
        if let Some(p) = t.parent {
            if p == t.id {
                return Err(task_err(i, "a task cannot be its own parent".into()));
            }
            if !index.contains_key(&p) {
                return Err(task_err(
                    i,
                    format!("parent {p} is not a task in this file"),
                ));
            }
        }
    }
    // Cycles: walk up from every task; 0 = unseen, 1 = on the current
    // path, 2 = known to reach a root.
    let mut state = vec![0u8; b.tasks.len()];
    for start in 0..b.tasks.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match state[i] {
                2 => break,
                1 => {
                    return Err(task_err(
                        start,
                        "parents form a cycle (a task is its own ancestor)".into(),
                    ))
                }
                _ => {}
            }
            state[i] = 1;
            path.push(i);
            cur = b.tasks[i].parent.and_then(|p| index.get(&p).copied());
        }
        for i in path {
            state[i] = 2;
        }
    }
    Ok(())
}

/// Maps a byte offset to a 1-based (line, column) pair.
pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    pub fn position(&self, offset: usize) -> (u64, u64) {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let col = offset - self.starts[line] + 1;
        (line as u64 + 1, col as u64)
    }

    pub fn location(&self, offset: usize) -> Location {
        let (line, column) = self.position(offset);
        Location {
            line: Some(line),
            column: Some(column),
            record: None,
        }
    }
}

#[cfg(test)]
pub(crate) mod testgen;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
            assert_eq!(f.to_string(), f.name());
        }
        assert_eq!("ICS".parse::<Format>().unwrap(), Format::Ical);
        assert!("xml".parse::<Format>().is_err());
        assert!(Format::Json.can_export() && !Format::Todoist.can_export());
    }

    #[test]
    fn error_display_names_format_and_line() {
        let e = malformed(
            Format::Todoist,
            Location::at_line(7),
            "PRIORITY `9` is not 1-4",
        );
        assert_eq!(
            e.to_string(),
            "todoist CSV, line 7: PRIORITY `9` is not 1-4"
        );
        let e = malformed(Format::Json, Location::default(), "x");
        assert_eq!(e.to_string(), "JSON: x");
        let e = export(Format::Todoist, &Bundle::default(), &mut Vec::new()).unwrap_err();
        assert!(matches!(e, InterchangeError::Unsupported { .. }), "{e}");
    }

    #[test]
    fn foreign_ids_are_kept_only_when_random() {
        let v4 = "3f2b8c1e-9d4a-4b7e-8f10-2a3b4c5d6e7f";
        assert_eq!(
            id_from_foreign(v4).unwrap().to_string(),
            "3f2b8c1e9d4a4b7e8f102a3b4c5d6e7f"
        );
        // Version 1 (time + MAC address) is not kept.
        assert!(id_from_foreign("3f2b8c1e-9d4a-1b7e-8f10-2a3b4c5d6e7f").is_none());
        assert!(id_from_foreign("20240501T120000Z-1234@example.com").is_none());
        assert!(id_from_foreign("0123456789ABCDEF0123456789abcdef").is_some());
        assert!(id_from_foreign("é23456789-ABCD-4F01-8345-6789abcdef0").is_none());
    }

    #[test]
    fn fill_orders_keeps_given_keys_and_appends() {
        let k = OrderKey::parse("b").unwrap();
        let out = fill_orders(vec![None, Some(k.clone()), None]);
        assert_eq!(out[1], k);
        assert!(out[0] > k && out[2] > out[0]);
    }

    #[test]
    fn foreign_tags_are_normalised() {
        assert_eq!(tag_from(" @Work Stuff ").as_deref(), Some("Work-Stuff"));
        assert_eq!(tag_from("@"), None);
        assert_eq!(tag_from("  "), None);
    }
}
