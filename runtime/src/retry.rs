//! Jittered exponential backoff for statements that lost a lock race.

use rand::Rng;
use std::time::Duration;

/// Delay before retry number `attempt` (1-based): full jitter over `base · 2^(attempt-1)`,
/// capped at `max`.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let ceiling = exp.min(max).as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(ceiling / 2..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for _ in 0..100 {
            let d1 = backoff(1, base, max);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d4 = backoff(4, base, max);
            assert!(d4 >= Duration::from_millis(400) && d4 <= Duration::from_millis(800));
            assert!(backoff(30, base, max) <= max);
        }
    }
}
