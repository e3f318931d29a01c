//! The runner lease (SQLite; MariaDB Galera uses the same lease) outlives a step longer
//! than itself: a backfill of more than the lease's 60 s keeps it, renewed by the
//! runner's own task, so a second runner arriving after 65 s still finds it held.

use std::time::Duration;
use straddle::{BackfillOptions, ErrorKind, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_longer_than_the_lease_keeps_it() {
    let t = TestDb::sqlite("lease").await.unwrap();
    let pool = t.pool::<sqlx::Sqlite>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::Sqlite::exec(
        &mut conn,
        &base_table_sql(Normalized::definition(), straddle::Dialect::Sqlite),
    )
    .await;
    for sql in seed_sql(straddle::Dialect::Sqlite, "users", 3000) {
        sqlx::Sqlite::exec(&mut conn, &sql).await;
    }
    drop(conn);
    let slow = RunnerOptions {
        progress: ProgressMode::Off,
        backfill: BackfillOptions {
            // 3,000 rows at 40 rows/s: 75 s in one step.
            fixed_batch: Some(40),
            max_rows_per_sec: Some(40),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut first = Runner::<sqlx::Sqlite>::connect(&t.url, &[Normalized::definition()], slow)
        .await
        .unwrap();
    first.up(Some(Phase::Expand), None).await.unwrap();
    let second = async {
        tokio::time::sleep(Duration::from_secs(65)).await;
        Runner::<sqlx::Sqlite>::connect(
            &t.url,
            &[Normalized::definition()],
            RunnerOptions {
                progress: ProgressMode::Off,
                wait_for_runner: Duration::from_secs(2),
                ..Default::default()
            },
        )
        .await
    };
    let (runs, second) = tokio::join!(first.up(None, None), second);
    runs.unwrap();
    first.close().await.unwrap();
    match second {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Busy, "{e}"),
        Ok(_) => panic!("a second runner took the lock 65 s into the first one's backfill"),
    }
}
