//! Backfill benchmark on PostgreSQL: Straddle's batched backfill against the single
//! statement `UPDATE users SET email_normalized = lower(email)` (the physical limit),
//! side by side in one run, each on a freshly built table with the same sync trigger,
//! while a concurrent workload of single-row updates (each worker one every 5 ms)
//! measures what the application feels. With WORKERS=0 the comparison is of raw
//! throughput alone.
//!
//!     cargo run --release --example backfill_bench -- [ROWS] [WORKERS] [PACE_MS]   (default 1000000 4 5)
//!
//! PACE_MS is each worker's pause between updates; 0 runs them flat out.
//!
//! Server: STRADDLE_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); a
//! database `straddle_bench` is created and dropped.

use rand::Rng;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use straddle::{BackfillOptions, Model, Phase, ProgressMode, Runner, RunnerOptions};

#[derive(straddle::Model)]
#[straddle(table = "users")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    pub email_normalized: String,
}

enum Variant {
    SingleStatement,
    Straddle(&'static str, BackfillOptions),
}

struct Outcome {
    name: String,
    rows_per_sec: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    workload_ops: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let workers: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(4);
    let pace = Duration::from_millis(
        std::env::args()
            .nth(3)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(5),
    );
    let admin_url = std::env::var("STRADDLE_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let url = format!(
        "{}/straddle_bench",
        &admin_url[..admin_url.rfind('/').expect("URL with a database")]
    );
    let mut admin = PgConnection::connect(&admin_url).await?;

    let variants = vec![
        Variant::SingleStatement,
        Variant::Straddle(
            "straddle default (adaptive, 50 ms batches)",
            BackfillOptions::default(),
        ),
        Variant::Straddle(
            "straddle fixed 10k-row batches",
            BackfillOptions {
                fixed_batch: Some(10_000),
                ..Default::default()
            },
        ),
        Variant::Straddle(
            "straddle fixed 50k-row batches",
            BackfillOptions {
                fixed_batch: Some(50_000),
                ..Default::default()
            },
        ),
        Variant::Straddle(
            "straddle adaptive, 200 ms batches",
            BackfillOptions {
                batch_time: Some(Duration::from_millis(200)),
                ..Default::default()
            },
        ),
    ];
    println!(
        "PostgreSQL backfill benchmark: {rows} rows, {workers} concurrent single-row updaters, pause {pace:?}\n"
    );
    let mut outcomes = Vec::new();
    for v in variants {
        sqlx::query("DROP DATABASE IF EXISTS straddle_bench WITH (FORCE)")
            .execute(&mut admin)
            .await?;
        sqlx::query("CREATE DATABASE straddle_bench")
            .execute(&mut admin)
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(workers as u32 + 1)
            .connect(&url)
            .await?;
        sqlx::query("CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL)")
            .execute(&pool)
            .await?;
        sqlx::query(
            "INSERT INTO users SELECT g, 'User' || g || '@Example.COM' FROM generate_series(1, $1) g",
        )
        .bind(rows)
        .execute(&pool)
        .await?;
        sqlx::query("VACUUM ANALYZE users").execute(&pool).await?;
        // Same starting point for every variant: expand applied (column + sync trigger).
        let quiet = RunnerOptions {
            progress: ProgressMode::Off,
            ..Default::default()
        };
        let mut runner =
            Runner::<sqlx::Postgres>::connect(&url, &[User::definition()], quiet.clone()).await?;
        runner.up(Some(Phase::Expand), None).await?;
        runner.close().await?;
        sqlx::query("CHECKPOINT").execute(&pool).await?;

        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..workers)
            .map(|_| tokio::spawn(workload(pool.clone(), rows, stop.clone(), pace)))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let name = match &v {
            Variant::SingleStatement => {
                sqlx::query("UPDATE users SET email_normalized = lower(email)")
                    .execute(&pool)
                    .await?;
                "single UPDATE statement (baseline)".to_string()
            }
            Variant::Straddle(name, opts) => {
                let options = RunnerOptions {
                    backfill: opts.clone(),
                    ..quiet.clone()
                };
                let mut runner =
                    Runner::<sqlx::Postgres>::connect(&url, &[User::definition()], options).await?;
                runner.up(Some(Phase::Backfill), None).await?;
                runner.close().await?;
                name.to_string()
            }
        };
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let mut latencies: Vec<Duration> = Vec::new();
        for w in tasks {
            latencies.extend(w.await??);
        }
        if latencies.is_empty() {
            latencies.push(Duration::ZERO);
        }
        let nulls: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email_normalized IS NULL")
            .fetch_one(&pool)
            .await?;
        assert_eq!(nulls, 0, "{name}: every row filled");
        latencies.sort();
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        let o = Outcome {
            name,
            rows_per_sec: rows as f64 / took.as_secs_f64(),
            p50: pct(0.50),
            p99: pct(0.99),
            max: *latencies.last().unwrap(),
            workload_ops: latencies.len(),
        };
        println!(
            "{:<46} {:>9.0} rows/s  workload p50 {:>8.2?}  p99 {:>9.2?}  max {:>9.2?}  ({} updates)",
            o.name, o.rows_per_sec, o.p50, o.p99, o.max, o.workload_ops
        );
        outcomes.push(o);
        pool.close().await;
    }
    sqlx::query("DROP DATABASE IF EXISTS straddle_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;

    let base = outcomes[0].rows_per_sec;
    println!(
        "\n| variant | rows/s | × single statement | workload p99 | workload max |\n|---|---:|---:|---:|---:|"
    );
    for o in &outcomes {
        println!(
            "| {} | {:.0} | {:.2} | {:.1} ms | {:.1} ms |",
            o.name,
            o.rows_per_sec,
            o.rows_per_sec / base,
            o.p99.as_secs_f64() * 1e3,
            o.max.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Single-row updates of random rows, with `pace` between them (a service under load),
/// and their latencies.
async fn workload(
    pool: PgPool,
    rows: i64,
    stop: Arc<AtomicBool>,
    pace: Duration,
) -> Result<Vec<Duration>, sqlx::Error> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let id = rand::rng().random_range(1..=rows);
        let started = Instant::now();
        sqlx::query("UPDATE users SET email = email WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await?;
        out.push(started.elapsed());
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    Ok(out)
}
