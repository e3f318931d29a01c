//! MariaDB Galera (a real 3-node cluster, `tests/cluster/galera.sh`): GET_LOCK holds on
//! one node only, so the runner lock is a lease row that Galera's certification lets
//! exactly one of several concurrent claims win. Migrators started at once on different
//! nodes: exactly one applies each step, nothing is duplicated in the ledger, the others
//! wait and find the phases applied. The phases under application traffic on the other
//! nodes: no application statement fails, every row ends right.

use sqlx::Connection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use straddle::{ColumnShape, Db, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::cluster::Galera;
use straddle_tests::models::{Normalized, UsersBefore};
use straddle_tests::{seeded_email, seeded_users_sql};

const ROWS: u64 = 3000;

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        wait_for_runner: Duration::from_secs(120),
        ..Default::default()
    }
}

async fn migrate(url: String) -> Vec<(String, Phase, String)> {
    let mut r = Runner::<sqlx::MySql>::connect(&url, &[Normalized::definition()], options())
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let runs = r.up(None, None).await.unwrap_or_else(|e| panic!("{url}: {e}"));
    r.close().await.unwrap();
    runs.into_iter().map(|r| (r.change, r.phase, r.outcome)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrators_on_different_nodes_apply_each_step_once() {
    let Some(g) = Galera::start("galera_lock").await else {
        return;
    };
    g.exec(
        1,
        &seeded_users_sql(Normalized::definition(), straddle::Dialect::MySql, ROWS),
    )
    .await;

    // Three migrators at once, one per node.
    let (a, b, d) = tokio::join!(migrate(g.url(1)), migrate(g.url(2)), migrate(g.url(3)));
    let all = [a, b, d];
    for phase in [Phase::Expand, Phase::Backfill] {
        let applied = all
            .iter()
            .flatten()
            .filter(|(c, p, o)| c == "users.email_normalized" && *p == phase && o == "applied")
            .count();
        assert_eq!(applied, 1, "{phase} applied by exactly one migrator: {all:?}");
    }
    // The ledger, read on another node: every step once, nothing left started.
    let mut c3 = sqlx::MySqlConnection::connect(&g.url(3)).await.unwrap();
    let twice: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT phase, step, COUNT(*) FROM _straddle_migrations WHERE change_id = 'users.email_normalized' \
         AND direction = 'up' GROUP BY phase, step, status HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut c3)
    .await
    .unwrap();
    assert!(twice.is_empty(), "ledger rows written twice: {twice:?}");
    // A non-transactional step logs `started` before it runs: each has its `applied`.
    let abandoned: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM _straddle_migrations s WHERE s.status = 'started' AND NOT EXISTS (SELECT 1 FROM \
         _straddle_migrations a WHERE a.change_id = s.change_id AND a.phase = s.phase AND a.step = s.step \
         AND a.id > s.id AND a.status = 'applied')",
    )
    .fetch_one(&mut c3)
    .await
    .unwrap();
    assert_eq!(abandoned, 0, "abandoned started rows");
    let wrong: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE email_normalized IS NULL OR email_normalized <> lower(email)",
    )
    .fetch_one(&mut c3)
    .await
    .unwrap();
    assert_eq!(wrong, 0);
}

/// Application statements on a node, by phase: how many, the slowest, what failed.
#[derive(Default)]
struct Traffic {
    ops: std::sync::atomic::AtomicU64,
    max_micros: std::sync::atomic::AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

impl Traffic {
    fn record<T, E: std::fmt::Display>(&self, what: &str, started: Instant, r: Result<T, E>) -> Option<T> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.max_micros
            .fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        r.map_err(|e| self.failures.lock().unwrap().push(format!("{what}: {e}")))
            .ok()
    }
    fn take_max(&self) -> Duration {
        Duration::from_micros(self.max_micros.swap(0, Ordering::Relaxed))
    }
}

/// Certification failures and brute-force aborts a node counted so far: the conflicts
/// between its transactions and other nodes' that Galera resolved by aborting one.
async fn conflicts(url: &str) -> i64 {
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT CAST(SUM(VARIABLE_VALUE) AS SIGNED) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN \
         ('WSREP_LOCAL_CERT_FAILURES', 'WSREP_LOCAL_BF_ABORTS')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap()
}

/// The change's phases run by a migrator on node 1 while the previous release writes on
/// node 2 and this release reads and writes on node 3, each through its generated `Db`:
/// the backfill's batches and the applications' writes to the same rows conflict at
/// certification, and the loser is aborted with 1213 — the `Db` runs such a statement
/// again, so no application statement fails, and every row ends right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_under_traffic_on_other_nodes() {
    const ROWS: i64 = 20_000;
    let Some(g) = Galera::start("galera_traffic").await else {
        return;
    };
    g.exec(
        1,
        &seeded_users_sql(Normalized::definition(), straddle::Dialect::MySql, ROWS as u64),
    )
    .await;
    let pool = |n: u8| {
        let url = g.url(n);
        async move {
            let pool = sqlx::pool::PoolOptions::<sqlx::MySql>::new()
                .max_connections(4)
                .connect(&url)
                .await
                .unwrap();
            Db::builder(pool).without_registry().build().await.unwrap()
        }
    };
    let (old_db, new_db) = (pool(2).await, pool(3).await);
    let conflicts_before = conflicts(&g.url(2)).await + conflicts(&g.url(3)).await;
    let traffic = Traffic::default();
    let (old_running, all_running) = (AtomicBool::new(true), AtomicBool::new(true));
    // What this release last wrote per id: (email, the values email_normalized may read).
    let written: std::sync::Mutex<HashMap<i64, (String, Vec<String>)>> = Default::default();
    let old_inserted = std::sync::atomic::AtomicU64::new(0);

    // The previous release (no email_normalized): updates ids ≡ 1 (mod 4), inserts from 1,000,000.
    let old_app = async {
        let mut n = 0i64;
        while old_running.load(Ordering::Relaxed) {
            n += 1;
            let id = (n * 40 % ROWS) / 4 * 4 + 1;
            let row = UsersBefore {
                id,
                email: format!("Old{n}@Old.App"),
            };
            let started = Instant::now();
            traffic.record("old update", started, old_db.update(&row).await);
            let row = UsersBefore {
                id: 1_000_000 + n,
                email: format!("Old{n}@Insert.App"),
            };
            let started = Instant::now();
            if traffic
                .record("old insert", started, old_db.insert(&row).await)
                .is_some()
            {
                old_inserted.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let known = |db: &Db<sqlx::MySql>| db.shape::<Normalized>().unwrap().columns[2] != ColumnShape::Absent;
    // This release: updates ids ≡ 3 (mod 4), inserts from 2,000,000, reads ids ≡ 0 (mod 4).
    let new_app = async {
        let mut n = 0i64;
        while all_running.load(Ordering::Relaxed) {
            n += 1;
            for row in [
                Normalized {
                    id: (n * 36 % ROWS) / 4 * 4 + 3,
                    email: format!("New{n}@New.App"),
                    email_normalized: format!("custom {n}"),
                },
                Normalized {
                    id: 2_000_000 + n,
                    email: format!("New{n}@Insert.App"),
                    email_normalized: format!("inserted {n}"),
                },
            ] {
                let before = known(&new_db);
                let started = Instant::now();
                let r = if row.id < 2_000_000 {
                    new_db.update(&row).await
                } else {
                    new_db.insert(&row).await
                };
                if traffic.record("new write", started, r).is_some() {
                    let computed = row.email.to_lowercase();
                    let values = match (before, known(&new_db)) {
                        (true, true) => vec![row.email_normalized.clone()],
                        (false, false) => vec![computed],
                        _ => vec![row.email_normalized.clone(), computed],
                    };
                    written
                        .lock()
                        .unwrap()
                        .insert(row.id, (row.email.clone(), values));
                }
            }
            let id = (n * 52 % ROWS) / 4 * 4 + 4;
            let started = Instant::now();
            if let Some(row) = traffic.record("new read", started, new_db.find::<Normalized, _>(id).await)
                && row.as_ref().map(|r| r.email_normalized.clone()) != Some(seeded_email(id).to_lowercase())
            {
                traffic
                    .failures
                    .lock()
                    .unwrap()
                    .push(format!("read {id}: {row:?}"));
            }
        }
    };
    let migrate = async {
        let options = RunnerOptions {
            fleet: straddle::FleetOptions {
                ahead_of_code: true,
                ..Default::default()
            },
            ..options()
        };
        let mut r = Runner::<sqlx::MySql>::connect(&g.url(1), &[Normalized::definition()], options)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = traffic.take_max();
        let mut report = Vec::new();
        for phase in Phase::ALL {
            if phase == Phase::Contract {
                // The previous release's last instance is gone before contract.
                old_running.store(false, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let started = Instant::now();
            r.up(Some(phase), None)
                .await
                .unwrap_or_else(|e| panic!("{phase}: {e}"));
            let took = started.elapsed();
            tokio::time::sleep(Duration::from_millis(500)).await;
            report.push((phase, took, traffic.take_max()));
        }
        r.close().await.unwrap();
        all_running.store(false, Ordering::Relaxed);
        report
    };
    let (report, ..) = tokio::join!(migrate, old_app, new_app);
    let conflicts = conflicts(&g.url(2)).await + conflicts(&g.url(3)).await - conflicts_before;

    println!(
        "Galera, migrator on node 1, {ROWS} rows, the previous release on node 2 and this one on node 3: {} \
         statements, {conflicts} certification conflicts on nodes 2 and 3",
        traffic.ops.load(Ordering::Relaxed)
    );
    for (phase, took, max) in &report {
        println!("  {phase:<9} took {took:>9.2?}; slowest application statement {max:>9.2?}");
    }
    let failures = traffic.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} application statements failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(traffic.ops.load(Ordering::Relaxed) > 300, "the workload ran");
    for (phase, _, max) in &report {
        assert!(
            *max < Duration::from_secs(5),
            "{phase}: an application statement took {max:?}"
        );
    }

    // Every row right, read on node 1 once the cluster has applied everything.
    let mut c1 = sqlx::MySqlConnection::connect(&g.url(1)).await.unwrap();
    sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
        .execute(&mut c1)
        .await
        .unwrap();
    let rows: Vec<(i64, String, String)> = sqlx::query_as("SELECT id, email, email_normalized FROM users")
        .fetch_all(&mut c1)
        .await
        .unwrap();
    let written = written.into_inner().unwrap();
    let mut wrong = Vec::new();
    for (id, email, normalized) in &rows {
        let want = match written.get(id) {
            Some((e, values)) if e == email => values.clone(),
            Some((e, _)) => vec![format!("email {e}")],
            None => vec![email.to_lowercase()],
        };
        if !want.contains(normalized) {
            wrong.push(format!("{id}: {email} {normalized:?} not in {want:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong rows, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    let expected = ROWS as usize
        + old_inserted.load(Ordering::Relaxed) as usize
        + written.keys().filter(|id| **id >= 2_000_000).count();
    assert_eq!(rows.len(), expected, "no row lost or duplicated");
}

/// Contract's `MODIFY … NOT NULL` reads and rebuilds the table on every node at once: a
/// stall estimated over `--max-cluster-stall` is refused before anything runs, naming the
/// table and the estimate; under the limit it runs, and the estimate is printed beside
/// what it took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_would_stall_the_cluster_is_refused() {
    let Some(g) = Galera::start("galera_stall").await else {
        return;
    };
    let setup = seeded_users_sql(Normalized::definition(), straddle::Dialect::MySql, 50_000);
    g.exec(1, &(setup + "; ANALYZE TABLE users")).await;
    let mut c = sqlx::MySqlConnection::connect(&g.url(1)).await.unwrap();
    let options = |stall: Option<Duration>| RunnerOptions {
        max_cluster_stall: stall,
        fleet: straddle::FleetOptions {
            ahead_of_code: true,
            ..Default::default()
        },
        ..options()
    };
    let mut r = Runner::<sqlx::MySql>::connect(
        &g.url(1),
        &[Normalized::definition()],
        options(Some(Duration::from_millis(1))),
    )
    .await
    .unwrap();
    // Expand and backfill read no table under DDL.
    r.up(Some(Phase::Backfill), None).await.unwrap();
    let e = r.up(Some(Phase::Contract), None).await.unwrap_err();
    let message = e.to_string();
    assert_eq!(e.kind(), straddle::ErrorKind::Refused, "{message}");
    assert!(
        message.contains("users.email_normalized contract step `set-not-null` refused before it ran")
            && message.contains("reads every row of users")
            && message.contains("--max-cluster-stall"),
        "{message}"
    );
    let nullable: String = sqlx::query_scalar(
        "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' \
         AND COLUMN_NAME = 'email_normalized'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(nullable, "YES", "nothing ran");
    r.close().await.unwrap();
    let mut r = Runner::<sqlx::MySql>::connect(&g.url(1), &[Normalized::definition()], options(None))
        .await
        .unwrap();
    let started = Instant::now();
    r.up(Some(Phase::Contract), None).await.unwrap();
    println!("{message}\ncontract took {:.2?}", started.elapsed());
    r.close().await.unwrap();
}
