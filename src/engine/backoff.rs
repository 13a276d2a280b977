//! Exponential reconnect delays with jitter applied after the cap, so that many clients of one
//! restarted server do not come back in lockstep.

use std::time::Duration;

pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The capped delay with jitter, without advancing the sequence.
    pub fn max_delay(&self) -> Duration {
        self.max.mul_f64(0.5 + 0.5 * fastrand::f64())
    }

    /// The delay before the next attempt: `min(initial * 2^n, max)` times a factor in [0.5, 1].
    pub fn next_delay(&mut self) -> Duration {
        let capped = self
            .initial
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        capped.mul_f64(0.5 + 0.5 * fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_after_it() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let mut caps = vec![];
        for _ in 0..8 {
            caps.push(b.next_delay());
        }
        let expected = [100u64, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (d, cap) in caps.iter().zip(expected) {
            let cap = Duration::from_millis(cap);
            assert!(
                *d <= cap && *d >= cap / 2,
                "{d:?} not within [{:?}, {cap:?}]",
                cap / 2
            );
        }
    }
}
