//! Recurrence rules in words ("every other Monday", "every month on the
//! 15th"), for front ends that show a rule next to a task. The inverse of
//! [`Recurrence::from_phrase`] for the rules phrases make; any other rule
//! is still described, down to its raw RRULE parts when nothing better
//! fits, so a label never hides what a rule does.

use crate::recurrence::Recurrence;

const WEEKDAYS: [(&str, &str, &str); 7] = [
    ("MO", "Monday", "Mon"),
    ("TU", "Tuesday", "Tue"),
    ("WE", "Wednesday", "Wed"),
    ("TH", "Thursday", "Thu"),
    ("FR", "Friday", "Fri"),
    ("SA", "Saturday", "Sat"),
    ("SU", "Sunday", "Sun"),
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[derive(Default)]
struct Parts<'a> {
    freq: Option<&'a str>,
    interval: u32,
    byday: Vec<&'a str>,
    bymonthday: Vec<i32>,
    bymonth: Vec<u32>,
    count: Option<&'a str>,
    until: Option<&'a str>,
    /// Parts this module does not put into words.
    other: Vec<&'a str>,
}

fn parts(rule: &str) -> Parts<'_> {
    let mut p = Parts {
        interval: 1,
        ..Parts::default()
    };
    for part in rule.split(';').filter(|s| !s.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            p.other.push(part);
            continue;
        };
        let list = || v.split(',').filter(|s| !s.is_empty());
        match k {
            "FREQ" => p.freq = Some(v),
            "INTERVAL" => match v.parse() {
                Ok(n) => p.interval = n,
                Err(_) => p.other.push(part),
            },
            "BYDAY" => p.byday = list().collect(),
            "BYMONTHDAY" => match list().map(str::parse).collect::<Result<Vec<i32>, _>>() {
                Ok(v) => p.bymonthday = v,
                Err(_) => p.other.push(part),
            },
            "BYMONTH" => match list().map(str::parse).collect::<Result<Vec<u32>, _>>() {
                Ok(v) if v.iter().all(|m| (1..=12).contains(m)) => p.bymonth = v,
                _ => p.other.push(part),
            },
            "COUNT" => p.count = Some(v),
            "UNTIL" => p.until = Some(v),
            "WKST" => {}
            _ => p.other.push(part),
        }
    }
    p
}

fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// 15 → 15th (days of the month).
fn ordinal(n: i32) -> String {
    match n {
        -1 => "last day".into(),
        n if n < 0 => format!("{} to last day", ordinal(-n)),
        n => {
            let suffix = match (n % 10, n % 100) {
                (_, 11..=13) => "th",
                (1, _) => "st",
                (2, _) => "nd",
                (3, _) => "rd",
                _ => "th",
            };
            format!("{n}{suffix}")
        }
    }
}

fn ordinal_word(n: i32) -> String {
    match n {
        1 => "first".into(),
        2 => "second".into(),
        3 => "third".into(),
        4 => "fourth".into(),
        5 => "fifth".into(),
        -1 => "last".into(),
        n if n < 0 => format!("{} to last", ordinal_word(-n)),
        n => ordinal(n),
    }
}

/// `MO` → Monday; `1MO` → first Monday; `-1FR` → last Friday.
fn weekday(code: &str, short: bool) -> Option<String> {
    let split = code.len().checked_sub(2)?;
    let (n, day) = code.split_at(split);
    let &(_, long, abbr) = WEEKDAYS.iter().find(|(c, _, _)| *c == day)?;
    let name = if short { abbr } else { long };
    if n.is_empty() {
        return Some(name.to_string());
    }
    let n: i32 = n.trim_start_matches('+').parse().ok()?;
    Some(format!("{} {long}", ordinal_word(n)))
}

fn every(interval: u32, one: &str, many: &str) -> String {
    match interval {
        1 => format!("every {one}"),
        2 => format!("every other {one}"),
        n => format!("every {n} {many}"),
    }
}

impl Recurrence {
    /// The rule in English, e.g. `every Mon, Wed and Fri`.
    pub fn label(&self) -> String {
        let p = parts(self.as_str());
        let days: Option<Vec<String>> = {
            let short = p.byday.len() > 2;
            p.byday.iter().map(|d| weekday(d, short)).collect()
        };
        let plain_days = p.byday.iter().all(|d| d.len() == 2);
        let body = match (p.freq, days) {
            (_, None) => None,
            (Some("DAILY"), Some(d)) if d.is_empty() => Some(every(p.interval, "day", "days")),
            (Some("WEEKLY"), Some(d)) => {
                let set: Vec<&str> = p.byday.clone();
                if set == ["MO", "TU", "WE", "TH", "FR"] && p.interval == 1 {
                    Some("every weekday".into())
                } else if set == ["SA", "SU"] && p.interval == 1 {
                    Some("every weekend".into())
                } else if d.is_empty() {
                    Some(every(p.interval, "week", "weeks"))
                } else if !plain_days {
                    None
                } else if p.interval <= 2 {
                    Some(format!("{} {}", every(p.interval, "", ""), join(&d)).replace("  ", " "))
                } else {
                    Some(format!("every {} weeks on {}", p.interval, join(&d)))
                }
            }
            (Some("MONTHLY"), Some(d)) => {
                let base = every(p.interval, "month", "months");
                match (d.is_empty(), p.bymonthday.is_empty()) {
                    (true, true) => Some(base),
                    (true, false) => {
                        let dates: Vec<String> = p.bymonthday.iter().map(|&n| ordinal(n)).collect();
                        Some(format!("{base} on the {}", join(&dates)))
                    }
                    (false, true) if !plain_days => Some(format!("{base} on the {}", join(&d))),
                    _ => None,
                }
            }
            (Some("YEARLY"), Some(d)) if d.is_empty() => {
                let base = every(p.interval, "year", "years");
                match (p.bymonth.as_slice(), p.bymonthday.as_slice()) {
                    ([], []) => Some(base),
                    ([m], [day]) if *day > 0 => {
                        Some(format!("{base} on {} {day}", MONTHS[*m as usize - 1]))
                    }
                    (ms, []) if !ms.is_empty() => {
                        let names: Vec<String> = ms
                            .iter()
                            .map(|m| MONTHS[*m as usize - 1].to_string())
                            .collect();
                        Some(format!("{base} in {}", join(&names)))
                    }
                    _ => None,
                }
            }
            (Some("HOURLY"), Some(d)) if d.is_empty() => Some(every(p.interval, "hour", "hours")),
            (Some("MINUTELY"), Some(d)) if d.is_empty() => {
                Some(every(p.interval, "minute", "minutes"))
            }
            _ => None,
        };
        // Month/day filters on other frequencies are not worded above.
        let fully_worded = match p.freq {
            Some("YEARLY") => true,
            Some("MONTHLY") => p.bymonth.is_empty(),
            _ => p.bymonth.is_empty() && p.bymonthday.is_empty(),
        };
        let mut out = match body {
            Some(b) if p.other.is_empty() && fully_worded => b,
            _ => return format!("custom rule ({})", self.as_str()),
        };
        if let Some(c) = p.count {
            out.push_str(&match c {
                "1" => ", once".to_string(),
                c => format!(", {c} times"),
            });
        }
        if let Some(u) = p.until {
            let date = if u.len() >= 8 && u.is_ascii() {
                format!("{}-{}-{}", &u[..4], &u[4..6], &u[6..8])
            } else {
                u.to_string()
            };
            out.push_str(&format!(", until {date}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(rule: &str) -> String {
        Recurrence::parse(rule).unwrap().label()
    }

    fn phrase(p: &str) -> String {
        Recurrence::from_phrase(p)
            .unwrap_or_else(|| panic!("`{p}` is a phrase"))
            .label()
    }

    #[test]
    fn phrases_read_back_in_words() {
        for (p, want) in [
            ("daily", "every day"),
            ("every 3 days", "every 3 days"),
            ("every other day", "every other day"),
            ("every weekday", "every weekday"),
            ("every weekend", "every weekend"),
            ("every monday", "every Monday"),
            ("every mon and thu", "every Monday and Thursday"),
            ("every mon, wed and fri", "every Mon, Wed and Fri"),
            ("weekly", "every week"),
            ("every 2 weeks", "every other week"),
            ("every other monday", "every other Monday"),
            ("every 3 weeks on tue", "every 3 weeks on Tuesday"),
            ("monthly", "every month"),
            ("every 15th", "every month on the 15th"),
            (
                "monthly on the 1st and 15th",
                "every month on the 1st and 15th",
            ),
            ("every last day of the month", "every month on the last day"),
            ("every first monday", "every month on the first Monday"),
            (
                "every last friday of the month",
                "every month on the last Friday",
            ),
            ("yearly", "every year"),
            ("every 2 years", "every other year"),
            ("every dec 25", "every year on December 25"),
        ] {
            assert_eq!(phrase(p), want, "phrase `{p}`");
        }
    }

    #[test]
    fn ends_and_unusual_rules_are_never_hidden() {
        assert_eq!(label("FREQ=DAILY;COUNT=5"), "every day, 5 times");
        assert_eq!(label("FREQ=WEEKLY;COUNT=1"), "every week, once");
        assert_eq!(
            label("FREQ=WEEKLY;UNTIL=20261231T000000Z"),
            "every week, until 2026-12-31"
        );
        assert_eq!(label("FREQ=HOURLY;INTERVAL=4"), "every 4 hours");
        assert_eq!(
            label("FREQ=YEARLY;BYMONTH=3,9"),
            "every year in March and September"
        );
        assert_eq!(
            label("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1"),
            "custom rule (FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1)"
        );
        assert_eq!(
            label("FREQ=DAILY;BYMONTH=6"),
            "custom rule (FREQ=DAILY;BYMONTH=6)"
        );
        assert_eq!(
            label("FREQ=MONTHLY;BYMONTHDAY=-3"),
            "every month on the 3rd to last day"
        );
        assert_eq!(
            label("FREQ=MONTHLY;BYDAY=-2FR"),
            "every month on the second to last Friday"
        );
        assert_eq!(
            label("FREQ=MONTHLY;BYMONTHDAY=11,22"),
            "every month on the 11th and 22nd"
        );
    }
}
