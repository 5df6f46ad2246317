//! Taskwarrior's `task export` — import only.
//!
//! Accepts a JSON array (Taskwarrior 2.4+ and 3.x) or one object per line
//! (older versions; a trailing comma after each object is tolerated).
//! Dates are `20241010T120000Z` (RFC 3339 and epoch seconds are accepted
//! too).
//!
//! | Taskwarrior        | task                                                                  |
//! |--------------------|-----------------------------------------------------------------------|
//! | `uuid`             | `id` when it is a random (v4) UUID, else a fresh id (see [`super::id_from_foreign`]) |
//! | `description`      | `title` (required, non-blank)                                         |
//! | `annotations`      | `notes`, one line per annotation                                      |
//! | `project`          | list of that name, created as needed (`Home.Garden` stays one name)   |
//! | `tags`             | `tags`                                                                |
//! | `priority` H/M/L   | 1 / 2 / 3 (empty → none; anything else is malformed)                  |
//! | `due`              | due in the importer's zone: the UTC instant as wall time, zone set     |
//! | `status`           | `pending`/`waiting` → open; `completed` → done with `done_at` = `end`; `deleted` → skipped; `recurring` (the template) → skipped |
//! | `recur`            | RRULE where it maps (`daily`, `weekly`, `2w`, `monthly`, `quarterly`, `yearly`, `weekdays`, `P3D`…), with `UNTIL` from `until` |
//! | `entry`/`modified` | `created_at`/`updated_at`                                             |
//!
//! Recurring tasks: the template (`status: recurring`) is skipped and its
//! generated instances are kept. So that completing them does not spawn
//! duplicate series, only the pending instance with the latest due date of
//! each template carries the rule; the other instances become one-off tasks.
//!
//! Taskwarrior has no subtasks: its `parent`/`template` field links an
//! instance to its recurrence template and is not mapped to our `parent`.
//! What has no field of its own is kept as notes lines after the
//! annotations: `Depends on: <description>` (uuid if the task is not in
//! the file), `Scheduled: …`, `Wait until: …`, `Until: …` (when not part of
//! an RRULE), `Taskwarrior recur: …` (when it does not map), and
//! user-defined attributes as `<name>: <value>`. Computed and internal
//! fields (`id`, `urgency`, `mask`, `imask`, `start`, `rtype`, `last`) are
//! dropped.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use super::json::{array_elements, parse_at, skip_ws, syntax_check};
use super::{
    blank_task, check_bundle, id_from_foreign, malformed, quoted, tag_from, utf8, Bundle, Format,
    ImportContext, InterchangeError, LineIndex, ListsByName, Location, Subject,
};
use crate::domain::{Due, Id, Priority, Task};
use crate::order::OrderKey;
use crate::recurrence::Recurrence;

const F: Format = Format::Taskwarrior;

const KNOWN: &[&str] = &[
    "id",
    "uuid",
    "description",
    "status",
    "entry",
    "modified",
    "end",
    "due",
    "scheduled",
    "wait",
    "until",
    "start",
    "project",
    "tags",
    "priority",
    "annotations",
    "depends",
    "parent",
    "template",
    "recur",
    "urgency",
    "mask",
    "imask",
    "rtype",
    "last",
];

/// Taskwarrior's H/M/L as ours.
pub fn priority_from_taskwarrior(p: &str) -> Option<Priority> {
    match p.trim().to_ascii_uppercase().as_str() {
        "" => Some(Priority::NONE),
        "H" => Priority::new(1).ok(),
        "M" => Priority::new(2).ok(),
        "L" => Priority::new(3).ok(),
        _ => None,
    }
}

/// A Taskwarrior `recur` value as an RRULE body, when it maps.
pub fn recur_to_rrule(recur: &str) -> Option<String> {
    let r = recur.trim().to_ascii_lowercase();
    let (freq, n) = match r.as_str() {
        "daily" | "day" => ("DAILY", 1),
        "weekdays" => return Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR".into()),
        "weekly" | "week" | "sennight" => ("WEEKLY", 1),
        "biweekly" | "fortnight" => ("WEEKLY", 2),
        "monthly" | "month" => ("MONTHLY", 1),
        "bimonthly" => ("MONTHLY", 2),
        "quarterly" | "quarter" => ("MONTHLY", 3),
        "semiannual" => ("MONTHLY", 6),
        "annual" | "yearly" | "year" => ("YEARLY", 1),
        "biannual" | "biyearly" => ("YEARLY", 2),
        _ => {
            // ISO 8601 (`P2W`) or a count and a unit (`2w`, `3 days`, `1mo`).
            let body = r.strip_prefix('p').unwrap_or(&r);
            let split = body.find(|c: char| !c.is_ascii_digit())?;
            let (num, unit) = body.split_at(split);
            let n: u32 = if num.is_empty() {
                1
            } else {
                num.parse().ok().filter(|n| (1..=999).contains(n))?
            };
            let iso = r.starts_with('p');
            match (unit.trim(), iso) {
                ("d", true) | ("d" | "day" | "days", false) => ("DAILY", n),
                ("w", true) | ("w" | "wk" | "wks" | "week" | "weeks", false) => ("WEEKLY", n),
                ("m", true) | ("mo" | "mos" | "mth" | "mths" | "month" | "months", false) => {
                    ("MONTHLY", n)
                }
                ("q" | "qtr" | "qtrs" | "quarter" | "quarters", false) => ("MONTHLY", n * 3),
                ("y", true) | ("y" | "yr" | "yrs" | "year" | "years", false) => ("YEARLY", n),
                _ => return None,
            }
        }
    };
    Some(if n > 1 {
        format!("FREQ={freq};INTERVAL={n}")
    } else {
        format!("FREQ={freq}")
    })
}

/// `20241010T120000Z`, RFC 3339, or epoch seconds.
pub fn parse_tw_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(body) = s.strip_suffix('Z') {
        if let Ok(t) = NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S") {
            return Some(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return DateTime::from_timestamp(s.parse().ok()?, 0);
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Completed,
    Deleted,
    Recurring,
}

struct Record {
    at: Location,
    obj: Map<String, Value>,
}

/// Splits the input into JSON objects with their locations.
fn records(text: &str) -> Result<Vec<Record>, InterchangeError> {
    let lines = LineIndex::new(text);
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    let mut out = Vec::new();
    let mut push = |at: Location, v: Value| match v {
        Value::Object(obj) => {
            out.push(Record { at, obj });
            Ok(())
        }
        _ => Err(malformed(F, at, "expected a JSON object (one task)")),
    };
    if b.get(start) == Some(&b'[') {
        syntax_check(F, text, &lines)?;
        for (i, r) in array_elements(b, start).into_iter().enumerate() {
            let (line, _) = lines.position(r.start);
            let v: Value = parse_at(F, text, &lines, r, Some((i, "")))?;
            push(Location::at_line(line).with_record(i as u64 + 1), v)?;
        }
    } else {
        let mut n = 0u64;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i as u64 + 1;
            let t = raw.trim();
            let t = t.strip_suffix(',').unwrap_or(t).trim_end();
            if t.is_empty() {
                continue;
            }
            n += 1;
            let lead = (raw.len() - raw.trim_start().len()) as u64;
            let v: Value = serde_json::from_str(t).map_err(|e| {
                let mut m = e.to_string();
                if let Some(cut) = m.rfind(" at line ") {
                    m.truncate(cut);
                }
                malformed(
                    F,
                    Location {
                        line: Some(line),
                        column: Some(lead + e.column().max(1) as u64),
                        record: Some(n),
                    },
                    m,
                )
            })?;
            push(Location::at_line(line).with_record(n), v)?;
        }
    }
    Ok(out)
}

fn string_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: Location,
) -> Result<Option<&'a str>, InterchangeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(malformed(F, at, format!("`{key}` is not a string"))),
    }
}

fn date_field(
    obj: &Map<String, Value>,
    key: &str,
    at: Location,
) -> Result<Option<DateTime<Utc>>, InterchangeError> {
    let v = match obj.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(malformed(F, at, format!("`{key}` is not a date"))),
    };
    parse_tw_date(&v).map(Some).ok_or_else(|| {
        malformed(
            F,
            at,
            format!(
                "`{key}` {} is not a date (expected e.g. 20241010T120000Z)",
                quoted(&v)
            ),
        )
    })
}

/// A list of strings given as a JSON array or a comma-separated string.
fn string_list(
    obj: &Map<String, Value>,
    key: &str,
    at: Location,
) -> Result<Vec<String>, InterchangeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(malformed(
                    F,
                    at,
                    format!("`{key}` has an item that is not a string"),
                )),
            })
            .collect(),
        Some(_) => Err(malformed(
            F,
            at,
            format!("`{key}` is not a list of strings"),
        )),
    }
}

struct Item {
    at: Location,
    task: Task,
    status: Status,
    template: Option<String>,
    recur: Option<String>,
    until: Option<DateTime<Utc>>,
    extra_notes: Vec<String>,
    depends: Vec<String>,
    due_instant: Option<DateTime<Utc>>,
}

pub(super) fn import(input: &[u8], ctx: &mut ImportContext) -> Result<Bundle, InterchangeError> {
    let text = utf8(F, input)?;
    let recs = records(text)?;
    let zone = ctx.local_tz;
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).format("%Y-%m-%d %H:%M").to_string();
    let mut lists = ListsByName::default();
    let mut items: Vec<Item> = Vec::new();
    let mut titles: HashMap<String, String> = HashMap::new();

    for Record { at, obj } in recs {
        let bad = |m: String| malformed(F, at, m);
        let status = match string_field(&obj, "status", at)?.unwrap_or("pending") {
            "pending" | "waiting" => Status::Pending,
            "completed" => Status::Completed,
            "deleted" => Status::Deleted,
            "recurring" => Status::Recurring,
            other => {
                return Err(bad(format!(
                    "status {} is not pending, waiting, completed, deleted or recurring",
                    quoted(other)
                )))
            }
        };
        let uuid = string_field(&obj, "uuid", at)?.map(|u| u.trim().to_ascii_lowercase());
        let description = string_field(&obj, "description", at)?.unwrap_or("");
        if let Some(u) = &uuid {
            titles.insert(u.clone(), description.to_string());
        }
        if matches!(status, Status::Deleted | Status::Recurring) {
            // Skipped, but a broken date is still reported.
            for key in ["entry", "modified", "due", "end"] {
                date_field(&obj, key, at)?;
            }
            continue;
        }
        if description.trim().is_empty() {
            return Err(bad("`description` is missing or empty".into()));
        }
        let id = uuid
            .as_deref()
            .and_then(id_from_foreign)
            .unwrap_or_else(|| Id::random(&mut *ctx.rng));
        let mut task = blank_task(id, description.to_string(), ctx.now);

        let mut notes = Vec::new();
        match obj.get("annotations") {
            None | Some(Value::Null) => {}
            Some(Value::Array(anns)) => {
                for a in anns {
                    match a.get("description") {
                        Some(Value::String(d)) => notes.push(d.clone()),
                        _ => return Err(bad("an annotation has no `description`".into())),
                    }
                }
            }
            Some(_) => return Err(bad("`annotations` is not an array".into())),
        }

        if let Some(project) = string_field(&obj, "project", at)? {
            task.list = lists.get_or_create(project, ctx);
        }
        task.tags = string_list(&obj, "tags", at)?
            .iter()
            .filter_map(|t| tag_from(t))
            .collect();
        if let Some(p) = string_field(&obj, "priority", at)? {
            task.priority = priority_from_taskwarrior(p)
                .ok_or_else(|| bad(format!("priority {} is not H, M or L", quoted(p))))?;
        }
        let due_instant = date_field(&obj, "due", at)?;
        if let Some(t) = due_instant {
            let l = t.with_timezone(&zone);
            task.due = Some(Due {
                date: l.date_naive(),
                time: Some(l.time()),
                tz: Some(zone.name().to_string()),
            });
        }
        let entry = date_field(&obj, "entry", at)?;
        let modified = date_field(&obj, "modified", at)?;
        task.created_at = entry.unwrap_or(ctx.now);
        task.updated_at = modified.or(entry).unwrap_or(ctx.now);
        let end = date_field(&obj, "end", at)?;
        if status == Status::Completed {
            task.done = true;
            task.done_at = end;
        }
        let mut extra = Vec::new();
        for (key, label) in [("scheduled", "Scheduled"), ("wait", "Wait until")] {
            if let Some(t) = date_field(&obj, key, at)? {
                extra.push(format!("{label}: {}", local(t)));
            }
        }
        let until = date_field(&obj, "until", at)?;
        let template = match string_field(&obj, "template", at)? {
            Some(t) => Some(t),
            None => string_field(&obj, "parent", at)?,
        }
        .map(|t| t.trim().to_ascii_lowercase());
        let recur = string_field(&obj, "recur", at)?.map(str::to_string);
        let depends = string_list(&obj, "depends", at)?;
        for (k, v) in &obj {
            if KNOWN.contains(&k.as_str()) {
                continue;
            }
            let v = match v {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            extra.push(format!("{k}: {v}"));
        }
        task.notes = notes.join("\n");
        items.push(Item {
            at,
            task,
            status,
            template,
            recur,
            until,
            extra_notes: extra,
            depends,
            due_instant,
        });
    }

    // Which pending instance of each recurrence template carries the rule:
    // the one with the latest due (the last in the file on ties).
    let mut carrier: HashMap<String, usize> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if it.status != Status::Pending || it.recur.is_none() {
            continue;
        }
        if let Some(t) = &it.template {
            match carrier.get(t) {
                Some(&j) if items[j].due_instant > it.due_instant => {}
                _ => {
                    carrier.insert(t.clone(), i);
                }
            }
        }
    }

    let mut tasks = Vec::new();
    let mut places = Vec::new();
    for (i, mut it) in items.into_iter().enumerate() {
        let mut lines = Vec::new();
        if !it.depends.is_empty() {
            let names: Vec<String> = it
                .depends
                .iter()
                .map(|d| {
                    let d = d.trim().to_ascii_lowercase();
                    titles.get(&d).cloned().unwrap_or(d)
                })
                .collect();
            lines.push(format!("Depends on: {}", names.join("; ")));
        }
        lines.append(&mut it.extra_notes);
        let carries = it.status == Status::Pending
            && match &it.template {
                Some(t) => carrier.get(t) == Some(&i),
                None => true,
            };
        let mut until_used = false;
        if let Some(recur) = &it.recur {
            match recur_to_rrule(recur) {
                Some(rule) if carries => {
                    let rule = match it.until {
                        Some(u) => {
                            until_used = true;
                            format!("{rule};UNTIL={}", u.format("%Y%m%dT%H%M%SZ"))
                        }
                        None => rule,
                    };
                    it.task.recurrence = Some(
                        Recurrence::parse(&rule).map_err(|e| malformed(F, it.at, e.to_string()))?,
                    );
                }
                Some(_) => {}
                None => lines.push(format!("Taskwarrior recur: {recur}")),
            }
        }
        if let (Some(u), false) = (it.until, until_used) {
            lines.push(format!("Until: {}", local(u)));
        }
        if !lines.is_empty() {
            if !it.task.notes.is_empty() {
                it.task.notes.push('\n');
            }
            it.task.notes.push_str(&lines.join("\n"));
        }
        tasks.push(it.task);
        places.push(it.at);
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
            Subject::Task(i) => places[i],
            Subject::List(_) => Location::default(),
        };
        malformed(F, loc, p.message)
    })?;
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::super::testgen::with_ctx;
    use super::*;
    use proptest::prelude::*;

    fn imp(text: &str) -> Result<Bundle, InterchangeError> {
        with_ctx(|ctx| import(text.as_bytes(), ctx))
    }

    /// Shaped like `task export` from Taskwarrior 2.6 (invented content).
    const EXPORT: &str = r#"[
{"id":1,"description":"Prune the roses","entry":"20241001T080000Z","modified":"20241002T090000Z","due":"20241010T120000Z","project":"Home.Garden","status":"pending","tags":["outside","weekend"],"priority":"H","uuid":"6a1f7e0c-3b2d-4c8e-9f01-23456789abcd","annotations":[{"entry":"20241001T081000Z","description":"Use the new shears"},{"entry":"20241001T081500Z","description":"Compost the cuttings"}],"urgency":9.2},
{"id":0,"description":"File the receipts","end":"20241003T170000Z","entry":"20240930T100000Z","modified":"20241003T170000Z","project":"Admin","status":"completed","uuid":"0b9e2c4d-5f6a-4b7c-8d9e-0f1a2b3c4d5e","priority":"L","urgency":0},
{"description":"Old idea","entry":"20240901T100000Z","end":"20240902T100000Z","modified":"20240902T100000Z","status":"deleted","uuid":"1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
{"description":"Water the lawn","due":"20241005T060000Z","entry":"20240901T100000Z","mask":"--+","modified":"20241001T100000Z","recur":"weekly","rtype":"periodic","status":"recurring","uuid":"2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a","until":"20251231T230000Z"},
{"description":"Water the lawn","due":"20241005T060000Z","entry":"20241001T100000Z","imask":1,"modified":"20241001T100000Z","parent":"2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a","recur":"weekly","status":"pending","uuid":"3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b","until":"20251231T230000Z"},
{"description":"Water the lawn","due":"20241012T060000Z","entry":"20241001T100000Z","imask":2,"modified":"20241001T100000Z","parent":"2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a","recur":"weekly","status":"pending","uuid":"4f5a6b7c-8d9e-4f0a-9b2c-3d4e5f6a7b8c","until":"20251231T230000Z"},
{"id":4,"description":"Buy seeds","depends":"6a1f7e0c-3b2d-4c8e-9f01-23456789abcd","entry":"20241001T100000Z","modified":"20241001T100000Z","scheduled":"20241008T070000Z","status":"waiting","wait":"20241007T070000Z","uuid":"5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d","estimate":"2h","recur":"3h","project":"Home.Garden"}
]
"#;

    #[test]
    fn imports_an_array_export() {
        let b = imp(EXPORT).unwrap();
        let titles: Vec<_> = b.tasks.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Prune the roses",
                "File the receipts",
                "Water the lawn",
                "Water the lawn",
                "Buy seeds"
            ]
        );
        let names: Vec<_> = b.lists.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["Home.Garden", "Admin"]);
        let [roses, receipts, lawn1, lawn2, seeds] = [0, 1, 2, 3, 4].map(|i| &b.tasks[i]);

        assert_eq!(roses.id.to_string(), "6a1f7e0c3b2d4c8e9f0123456789abcd");
        assert_eq!(roses.list, Some(b.lists[0].id));
        assert_eq!(
            roses.tags.iter().collect::<Vec<_>>(),
            ["outside", "weekend"]
        );
        assert_eq!(roses.priority.get(), 1);
        // 12:00 UTC is 14:00 in Berlin (summer time).
        assert_eq!(
            roses.due.as_ref().unwrap().to_string(),
            "2024-10-10 14:00 Europe/Berlin"
        );
        assert_eq!(roses.notes, "Use the new shears\nCompost the cuttings");
        assert_eq!(roses.created_at.to_rfc3339(), "2024-10-01T08:00:00+00:00");
        assert_eq!(roses.updated_at.to_rfc3339(), "2024-10-02T09:00:00+00:00");
        assert!(!roses.done);

        assert!(receipts.done);
        assert_eq!(
            receipts.done_at.unwrap().to_rfc3339(),
            "2024-10-03T17:00:00+00:00"
        );
        assert_eq!(receipts.priority.get(), 3);

        // Only the latest pending instance carries the series.
        assert_eq!(lawn1.recurrence, None);
        assert_eq!(
            lawn2.recurrence.as_ref().unwrap().as_str(),
            "FREQ=WEEKLY;UNTIL=20251231T230000Z"
        );
        assert!(
            lawn1.notes.contains("Until: 2026-01-01 00:00"),
            "{}",
            lawn1.notes
        );
        assert_eq!(lawn2.parent, None);

        assert!(!seeds.done);
        assert_eq!(seeds.list, roses.list);
        assert_eq!(
            seeds.notes,
            "Depends on: Prune the roses\nScheduled: 2024-10-08 09:00\nWait until: 2024-10-07 09:00\n\
             estimate: 2h\nTaskwarrior recur: 3h"
        );
        assert!(b.tasks.windows(2).all(|w| w[0].order < w[1].order));
    }

    #[test]
    fn imports_one_object_per_line() {
        let text = "{\"description\":\"a\",\"status\":\"pending\",\"uuid\":\"6a1f7e0c-3b2d-4c8e-9f01-23456789abcd\",\"entry\":\"20241001T080000Z\"},\n\
                    \n\
                    {\"description\":\"b\",\"status\":\"completed\",\"end\":\"1727942400\",\"entry\":\"1727856000\"}\n";
        let b = imp(text).unwrap();
        assert_eq!(b.tasks.len(), 2);
        assert_eq!(
            b.tasks[0].id.to_string(),
            "6a1f7e0c3b2d4c8e9f0123456789abcd"
        );
        assert_eq!(
            b.tasks[1].done_at.unwrap().to_rfc3339(),
            "2024-10-03T08:00:00+00:00"
        );
        assert!(imp("").unwrap().tasks.is_empty());
        assert!(imp("[]").unwrap().tasks.is_empty());
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
    fn malformed_records_report_line_and_record() {
        let (loc, msg) =
            err("[\n{\"description\":\"a\"},\n{\"description\":\"b\",\"priority\":\"X\"}\n]");
        assert_eq!((loc.line, loc.record), (Some(3), Some(2)));
        assert_eq!(msg, "priority `X` is not H, M or L");
        let (loc, msg) =
            err("{\"description\":\"a\"}\n{\"description\":\"b\",\"due\":\"tomorrow\"}\n");
        assert_eq!((loc.line, loc.record), (Some(2), Some(2)));
        assert!(msg.contains("`due`"), "{msg}");
        let (loc, _) = err("{\"description\":\"a\"}\n{\"description\":\"b\"\n");
        assert_eq!(loc.line, Some(2));
        let (loc, msg) = err("[\n{\"description\":\"a\"},\n{\"description\":\"b\",}\n]");
        assert_eq!(loc.line, Some(3));
        assert!(loc.column.is_some(), "{msg}");
        let (loc, msg) = err("[\n{\"description\":\"a\"},\n{\"status\":\"pending\"}\n]");
        assert_eq!(loc.record, Some(2));
        assert!(msg.contains("description"), "{msg}");
        let (_, msg) = err("[1]");
        assert!(msg.contains("expected a JSON object"), "{msg}");
        let (_, msg) = err("{\"description\":\"a\",\"status\":\"paused\"}");
        assert!(msg.contains("status"), "{msg}");
        let dup = "{\"description\":\"a\",\"uuid\":\"6a1f7e0c-3b2d-4c8e-9f01-23456789abcd\"}\n";
        let (loc, msg) = err(&format!("{dup}{dup}"));
        assert_eq!(loc.record, Some(2));
        assert!(msg.contains("appears twice"), "{msg}");
    }

    #[test]
    fn recur_mapping() {
        for (tw, rule) in [
            ("weekly", Some("FREQ=WEEKLY")),
            ("daily", Some("FREQ=DAILY")),
            ("monthly", Some("FREQ=MONTHLY")),
            ("2w", Some("FREQ=WEEKLY;INTERVAL=2")),
            ("3days", Some("FREQ=DAILY;INTERVAL=3")),
            ("P1M", Some("FREQ=MONTHLY")),
            ("quarterly", Some("FREQ=MONTHLY;INTERVAL=3")),
            ("2q", Some("FREQ=MONTHLY;INTERVAL=6")),
            ("yearly", Some("FREQ=YEARLY")),
            ("weekdays", Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")),
            ("3h", None),
            ("PT1H", None),
            ("", None),
        ] {
            assert_eq!(recur_to_rrule(tw).as_deref(), rule, "{tw}");
            if let Some(r) = rule {
                assert!(Recurrence::parse(r).is_ok());
            }
        }
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
            let mut bytes = EXPORT.as_bytes().to_vec();
            for (ix, byte) in cuts {
                let i = ix.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = with_ctx(|ctx| import(&bytes, ctx));
        }
    }
}
