//! iCalendar (RFC 5545): one VTODO per task.
//!
//! Written by hand: content lines are folded at 75 octets (never inside a
//! UTF-8 character) and end in CRLF; TEXT values escape `\\ ; , newline`.
//! The reader unfolds CRLF- or LF-terminated lines, unescapes TEXT, and
//! ignores components and properties it does not know (VEVENT, VJOURNAL,
//! VALARM, VTIMEZONE contents other than `X-LIC-LOCATION`, …).
//!
//! | task field   | VTODO property                                                              |
//! |--------------|-----------------------------------------------------------------------------|
//! | `id`         | `UID` (foreign UIDs: see [`super::id_from_foreign`]; others get fresh ids)  |
//! | `title`      | `SUMMARY` (missing or blank in a foreign file → `(untitled)`)               |
//! | `notes`      | `DESCRIPTION`                                                               |
//! | `tags`       | `CATEGORIES` (several properties and comma lists allowed)                   |
//! | `priority`   | `PRIORITY`, see below                                                       |
//! | `due`        | `DUE`: `;VALUE=DATE` date-only, `;TZID=` zoned, plain = floating; `…Z` on import becomes wall time in the importer's zone |
//! | `recurrence` | `RRULE` (plus `DTSTART` = `DUE` on export, for clients that anchor rules on it) |
//! | `parent`     | `RELATED-TO` (RELTYPE=PARENT, the default)                                  |
//! | `done`       | `STATUS:COMPLETED` (import: also CANCELLED; no STATUS but `COMPLETED` set)  |
//! | `done_at`    | `COMPLETED`                                                                 |
//! | `created_at` | `CREATED` (else `LAST-MODIFIED`, else now)                                  |
//! | `updated_at` | `LAST-MODIFIED` (else `DTSTAMP`, else now); `DTSTAMP` is written as `updated_at` |
//! | `list`       | `X-PRODUCTIVITYPRO-LIST-ID` + `X-PRODUCTIVITYPRO-LIST` (name); a foreign calendar's `X-WR-CALNAME` names the list of VTODOs without one |
//! | `order`      | `X-PRODUCTIVITYPRO-ORDER`                                                   |
//!
//! **Priority.** iCalendar has 1 (highest) … 9 (lowest), 0 = undefined, and
//! RFC 5545 maps a three-level scheme as 1–4 HIGH, 5 MEDIUM, 6–9 LOW (Apple
//! Reminders and Thunderbird write 1, 5 and 9). Export: our 1 → 1, 2 → 5,
//! 3 → 9, 4 → 9 plus `X-PRODUCTIVITYPRO-PRIORITY:4` so our own files keep
//! the difference. Import: `X-PRODUCTIVITYPRO-PRIORITY` when present, else
//! 0 → none, 1–4 → 1, 5 → 2, 6–9 → 3 (the same high/medium/low → 1/2/3 as
//! Taskwarrior's H/M/L).
//!
//! **Lists** are written as `BEGIN:X-PRODUCTIVITYPRO-LIST` components (an
//! x-comp, which other clients skip) carrying id, name, colour, order,
//! archived flag and timestamps, so our own export round-trips lists too.
//!
//! **Time zones.** Each zone used by a due time gets a VTIMEZONE generated
//! from the tz database for the years the due dates fall in. On import a
//! TZID is used when it is an IANA name, else the VTIMEZONE's
//! `X-LIC-LOCATION`, else an IANA name at its end
//! (`/mozilla.org/20070129_1/Europe/Berlin`), else a common Windows zone
//! name; failing all that the time is kept as floating wall-clock time.
//!
//! **Lossless round trip** of our own export, except: timestamps and due
//! times are cut to whole seconds (DATE-TIME has no fractions), and a
//! carriage return in a title or notes becomes a line feed (TEXT can only
//! escape `\n`).
//!
//! VTODOs with `RECURRENCE-ID` (overrides of one instance of a recurring
//! task) are skipped; the master VTODO carries the task.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, BufWriter, Write};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use super::{
    blank_task, check_bundle, fill_orders, id_from_foreign, malformed, quoted, tag_from, utf8,
    Bundle, Format, ImportContext, InterchangeError, ListsByName, Location, Subject,
};
use crate::domain::{normalize_colour, validate_tz, Due, Id, List, Priority, Task};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

const F: Format = Format::Ical;
const LIST_COMPONENT: &str = "X-PRODUCTIVITYPRO-LIST";
const X_LIST: &str = "X-PRODUCTIVITYPRO-LIST";
const X_LIST_ID: &str = "X-PRODUCTIVITYPRO-LIST-ID";
const X_ORDER: &str = "X-PRODUCTIVITYPRO-ORDER";
const X_PRIORITY: &str = "X-PRODUCTIVITYPRO-PRIORITY";
/// Deeper nesting is rejected (and keeps dropping the tree non-recursive
/// enough to be safe on hostile input).
const MAX_DEPTH: usize = 8;

/// Our priority (0–4) as an iCalendar PRIORITY (0–9).
pub fn to_ical_priority(p: Priority) -> u8 {
    match p.get() {
        0 => 0,
        1 => 1,
        2 => 5,
        _ => 9,
    }
}

/// An iCalendar PRIORITY (0–9) as ours.
pub fn from_ical_priority(v: u8) -> Priority {
    let p = match v {
        0 => 0,
        1..=4 => 1,
        5 => 2,
        _ => 3,
    };
    Priority::new(p).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Writing

/// TEXT escaping (RFC 5545 §3.3.11). CR LF and lone CR become `\n`.
pub(super) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            c => out.push(c),
        }
    }
    out
}

/// A parameter value, quoted when it contains `:`, `;` or `,`
/// (`"` cannot appear in a parameter value and is dropped).
fn param_value(s: &str) -> String {
    let s: String = s.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    if s.contains([':', ';', ',']) {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// Writes one content line folded at 75 octets, with CRLF.
fn write_folded(out: &mut impl Write, line: &str) -> io::Result<()> {
    let mut start = 0;
    let mut count = 0;
    let mut limit = 75;
    for (i, c) in line.char_indices() {
        let len = c.len_utf8();
        if count + len > limit {
            out.write_all(&line.as_bytes()[start..i])?;
            out.write_all(b"\r\n ")?;
            start = i;
            count = 0;
            limit = 74;
        }
        count += len;
    }
    out.write_all(&line.as_bytes()[start..])?;
    out.write_all(b"\r\n")
}

struct Ics<W: Write> {
    out: W,
}

impl<W: Write> Ics<W> {
    fn line(&mut self, s: &str) -> io::Result<()> {
        write_folded(&mut self.out, s)
    }
    fn prop(&mut self, name: &str, params: &[(&str, &str)], value: &str) -> io::Result<()> {
        let mut s = String::from(name);
        for (k, v) in params {
            s.push(';');
            s.push_str(k);
            s.push('=');
            s.push_str(&param_value(v));
        }
        s.push(':');
        s.push_str(value);
        self.line(&s)
    }
    fn text(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.prop(name, &[], &escape_text(value))
    }
}

fn fmt_utc(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn fmt_local(t: &NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn fmt_date(d: &NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn fmt_offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    if s == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{s:02}")
    }
}

/// (total offset, is DST, abbreviation) in effect at `t`.
fn observance(tz: Tz, t: DateTime<Utc>) -> (i32, bool, Option<String>) {
    let o = tz.offset_from_utc_datetime(&t.naive_utc());
    (
        o.fix().local_minus_utc(),
        !o.dst_offset().is_zero(),
        o.abbreviation().map(str::to_string),
    )
}

/// A VTIMEZONE for `tz` covering the given years: one sub-component per
/// kind of observance, with `DTSTART` at its first onset and `RDATE`s for
/// the others. Each covered range of years starts with an onset stating
/// the observance in effect on 1 January.
fn write_vtimezone<W: Write>(
    w: &mut Ics<W>,
    name: &str,
    tz: Tz,
    years: &BTreeSet<i32>,
) -> io::Result<()> {
    // Merge the years into ranges.
    let mut ranges: Vec<(i32, i32)> = Vec::new();
    for &y in years {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == y => *end = y,
            _ => ranges.push((y, y)),
        }
    }
    type Key = (bool, i32, i32, Option<String>);
    let mut groups: Vec<(Key, Vec<NaiveDateTime>)> = Vec::new();
    let mut add =
        |key: Key, onset_local: NaiveDateTime| match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(onset_local),
            None => groups.push((key, vec![onset_local])),
        };
    for (y0, y1) in ranges {
        let (Some(start), Some(end)) = (
            Utc.with_ymd_and_hms(y0, 1, 1, 0, 0, 0).single(),
            Utc.with_ymd_and_hms(y1 + 1, 1, 1, 0, 0, 0).single(),
        ) else {
            continue;
        };
        let (off, dst, abbr) = observance(tz, start);
        add(
            (dst, off, off, abbr.clone()),
            start.naive_utc() + chrono::Duration::seconds(off as i64),
        );
        let mut cur = start;
        let mut cur_key = (off, dst, abbr);
        while cur < end {
            let next = (cur + chrono::Duration::days(1)).min(end);
            let next_key = observance(tz, next);
            if next_key == cur_key {
                cur = next;
                continue;
            }
            // Binary search for the first second of a different observance.
            let (mut lo, mut hi) = (cur, next);
            while hi - lo > chrono::Duration::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if observance(tz, mid) == cur_key {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let new_key = observance(tz, hi);
            let onset_local = hi.naive_utc() + chrono::Duration::seconds(cur_key.0 as i64);
            add(
                (new_key.1, cur_key.0, new_key.0, new_key.2.clone()),
                onset_local,
            );
            cur = hi;
            cur_key = new_key;
        }
    }
    w.line("BEGIN:VTIMEZONE")?;
    w.text("TZID", name)?;
    w.text("X-LIC-LOCATION", name)?;
    for ((dst, from, to, abbr), onsets) in groups {
        let kind = if dst { "DAYLIGHT" } else { "STANDARD" };
        w.line(&format!("BEGIN:{kind}"))?;
        w.prop("DTSTART", &[], &fmt_local(&onsets[0]))?;
        if onsets.len() > 1 {
            let rest: Vec<String> = onsets[1..].iter().map(fmt_local).collect();
            w.prop("RDATE", &[], &rest.join(","))?;
        }
        w.prop("TZOFFSETFROM", &[], &fmt_offset(from))?;
        w.prop("TZOFFSETTO", &[], &fmt_offset(to))?;
        if let Some(a) = abbr {
            w.text("TZNAME", &a)?;
        }
        w.line(&format!("END:{kind}"))?;
    }
    w.line("END:VTIMEZONE")
}

fn write_due<W: Write>(w: &mut Ics<W>, name: &str, due: &Due) -> io::Result<()> {
    match (due.time, &due.tz) {
        (None, _) => w.prop(name, &[("VALUE", "DATE")], &fmt_date(&due.date)),
        (Some(t), None) => w.prop(name, &[], &fmt_local(&due.date.and_time(t))),
        (Some(t), Some(tz)) => w.prop(name, &[("TZID", tz)], &fmt_local(&due.date.and_time(t))),
    }
}

pub(super) fn export(bundle: &Bundle, out: &mut dyn Write) -> Result<(), InterchangeError> {
    let mut w = Ics {
        out: BufWriter::new(out),
    };
    w.line("BEGIN:VCALENDAR")?;
    w.line("VERSION:2.0")?;
    w.line(&format!(
        "PRODID:-//ProductivityPro//ProductivityPro {}//EN",
        env!("CARGO_PKG_VERSION")
    ))?;
    w.line("CALSCALE:GREGORIAN")?;

    let mut zones: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for t in &bundle.tasks {
        if let Some(Due {
            date,
            time: Some(_),
            tz: Some(tz),
        }) = &t.due
        {
            zones
                .entry(tz.as_str())
                .or_default()
                .insert(date.year().clamp(1800, 2200));
        }
    }
    for (name, years) in &zones {
        if let Ok(tz) = validate_tz(name) {
            write_vtimezone(&mut w, name, tz, years)?;
        }
    }

    for l in &bundle.lists {
        w.line(&format!("BEGIN:{LIST_COMPONENT}"))?;
        w.text("UID", &l.id.to_string())?;
        w.text("NAME", &l.name)?;
        if let Some(c) = &l.colour {
            w.text("COLOUR", c)?;
        }
        w.prop("ORDER", &[], l.order.as_str())?;
        w.prop("ARCHIVED", &[], if l.archived { "TRUE" } else { "FALSE" })?;
        w.prop("CREATED", &[], &fmt_utc(&l.created_at))?;
        w.prop("LAST-MODIFIED", &[], &fmt_utc(&l.updated_at))?;
        w.line(&format!("END:{LIST_COMPONENT}"))?;
    }

    let names: HashMap<_, _> = bundle.lists.iter().map(|l| (l.id, &l.name)).collect();
    for t in &bundle.tasks {
        w.line("BEGIN:VTODO")?;
        w.prop("DTSTAMP", &[], &fmt_utc(&t.updated_at))?;
        w.text("UID", &t.id.to_string())?;
        w.prop("CREATED", &[], &fmt_utc(&t.created_at))?;
        w.prop("LAST-MODIFIED", &[], &fmt_utc(&t.updated_at))?;
        w.text("SUMMARY", &t.title)?;
        if !t.notes.is_empty() {
            w.text("DESCRIPTION", &t.notes)?;
        }
        if !t.tags.is_empty() {
            let cats: Vec<String> = t.tags.iter().map(|c| escape_text(c)).collect();
            w.prop("CATEGORIES", &[], &cats.join(","))?;
        }
        if t.priority != Priority::NONE {
            let ical = to_ical_priority(t.priority);
            w.prop("PRIORITY", &[], &ical.to_string())?;
            if from_ical_priority(ical) != t.priority {
                w.prop(X_PRIORITY, &[], &t.priority.get().to_string())?;
            }
        }
        if let Some(due) = &t.due {
            if t.recurrence.is_some() {
                write_due(&mut w, "DTSTART", due)?;
            }
            write_due(&mut w, "DUE", due)?;
        }
        if let Some(r) = &t.recurrence {
            w.prop("RRULE", &[], r.as_str())?;
        }
        if let Some(p) = t.parent {
            w.prop("RELATED-TO", &[("RELTYPE", "PARENT")], &p.to_string())?;
        }
        w.prop(
            "STATUS",
            &[],
            if t.done { "COMPLETED" } else { "NEEDS-ACTION" },
        )?;
        if let Some(d) = &t.done_at {
            w.prop("COMPLETED", &[], &fmt_utc(d))?;
        }
        if let Some(l) = t.list {
            if let Some(name) = names.get(&l) {
                w.text(X_LIST, name)?;
            }
            w.prop(X_LIST_ID, &[], &l.to_string())?;
        }
        w.prop(X_ORDER, &[], t.order.as_str())?;
        w.line("END:VTODO")?;
    }
    w.line("END:VCALENDAR")?;
    w.out.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading

#[derive(Debug, Clone)]
struct Prop {
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
    line: u64,
}

impl Prop {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

#[derive(Debug, Default)]
struct Component {
    name: String,
    line: u64,
    props: Vec<Prop>,
    children: Vec<Component>,
}

impl Component {
    fn get(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Prop> + 'a {
        self.props.iter().filter(move |p| p.name == name)
    }
}

/// TEXT unescaping; unknown escapes keep the escaped character.
pub(super) fn unescape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits a TEXT list on unescaped commas and unescapes each item.
fn split_text_list(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            items.push(unescape_text(&cur));
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    if escaped {
        cur.push('\\');
    }
    items.push(unescape_text(&cur));
    items
}

/// RFC 6868 parameter value decoding (`^n`, `^^`, `^'`).
fn decode_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('^') => {
                    chars.next();
                    out.push('^');
                }
                Some('\'') => {
                    chars.next();
                    out.push('"');
                }
                _ => out.push('^'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Parses `NAME;PARAM=a,"b":value`.
fn parse_content_line(s: &str, line: u64) -> Result<Prop, String> {
    let name_end = s.find(|c: char| !is_name_char(c)).unwrap_or(s.len());
    if name_end == 0 {
        return Err("expected a property name (NAME:value)".into());
    }
    let name = s[..name_end].to_ascii_uppercase();
    let mut rest = &s[name_end..];
    let mut params = Vec::new();
    while let Some(r) = rest.strip_prefix(';') {
        let pend = r.find(|c: char| !is_name_char(c)).unwrap_or(r.len());
        if pend == 0 {
            return Err(format!(
                "property {name}: expected a parameter name after `;`"
            ));
        }
        let pname = r[..pend].to_ascii_uppercase();
        let Some(mut r2) = r[pend..].strip_prefix('=') else {
            return Err(format!("property {name}: parameter {pname} has no `=`"));
        };
        let mut values = Vec::new();
        loop {
            if let Some(q) = r2.strip_prefix('"') {
                let Some(close) = q.find('"') else {
                    return Err(format!("property {name}: unterminated quoted parameter"));
                };
                values.push(decode_param(&q[..close]));
                r2 = &q[close + 1..];
            } else {
                let end = r2.find([',', ';', ':']).unwrap_or(r2.len());
                values.push(decode_param(&r2[..end]));
                r2 = &r2[end..];
            }
            match r2.strip_prefix(',') {
                Some(more) => r2 = more,
                None => break,
            }
        }
        params.push((pname, values));
        rest = r2;
    }
    let Some(value) = rest.strip_prefix(':') else {
        return Err(format!("property {name} has no `:` before its value"));
    };
    Ok(Prop {
        name,
        params,
        value: value.to_string(),
        line,
    })
}

/// Unfolds and parses the content lines, then builds the component tree.
fn parse_calendars(text: &str) -> Result<Vec<Component>, InterchangeError> {
    let bad = |line: u64, m: String| malformed(F, Location::at_line(line), m);
    let mut logical: Vec<(u64, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i as u64 + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = raw.strip_prefix([' ', '\t']) {
            match logical.last_mut() {
                Some((_, s)) => s.push_str(cont),
                None => {
                    return Err(bad(
                        line,
                        "continuation line with nothing to continue".into(),
                    ))
                }
            }
        } else if !raw.is_empty() {
            logical.push((line, raw.to_string()));
        }
    }
    let mut stack: Vec<Component> = Vec::new();
    let mut roots: Vec<Component> = Vec::new();
    for (line, s) in logical {
        let prop = parse_content_line(&s, line).map_err(|m| bad(line, m))?;
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if name.is_empty() || !name.chars().all(is_name_char) {
                    return Err(bad(line, "BEGIN needs a component name".into()));
                }
                if stack.is_empty() && name != "VCALENDAR" {
                    return Err(bad(
                        line,
                        format!("expected BEGIN:VCALENDAR, found BEGIN:{name}"),
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(line, "components are nested too deeply".into()));
                }
                stack.push(Component {
                    name,
                    line,
                    ..Component::default()
                });
            }
            "END" => {
                let name = prop.value.trim().to_ascii_uppercase();
                let Some(done) = stack.pop() else {
                    return Err(bad(line, format!("END:{name} without a matching BEGIN")));
                };
                if done.name != name {
                    return Err(bad(
                        line,
                        format!(
                            "END:{name} does not match BEGIN:{} on line {}",
                            done.name, done.line
                        ),
                    ));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => roots.push(done),
                }
            }
            _ => match stack.last_mut() {
                Some(c) => c.props.push(prop),
                None => {
                    return Err(bad(
                        line,
                        format!(
                            "property {} outside BEGIN:VCALENDAR … END:VCALENDAR",
                            prop.name
                        ),
                    ))
                }
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(bad(
            open.line,
            format!("BEGIN:{} is never closed", open.name),
        ));
    }
    if roots.is_empty() {
        return Err(bad(1, "no VCALENDAR in the file".into()));
    }
    Ok(roots)
}

/// A DATE or DATE-TIME value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum IcalTime {
    Date(NaiveDate),
    Floating(NaiveDateTime),
    Utc(DateTime<Utc>),
    Zoned(NaiveDateTime, String),
}

fn digits(s: &str) -> Option<u32> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.is_ascii() {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits(&s[0..4])? as i32,
        digits(&s[4..6])?,
        digits(&s[6..8])?,
    )
}

fn parse_time_value(p: &Prop) -> Result<IcalTime, String> {
    let v = p.value.trim();
    let err = || {
        format!(
            "{} {} is not an iCalendar date or date-time",
            p.name,
            quoted(v)
        )
    };
    if v.len() == 8 {
        return parse_date(v).map(IcalTime::Date).ok_or_else(err);
    }
    let (body, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (v, false),
    };
    if body.len() != 15 || !body.is_ascii() || !matches!(&body[8..9], "T" | "t") {
        return Err(err());
    }
    let date = parse_date(&body[..8]).ok_or_else(err)?;
    let (h, m, s) = (
        digits(&body[9..11]).ok_or_else(err)?,
        digits(&body[11..13]).ok_or_else(err)?,
        digits(&body[13..15]).ok_or_else(err)?,
    );
    // A leap second is read as :59.
    let time = NaiveTime::from_hms_opt(h, m, s.min(59)).ok_or_else(err)?;
    let dt = date.and_time(time);
    Ok(if utc {
        IcalTime::Utc(dt.and_utc())
    } else if let Some(tzid) = p.param("TZID") {
        IcalTime::Zoned(dt, tzid.to_string())
    } else {
        IcalTime::Floating(dt)
    })
}

const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("India Standard Time", "Asia/Kolkata"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC", "Etc/UTC"),
];

/// An IANA name for a TZID (see the module docs), or `None`.
fn resolve_tzid(tzid: &str, locations: &HashMap<String, String>) -> Option<String> {
    let tzid = tzid.trim();
    if validate_tz(tzid).is_ok() {
        return Some(tzid.to_string());
    }
    if let Some(loc) = locations.get(tzid) {
        if validate_tz(loc).is_ok() {
            return Some(loc.clone());
        }
    }
    for (i, c) in tzid.char_indices() {
        if c == '/' {
            let rest = &tzid[i + 1..];
            if rest.contains('/') && validate_tz(rest).is_ok() {
                return Some(rest.to_string());
            }
        }
    }
    WINDOWS_ZONES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(tzid))
        .map(|(_, iana)| iana.to_string())
}

struct Reader<'c, 'a> {
    ctx: &'c mut ImportContext<'a>,
    locations: HashMap<String, String>,
}

impl Reader<'_, '_> {
    fn local_to_utc(&self, dt: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
        tz.from_local_datetime(&dt)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| dt.and_utc())
    }

    /// A timestamp property as an instant.
    fn instant(&self, p: &Prop) -> Result<DateTime<Utc>, String> {
        Ok(match parse_time_value(p)? {
            IcalTime::Utc(t) => t,
            IcalTime::Date(d) => self.local_to_utc(d.and_time(NaiveTime::MIN), self.ctx.local_tz),
            IcalTime::Floating(dt) => self.local_to_utc(dt, self.ctx.local_tz),
            IcalTime::Zoned(dt, tzid) => {
                let tz = resolve_tzid(&tzid, &self.locations)
                    .and_then(|n| validate_tz(&n).ok())
                    .unwrap_or(self.ctx.local_tz);
                self.local_to_utc(dt, tz)
            }
        })
    }

    fn due(&self, p: &Prop) -> Result<Due, String> {
        Ok(match parse_time_value(p)? {
            IcalTime::Date(d) => Due::date(d),
            IcalTime::Floating(dt) => Due {
                date: dt.date(),
                time: Some(dt.time()),
                tz: None,
            },
            IcalTime::Utc(t) => {
                let local = t.with_timezone(&self.ctx.local_tz);
                Due {
                    date: local.date_naive(),
                    time: Some(local.time()),
                    tz: Some(self.ctx.local_tz.name().to_string()),
                }
            }
            IcalTime::Zoned(dt, tzid) => Due {
                date: dt.date(),
                time: Some(dt.time()),
                tz: resolve_tzid(&tzid, &self.locations),
            },
        })
    }
}

struct Pending {
    task: Task,
    order: Option<OrderKey>,
    parent: Option<(String, u64)>,
    line: u64,
    record: u64,
}

pub(super) fn import(input: &[u8], ctx: &mut ImportContext) -> Result<Bundle, InterchangeError> {
    let text = utf8(F, input)?;
    let calendars = parse_calendars(text)?;
    let mut rd = Reader {
        ctx,
        locations: HashMap::new(),
    };
    for cal in &calendars {
        for c in cal.children.iter().filter(|c| c.name == "VTIMEZONE") {
            if let (Some(id), Some(loc)) = (c.get("TZID"), c.get("X-LIC-LOCATION")) {
                rd.locations.insert(
                    unescape_text(id.value.trim()),
                    unescape_text(loc.value.trim()),
                );
            }
        }
    }

    // Our lists first, so tasks can refer to them in any order.
    let mut lists = ListsByName::default();
    for cal in &calendars {
        for c in cal.children.iter().filter(|c| c.name == LIST_COMPONENT) {
            let list = read_list(&rd, c)?;
            if lists.has_id(list.id) {
                return Err(malformed(
                    F,
                    Location::at_line(c.line),
                    format!("list {} appears twice", list.id),
                ));
            }
            lists.add(list);
        }
    }

    let mut pending: Vec<Pending> = Vec::new();
    let mut uids: HashMap<String, Id> = HashMap::new();
    let mut record = 0u64;
    for cal in &calendars {
        let calname = cal
            .get("X-WR-CALNAME")
            .map(|p| unescape_text(&p.value))
            .filter(|n| !n.trim().is_empty());
        for c in cal.children.iter().filter(|c| c.name == "VTODO") {
            record += 1;
            if c.get("RECURRENCE-ID").is_some() {
                continue;
            }
            let at = |line: u64| Location::at_line(line).with_record(record);
            let p = read_todo(&mut rd, c, &mut lists, calname.as_deref(), record)?;
            if let Some(uid) = c.get("UID").map(|u| unescape_text(u.value.trim())) {
                if uids.insert(uid, p.task.id).is_some() {
                    return Err(malformed(F, at(c.line), "UID appears twice"));
                }
            }
            pending.push(p);
        }
    }

    let mut tasks = Vec::with_capacity(pending.len());
    let mut orders = Vec::with_capacity(pending.len());
    let mut places = Vec::with_capacity(pending.len());
    for mut p in pending {
        if let Some((uid, line)) = &p.parent {
            let Some(&id) = uids.get(uid) else {
                return Err(malformed(
                    F,
                    Location::at_line(*line).with_record(p.record),
                    "RELATED-TO does not name a VTODO in this file",
                ));
            };
            p.task.parent = Some(id);
        }
        orders.push(p.order);
        places.push((p.line, p.record));
        tasks.push(p.task);
    }
    for (t, k) in tasks.iter_mut().zip(fill_orders(orders)) {
        t.order = k;
    }
    let bundle = Bundle {
        lists: lists.finish(),
        tasks,
    };
    check_bundle(&bundle).map_err(|p| {
        let loc = match p.subject {
            Subject::Task(i) => Location::at_line(places[i].0).with_record(places[i].1),
            Subject::List(_) => Location::default(),
        };
        malformed(F, loc, p.message)
    })?;
    Ok(bundle)
}

fn read_list(rd: &Reader, c: &Component) -> Result<List, InterchangeError> {
    let bad = |line: u64, m: String| malformed(F, Location::at_line(line), m);
    let need = |name: &str| {
        c.get(name)
            .ok_or_else(|| bad(c.line, format!("{LIST_COMPONENT} has no {name} property")))
    };
    let uid = need("UID")?;
    let id: Id = unescape_text(uid.value.trim())
        .parse()
        .map_err(|_| bad(uid.line, "list UID is not 32 hex digits".into()))?;
    let name_prop = need("NAME")?;
    let name = unescape_text(&name_prop.value);
    if name.trim().is_empty() {
        return Err(bad(name_prop.line, "a list needs a name".into()));
    }
    let colour = match c.get("COLOUR") {
        Some(p) => Some(normalize_colour(&unescape_text(&p.value)).map_err(|_| {
            bad(
                p.line,
                format!("COLOUR {} is not #rrggbb", quoted(&p.value)),
            )
        })?),
        None => None,
    };
    let order = match c.get("ORDER") {
        Some(p) => OrderKey::parse(p.value.trim()).map_err(|e| bad(p.line, e.to_string()))?,
        None => OrderKey::first(),
    };
    let archived = match c.get("ARCHIVED") {
        Some(p) => match p.value.trim().to_ascii_uppercase().as_str() {
            "TRUE" => true,
            "FALSE" => false,
            _ => return Err(bad(p.line, "ARCHIVED must be TRUE or FALSE".into())),
        },
        None => false,
    };
    let stamp = |name: &str| -> Result<DateTime<Utc>, InterchangeError> {
        match c.get(name) {
            Some(p) => rd.instant(p).map_err(|m| bad(p.line, m)),
            None => Ok(rd.ctx.now),
        }
    };
    Ok(List {
        id,
        name,
        colour,
        order,
        archived,
        created_at: stamp("CREATED")?,
        updated_at: stamp("LAST-MODIFIED")?,
    })
}

fn read_todo(
    rd: &mut Reader,
    c: &Component,
    lists: &mut ListsByName,
    calname: Option<&str>,
    record: u64,
) -> Result<Pending, InterchangeError> {
    let at = |line: u64| Location::at_line(line).with_record(record);
    let bad = |line: u64, m: String| malformed(F, at(line), m);

    let id = c
        .get("UID")
        .and_then(|u| id_from_foreign(&unescape_text(&u.value)))
        .unwrap_or_else(|| Id::random(&mut *rd.ctx.rng));
    let title = c
        .get("SUMMARY")
        .map(|p| unescape_text(&p.value))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "(untitled)".to_string());
    let mut task = blank_task(id, title, rd.ctx.now);
    if let Some(d) = c.get("DESCRIPTION") {
        task.notes = unescape_text(&d.value);
    }
    for p in c.all("CATEGORIES") {
        task.tags
            .extend(split_text_list(&p.value).iter().filter_map(|t| tag_from(t)));
    }
    if let Some(p) = c.get("PRIORITY") {
        let v = p.value.trim();
        let n = digits(v)
            .filter(|n| *n <= 9)
            .ok_or_else(|| bad(p.line, format!("PRIORITY {} is not 0-9", quoted(v))))?;
        task.priority = from_ical_priority(n as u8);
    }
    if let Some(p) = c.get(X_PRIORITY) {
        let v = p.value.trim();
        task.priority = digits(v)
            .and_then(|n| u8::try_from(n).ok())
            .and_then(|n| Priority::new(n).ok())
            .ok_or_else(|| bad(p.line, format!("{X_PRIORITY} {} is not 0-4", quoted(v))))?;
    }
    if let Some(p) = c.get("DUE") {
        task.due = Some(rd.due(p).map_err(|m| bad(p.line, m))?);
    }
    if let Some(p) = c.get("RRULE") {
        task.recurrence =
            Some(Recurrence::parse(&p.value).map_err(|e| bad(p.line, e.to_string()))?);
    }
    let parent = c
        .all("RELATED-TO")
        .find(|p| {
            p.param("RELTYPE")
                .is_none_or(|r| r.eq_ignore_ascii_case("PARENT"))
        })
        .map(|p| (unescape_text(p.value.trim()), p.line));
    let completed = match c.get("COMPLETED") {
        Some(p) => Some(rd.instant(p).map_err(|m| bad(p.line, m))?),
        None => None,
    };
    task.done_at = completed;
    task.done = match c.get("STATUS") {
        Some(p) => matches!(
            p.value.trim().to_ascii_uppercase().as_str(),
            "COMPLETED" | "CANCELLED"
        ),
        None => completed.is_some(),
    };
    let stamp = |name: &str| -> Result<Option<DateTime<Utc>>, InterchangeError> {
        match c.get(name) {
            Some(p) => rd.instant(p).map(Some).map_err(|m| bad(p.line, m)),
            None => Ok(None),
        }
    };
    let created = stamp("CREATED")?;
    let modified = match stamp("LAST-MODIFIED")? {
        Some(t) => Some(t),
        None => stamp("DTSTAMP")?,
    };
    task.updated_at = modified.unwrap_or(rd.ctx.now);
    task.created_at = created.or(modified).unwrap_or(rd.ctx.now);

    let by_id = match c.get(X_LIST_ID) {
        Some(p) => {
            let id: Id = p
                .value
                .trim()
                .parse()
                .map_err(|_| bad(p.line, format!("{X_LIST_ID} is not 32 hex digits")))?;
            lists.has_id(id).then_some(id)
        }
        None => None,
    };
    task.list = match by_id {
        Some(id) => Some(id),
        None => match c.get(X_LIST) {
            Some(p) => lists.get_or_create(&unescape_text(&p.value), rd.ctx),
            None => calname.and_then(|n| lists.get_or_create(n, rd.ctx)),
        },
    };
    let order = match c.get(X_ORDER) {
        Some(p) => Some(OrderKey::parse(p.value.trim()).map_err(|e| bad(p.line, e.to_string()))?),
        None => None,
    };
    Ok(Pending {
        task,
        order,
        parent,
        line: c.line,
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testgen::{self, with_ctx};
    use super::*;
    use proptest::prelude::*;

    fn to_ics(b: &Bundle) -> String {
        let mut out = Vec::new();
        export(b, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn imp(text: &str) -> Result<Bundle, InterchangeError> {
        with_ctx(|ctx| import(text.as_bytes(), ctx))
    }

    /// What iCalendar cannot carry: CR in text (becomes LF).
    fn ical_normal(mut b: Bundle) -> Bundle {
        let lf = |s: &str| s.replace("\r\n", "\n").replace('\r', "\n");
        for l in &mut b.lists {
            l.name = lf(&l.name);
        }
        for t in &mut b.tasks {
            t.title = lf(&t.title);
            t.notes = lf(&t.notes);
        }
        b
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn export_import_round_trip_is_lossless(b in testgen::bundle()) {
            let text = to_ics(&b);
            for line in text.split("\r\n") {
                prop_assert!(line.len() <= 75, "line too long: {line:?}");
                prop_assert!(!line.contains('\n') && !line.contains('\r'));
            }
            let back = imp(&text).unwrap();
            prop_assert_eq!(back, ical_normal(b));
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
            let mut bytes = to_ics(&b).into_bytes();
            for (ix, byte) in cuts {
                let i = ix.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }
    }

    #[test]
    fn folding_respects_utf8_and_75_octets() {
        let mut out = Vec::new();
        let line = format!("SUMMARY:{}", "é😀x".repeat(40));
        write_folded(&mut out, &line).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.split("\r\n").all(|l| l.len() <= 75));
        let unfolded = s.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
    }

    #[test]
    fn text_escaping_round_trips() {
        let s = "a\\b;c,d\ne";
        assert_eq!(escape_text(s), "a\\\\b\\;c\\,d\\ne");
        assert_eq!(unescape_text(&escape_text(s)), s);
        assert_eq!(split_text_list("a\\,b,c"), ["a,b", "c"]);
    }

    #[test]
    fn priority_mapping() {
        for p in 0..=4 {
            let p = Priority::new(p).unwrap();
            let ical = to_ical_priority(p);
            if p.get() < 4 {
                assert_eq!(from_ical_priority(ical), p);
            }
        }
        assert_eq!(from_ical_priority(5).get(), 2);
        assert_eq!(from_ical_priority(9).get(), 3);
    }

    #[test]
    fn windows_zone_table_is_valid() {
        for (_, iana) in WINDOWS_ZONES {
            assert!(validate_tz(iana).is_ok(), "{iana}");
        }
    }

    #[test]
    fn vtimezone_has_real_transitions() {
        let mut b = Bundle::default();
        let mut t = blank_task(
            "0123456789abcdef0123456789abcdef".parse().unwrap(),
            "x".into(),
            Utc::now(),
        );
        t.due = Some(Due {
            date: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
            time: Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            tz: Some("Europe/Berlin".into()),
        });
        b.tasks.push(t);
        let s = to_ics(&b);
        assert!(s.contains("TZID:Europe/Berlin"), "{s}");
        assert!(
            s.contains("BEGIN:DAYLIGHT\r\nDTSTART:20240331T020000\r\n"),
            "{s}"
        );
        assert!(
            s.contains("TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST"),
            "{s}"
        );
        assert!(
            s.contains("DTSTART:20241027T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"),
            "{s}"
        );
        assert!(s.contains("DUE;TZID=Europe/Berlin:20240501T090000"), "{s}");
    }

    /// A Thunderbird/Nextcloud/Apple-style file: LF and CRLF mixed, folded
    /// lines, VEVENT and VALARM to ignore, TZID with a VTIMEZONE, DATE and
    /// UTC dues, unknown properties.
    const FOREIGN: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Nextcloud Tasks v0.16.0\r\n\
X-WR-CALNAME:Groceries\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:/mozilla.org/20070129_1/Europe/Berlin\r\n\
X-LIC-LOCATION:Europe/Berlin\r\n\
BEGIN:STANDARD\r\n\
DTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:event-1\r\n\
SUMMARY:Not a task\r\n\
DTSTART:20240501T100000Z\r\n\
END:VEVENT\r\n\
BEGIN:VTODO\n\
UID:3f2b8c1e-9d4a-4b7e-8f10-2a3b4c5d6e7f\n\
DTSTAMP:20240401T080000Z\n\
CREATED:20240401T080000Z\n\
LAST-MODIFIED:20240402T090000Z\n\
SUMMARY:Buy milk\\, eggs and a very long list of other things that needs fol\n\
\x20ding\n\
DESCRIPTION:From the market\\non Saturday\n\
CATEGORIES:Errands,Weekend Shopping\n\
PRIORITY:5\n\
DUE;TZID=/mozilla.org/20070129_1/Europe/Berlin:20240504T100000\n\
X-APPLE-SORT-ORDER:12345\n\
X-MOZ-GENERATION:3\n\
BEGIN:VALARM\n\
ACTION:DISPLAY\n\
DESCRIPTION:Reminder\n\
TRIGGER:-PT15M\n\
END:VALARM\n\
END:VTODO\n\
BEGIN:VTODO\r\n\
UID:child@example.com\r\n\
SUMMARY:Oat milk\r\n\
RELATED-TO:3f2b8c1e-9d4a-4b7e-8f10-2a3b4c5d6e7f\r\n\
DUE;VALUE=DATE:20240503\r\n\
STATUS:COMPLETED\r\n\
COMPLETED:20240503T120000Z\r\n\
PRIORITY:1\r\n\
END:VTODO\r\n\
BEGIN:VTODO\r\n\
UID:utc@example.com\r\n\
SUMMARY:Call back\r\n\
DUE:20240505T160000Z\r\n\
RRULE:FREQ=WEEKLY;BYDAY=SU\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

    #[test]
    fn imports_foreign_vtodos() {
        let b = imp(FOREIGN).unwrap();
        assert_eq!(b.tasks.len(), 3);
        assert_eq!(b.lists.len(), 1);
        assert_eq!(b.lists[0].name, "Groceries");
        let [milk, oat, call] = [&b.tasks[0], &b.tasks[1], &b.tasks[2]];
        assert_eq!(milk.id.to_string(), "3f2b8c1e9d4a4b7e8f102a3b4c5d6e7f");
        assert_eq!(
            milk.title,
            "Buy milk, eggs and a very long list of other things that needs folding"
        );
        assert_eq!(milk.notes, "From the market\non Saturday");
        assert_eq!(
            milk.tags.iter().collect::<Vec<_>>(),
            ["Errands", "Weekend-Shopping"]
        );
        assert_eq!(milk.priority.get(), 2);
        assert_eq!(
            milk.due.as_ref().unwrap().to_string(),
            "2024-05-04 10:00 Europe/Berlin"
        );
        assert_eq!(milk.created_at.to_rfc3339(), "2024-04-01T08:00:00+00:00");
        assert_eq!(milk.updated_at.to_rfc3339(), "2024-04-02T09:00:00+00:00");
        assert!(!milk.done);
        assert_eq!(milk.list, Some(b.lists[0].id));

        assert_eq!(oat.parent, Some(milk.id));
        assert!(oat.done);
        assert_eq!(
            oat.done_at.unwrap().to_rfc3339(),
            "2024-05-03T12:00:00+00:00"
        );
        assert_eq!(oat.due.as_ref().unwrap().to_string(), "2024-05-03");
        assert_eq!(oat.priority.get(), 1);

        // 16:00 UTC is 18:00 in the importer's zone (Europe/Berlin in tests).
        assert_eq!(
            call.due.as_ref().unwrap().to_string(),
            "2024-05-05 18:00 Europe/Berlin"
        );
        assert_eq!(
            call.recurrence.as_ref().unwrap().as_str(),
            "FREQ=WEEKLY;BYDAY=SU"
        );
        assert!(milk.order < oat.order && oat.order < call.order);
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
    fn malformed_lines_are_reported() {
        let (loc, msg) = err("BEGIN:VCALENDAR\nBEGIN:VTODO\nSUMMARY:x\nthis is not a property\nEND:VTODO\nEND:VCALENDAR\n");
        assert_eq!(loc.line, Some(4));
        assert!(msg.contains("no `:`"), "{msg}");
        let (loc, msg) =
            err("BEGIN:VCALENDAR\nBEGIN:VTODO\nPRIORITY:12\nEND:VTODO\nEND:VCALENDAR\n");
        assert_eq!((loc.line, loc.record), (Some(3), Some(1)));
        assert_eq!(msg, "PRIORITY `12` is not 0-9");
        let (loc, msg) = err("BEGIN:VCALENDAR\nBEGIN:VTODO\nSUMMARY:x\nEND:VCALENDAR\n");
        assert_eq!(loc.line, Some(4));
        assert!(msg.contains("does not match"), "{msg}");
        let (loc, msg) = err("BEGIN:VCALENDAR\nBEGIN:VTODO\n");
        assert_eq!(loc.line, Some(2));
        assert!(msg.contains("never closed"), "{msg}");
        let (loc, _) = err("BEGIN:VCALENDAR\nBEGIN:VTODO\nSUMMARY:a\nEND:VTODO\nBEGIN:VTODO\nDUE:2024-05-01\nEND:VTODO\nEND:VCALENDAR\n");
        assert_eq!((loc.line, loc.record), (Some(6), Some(2)));
        let (loc, msg) =
            err("BEGIN:VCALENDAR\nBEGIN:VTODO\nRELATED-TO:nowhere\nEND:VTODO\nEND:VCALENDAR\n");
        assert_eq!(loc.line, Some(3));
        assert!(msg.contains("RELATED-TO"), "{msg}");
        let (loc, _) = err(" folded\n");
        assert_eq!(loc.line, Some(1));
        let (_, msg) = err("");
        assert!(msg.contains("no VCALENDAR"), "{msg}");
        let (_, msg) = err("BEGIN:VTODO\nEND:VTODO\n");
        assert!(msg.contains("expected BEGIN:VCALENDAR"), "{msg}");
        let deep = "BEGIN:VCALENDAR\n".to_string() + &"BEGIN:X\n".repeat(100_000);
        assert!(err(&deep).1.contains("nested too deeply"));
    }

    #[test]
    fn recurrence_overrides_are_skipped() {
        let b = imp("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:a\nSUMMARY:x\nRRULE:FREQ=DAILY\nEND:VTODO\nBEGIN:VTODO\nUID:a\nRECURRENCE-ID:20240501T000000Z\nSUMMARY:x\nEND:VTODO\nEND:VCALENDAR\n").unwrap();
        assert_eq!(b.tasks.len(), 1);
    }
}
