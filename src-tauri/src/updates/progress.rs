//! Download progress: bytes received, the speed over the last few
//! seconds, and when to tell the UI (at most ~5 times a second).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The speed is averaged over this window.
pub const WINDOW: Duration = Duration::from_secs(3);
/// Progress events at most this often.
pub const EMIT_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct Meter {
    received: u64,
    samples: VecDeque<(Instant, u64)>,
    last_emit: Option<Instant>,
}

impl Meter {
    pub fn new(start: Instant) -> Meter {
        let mut samples = VecDeque::new();
        samples.push_back((start, 0));
        Meter {
            received: 0,
            samples,
            last_emit: None,
        }
    }

    /// Adds a chunk received at `now`; returns whether to send progress.
    pub fn add(&mut self, bytes: u64, now: Instant) -> bool {
        self.received += bytes;
        self.samples.push_back((now, self.received));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
        {
            self.samples.pop_front();
        }
        let due = self
            .last_emit
            .is_none_or(|t| now.duration_since(t) >= EMIT_EVERY);
        if due {
            self.last_emit = Some(now);
        }
        due
    }

    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes per second over the window (0 before any time has passed).
    pub fn rate(&self) -> u64 {
        let (Some((t0, r0)), Some((t1, r1))) = (self.samples.front(), self.samples.back()) else {
            return 0;
        };
        let secs = t1.duration_since(*t0).as_secs_f64();
        if secs <= 0.0 {
            return 0;
        }
        ((r1 - r0) as f64 / secs) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_averaged_over_the_last_seconds_and_events_are_throttled() {
        let t0 = Instant::now();
        let mut m = Meter::new(t0);
        assert_eq!(m.rate(), 0);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // 100 kB every 100 ms for 2 s: 1 MB/s.
        let mut sent = 0;
        for i in 1..=20 {
            if m.add(100_000, ms(i * 100)) {
                sent += 1;
            }
        }
        assert_eq!(m.received(), 2_000_000);
        assert_eq!(m.rate(), 1_000_000);
        // One event per 200 ms (the first at once).
        assert_eq!(sent, 10);
        // Then 10 kB every 100 ms for 5 s: the window forgets the fast start.
        for i in 21..=70 {
            m.add(10_000, ms(i * 100));
        }
        let r = m.rate();
        assert!((95_000..=105_000).contains(&r), "{r}");
    }
}
