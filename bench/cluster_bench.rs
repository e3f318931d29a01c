//! Backfills on clusters, in one run: what pacing on replication lag costs and buys.
//!
//!     cargo run --release --example cluster_bench -- [ROWS] [ROUNDS] [LIMIT_MS]
//!     (default 200000 2 250)
//!
//! - PostgreSQL primary + hot standby (private servers from the installed binaries): the
//!   default backfill with standby lag not checked, and held at LIMIT_MS
//!   (`--max-replica-lag`); the largest replay lag seen (sampled every 20 ms on the primary
//!   from `pg_stat_replication`: replay lag in ms, WAL not yet replayed in bytes), rows/s.
//! - MariaDB primary + asynchronous replica (private): the same, the lag sampled every
//!   20 ms with a probe row of our own written on the primary and read on the replica.
//! - MariaDB Galera, 3 nodes (`tests/cluster/galera.sh`) against one MariaDB server (the
//!   shared one, STRADDLE_MYSQL_URL, default mysql://root@127.0.0.1:3306/mysql): the default
//!   backfill's rows/s, and how long flow control held it.
//!
//! Variants run interleaved, ROUNDS times each, every run on a freshly built table.

use sqlx::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use straddle::{Backend, BackfillOptions, Model, Phase, ProgressMode, Runner, RunnerOptions, SignalOptions};
use straddle_tests::cluster::{Galera, PrivateMariaDbReplica, PrivatePostgres};
use straddle_tests::models::Normalized;
use straddle_tests::{backfill_report, base_table_sql, seed_sql};

/// One backfill: rows/s, the largest lag seen (ms, bytes), time held by the signals.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    rows_per_sec: f64,
    lag_ms: f64,
    lag_bytes: i64,
    held_ms: u64,
}

async fn exec<DB: Backend>(url: &str, sql: String) {
    let mut c = DB::Connection::connect(url).await.unwrap();
    DB::execute(&mut c, sql.clone(), Default::default())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A fresh database `db` (dropped and created through `admin`, a URL to another database
/// of the server) holding `users` of `rows` rows; its URL.
async fn fresh<DB: Backend>(admin: &str, db: &str, rows: u64) -> String {
    let force = if DB::DIALECT == straddle::Dialect::Postgres {
        " WITH (FORCE)"
    } else {
        ""
    };
    exec::<DB>(admin, format!("DROP DATABASE IF EXISTS {db}{force}")).await;
    exec::<DB>(admin, format!("CREATE DATABASE {db}")).await;
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let mut c = DB::Connection::connect(&url).await.unwrap();
    for sql in [base_table_sql(Normalized::definition(), DB::DIALECT)]
        .into_iter()
        .chain(seed_sql(DB::DIALECT, "users", rows))
    {
        for one in sql.split(";\n").filter(|s| !s.trim().is_empty()) {
            DB::execute(&mut c, one.to_string(), Default::default())
                .await
                .unwrap_or_else(|e| panic!("{one}: {e}"));
        }
    }
    url
}

fn options(limit: Option<Duration>, replica: Option<String>) -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        backfill: BackfillOptions {
            signals: SignalOptions {
                max_replica_lag: limit,
                standby_urls: replica.into_iter().collect(),
                ..Default::default()
            },
            ..Default::default()
        },
        fleet: straddle::FleetOptions {
            ahead_of_code: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Expand, then the backfill timed while `sample` reads the lag every 20 ms; then back.
async fn backfill<DB: Backend, F, Fut>(admin: &str, rows: u64, options: RunnerOptions, sample: F) -> Run
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (f64, i64)>,
{
    let url = fresh::<DB>(admin, "bench_app", rows).await;
    let mut r = Runner::<DB>::connect(&url, &[Normalized::definition()], options)
        .await
        .unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = AtomicBool::new(true);
    let started = Instant::now();
    let (runs, (lag_ms, lag_bytes)) = tokio::join!(
        async {
            let runs = r.up(Some(Phase::Backfill), None).await.unwrap();
            running.store(false, Ordering::Relaxed);
            runs
        },
        async {
            let (mut ms, mut bytes) = (0f64, 0i64);
            while running.load(Ordering::Relaxed) {
                let (m, b) = sample().await;
                ms = ms.max(m);
                bytes = bytes.max(b);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (ms, bytes)
        }
    );
    let took = started.elapsed();
    let report = backfill_report(&runs);
    r.close().await.unwrap();
    Run {
        rows_per_sec: report.rows as f64 / took.as_secs_f64(),
        lag_ms,
        lag_bytes,
        held_ms: report.throttled_ms,
    }
}

fn print(title: &str, variants: &[(&str, Vec<Run>)]) {
    println!("\n{title}");
    println!(
        "  {:<44} {:>12} {:>14} {:>14} {:>10}",
        "variant", "rows/s", "max lag ms", "max lag bytes", "held ms"
    );
    let base = median(&variants[0].1, |r| r.rows_per_sec);
    for (name, runs) in variants {
        let rate = median(runs, |r| r.rows_per_sec);
        println!(
            "  {name:<44} {rate:>12.0} {:>14.0} {:>14} {:>10.0}   ({:.2}× the first)",
            runs.iter().map(|r| r.lag_ms).fold(0.0, f64::max),
            runs.iter().map(|r| r.lag_bytes).max().unwrap_or(0),
            median(runs, |r| r.held_ms as f64),
            rate / base
        );
    }
}

fn median(runs: &[Run], f: impl Fn(&Run) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The age of the newest probe row the replica has not applied (0: it has them all).
struct Probe {
    primary: sqlx::MySqlConnection,
    replica: sqlx::MySqlConnection,
    written: Vec<(i64, Instant)>,
}

impl Probe {
    async fn lag(&mut self) -> f64 {
        let n = self.written.len() as i64 + 1;
        sqlx::query("REPLACE INTO probe (id, n) VALUES (1, ?)")
            .bind(n)
            .execute(&mut self.primary)
            .await
            .unwrap();
        self.written.push((n, Instant::now()));
        let applied: i64 = sqlx::query_scalar("SELECT n FROM probe WHERE id = 1")
            .fetch_optional(&mut self.replica)
            .await
            .unwrap()
            .unwrap_or(0);
        self.written
            .iter()
            .find(|(m, _)| *m > applied)
            .map_or(0.0, |(_, at)| at.elapsed().as_secs_f64() * 1000.0)
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let rows = args.first().copied().unwrap_or(200_000);
    let rounds = args.get(1).copied().unwrap_or(2);
    let limit = Duration::from_millis(args.get(2).copied().unwrap_or(250));

    // PostgreSQL primary + hot standby.
    let primary = PrivatePostgres::start().expect("PostgreSQL binaries");
    let standby = PrivatePostgres::standby_of(&primary, "bench_standby");
    let admin = primary.url("postgres");
    let sample = || {
        let admin = admin.clone();
        async move {
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            let (ms, bytes): (f64, i64) = sqlx::query_as(
                "SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), 0)::float8, \
                 coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint FROM pg_stat_replication",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            (ms, bytes)
        }
    };
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        off.push(backfill::<sqlx::Postgres, _, _>(&admin, rows, options(None, None), sample).await);
        on.push(backfill::<sqlx::Postgres, _, _>(&admin, rows, options(Some(limit), None), sample).await);
    }
    print(
        &format!("PostgreSQL 15, primary + hot standby, {rows} rows, default backfill"),
        &[
            ("standby lag not checked", off),
            (&format!("--max-replica-lag {}ms", limit.as_millis()), on),
        ],
    );
    drop(standby);
    drop(primary);

    // MariaDB primary + asynchronous replica.
    let pair = PrivateMariaDbReplica::start().expect("MariaDB");
    let admin = pair.primary_url("mysql");
    exec::<sqlx::MySql>(&admin, "CREATE DATABASE probe_db".into()).await;
    let (url, replica_url) = (pair.primary_url("probe_db"), pair.replica_url("bench_app"));
    exec::<sqlx::MySql>(
        &url,
        "CREATE TABLE probe (id INT PRIMARY KEY, n BIGINT NOT NULL)".into(),
    )
    .await;
    let probe = tokio::sync::Mutex::new(Probe {
        primary: sqlx::MySqlConnection::connect(&url).await.unwrap(),
        replica: sqlx::MySqlConnection::connect(&pair.replica_url("probe_db"))
            .await
            .unwrap(),
        written: Vec::new(),
    });
    let sample = || async { (probe.lock().await.lag().await, 0) };
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        off.push(backfill::<sqlx::MySql, _, _>(&admin, rows, options(None, None), sample).await);
        on.push(
            backfill::<sqlx::MySql, _, _>(
                &admin,
                rows,
                options(Some(limit), Some(replica_url.clone())),
                sample,
            )
            .await,
        );
    }
    print(
        &format!(
            "MariaDB 10.11, primary + asynchronous replica, {rows} rows, default backfill (lag from a probe row)"
        ),
        &[
            ("replica lag not checked", off),
            (
                &format!("--replica-url, --max-replica-lag {}ms", limit.as_millis()),
                on,
            ),
        ],
    );
    drop(pair);

    // Galera against one server.
    let single =
        std::env::var("STRADDLE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".into());
    let g = Galera::start("cluster_bench").await.expect("the Galera cluster");
    let node = g.node_url(1, "mysql");
    let nothing = || async { (0.0, 0) };
    let (mut one, mut three) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(backfill::<sqlx::MySql, _, _>(&single, rows, options(None, None), nothing).await);
        three.push(backfill::<sqlx::MySql, _, _>(&node, rows, options(None, None), nothing).await);
    }
    print(
        &format!(
            "MariaDB 10.11: one server against a 3-node Galera cluster on the same machine, {rows} rows"
        ),
        &[
            ("one server", one),
            ("Galera, 3 nodes (flow control checked)", three),
        ],
    );
    exec::<sqlx::MySql>(&single, "DROP DATABASE bench_app".into()).await;
    exec::<sqlx::MySql>(&node, "DROP DATABASE bench_app".into()).await;
}
