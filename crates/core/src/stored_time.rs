//! Reading the timestamps of sealed records quickly.
//!
//! chrono writes a `DateTime<Utc>` as RFC 3339 in UTC —
//! `2026-11-30T09:00:00Z`, with 1–9 fraction digits when there is a
//! fraction — and its general parser took about a tenth of the CPU of
//! unlocking a large vault (three or four timestamps per task). This
//! reads exactly that shape directly; anything else (other offsets,
//! lower-case separators, leap seconds, years past 9999, junk) goes
//! through chrono's own parser, so what is accepted and what it means do
//! not change. Writing is chrono's, untouched.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Deserializer};

/// `#[serde(deserialize_with = "stored_time::utc")]`
pub fn utc<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <Cow<'de, str>>::deserialize(d)?;
    parse(&s).map_err(serde::de::Error::custom)
}

/// The same for an optional timestamp (`null` or absent is `None`).
pub fn utc_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match <Option<Cow<'de, str>>>::deserialize(d)? {
        Some(s) => parse(&s).map(Some).map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// What chrono's `Deserialize for DateTime<Utc>` returns for `s`.
pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match canonical(s.as_bytes()) {
        Some(t) => Ok(t),
        None => s
            .parse::<DateTime<FixedOffset>>()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z`, or `None` for anything else.
fn canonical(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = &b[19..b.len() - 1];
    let nanos = match frac {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            num(20..20 + digits.len())? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    // A leap second (60) is chrono's to interpret.
    if sec > 59 {
        return None;
    }
    let naive = NaiveDate::from_ymd_opt(year as i32, month, day)?
        .and_hms_nano_opt(hour, min, sec, nanos)?;
    Some(Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono_reads(s: &str) -> Result<DateTime<Utc>, String> {
        serde_json::from_value::<DateTime<Utc>>(serde_json::Value::String(s.into()))
            .map_err(|e| e.to_string())
    }

    fn ours(s: &str) -> Result<DateTime<Utc>, String> {
        #[derive(Deserialize)]
        struct W(#[serde(deserialize_with = "utc")] DateTime<Utc>);
        serde_json::from_value::<W>(serde_json::Value::String(s.into()))
            .map(|w| w.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_stored_shape_and_everything_else_read_as_chrono_reads_them() {
        for s in [
            "2026-11-30T09:00:00Z",
            "2026-11-30T09:00:00.5Z",
            "2026-11-30T09:00:00.123456789Z",
            "2024-02-29T23:59:59.000000001Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            // Not the stored shape: chrono decides.
            "2026-11-30T09:00:00+02:00",
            "2026-11-30t09:00:00z",
            "2026-11-30 09:00:00Z",
            "2016-12-31T23:59:60Z",
            "2026-11-30T09:00:00.1234567891Z",
            "+12026-11-30T09:00:00Z",
            // Invalid either way.
            "2026-02-30T09:00:00Z",
            "2026-13-01T09:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T09:00:00.Z",
            "2026-11-30T09:00Z",
            "2026-11-30T09:0a:00Z",
            "２026-11-30T09:00:00Z",
            "",
        ] {
            assert_eq!(ours(s), chrono_reads(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_instant_chrono_writes_reads_back_the_same(
            secs in -62_135_596_800i64..253_402_300_799i64,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|m| m * 1_000_000)],
        ) {
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let written = serde_json::to_value(t).unwrap();
            let s = written.as_str().unwrap();
            prop_assert!(canonical(s.as_bytes()).is_some(), "{} is the stored shape", s);
            prop_assert_eq!(ours(s), Ok(t));
        }

        #[test]
        fn any_string_reads_as_chrono_reads_it(s in "[0-9:.TZtz+ -]{0,32}") {
            prop_assert_eq!(ours(&s), chrono_reads(&s));
        }
    }
}
