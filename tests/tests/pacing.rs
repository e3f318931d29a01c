//! The backfill's load signal on PostgreSQL and MariaDB: while more statements run on the
//! server than `max_load` allows, the backfill waits between batches, and says so in its
//! report. (Standby lag: `standby.rs`.)

use std::time::Duration;
use straddle::{BackfillOptions, Model, Phase, ProgressMode, Runner, RunnerOptions, SignalOptions};
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, backfill_report, base_table_sql, per_dialect, seed_sql};

const ROWS: u64 = 4000;

per_dialect!(load_holds_the_backfill: postgres, mysql);

async fn load_holds_the_backfill<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Normalized::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", ROWS) {
        DB::exec(&mut conn, &sql).await;
    }
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        backfill: BackfillOptions {
            fixed_batch: Some(200),
            max_rows_per_sec: Some(4000),
            signals: SignalOptions {
                // Any other statement running holds it.
                max_load: Some(0),
                give_up_after: Duration::from_secs(120),
                ..Default::default()
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options)
        .await
        .unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    // A three-second statement on another connection, running when the backfill starts.
    let sleep = match DB::DIALECT {
        straddle::Dialect::Postgres => "SELECT CAST(1 AS bigint) FROM pg_sleep(3)",
        _ => "SELECT SLEEP(3)",
    };
    let (runs, slept) = tokio::join!(r.up(None, None), async {
        DB::scalar_i64(&mut conn, sleep.to_string(), Default::default()).await
    });
    slept.unwrap();
    let runs = runs.unwrap();
    r.close().await.unwrap();
    let report = backfill_report(&runs);
    assert_eq!(report.rows, ROWS, "{report:?}");
    assert!(report.throttled_ms >= 2000, "{report:?}");
    assert_eq!(report.throttled_by, ["load"], "{report:?}");
}
