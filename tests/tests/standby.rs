//! Backfills paced by a PostgreSQL hot standby (a private primary and a standby streaming
//! from it through a replication slot): a standby whose replay stops holds the backfill
//! until it replays again — measured on the standby itself (`--standby-url`) and, without
//! it, from the primary's view of its replay position — and a standby that goes away
//! holds it too (fail closed), until it is back. A step that locks a table exclusively
//! waits for (then refuses on) long readers of it on the standby, instead of stalling the
//! standby's reads, and returns only once the standby has replayed it.

use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle::{BackfillOptions, Model, Phase, ProgressMode, Runner, RunnerOptions, SignalOptions};
use straddle_tests::cluster::PrivatePostgres;
use straddle_tests::models::{Normalized, NormalizedContract};
use straddle_tests::{backfill_report, base_table_sql, seed_sql};

const ROWS: u64 = 20_000;

async fn exec(url: &str, sql: &str) {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut c)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Wait until the standby has replayed everything the primary has written.
async fn caught_up(primary: &str, standby: &str) {
    let started = Instant::now();
    loop {
        let behind = scalar(
            primary,
            "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM \
             pg_stat_replication",
        )
        .await;
        if behind == 0 && sqlx::PgConnection::connect(standby).await.is_ok() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the standby never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn options(signals: SignalOptions) -> RunnerOptions {
    RunnerOptions {
        allow_data_loss: true,
        progress: ProgressMode::Log,
        backfill: BackfillOptions {
            // Many short batches over about five seconds: the backfill passes its signals
            // many times while the test stops and starts the standby.
            fixed_batch: Some(250),
            max_rows_per_sec: Some(4000),
            signals,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Three seconds in, the backfill has not finished, and it makes no progress for one more
/// second (it is held); then `release` (what lets it go on).
async fn stays_held(url: &str, why: &str, release: impl std::future::Future<Output = ()>) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held_at = filled(url).await;
    assert!(held_at < ROWS as i64, "ran to the end ({held_at} rows) {why}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(filled(url).await, held_at, "the backfill went on {why}");
    release.await;
}

/// Rows filled so far on the primary.
async fn filled(url: &str) -> i64 {
    scalar(url, "SELECT count(email_normalized) FROM users").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_or_missing_standby_holds_the_backfill() {
    let Some(primary) = PrivatePostgres::start() else {
        return;
    };
    let standby = PrivatePostgres::standby_of(&primary, "standby_1");
    let admin = primary.url("postgres");
    exec(&admin, "CREATE DATABASE app").await;
    let (url, standby_url) = (primary.url("app"), standby.url("app"));
    let mut setup = base_table_sql(Normalized::definition(), straddle::Dialect::Postgres);
    for sql in seed_sql(straddle::Dialect::Postgres, "users", ROWS) {
        setup.push_str(";\n");
        setup.push_str(&sql);
    }
    exec(&url, &setup).await;
    caught_up(&admin, &standby_url).await;
    let model = Normalized::definition();

    // 1. Measured on the standby: its replay stops; the backfill holds until it resumes.
    let mut r = Runner::<sqlx::Postgres>::connect(
        &url,
        &[model],
        options(SignalOptions {
            max_replica_lag: Some(Duration::from_millis(500)),
            standby_urls: vec![standby_url.clone()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    r.up(Some(straddle::Phase::Expand), None).await.unwrap();
    caught_up(&admin, &standby_url).await;
    exec(&standby.url("postgres"), "SELECT pg_wal_replay_pause()").await;
    let control = standby.url("postgres");
    let resume = exec(&control, "SELECT pg_wal_replay_resume()");
    let (runs, ()) = tokio::join!(
        r.up(None, None),
        stays_held(&url, "while the standby replayed nothing", resume)
    );
    let runs = runs.unwrap();
    r.close().await.unwrap();
    let report = runs[0].report.backfill.clone().expect("a backfill ran");
    assert_eq!(filled(&url).await, ROWS as i64);
    assert!(report.throttled_ms >= 3000, "{report:?}");
    assert_eq!(report.throttled_by, ["replica lag"], "{report:?}");
    caught_up(&admin, &standby_url).await;
    assert_eq!(
        filled(&standby_url).await,
        ROWS as i64,
        "the standby has every row"
    );

    // 2. From the primary alone (no --standby-url): a standby whose replay position stops
    // moving while WAL waits is lagging by the time it has not moved.
    let mut r = Runner::<sqlx::Postgres>::connect(
        &url,
        &[model],
        options(SignalOptions {
            max_replica_lag: Some(Duration::from_millis(500)),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    // Back to before the change (the column dropped), to fill it again.
    r.down(None, None).await.unwrap();
    r.down(None, None).await.unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    caught_up(&admin, &standby_url).await;
    exec(&standby.url("postgres"), "SELECT pg_wal_replay_pause()").await;
    let control = standby.url("postgres");
    let resume = exec(&control, "SELECT pg_wal_replay_resume()");
    let (runs, ()) = tokio::join!(r.up(None, None), stays_held(&url, "with replay stopped", resume));
    let runs = runs.unwrap();
    r.close().await.unwrap();
    let report = backfill_report(&runs);
    assert!(report.throttled_ms >= 2000, "{report:?}");
    assert_eq!(filled(&url).await, ROWS as i64);

    // 3. Failing closed, through the command line: the standby goes away (its slot stays,
    // inactive); the backfill holds until it is back, and says why.
    caught_up(&admin, &standby_url).await;
    let mut r = Runner::<sqlx::Postgres>::connect(&url, &[model], options(SignalOptions::default()))
        .await
        .unwrap();
    r.down(None, None).await.unwrap();
    r.down(None, None).await.unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    r.close().await.unwrap();
    standby.stop("fast");
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args([
            "up",
            "--json",
            "--max-replica-lag",
            "500ms",
            "--batch-size",
            "250",
            "--max-rows-per-sec",
            "4000",
            "--database-url",
            &url,
        ])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    stays_held(&url, "with the standby gone", async { standby.start_again() }).await;
    let out = cli.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("replication slot `standby_1` has no standby connected"),
        "{stderr}"
    );
    let backfill = straddle_tests::json_backfill_report(&out.stdout);
    assert!(backfill["throttled_ms"].as_u64().unwrap() >= 3000, "{backfill:#}");
    assert_eq!(
        backfill["throttled_by"],
        serde_json::json!(["replica lag"]),
        "{backfill:#}"
    );
    assert_eq!(filled(&url).await, ROWS as i64);

    // 4. Contract takes ACCESS EXCLUSIVE locks. A long reader of `users` on the standby
    // would make the standby's replay of them wait (blocking every read of `users` there
    // for up to max_standby_streaming_delay): the step waits for it as for a lock, then
    // refuses, naming it, and changes nothing; a one-row read on the standby meanwhile
    // answers at once.
    caught_up(&admin, &standby_url).await;
    let contract_options = || RunnerOptions {
        lock_timeout: Duration::from_millis(300),
        ddl_attempts: 2,
        ..options(SignalOptions {
            standby_urls: vec![standby_url.clone()],
            ..Default::default()
        })
    };
    let mut reader = sqlx::PgConnection::connect(&standby_url).await.unwrap();
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM users")
        .execute(&mut reader)
        .await
        .unwrap();
    let mut r =
        Runner::<sqlx::Postgres>::connect(&url, &[NormalizedContract::definition()], contract_options())
            .await
            .unwrap();
    let refused = r.up(None, None).await.unwrap_err();
    let text = refused.to_string();
    assert_eq!(refused.kind(), straddle::ErrorKind::Refused, "{text}");
    assert!(
        text.contains("ACCESS EXCLUSIVE lock on users") && text.contains("SELECT count(*) FROM users"),
        "{text}"
    );
    let status = r.status(None).await.unwrap();
    assert_eq!(status[0].applied, [Phase::Expand, Phase::Backfill], "{status:?}");
    let one_row = Instant::now();
    scalar(&standby_url, "SELECT count(*) FROM users WHERE id = 1").await;
    assert!(
        one_row.elapsed() < Duration::from_secs(1),
        "{:?}",
        one_row.elapsed()
    );

    // The reader ends: contract runs, and returns only once the standby has replayed it
    // (its replay stopped for two seconds meanwhile).
    sqlx::raw_sql("COMMIT").execute(&mut reader).await.unwrap();
    exec(&standby.url("postgres"), "SELECT pg_wal_replay_pause()").await;
    let returned = std::sync::atomic::AtomicBool::new(false);
    let (runs, ()) = tokio::join!(
        async {
            let runs = r.up(None, None).await;
            returned.store(true, std::sync::atomic::Ordering::SeqCst);
            runs
        },
        async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            assert!(
                !returned.load(std::sync::atomic::Ordering::SeqCst),
                "contract returned while the standby had not replayed it"
            );
            exec(&standby.url("postgres"), "SELECT pg_wal_replay_resume()").await;
        }
    );
    let runs = runs.unwrap();
    assert_eq!(runs.last().unwrap().phase, Phase::Contract, "{runs:?}");
    r.close().await.unwrap();
    let not_null = scalar(
        &standby_url,
        "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'email_normalized' \
         AND attnotnull",
    )
    .await;
    assert_eq!(
        not_null, 1,
        "the runner returned before the standby replayed contract"
    );
}
