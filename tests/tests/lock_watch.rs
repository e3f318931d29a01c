//! The `pg_locks` watcher of the rollout harness can fail: a session that holds ACCESS
//! EXCLUSIVE for 800 ms and scans the table under it is caught on all counts — the long
//! hold, the scan under a strong lock, and a lock stronger than its step claims.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use straddle_tests::rollout::{LockWatch, watch_locks};
use straddle_tests::{TestBackend, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sees_a_long_exclusive_lock_and_a_scan_under_it() {
    let Some(t) = TestDb::postgres("lockwatch").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::Postgres::exec(&mut conn, "CREATE TABLE watched (id BIGINT PRIMARY KEY)").await;
    let pid: i32 = sqlx::Postgres::text_rows(&mut conn, "SELECT pg_backend_pid()::text".into()).await[0]
        .parse()
        .unwrap();
    // As Straddle writes it: the table quoted.
    let scan = "SELECT count(*) FROM \"watched\", pg_sleep(0.8)";
    let claimed = straddle::ir::Step {
        name: "verify-watched".into(),
        transactional: false,
        ddl: false,
        statements: vec![straddle::ir::Statement::Execute(scan.into())],
        expects: Vec::new(),
        lock: Some(straddle::ir::step::TableLock::AccessShare),
        scans_table: false,
        legacy_checksums: Vec::new(),
    };
    let (watch, running) = (LockWatch::claiming(&[claimed]), AtomicBool::new(true));
    let offender = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for sql in [
            "BEGIN",
            "LOCK TABLE watched IN ACCESS EXCLUSIVE MODE",
            scan,
            "COMMIT",
        ] {
            sqlx::Postgres::exec(&mut conn, sql).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        running.store(false, Ordering::Relaxed);
    };
    tokio::join!(offender, watch_locks(&t.url, "watched", pid, &watch, &running));
    let longest = *watch.longest_exclusive.lock().unwrap();
    assert!(
        longest >= Duration::from_millis(600),
        "saw ACCESS EXCLUSIVE for only {longest:?}"
    );
    let too_strong = watch.too_strong.lock().unwrap();
    assert!(
        too_strong
            .iter()
            .any(|s| s.starts_with("AccessExclusiveLock during SELECT count(*)")),
        "{too_strong:?}"
    );
    let over = watch.over_claim.lock().unwrap();
    assert!(
        over.iter()
            .any(|s| s == "AccessExclusiveLock during step verify-watched, which claims AccessShareLock"),
        "{over:?}"
    );
}
