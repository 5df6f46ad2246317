//! Our own JSON document: lossless.
//!
//! ```json
//! {
//!   "format": "productivitypro",
//!   "version": 1,
//!   "lists": [ <List>, … ],
//!   "tasks": [ <Task>, … ]
//! }
//! ```
//!
//! Lists and tasks use the domain types' serde shape, so every field
//! (ids, order keys, timestamps to the nanosecond) survives export and
//! import exactly. Import checks `format` and `version` first, reports JSON
//! syntax and type errors with their line and column, and semantic errors
//! (a parent or list that is not in the file, duplicate ids, …) with the
//! line where the record starts and its number within `lists`/`tasks`.
//! Unknown top-level members and unknown fields inside records are
//! ignored (they are what a newer version may add without a version bump).
//!
//! This module also holds the small scanner used to find where records
//! start in an already-validated JSON text (also used by the Taskwarrior
//! importer).

use std::io::{BufWriter, Write};
use std::ops::Range;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

use super::{
    check_bundle, malformed, quoted, utf8, Bundle, Format, InterchangeError, LineIndex, Location,
    Subject,
};
use crate::domain::{List, Task};

/// The value of the top-level `format` member.
pub const FORMAT_NAME: &str = "productivitypro";
/// The version of the JSON document this build writes and reads.
pub const JSON_VERSION: u64 = 1;

#[derive(Serialize)]
struct Envelope<'a> {
    format: &'static str,
    version: u64,
    lists: &'a [List],
    tasks: &'a [Task],
}

pub(super) fn export(bundle: &Bundle, out: &mut dyn Write) -> Result<(), InterchangeError> {
    let mut w = BufWriter::new(out);
    let env = Envelope {
        format: FORMAT_NAME,
        version: JSON_VERSION,
        lists: &bundle.lists,
        tasks: &bundle.tasks,
    };
    serde_json::to_writer_pretty(&mut w, &env).map_err(write_error)?;
    w.write_all(b"\n")?;
    w.flush()?;
    Ok(())
}

pub(super) fn write_error(e: serde_json::Error) -> InterchangeError {
    match e.io_error_kind() {
        Some(kind) => InterchangeError::Io(std::io::Error::new(kind, e.to_string())),
        None => InterchangeError::Io(std::io::Error::other(e.to_string())),
    }
}

pub(super) fn import(input: &[u8]) -> Result<Bundle, InterchangeError> {
    const F: Format = Format::Json;
    let text = utf8(F, input)?;
    let lines = LineIndex::new(text);
    syntax_check(F, text, &lines)?;
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    if b.get(start) != Some(&b'{') {
        return Err(malformed(
            F,
            lines.location(start),
            "expected a JSON object with \"format\": \"productivitypro\"",
        ));
    }
    let members = object_members(b, start);
    let mut seen = std::collections::HashSet::new();
    let mut format_ok = false;
    let mut version_ok = false;
    let mut list_elems = Vec::new();
    let mut task_elems = Vec::new();
    for (key, value) in &members {
        let name: String = parse_at(F, text, &lines, key.clone(), None)?;
        if !seen.insert(name.clone()) {
            return Err(malformed(
                F,
                lines.location(key.start),
                format!("member {} appears twice", quoted(&name)),
            ));
        }
        let at = lines.location(value.start);
        match name.as_str() {
            "format" => {
                let v: serde_json::Value = parse_at(F, text, &lines, value.clone(), None)?;
                if v.as_str() != Some(FORMAT_NAME) {
                    return Err(malformed(
                        F,
                        at,
                        format!("not a ProductivityPro export (\"format\" is {v}, expected \"productivitypro\")"),
                    ));
                }
                format_ok = true;
            }
            "version" => {
                let v: serde_json::Value = parse_at(F, text, &lines, value.clone(), None)?;
                if v.as_u64() != Some(JSON_VERSION) {
                    return Err(malformed(
                        F,
                        at,
                        format!(
                            "unsupported version {v} (this build reads version {JSON_VERSION})"
                        ),
                    ));
                }
                version_ok = true;
            }
            "lists" | "tasks" => {
                if b.get(value.start) != Some(&b'[') {
                    return Err(malformed(F, at, format!("\"{name}\" must be an array")));
                }
                let elems = array_elements(b, value.start);
                if name == "lists" {
                    list_elems = elems;
                } else {
                    task_elems = elems;
                }
            }
            _ => {}
        }
    }
    if !format_ok {
        return Err(malformed(
            F,
            Location::at_line(1),
            "not a ProductivityPro export (no \"format\": \"productivitypro\")",
        ));
    }
    if !version_ok {
        return Err(malformed(F, Location::at_line(1), "missing \"version\""));
    }
    let mut bundle = Bundle::default();
    for (i, r) in list_elems.iter().enumerate() {
        let list: List = parse_at(F, text, &lines, r.clone(), Some((i, "lists")))?;
        bundle.lists.push(list);
    }
    for (i, r) in task_elems.iter().enumerate() {
        let task: Task = parse_at(F, text, &lines, r.clone(), Some((i, "tasks")))?;
        bundle.tasks.push(task);
    }
    check_bundle(&bundle).map_err(|p| {
        let (elems, i, kind) = match p.subject {
            Subject::List(i) => (&list_elems, i, "lists"),
            Subject::Task(i) => (&task_elems, i, "tasks"),
        };
        let (line, _) = lines.position(elems[i].start);
        malformed(
            F,
            Location::at_line(line).with_record(i as u64 + 1),
            format!("in \"{kind}\": {}", p.message),
        )
    })?;
    Ok(bundle)
}

/// Fails with serde_json's own line/column when `text` is not one JSON
/// value.
pub(super) fn syntax_check(
    format: Format,
    text: &str,
    lines: &LineIndex,
) -> Result<(), InterchangeError> {
    serde_json::from_str::<IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| json_error(format, &e, lines, 0..text.len(), None))
}

/// Deserializes `text[range]`, mapping errors to positions in `text`.
/// `record` is the element's 0-based index and the array it is in.
pub(super) fn parse_at<T: DeserializeOwned>(
    format: Format,
    text: &str,
    lines: &LineIndex,
    range: Range<usize>,
    record: Option<(usize, &str)>,
) -> Result<T, InterchangeError> {
    let slice = text.get(range.clone()).unwrap_or("");
    serde_json::from_str(slice).map_err(|e| json_error(format, &e, lines, range, record))
}

fn json_error(
    format: Format,
    e: &serde_json::Error,
    lines: &LineIndex,
    range: Range<usize>,
    record: Option<(usize, &str)>,
) -> InterchangeError {
    let (base_line, base_col) = lines.position(range.start);
    let mut loc = Location::default();
    if e.line() > 0 {
        let line = base_line + e.line() as u64 - 1;
        let col = if e.line() == 1 {
            base_col + (e.column() as u64).saturating_sub(1)
        } else {
            e.column() as u64
        };
        loc.line = Some(line);
        loc.column = Some(col.max(1));
    }
    let mut message = e.to_string();
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    if let Some((i, kind)) = record {
        loc.record = Some(i as u64 + 1);
        if !kind.is_empty() {
            message = format!("in \"{kind}\": {message}");
        }
    }
    malformed(format, loc, message)
}

// ---------------------------------------------------------------------------
// A scanner over JSON text that serde_json has already accepted: it only
// finds where values start and end. Every access is bounds-checked, so
// even on unexpected input it returns garbage ranges rather than panicking.

pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

fn string_end(b: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    b.len()
}

/// The index just after the value that starts at `i`.
pub(super) fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            j
        }
    }
}

/// The ranges of the elements of the array that starts at `i` (`[`).
pub(super) fn array_elements(b: &[u8], i: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b']') {
        return out;
    }
    while j < b.len() {
        let end = value_end(b, j).max(j + 1);
        out.push(j..end.min(b.len()));
        j = skip_ws(b, end);
        if b.get(j) == Some(&b',') {
            j = skip_ws(b, j + 1);
        } else {
            break;
        }
    }
    out
}

/// The (key, value) ranges of the object that starts at `i` (`{`); key
/// ranges include the quotes.
pub(super) fn object_members(b: &[u8], i: usize) -> Vec<(Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let mut j = skip_ws(b, i + 1);
    while b.get(j) == Some(&b'"') {
        let key_end = string_end(b, j);
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            break;
        }
        let v = skip_ws(b, colon + 1);
        let v_end = value_end(b, v).max(v + 1).min(b.len());
        out.push((j..key_end, v..v_end));
        j = skip_ws(b, v_end);
        if b.get(j) == Some(&b',') {
            j = skip_ws(b, j + 1);
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testgen;
    use super::*;
    use proptest::prelude::*;

    fn to_json(b: &Bundle) -> String {
        let mut out = Vec::new();
        export(b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    proptest! {
        #[test]
        fn export_import_round_trip_is_lossless(b in testgen::bundle()) {
            let text = to_json(&b);
            let back = import(text.as_bytes()).unwrap();
            prop_assert_eq!(back, b);
        }

        #[test]
        fn import_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = import(&bytes);
        }

        #[test]
        fn import_of_damaged_exports_never_panics(
            b in testgen::bundle(),
            cuts in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = to_json(&b).into_bytes();
            for (ix, byte) in cuts {
                let i = ix.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = import(&bytes);
        }
    }

    #[test]
    fn round_trip_keeps_sub_second_timestamps() {
        let mut b = Bundle::default();
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00.123456789Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut task = super::super::blank_task(
            "0123456789abcdef0123456789abcdef".parse().unwrap(),
            "x".into(),
            t,
        );
        task.done_at = Some(t);
        b.tasks.push(task);
        assert_eq!(import(to_json(&b).as_bytes()).unwrap(), b);
    }

    fn err(text: &str) -> (Location, String) {
        match import(text.as_bytes()) {
            Err(InterchangeError::Malformed {
                location, message, ..
            }) => (location, message),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn rejects_other_formats_and_versions() {
        let (loc, msg) = err("{\"format\": \"todoist\", \"version\": 1}");
        assert_eq!(loc.line, Some(1));
        assert!(msg.contains("not a ProductivityPro export"), "{msg}");
        let (loc, msg) = err("{\n  \"format\": \"productivitypro\",\n  \"version\": 2\n}");
        assert_eq!(loc.line, Some(3));
        assert!(msg.contains("unsupported version 2"), "{msg}");
        let (_, msg) = err("[1, 2]");
        assert!(msg.contains("expected a JSON object"), "{msg}");
        let (loc, _) = err("");
        assert_eq!(loc.line, Some(1));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let (loc, msg) = err("{\n  \"format\": \"productivitypro\",\n  \"version\": 1,,\n}");
        assert_eq!(loc.line, Some(3));
        assert!(loc.column.is_some());
        assert!(!msg.contains("at line"), "{msg}");
    }

    const GOOD_TASK: &str = r#"{"id":"0123456789abcdef0123456789abcdef","title":"a","order":"V",
        "created_at":"2024-05-01T12:00:00Z","updated_at":"2024-05-01T12:00:00Z"}"#;

    #[test]
    fn bad_record_reports_its_line_and_index() {
        let text = format!(
            "{{\"format\":\"productivitypro\",\"version\":1,\"lists\":[],\"tasks\":[\n{GOOD_TASK},\n{}\n]}}",
            GOOD_TASK
                .replace("0123456789abcdef0123456789abcdef", "ffffffffffffffffffffffffffffffff")
                .replace("\"title\":\"a\"", "\"title\":\"b\",\"priority\":7")
        );
        let (loc, msg) = err(&text);
        assert_eq!(loc.record, Some(2));
        // The good task spans lines 2-3; the bad one starts on line 4.
        assert_eq!(loc.line, Some(4), "{msg}");
        assert!(msg.contains("priority must be 0 (none) to 4"), "{msg}");
        assert!(msg.contains("tasks"), "{msg}");
    }

    #[test]
    fn dangling_parent_is_malformed_with_record() {
        let child = GOOD_TASK.replace(
            "\"title\":\"a\"",
            "\"title\":\"a\",\"parent\":\"ffffffffffffffffffffffffffffffff\"",
        );
        let text =
            format!("{{\"format\":\"productivitypro\",\"version\":1,\"tasks\":[\n\n{child}]}}");
        let (loc, msg) = err(&text);
        assert_eq!((loc.line, loc.record), (Some(3), Some(1)));
        assert!(msg.contains("parent"), "{msg}");
    }

    #[test]
    fn duplicate_ids_and_cycles_are_malformed() {
        let text = format!(
            "{{\"format\":\"productivitypro\",\"version\":1,\"tasks\":[{GOOD_TASK},{GOOD_TASK}]}}"
        );
        assert!(err(&text).1.contains("appears twice"));
        let a = GOOD_TASK.replace(
            "\"title\":\"a\"",
            "\"title\":\"a\",\"parent\":\"ffffffffffffffffffffffffffffffff\"",
        );
        let b = GOOD_TASK
            .replace(
                "0123456789abcdef0123456789abcdef",
                "ffffffffffffffffffffffffffffffff",
            )
            .replace(
                "\"title\":\"a\"",
                "\"title\":\"b\",\"parent\":\"0123456789abcdef0123456789abcdef\"",
            );
        let text = format!("{{\"format\":\"productivitypro\",\"version\":1,\"tasks\":[{a},{b}]}}");
        assert!(err(&text).1.contains("cycle"));
    }

    #[test]
    fn invalid_utf8_is_malformed_with_line() {
        let mut bytes = b"{\n\"format\": \"".to_vec();
        bytes.push(0xff);
        match import(&bytes) {
            Err(InterchangeError::Malformed { location, .. }) => {
                assert_eq!(location.line, Some(2))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scanner_finds_elements() {
        let t = br#"[ {"a":"x,]\"y"}, [1,[2]] , "s" ,3 ]"#;
        let r = array_elements(t, 0);
        let parts: Vec<&str> = r
            .iter()
            .map(|r| std::str::from_utf8(&t[r.clone()]).unwrap())
            .collect();
        assert_eq!(parts, [r#"{"a":"x,]\"y"}"#, "[1,[2]]", "\"s\"", "3"]);
    }
}
