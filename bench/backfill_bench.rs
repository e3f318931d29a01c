//! Backfill benchmark, on PostgreSQL, MariaDB/MySQL or SQLite: Straddle's backfill and the
//! whole change (expand + backfill + contract) against the physical limit — the bare
//! statement `UPDATE users SET email_normalized = lower(email)` on the table with the
//! column added and **no** trigger — side by side in one run. Every variant starts from a
//! freshly built table of ROWS rows while WORKERS concurrent single-row updaters (each
//! pausing PACE_MS between updates; 0 = flat out, saturating the machine) measure what the
//! application feels.
//!
//!     cargo run --release --example backfill_bench -- ENGINE [ROWS] [WORKERS] [PACE_MS] [ROUNDS]
//!     (ENGINE: postgres | mysql | sqlite; default 1000000 4 5 1)
//!
//! With ROUNDS > 1 the variants run interleaved, round after round (drift hits all
//! alike), and the table reports each variant's median time and its slowest workload
//! statement over all rounds.
//!
//! Variants:
//! - `bare UPDATE, no trigger (limit)`: the baseline every ratio is against;
//! - `bare UPDATE, sync trigger installed`: what the trigger costs a statement that fills;
//! - `straddle backfill, default`: `straddle up --phase backfill` as shipped;
//! - `straddle backfill, fixed 10k batches`;
//! - `whole change`: expand + backfill + contract by the runner (each phase's time shown);
//! - SQLite: `table copy (rebuild's limit)`: what contract's table rebuild does at the
//!   least — the filled table copied into a new one with the column NOT NULL.
//!
//! `BENCH_VARIANTS=default,fixed` runs only the variants whose names contain one of the
//! words (the limit always runs: every ratio is against it).
//!
//! Servers: STRADDLE_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) and
//! STRADDLE_MYSQL_URL (default mysql://root@127.0.0.1:3306/test); a database
//! `straddle_bench` is created and dropped. SQLite runs in a temporary directory (WAL).

use rand::Rng;
use sqlx::{Connection, Pool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use straddle::{Backend, BackfillOptions, Dialect, Model, Phase, ProgressMode, Runner, RunnerOptions};

/// The release filling the column (backfill declared).
mod filling {
    #[derive(straddle::Model)]
    #[straddle(table = "users")]
    pub struct User {
        #[straddle(primary_key)]
        pub id: i64,
        pub email: String,
        #[straddle(added(phase = backfill, backfill = "lower(email)"))]
        pub email_normalized: String,
    }
}

/// The release that completes the change (contract declared).
mod complete {
    #[derive(straddle::Model)]
    #[straddle(table = "users")]
    pub struct User {
        #[straddle(primary_key)]
        pub id: i64,
        pub email: String,
        #[straddle(added(phase = contract, backfill = "lower(email)"))]
        pub email_normalized: String,
    }
}

#[derive(Clone)]
enum Variant {
    Limit,
    UpdateWithTrigger,
    Backfill(&'static str, BackfillOptions),
    WholeChange,
    TableCopy,
}

impl Variant {
    fn name(&self) -> String {
        match self {
            Variant::Limit => "bare UPDATE, no trigger (limit)".into(),
            Variant::UpdateWithTrigger => "bare UPDATE, sync trigger installed".into(),
            Variant::Backfill(name, _) => format!("straddle backfill, {name}"),
            Variant::WholeChange => "whole change (expand + backfill + contract)".into(),
            Variant::TableCopy => "table copy (rebuild's limit)".into(),
        }
    }
}

struct Outcome {
    variant: Variant,
    secs: f64,
    phases: Option<[f64; 3]>,
    p99: Duration,
    max: Duration,
    workload_ops: usize,
    workload_errors: usize,
    /// The backfill's batches and the time it was held by pacing signals, when it ran one.
    backfill: Option<(u64, u64)>,
}

struct Setup {
    rows: i64,
    workers: usize,
    pace: Duration,
    rounds: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let arg = |n: usize| std::env::args().nth(n);
    let engine = arg(1).unwrap_or_else(|| "postgres".into());
    let setup = Setup {
        rows: arg(2).map(|s| s.parse()).transpose()?.unwrap_or(1_000_000),
        workers: arg(3).map(|s| s.parse()).transpose()?.unwrap_or(4),
        pace: Duration::from_millis(arg(4).map(|s| s.parse()).transpose()?.unwrap_or(5)),
        rounds: arg(5).map(|s| s.parse()).transpose()?.unwrap_or(1),
    };
    let outcomes = match engine.as_str() {
        "postgres" => bench::<sqlx::Postgres>(&setup).await?,
        "mysql" | "mariadb" => bench::<sqlx::MySql>(&setup).await?,
        "sqlite" => bench::<sqlx::Sqlite>(&setup).await?,
        other => return Err(format!("unknown engine {other}: postgres, mysql or sqlite").into()),
    };
    report(&engine, &setup, &outcomes);
    Ok(())
}

fn report(engine: &str, setup: &Setup, outcomes: &[Outcome]) {
    let limit = outcomes[0].secs;
    println!(
        "\n{engine}, {} rows, {} single-row updaters pausing {:?}, median of {} round(s):\n",
        setup.rows, setup.workers, setup.pace, setup.rounds
    );
    println!("| variant | rows/s | × limit | workload p99 | workload max | workload errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for o in outcomes {
        println!(
            "| {} | {:.0} | {:.2} | {:.1} ms | {:.1} ms | {} of {} |",
            o.variant.name(),
            setup.rows as f64 / o.secs,
            limit / o.secs,
            o.p99.as_secs_f64() * 1e3,
            o.max.as_secs_f64() * 1e3,
            o.workload_errors,
            o.workload_ops
        );
    }
    for o in outcomes {
        if let Some([e, b, c]) = o.phases {
            println!(
                "\nwhole change, by phase: expand {:.3} s, backfill {:.3} s, contract {:.3} s",
                e, b, c
            );
            if let Some(copy) = outcomes.iter().find(|o| matches!(o.variant, Variant::TableCopy)) {
                println!(
                    "contract's table rebuild ÷ table copy: {:.2} (rebuild {:.3} s, copy {:.3} s)",
                    copy.secs / c,
                    c,
                    copy.secs
                );
            }
        }
    }
}

/// Where the benchmark's database lives: server databases are dropped and created again
/// for each variant; SQLite files are new ones in a temporary directory.
struct Place {
    dialect: Dialect,
    admin_url: String,
    dir: tempfile::TempDir,
    round: usize,
}

impl Place {
    fn new(dialect: Dialect) -> Result<Place, BoxError> {
        let admin_url = match dialect {
            Dialect::Postgres => std::env::var("STRADDLE_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            Dialect::MySql => std::env::var("STRADDLE_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
            Dialect::Sqlite => String::new(),
        };
        Ok(Place {
            dialect,
            admin_url,
            dir: tempfile::tempdir()?,
            round: 0,
        })
    }

    fn server_url(&self) -> String {
        let base = &self.admin_url[..self.admin_url.rfind('/').expect("URL with a database")];
        format!("{base}/straddle_bench")
    }

    /// Runs `sql` on the server's admin connection (PostgreSQL, MySQL).
    async fn admin(&self, sql: &'static str) -> Result<(), BoxError> {
        match self.dialect {
            Dialect::Postgres => {
                let mut admin = sqlx::PgConnection::connect(&self.admin_url).await?;
                sqlx::raw_sql(sql).execute(&mut admin).await?;
            }
            Dialect::MySql => {
                let mut admin = sqlx::MySqlConnection::connect(&self.admin_url).await?;
                sqlx::raw_sql(sql).execute(&mut admin).await?;
            }
            Dialect::Sqlite => unreachable!("SQLite has no server"),
        }
        Ok(())
    }

    /// A fresh, empty database; its URL.
    async fn fresh(&mut self) -> Result<String, BoxError> {
        self.round += 1;
        self.drop_all().await?;
        if self.dialect == Dialect::Sqlite {
            let url = format!("sqlite://{}?mode=rwc", self.sqlite_file(self.round).display());
            let mut c = sqlx::SqliteConnection::connect(&url).await?;
            sqlx::raw_sql("PRAGMA journal_mode = WAL").execute(&mut c).await?;
            c.close().await?;
            return Ok(url);
        }
        self.admin("CREATE DATABASE straddle_bench").await?;
        Ok(self.server_url())
    }

    fn sqlite_file(&self, round: usize) -> std::path::PathBuf {
        self.dir.path().join(format!("bench{round}.db"))
    }

    /// Drops the database (SQLite: the previous round's file).
    async fn drop_all(&self) -> Result<(), BoxError> {
        match self.dialect {
            Dialect::Postgres => {
                self.admin("DROP DATABASE IF EXISTS straddle_bench WITH (FORCE)")
                    .await
            }
            Dialect::MySql => self.admin("DROP DATABASE IF EXISTS straddle_bench").await,
            Dialect::Sqlite => {
                let _ = std::fs::remove_file(self.sqlite_file(self.round.saturating_sub(1)));
                Ok(())
            }
        }
    }
}

/// The engine's statements for the table, its rows and the workload.
struct Statements {
    create: &'static str,
    seed: String,
    analyze: &'static str,
    add_column: &'static str,
    fill: &'static str,
    workload: &'static str,
    /// The table copy (rebuild's limit), where contract rebuilds the table (SQLite).
    copy: &'static [&'static str],
}

fn statements(dialect: Dialect, rows: i64) -> Statements {
    let fill = "UPDATE users SET email_normalized = lower(email)";
    match dialect {
        Dialect::Postgres => Statements {
            create: "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL)",
            seed: format!(
                "INSERT INTO users SELECT g, 'User' || g || '@Example.COM' FROM generate_series(1, {rows}) g"
            ),
            analyze: "VACUUM ANALYZE users",
            add_column: "ALTER TABLE users ADD COLUMN email_normalized TEXT",
            fill,
            workload: "UPDATE users SET email = email WHERE id = $1",
            copy: &[],
        },
        Dialect::MySql => Statements {
            create: "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL)",
            seed: format!(
                "INSERT INTO users SELECT seq, CONCAT('User', seq, '@Example.COM') FROM seq_1_to_{rows}"
            ),
            analyze: "ANALYZE TABLE users",
            add_column: "ALTER TABLE users ADD COLUMN email_normalized TEXT",
            fill,
            workload: "UPDATE users SET email = email WHERE id = ?",
            copy: &[],
        },
        Dialect::Sqlite => Statements {
            create: "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)",
            seed: format!(
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) \
                 INSERT INTO users SELECT n, 'User' || n || '@Example.COM' FROM g"
            ),
            analyze: "ANALYZE",
            add_column: "ALTER TABLE users ADD COLUMN email_normalized TEXT",
            fill,
            workload: "UPDATE users SET email = email WHERE id = ?",
            copy: &[
                "CREATE TABLE users_copy (id INTEGER PRIMARY KEY, email TEXT NOT NULL, email_normalized TEXT NOT NULL)",
                "INSERT INTO users_copy SELECT id, email, email_normalized FROM users",
            ],
        },
    }
}

async fn exec<DB: Backend>(pool: &Pool<DB>, sql: &str) -> Result<u64, BoxError> {
    let mut conn = pool.acquire().await?;
    Ok(DB::execute(&mut conn, sql.to_string(), Default::default()).await?)
}

fn options(backfill: BackfillOptions) -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        backfill,
        ..Default::default()
    }
}

async fn phase<DB: Backend>(
    url: &str,
    model: &'static straddle::ir::Model,
    to: Phase,
    opts: RunnerOptions,
) -> Result<Option<straddle::BackfillReport>, BoxError> {
    let mut runner = Runner::<DB>::connect(url, &[model], opts).await?;
    let runs = runner.up(Some(to), None).await?;
    runner.close().await?;
    Ok(runs.into_iter().find_map(|r| r.report.backfill))
}

async fn bench<DB: Backend>(setup: &Setup) -> Result<Vec<Outcome>, BoxError> {
    let mut variants = vec![
        Variant::Limit,
        Variant::UpdateWithTrigger,
        Variant::Backfill("default", BackfillOptions::default()),
        Variant::Backfill(
            "fixed 10k batches",
            BackfillOptions {
                fixed_batch: Some(10_000),
                ..Default::default()
            },
        ),
        Variant::WholeChange,
    ];
    let sql = statements(DB::DIALECT, setup.rows);
    if !sql.copy.is_empty() {
        variants.push(Variant::TableCopy);
    }
    if let Ok(wanted) = std::env::var("BENCH_VARIANTS") {
        variants.retain(|v| {
            matches!(v, Variant::Limit)
                || wanted
                    .split(',')
                    .any(|w| !w.is_empty() && v.name().contains(w.trim()))
        });
    }
    let mut place = Place::new(DB::DIALECT)?;
    let mut runs: Vec<Vec<Outcome>> = (0..variants.len()).map(|_| Vec::new()).collect();
    for round in 0..setup.rounds {
        if setup.rounds > 1 {
            println!("round {}", round + 1);
        }
        for (i, v) in variants.iter().enumerate() {
            runs[i].push(run_variant::<DB>(setup, &sql, &mut place, v.clone()).await?);
        }
    }
    place.drop_all().await?;
    // Median time per variant; the workload's worst over every round.
    Ok(runs
        .into_iter()
        .map(|mut rs| {
            rs.sort_by(|a, b| a.secs.total_cmp(&b.secs));
            let p99 = rs.iter().map(|o| o.p99).max().unwrap_or_default();
            let max = rs.iter().map(|o| o.max).max().unwrap_or_default();
            let ops = rs.iter().map(|o| o.workload_ops).sum();
            let errors = rs.iter().map(|o| o.workload_errors).sum();
            let mut median = rs.swap_remove(rs.len() / 2);
            median.p99 = p99;
            median.max = max;
            median.workload_ops = ops;
            median.workload_errors = errors;
            median
        })
        .collect())
}

async fn run_variant<DB: Backend>(
    setup: &Setup,
    sql: &Statements,
    place: &mut Place,
    v: Variant,
) -> Result<Outcome, BoxError> {
    let url = place.fresh().await?;
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(setup.workers as u32 + 1)
        .acquire_timeout(Duration::from_secs(120))
        .connect(&url)
        .await?;
    exec(&pool, sql.create).await?;
    exec(&pool, &sql.seed).await?;
    exec(&pool, sql.analyze).await?;
    // The starting point: the column added, without (limit) or with its sync trigger.
    match v {
        Variant::Limit | Variant::TableCopy => {
            exec(&pool, sql.add_column).await?;
        }
        Variant::UpdateWithTrigger | Variant::Backfill(..) => {
            phase::<DB>(
                &url,
                filling::User::definition(),
                Phase::Expand,
                options(Default::default()),
            )
            .await?;
        }
        Variant::WholeChange => {}
    }
    if let Variant::TableCopy = v {
        exec(&pool, sql.fill).await?;
    }
    if DB::DIALECT == Dialect::Postgres {
        exec(&pool, "CHECKPOINT").await?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..setup.workers)
        .map(|_| {
            tokio::spawn(workload::<DB>(
                pool.clone(),
                sql.workload,
                setup.rows,
                stop.clone(),
                setup.pace,
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut phases = None;
    let mut backfill = None;
    match &v {
        Variant::Limit | Variant::UpdateWithTrigger => {
            exec(&pool, sql.fill).await?;
        }
        Variant::Backfill(_, opts) => {
            backfill = phase::<DB>(
                &url,
                filling::User::definition(),
                Phase::Backfill,
                options(opts.clone()),
            )
            .await?;
        }
        Variant::WholeChange => {
            let model = complete::User::definition();
            let mut at = [0.0; 3];
            for (i, p) in [Phase::Expand, Phase::Backfill, Phase::Contract]
                .into_iter()
                .enumerate()
            {
                let t = Instant::now();
                if let Some(report) = phase::<DB>(&url, model, p, options(Default::default())).await? {
                    backfill = Some(report);
                }
                at[i] = t.elapsed().as_secs_f64();
            }
            phases = Some(at);
        }
        Variant::TableCopy => {
            for s in sql.copy {
                exec(&pool, s).await?;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in tasks {
        let (l, e) = w.await?;
        latencies.extend(l);
        errors += e;
    }
    if latencies.is_empty() {
        latencies.push(Duration::ZERO);
    }
    let unfilled = {
        let mut conn = pool.acquire().await?;
        DB::scalar_i64(
            &mut conn,
            "SELECT count(*) FROM users WHERE email_normalized IS NULL OR email_normalized <> lower(email)"
                .into(),
            Default::default(),
        )
        .await?
        .unwrap_or(-1)
    };
    assert_eq!(unfilled, 0, "{}: every row filled, and right", v.name());
    latencies.sort();
    let o = Outcome {
        variant: v.clone(),
        secs,
        phases,
        p99: latencies[((latencies.len() as f64 * 0.99) as usize).min(latencies.len() - 1)],
        max: *latencies.last().expect("one latency"),
        workload_ops: latencies.len(),
        workload_errors: errors,
        backfill: backfill.map(|r| (r.batches, r.throttled_ms)),
    };
    let batches = match o.backfill {
        Some((batches, held)) => format!(
            "  {batches} batches of {:.0} rows, held {held} ms",
            setup.rows as f64 / batches.max(1) as f64
        ),
        None => String::new(),
    };
    println!(
        "{:<46} {:>8.3} s {:>9.0} rows/s  workload p99 {:>9.2?}  max {:>9.2?}  ({} updates, {} failed){batches}",
        o.variant.name(),
        o.secs,
        setup.rows as f64 / o.secs,
        o.p99,
        o.max,
        o.workload_ops,
        o.workload_errors
    );
    pool.close().await;
    Ok(o)
}

/// Single-row updates of random rows, with `pace` between them; their latencies, and how
/// many failed (a failure is counted, not fatal: SQLite's writers may time out waiting).
async fn workload<DB: Backend>(
    pool: Pool<DB>,
    sql: &'static str,
    rows: i64,
    stop: Arc<AtomicBool>,
    pace: Duration,
) -> (Vec<Duration>, usize) {
    let mut out = Vec::new();
    let mut errors = 0;
    while !stop.load(Ordering::Relaxed) {
        let id = rand::rng().random_range(1..=rows);
        let started = Instant::now();
        let mut args = DB::Arguments::default();
        DB::bind_i64(&mut args, id).expect("bind");
        let result = match pool.acquire().await {
            Ok(mut conn) => DB::execute(&mut conn, sql.to_string(), args).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if result.is_err() {
            errors += 1;
        }
        out.push(started.elapsed());
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    (out, errors)
}
