//! The task domain: tasks, lists and the value types they are made of.
//!
//! These types are what gets sealed into vault records, so their serde
//! shape is a stored format: change it only together with
//! [`FORMAT_VERSION`] and a reader for the previous version.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::order::OrderKey;
use crate::recurrence::Recurrence;

/// Version of the serialized record payloads (bound into every record's AAD).
pub const FORMAT_VERSION: u16 = 1;

/// A random 128-bit identifier, shown as 32 lowercase hex digits.
///
/// Ids are the only per-record values stored in plaintext, so they must
/// carry no user content: they are always random.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 16]);

impl Id {
    pub fn random(rng: &mut dyn RngCore) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        Id(b)
    }
    pub fn from_bytes(b: [u8; 16]) -> Self {
        Id(b)
    }
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
    /// The first 8 hex digits, which is what people type and read.
    pub fn short(&self) -> String {
        self.to_string()[..8].to_string()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an id (expected 32 hex digits)")]
pub struct ParseIdError(pub String);

impl FromStr for Id {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| ParseIdError(s.to_string()))?;
        Ok(Id(b))
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

pub type TaskId = Id;
pub type ListId = Id;

/// Priority 0–4: 0 is "none", 1 is the most urgent and 4 the least
/// (the `!1`…`!4` people know from other task apps).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

impl Priority {
    pub const NONE: Priority = Priority(0);
    pub fn new(p: u8) -> Result<Self, InvalidPriority> {
        if p <= 4 {
            Ok(Priority(p))
        } else {
            Err(InvalidPriority(p))
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
    /// Sort rank: most urgent first, "none" last.
    pub fn rank(self) -> u8 {
        if self.0 == 0 {
            5
        } else {
            self.0
        }
    }
}

impl fmt::Debug for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("priority must be 0 (none) to 4, got {0}")]
pub struct InvalidPriority(pub u8);

impl TryFrom<u8> for Priority {
    type Error = InvalidPriority;
    fn try_from(p: u8) -> Result<Self, Self::Error> {
        Priority::new(p)
    }
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p.0
    }
}

/// A due date with an optional time. A time without a zone is "floating"
/// (the same wall-clock time wherever the user is); `tz` is an IANA name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Due {
    pub date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<NaiveTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
}

impl Due {
    pub fn date(date: NaiveDate) -> Self {
        Due {
            date,
            time: None,
            tz: None,
        }
    }
}

impl fmt::Display for Due {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date)?;
        if let Some(t) = self.time {
            write!(f, " {}", t.format("%H:%M"))?;
        }
        if let Some(tz) = &self.tz {
            write!(f, " {tz}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub title: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub list: Option<ListId>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub priority: Priority,
    #[serde(default)]
    pub due: Option<Due>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    pub parent: Option<TaskId>,
    pub order: OrderKey,
    #[serde(default)]
    pub done: bool,
    #[serde(default, deserialize_with = "crate::stored_time::utc_opt")]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "crate::stored_time::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(deserialize_with = "crate::stored_time::utc")]
    pub updated_at: DateTime<Utc>,
    /// In the trash since then; `None` for a live task. Tasks trashed by
    /// one action share the instant, which is how a restore knows which
    /// subtasks went with their parent. Omitted when `None`, so live tasks
    /// encode exactly as before the trash existed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::stored_time::utc_opt"
    )]
    pub trashed_at: Option<DateTime<Utc>>,
}

impl Task {
    pub fn is_trashed(&self) -> bool {
        self.trashed_at.is_some()
    }
    /// Open and not in the trash.
    pub fn is_open(&self) -> bool {
        !self.done && self.trashed_at.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct List {
    pub id: ListId,
    pub name: String,
    /// `#rrggbb`, lowercase.
    #[serde(default)]
    pub colour: Option<String>,
    pub order: OrderKey,
    #[serde(default)]
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("a task needs a title")]
    EmptyTitle,
    #[error("a list needs a name")]
    EmptyListName,
    #[error("colour `{0}` is not of the form #rrggbb")]
    BadColour(String),
    #[error("tag `{0}` is empty or contains whitespace")]
    BadTag(String),
    #[error("time zone `{0}` is not an IANA zone name (e.g. Europe/Berlin)")]
    BadTimeZone(String),
}

/// Normalises a colour to `#rrggbb` lowercase, or says why it is not one.
pub fn normalize_colour(c: &str) -> Result<String, DomainError> {
    let c = c.trim();
    let hex = c.strip_prefix('#').unwrap_or(c);
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_lowercase()))
    } else {
        Err(DomainError::BadColour(c.to_string()))
    }
}

/// Tags are stored without the leading `@`, case preserved, no whitespace.
pub fn normalize_tag(t: &str) -> Result<String, DomainError> {
    // Strips every leading `@`, so normalising is idempotent.
    let t = t.trim().trim_start_matches('@');
    if t.is_empty() || t.chars().any(char::is_whitespace) {
        Err(DomainError::BadTag(t.to_string()))
    } else {
        Ok(t.to_string())
    }
}

pub fn validate_tz(tz: &str) -> Result<chrono_tz::Tz, DomainError> {
    tz.parse::<chrono_tz::Tz>()
        .map_err(|_| DomainError::BadTimeZone(tz.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn id_round_trips_through_text_and_json() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let id = Id::random(&mut rng);
        assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
        let j = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<Id>(&j).unwrap(), id);
        assert!("xyz".parse::<Id>().is_err());
        assert!("zz".repeat(16).parse::<Id>().is_err());
    }

    #[test]
    fn id_text_stays_lowercase_hex_and_rejects_malformed_ids() {
        let id = Id::from_bytes([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!("AB".repeat(16).parse::<Id>().unwrap(), id);
        for bad in [
            "ab".repeat(15),
            "ab".repeat(17),
            format!("+f{}", "ab".repeat(15)),
            "é".repeat(16),
        ] {
            assert_eq!(bad.parse::<Id>().unwrap_err(), ParseIdError(bad.clone()));
        }
    }

    #[test]
    fn priority_rejects_out_of_range() {
        assert!(Priority::new(5).is_err());
        assert!(serde_json::from_str::<Priority>("7").is_err());
        assert_eq!(Priority::new(1).unwrap().rank(), 1);
        assert_eq!(Priority::NONE.rank(), 5);
    }

    #[test]
    fn colour_and_tag_normalisation() {
        assert_eq!(normalize_colour("#A1B2C3").unwrap(), "#a1b2c3");
        assert!(normalize_colour("red").is_err());
        assert_eq!(normalize_tag("@home").unwrap(), "home");
        assert!(normalize_tag("two words").is_err());
        assert!(normalize_tag("@").is_err());
    }
}
