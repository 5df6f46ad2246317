//! Recurrence rules (RFC 5545 RRULE strings) and the phrases that make them.
//!
//! A [`Recurrence`] is the body of an RRULE (`FREQ=WEEKLY;BYDAY=MO`) — no
//! `DTSTART`: the start of the series is always the task's current [`Due`].
//! When a recurring task is completed, [`Recurrence::next`] computes the
//! next due date and the rule to store with it (a `COUNT` shrinks by the
//! occurrences that were used up, because the start moves forward).
//!
//! Semantics worth knowing (they are the `rrule` crate's, i.e. RFC 5545):
//! - a monthly rule on a day a month does not have (`BYMONTHDAY=31`) skips
//!   that month rather than moving to its last day; use
//!   "every last day of the month" (`BYMONTHDAY=-1`) for that;
//! - occurrences keep their wall-clock time across daylight-saving changes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

use crate::domain::Due;

/// A validated RRULE body such as `FREQ=WEEKLY;BYDAY=MO` (no `RRULE:` prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Recurrence(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    #[error("`{rule}` is not a valid recurrence rule: {reason}")]
    Invalid { rule: String, reason: String },
    #[error("time zone `{0}` is not an IANA zone name (e.g. Europe/Berlin)")]
    BadTimeZone(String),
    #[error("cannot compute the next date of `{rule}`: {reason}")]
    Compute { rule: String, reason: String },
}

/// How many occurrences [`Recurrence::next`] looks at before giving up
/// (a daily task would have to be ~270 years overdue to hit this).
const MAX_SCAN: usize = 100_000;

impl Recurrence {
    pub fn parse(rule: &str) -> Result<Self, RecurrenceError> {
        let body = rule.trim();
        let body = body
            .strip_prefix("RRULE:")
            .or_else(|| body.strip_prefix("rrule:"))
            .unwrap_or(body)
            .to_ascii_uppercase();
        body.parse::<rrule::RRule<rrule::Unvalidated>>()
            .map_err(|e| RecurrenceError::Invalid {
                rule: rule.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Recurrence(body))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Turns an English phrase into a rule, or `None` if the whole phrase is
    /// not a recurrence. Case-insensitive; list items may be separated by
    /// commas, `and` or `&`.
    ///
    /// | phrase | rule |
    /// |---|---|
    /// | `daily`, `every day` | `FREQ=DAILY` |
    /// | `every 3 days`, `every other day` | `FREQ=DAILY;INTERVAL=3` / `=2` |
    /// | `every weekday` / `every workday` | `FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR` |
    /// | `every weekend` | `FREQ=WEEKLY;BYDAY=SA,SU` |
    /// | `every monday`, `every mon, wed and fri` | `FREQ=WEEKLY;BYDAY=…` |
    /// | `weekly`, `every week`, `every 2 weeks`, `every other week` | `FREQ=WEEKLY[;INTERVAL=n]` |
    /// | `every other monday`, `every 2 weeks on mon and thu` | `FREQ=WEEKLY;INTERVAL=2;BYDAY=…` |
    /// | `monthly`, `every month`, `every 2 months` | `FREQ=MONTHLY[;INTERVAL=n]` |
    /// | `every 15th`, `every month on the 15th`, `monthly on the 1st and 15th` | `FREQ=MONTHLY;BYMONTHDAY=…` |
    /// | `every last day of the month`, `monthly on the last day` | `FREQ=MONTHLY;BYMONTHDAY=-1` |
    /// | `every first monday`, `every last friday of the month` | `FREQ=MONTHLY;BYDAY=1MO` / `-1FR` |
    /// | `yearly`, `annually`, `every year`, `every 2 years` | `FREQ=YEARLY[;INTERVAL=n]` |
    /// | `every dec 25`, `every year on 25 december` | `FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25` |
    ///
    /// Without a `BY…` part the rule repeats on the start's weekday / day of
    /// month / date, i.e. the first due date picks it.
    pub fn from_phrase(phrase: &str) -> Option<Recurrence> {
        let lowered = phrase.to_lowercase();
        let cleaned: String = lowered
            .chars()
            .map(|c| if c == ',' || c == '&' { ' ' } else { c })
            .collect();
        let words: Vec<&str> = cleaned
            .split_whitespace()
            .map(|w| w.trim_end_matches(['.', '!', '?', ';', ':']))
            .filter(|w| !w.is_empty() && *w != "and")
            .collect();
        let body = phrase_body(&words)?;
        Recurrence::parse(&body).ok()
    }

    /// The occurrence that follows `due` when the task is completed at
    /// `completed_at`, with the rule to store alongside it.
    ///
    /// The series starts at `due` (its time, or midnight for a date-only
    /// due, in the due's zone or else `local_tz`). The next due is the first
    /// occurrence strictly after `due`; if the task was overdue when it was
    /// completed (a date-only task: completed on a later day; a timed task:
    /// completed after its time) it is also on a day after the completion
    /// day in `local_tz`, so catching up on an old task never creates
    /// another overdue one. A task completed early gets the occurrence right
    /// after its current due.
    ///
    /// The returned [`Due`] keeps the time and zone of `due` (rules finer
    /// than daily, or with `BYHOUR`/`BYMINUTE`/`BYSECOND`, take the
    /// occurrence's wall-clock time instead). A `COUNT` in the returned rule
    /// is reduced by the occurrences skipped (the current one included when
    /// `due` is an occurrence). `Ok(None)`: the series has ended
    /// (`COUNT`/`UNTIL`).
    pub fn next(
        &self,
        due: &Due,
        completed_at: DateTime<Utc>,
        local_tz: chrono_tz::Tz,
    ) -> Result<Option<(Due, Recurrence)>, RecurrenceError> {
        let completion_day = completed_at.with_timezone(&local_tz).date_naive();
        let scan = Scan::new(self, due, local_tz)?;
        let overdue = match due.time {
            None => completion_day > due.date,
            Some(_) => completed_at > scan.start_utc,
        };
        let due_key = (due.date, due.time);
        let found = scan.run(|cand, occ_utc| {
            if (cand.date, cand.time) <= due_key {
                return false;
            }
            if !overdue {
                return true;
            }
            if scan.sub_daily && cand.time.is_some() {
                // Several a day: the next one still ahead is not overdue.
                return occ_utc > completed_at;
            }
            let local_day = match cand.time {
                None => cand.date,
                Some(_) => occ_utc.with_timezone(&local_tz).date_naive(),
            };
            local_day > completion_day
        })?;
        Ok(found.map(|(idx, next_due)| (next_due, self.with_count_reduced_by(idx))))
    }

    /// The first occurrence at or after `start` (`start` itself when it is
    /// one), in the same shape as `start` (its time and zone kept, see
    /// [`Recurrence::next`]). Used to pick the first due date of a new
    /// recurring task. `Ok(None)` if the rule has no such occurrence.
    pub fn first_on_or_after(
        &self,
        start: &Due,
        local_tz: chrono_tz::Tz,
    ) -> Result<Option<Due>, RecurrenceError> {
        let scan = Scan::new(self, start, local_tz)?;
        let start_key = (start.date, start.time);
        Ok(scan
            .run(|cand, _| (cand.date, cand.time) >= start_key)?
            .map(|(_, d)| d))
    }

    /// This rule with `COUNT` lowered by `used` (unchanged without COUNT).
    fn with_count_reduced_by(&self, used: usize) -> Recurrence {
        if used == 0 {
            return self.clone();
        }
        let parts: Vec<String> = self
            .0
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("COUNT") => {
                    let n: u64 = v.trim().parse().unwrap_or(1);
                    let left = n.saturating_sub(used as u64).max(1);
                    format!("COUNT={left}")
                }
                _ => p.to_string(),
            })
            .collect();
        Recurrence(parts.join(";"))
    }
}

impl TryFrom<String> for Recurrence {
    type Error = RecurrenceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Recurrence::parse(&s)
    }
}

impl From<Recurrence> for String {
    fn from(r: Recurrence) -> String {
        r.0
    }
}

// ---------------------------------------------------------------------------
// Computing occurrences
// ---------------------------------------------------------------------------

/// One walk over a rule's occurrences starting at a due date.
struct Scan {
    rule_text: String,
    set: rrule::RRuleSet,
    start: Due,
    start_utc: DateTime<Utc>,
    count: Option<u64>,
    has_end: bool,
    /// FREQ finer than DAILY or BYHOUR/BYMINUTE/BYSECOND: occurrences carry
    /// their own time of day.
    sub_daily: bool,
}

impl Scan {
    fn new(
        rule: &Recurrence,
        start: &Due,
        local_tz: chrono_tz::Tz,
    ) -> Result<Scan, RecurrenceError> {
        let rule_text = rule.0.clone();
        let compute = |reason: String| RecurrenceError::Compute {
            rule: rule_text.clone(),
            reason,
        };
        if !(1..=9999).contains(&start.date.year()) {
            return Err(compute(format!("{} is out of range", start.date)));
        }
        let tz = match &start.tz {
            Some(name) => name
                .parse::<chrono_tz::Tz>()
                .map_err(|_| RecurrenceError::BadTimeZone(name.clone()))?,
            None => local_tz,
        };

        // Split off COUNT and UNTIL: COUNT is counted here (the returned rule
        // needs the number of occurrences used), UNTIL is interpreted here
        // (a floating UNTIL means the due's zone, not the machine's).
        let mut rest = Vec::new();
        let mut count = None;
        let mut until = None;
        let mut freq = String::new();
        let mut has_time_parts = false;
        for part in rule.0.split(';').filter(|p| !p.trim().is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let key = key.trim().to_ascii_uppercase();
            let value = value.trim();
            match key.as_str() {
                "COUNT" => {
                    count = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| compute(format!("COUNT `{value}` is not a number")))?,
                    )
                }
                "UNTIL" => until = Some(value.to_string()),
                "INTERVAL" if value.parse::<u64>().ok() == Some(0) => {
                    return Err(compute("INTERVAL must be at least 1".into()))
                }
                _ => {
                    if key == "FREQ" {
                        freq = value.to_ascii_uppercase();
                    }
                    if matches!(key.as_str(), "BYHOUR" | "BYMINUTE" | "BYSECOND") {
                        has_time_parts = true;
                    }
                    rest.push(part.to_string());
                }
            }
        }
        let sub_daily =
            has_time_parts || matches!(freq.as_str(), "HOURLY" | "MINUTELY" | "SECONDLY");

        let naive_start = start.date.and_time(start.time.unwrap_or(NaiveTime::MIN));
        let start_local = resolve_local(tz, naive_start)
            .ok_or_else(|| compute(format!("{naive_start} does not exist in {}", tz.name())))?;
        let start_utc = start_local.with_timezone(&Utc);
        let rtz = rrule::Tz::Tz(tz);
        let dtstart = start_local.with_timezone(&rtz);

        let until = match until {
            None => None,
            Some(text) => Some(
                parse_until(&text, tz)
                    .ok_or_else(|| compute(format!("UNTIL `{text}` is not a date")))?,
            ),
        };
        let has_end = count.is_some() || until.is_some();

        let body = rest.join(";");
        let set = catch_unwind(AssertUnwindSafe(
            || -> Result<Option<rrule::RRuleSet>, String> {
                let mut parsed = body
                    .parse::<rrule::RRule<rrule::Unvalidated>>()
                    .map_err(|e| e.to_string())?;
                if let Some(until) = until {
                    if until < start_utc {
                        return Ok(None);
                    }
                    parsed = parsed.until(until.with_timezone(&rrule::Tz::UTC));
                }
                parsed.build(dtstart).map(Some).map_err(|e| e.to_string())
            },
        ))
        .map_err(|_| compute("the rule could not be evaluated".into()))?
        .map_err(|reason| RecurrenceError::Invalid {
            rule: rule_text.clone(),
            reason,
        })?;

        let set = match set {
            Some(set) => set.limit(),
            // UNTIL before the start: an empty series.
            None => rrule::RRuleSet::new(dtstart).limit(),
        };
        Ok(Scan {
            rule_text,
            set,
            start: start.clone(),
            start_utc,
            count,
            has_end,
            sub_daily,
        })
    }

    /// Walks the occurrences and returns the first one `accept`s (with its
    /// index from the start), `None` when the series ends first.
    fn run(
        &self,
        mut accept: impl FnMut(&Due, DateTime<Utc>) -> bool,
    ) -> Result<Option<(usize, Due)>, RecurrenceError> {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            for (idx, occ) in (&self.set).into_iter().enumerate() {
                if matches!(self.count, Some(c) if idx as u64 >= c) {
                    return Walk::Ended;
                }
                if idx >= MAX_SCAN {
                    return Walk::TooFar;
                }
                let time = match self.start.time {
                    Some(_) if self.sub_daily => Some(occ.time()),
                    t => t,
                };
                let cand = Due {
                    date: occ.date_naive(),
                    time,
                    tz: self.start.tz.clone(),
                };
                if accept(&cand, occ.with_timezone(&Utc)) {
                    return Walk::Found(idx, cand);
                }
            }
            Walk::Ended
        }))
        .unwrap_or(Walk::Panicked);
        let compute = |reason: &str| RecurrenceError::Compute {
            rule: self.rule_text.clone(),
            reason: reason.to_string(),
        };
        match outcome {
            Walk::Found(idx, due) => Ok(Some((idx, due))),
            Walk::Ended if self.has_end => Ok(None),
            // A rule without COUNT/UNTIL that stops is one that never (or no
            // longer, within the supported years) matches a date.
            Walk::Ended => Err(compute("the rule produces no further dates")),
            Walk::TooFar => Err(compute("the next date is too far ahead")),
            Walk::Panicked => Err(compute("the rule could not be evaluated")),
        }
    }
}

enum Walk {
    Found(usize, Due),
    Ended,
    TooFar,
    Panicked,
}

/// A local wall-clock time as an instant: the earlier one when the clocks go
/// back, the first valid time after it when they go forward.
fn resolve_local(tz: chrono_tz::Tz, naive: NaiveDateTime) -> Option<DateTime<chrono_tz::Tz>> {
    (0..=4).find_map(|h| {
        let t = naive.checked_add_signed(Duration::minutes(30 * h))?;
        tz.from_local_datetime(&t).earliest()
    })
}

/// UNTIL as `YYYYMMDD` (the whole day, inclusive), `YYYYMMDDTHHMMSS`
/// (wall-clock time in `tz`) or `YYYYMMDDTHHMMSSZ` (UTC).
fn parse_until(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    let text = text.trim().to_ascii_uppercase();
    if !text.is_ascii() {
        return None;
    }
    let date = NaiveDate::parse_from_str(text.get(..8)?, "%Y%m%d").ok()?;
    let rest = &text[8..];
    if rest.is_empty() {
        let end = date.and_hms_opt(23, 59, 59)?;
        return resolve_local(tz, end).map(|d| d.with_timezone(&Utc));
    }
    let (time_text, zulu) = match rest.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (rest, false),
    };
    let time = NaiveTime::parse_from_str(time_text.strip_prefix('T')?, "%H%M%S").ok()?;
    let naive = date.and_time(time);
    if zulu {
        Some(Utc.from_utc_datetime(&naive))
    } else {
        resolve_local(tz, naive).map(|d| d.with_timezone(&Utc))
    }
}

// ---------------------------------------------------------------------------
// Phrases
// ---------------------------------------------------------------------------

/// Whether a lowercase word (trailing punctuation removed) can appear
/// after the first word of a phrase [`Recurrence::from_phrase`] accepts;
/// lets callers stop looking early.
pub(crate) fn could_continue_phrase(w: &str) -> bool {
    let w = w.trim_end_matches([',', '.', '!', '?', ';', ':']);
    matches!(
        w,
        "" | "&"
            | "and"
            | "other"
            | "on"
            | "the"
            | "of"
            | "a"
            | "every"
            | "each"
            | "month"
            | "last"
            | "day"
            | "business"
            | "weekday"
            | "weekdays"
            | "workday"
            | "workdays"
            | "weekend"
            | "weekends"
    ) || unit_word(w).is_some()
        || count_word(w).is_some()
        || nth_word(w).is_some()
        || ordinal_day(w, true).is_some()
        || weekday_from_word(w).is_some()
        || month_from_word(w).is_some()
}

/// Weekday from an English name, abbreviation or plural (`mon`, `tues`,
/// `fridays`). Lowercase input.
pub(crate) fn weekday_from_word(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" | "mondays" => Weekday::Mon,
        "tuesday" | "tue" | "tues" | "tuesdays" => Weekday::Tue,
        "wednesday" | "wed" | "weds" | "wednesdays" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" | "thursdays" => Weekday::Thu,
        "friday" | "fri" | "fridays" => Weekday::Fri,
        "saturday" | "sat" | "saturdays" => Weekday::Sat,
        "sunday" | "sun" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

/// Month number from an English name or abbreviation. Lowercase input.
pub(crate) fn month_from_word(w: &str) -> Option<u32> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

/// `15th`, `1st`, `22nd` → 15, 1, 22 (1–31). With `bare_ok`, plain `15` too.
pub(crate) fn ordinal_day(w: &str, bare_ok: bool) -> Option<u32> {
    let digits_end = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
    let (digits, suffix) = w.split_at(digits_end);
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    let ok_suffix = matches!(suffix, "st" | "nd" | "rd" | "th") || (bare_ok && suffix.is_empty());
    let n: u32 = digits.parse().ok()?;
    (ok_suffix && (1..=31).contains(&n)).then_some(n)
}

fn weekday_code(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn count_word(w: &str) -> Option<u32> {
    let n = match w {
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        _ if !w.is_empty() && w.len() <= 3 && w.bytes().all(|b| b.is_ascii_digit()) => {
            w.parse().ok()?
        }
        _ => return None,
    };
    (n >= 1).then_some(n)
}

/// `first`…`fourth`, `1st`…`5th`, `last` → position within a month.
fn nth_word(w: &str) -> Option<i32> {
    Some(match w {
        "first" | "1st" => 1,
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        "last" => -1,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    fn name(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    }
}

fn unit_word(w: &str) -> Option<Freq> {
    Some(match w {
        "day" | "days" => Freq::Daily,
        "week" | "weeks" => Freq::Weekly,
        "month" | "months" => Freq::Monthly,
        "year" | "years" => Freq::Yearly,
        _ => return None,
    })
}

fn rule(freq: Freq, interval: u32, by: &str) -> String {
    let mut s = format!("FREQ={}", freq.name());
    if interval > 1 {
        s.push_str(&format!(";INTERVAL={interval}"));
    }
    if !by.is_empty() {
        s.push(';');
        s.push_str(by);
    }
    s
}

/// The rule body for a whole phrase (lowercase words, separators removed).
fn phrase_body(w: &[&str]) -> Option<String> {
    match w {
        ["daily", rest @ ..] => unit_tail(Freq::Daily, 1, rest),
        ["weekly", rest @ ..] => unit_tail(Freq::Weekly, 1, rest),
        ["monthly", rest @ ..] => unit_tail(Freq::Monthly, 1, rest),
        ["yearly" | "annually", rest @ ..] => unit_tail(Freq::Yearly, 1, rest),
        ["every" | "each", rest @ ..] => every(rest),
        _ => None,
    }
}

fn every(w: &[&str]) -> Option<String> {
    // every other …
    if let ["other", rest @ ..] = w {
        return match rest {
            [unit, tail @ ..] if unit_word(unit).is_some() => unit_tail(unit_word(unit)?, 2, tail),
            days => weekday_list(days).map(|by| rule(Freq::Weekly, 2, &by)),
        };
    }
    // every N units …
    if let [n, unit, tail @ ..] = w {
        if let (Some(n), Some(freq)) = (count_word(n), unit_word(unit)) {
            return unit_tail(freq, n, tail);
        }
    }
    match w {
        [unit, tail @ ..] if unit_word(unit).is_some() => unit_tail(unit_word(unit)?, 1, tail),
        ["weekday" | "weekdays" | "workday" | "workdays"] | ["business", "day" | "days"] => {
            Some(rule(Freq::Weekly, 1, "BYDAY=MO,TU,WE,TH,FR"))
        }
        ["weekend" | "weekends"] => Some(rule(Freq::Weekly, 1, "BYDAY=SA,SU")),
        ["last", "day", tail @ ..] if of_the_month(tail) => {
            Some(rule(Freq::Monthly, 1, "BYMONTHDAY=-1"))
        }
        [nth, day, tail @ ..] if nth_word(nth).is_some() && weekday_from_word(day).is_some() => {
            if !of_the_month(tail) {
                return None;
            }
            let n = nth_word(nth)?;
            let d = weekday_code(weekday_from_word(day)?);
            Some(rule(Freq::Monthly, 1, &format!("BYDAY={n}{d}")))
        }
        // every dec 25 / every 25th december
        [m, d] | [d, m] | [d, "of", m] if month_from_word(m).is_some() => {
            let by = month_and_day(month_from_word(m)?, ordinal_day(d, true)?)?;
            Some(rule(Freq::Yearly, 1, &by))
        }
        _ => {
            if let Some(by) = weekday_list(w) {
                return Some(rule(Freq::Weekly, 1, &by));
            }
            // every 15th [of the month] / every 1st and 15th
            let split = w
                .iter()
                .position(|x| ordinal_day(x, false).is_none())
                .unwrap_or(w.len());
            let (days, tail) = w.split_at(split);
            if days.is_empty() || !of_the_month(tail) {
                return None;
            }
            month_days(days, false).map(|by| rule(Freq::Monthly, 1, &by))
        }
    }
}

/// `[]`, `of the month`, `of every month`, `of each month`, `of month`.
fn of_the_month(tail: &[&str]) -> bool {
    matches!(
        tail,
        [] | ["of", "the" | "every" | "each", "month"] | ["of", "month"] | ["a", "month"]
    )
}

/// After "every [N] unit": an optional `on …` part.
fn unit_tail(freq: Freq, interval: u32, tail: &[&str]) -> Option<String> {
    let on = match tail {
        [] => return Some(rule(freq, interval, "")),
        ["on", rest @ ..] => rest,
        _ => return None,
    };
    match freq {
        Freq::Daily => None,
        Freq::Weekly => weekday_list(on).map(|by| rule(freq, interval, &by)),
        Freq::Monthly => {
            let on = match on {
                ["the", rest @ ..] => rest,
                rest => rest,
            };
            match on {
                ["last", "day"] => Some(rule(freq, interval, "BYMONTHDAY=-1")),
                ["day", d] => month_days(&[*d], true).map(|by| rule(freq, interval, &by)),
                [nth, day] if nth_word(nth).is_some() && weekday_from_word(day).is_some() => {
                    let n = nth_word(nth)?;
                    let d = weekday_code(weekday_from_word(day)?);
                    Some(rule(freq, interval, &format!("BYDAY={n}{d}")))
                }
                days => month_days(days, true).map(|by| rule(freq, interval, &by)),
            }
        }
        Freq::Yearly => {
            let (month, day) = match on {
                [m, d] | [d, m] | ["the", d, "of", m] | [d, "of", m]
                    if month_from_word(m).is_some() =>
                {
                    (month_from_word(m)?, ordinal_day(d, true)?)
                }
                _ => return None,
            };
            let by = month_and_day(month, day)?;
            Some(rule(freq, interval, &by))
        }
    }
}

/// `BYMONTH=m;BYMONTHDAY=d` if some year has that date (Feb 29 recurs in
/// leap years only).
fn month_and_day(month: u32, day: u32) -> Option<String> {
    NaiveDate::from_ymd_opt(2024, month, day)?;
    Some(format!("BYMONTH={month};BYMONTHDAY={day}"))
}

fn weekday_list(words: &[&str]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    let mut days: Vec<Weekday> = words
        .iter()
        .map(|w| weekday_from_word(w))
        .collect::<Option<_>>()?;
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    let codes: Vec<&str> = days.into_iter().map(weekday_code).collect();
    Some(format!("BYDAY={}", codes.join(",")))
}

fn month_days(words: &[&str], bare_ok: bool) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    let mut days: Vec<u32> = words
        .iter()
        .map(|w| ordinal_day(w, bare_ok))
        .collect::<Option<_>>()?;
    days.sort_unstable();
    days.dedup();
    let list: Vec<String> = days.iter().map(u32::to_string).collect();
    Some(format!("BYMONTHDAY={}", list.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn rule_of(p: &str) -> Option<String> {
        Recurrence::from_phrase(p).map(|r| r.as_str().to_string())
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap()
    }

    fn berlin(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, m, day, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn r(s: &str) -> Recurrence {
        Recurrence::parse(s).unwrap()
    }

    #[test]
    fn phrases_daily_weekly_monthly_yearly() {
        for p in [
            "every day",
            "daily",
            "Every Day",
            "DAILY",
            "each day",
            "every 1 day",
        ] {
            assert_eq!(rule_of(p).as_deref(), Some("FREQ=DAILY"), "{p}");
        }
        for p in ["every week", "weekly", "Every Week"] {
            assert_eq!(rule_of(p).as_deref(), Some("FREQ=WEEKLY"), "{p}");
        }
        for p in ["every month", "monthly"] {
            assert_eq!(rule_of(p).as_deref(), Some("FREQ=MONTHLY"), "{p}");
        }
        for p in ["every year", "yearly", "annually"] {
            assert_eq!(rule_of(p).as_deref(), Some("FREQ=YEARLY"), "{p}");
        }
    }

    #[test]
    fn phrases_with_intervals() {
        assert_eq!(
            rule_of("every 3 days").as_deref(),
            Some("FREQ=DAILY;INTERVAL=3")
        );
        assert_eq!(
            rule_of("every other day").as_deref(),
            Some("FREQ=DAILY;INTERVAL=2")
        );
        assert_eq!(
            rule_of("every 2 weeks").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2")
        );
        assert_eq!(
            rule_of("every two weeks").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2")
        );
        assert_eq!(
            rule_of("every other week").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2")
        );
        assert_eq!(
            rule_of("every 2 months").as_deref(),
            Some("FREQ=MONTHLY;INTERVAL=2")
        );
        assert_eq!(
            rule_of("every 5 years").as_deref(),
            Some("FREQ=YEARLY;INTERVAL=5")
        );
    }

    #[test]
    fn phrases_with_weekdays() {
        assert_eq!(
            rule_of("every weekday").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
        );
        assert_eq!(
            rule_of("every workday").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
        );
        assert_eq!(
            rule_of("every weekend").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=SA,SU")
        );
        assert_eq!(
            rule_of("every monday").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO")
        );
        assert_eq!(
            rule_of("Every Mon").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO")
        );
        assert_eq!(
            rule_of("every mon, wed and fri").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,WE,FR")
        );
        assert_eq!(
            rule_of("every monday and thursday").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,TH")
        );
        assert_eq!(
            rule_of("every fri & tue").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=TU,FR")
        );
        assert_eq!(
            rule_of("every other monday").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO")
        );
        assert_eq!(
            rule_of("every 2 weeks on mon and thu").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH")
        );
        assert_eq!(
            rule_of("weekly on fridays").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=FR")
        );
    }

    #[test]
    fn phrases_with_month_days() {
        assert_eq!(
            rule_of("every 15th").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=15")
        );
        assert_eq!(
            rule_of("every month on the 15th").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=15")
        );
        assert_eq!(
            rule_of("every 15th of the month").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=15")
        );
        assert_eq!(
            rule_of("monthly on the 1st and 15th").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=1,15")
        );
        assert_eq!(
            rule_of("every 2 months on the 3rd").as_deref(),
            Some("FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=3")
        );
        assert_eq!(
            rule_of("every last day of the month").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=-1")
        );
        assert_eq!(
            rule_of("every month on the last day").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=-1")
        );
        assert_eq!(
            rule_of("every first monday").as_deref(),
            Some("FREQ=MONTHLY;BYDAY=1MO")
        );
        assert_eq!(
            rule_of("every last friday of the month").as_deref(),
            Some("FREQ=MONTHLY;BYDAY=-1FR")
        );
        assert_eq!(
            rule_of("every dec 25").as_deref(),
            Some("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25")
        );
        assert_eq!(
            rule_of("every year on 1st april").as_deref(),
            Some("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=1")
        );
        assert_eq!(rule_of("every feb 30"), None);
        assert_eq!(rule_of("every 32nd"), None);
    }

    #[test]
    fn non_recurrence_phrases_are_none() {
        for p in [
            "",
            "every",
            "every drawer",
            "buy milk",
            "every day at 9am",
            "daily standup",
            "every 0 days",
            "every hour",
            "every 9999 days",
            "weekly on the 15th",
            "every 💥",
        ] {
            assert_eq!(rule_of(p), None, "{p}");
        }
    }

    #[test]
    fn serde_shape_is_a_plain_string() {
        let r = Recurrence::from_phrase("every monday").unwrap();
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "\"FREQ=WEEKLY;BYDAY=MO\""
        );
        let back: Recurrence = serde_json::from_str("\"FREQ=WEEKLY;BYDAY=MO\"").unwrap();
        assert_eq!(back, r);
        assert!(serde_json::from_str::<Recurrence>("\"FREQ=SOMETIMES\"").is_err());
    }

    #[test]
    fn next_daily_completed_on_time() {
        let due = Due::date(d(2026, 11, 23));
        let (next, rule) = r("FREQ=DAILY")
            .next(&due, berlin(2026, 11, 23, 15, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next, Due::date(d(2026, 11, 24)));
        assert_eq!(rule.as_str(), "FREQ=DAILY");
    }

    #[test]
    fn next_weekly_on_monday() {
        // 2026-11-23 is a Monday.
        let due = Due {
            date: d(2026, 11, 23),
            time: Some(t(9, 0)),
            tz: Some("Europe/Berlin".into()),
        };
        let (next, _) = r("FREQ=WEEKLY;BYDAY=MO")
            .next(&due, berlin(2026, 11, 23, 8, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 30));
        assert_eq!(next.time, Some(t(9, 0)));
        assert_eq!(next.tz.as_deref(), Some("Europe/Berlin"));
    }

    #[test]
    fn next_every_two_weeks() {
        let due = Due::date(d(2026, 11, 25)); // Wednesday
        let (next, _) = r("FREQ=WEEKLY;INTERVAL=2")
            .next(&due, berlin(2026, 11, 25, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 12, 9));
    }

    #[test]
    fn next_monthly_on_the_31st_skips_short_months() {
        let due = Due::date(d(2026, 1, 31));
        let rule = r("FREQ=MONTHLY;BYMONTHDAY=31");
        let (next, _) = rule
            .next(&due, berlin(2026, 1, 31, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        // February has no 31st: RFC 5545 skips it.
        assert_eq!(next.date, d(2026, 3, 31));
        let (next, _) = rule
            .next(&next, berlin(2026, 3, 31, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 5, 31));
        // And the plain monthly rule started on the 31st does the same.
        let (next, _) = r("FREQ=MONTHLY")
            .next(&due, berlin(2026, 1, 31, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 3, 31));
        // The last day of the month does not skip.
        let (next, _) = r("FREQ=MONTHLY;BYMONTHDAY=-1")
            .next(&due, berlin(2026, 1, 31, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 2, 28));
    }

    #[test]
    fn next_for_an_overdue_task_lands_after_today() {
        // Daily, due five days ago, completed today: next is tomorrow.
        let due = Due::date(d(2026, 11, 18));
        let (next, _) = r("FREQ=DAILY")
            .next(&due, berlin(2026, 11, 23, 10, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 24));

        // Timed daily task, overdue since this morning: tomorrow, same time.
        let due = Due {
            date: d(2026, 11, 23),
            time: Some(t(8, 0)),
            tz: None,
        };
        let (next, _) = r("FREQ=DAILY")
            .next(&due, berlin(2026, 11, 23, 10, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!((next.date, next.time), (d(2026, 11, 24), Some(t(8, 0))));

        // Weekly on Monday, two weeks overdue, completed on a Monday.
        let due = Due::date(d(2026, 11, 9));
        let (next, _) = r("FREQ=WEEKLY;BYDAY=MO")
            .next(&due, berlin(2026, 11, 23, 10, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 30));
    }

    #[test]
    fn next_for_a_task_completed_early() {
        // Due Friday, done on Monday: next is the Friday after.
        let due = Due::date(d(2026, 11, 27));
        let (next, _) = r("FREQ=WEEKLY;BYDAY=FR")
            .next(&due, berlin(2026, 11, 23, 10, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 12, 4));

        // Daily, due tonight at 18:00, done this morning: tomorrow 18:00.
        let due = Due {
            date: d(2026, 11, 23),
            time: Some(t(18, 0)),
            tz: Some("Europe/Berlin".into()),
        };
        let (next, _) = r("FREQ=DAILY")
            .next(&due, berlin(2026, 11, 23, 9, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!((next.date, next.time), (d(2026, 11, 24), Some(t(18, 0))));
    }

    #[test]
    fn next_counts_down_and_ends() {
        let due = Due::date(d(2026, 11, 23));
        let done = berlin(2026, 11, 23, 12, 0);
        let (next, rule) = r("FREQ=DAILY;COUNT=3")
            .next(&due, done, Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 24));
        assert_eq!(rule.as_str(), "FREQ=DAILY;COUNT=2");
        let (next, rule) = rule
            .next(&next, berlin(2026, 11, 24, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 25));
        assert_eq!(rule.as_str(), "FREQ=DAILY;COUNT=1");
        assert_eq!(
            rule.next(&next, berlin(2026, 11, 25, 12, 0), Berlin)
                .unwrap(),
            None
        );

        // Overdue: skipped occurrences are used up too.
        let (next, rule) = r("FREQ=DAILY;COUNT=10")
            .next(&Due::date(d(2026, 11, 18)), done, Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 24));
        assert_eq!(rule.as_str(), "FREQ=DAILY;COUNT=4");
        // ... and may use all of them up.
        assert_eq!(
            r("FREQ=DAILY;COUNT=3")
                .next(&Due::date(d(2026, 11, 18)), done, Berlin)
                .unwrap(),
            None
        );
    }

    #[test]
    fn next_respects_until() {
        let rule = r("FREQ=WEEKLY;UNTIL=20261206T120000Z");
        let due = Due::date(d(2026, 11, 23));
        let (next, same) = rule
            .next(&due, berlin(2026, 11, 23, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 30));
        assert_eq!(same, rule);
        // The next one, 2026-12-07 00:00 Berlin, is after UNTIL.
        assert_eq!(
            rule.next(&next, berlin(2026, 11, 30, 12, 0), Berlin)
                .unwrap(),
            None
        );

        // A date-only UNTIL includes that day.
        let rule = r("FREQ=DAILY;UNTIL=20261124");
        let (next, _) = rule
            .next(&due, berlin(2026, 11, 23, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 11, 24));
        assert_eq!(
            rule.next(&next, berlin(2026, 11, 24, 12, 0), Berlin)
                .unwrap(),
            None
        );

        // UNTIL already before the due: nothing more.
        assert_eq!(
            r("FREQ=DAILY;UNTIL=20200101T000000Z")
                .next(&due, berlin(2026, 11, 23, 12, 0), Berlin)
                .unwrap(),
            None
        );
    }

    #[test]
    fn next_keeps_wall_time_across_dst() {
        // Berlin leaves summer time on 2026-10-25.
        let due = Due {
            date: d(2026, 10, 24),
            time: Some(t(9, 0)),
            tz: Some("Europe/Berlin".into()),
        };
        let (next, _) = r("FREQ=DAILY")
            .next(&due, utc(2026, 10, 24, 6, 0), chrono_tz::UTC)
            .unwrap()
            .unwrap();
        assert_eq!(next.date, d(2026, 10, 25));
        assert_eq!(next.time, Some(t(9, 0)));
        assert_eq!(next.tz.as_deref(), Some("Europe/Berlin"));
        // 09:00 is 07:00 UTC in summer and 08:00 UTC in winter.
        let instant = |due: &Due| {
            Berlin
                .from_local_datetime(&due.date.and_time(due.time.unwrap()))
                .single()
                .unwrap()
                .with_timezone(&Utc)
        };
        assert_eq!(instant(&due), utc(2026, 10, 24, 7, 0));
        assert_eq!(instant(&next), utc(2026, 10, 25, 8, 0));

        // Into summer time (2026-03-29), weekly.
        let due = Due {
            date: d(2026, 3, 23),
            time: Some(t(9, 0)),
            tz: Some("Europe/Berlin".into()),
        };
        let (next, _) = r("FREQ=WEEKLY")
            .next(&due, berlin(2026, 3, 23, 9, 30), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!((next.date, next.time), (d(2026, 3, 30), Some(t(9, 0))));

        // A due inside the spring-forward gap still works.
        let due = Due {
            date: d(2026, 3, 29),
            time: Some(t(2, 30)),
            tz: Some("Europe/Berlin".into()),
        };
        let (next, _) = r("FREQ=DAILY")
            .next(&due, berlin(2026, 3, 29, 12, 0), Berlin)
            .unwrap()
            .unwrap();
        assert_eq!((next.date, next.time), (d(2026, 3, 30), Some(t(2, 30))));
    }

    #[test]
    fn next_reports_errors_instead_of_panicking() {
        let due = Due {
            date: d(2026, 11, 23),
            time: None,
            tz: Some("Mars/Olympus".into()),
        };
        assert!(matches!(
            r("FREQ=DAILY").next(&due, utc(2026, 11, 23, 0, 0), Berlin),
            Err(RecurrenceError::BadTimeZone(_))
        ));
        let due = Due::date(d(2026, 11, 23));
        let now = utc(2026, 11, 23, 12, 0);
        // Never matches: no 30th of February.
        assert!(r("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
            .next(&due, now, Berlin)
            .is_err());
        assert!(r("FREQ=DAILY;INTERVAL=0").next(&due, now, Berlin).is_err());
        assert!(Recurrence("FREQ=DAILY;UNTIL=garbage".into())
            .next(&due, now, Berlin)
            .is_err());
        assert!(Recurrence("FREQ=DAILY;COUNT=x".into())
            .next(&due, now, Berlin)
            .is_err());
        // Far-away dates do not panic.
        let far = Due::date(NaiveDate::MAX);
        assert!(r("FREQ=DAILY").next(&far, now, Berlin).is_err());
        let early = Due::date(NaiveDate::MIN);
        assert!(r("FREQ=DAILY").next(&early, now, Berlin).is_err());
        let old = Due::date(d(1, 1, 1));
        let _ = r("FREQ=SECONDLY").next(&old, now, Berlin);
        let _ = r("FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU").next(&due, now, Berlin);
        let _ = r("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU").next(&due, now, Berlin);
    }

    fn any_rule() -> impl proptest::strategy::Strategy<Value = Recurrence> {
        use proptest::prelude::*;
        let bodies = prop_oneof![
            Just("FREQ=DAILY"),
            Just("FREQ=DAILY;INTERVAL=3"),
            Just("FREQ=WEEKLY"),
            Just("FREQ=WEEKLY;BYDAY=MO,WE,FR"),
            Just("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU"),
            Just("FREQ=MONTHLY"),
            Just("FREQ=MONTHLY;BYMONTHDAY=31"),
            Just("FREQ=MONTHLY;BYMONTHDAY=-1"),
            Just("FREQ=MONTHLY;BYDAY=-1FR"),
            Just("FREQ=YEARLY"),
            Just("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"),
            Just("FREQ=HOURLY;INTERVAL=5"),
        ];
        let ends = prop_oneof![
            Just(String::new()),
            (1u32..5).prop_map(|c| format!(";COUNT={c}")),
            (2000i32..2040).prop_map(|y| format!(";UNTIL={y}0601T000000Z")),
            (2000i32..2040).prop_map(|y| format!(";UNTIL={y}0601")),
        ];
        (bodies, ends).prop_map(|(b, e)| Recurrence::parse(&format!("{b}{e}")).unwrap())
    }

    proptest::proptest! {
        #[test]
        fn next_never_panics_and_moves_forward(
            rule in any_rule(),
            day in 0i64..(365 * 60),
            minutes in proptest::option::of(0u32..(24 * 60)),
            tz in proptest::sample::select(vec![None, Some("Europe/Berlin"), Some("America/New_York"), Some("Australia/Lord_Howe")]),
            done_offset_hours in -2_000i64..20_000,
        ) {
            let date = d(1995, 1, 1) + Duration::days(day);
            let time = minutes.map(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap());
            let due = Due { date, time, tz: tz.map(str::to_string) };
            let done = Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN))
                + Duration::hours(done_offset_hours);
            let local = chrono_tz::Asia::Kolkata;
            if let Ok(Some((next, _))) = rule.next(&due, done, local) {
                proptest::prop_assert!((next.date, next.time) > (due.date, due.time));
                proptest::prop_assert_eq!(&next.tz, &due.tz);
                if !rule.as_str().starts_with("FREQ=HOURLY") {
                    proptest::prop_assert_eq!(next.time, due.time);
                }
                let done_day = done.with_timezone(&local).date_naive();
                if time.is_none() && done_day > due.date {
                    proptest::prop_assert!(next.date > done_day);
                }
            }
        }
    }

    #[test]
    fn first_on_or_after_picks_the_first_matching_day() {
        // Monday 2026-11-23.
        let today = Due::date(d(2026, 11, 23));
        let first =
            |rule: &str, start: &Due| r(rule).first_on_or_after(start, Berlin).unwrap().unwrap();
        assert_eq!(first("FREQ=WEEKLY;BYDAY=MO", &today).date, d(2026, 11, 23));
        assert_eq!(first("FREQ=WEEKLY;BYDAY=FR", &today).date, d(2026, 11, 27));
        assert_eq!(
            first("FREQ=MONTHLY;BYMONTHDAY=15", &today).date,
            d(2026, 12, 15)
        );
        assert_eq!(first("FREQ=DAILY", &today).date, d(2026, 11, 23));
        assert_eq!(
            first("FREQ=WEEKLY;BYDAY=SA,SU", &today).date,
            d(2026, 11, 28)
        );
        let timed = Due {
            date: d(2026, 11, 24),
            time: Some(t(9, 0)),
            tz: Some("Europe/Berlin".into()),
        };
        let got = first("FREQ=WEEKLY;BYDAY=WE", &timed);
        assert_eq!((got.date, got.time), (d(2026, 11, 25), Some(t(9, 0))));
    }
}
