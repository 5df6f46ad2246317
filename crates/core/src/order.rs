//! Manual order as a fractional index: a key that sorts between any two
//! neighbours, so moving one item rewrites only that item (and, later,
//! merges as a single field in sync).
//!
//! Keys are non-empty strings over the 62 ASCII digits `0-9A-Za-z` (which
//! sort in byte order) and never end in `0`, so there is always room
//! between two distinct keys.

use std::fmt;

use serde::{Deserialize, Serialize};

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: u32 = 62;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an order key (digits 0-9A-Za-z, not ending in 0)")]
pub struct InvalidOrderKey(pub String);

fn digit(b: u8) -> Option<u32> {
    DIGITS.iter().position(|d| *d == b).map(|p| p as u32)
}

impl OrderKey {
    pub fn parse(s: &str) -> Result<Self, InvalidOrderKey> {
        if s.is_empty() || s.ends_with('0') || !s.bytes().all(|b| digit(b).is_some()) {
            return Err(InvalidOrderKey(s.to_string()));
        }
        Ok(OrderKey(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key for the first item of an empty collection.
    pub fn first() -> Self {
        OrderKey("V".to_string())
    }

    /// A key strictly between `lo` and `hi` (either end open).
    /// `lo` must sort before `hi` when both are given; if not, the result
    /// sorts after `lo`, which keeps a bad call from ever panicking.
    ///
    /// Appending and prepending (one end open) step by one unit at width
    /// four or more, so a million appends still give 4-character keys;
    /// halving the gap instead would grow keys by a character every few
    /// appends.
    pub fn between(lo: Option<&OrderKey>, hi: Option<&OrderKey>) -> OrderKey {
        match (lo, hi) {
            (Some(l), None) => Self::step(l, true).unwrap_or_else(|| Self::midpoint(lo, hi)),
            (Some(l), Some(h)) if l >= h => {
                Self::step(l, true).unwrap_or_else(|| Self::midpoint(lo, None))
            }
            (None, Some(h)) => Self::step(h, false).unwrap_or_else(|| Self::midpoint(lo, hi)),
            (None, None) => Self::first(),
            _ => Self::midpoint(lo, hi),
        }
    }

    /// One unit up or down at the key's width (at least 4 digits), with
    /// trailing zeros dropped; `None` on overflow or underflow.
    fn step(key: &OrderKey, up: bool) -> Option<OrderKey> {
        const MIN_WIDTH: usize = 4;
        let mut d: Vec<u32> = key.0.bytes().map(|b| digit(b).unwrap_or(0)).collect();
        d.resize(d.len().max(MIN_WIDTH), 0);
        let mut i = d.len();
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            if up && d[i] < BASE - 1 {
                d[i] += 1;
                break;
            }
            if !up && d[i] > 0 {
                d[i] -= 1;
                break;
            }
            d[i] = if up { 0 } else { BASE - 1 };
        }
        while d.last() == Some(&0) {
            d.pop();
        }
        if d.is_empty() {
            return None;
        }
        Some(OrderKey(
            d.iter().map(|&x| DIGITS[x as usize] as char).collect(),
        ))
    }

    fn midpoint(lo: Option<&OrderKey>, hi: Option<&OrderKey>) -> OrderKey {
        let lo_b = lo.map(|k| k.0.as_bytes()).unwrap_or(b"");
        let hi_b = match (lo, hi) {
            (Some(l), Some(h)) if l < h => Some(h.0.as_bytes()),
            (None, Some(h)) => Some(h.0.as_bytes()),
            _ => None,
        };
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let a = lo_b.get(i).map(|b| digit(*b).unwrap_or(0)).unwrap_or(0);
            let b = match hi_b {
                Some(h) => h.get(i).map(|b| digit(*b).unwrap_or(0)).unwrap_or(0),
                None => BASE,
            };
            // Once the prefix is strictly below hi, every later digit of
            // hi no longer constrains us.
            let b = if hi_b.is_some() && Self::prefix_below(&out, hi_b.unwrap_or(b"")) {
                BASE
            } else {
                b
            };
            if b > a + 1 {
                out.push(DIGITS[((a + b) / 2) as usize]);
                break;
            }
            out.push(DIGITS[a as usize]);
            i += 1;
        }
        OrderKey(String::from_utf8(out).expect("digits are ASCII"))
    }

    fn prefix_below(prefix: &[u8], hi: &[u8]) -> bool {
        let n = prefix.len().min(hi.len());
        prefix[..n] < hi[..n]
    }

    /// `n` keys in increasing order after `after` (for bulk inserts).
    pub fn sequence(after: Option<&OrderKey>, n: usize) -> Vec<OrderKey> {
        let mut keys = Vec::with_capacity(n);
        let mut prev = after.cloned();
        for _ in 0..n {
            let k = OrderKey::between(prev.as_ref(), None);
            prev = Some(k.clone());
            keys.push(k);
        }
        keys
    }
}

impl TryFrom<String> for OrderKey {
    type Error = InvalidOrderKey;
    /// [`OrderKey::parse`] keeping the string it is given (every task
    /// loaded goes through here).
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.is_empty() || s.ends_with('0') || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidOrderKey(s));
        }
        Ok(OrderKey(s))
    }
}

impl From<OrderKey> for String {
    fn from(k: OrderKey) -> String {
        k.0
    }
}

impl fmt::Debug for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderKey({})", self.0)
    }
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = OrderKey> {
        "[0-9A-Za-z]{0,6}[1-9A-Za-z]".prop_map(|s| OrderKey::parse(&s).unwrap())
    }

    proptest! {
        /// Loading reads keys through `TryFrom<String>`, typing through
        /// `parse`: both accept exactly the same keys.
        #[test]
        fn try_from_accepts_what_parse_accepts(s in "\\PC{0,6}|[0-9A-Za-z]{0,6}|[0-9A-Za-z]{0,4}[^0-9A-Za-z][0-9A-Za-z]{0,2}") {
            prop_assert_eq!(OrderKey::try_from(s.clone()), OrderKey::parse(&s));
        }

        #[test]
        fn between_sorts_strictly_between(a in key(), b in key()) {
            prop_assume!(a != b);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let m = OrderKey::between(Some(&lo), Some(&hi));
            prop_assert!(lo < m && m < hi, "{lo:?} < {m:?} < {hi:?}");
            prop_assert!(OrderKey::parse(m.as_str()).is_ok());
        }

        #[test]
        fn open_ends(a in key()) {
            let after = OrderKey::between(Some(&a), None);
            let before = OrderKey::between(None, Some(&a));
            prop_assert!(a < after);
            prop_assert!(before < a);
        }
    }

    #[test]
    fn repeated_insertion_at_front_and_between_stays_ordered() {
        let mut first = OrderKey::first();
        for _ in 0..200 {
            let k = OrderKey::between(None, Some(&first));
            assert!(k < first);
            first = k;
        }
        let mut lo = OrderKey::first();
        let hi = OrderKey::between(Some(&lo), None);
        for _ in 0..200 {
            let m = OrderKey::between(Some(&lo), Some(&hi));
            assert!(lo < m && m < hi);
            lo = m;
        }
        let seq = OrderKey::sequence(None, 1000);
        assert!(seq.windows(2).all(|w| w[0] < w[1]));
    }

    /// Regression: appending grew keys by a character every few appends,
    /// so 10k tasks carried ~1.7 KB order keys each.
    #[test]
    fn appending_and_prepending_keep_keys_short() {
        let seq = OrderKey::sequence(None, 200_000);
        assert!(seq.windows(2).all(|w| w[0] < w[1]));
        assert!(
            seq.iter().all(|k| k.as_str().len() <= 4),
            "{:?}",
            seq.last()
        );
        let mut first = OrderKey::first();
        for _ in 0..200_000 {
            let k = OrderKey::between(None, Some(&first));
            assert!(k < first && OrderKey::parse(k.as_str()).is_ok());
            first = k;
        }
        assert!(first.as_str().len() <= 5, "{first:?}");
        let top = OrderKey::parse("zzzz").unwrap();
        let after = OrderKey::between(Some(&top), None);
        assert!(after > top);
    }

    #[test]
    fn rejects_bad_keys() {
        for s in ["", "a0", "a-b", "é"] {
            assert!(OrderKey::parse(s).is_err(), "{s}");
        }
    }
}
