//! Todoist's CSV ("Export as template" and the per-project CSVs in a
//! backup) — import only.
//!
//! Columns (matched by name, case-insensitively; a BOM and extra columns
//! such as `DURATION`, `DURATION_UNIT`, `DEADLINE_LANG`, `AUTHOR`,
//! `RESPONSIBLE` are tolerated): `TYPE` and `CONTENT` are required;
//! `DESCRIPTION`, `PRIORITY`, `INDENT`, `DATE`, `DATE_LANG`, `TIMEZONE`,
//! `DEADLINE` are used when present.
//!
//! * `TYPE` `task` rows become tasks; `note` rows (comments) are appended
//!   to the notes of the task above, after a blank line (a note before any
//!   task, i.e. a project or section comment, is skipped); `section` rows
//!   turn into a **tag** on the tasks below them (the section name with
//!   whitespace runs replaced by `-`, as tags cannot contain spaces) —
//!   our lists have no sections and a tag keeps the grouping filterable;
//!   `meta` rows (view style) and blank separator rows are skipped.
//! * **Priority.** The CSV uses the numbers people see in the app, *not*
//!   the API's inverted ones: `1` = p1 (highest, red) … `4` = p4 (the
//!   default, no colour). This is how Todoist's help centre documents the
//!   column ("Type 1 to add p1 to the task (highest priority) … 4 … (lowest
//!   priority)") and what exported files contain (tools that write `4` for
//!   an ordinary task get ordinary tasks). So 1 → our 1, 2 → 2, 3 → 3,
//!   4 → none (0) because p4 is Todoist's "no priority"; empty → none.
//!   Anything else is malformed. (The REST/Sync API, by contrast, uses 4 for
//!   p1.)
//! * `INDENT` n > 1 makes the task a subtask of the nearest task above
//!   with a smaller indent (sections reset the nesting).
//! * `@label` words in `CONTENT` become tags and leave the title.
//! * `DATE` is what Todoist shows: ISO dates (`2024-05-01`,
//!   `2024-05-01 18:30`), English dates (`Oct 5 2026`, `5 October`,
//!   optionally with `9am`/`18:00`/`at noon`), `today`/`tomorrow`/weekday
//!   names (relative to [`ImportContext::now`]) and repeats understood by
//!   [`Recurrence::from_phrase`] (`every day`, `every! 2 weeks`,
//!   `every mon, fri at 8am`, `every weekday`, `every 15th`,
//!   `every 3rd friday`, `every jan 15`, `daily`…). A repeat becomes an
//!   RRULE with the due date at its first occurrence on or after today. A
//!   time gets the `TIMEZONE` column as its zone (floating if empty).
//!   Anything not understood in full (other languages included — only ISO
//!   dates are read when `DATE_LANG` is not English) is kept in the notes
//!   as `Todoist date: …`, so nothing is lost.
//! * `DEADLINE` becomes the due date when there is no `DATE`, else it is
//!   kept in the notes as `Todoist deadline: …`.
//! * The project is the file's name, which the importer never sees: tasks
//!   get no list (a caller may assign one).

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

use super::csv::{csv_read_error, next_row};
use super::{
    blank_task, check_bundle, malformed, quoted, tag_from, utf8, Bundle, Format, ImportContext,
    InterchangeError, Location, Subject,
};
use crate::domain::{validate_tz, Due, Id, Priority};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

const F: Format = Format::Todoist;

/// Todoist's CSV PRIORITY (1 = p1 … 4 = p4) as ours.
pub fn priority_from_todoist(p: u8) -> Option<Priority> {
    match p {
        1..=3 => Priority::new(p).ok(),
        4 => Some(Priority::NONE),
        _ => None,
    }
}

fn append_note(notes: &mut String, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    if !notes.is_empty() {
        notes.push_str("\n\n");
    }
    notes.push_str(text);
}

/// Splits `@label` words out of a task's content.
fn split_labels(content: &str) -> (String, BTreeSet<String>) {
    let mut words = Vec::new();
    let mut tags = BTreeSet::new();
    for w in content.split_whitespace() {
        if w.len() > 1 && w.starts_with('@') {
            if let Some(t) = tag_from(w) {
                tags.insert(t);
                continue;
            }
        }
        words.push(w);
    }
    (words.join(" "), tags)
}

pub(super) fn import(input: &[u8], ctx: &mut ImportContext) -> Result<Bundle, InterchangeError> {
    let text = utf8(F, input)?;
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_read_error(F, e))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let (Some(c_type), Some(c_content)) = (col("TYPE"), col("CONTENT")) else {
        return Err(malformed(
            F,
            Location::at_line(1),
            "not a Todoist CSV (the header needs TYPE and CONTENT columns)",
        ));
    };
    let c_description = col("DESCRIPTION");
    let c_priority = col("PRIORITY");
    let c_indent = col("INDENT");
    let c_date = col("DATE");
    let c_lang = col("DATE_LANG");
    let c_tz = col("TIMEZONE");
    let c_deadline = col("DEADLINE");

    let mut tasks: Vec<crate::domain::Task> = Vec::new();
    let mut places: Vec<(u64, u64)> = Vec::new();
    let mut nesting: Vec<(u32, usize)> = Vec::new();
    let mut section: Option<String> = None;
    let mut last_task: Option<usize> = None;
    let mut record = ::csv::StringRecord::new();
    let mut n = 0u64;
    while let Some(at) = next_row(F, &mut reader, &mut record, &mut n)? {
        let line = at.line.unwrap_or(0);
        let bad = |m: String| malformed(F, at, m);
        let get = |c: Option<usize>| c.and_then(|i| record.get(i)).unwrap_or("");
        let content = get(Some(c_content));
        match get(Some(c_type)).trim().to_ascii_lowercase().as_str() {
            "meta" => {}
            "section" => {
                section = tag_from(content);
                nesting.clear();
                last_task = None;
            }
            "note" => {
                if let Some(i) = last_task {
                    append_note(&mut tasks[i].notes, content);
                }
            }
            "task" => {
                let (mut title, mut tags) = split_labels(content);
                if title.is_empty() {
                    title = content.trim().to_string();
                }
                if title.is_empty() {
                    return Err(bad("a task row needs CONTENT".into()));
                }
                let mut task = blank_task(Id::random(&mut *ctx.rng), title, ctx.now);
                task.notes = get(c_description).to_string();
                tags.extend(section.iter().cloned());
                task.tags = tags;

                let p = get(c_priority).trim();
                if !p.is_empty() {
                    task.priority = p
                        .parse::<u8>()
                        .ok()
                        .and_then(priority_from_todoist)
                        .ok_or_else(|| bad(format!("PRIORITY {} is not 1-4", quoted(p))))?;
                }

                let ind = get(c_indent).trim();
                let indent = if ind.is_empty() {
                    1
                } else {
                    ind.parse::<u32>()
                        .map_err(|_| bad(format!("INDENT {} is not a whole number", quoted(ind))))?
                }
                .max(1);
                while nesting.last().is_some_and(|(i, _)| *i >= indent) {
                    nesting.pop();
                }
                if indent > 1 {
                    let Some(&(_, parent)) = nesting.last() else {
                        return Err(bad(format!(
                            "INDENT {indent} but no task above it has a smaller indent"
                        )));
                    };
                    task.parent = Some(tasks[parent].id);
                }

                let zone_name = get(c_tz).trim();
                let zone = if zone_name.is_empty() {
                    None
                } else {
                    Some(validate_tz(zone_name).map_err(|_| {
                        bad(format!(
                            "TIMEZONE {} is not an IANA zone name",
                            quoted(zone_name)
                        ))
                    })?)
                };
                let today = ctx
                    .now
                    .with_timezone(&zone.unwrap_or(ctx.local_tz))
                    .date_naive();
                let lang = get(c_lang).trim().to_ascii_lowercase();
                let english = lang.is_empty() || lang.starts_with("en");
                let make_due = |date: NaiveDate, time: Option<NaiveTime>| Due {
                    date,
                    time,
                    tz: time.and(zone).map(|z| z.name().to_string()),
                };

                let date_text = get(c_date).trim();
                if !date_text.is_empty() {
                    match parse_phrase(date_text, english, today, zone, ctx.local_tz) {
                        Some(p) => {
                            task.due = Some(make_due(p.date, p.time));
                            task.recurrence = p.rule;
                        }
                        None => append_note(&mut task.notes, &format!("Todoist date: {date_text}")),
                    }
                }
                let deadline = get(c_deadline).trim();
                if !deadline.is_empty() {
                    match parse_phrase(deadline, english, today, zone, ctx.local_tz) {
                        Some(p) if task.due.is_none() && p.rule.is_none() => {
                            task.due = Some(make_due(p.date, p.time));
                        }
                        _ => append_note(&mut task.notes, &format!("Todoist deadline: {deadline}")),
                    }
                }

                nesting.push((indent, tasks.len()));
                last_task = Some(tasks.len());
                tasks.push(task);
                places.push((line, n));
            }
            "" => return Err(bad("row has no TYPE".into())),
            other => {
                return Err(bad(format!(
                    "TYPE {} is not task, section, note or meta",
                    quoted(other)
                )))
            }
        }
    }
    let keys = OrderKey::sequence(None, tasks.len());
    for (t, k) in tasks.iter_mut().zip(keys) {
        t.order = k;
    }
    let bundle = Bundle {
        lists: Vec::new(),
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

// ---------------------------------------------------------------------------
// Date phrases

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Phrase {
    pub date: NaiveDate,
    pub time: Option<NaiveTime>,
    pub rule: Option<Recurrence>,
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn month(w: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = w.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    NAMES
        .iter()
        .position(|m| {
            *m == w || (w.len() >= 3 && m.starts_with(w) && (w.len() == 3 || w == "sept"))
        })
        .map(|i| i as u32 + 1)
}

/// `5`, `5th`, `1st`, `22nd`, `3rd`.
fn day_number(w: &str) -> Option<u32> {
    let d = w
        .strip_suffix("st")
        .or_else(|| w.strip_suffix("nd"))
        .or_else(|| w.strip_suffix("rd"))
        .or_else(|| w.strip_suffix("th"))
        .unwrap_or(w);
    if d.is_empty() || d.len() > 2 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    d.parse().ok().filter(|n| (1..=31).contains(n))
}

/// `9am`, `9:30pm`, `18:00`, `18:00:00`, `noon`, `midnight`.
fn clock(s: &str) -> Option<NaiveTime> {
    match s {
        "noon" => return NaiveTime::from_hms_opt(12, 0, 0),
        "midnight" => return NaiveTime::from_hms_opt(0, 0, 0),
        _ => {}
    }
    let (body, pm) = if let Some(b) = s.strip_suffix("am") {
        (b, Some(false))
    } else if let Some(b) = s.strip_suffix("pm") {
        (b, Some(true))
    } else {
        (s, None)
    };
    let mut parts = body.split([':', '.']);
    let h = parts.next()?;
    if h.is_empty() || h.len() > 2 || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u32 = h.parse().ok()?;
    let m: u32 = match parts.next() {
        Some(m) if m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()) => m.parse().ok()?,
        Some(_) => return None,
        None if pm.is_some() => 0,
        None => return None,
    };
    let s: u32 = match parts.next() {
        Some(x) if x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit()) => x.parse().ok()?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let h = match pm {
        Some(pm) if (1..=12).contains(&h) => (h % 12) + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, s)
}

/// Takes a trailing time (`at 9am`, `9 am`, `18:00`) off `words`.
fn take_time(words: &mut Vec<String>) -> Option<Option<NaiveTime>> {
    let n = words.len();
    let mut found = None;
    if n >= 2 {
        if let Some(t) = clock(&format!("{}{}", words[n - 2], words[n - 1])) {
            if matches!(words[n - 1].as_str(), "am" | "pm") {
                found = Some((t, 2));
            }
        }
    }
    if found.is_none() && n >= 1 {
        if let Some(t) = clock(&words[n - 1]) {
            found = Some((t, 1));
        }
    }
    let (t, k) = found?;
    words.truncate(n - k);
    if words.last().is_some_and(|w| w == "at" || w == "@") {
        words.pop();
    }
    Some(Some(t))
}

fn next_weekday(from: NaiveDate, wd: Weekday, allow_today: bool) -> Option<NaiveDate> {
    let ahead = (wd.num_days_from_monday() + 7 - from.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 && !allow_today { 7 } else { ahead };
    from.checked_add_days(Days::new(ahead as u64))
}

fn iso(s: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some((d, None));
    }
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Some((dt.date(), Some(dt.time())));
        }
    }
    None
}

/// A calendar date from words such as `oct 5 2026`, `5 october`, `today`,
/// `next friday`.
fn date_words(words: &[String], today: NaiveDate) -> Option<NaiveDate> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["today" | "tod"] => Some(today),
        ["tomorrow" | "tom" | "tmr"] => today.succ_opt(),
        ["yesterday"] => today.pred_opt(),
        [d] if weekday(d).is_some() => next_weekday(today, weekday(d)?, false),
        ["next" | "this", d] if weekday(d).is_some() => next_weekday(today, weekday(d)?, false),
        ["next", "week"] => next_weekday(today, Weekday::Mon, false),
        [m, d] | [m, d, _] if month(m).is_some() && day_number(d).is_some() => {
            let year = match w.get(2) {
                Some(y) => year(y)?,
                None => today.year(),
            };
            NaiveDate::from_ymd_opt(year, month(m)?, day_number(d)?)
        }
        [d, m] | [d, m, _] if month(m).is_some() && day_number(d).is_some() => {
            let year = match w.get(2) {
                Some(y) => year(y)?,
                None => today.year(),
            };
            NaiveDate::from_ymd_opt(year, month(m)?, day_number(d)?)
        }
        _ => None,
    }
}

fn year(w: &str) -> Option<i32> {
    (w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
        .then(|| w.parse().ok())
        .flatten()
}

/// Reads a Todoist date phrase in full, or returns `None`. Repeats go
/// through [`Recurrence::from_phrase`] (after a trailing time is taken
/// off) and start at their first occurrence on or after `today`; `zone` is
/// the zone a time is in (floating if `None`).
pub(super) fn parse_phrase(
    raw: &str,
    english: bool,
    today: NaiveDate,
    zone: Option<Tz>,
    local_tz: Tz,
) -> Option<Phrase> {
    if let Some((date, time)) = iso(raw) {
        return Some(Phrase {
            date,
            time,
            rule: None,
        });
    }
    if !english {
        return None;
    }
    let lower = raw.to_lowercase().replace(',', " ");
    let mut words: Vec<String> = lower.split_whitespace().map(str::to_string).collect();
    let time = take_time(&mut words).flatten();
    if let Some(first) = words.first_mut() {
        // Todoist's short forms of "every" / "every!" (the latter means
        // "counted from completion", which our rules do not distinguish).
        if first == "ev" || first == "ev!" {
            *first = "every".to_string();
        }
    }
    if let Some(rule) = Recurrence::from_phrase(&words.join(" ")) {
        let start = Due {
            date: today,
            time,
            tz: time.and(zone).map(|z| z.name().to_string()),
        };
        let first = rule.first_on_or_after(&start, local_tz).ok()??;
        return Some(Phrase {
            date: first.date,
            time: first.time,
            rule: Some(rule),
        });
    }
    Some(Phrase {
        date: date_words(&words, today)?,
        time,
        rule: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testgen::with_ctx;
    use super::*;
    use proptest::prelude::*;

    fn imp(text: &str) -> Result<Bundle, InterchangeError> {
        with_ctx(|ctx| import(text.as_bytes(), ctx))
    }

    /// Shaped like Todoist's "Export as template → CSV" (2025 columns, BOM,
    /// CRLF); invented content. `now` in tests is Saturday 2026-10-03.
    const SAMPLE: &str = "\u{feff}TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE,DURATION,DURATION_UNIT,DEADLINE,DEADLINE_LANG\r\n\
meta,view_style=list,,,,,,,,,,,,\r\n\
task,Repot the basil @garden @weekend,Terracotta pot from the shed,1,1,Kai (48151623),,Oct 5 2026,en,Africa/Cairo,30,minute,,\r\n\
task,Buy compost,,4,2,Kai (48151623),,,en,Africa/Cairo,,None,,\r\n\
note,Get the peat-free one,,,,Kai (48151623),,,,,,,,\r\n\
note,\"Or ask, at the \"\"big\"\" shop\nnext door\",,,,Kai (48151623),,,,,,,,\r\n\
task,Label the bags,,3,3,Kai (48151623),,2026-10-06 15:30,en,Africa/Cairo,,,,\r\n\
,,,,,,,,,,,,,\r\n\
section,Weekly chores,,,,,,,,,,,,\r\n\
task,Water the ferns,,2,1,Kai (48151623),,every monday at 9am,en,Africa/Cairo,15,minute,,\r\n\
task,Check the seed tray,,3,1,Kai (48151623),,every day,en,,,,,\r\n\
task,\"Order seeds, \"\"heirloom\"\" kind\",,4,1,Kai (48151623),,tomorrow 18:00,en,Africa/Cairo,,,Oct 9 2026,en\r\n\
task,Sweep the path,,,,Kai (48151623),,every 3rd friday,en,Africa/Cairo,,,,\r\n\
task,Clean the gutters,,,,Kai (48151623),,after the first storm,en,Africa/Cairo,,,,\r\n";

    #[test]
    fn imports_a_template_export() {
        let b = imp(SAMPLE).unwrap();
        assert!(b.lists.is_empty());
        let titles: Vec<_> = b.tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Repot the basil",
                "Buy compost",
                "Label the bags",
                "Water the ferns",
                "Check the seed tray",
                "Order seeds, \"heirloom\" kind",
                "Sweep the path",
                "Clean the gutters"
            ]
        );
        let [basil, compost, bags, ferns, tray, seeds, sweep, gutters] =
            [0, 1, 2, 3, 4, 5, 6, 7].map(|i| &b.tasks[i]);

        assert_eq!(basil.tags.iter().collect::<Vec<_>>(), ["garden", "weekend"]);
        assert_eq!(basil.notes, "Terracotta pot from the shed");
        assert_eq!(basil.priority.get(), 1);
        assert_eq!(basil.due.as_ref().unwrap().to_string(), "2026-10-05");
        assert_eq!(basil.parent, None);

        assert_eq!(compost.parent, Some(basil.id));
        assert_eq!(compost.priority, Priority::NONE);
        assert_eq!(
            compost.notes,
            "Get the peat-free one\n\nOr ask, at the \"big\" shop\nnext door"
        );
        assert_eq!(bags.parent, Some(compost.id));
        assert_eq!(bags.priority.get(), 3);
        assert_eq!(
            bags.due.as_ref().unwrap().to_string(),
            "2026-10-06 15:30 Africa/Cairo"
        );

        assert_eq!(ferns.tags.iter().collect::<Vec<_>>(), ["Weekly-chores"]);
        assert_eq!(ferns.parent, None);
        assert_eq!(ferns.priority.get(), 2);
        assert_eq!(
            ferns.recurrence.as_ref().unwrap().as_str(),
            "FREQ=WEEKLY;BYDAY=MO"
        );
        assert_eq!(
            ferns.due.as_ref().unwrap().to_string(),
            "2026-10-05 09:00 Africa/Cairo"
        );
        assert_eq!(tray.recurrence.as_ref().unwrap().as_str(), "FREQ=DAILY");
        assert_eq!(tray.due.as_ref().unwrap().to_string(), "2026-10-03");

        assert_eq!(
            seeds.due.as_ref().unwrap().to_string(),
            "2026-10-04 18:00 Africa/Cairo"
        );
        assert_eq!(seeds.notes, "Todoist deadline: Oct 9 2026");
        assert_eq!(
            sweep.recurrence.as_ref().unwrap().as_str(),
            "FREQ=MONTHLY;BYDAY=3FR"
        );
        assert_eq!(sweep.due.as_ref().unwrap().to_string(), "2026-10-16");
        // Not understood: kept in the notes rather than lost.
        assert_eq!(gutters.due, None);
        assert_eq!(gutters.notes, "Todoist date: after the first storm");

        for w in b.tasks.windows(2) {
            assert!(w[0].order < w[1].order);
        }
    }

    #[test]
    fn older_columns_without_bom_or_description() {
        let text = "TYPE,CONTENT,PRIORITY,INDENT,AUTHOR,RESPONSIBLE,DATE,DATE_LANG,TIMEZONE\n\
                    task,Plan trip,4,1,,,2024-05-01,en,Europe/Berlin\n\
                    task,Book hotel,1,2,,,15 may,en,Europe/Berlin\n";
        let b = imp(text).unwrap();
        assert_eq!(b.tasks.len(), 2);
        assert_eq!(b.tasks[1].parent, Some(b.tasks[0].id));
        assert_eq!(b.tasks[1].due.as_ref().unwrap().to_string(), "2026-05-15");
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
    fn malformed_rows_report_line() {
        let head = "TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT\n";
        let e = imp(&format!(
            "{head}task,a,,1,1\ntask,\"b\nc\",,2,1\n,,,,\n\ntask,d,,1,1\ntask,e,,9,1\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "todoist CSV, line 8, record 4: PRIORITY `9` is not 1-4"
        );
        let (loc, msg) = err(&format!("{head}task,a,,1,2\n"));
        assert_eq!(loc.line, Some(2));
        assert!(msg.contains("INDENT 2"), "{msg}");
        let (loc, msg) = err(&format!("{head}task,a,,1,1\nproject,b,,,\n"));
        assert_eq!(loc.line, Some(3));
        assert!(msg.contains("TYPE `project`"), "{msg}");
        let (loc, msg) = err(&format!("{head}task,a,,1,x\n"));
        assert_eq!(loc.line, Some(2));
        assert!(msg.contains("INDENT"), "{msg}");
        let (loc, _) = err("Title,Due\nx,y\n");
        assert_eq!(loc.line, Some(1));
        let (loc, msg) = err("TYPE,CONTENT,DATE,TIMEZONE\ntask,a,2024-05-01 10:00,Mars/Olympus\n");
        assert_eq!(loc.line, Some(2));
        assert!(msg.contains("TIMEZONE"), "{msg}");
    }

    #[test]
    fn phrases() {
        let today = NaiveDate::from_ymd_opt(2026, 10, 3).unwrap(); // Saturday
        let p = |s: &str| parse_phrase(s, true, today, None, chrono_tz::UTC);
        let show = |s: &str| {
            p(s).map(|p| {
                format!(
                    "{} {} {}",
                    p.date,
                    p.time
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    p.rule.map(|r| r.as_str().to_string()).unwrap_or_default()
                )
            })
        };
        assert_eq!(show("every day").unwrap(), "2026-10-03  FREQ=DAILY");
        assert_eq!(
            show("every! 2 weeks").unwrap(),
            "2026-10-03  FREQ=WEEKLY;INTERVAL=2"
        );
        assert_eq!(
            show("every other month").unwrap(),
            "2026-10-03  FREQ=MONTHLY;INTERVAL=2"
        );
        assert_eq!(
            show("every mon, fri at 8am").unwrap(),
            "2026-10-05 08:00 FREQ=WEEKLY;BYDAY=MO,FR"
        );
        assert_eq!(
            show("every weekday").unwrap(),
            "2026-10-05  FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
        );
        assert_eq!(
            show("every 15th").unwrap(),
            "2026-10-15  FREQ=MONTHLY;BYMONTHDAY=15"
        );
        assert_eq!(
            show("every 2nd").unwrap(),
            "2026-11-02  FREQ=MONTHLY;BYMONTHDAY=2"
        );
        assert_eq!(
            show("every last day").unwrap(),
            "2026-10-31  FREQ=MONTHLY;BYMONTHDAY=-1"
        );
        assert_eq!(
            show("every jan 15").unwrap(),
            "2027-01-15  FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=15"
        );
        assert_eq!(show("daily").unwrap(), "2026-10-03  FREQ=DAILY");
        assert_eq!(show("tomorrow 18:00").unwrap(), "2026-10-04 18:00 ");
        assert_eq!(show("today at noon").unwrap(), "2026-10-03 12:00 ");
        assert_eq!(
            show("next tuesday at 9:30 pm").unwrap(),
            "2026-10-06 21:30 "
        );
        assert_eq!(
            show("October 5, 2026 9:00 AM").unwrap(),
            "2026-10-05 09:00 "
        );
        assert_eq!(show("5 Oct").unwrap(), "2026-10-05  ");
        assert_eq!(show("Sept 1 2027").unwrap(), "2027-09-01  ");
        assert_eq!(show("2026-10-06T15:30").unwrap(), "2026-10-06 15:30 ");
        assert_eq!(
            show("every 3rd friday").unwrap(),
            "2026-10-16  FREQ=MONTHLY;BYDAY=3FR"
        );
        for bad in [
            "every day starting oct 10",
            "in 3 days",
            "someday",
            "every",
            "feb 30 2026",
            "at 25:00",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert_eq!(
            parse_phrase("morgen", false, today, None, chrono_tz::UTC),
            None
        );
        assert!(parse_phrase("2026-10-06", false, today, None, chrono_tz::UTC).is_some());
    }

    proptest! {
        #[test]
        fn import_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }

        #[test]
        fn import_of_damaged_samples_never_panics(
            cuts in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = SAMPLE.as_bytes().to_vec();
            for (ix, byte) in cuts {
                let i = ix.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }

        #[test]
        fn phrases_never_panic(s in "\\PC{0,30}", days in 0u32..200_000) {
            let today = NaiveDate::from_num_days_from_ce_opt(days as i32).unwrap();
            let _ = parse_phrase(&s, true, today, None, chrono_tz::UTC);
            let _ = parse_phrase(&format!("every {s}"), true, today, None, chrono_tz::UTC);
        }
    }
}
