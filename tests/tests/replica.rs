//! Backfills paced by a MariaDB asynchronous replica (`--replica-url`; a private primary
//! with a replica of its own): lag is read from a heartbeat row the runner writes, so a
//! replica whose SQL thread stops holds the backfill until it applies again, a replica
//! that cannot be reached holds it too (fail closed, named), and each step returns only
//! once the replica has applied it. The lag during an unthrottled and a throttled backfill
//! is printed side by side.

use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle::{
    BackfillOptions, ErrorKind, Model, Phase, ProgressMode, Runner, RunnerOptions, SignalOptions,
};
use straddle_tests::cluster::PrivateMariaDbReplica;
use straddle_tests::models::Normalized;
use straddle_tests::{backfill_report, seeded_users_sql};

const ROWS: u64 = 20_000;

async fn exec(url: &str, sql: &str) {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows filled so far.
async fn filled(url: &str) -> i64 {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(email_normalized) FROM users")
        .fetch_one(&mut c)
        .await
        .unwrap()
}

fn options(signals: SignalOptions) -> RunnerOptions {
    RunnerOptions {
        allow_data_loss: true,
        progress: ProgressMode::Off,
        backfill: BackfillOptions {
            // Many short batches over about five seconds.
            fixed_batch: Some(250),
            max_rows_per_sec: Some(4000),
            signals,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_or_missing_replica_holds_the_backfill() {
    let Some(pair) = PrivateMariaDbReplica::start() else {
        return;
    };
    exec(&pair.primary_url("mysql"), "CREATE DATABASE app").await;
    let (url, replica_url) = (pair.primary_url("app"), pair.replica_url("app"));
    let setup = seeded_users_sql(Normalized::definition(), straddle::Dialect::MySql, ROWS);
    exec(&url, &setup).await;
    let signals = SignalOptions {
        max_replica_lag: Some(Duration::from_millis(500)),
        standby_urls: vec![replica_url.clone()],
        ..Default::default()
    };
    let mut r = Runner::<sqlx::MySql>::connect(&url, &[Normalized::definition()], options(signals.clone()))
        .await
        .unwrap();
    // Expand returns once the replica has applied it: the column is there at once.
    r.up(Some(Phase::Expand), None).await.unwrap();
    let mut rc = sqlx::MySqlConnection::connect(&replica_url).await.unwrap();
    let columns: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'users' \
         AND COLUMN_NAME = 'email_normalized'",
    )
    .fetch_one(&mut rc)
    .await
    .unwrap();
    assert_eq!(columns, 1, "the replica had applied expand when it returned");

    // 1. The replica's SQL thread stops mid-backfill: the backfill holds until it applies again.
    let control = pair.replica_url("mysql");
    let held = async {
        while filled(&url).await < 2_000 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        exec(&control, "STOP SLAVE SQL_THREAD").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let at = filled(&url).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let still = filled(&url).await;
        exec(&control, "START SLAVE SQL_THREAD").await;
        (at, still)
    };
    let (runs, (at, still)) = tokio::join!(r.up(Some(Phase::Backfill), None), held);
    let report = backfill_report(&runs.unwrap());
    assert!(
        at < ROWS as i64,
        "the backfill was not over when the replica stopped ({at})"
    );
    assert_eq!(
        at, still,
        "the backfill went on while the replica applied nothing"
    );
    assert!(report.throttled_ms >= 2000, "{report:?}");
    assert_eq!(report.throttled_by, ["replica lag"], "{report:?}");
    assert_eq!(filled(&url).await, ROWS as i64);
    assert_eq!(
        filled(&replica_url).await,
        ROWS as i64,
        "the replica has every row"
    );

    // 2. Fail closed: a replica that cannot be reached holds the backfill, named, until
    // the backfill gives up (it resumes when run again).
    r.down(Some(Phase::Backfill), None).await.unwrap();
    r.close().await.unwrap();
    let gone = "mysql://root:hunter2@127.0.0.1:1/app".to_string();
    let mut r = Runner::<sqlx::MySql>::connect(
        &url,
        &[Normalized::definition()],
        options(SignalOptions {
            standby_urls: vec![gone],
            give_up_after: Duration::from_secs(2),
            ..signals.clone()
        }),
    )
    .await
    .unwrap();
    let e = r.up(Some(Phase::Backfill), None).await.unwrap_err();
    let message = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Failed, "{message}");
    assert!(
        message.contains("replica lag: the replica mysql://root:****@127.0.0.1:1/app cannot be reached")
            && !message.contains("hunter2"),
        "{message}"
    );
    r.close().await.unwrap();
}

/// The replica's lag while a backfill of 100,000 rows runs unthrottled, then throttled
/// at 500 ms: the largest lag seen, sampled every 50 ms from the replica's own heartbeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_lag_throttled_and_unthrottled() {
    const MANY: u64 = 100_000;
    let Some(pair) = PrivateMariaDbReplica::start() else {
        return;
    };
    exec(&pair.primary_url("mysql"), "CREATE DATABASE app").await;
    let (url, replica_url) = (pair.primary_url("app"), pair.replica_url("app"));
    let setup = seeded_users_sql(Normalized::definition(), straddle::Dialect::MySql, MANY);
    exec(&url, &setup).await;
    // Our own probe: a row written on the primary every 20 ms, its age read on the replica.
    exec(
        &url,
        "CREATE TABLE probe (id INT PRIMARY KEY, micros BIGINT NOT NULL)",
    )
    .await;
    let mut figures = Vec::new();
    for limit in [None, Some(Duration::from_millis(500))] {
        let mut r = Runner::<sqlx::MySql>::connect(
            &url,
            &[Normalized::definition()],
            RunnerOptions {
                allow_data_loss: true,
                progress: ProgressMode::Off,
                backfill: BackfillOptions {
                    signals: SignalOptions {
                        max_replica_lag: limit,
                        standby_urls: limit.map(|_| replica_url.clone()).into_iter().collect(),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
        r.up(Some(Phase::Expand), None).await.unwrap();
        let running = std::sync::atomic::AtomicBool::new(true);
        let started = Instant::now();
        let (runs, max_lag) = tokio::join!(
            async {
                let runs = r.up(Some(Phase::Backfill), None).await.unwrap();
                running.store(false, std::sync::atomic::Ordering::Relaxed);
                runs
            },
            async {
                let mut primary = sqlx::MySqlConnection::connect(&url).await.unwrap();
                let mut replica = sqlx::MySqlConnection::connect(&replica_url).await.unwrap();
                let mut max = Duration::ZERO;
                let mut written: Vec<(i64, Instant)> = Vec::new();
                let mut n = 0;
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    sqlx::query("REPLACE INTO probe (id, micros) VALUES (1, ?)")
                        .bind(n)
                        .execute(&mut primary)
                        .await
                        .unwrap();
                    written.push((n, Instant::now()));
                    let applied: Option<i64> = sqlx::query_scalar("SELECT micros FROM probe WHERE id = 1")
                        .fetch_optional(&mut replica)
                        .await
                        .unwrap();
                    let applied = applied.unwrap_or(0);
                    if let Some((_, at)) = written.iter().find(|(m, _)| *m > applied) {
                        max = max.max(at.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                max
            }
        );
        let took = started.elapsed();
        let report = backfill_report(&runs);
        figures.push((limit, took, max_lag, report.throttled_ms));
        r.down(Some(Phase::Backfill), None).await.unwrap();
        r.down(Some(Phase::Expand), None).await.unwrap();
        r.close().await.unwrap();
    }
    for (limit, took, max_lag, throttled_ms) in &figures {
        println!(
            "MariaDB replica, {MANY} rows, --max-replica-lag {}: backfill {:.0} rows/s ({took:.1?}), \
             largest replica lag seen {max_lag:.0?}, held {throttled_ms} ms",
            limit.map_or("off".to_string(), |l| format!("{l:?}")),
            MANY as f64 / took.as_secs_f64()
        );
    }
    let (throttled_lag, limit) = (figures[1].2, Duration::from_millis(500));
    // The limit, plus what one batch and the time between two readings may add.
    assert!(
        throttled_lag < limit + Duration::from_millis(700),
        "throttled, the replica stayed near the limit: {throttled_lag:?}"
    );
}
