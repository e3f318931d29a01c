//! Zero downtime, measured: the phases of a backfilled NOT NULL column applied to a
//! populated table on PostgreSQL and MariaDB while old code (plain SQL that knows
//! nothing of the column) and new generated code read and write it concurrently.
//!
//! Asserted: no statement of the workload failed; every row holds the right value
//! afterwards (old-code rows computed by the trigger or the backfill, new-code rows as
//! written); the slowest workload statement stayed under the DDL lock timeout plus a
//! margin. The old code stops before contract, as the last old instance does in a
//! rolling deploy. The new code's `Db` notices each phase through its own bounded-
//! staleness re-probe (nothing tells it). Latencies are printed per phase (`--nocapture`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use straddle::{BindFields, ColumnShape, Db, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql, seeded_email};

const ROWS: i64 = 100_000;
const LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// Scheduling and I/O slack on a loaded 2-core machine, beyond the lock timeout.
const MARGIN: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("traffic").await {
        phases_under_traffic::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("traffic").await {
        phases_under_traffic::<sqlx::MySql>(&t).await;
    }
}

#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    max_micros: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Stats {
    fn record<T, E: std::fmt::Display>(
        &self,
        what: &str,
        started: Instant,
        result: Result<T, E>,
    ) -> Option<T> {
        let micros = started.elapsed().as_micros() as u64;
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.failures.lock().unwrap().push(format!("{what}: {e}"));
                None
            }
        }
    }
    fn take_max(&self) -> Duration {
        Duration::from_micros(self.max_micros.swap(0, Ordering::Relaxed))
    }
}

/// Plain SQL, as the previous release sends it.
async fn raw<DB: TestBackend>(pool: &sqlx::Pool<DB>, sql: String) -> Result<u64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    DB::execute(&mut conn, sql, Default::default()).await
}

/// Whether the new code's snapshot has the column, so that a write stores the value.
fn column_known<DB: TestBackend>(db: &Db<DB>) -> bool {
    db.shape::<Normalized>().unwrap().columns[2] != ColumnShape::Absent
}

/// The email and the acceptable values a row reads as after new code wrote it: the value
/// written when its snapshot had the column, the backfill expression when it did not.
/// Only a write during which the snapshot changed (it re-probes before rendering, and
/// other queries may re-probe meanwhile) may have gone either way.
fn expect_after_write(row: &Normalized, before: bool, after: bool) -> (String, Vec<String>) {
    let (written, computed) = (row.email_normalized.clone(), row.email.to_lowercase());
    let values = match (before, after) {
        (true, true) => vec![written],
        (false, false) => vec![computed],
        _ => vec![written, computed],
    };
    (row.email.clone(), values)
}

async fn phases_under_traffic<DB: TestBackend>(t: &TestDb)
where
    Normalized: for<'r> sqlx::FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(12).await;
    {
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, &base_table_sql(Normalized::definition(), DB::DIALECT)).await;
        for sql in seed_sql(DB::DIALECT, "users", ROWS as u64) {
            DB::exec(&mut conn, &sql).await;
        }
    }
    // One process plays both releases here, so it cannot register as either: this test
    // measures locks and statements under traffic; tests/fleet.rs covers the fleet gate
    // (the old code stops before contract below, as the gate would require).
    let db = Db::builder(pool.clone())
        .without_registry()
        .build()
        .await
        .unwrap();
    let stats = Stats::default();
    let old_running = AtomicBool::new(true);
    let all_running = AtomicBool::new(true);
    // What new code last wrote, per id (ids ≡ 3 mod 4 and its own inserts).
    let written: Mutex<HashMap<i64, (String, Vec<String>)>> = Mutex::new(HashMap::new());
    let old_inserted = AtomicU64::new(0);

    // Old code: updates ids ≡ 1 (mod 4), inserts ids from 1_000_000; knows nothing of the column.
    let old_app = async {
        let mut n = 0i64;
        while old_running.load(Ordering::Relaxed) {
            n += 1;
            let id = (n * 40 % ROWS) / 4 * 4 + 1;
            let started = Instant::now();
            let r = raw(
                &pool,
                format!("UPDATE users SET email = 'Old{n}@Old.App' WHERE id = {id}"),
            )
            .await;
            stats.record("old update", started, r);
            let started = Instant::now();
            let r = raw(
                &pool,
                format!(
                    "INSERT INTO users (id, email) VALUES ({}, 'Old{n}@Insert.App')",
                    1_000_000 + n
                ),
            )
            .await;
            if stats.record("old insert", started, r).is_some() {
                old_inserted.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };

    // New code: the generated helpers, on ids ≡ 3 (mod 4) and its inserts from 2_000_000.
    let new_app = async {
        let mut n = 0i64;
        while all_running.load(Ordering::Relaxed) {
            n += 1;
            let id = (n * 36 % ROWS) / 4 * 4 + 3;
            let row = Normalized {
                id,
                email: format!("New{n}@New.App"),
                email_normalized: format!("custom {n}"),
            };
            let before = column_known(&db);
            let started = Instant::now();
            let r = db.update(&row).await;
            if stats.record("new update", started, r).is_some() {
                written
                    .lock()
                    .unwrap()
                    .insert(id, expect_after_write(&row, before, column_known(&db)));
            }
            let row = Normalized {
                id: 2_000_000 + n,
                email: format!("New{n}@Insert.App"),
                email_normalized: format!("inserted {n}"),
            };
            let before = column_known(&db);
            let started = Instant::now();
            let r = db.insert(&row).await;
            if stats.record("new insert", started, r).is_some() {
                written
                    .lock()
                    .unwrap()
                    .insert(row.id, expect_after_write(&row, before, column_known(&db)));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };

    // New code reading untouched rows (ids ≡ 0, 2 mod 4): the value must always be lower(email).
    let reader = |offset: i64| {
        let (db, stats, all_running) = (&db, &stats, &all_running);
        async move {
            let mut n = 0i64;
            while all_running.load(Ordering::Relaxed) {
                n += 1;
                let id = (n * 13 % (ROWS / 4 - 1)) * 4 + 4 + offset;
                let started = Instant::now();
                let r = db.find::<Normalized, _>(id).await;
                if let Some(row) = stats.record("new read", started, r) {
                    match row {
                        Some(row) if row.email_normalized == seeded_email(id).to_lowercase() => {}
                        other => stats
                            .failures
                            .lock()
                            .unwrap()
                            .push(format!("read {id}: {other:?}")),
                    }
                }
            }
        }
    };

    let migrate = async {
        let options = RunnerOptions {
            lock_timeout: LOCK_TIMEOUT,
            progress: ProgressMode::Off,
            // `Normalized` declares backfill: this run plays the next release's contract.
            fleet: straddle::FleetOptions {
                ahead_of_code: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut runner = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options)
            .await
            .unwrap();
        let mut report = Vec::new();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stats.take_max();
        for phase in Phase::ALL {
            if phase == Phase::Contract {
                // Every old instance is gone before contract (fleet gating), and nothing
                // violates the constraint.
                old_running.store(false, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(300)).await;
                let v = runner.verify(None).await.unwrap();
                assert_eq!(v[0].violations, 0, "{v:?}");
            }
            let started = Instant::now();
            let runs = runner
                .up(Some(phase), None)
                .await
                .unwrap_or_else(|e| panic!("{phase}: {e}"));
            let took = started.elapsed();
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rows = runs.iter().map(|r| r.report.rows_backfilled).sum::<u64>();
            report.push((phase, took, rows, stats.take_max()));
        }
        runner.close().await.unwrap();
        all_running.store(false, Ordering::Relaxed);
        report
    };

    let (report, ..) = tokio::join!(migrate, old_app, new_app, reader(0), reader(2));

    println!(
        "{:?}: {} workload statements",
        DB::DIALECT,
        stats.ops.load(Ordering::Relaxed)
    );
    for (phase, took, rows, max) in &report {
        println!(
            "  {phase:<9} took {took:>10.2?}  rows backfilled {rows:>6}  slowest concurrent statement {max:>9.2?}"
        );
    }
    let failures = stats.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} workload statements failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    for (phase, _, _, max) in &report {
        assert!(
            *max < LOCK_TIMEOUT + MARGIN,
            "{phase}: a workload statement took {max:?}"
        );
    }
    assert!(
        old_inserted.load(Ordering::Relaxed) > 0 && stats.ops.load(Ordering::Relaxed) > 500,
        "the workload ran"
    );

    // Every row holds the right value.
    db.refresh().await.unwrap();
    let rows = db.fetch_all::<Normalized>().await.unwrap();
    let written = written.into_inner().unwrap();
    let mut wrong = Vec::new();
    for row in &rows {
        let want = match written.get(&row.id) {
            Some((email, values)) => {
                if *email != row.email {
                    wrong.push(format!("{} email {:?} != {email:?}", row.id, row.email));
                }
                values.clone()
            }
            None => vec![row.email.to_lowercase()],
        };
        if !want.contains(&row.email_normalized) {
            wrong.push(format!("{}: {:?} not in {want:?}", row.id, row.email_normalized));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong rows, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let expected_rows = ROWS as usize
        + old_inserted.load(Ordering::Relaxed) as usize
        + written.keys().filter(|id| **id >= 2_000_000).count();
    assert_eq!(rows.len(), expected_rows, "no row lost or duplicated");
}
