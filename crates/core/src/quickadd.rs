//! Quick-add grammar: one line of text into a task.
//!
//! ```text
//! Pay rent tomorrow 9am #home @bills !1
//! Standup every weekday at 9:30 #work
//! Call mom on friday at 5pm p2
//! ```
//!
//! The line is split on whitespace; then, in this order:
//!
//! - **List** — `#name` (case kept; trailing `,;.:!?` dropped) or
//!   `#"two words"`. At most one list: a second, different `#list` is an
//!   error (so nothing typed is silently dropped). `#` followed by digits
//!   only (`#123`) is not a list and stays in the title; so does a lone `#`.
//! - **Tags** — `@tag`, any number, normalised with
//!   [`normalize_tag`] (no `@`, case kept).
//!   A lone `@` stays in the title (and reads as "at" before a time).
//! - **Priority** — `!1` (most urgent) … `!4` (least), or Todoist-style
//!   `p1` … `p4`. `!` followed by other digits (`!0`, `!7`) is an error;
//!   `!` followed by anything else (`!important`, a lone `!`) stays in the
//!   title. Two different priorities are an error.
//! - **Escapes** — a word that starts with `\` is taken literally, without
//!   the backslash: `\#1`, `\@home`, `\!1`, `\p1`, `\tomorrow`,
//!   `\every day`. Escaped words also break up date and repeat phrases.
//! - **Recurrence** — an `every …` (or `each …`) phrase anywhere
//!   ("every monday", "every 2 weeks", "every other day", "every 15th", …,
//!   see [`Recurrence::from_phrase`]), or `daily`/`weekly`/`monthly`/
//!   `yearly` after the first word when it ends the line or is followed by
//!   a time or a connector such as `at`/`on` ("Water plants daily",
//!   "Stretch daily at 7am", but not "Daily standup" or "Write weekly
//!   report"). The first one found is used. Without an explicit date the
//!   first due date is the rule's first occurrence from today on (today
//!   counts; with a time that has already passed today, from tomorrow on).
//! - **Due date** — natural language, evaluated with the `interim` crate
//!   (US dialect: "next friday" is the coming Friday): `today`,
//!   `tomorrow` (`tmr`, `tmrw`), `tonight` (today 19:00), weekday names
//!   (`friday`, `next fri`, `this monday`; on the day itself a bare weekday
//!   means next week's unless a later time today is given),
//!   `next week|month|year`,
//!   `in 3 days|weeks|months|years`, `in 2 hours|30 minutes` (a time),
//!   `dec 1`, `1 december`, `dec 1, 2026` (a month and day without a year
//!   is the next such date, today included), `2026-12-01`, `12/1`,
//!   `12/1/2026` (month first), each optionally followed by a time
//!   (`9am`, `5:30pm`, `5 pm`, `18:00`, `noon`, `midnight`, with optional
//!   `at`/`@`), or a time alone (`at 18:00`, `9am`: today if still ahead,
//!   else tomorrow). The phrase may start with `on`, `by`, `due` or
//!   `starting`, which is removed with it.
//!   To keep titles intact, words only count as a date in these shapes:
//!   a month name needs a day (`Call May` is a title), a lone number is
//!   never a date, a bare 24-hour time (`John 3:16`) needs `at`, the
//!   abbreviations `wed`/`sat`/`sun` need a connector (`on sat`) or a
//!   time, `12/1` without a year needs a connector, a time or the end of
//!   the line, and a capitalised weekday followed by a capitalised word
//!   (`Watch Friday Night Lights`) is a name. Only one date phrase is
//!   taken: the one that ends the line if any, else the longest
//!   (the last of equals); other date-like words stay in the title.
//!   A date-shaped phrase that is not a real date (`feb 30`, `2026-13-01`)
//!   is an error. A due with a time carries `now`'s zone; a date-only due
//!   has neither time nor zone.
//! - **Title** — the remaining words joined by single spaces, with
//!   trailing `,;:-` removed. Empty → [`QuickAddError::EmptyTitle`].
//!
//! [`parse_due`] reads text that is only a date (a `--due` option).
//! Neither function panics, whatever the input.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday,
};

use crate::domain::{normalize_tag, Due, Priority};
use crate::recurrence::{
    could_continue_phrase, month_from_word, ordinal_day, weekday_from_word, Recurrence,
};

/// What a quick-add line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickAdd {
    pub title: String,
    /// The list's name as typed (without `#`); the caller resolves it.
    pub list: Option<String>,
    pub tags: BTreeSet<String>,
    pub priority: Priority,
    pub due: Option<Due>,
    pub recurrence: Option<Recurrence>,
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum QuickAddError {
    #[error("a task needs a title: everything typed was read as list, tags, priority or date (start a word with \\ to keep it in the title)")]
    EmptyTitle,
    #[error("`{0}`: priority is !1 (most urgent) to !4")]
    BadPriority(String),
    #[error("two priorities given, `{0}` and `{1}`: use one of !1 (most urgent) to !4")]
    MultiplePriorities(String, String),
    #[error(
        "two lists given, `#{0}` and `#{1}`: a task is in one list (write \\# for a literal #)"
    )]
    MultipleLists(String, String),
    #[error("list name `#\"{0}` has no closing quote: write #\"two words\"")]
    UnclosedListName(String),
    #[error("`{0}` is not a valid date")]
    InvalidDate(String),
    #[error("`{0}` is not a date I understand (try e.g. tomorrow 9am, fri, next week, in 3 days, dec 1, 2026-12-01)")]
    NotADate(String),
}

/// Parses a quick-add line; relative dates are relative to `now`, in its
/// zone. See the module documentation for the grammar.
pub fn parse(input: &str, now: DateTime<chrono_tz::Tz>) -> Result<QuickAdd, QuickAddError> {
    let Tokens {
        mut items,
        list,
        tags,
        priority,
    } = tokenize(input)?;

    let recurrence = take_recurrence(&mut items);

    let words: Vec<Word> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| !it.consumed)
        .map(|(idx, it)| Word {
            idx,
            lower: if it.literal {
                String::new()
            } else {
                clean(&it.text).to_lowercase()
            },
            capitalised: it.text.chars().next().is_some_and(char::is_uppercase),
            literal: it.literal,
        })
        .collect();

    let mut due = None;
    if let Some(m) = best_date(&words) {
        let text: Vec<&str> = (m.start..m.end)
            .map(|k| items[words[k].idx].text.as_str())
            .collect();
        let text = text.join(" ");
        due = evaluate(&m, now, recurrence.as_ref(), &text)?;
        for w in &words[m.start..m.end] {
            items[w.idx].consumed = true;
        }
    }
    if due.is_none() {
        if let Some(rule) = &recurrence {
            due = first_due(rule, None, now);
        }
    }

    let title = items
        .iter()
        .filter(|it| !it.consumed)
        .map(|it| it.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let title = title
        .trim_end_matches(|c: char| {
            matches!(c, ',' | ';' | ':' | '-' | '–' | '—') || c.is_whitespace()
        })
        .to_string();
    if title.is_empty() {
        return Err(QuickAddError::EmptyTitle);
    }

    Ok(QuickAdd {
        title,
        list,
        tags,
        priority: priority.map(|(p, _)| p).unwrap_or(Priority::NONE),
        due,
        recurrence,
    })
}

/// Parses text that is only a due date ("tomorrow 9am", "fri", "dec 1",
/// "in 3 days", "at 18:00"), e.g. a `--due` option, with the same rules
/// as the date part of [`parse`]. Here a lone `sat` or `12/1` or `18:00`
/// is a date, since nothing else is expected.
pub fn parse_due(text: &str, now: DateTime<chrono_tz::Tz>) -> Result<Due, QuickAddError> {
    let words: Vec<Word> = text
        .split_whitespace()
        .enumerate()
        .map(|(idx, w)| Word {
            idx,
            lower: clean(w).to_lowercase(),
            capitalised: false,
            literal: false,
        })
        .collect();
    let shown = || {
        let t = text.trim();
        if t.chars().count() > 60 {
            t.chars().take(60).chain(['…']).collect()
        } else {
            t.to_string()
        }
    };
    match match_at(&words, 0, true) {
        Some(m) if m.end == words.len() => {
            evaluate(&m, now, None, text.trim())?.ok_or_else(|| QuickAddError::NotADate(shown()))
        }
        _ => Err(QuickAddError::NotADate(shown())),
    }
}

// ---------------------------------------------------------------------------
// Tokens: lists, tags, priorities, escapes
// ---------------------------------------------------------------------------

struct Item {
    /// As typed (escapes resolved).
    text: String,
    /// Escaped: never part of a date or recurrence.
    literal: bool,
    /// Taken by a date or recurrence phrase.
    consumed: bool,
}

struct Tokens {
    items: Vec<Item>,
    list: Option<String>,
    tags: BTreeSet<String>,
    priority: Option<(Priority, String)>,
}

const TRAILING_PUNCT: [char; 6] = [',', ';', '.', ':', '!', '?'];

/// A word without trailing punctuation, for matching.
fn clean(s: &str) -> &str {
    s.trim_end_matches(TRAILING_PUNCT)
}

fn tokenize(input: &str) -> Result<Tokens, QuickAddError> {
    let raw: Vec<&str> = input.split_whitespace().collect();
    let mut out = Tokens {
        items: Vec::new(),
        list: None,
        tags: BTreeSet::new(),
        priority: None,
    };
    let word = |text: &str, literal: bool| Item {
        text: text.to_string(),
        literal,
        consumed: false,
    };
    let mut i = 0;
    while i < raw.len() {
        let tok = raw[i];
        i += 1;

        if let Some(rest) = tok.strip_prefix('\\') {
            if !rest.is_empty() {
                out.items.push(word(rest, true));
                continue;
            }
        }

        if let Some(rest) = tok.strip_prefix("#\"") {
            // #"two words"
            let mut parts = vec![rest];
            while !parts.last().is_some_and(|p| clean(p).ends_with('"')) {
                if i >= raw.len() {
                    let typed = parts.join(" ");
                    let shown: String = if typed.chars().count() > 40 {
                        typed.chars().take(40).chain(['…']).collect()
                    } else {
                        typed
                    };
                    return Err(QuickAddError::UnclosedListName(shown));
                }
                parts.push(raw[i]);
                i += 1;
            }
            let joined = parts.join(" ");
            let name = clean(&joined).strip_suffix('"').unwrap_or_default().trim();
            if name.is_empty() {
                out.items.push(word(tok, false));
            } else {
                set_list(&mut out.list, name)?;
            }
            continue;
        }

        if let Some(rest) = tok.strip_prefix('#') {
            let name = clean(rest);
            if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) {
                out.items.push(word(tok, false));
            } else {
                set_list(&mut out.list, name)?;
            }
            continue;
        }

        if let Some(rest) = tok.strip_prefix('@') {
            match normalize_tag(clean(rest)) {
                Ok(tag) => {
                    out.tags.insert(tag);
                }
                Err(_) => out.items.push(word(tok, false)),
            }
            continue;
        }

        if let Some(rest) = tok.strip_prefix('!') {
            let digits = clean(rest);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let p = digits
                    .parse::<u8>()
                    .ok()
                    .filter(|p| (1..=4).contains(p))
                    .and_then(|p| Priority::new(p).ok())
                    .ok_or_else(|| QuickAddError::BadPriority(tok.to_string()))?;
                set_priority(&mut out.priority, p, tok)?;
            } else {
                out.items.push(word(tok, false));
            }
            continue;
        }

        let bare = clean(tok);
        if bare.len() == 2 && matches!(bare.as_bytes(), [b'p' | b'P', b'1'..=b'4']) {
            let p = Priority::new(bare.as_bytes()[1] - b'0')
                .map_err(|_| QuickAddError::BadPriority(tok.to_string()))?;
            set_priority(&mut out.priority, p, tok)?;
            continue;
        }

        out.items.push(word(tok, false));
    }
    Ok(out)
}

fn set_list(list: &mut Option<String>, name: &str) -> Result<(), QuickAddError> {
    match list {
        Some(prev) if prev != name => {
            Err(QuickAddError::MultipleLists(prev.clone(), name.to_string()))
        }
        _ => {
            *list = Some(name.to_string());
            Ok(())
        }
    }
}

fn set_priority(
    current: &mut Option<(Priority, String)>,
    p: Priority,
    tok: &str,
) -> Result<(), QuickAddError> {
    match current {
        Some((prev, prev_tok)) if *prev != p => Err(QuickAddError::MultiplePriorities(
            prev_tok.clone(),
            tok.to_string(),
        )),
        _ => {
            *current = Some((p, tok.to_string()));
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------
// Recurrence phrases
// ---------------------------------------------------------------------------

/// The longest phrase a recurrence can span, in words.
const MAX_RECURRENCE_WORDS: usize = 12;

const CONNECTORS: [&str; 6] = ["on", "by", "due", "at", "starting", "@"];

fn take_recurrence(items: &mut [Item]) -> Option<Recurrence> {
    let n = items.len();
    for i in 0..n {
        if items[i].literal {
            continue;
        }
        let first = clean(&items[i].text).to_lowercase();
        let bare_freq = matches!(
            first.as_str(),
            "daily" | "weekly" | "monthly" | "yearly" | "annually"
        );
        if !(first == "every" || first == "each" || bare_freq) {
            continue;
        }
        if bare_freq && i == 0 {
            continue;
        }
        // Only words the phrase grammar knows can extend the span, and a
        // new "every" starts a new phrase.
        let max_end = phrase_reach(items, i);
        for end in (i + 1..=max_end).rev() {
            if bare_freq && end < n {
                let next = clean(&items[end].text).to_lowercase();
                let ok = !items[end].literal
                    && (CONNECTORS.contains(&next.as_str())
                        || next.starts_with(|c: char| c.is_ascii_digit())
                        || matches!(next.as_str(), "noon" | "midnight"));
                if !ok {
                    continue;
                }
            }
            let phrase: Vec<&str> = items[i..end].iter().map(|it| it.text.as_str()).collect();
            if let Some(rule) = Recurrence::from_phrase(&phrase.join(" ")) {
                for it in &mut items[i..end] {
                    it.consumed = true;
                }
                return Some(rule);
            }
        }
    }
    None
}

/// How far a recurrence phrase starting at `i` can reach: only words the
/// phrase grammar knows extend it, and another "every" starts a new phrase
/// (except in "… of every month").
fn phrase_reach(items: &[Item], i: usize) -> usize {
    let limit = items.len().min(i + MAX_RECURRENCE_WORDS);
    let mut end = i + 1;
    while end < limit && !items[end].literal {
        let w = clean(&items[end].text).to_lowercase();
        let prev = clean(&items[end - 1].text).to_lowercase();
        let new_phrase = (w == "every" || w == "each") && prev != "of";
        if new_phrase || !could_continue_phrase(&w) {
            break;
        }
        end += 1;
    }
    end
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

struct Word {
    /// Index into the items.
    idx: usize,
    /// Lowercase, without trailing punctuation; empty for literals.
    lower: String,
    capitalised: bool,
    literal: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Day {
    Today,
    Tomorrow,
    Tonight,
    /// `friday`, `next friday`, `this fri`.
    Weekday(Weekday),
    /// `next week|month|year`.
    NextUnit(&'static str),
    /// `in N days|weeks|months|years`.
    In(u32, &'static str),
    /// `in N hours|minutes`: a moment, not a day.
    InMinutes(i64),
    /// `dec 1`, `1st december 2026`.
    Named {
        month: u32,
        day: u32,
        year: Option<i32>,
    },
    /// `2026-12-01`.
    Iso {
        year: i32,
        month: u32,
        day: u32,
    },
    /// `12/1`, `12/1/2026`.
    Slash {
        month: u32,
        day: u32,
        year: Option<i32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Support {
    /// Stands on its own.
    Any,
    /// Needs a connector before it or a time with it (`on sat`).
    ConnectorOrTime,
    /// Also fine at the end of the line (`12/1`).
    ConnectorTimeOrEnd,
}

struct DayMatch {
    day: Day,
    end: usize,
    support: Support,
    /// A weekday alone, without next/this.
    bare_weekday: bool,
}

struct TimeMatch {
    time: NaiveTime,
    end: usize,
    /// am/pm, noon or midnight: unmistakably a time.
    clear: bool,
}

#[derive(Debug)]
struct DateMatch {
    start: usize,
    end: usize,
    day: Option<Day>,
    time: Option<NaiveTime>,
}

/// The word at `k` for matching (`None` past the end and for escaped words).
fn word_at(words: &[Word], k: usize) -> Option<&str> {
    words
        .get(k)
        .filter(|w| !w.literal)
        .map(|w| w.lower.as_str())
}

fn best_date(words: &[Word]) -> Option<DateMatch> {
    let n = words.len();
    let mut best: Option<DateMatch> = None;
    for i in 0..n {
        let Some(m) = match_at(words, i, false) else {
            continue;
        };
        if m.end == n {
            // The earliest start that reaches the end is the longest such.
            return Some(m);
        }
        if best
            .as_ref()
            .is_none_or(|b| m.end - m.start >= b.end - b.start)
        {
            best = Some(m);
        }
    }
    best
}

/// The date phrase starting at `start`, if any. `standalone`: the text is
/// expected to be nothing but a date, so weak forms need no support.
fn match_at(words: &[Word], start: usize, standalone: bool) -> Option<DateMatch> {
    let w = |k: usize| word_at(words, k);
    let mut k = start;
    let mut connector = false;
    while k < start + 2 && w(k).is_some_and(|x| CONNECTORS.contains(&x)) {
        connector = true;
        k += 1;
    }
    let after_at = standalone || (connector && matches!(w(k.wrapping_sub(1)), Some("at" | "@")));
    let connector = connector || standalone;

    if let Some(dm) = day_at(words, k) {
        let mut end = dm.end;
        let mut time = None;
        if !matches!(dm.day, Day::InMinutes(_)) {
            let mut t = end;
            if matches!(w(t), Some("at" | "@")) {
                t += 1;
            }
            if let Some(tm) = time_at(words, t) {
                time = Some(tm.time);
                end = tm.end;
            }
        }
        let at_end = end == words.len();
        let supported = match dm.support {
            Support::Any => true,
            Support::ConnectorOrTime => connector || time.is_some(),
            Support::ConnectorTimeOrEnd => connector || time.is_some() || at_end,
        };
        if !supported {
            return None;
        }
        if dm.bare_weekday && !connector && time.is_none() && words[k].capitalised {
            // "Watch Friday Night Lights": a name, not a date.
            if words.get(dm.end).is_some_and(|next| next.capitalised) {
                return None;
            }
        }
        return Some(DateMatch {
            start,
            end,
            day: Some(dm.day),
            time,
        });
    }

    let tm = time_at(words, k)?;
    if !(tm.clear || after_at) {
        return None;
    }
    let mut end = tm.end;
    let mut day = None;
    let mut d = end;
    if w(d) == Some("on") {
        d += 1;
    }
    if let Some(dm) = day_at(words, d) {
        if !matches!(dm.day, Day::InMinutes(_)) {
            day = Some(dm.day);
            end = dm.end;
        }
    }
    Some(DateMatch {
        start,
        end,
        day,
        time: Some(tm.time),
    })
}

fn day_at(words: &[Word], k: usize) -> Option<DayMatch> {
    let w = |k: usize| word_at(words, k);
    let one = |day: Day| {
        Some(DayMatch {
            day,
            end: k + 1,
            support: Support::Any,
            bare_weekday: false,
        })
    };
    let first = w(k)?;
    match first {
        "today" => return one(Day::Today),
        "tomorrow" | "tmrw" | "tmr" => return one(Day::Tomorrow),
        "tonight" => return one(Day::Tonight),
        "next" | "this" => {
            let second = w(k + 1)?;
            if let Some(d) = weekday_word(second) {
                return Some(DayMatch {
                    day: Day::Weekday(d),
                    end: k + 2,
                    support: Support::Any,
                    bare_weekday: false,
                });
            }
            if first == "next" {
                let unit = match second {
                    "week" => "week",
                    "month" => "month",
                    "year" => "year",
                    _ => return None,
                };
                return Some(DayMatch {
                    day: Day::NextUnit(unit),
                    end: k + 2,
                    support: Support::Any,
                    bare_weekday: false,
                });
            }
            return None;
        }
        "in" => return in_phrase(words, k),
        _ => {}
    }
    if let Some(d) = weekday_word(first) {
        let weak = matches!(first, "wed" | "sat" | "sun");
        return Some(DayMatch {
            day: Day::Weekday(d),
            end: k + 1,
            support: if weak {
                Support::ConnectorOrTime
            } else {
                Support::Any
            },
            bare_weekday: true,
        });
    }
    // dec 1 [2026] / 1st december [2026]
    let month_day = match (w(k), w(k + 1)) {
        (Some(a), Some(b)) => match (month_from_word(a), month_from_word(b)) {
            (Some(m), _) => ordinal_day(b, true).map(|d| (m, d)),
            (None, Some(m)) => ordinal_day(a, true).map(|d| (m, d)),
            _ => None,
        },
        _ => None,
    };
    if let Some((month, day)) = month_day {
        let year = w(k + 2).and_then(four_digit_year);
        return Some(DayMatch {
            day: Day::Named { month, day, year },
            end: k + 2 + usize::from(year.is_some()),
            support: Support::Any,
            bare_weekday: false,
        });
    }
    if let Some((year, month, day)) = iso_date(first) {
        return one(Day::Iso { year, month, day });
    }
    if let Some((month, day, year)) = slash_date(first) {
        return Some(DayMatch {
            day: Day::Slash { month, day, year },
            end: k + 1,
            support: if year.is_some() {
                Support::Any
            } else {
                Support::ConnectorTimeOrEnd
            },
            bare_weekday: false,
        });
    }
    None
}

/// Weekday names for dates: not plurals ("fridays" is not a date).
fn weekday_word(w: &str) -> Option<Weekday> {
    if w.ends_with('s') && !matches!(w, "tues" | "thurs" | "weds") {
        return None;
    }
    weekday_from_word(w)
}

/// `in 3 days`, `in a week`, `in 2h`, `in 30 min`.
fn in_phrase(words: &[Word], k: usize) -> Option<DayMatch> {
    let w = |k: usize| word_at(words, k);
    let amount = w(k + 1)?;
    let (n, unit, end) = match count(amount) {
        Some(n) => (n, w(k + 2)?, k + 3),
        None => {
            // compact: 3d, 2w, 30min
            let split = amount
                .find(|c: char| !c.is_ascii_digit())
                .filter(|&s| s > 0)?;
            let (digits, unit) = amount.split_at(split);
            (count(digits)?, unit, k + 2)
        }
    };
    let day = match unit {
        "d" | "day" | "days" => Day::In(n, "days"),
        "w" | "wk" | "wks" | "week" | "weeks" => Day::In(n, "weeks"),
        "mo" | "month" | "months" => Day::In(n, "months"),
        "y" | "yr" | "yrs" | "year" | "years" => Day::In(n, "years"),
        "h" | "hr" | "hrs" | "hour" | "hours" => Day::InMinutes(i64::from(n) * 60),
        "m" | "min" | "mins" | "minute" | "minutes" => Day::InMinutes(i64::from(n)),
        _ => return None,
    };
    Some(DayMatch {
        day,
        end,
        support: Support::Any,
        bare_weekday: false,
    })
}

fn count(w: &str) -> Option<u32> {
    match w {
        "a" | "an" | "one" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "four" => Some(4),
        "five" => Some(5),
        "six" => Some(6),
        "seven" => Some(7),
        "eight" => Some(8),
        "nine" => Some(9),
        "ten" => Some(10),
        _ if !w.is_empty() && w.len() <= 4 && w.bytes().all(|b| b.is_ascii_digit()) => {
            w.parse().ok().filter(|&n| n >= 1)
        }
        _ => None,
    }
}

fn four_digit_year(w: &str) -> Option<i32> {
    (w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
        .then(|| w.parse().ok())
        .flatten()
}

fn small_number(s: &str, max_len: usize) -> Option<u32> {
    (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `2026-12-01` (not checked for validity here: `2026-02-30` is a date
/// phrase that is wrong, reported as such).
fn iso_date(w: &str) -> Option<(i32, u32, u32)> {
    let mut parts = w.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Some((
        four_digit_year(y)?,
        small_number(m, 2)?,
        small_number(d, 2)?,
    ))
}

/// `12/1`, `12/1/26`, `12/1/2026` (month first).
fn slash_date(w: &str) -> Option<(u32, u32, Option<i32>)> {
    let mut parts = w.split('/');
    let (m, d) = (parts.next()?, parts.next()?);
    let y = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let month = small_number(m, 2).filter(|m| (1..=12).contains(m))?;
    let day = small_number(d, 2).filter(|d| (1..=31).contains(d))?;
    let year = match y {
        None => None,
        Some(y) if y.len() == 2 => Some(2000 + i32::try_from(small_number(y, 2)?).ok()?),
        Some(y) => Some(four_digit_year(y)?),
    };
    Some((month, day, year))
}

/// `9am`, `9 am`, `5:30pm`, `5.30 p.m.`, `18:00`, `noon`, `midnight`.
fn time_at(words: &[Word], k: usize) -> Option<TimeMatch> {
    let w = |k: usize| word_at(words, k);
    let first = w(k)?;
    match first {
        "noon" | "midday" => {
            return Some(TimeMatch {
                time: NaiveTime::from_hms_opt(12, 0, 0)?,
                end: k + 1,
                clear: true,
            })
        }
        "midnight" => {
            return Some(TimeMatch {
                time: NaiveTime::MIN,
                end: k + 1,
                clear: true,
            })
        }
        _ => {}
    }
    let meridiem = |s: &str| match s {
        "am" | "a.m" | "a.m." => Some(false),
        "pm" | "p.m" | "p.m." => Some(true),
        _ => None,
    };
    let digits_end = first
        .find(|c: char| !c.is_ascii_digit() && c != ':' && c != '.')
        .unwrap_or(first.len());
    let (clock, suffix) = first.split_at(digits_end);
    let (pm, end) = if suffix.is_empty() {
        match w(k + 1).and_then(meridiem) {
            Some(pm) => (Some(pm), k + 2),
            None => (None, k + 1),
        }
    } else {
        (Some(meridiem(suffix)?), k + 1)
    };
    let (hour, minute, sep) = match clock.find([':', '.']) {
        Some(i) => {
            let (h, m) = clock.split_at(i);
            let m = &m[1..];
            if m.len() != 2 {
                return None;
            }
            (small_number(h, 2)?, small_number(m, 2)?, true)
        }
        None => (small_number(clock, 2)?, 0, false),
    };
    if minute > 59 {
        return None;
    }
    let hour = match pm {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return None;
            }
            match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, false) => h,
                (h, true) => h + 12,
            }
        }
        // 24-hour clock needs hh:mm (a lone number is not a time; hh.mm
        // without am/pm looks like a price).
        None if sep && clock.contains(':') && hour <= 23 => hour,
        None => return None,
    };
    Some(TimeMatch {
        time: NaiveTime::from_hms_opt(hour, minute, 0)?,
        end,
        clear: pm.is_some(),
    })
}

const TONIGHT: (u32, u32) = (19, 0);

/// The due date a match stands for, relative to `now`.
fn evaluate(
    m: &DateMatch,
    now: DateTime<chrono_tz::Tz>,
    recurrence: Option<&Recurrence>,
    text: &str,
) -> Result<Option<Due>, QuickAddError> {
    let invalid = || QuickAddError::InvalidDate(text.to_string());
    let local = now.naive_local();
    let tz_name = now.timezone().name().to_string();
    let timed = |date: NaiveDate, time: NaiveTime| Due {
        date,
        time: Some(time),
        tz: Some(tz_name.clone()),
    };

    let Some(day) = &m.day else {
        // A time alone.
        let time = m.time.ok_or_else(invalid)?;
        if let Some(rule) = recurrence {
            return Ok(first_due(rule, Some(time), now));
        }
        let date = if time > local.time() {
            local.date()
        } else {
            local.date().succ_opt().ok_or_else(invalid)?
        };
        return Ok(Some(timed(date, time)));
    };

    if let Day::InMinutes(minutes) = day {
        let at = now
            .checked_add_signed(Duration::try_minutes(*minutes).ok_or_else(invalid)?)
            .ok_or_else(invalid)?
            .naive_local();
        let time = at
            .time()
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .ok_or_else(invalid)?;
        return check_year(timed(at.date(), time))
            .ok_or_else(invalid)
            .map(Some);
    }

    let mut time = m.time;
    let spec = match day {
        Day::Today => "today".to_string(),
        Day::Tomorrow => "tomorrow".to_string(),
        Day::Tonight => {
            time = time.or(NaiveTime::from_hms_opt(TONIGHT.0, TONIGHT.1, 0));
            "today".to_string()
        }
        Day::Weekday(d) => weekday_name(*d).to_string(),
        Day::NextUnit(unit) => format!("next {unit}"),
        Day::In(n, unit) => format!("{n} {unit}"),
        Day::InMinutes(_) => return Err(invalid()),
        Day::Named { month, day, year } => {
            let y = year.or_else(|| next_year_with(*month, *day, local.date()));
            match y {
                Some(y) => format!("{} {day}, {y}", month_abbrev(*month)),
                None => return Err(invalid()),
            }
        }
        Day::Iso { year, month, day } => format!("{year}-{month:02}-{day:02}"),
        Day::Slash { month, day, year } => {
            match year.or_else(|| next_year_with(*month, *day, local.date())) {
                Some(y) => format!("{month}/{day}/{y}"),
                None => return Err(invalid()),
            }
        }
    };
    let spec = match time {
        Some(t) => format!("{spec} {:02}:{:02}", t.hour(), t.minute()),
        None => spec,
    };
    // Evaluate on the wall clock (as if `now` were UTC) so that no local
    // time can fall into a daylight-saving gap; the zone goes into the Due.
    let base = Utc.from_utc_datetime(&local);
    let at = interim::parse_date_string(&spec, base, interim::Dialect::Us)
        .map_err(|_| invalid())?
        .naive_utc();
    let due = match time {
        Some(t) => timed(at.date(), t),
        None => Due::date(at.date()),
    };
    check_year(due).ok_or_else(invalid).map(Some)
}

/// The year of the next `month`/`day` on or after `today` (Feb 29 looks
/// ahead to the next leap year); `None` if there is no such date.
fn next_year_with(month: u32, day: u32, today: NaiveDate) -> Option<i32> {
    (today.year()..=today.year().saturating_add(8))
        .find(|&y| NaiveDate::from_ymd_opt(y, month, day).is_some_and(|date| date >= today))
}

fn check_year(due: Due) -> Option<Due> {
    (1..=9999).contains(&due.date.year()).then_some(due)
}

/// The first occurrence of a new recurring task: from today on (from
/// tomorrow on when `time` has already passed today).
fn first_due(
    rule: &Recurrence,
    time: Option<NaiveTime>,
    now: DateTime<chrono_tz::Tz>,
) -> Option<Due> {
    let local = now.naive_local();
    let mut date = local.date();
    if time.is_some_and(|t| t <= local.time()) {
        date = date.succ_opt()?;
    }
    let start = Due {
        date,
        time,
        tz: time.map(|_| now.timezone().name().to_string()),
    };
    rule.first_on_or_after(&start, now.timezone())
        .ok()
        .flatten()
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn month_abbrev(m: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    NAMES
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("jan")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;
    use proptest::prelude::*;

    /// Monday 2026-11-23 10:00 in Berlin.
    fn now() -> DateTime<chrono_tz::Tz> {
        Berlin.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
    }

    fn qa(s: &str) -> QuickAdd {
        parse(s, now()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn date_only(y: i32, m: u32, day: u32) -> Option<Due> {
        Some(Due::date(d(y, m, day)))
    }

    fn at(y: i32, m: u32, day: u32, h: u32, min: u32) -> Option<Due> {
        Some(Due {
            date: d(y, m, day),
            time: Some(NaiveTime::from_hms_opt(h, min, 0).unwrap()),
            tz: Some("Europe/Berlin".into()),
        })
    }

    fn tags(t: &[&str]) -> BTreeSet<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_example_from_the_issue() {
        let q = qa("Pay rent tomorrow 9am #home !1");
        assert_eq!(q.title, "Pay rent");
        assert_eq!(q.list.as_deref(), Some("home"));
        assert_eq!(q.priority, Priority::new(1).unwrap());
        assert_eq!(q.due, at(2026, 11, 24, 9, 0));
        assert!(q.tags.is_empty());
        assert_eq!(q.recurrence, None);
    }

    #[test]
    fn plain_title() {
        let q = qa("  Buy   milk  ");
        assert_eq!(q.title, "Buy milk");
        assert_eq!(q.list, None);
        assert_eq!(q.priority, Priority::NONE);
        assert_eq!(q.due, None);
    }

    #[test]
    fn lists() {
        assert_eq!(qa("Fix the sink #Home").list.as_deref(), Some("Home"));
        let q = qa("Plan trip #\"Family stuff\" tomorrow");
        assert_eq!(q.list.as_deref(), Some("Family stuff"));
        assert_eq!(q.title, "Plan trip");
        assert_eq!(qa("Plan #\"Family\" now").list.as_deref(), Some("Family"));
        assert_eq!(qa("Plan #two_words").list.as_deref(), Some("two_words"));
        assert_eq!(qa("Same list twice #a #a").list.as_deref(), Some("a"));
        assert_eq!(qa("Trailing comma #work, ok").list.as_deref(), Some("work"));
        assert_eq!(
            parse("Two lists #a #b", now()),
            Err(QuickAddError::MultipleLists("a".into(), "b".into()))
        );
        assert_eq!(
            parse("Unclosed #\"two words", now()),
            Err(QuickAddError::UnclosedListName("two words".into()))
        );
        // Not lists.
        let q = qa("Fix bug #123 # now");
        assert_eq!((q.title.as_str(), q.list), ("Fix bug #123 # now", None));
        let q = qa("Use \\#hashtag #work");
        assert_eq!(q.title, "Use #hashtag");
        assert_eq!(q.list.as_deref(), Some("work"));
    }

    #[test]
    fn tags_are_normalised_and_collected() {
        let q = qa("Call Bob @phone @Work @phone @errands,");
        assert_eq!(q.title, "Call Bob");
        assert_eq!(q.tags, tags(&["Work", "errands", "phone"]));
        let q = qa("Email bob@example.com @ home \\@literal");
        assert_eq!(q.title, "Email bob@example.com @ home @literal");
        assert!(q.tags.is_empty());
    }

    #[test]
    fn priorities() {
        for (s, p) in [
            ("a !1", 1),
            ("a !4", 4),
            ("a p2", 2),
            ("a P3", 3),
            ("a !2!", 2),
        ] {
            assert_eq!(qa(s).priority, Priority::new(p).unwrap(), "{s}");
            assert_eq!(qa(s).title, "a");
        }
        assert_eq!(qa("a !1 !1").priority, Priority::new(1).unwrap());
        assert_eq!(qa("a !1 p1").priority, Priority::new(1).unwrap());
        for bad in ["!7", "!0", "!5", "!99999999999999999999"] {
            assert_eq!(
                parse(&format!("Task {bad}"), now()),
                Err(QuickAddError::BadPriority(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            QuickAddError::BadPriority("!7".into()).to_string(),
            "`!7`: priority is !1 (most urgent) to !4"
        );
        assert_eq!(
            parse("Task !1 p3", now()),
            Err(QuickAddError::MultiplePriorities("!1".into(), "p3".into()))
        );
        // Not priorities.
        let q = qa("Wow! ! !important p5 \\!1 \\p1");
        assert_eq!(q.title, "Wow! ! !important p5 !1 p1");
        assert_eq!(q.priority, Priority::NONE);
    }

    #[test]
    fn empty_title_is_an_error() {
        for s in [
            "",
            "   ",
            "#home",
            "@a @b !2",
            "tomorrow 9am",
            "#home tomorrow",
            "every day",
        ] {
            assert_eq!(parse(s, now()), Err(QuickAddError::EmptyTitle), "{s:?}");
        }
    }

    #[test]
    fn relative_days() {
        assert_eq!(qa("Call mom today").due, date_only(2026, 11, 23));
        assert_eq!(qa("Call mom tomorrow").due, date_only(2026, 11, 24));
        assert_eq!(qa("Call mom Tomorrow.").due, date_only(2026, 11, 24));
        assert_eq!(qa("Call mom in 3 days").due, date_only(2026, 11, 26));
        assert_eq!(qa("Call mom in 2 weeks").due, date_only(2026, 12, 7));
        assert_eq!(qa("Call mom in a week").due, date_only(2026, 11, 30));
        assert_eq!(qa("Call mom in 1 month").due, date_only(2026, 12, 23));
        assert_eq!(qa("Call mom in 3d").due, date_only(2026, 11, 26));
        assert_eq!(qa("Call mom next week").due, date_only(2026, 11, 30));
        assert_eq!(qa("Call mom next month").due, date_only(2026, 12, 23));
        assert_eq!(qa("Call mom next year").due, date_only(2027, 11, 23));
        assert_eq!(qa("Call mom in 2 hours").due, at(2026, 11, 23, 12, 0));
        assert_eq!(qa("Call mom in 90 min").due, at(2026, 11, 23, 11, 30));
        assert_eq!(qa("Call mom tonight").due, at(2026, 11, 23, 19, 0));
        assert_eq!(qa("Call mom tonight at 9pm").due, at(2026, 11, 23, 21, 0));
        assert_eq!(qa("Call mom in 3 days").title, "Call mom");
    }

    #[test]
    fn weekdays() {
        // now is a Monday.
        assert_eq!(qa("Report friday").due, date_only(2026, 11, 27));
        assert_eq!(qa("Report next friday").due, date_only(2026, 11, 27));
        assert_eq!(qa("Report this fri").due, date_only(2026, 11, 27));
        assert_eq!(qa("Report on Friday").due, date_only(2026, 11, 27));
        assert_eq!(qa("Report friday 5pm").due, at(2026, 11, 27, 17, 0));
        assert_eq!(qa("Report tue").due, date_only(2026, 11, 24));
        assert_eq!(qa("Report sunday").due, date_only(2026, 11, 29));
        // A bare weekday on that day is next week's, unless a later time is given.
        assert_eq!(qa("Report monday").due, date_only(2026, 11, 30));
        assert_eq!(qa("Report monday 5pm").due, at(2026, 11, 23, 17, 0));
        assert_eq!(qa("Report friday 5pm").title, "Report");
    }

    #[test]
    fn times() {
        assert_eq!(qa("Standup tomorrow 9am").due, at(2026, 11, 24, 9, 0));
        assert_eq!(
            qa("Standup tomorrow at 9:30am").due,
            at(2026, 11, 24, 9, 30)
        );
        assert_eq!(qa("Standup tomorrow at 9 am").due, at(2026, 11, 24, 9, 0));
        assert_eq!(
            qa("Standup tomorrow @ 5.30 p.m.").due,
            at(2026, 11, 24, 17, 30)
        );
        assert_eq!(qa("Dinner today at 18:00").due, at(2026, 11, 23, 18, 0));
        assert_eq!(qa("Lunch tomorrow noon").due, at(2026, 11, 24, 12, 0));
        assert_eq!(
            qa("Deploy tomorrow at midnight").due,
            at(2026, 11, 24, 0, 0)
        );
        assert_eq!(qa("Lunch 12pm").due, at(2026, 11, 23, 12, 0));
        assert_eq!(qa("Wake 12am").due, at(2026, 11, 24, 0, 0));
        // A time alone: today if still ahead, else tomorrow.
        assert_eq!(qa("Call Bob at 5pm").due, at(2026, 11, 23, 17, 0));
        assert_eq!(qa("Call Bob 9am").due, at(2026, 11, 24, 9, 0));
        assert_eq!(qa("Call Bob at 18:00").due, at(2026, 11, 23, 18, 0));
        // Time first, then the day.
        assert_eq!(qa("Call Bob at 5pm on friday").due, at(2026, 11, 27, 17, 0));
        assert_eq!(qa("Call Bob 5pm tomorrow").due, at(2026, 11, 24, 17, 0));
        assert_eq!(qa("Call Bob at 5pm on friday").title, "Call Bob");
    }

    #[test]
    fn absolute_dates() {
        assert_eq!(qa("Renew passport 2026-12-01").due, date_only(2026, 12, 1));
        assert_eq!(qa("Renew passport dec 1").due, date_only(2026, 12, 1));
        assert_eq!(
            qa("Renew passport December 1st").due,
            date_only(2026, 12, 1)
        );
        assert_eq!(qa("Renew passport 1 dec").due, date_only(2026, 12, 1));
        assert_eq!(
            qa("Renew passport on dec 1, 2027").due,
            date_only(2027, 12, 1)
        );
        assert_eq!(
            qa("Renew passport dec 1 2027 10am").due,
            at(2027, 12, 1, 10, 0)
        );
        // Month-day in the past this year means next year; today counts.
        assert_eq!(qa("Renew passport jan 5").due, date_only(2027, 1, 5));
        assert_eq!(qa("Renew passport nov 23").due, date_only(2026, 11, 23));
        assert_eq!(qa("Leap party Feb 29").due, date_only(2028, 2, 29));
        assert_eq!(qa("Leap party on 2/29").due, date_only(2028, 2, 29));
        assert_eq!(qa("Renew passport 12/24").due, date_only(2026, 12, 24));
        assert_eq!(qa("Renew passport 1/2/2027").due, date_only(2027, 1, 2));
        assert_eq!(qa("Renew passport by 3/1/27").due, date_only(2027, 3, 1));
        assert_eq!(
            qa("Renew passport 2026-12-01 at 14:15").due,
            at(2026, 12, 1, 14, 15)
        );
        assert_eq!(qa("Renew passport by dec 1").title, "Renew passport");
        for bad in [
            "Renew feb 30",
            "Renew 2026-02-30",
            "Renew 2026-13-01",
            "Renew 2/30",
        ] {
            assert!(
                matches!(parse(bad, now()), Err(QuickAddError::InvalidDate(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_due_takes_only_a_date() {
        let due = |s: &str| parse_due(s, now());
        assert_eq!(due("tomorrow 9am"), Ok(at(2026, 11, 24, 9, 0).unwrap()));
        assert_eq!(due("sat"), Ok(Due::date(d(2026, 11, 28))));
        assert_eq!(due("18:00"), Ok(at(2026, 11, 23, 18, 0).unwrap()));
        assert_eq!(due("12/1"), Ok(Due::date(d(2026, 12, 1))));
        assert_eq!(due(" on Friday "), Ok(Due::date(d(2026, 11, 27))));
        assert_eq!(due("in 3 days"), Ok(Due::date(d(2026, 11, 26))));
        assert_eq!(due("2026-12-01 14:00"), Ok(at(2026, 12, 1, 14, 0).unwrap()));
        for bad in ["", "banana", "tomorrow and more", "every monday", "#home"] {
            assert!(
                matches!(due(bad), Err(QuickAddError::NotADate(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(due("feb 30"), Err(QuickAddError::InvalidDate(_))));
    }

    #[test]
    fn dates_anywhere_in_the_line() {
        let q = qa("Meet Bob tomorrow at 5pm about the budget");
        assert_eq!(q.title, "Meet Bob about the budget");
        assert_eq!(q.due, at(2026, 11, 24, 17, 0));
        let q = qa("Tomorrow call the bank");
        assert_eq!(q.title, "call the bank");
        assert_eq!(q.due, date_only(2026, 11, 24));
        // The one at the end wins; the other stays in the title.
        let q = qa("Watch Friday Night Lights tomorrow");
        assert_eq!(q.title, "Watch Friday Night Lights");
        assert_eq!(q.due, date_only(2026, 11, 24));
        let q = qa("Call mom, tomorrow");
        assert_eq!(q.title, "Call mom");
    }

    #[test]
    fn titles_that_are_not_dates() {
        for s in [
            "Call May",
            "Buy a second monitor",
            "Buy 2 apples",
            "Read 1984",
            "Watch Friday Night Lights",
            "Go out in the sun",
            "Wed Anna and Tom",
            "Read John 3:16",
            "Pay 9.99 for the app",
            "Log in",
            "Thank God it's fridays",
            "Buy 1/2 lb of butter",
            "Fix Today's build",
            "Daily standup",
            "Write weekly report",
            "Check every drawer",
            "Next steps",
            "Put 3 days in calendar",
        ] {
            let q = qa(s);
            assert_eq!(q.title, s, "{s}");
            assert_eq!(q.due, None, "{s}");
            assert_eq!(q.recurrence, None, "{s}");
        }
        // Escapes keep a date word in the title.
        let q = qa("Watch \\Tomorrow Never Dies");
        assert_eq!(q.title, "Watch Tomorrow Never Dies");
        assert_eq!(q.due, None);
    }

    #[test]
    fn recurrence_phrases() {
        let rule = |s: &str| qa(s).recurrence.map(|r| r.as_str().to_string());
        assert_eq!(rule("Stretch every day").as_deref(), Some("FREQ=DAILY"));
        assert_eq!(rule("Stretch daily").as_deref(), Some("FREQ=DAILY"));
        assert_eq!(
            rule("Standup every weekday at 9:30").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")
        );
        assert_eq!(
            rule("Gym every mon, wed and fri").as_deref(),
            Some("FREQ=WEEKLY;BYDAY=MO,WE,FR")
        );
        assert_eq!(
            rule("Backup every 2 weeks").as_deref(),
            Some("FREQ=WEEKLY;INTERVAL=2")
        );
        assert_eq!(
            rule("Pay rent every month on the 1st #home").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=1")
        );
        assert_eq!(
            rule("Rent every 1st of every month").as_deref(),
            Some("FREQ=MONTHLY;BYMONTHDAY=1")
        );
        assert_eq!(qa("Rent every 1st of every month").title, "Rent");
        assert_eq!(qa("Floss every day every day").title, "Floss every day");
        assert_eq!(
            qa("Pay rent every month on the 1st #home").title,
            "Pay rent"
        );
        assert_eq!(
            qa("Pay rent every month on the 1st #home").list.as_deref(),
            Some("home")
        );
    }

    #[test]
    fn recurrence_sets_the_first_due() {
        // now: Monday 2026-11-23 10:00.
        let q = qa("Team sync every monday");
        assert_eq!(q.title, "Team sync");
        assert_eq!(q.recurrence.unwrap().as_str(), "FREQ=WEEKLY;BYDAY=MO");
        assert_eq!(q.due, date_only(2026, 11, 23));
        assert_eq!(qa("Team sync every friday").due, date_only(2026, 11, 27));
        assert_eq!(qa("Stretch every day").due, date_only(2026, 11, 23));
        assert_eq!(qa("Rent every 15th").due, date_only(2026, 12, 15));
        assert_eq!(qa("Chill every weekend").due, date_only(2026, 11, 28));
        // With a time: today's has passed, so from tomorrow on.
        assert_eq!(
            qa("Standup every weekday at 9:30").due,
            at(2026, 11, 24, 9, 30)
        );
        assert_eq!(qa("Standup every day at 11am").due, at(2026, 11, 23, 11, 0));
        assert_eq!(qa("Team sync every monday 9am").due, at(2026, 11, 30, 9, 0));
        assert_eq!(qa("Stretch daily at 7am").due, at(2026, 11, 24, 7, 0));
        // An explicit date starts the series.
        let q = qa("Water plants every 3 days starting dec 1");
        assert_eq!(q.title, "Water plants");
        assert_eq!(q.recurrence.unwrap().as_str(), "FREQ=DAILY;INTERVAL=3");
        assert_eq!(q.due, date_only(2026, 12, 1));
        let q = qa("Every day tomorrow 8am floss");
        assert_eq!(q.title, "floss");
        assert_eq!(q.due, at(2026, 11, 24, 8, 0));
    }

    #[test]
    fn everything_together() {
        let q = qa("Prepare slides @work @deep p2 next friday at 3pm #\"Big Project\"");
        assert_eq!(q.title, "Prepare slides");
        assert_eq!(q.list.as_deref(), Some("Big Project"));
        assert_eq!(q.tags, tags(&["deep", "work"]));
        assert_eq!(q.priority, Priority::new(2).unwrap());
        assert_eq!(q.due, at(2026, 11, 27, 15, 0));
        // Tags between date words do not break the date.
        let q = qa("Call tomorrow @phone 9am");
        assert_eq!((q.title.as_str(), q.due), ("Call", at(2026, 11, 24, 9, 0)));
    }

    #[test]
    fn due_zone_follows_now() {
        let ny = chrono_tz::America::New_York
            .with_ymd_and_hms(2026, 3, 7, 22, 0, 0)
            .unwrap();
        let q = parse("Call tomorrow 2:30am", ny).unwrap();
        // 2026-03-08 02:30 does not exist in New York (clocks jump to 03:00):
        // the wall-clock time is kept as typed, with the zone.
        assert_eq!(
            q.due,
            Some(Due {
                date: d(2026, 3, 8),
                time: NaiveTime::from_hms_opt(2, 30, 0),
                tz: Some("America/New_York".into()),
            })
        );
        // Date-only dues are floating.
        assert_eq!(
            parse("Call tomorrow", ny).unwrap().due,
            date_only(2026, 3, 8)
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for s in [
            "#",
            "@",
            "!",
            "\\",
            "#\"",
            "#\"\"",
            "!!",
            "!-1",
            "@@",
            "##",
            "#\"a\" #\"a\"",
            "💥 tomorrow",
            "tomorrow 💥",
            "in",
            "in 99999 days x",
            "in 9999 years x",
            "in 9999 hours x",
            "x at",
            "x on",
            "x next",
            "x 99:99",
            "x 25:00",
            "x 13pm",
            "x 0am",
            "x 12/32",
            "x 00/00",
            "x 0000-00-00",
            "x 9999-12-31",
            "x dec 31 9999 11pm",
            "x every",
            "x every every every",
            "x daily daily",
            "ÄÖÜ ß İstanbul tomorrow",
            "x \u{0} tomorrow \u{202e}",
            "x TOMORROW 9AM",
            "x tomorrow 9abcdefghijklmnopqrstuvwxyz",
            "x 9:5pm",
            "x 9::00",
            "x 1:234",
            "x 12:00:00",
            "x p0 P5 p",
        ] {
            let _ = parse(s, now());
        }
        assert_eq!(qa("x TOMORROW 9AM").due, at(2026, 11, 24, 9, 0));
        let big = "word tomorrow #l @t !1 every day ".repeat(5_000);
        let _ = parse(&big, now());
    }

    fn grammar_word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("#home".to_string()),
            Just("#\"two words\"".to_string()),
            Just("@tag".to_string()),
            Just("!1".to_string()),
            Just("!7".to_string()),
            Just("p2".to_string()),
            Just("\\#".to_string()),
            Just("tomorrow".to_string()),
            Just("9am".to_string()),
            Just("at".to_string()),
            Just("on".to_string()),
            Just("every".to_string()),
            Just("day".to_string()),
            Just("monday".to_string()),
            Just("and".to_string()),
            Just("in".to_string()),
            Just("3".to_string()),
            Just("days".to_string()),
            Just("dec".to_string()),
            Just("31st".to_string()),
            Just("2026-02-29".to_string()),
            Just("12/31".to_string()),
            Just("noon".to_string()),
            Just("#".to_string()),
            Just("@".to_string()),
            Just("!".to_string()),
            Just("\"".to_string()),
            "[a-zA-Z0-9#@!:/.,\\\\\"-]{0,8}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn quick_add_never_panics(s in any::<String>()) {
            let _ = parse(&s, now());
            let _ = parse_due(&s, now());
        }

        #[test]
        fn quick_add_never_panics_on_grammar_soup(words in prop::collection::vec(grammar_word(), 0..16)) {
            let _ = parse(&words.join(" "), now());
            let _ = parse_due(&words.join(" "), now());
        }

        #[test]
        fn tokens_never_leak_into_the_title(
            title in prop::collection::vec("[a-z]{3,8}", 1..6),
            tag_names in prop::collection::vec("[a-zA-Z][a-zA-Z0-9_]{0,6}", 0..4),
            list in prop::option::of("[a-zA-Z][a-zA-Z0-9_]{0,6}"),
            priority in prop::option::of(1u8..=4),
            p_style in any::<bool>(),
            seed in any::<u64>(),
        ) {
            // Words that are themselves grammar would (rightly) be taken.
            let reserved = [
                "today", "tomorrow", "tonight", "tmr", "tmrw", "next", "this", "every", "each",
                "daily", "weekly", "monthly", "yearly", "annually", "noon", "midday", "midnight",
                "in", "on", "at", "by", "due", "starting",
            ];
            prop_assume!(title.iter().all(|w| !reserved.contains(&w.as_str())
                && weekday_from_word(w).is_none()
                && month_from_word(w).is_none()));
            let mut tokens: Vec<String> = Vec::new();
            tokens.extend(tag_names.iter().map(|t| format!("@{t}")));
            if let Some(l) = &list {
                tokens.push(format!("#{l}"));
            }
            if let Some(p) = priority {
                tokens.push(if p_style { format!("p{p}") } else { format!("!{p}") });
            }
            // Interleave the tokens into the title deterministically from the seed.
            let mut words: Vec<String> = title.clone();
            let mut s = seed;
            for t in tokens {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let pos = (s >> 33) as usize % (words.len() + 1);
                words.insert(pos, t);
            }
            let q = parse(&words.join(" "), now()).unwrap();
            prop_assert_eq!(q.title, title.join(" "));
            prop_assert_eq!(q.list, list);
            prop_assert_eq!(q.tags, tag_names.iter().cloned().collect::<BTreeSet<_>>());
            prop_assert_eq!(q.priority, Priority::new(priority.unwrap_or(0)).unwrap());
            prop_assert_eq!(q.due, None);
        }
    }
}
