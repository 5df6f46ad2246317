//! Hybrid logical clock: wall-clock milliseconds plus a counter, with the
//! device id as the last tie-break, so every operation has a timestamp that
//! is unique, totally ordered, close to real time, and — the point — later
//! than everything its device had seen when it was made. A device whose
//! clock runs an hour slow still wins with an edit made after it pulled the
//! edit it overwrites.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{parse_hex, DeviceId};

/// Milliseconds since the Unix epoch fit in 48 bits until the year 10889;
/// anything larger is a corrupt or hostile timestamp.
pub const MAX_MS: u64 = (1 << 48) - 1;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hlc {
    pub ms: u64,
    pub counter: u32,
    pub device: DeviceId,
}

impl Ord for Hlc {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ms, self.counter, self.device.0).cmp(&(other.ms, other.counter, other.device.0))
    }
}

impl PartialOrd for Hlc {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `012x.08x.device`: fixed width, so text order is clock order.
impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012x}.{:08x}.{}", self.ms, self.counter, self.device)
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({self})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HlcError {
    #[error("`{0}` is not a hybrid logical clock value (012x.08x.device)")]
    Parse(String),
    #[error("clock value {0} ms is beyond the year 10889")]
    OutOfRange(u64),
    #[error("the clock's counter is exhausted at {0} ms; wait for the wall clock to move")]
    CounterExhausted(u64),
}

impl HlcError {
    pub fn code(&self) -> &'static str {
        match self {
            HlcError::Parse(_) | HlcError::OutOfRange(_) => "invalid_hlc",
            HlcError::CounterExhausted(_) => "hlc_exhausted",
        }
    }
}

impl FromStr for Hlc {
    type Err = HlcError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || HlcError::Parse(s.chars().take(80).collect());
        let mut parts = s.split('.');
        let (Some(ms), Some(c), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        if ms.len() != 12 || c.len() != 8 {
            return Err(err());
        }
        let ms = u64::from_str_radix(ms, 16).map_err(|_| err())?;
        let counter = u32::from_str_radix(c, 16).map_err(|_| err())?;
        let device = DeviceId(parse_hex::<16>("device id", d).map_err(|_| err())?);
        Hlc::new(ms, counter, device)
    }
}

impl Hlc {
    pub fn new(ms: u64, counter: u32, device: DeviceId) -> Result<Hlc, HlcError> {
        if ms > MAX_MS {
            return Err(HlcError::OutOfRange(ms));
        }
        Ok(Hlc {
            ms,
            counter,
            device,
        })
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One device's clock. Persist `last()` with the operations it stamped, and
/// `resume` from it, so a restart never reissues a timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlcClock {
    device: DeviceId,
    ms: u64,
    counter: u32,
}

impl HlcClock {
    pub fn new(device: DeviceId) -> Self {
        HlcClock {
            device,
            ms: 0,
            counter: 0,
        }
    }

    /// Continues after `last`, the greatest value this device has issued or
    /// observed.
    pub fn resume(device: DeviceId, last: (u64, u32)) -> Self {
        HlcClock {
            device,
            ms: last.0,
            counter: last.1,
        }
    }

    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The greatest (ms, counter) issued or observed so far.
    pub fn last(&self) -> (u64, u32) {
        (self.ms, self.counter)
    }

    /// A timestamp for a local event at wall time `now_ms`: strictly
    /// greater than every value issued or observed before.
    pub fn tick(&mut self, now_ms: u64) -> Result<Hlc, HlcError> {
        let now_ms = now_ms.min(MAX_MS);
        if now_ms > self.ms {
            self.ms = now_ms;
            self.counter = 0;
        } else {
            self.counter = self
                .counter
                .checked_add(1)
                .ok_or(HlcError::CounterExhausted(self.ms))?;
        }
        Ok(Hlc {
            ms: self.ms,
            counter: self.counter,
            device: self.device,
        })
    }

    /// Takes in a remote timestamp, so the next local tick is later than it
    /// whatever the local wall clock says.
    pub fn observe(&mut self, remote: &Hlc) {
        if (remote.ms, remote.counter) > (self.ms, self.counter) {
            self.ms = remote.ms;
            self.counter = remote.counter;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(b: u8) -> DeviceId {
        DeviceId([b; 16])
    }

    #[test]
    fn ticks_follow_the_wall_clock_and_never_repeat() {
        let mut c = HlcClock::new(dev(1));
        let a = c.tick(1000).unwrap();
        let b = c.tick(1000).unwrap();
        let d = c.tick(999).unwrap(); // the wall clock stepped back
        let e = c.tick(2000).unwrap();
        assert!(a < b && b < d && d < e);
        assert_eq!((d.ms, d.counter), (1000, 2));
        assert_eq!((e.ms, e.counter), (2000, 0));
    }

    #[test]
    fn an_edit_made_after_seeing_a_fast_clock_wins_over_it() {
        let hour = 3_600_000;
        let mut fast = HlcClock::new(dev(1));
        let mut slow = HlcClock::new(dev(2));
        let remote = fast.tick(10 * hour + hour).unwrap();
        slow.observe(&remote);
        let later = slow.tick(10 * hour + 60_000).unwrap();
        assert!(later > remote, "{later} > {remote}");
    }

    #[test]
    fn device_breaks_ties_and_text_sorts_like_the_clock() {
        let a = Hlc::new(5, 1, dev(1)).unwrap();
        let b = Hlc::new(5, 1, dev(2)).unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(a.to_string().parse::<Hlc>().unwrap(), a);
        assert!("5.1.x".parse::<Hlc>().is_err());
        assert!(Hlc::new(MAX_MS + 1, 0, dev(1)).is_err());
    }

    #[test]
    fn counter_exhaustion_is_an_error_not_a_wrap() {
        let mut c = HlcClock::resume(dev(1), (7, u32::MAX));
        assert_eq!(c.tick(7).unwrap_err().code(), "hlc_exhausted");
        assert_eq!(c.tick(8).unwrap().counter, 0);
    }
}
