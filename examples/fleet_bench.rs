//! What registering in the fleet costs a `Db`, on PostgreSQL: query throughput with the
//! registry on (the default: heartbeat every 5 s, schema generation read every 1 s, both
//! off the request path) against the registry off, and against the physical limit — the
//! same single-row reads and writes as plain prepared sqlx statements. The variants run
//! interleaved, round after round, so that drift hits all alike. Then the registry's own
//! traffic, counted by the server over a window: writes and reads per instance per minute.
//!
//!     cargo run --release --example fleet_bench -- [ROUNDS] [SECS_PER_RUN] [WORKERS] [WINDOW_SECS] [WRITES]
//!     (default 5 3 4 30 1)
//!
//! One operation is a single-row read and (WRITES=1) a single-row update of that row; with
//! WRITES=0 reads only — CPU-bound, where a background task would show most.
//!
//! Server: STRADDLE_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); a
//! database `straddle_fleet_bench` is created and dropped.

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use straddle::Db;

#[derive(Clone, straddle::Model)]
#[straddle(table = "users")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub visits: i64,
}

const ROWS: i64 = 10_000;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Plain,
    RegistryOff,
    RegistryOn,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain sqlx statements (baseline)",
            Variant::RegistryOff => "Db, registry off",
            Variant::RegistryOn => "Db, registry on (default)",
        }
    }
}

/// One read and one write per operation, each worker on its own rows.
async fn run(pool: &PgPool, variant: Variant, workers: usize, secs: u64, writes: bool) -> f64 {
    let db = match variant {
        Variant::Plain => None,
        Variant::RegistryOff => Some(
            Db::builder(pool.clone())
                .model::<User>()
                .without_registry()
                .build()
                .await
                .unwrap(),
        ),
        Variant::RegistryOn => Some(Db::builder(pool.clone()).model::<User>().build().await.unwrap()),
    };
    let ops = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for w in 0..workers as i64 {
        let (db, pool, ops, running) = (db.clone(), pool.clone(), ops.clone(), running.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0i64;
            while running.load(Ordering::Relaxed) {
                let id = 1 + (w * 997 + i * 31) % ROWS;
                i += 1;
                match &db {
                    None => {
                        let mut u: User = sqlx::query_as("SELECT id, email, visits FROM users WHERE id = $1")
                            .bind(id)
                            .fetch_one(&pool)
                            .await
                            .unwrap();
                        u.visits += 1;
                        if writes {
                            sqlx::query("UPDATE users SET email = $1, visits = $2 WHERE id = $3")
                                .bind(&u.email)
                                .bind(u.visits)
                                .bind(u.id)
                                .execute(&pool)
                                .await
                                .unwrap();
                        }
                    }
                    Some(db) => {
                        let mut u = db.find::<User, _>(id).await.unwrap().unwrap();
                        u.visits += 1;
                        if writes {
                            db.update(&u).await.unwrap();
                        }
                    }
                }
                ops.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let rate = ops.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    if let Some(db) = db {
        db.deregister().await;
    }
    rate
}

/// CPU time this process has used, in nanoseconds (every thread's, from
/// `/proc/self/task/*/schedstat`: Linux).
fn cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

async fn counters(pool: &PgPool) -> (i64, i64) {
    // Writes to the registry, and reads of the generation (the per-second poll).
    sqlx::query_as(
        "SELECT (SELECT n_tup_upd + n_tup_ins FROM pg_stat_user_tables WHERE relname = '_straddle_instances'), \
         (SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables \
         WHERE relname = '_straddle_generation')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |n: usize, default: u64| -> u64 {
        std::env::args()
            .nth(n)
            .map(|s| s.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (rounds, secs, workers, window) = (arg(1, 5), arg(2, 3), arg(3, 4) as usize, arg(4, 30));
    let writes = arg(5, 1) == 1;
    let admin_url = std::env::var("STRADDLE_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let url = format!(
        "{}/straddle_fleet_bench",
        &admin_url[..admin_url.rfind('/').expect("URL with a database")]
    );
    let mut admin = PgConnection::connect(&admin_url).await?;
    sqlx::query("DROP DATABASE IF EXISTS straddle_fleet_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    sqlx::query("CREATE DATABASE straddle_fleet_bench")
        .execute(&mut admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(workers as u32 + 2)
        .connect(&url)
        .await?;
    sqlx::query("CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, visits BIGINT NOT NULL)")
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO users SELECT i, 'user' || i || '@example.org', 0 FROM generate_series(1, $1) AS i",
    )
    .bind(ROWS)
    .execute(&pool)
    .await?;

    let variants = [Variant::Plain, Variant::RegistryOff, Variant::RegistryOn];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    run(&pool, Variant::Plain, workers, 1, writes).await; // warm-up
    for round in 1..=rounds {
        for (i, v) in variants.iter().enumerate() {
            let r = run(&pool, *v, workers, secs, writes).await;
            println!("round {round}: {:<34} {r:>9.0} ops/s", v.name());
            rates[i].push(r);
        }
    }
    let median = |v: &Vec<f64>| {
        let mut s = v.clone();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        s[s.len() / 2]
    };
    let base = median(&rates[0]);
    let off = median(&rates[1]);
    println!(
        "\n{workers} workers, {secs} s per run, {rounds} rounds, median ops/s (one op = a read{}):\n",
        if writes { " and a write" } else { "" }
    );
    println!("| variant | ops/s | × baseline | × registry off | spread (min–max) |");
    println!("|---|---:|---:|---:|---:|");
    for (i, v) in variants.iter().enumerate() {
        let m = median(&rates[i]);
        let min = rates[i].iter().cloned().fold(f64::MAX, f64::min);
        let max = rates[i].iter().cloned().fold(0.0, f64::max);
        println!(
            "| {} | {m:.0} | {:.2} | {} | {min:.0}–{max:.0} |",
            v.name(),
            m / base,
            if *v == Variant::Plain {
                "".to_string()
            } else {
                format!("{:.3}", m / off)
            }
        );
    }

    // The registry's own cost: the process idle for the window without a registered
    // instance, then with one — CPU time used, and the server's count of its writes and
    // reads.
    let per_minute = |d: f64| d * 60.0 / window as f64;
    let idle_cpu = {
        let c0 = cpu_ns();
        tokio::time::sleep(Duration::from_secs(window)).await;
        cpu_ns() - c0
    };
    let db = Db::builder(pool.clone()).model::<User>().build().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (w0, r0) = counters(&pool).await;
    let c0 = cpu_ns();
    tokio::time::sleep(Duration::from_secs(window)).await;
    let registered_cpu = cpu_ns() - c0;
    let (w1, r1) = counters(&pool).await;
    db.deregister().await;
    println!(
        "\none registered instance over {window} s: {:.1} writes/min (heartbeats), {:.1} reads/min (generation \
         polls); process CPU {:.2} ms/min idle without it, {:.2} ms/min with it",
        per_minute((w1 - w0) as f64),
        per_minute((r1 - r0) as f64),
        per_minute(idle_cpu as f64 / 1e6),
        per_minute(registered_cpu as f64 / 1e6),
    );
    sqlx::query("DROP DATABASE straddle_fleet_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok(())
}
