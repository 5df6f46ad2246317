//! Recurrence rules as people read and type them: a short English label
//! for a rule ("every Mon and Thu", "every 2 weeks") and one entry point
//! for what someone types in a repeat field (a phrase or an RRULE).

use crate::recurrence::{Recurrence, RecurrenceError};

const DAYS: [(&str, &str); 7] = [
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
];

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, x) if x != 11 => "st",
        (2, x) if x != 12 => "nd",
        (3, x) if x != 13 => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn nth_word(n: i64) -> Option<&'static str> {
    Some(match n {
        1 => "first",
        2 => "second",
        3 => "third",
        4 => "fourth",
        -1 => "last",
        _ => return None,
    })
}

/// "a", "a and b", "a, b and c".
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn day_name(code: &str, short: bool) -> Option<String> {
    let (_, name) = DAYS.iter().find(|(c, _)| *c == code)?;
    Some(if short {
        name[..3].to_string()
    } else {
        name.to_string()
    })
}

/// The label of a rule body, or `None` for rules it has no words for.
fn describe(rule: &str) -> Option<String> {
    let mut freq = None;
    let mut interval = 1i64;
    let mut by_day: Vec<String> = Vec::new();
    let mut by_month_day: Vec<i64> = Vec::new();
    let mut by_month: Vec<i64> = Vec::new();
    let mut count = None;
    let mut until = None;
    for part in rule.split(';').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=')?;
        match k {
            "FREQ" => freq = Some(v.to_string()),
            "INTERVAL" => interval = v.parse().ok()?,
            "BYDAY" => by_day = v.split(',').map(str::to_string).collect(),
            "BYMONTHDAY" => {
                by_month_day = v
                    .split(',')
                    .map(|d| d.parse().ok())
                    .collect::<Option<_>>()?
            }
            "BYMONTH" => {
                by_month = v
                    .split(',')
                    .map(|d| d.parse().ok())
                    .collect::<Option<_>>()?
            }
            "COUNT" => count = Some(v.parse::<i64>().ok()?),
            "UNTIL" => until = Some(v.to_string()),
            "WKST" => {}
            _ => return None,
        }
    }
    let every = |one: &str, many: &str| {
        if interval == 1 {
            format!("every {one}")
        } else if interval == 2 {
            format!("every other {one}")
        } else {
            format!("every {interval} {many}")
        }
    };
    let weekdays = ["MO", "TU", "WE", "TH", "FR"].map(str::to_string);
    let mut label = match freq?.as_str() {
        "DAILY" if by_day.is_empty() && by_month_day.is_empty() && by_month.is_empty() => {
            every("day", "days")
        }
        "WEEKLY" if by_month_day.is_empty() && by_month.is_empty() => {
            if by_day.is_empty() {
                every("week", "weeks")
            } else if by_day == weekdays && interval == 1 {
                "every weekday".to_string()
            } else if by_day == ["SA", "SU"] && interval == 1 {
                "every weekend".to_string()
            } else {
                let short = by_day.len() > 2;
                let names: Vec<String> = by_day
                    .iter()
                    .map(|d| day_name(d, short))
                    .collect::<Option<_>>()?;
                match interval {
                    1 => format!("every {}", join(&names)),
                    2 => format!("every other {}", join(&names)),
                    n => format!("every {n} weeks on {}", join(&names)),
                }
            }
        }
        "MONTHLY" if by_month.is_empty() => {
            let base = every("month", "months");
            if !by_day.is_empty() && by_month_day.is_empty() {
                // 1MO, -1FR
                let names: Vec<String> = by_day
                    .iter()
                    .map(|d| {
                        let split = d.len().checked_sub(2)?;
                        let (n, code) = d.split_at(split);
                        let n: i64 = n.parse().ok()?;
                        Some(format!("{} {}", nth_word(n)?, day_name(code, false)?))
                    })
                    .collect::<Option<_>>()?;
                if interval == 1 {
                    format!("every {}", join(&names))
                } else {
                    format!("{base} on the {}", join(&names))
                }
            } else if by_day.is_empty() && !by_month_day.is_empty() {
                let days: Vec<String> = by_month_day
                    .iter()
                    .map(|d| match d {
                        -1 => Some("last day".to_string()),
                        1..=31 => Some(ordinal(*d)),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                format!("{base} on the {}", join(&days))
            } else if by_day.is_empty() {
                base
            } else {
                return None;
            }
        }
        "YEARLY" if by_day.is_empty() => match (by_month.as_slice(), by_month_day.as_slice()) {
            ([], []) => every("year", "years"),
            ([m], [d]) if (1..=12).contains(m) && (1..=31).contains(d) => {
                format!(
                    "{} on {} {d}",
                    every("year", "years"),
                    MONTHS[*m as usize - 1]
                )
            }
            _ => return None,
        },
        _ => return None,
    };
    if let Some(n) = count {
        label.push_str(&format!(", {n} times"));
    }
    if let Some(u) = until {
        let date = u
            .get(..8)
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
        label.push_str(&format!(
            ", until {}-{}-{}",
            &date[..4],
            &date[4..6],
            &date[6..8]
        ));
    }
    Some(label)
}

impl Recurrence {
    /// A short English label: "every day", "every Mon, Wed and Fri",
    /// "every month on the 15th", "every first Monday". Rules it has no
    /// words for are shown as their RRULE body.
    pub fn label(&self) -> String {
        describe(self.as_str()).unwrap_or_else(|| format!("custom ({})", self.as_str()))
    }

    /// What someone typed into a repeat field: a phrase ("every monday",
    /// "2 weeks", "weekdays") or an RRULE (`FREQ=WEEKLY;BYDAY=MO`).
    pub fn from_text(text: &str) -> Result<Recurrence, RecurrenceError> {
        let t = text.trim();
        if let Some(r) = Recurrence::from_phrase(t) {
            return Ok(r);
        }
        let lower = t.to_lowercase();
        if !lower.starts_with("every ") {
            if let Some(r) = Recurrence::from_phrase(&format!("every {t}")) {
                return Ok(r);
            }
        }
        if t.to_ascii_uppercase().contains("FREQ=") {
            return Recurrence::parse(t);
        }
        Err(RecurrenceError::Invalid {
            rule: t.to_string(),
            reason: "not a repeat I understand; try e.g. every monday, every 2 weeks, every 15th, or an RRULE such as FREQ=WEEKLY;BYDAY=MO".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn label(phrase: &str) -> String {
        Recurrence::from_phrase(phrase)
            .unwrap_or_else(|| panic!("{phrase} is a phrase"))
            .label()
    }

    #[test]
    fn phrases_come_back_as_words() {
        for (phrase, want) in [
            ("daily", "every day"),
            ("every 3 days", "every 3 days"),
            ("every other day", "every other day"),
            ("every weekday", "every weekday"),
            ("every weekend", "every weekend"),
            ("every monday", "every Monday"),
            ("every mon and thu", "every Monday and Thursday"),
            ("every mon, wed and fri", "every Mon, Wed and Fri"),
            ("every other monday", "every other Monday"),
            ("every 3 weeks on mon", "every 3 weeks on Monday"),
            ("weekly", "every week"),
            ("every 2 weeks", "every other week"),
            ("monthly", "every month"),
            ("every 15th", "every month on the 15th"),
            (
                "monthly on the 1st and 15th",
                "every month on the 1st and 15th",
            ),
            ("every last day of the month", "every month on the last day"),
            ("every first monday", "every first Monday"),
            ("every last friday of the month", "every last Friday"),
            ("yearly", "every year"),
            ("every dec 25", "every year on Dec 25"),
        ] {
            assert_eq!(label(phrase), want, "{phrase}");
        }
    }

    #[test]
    fn count_until_and_unknown_parts() {
        let r = Recurrence::parse("FREQ=DAILY;COUNT=5").unwrap();
        assert_eq!(r.label(), "every day, 5 times");
        let r = Recurrence::parse("FREQ=WEEKLY;UNTIL=20261231T000000Z").unwrap();
        assert_eq!(r.label(), "every week, until 2026-12-31");
        let r = Recurrence::parse("FREQ=HOURLY;INTERVAL=4").unwrap();
        assert_eq!(r.label(), "custom (FREQ=HOURLY;INTERVAL=4)");
    }

    #[test]
    fn typed_repeats() {
        let rule = |t: &str| Recurrence::from_text(t).unwrap().as_str().to_string();
        assert_eq!(rule("every monday"), "FREQ=WEEKLY;BYDAY=MO");
        assert_eq!(rule("2 weeks"), "FREQ=WEEKLY;INTERVAL=2");
        assert_eq!(rule("weekdays"), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!(rule("rrule:freq=monthly"), "FREQ=MONTHLY");
        assert!(Recurrence::from_text("whenever").is_err());
        assert!(Recurrence::from_text("FREQ=NEVER").is_err());
    }

    proptest! {
        #[test]
        fn every_valid_rule_gets_a_label(freq in prop::sample::select(vec!["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]),
                                         interval in 1u32..20,
                                         days in prop::sample::subsequence(vec!["MO", "TU", "WE", "TH", "FR", "SA", "SU"], 0..7)) {
            let mut body = format!("FREQ={freq};INTERVAL={interval}");
            if !days.is_empty() { body.push_str(&format!(";BYDAY={}", days.join(","))); }
            if let Ok(r) = Recurrence::parse(&body) {
                let l = r.label();
                prop_assert!(!l.is_empty());
                prop_assert!(l.starts_with("every") || l.starts_with("custom"));
            }
        }
    }
}
