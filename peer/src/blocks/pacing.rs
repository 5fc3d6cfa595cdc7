//! When a channel's puller tries its orderers again, and how many tries the whole node makes.
//!
//! A peer may hold thousands of channels whose orderers do not serve them (yet) or are away.
//! Each failed attempt costs a TLS handshake and a signed request on both sides, so two bounds
//! keep that work independent of the number of channels:
//!
//! - per channel, [`RetrySchedule`]: the wait doubles from [`BACKOFF_INITIAL`] up to a short
//!   ceiling while the channel has been failing for less than [`FAST_RETRY_PERIOD`] (an
//!   orderer restart or a Raft election is caught within seconds), then keeps growing up to
//!   `peer.deliveryclient.reConnectBackoffThreshold` (Fabric's blocks provider also backs off
//!   to that threshold, one hour by default). Waits carry random jitter so that channels joined
//!   together do not retry in lockstep;
//! - per node, [`AttemptPacer`]: at most [`ATTEMPTS_PER_SECOND_MAX`] attempts start per
//!   second on average, first come first served, whatever the number of failing channels. A
//!   node that has been quiet may start up to [`ATTEMPT_BURST`] attempts at once, so a restart
//!   or an orderer failover reconnects a few hundred served channels without queueing them.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// First wait after a failed attempt.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// Ceiling of the wait between attempts while a channel has been failing for less than
/// [`FAST_RETRY_PERIOD`], unless the config sets a lower one.
pub const BACKOFF_MAX_DEFAULT: Duration = Duration::from_secs(10);
/// How long a channel keeps retrying at the short ceiling before its waits grow on to the
/// configured threshold.
pub const FAST_RETRY_PERIOD: Duration = Duration::from_secs(5 * 60);
/// Attempts (dial, handshake, signed seek request) the whole node starts per second at most.
pub const ATTEMPTS_PER_SECOND_MAX: u32 = 10;
/// Attempts a quiet node may start at once on top of the steady rate; the allowance refills at
/// [`ATTEMPTS_PER_SECOND_MAX`] per second.
pub const ATTEMPT_BURST: u32 = 200;

/// One channel's waits between failed attempts.
#[derive(Debug, Clone)]
pub struct RetrySchedule {
    /// Ceiling during the first [`FAST_RETRY_PERIOD`] of failures.
    fast_max: Duration,
    /// Ceiling afterwards (`reConnectBackoffThreshold`), at least `fast_max`.
    slow_max: Duration,
    backoff: Duration,
    /// When the current run of failures began.
    failing_since: Option<Instant>,
}

impl RetrySchedule {
    pub fn new(fast_max: Duration, slow_max: Duration) -> Self {
        let fast_max = fast_max.max(BACKOFF_INITIAL);
        Self {
            fast_max,
            slow_max: slow_max.max(fast_max),
            backoff: BACKOFF_INITIAL,
            failing_since: None,
        }
    }

    /// A block arrived: the next failure starts over from [`BACKOFF_INITIAL`].
    pub fn progress(&mut self) {
        self.backoff = BACKOFF_INITIAL;
        self.failing_since = None;
    }

    /// An attempt failed at `now`: how long to wait before the next one, before jitter. The
    /// wait doubles, and once the channel has failed for [`FAST_RETRY_PERIOD`] it is at least
    /// as long as the failures have lasted, so time spent queued behind other channels counts.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let since = *self.failing_since.get_or_insert(now);
        let failing_for = now.saturating_duration_since(since);
        let wait = if failing_for < FAST_RETRY_PERIOD {
            self.backoff.min(self.fast_max)
        } else {
            self.backoff.max(failing_for).min(self.slow_max)
        };
        self.backoff = wait.saturating_mul(2);
        wait
    }
}

/// `wait` shortened by a random part of up to half of it.
pub fn jittered(wait: Duration, random: u64) -> Duration {
    let half = wait / 2;
    let nanos = half.as_nanos().min(u128::from(u64::MAX)) as u64;
    let cut = if nanos == 0 { 0 } else { random % nanos };
    wait.saturating_sub(Duration::from_nanos(cut))
}

/// Node-wide bound on attempts per second: a generic cell rate limiter. Slots are
/// `1 / per_second` apart on average, and up to `burst` attempts beyond that may start early
/// when the node has been quiet.
#[derive(Debug)]
pub struct AttemptPacer {
    interval: Duration,
    /// How far ahead of `now` the booked slots may run before an attempt has to wait.
    tolerance: Duration,
    /// When the next attempt would start if the pacer had no burst allowance.
    theoretical_next: Mutex<Option<Instant>>,
}

impl Default for AttemptPacer {
    fn default() -> Self {
        Self::new(ATTEMPTS_PER_SECOND_MAX, ATTEMPT_BURST)
    }
}

impl AttemptPacer {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Self {
            interval,
            tolerance: interval.saturating_mul(burst),
            theoretical_next: Mutex::new(None),
        }
    }

    /// Books the first free slot at or after `now` and returns its start.
    pub fn reserve(&self, now: Instant) -> Instant {
        let mut theoretical_next = self
            .theoretical_next
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = theoretical_next.map_or(now, |next| next.max(now));
        let slot = due
            .checked_sub(self.tolerance)
            .map_or(now, |early| early.max(now));
        *theoretical_next = Some(due + self.interval);
        slot
    }

    /// Waits for a slot.
    pub async fn wait_turn(&self) {
        let slot = self.reserve(Instant::now());
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_the_short_ceiling_then_grow_to_the_threshold() {
        let start = Instant::now();
        let mut schedule = RetrySchedule::new(Duration::from_secs(10), Duration::from_secs(3600));
        let mut now = start;
        let mut waits = Vec::new();
        while now.duration_since(start) < Duration::from_secs(4 * 3600) {
            let wait = schedule.failed(now);
            waits.push(wait);
            now += wait;
        }
        assert_eq!(waits[0], BACKOFF_INITIAL);
        assert_eq!(waits[1], BACKOFF_INITIAL * 2);
        // Within the fast period nothing exceeds the short ceiling...
        let mut elapsed = Duration::ZERO;
        for wait in &waits {
            if elapsed < FAST_RETRY_PERIOD {
                assert!(*wait <= Duration::from_secs(10), "{wait:?} at {elapsed:?}");
            }
            elapsed += *wait;
        }
        // ...then waits reach the threshold, and never pass it.
        assert_eq!(waits.last(), Some(&Duration::from_secs(3600)));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(3600)));
        // Four hours of failures cost a few dozen attempts, not thousands.
        assert!(waits.len() < 60, "{} attempts", waits.len());
    }

    #[test]
    fn progress_starts_the_schedule_over() {
        let now = Instant::now();
        let mut schedule = RetrySchedule::new(Duration::from_secs(10), Duration::from_secs(3600));
        let late = now + FAST_RETRY_PERIOD * 3;
        schedule.failed(now);
        assert!(schedule.failed(late) > Duration::from_secs(10));
        schedule.progress();
        assert_eq!(schedule.failed(late), BACKOFF_INITIAL);
    }

    #[test]
    fn a_lower_configured_threshold_caps_every_wait() {
        let now = Instant::now();
        let mut schedule = RetrySchedule::new(Duration::from_secs(10), Duration::from_secs(2));
        let late = now + FAST_RETRY_PERIOD * 3;
        schedule.failed(now);
        assert!(schedule.failed(late) <= Duration::from_secs(10));
        let mut small = RetrySchedule::new(Duration::from_secs(2), Duration::from_secs(2));
        for _ in 0..20 {
            assert!(small.failed(late) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn jitter_shortens_by_at_most_half() {
        let wait = Duration::from_secs(10);
        for random in [0, 1, 7, u64::MAX / 3, u64::MAX] {
            let j = jittered(wait, random);
            assert!(j <= wait && j >= wait / 2, "{j:?}");
        }
        assert_eq!(jittered(Duration::ZERO, 5), Duration::ZERO);
    }

    /// However many channels fail at the same moment, the burst starts at once and the rest
    /// start at most ATTEMPTS_PER_SECOND_MAX per second: the node's retry work does not grow
    /// with channels.
    #[test]
    fn the_pacer_spreads_simultaneous_attempts_of_any_number_of_channels() {
        let burst = ATTEMPT_BURST as usize;
        for channels in [1usize, 100, 10_000] {
            let pacer = AttemptPacer::default();
            let now = Instant::now();
            let slots: Vec<Instant> = (0..channels).map(|_| pacer.reserve(now)).collect();
            let immediate = slots.iter().filter(|slot| **slot == now).count();
            assert_eq!(immediate, channels.min(burst + 1), "{channels} channels");
            let per_second = ATTEMPTS_PER_SECOND_MAX as usize;
            for window in slots[immediate.saturating_sub(1)..].windows(per_second + 1) {
                assert!(
                    window[per_second].duration_since(window[0]) >= Duration::from_secs(1),
                    "more than {per_second} attempts within a second ({channels} channels)"
                );
            }
            if let Some(last) = slots.last() {
                let paced = channels.saturating_sub(burst + 1) as u32;
                assert!(last.duration_since(now) <= Duration::from_secs(1) / 10 * paced);
            }
        }
    }

    #[test]
    fn a_quiet_pacer_refills_its_burst_at_the_steady_rate() {
        let pacer = AttemptPacer::new(10, 3);
        let now = Instant::now();
        let first: Vec<Instant> = (0..5).map(|_| pacer.reserve(now)).collect();
        assert_eq!(&first[..4], &[now; 4]);
        assert_eq!(first[4], now + Duration::from_millis(100));
        // After two seconds of quiet the whole allowance is back, and no more than that.
        let later = now + Duration::from_secs(2);
        let second: Vec<Instant> = (0..5).map(|_| pacer.reserve(later)).collect();
        assert_eq!(&second[..4], &[later; 4]);
        assert_eq!(second[4], later + Duration::from_millis(100));
    }
}
