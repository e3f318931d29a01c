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

/// Attempts of one application statement that lost to another ([`lost_statement`]).
const STATEMENT_ATTEMPTS: u32 = 8;

/// Run one autocommit statement, again when it failed as a whole for a reason that passes:
/// it lost a deadlock or a serialization conflict (PostgreSQL 40001/40P01, MySQL 1213 —
/// on Galera also a certification failure, two nodes' writes to one row conflicting at
/// commit), or it met a Galera node outside the Primary component (1047, 1180), which
/// executes nothing until quorum returns. Such a statement was rolled back entirely, so
/// running it again is what its caller would do; at most [`STATEMENT_ATTEMPTS`] times,
/// over about 10 s, with jittered backoff.
pub(crate) async fn lost_statement<T, F, Fut>(op: F) -> Result<T, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(sqlx::Error::Database(e))
                if attempt < STATEMENT_ATTEMPTS && lost(e.code().as_deref(), e.message()) =>
            {
                tracing::debug!(attempt, error = %e, "statement lost to another; running it again");
                tokio::time::sleep(backoff(
                    attempt,
                    Duration::from_millis(20),
                    Duration::from_secs(2),
                ))
                .await;
            }
            other => return other,
        }
    }
}

/// Whether a statement error means it did nothing and may simply run again.
fn lost(code: Option<&str>, message: &str) -> bool {
    matches!(code, Some("40001" | "40P01"))
        || message.contains("Deadlock found when trying to get lock")
        || crate::cluster::galera::is_not_primary(message)
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

    #[test]
    fn lost_statements_are_told_from_failed_ones() {
        assert!(lost(
            Some("40001"),
            "Deadlock found when trying to get lock; try restarting transaction"
        ));
        assert!(lost(Some("40P01"), "deadlock detected"));
        assert!(lost(
            Some("08S01"),
            "WSREP has not yet prepared node for application use"
        ));
        assert!(lost(
            Some("HY000"),
            "Got error 6 \"No such device or address\" during COMMIT: Not connected to Primary Component"
        ));
        assert!(!lost(
            Some("23505"),
            "duplicate key value violates unique constraint"
        ));
        assert!(!lost(
            Some("HY000"),
            "Lock wait timeout exceeded; try restarting transaction"
        ));
    }
}
