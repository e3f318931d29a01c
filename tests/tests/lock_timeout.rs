//! A long transaction holds the table while expand runs. Straddle's DDL gives up its lock
//! request after the lock timeout and retries with backoff, so the application's reads
//! never wait much longer than the lock timeout; once the transaction ends, the step
//! completes. Measured side by side with the naive ALTER (no lock timeout), whose
//! queued lock request stalls every reader for as long as the transaction lasts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use straddle::{Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

const HOLD: Duration = Duration::from_millis(2500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("lock_timeout").await {
        // PostgreSQL counts the lock timeout in milliseconds.
        held_lock::<sqlx::Postgres>(&t, Duration::from_millis(300), Duration::from_millis(700)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("lock_timeout").await {
        // MySQL/MariaDB count lock_wait_timeout in whole seconds.
        held_lock::<sqlx::MySql>(&t, Duration::from_secs(1), Duration::from_millis(700)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_attempts_spent() {
    if let Some(t) = TestDb::postgres("lock_attempts_spent").await {
        attempts_spent::<sqlx::Postgres>(&t, Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_attempts_spent() {
    if let Some(t) = TestDb::mysql("lock_attempts_spent").await {
        attempts_spent::<sqlx::MySql>(&t, Duration::from_secs(1)).await;
    }
}

/// When every attempt times out on the lock, the error names the change, the phase, the
/// step, the table and the attempts — not the server's message alone — and nothing of the
/// step was applied: once the transaction ends, the same run goes through.
async fn attempts_spent<DB: TestBackend>(t: &TestDb, lock_timeout: Duration) {
    let pool = t.pool::<DB>(4).await;
    users_table(&pool, 100).await;
    let column_exists = |pool: sqlx::Pool<DB>| async move {
        let mut conn = pool.acquire().await.unwrap();
        DB::texts(
            &mut conn,
            "SELECT email FROM users WHERE email_normalized IS NULL AND id = 1".into(),
        )
        .await
        .is_ok()
    };
    let mut hold = pool.acquire().await.unwrap();
    blocker::<DB>(&mut hold).await;
    let options = || RunnerOptions {
        lock_timeout,
        ddl_attempts: 2,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut runner = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    let err = runner.up(Some(Phase::Expand), None).await.unwrap_err();
    runner.close().await.unwrap();
    let message = err.to_string();
    assert!(matches!(err, straddle::Error::LockNotGranted { .. }), "{err:?}");
    assert_eq!(err.kind().exit_code(), 1, "{message}");
    for part in [
        "users.email_normalized expand step `",
        "its lock on `users` was not granted within",
        "in 2 attempts",
        "nothing of it was applied",
        "--ddl-attempts",
    ] {
        assert!(message.contains(part), "{part:?} in: {message}");
    }
    assert!(!column_exists(pool.clone()).await, "nothing applied: {message}");

    DB::exec(&mut hold, "COMMIT").await;
    drop(hold);
    let mut runner = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    let runs = runner.up(Some(Phase::Expand), None).await.unwrap();
    runner.close().await.unwrap();
    assert_eq!(runs[0].outcome, "applied", "{runs:?}");
    assert!(column_exists(pool.clone()).await);
}

/// The table `Normalized` is changed on, before its change, with `rows` rows.
async fn users_table<DB: TestBackend>(pool: &sqlx::Pool<DB>, rows: u64) {
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Normalized::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", rows) {
        DB::exec(&mut conn, &sql).await;
    }
}

/// Reads one row at a time until `stop`; returns the slowest read.
async fn reader<DB: TestBackend>(pool: &sqlx::Pool<DB>, stop: &AtomicBool, failures: &AtomicU64) -> Duration {
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let started = Instant::now();
        let mut conn = pool.acquire().await.unwrap();
        let r = DB::texts(
            &mut conn,
            format!("SELECT email FROM users WHERE id = {}", n % 1000 + 1),
        )
        .await;
        drop(conn);
        if r.is_err() {
            failures.fetch_add(1, Ordering::Relaxed);
        }
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    slowest
}

/// A transaction that reads the table and stays open for `HOLD`.
async fn blocker<DB: TestBackend>(conn: &mut DB::Connection) {
    DB::exec(
        conn,
        if DB::DIALECT == straddle::Dialect::MySql {
            "START TRANSACTION"
        } else {
            "BEGIN"
        },
    )
    .await;
    DB::exec(conn, "SELECT count(*) FROM users").await;
}

async fn held_lock<DB: TestBackend>(t: &TestDb, lock_timeout: Duration, margin: Duration) {
    let pool = t.pool::<DB>(6).await;
    users_table(&pool, 5000).await;
    let failures = AtomicU64::new(0);

    // Straddle: expand under a lock timeout, with retries.
    let mut hold = pool.acquire().await.unwrap();
    blocker::<DB>(&mut hold).await;
    let stop = AtomicBool::new(false);
    let options = RunnerOptions {
        lock_timeout,
        ddl_attempts: 30,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut runner = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options)
        .await
        .unwrap();
    let started = Instant::now();
    let (runs, slowest, ..) = tokio::join!(
        async {
            let runs = runner.up(Some(Phase::Expand), None).await.unwrap();
            stop.store(true, Ordering::Relaxed);
            runs
        },
        reader(&pool, &stop, &failures),
        async {
            tokio::time::sleep(HOLD).await;
            DB::exec(&mut hold, "COMMIT").await;
        }
    );
    let took = started.elapsed();
    runner.close().await.unwrap();
    drop(hold);
    assert_eq!(runs[0].outcome, "applied");
    assert!(runs[0].report.retries >= 1, "the step had to retry: {runs:?}");
    assert!(
        took >= HOLD,
        "it completed only after the transaction ended ({took:?})"
    );

    // Naive: the same kind of DDL with no lock timeout.
    let mut hold = pool.acquire().await.unwrap();
    blocker::<DB>(&mut hold).await;
    let stop = AtomicBool::new(false);
    let mut ddl = pool.acquire().await.unwrap();
    let (_, naive_slowest, _) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            DB::exec(&mut ddl, "ALTER TABLE users ADD COLUMN naive TEXT").await;
            stop.store(true, Ordering::Relaxed);
        },
        reader(&pool, &stop, &failures),
        async {
            tokio::time::sleep(HOLD).await;
            DB::exec(&mut hold, "COMMIT").await;
        }
    );

    println!(
        "{:?}: transaction held {HOLD:?}; slowest read with Straddle (lock timeout {lock_timeout:?}, {} retries): {slowest:?}; \
         with a naive ALTER: {naive_slowest:?}",
        DB::DIALECT,
        runs[0].report.retries
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no read failed");
    assert!(
        slowest < lock_timeout + margin,
        "reads waited {slowest:?} behind Straddle's DDL"
    );
    assert!(
        naive_slowest > HOLD / 2,
        "the naive ALTER queues reads behind the transaction ({naive_slowest:?})"
    );
}
