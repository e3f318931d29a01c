//! MariaDB Galera (a real 3-node cluster, `tests/cluster/galera.sh`): GET_LOCK holds on
//! one node only, so the runner lock is a lease row that Galera's certification lets
//! exactly one of several concurrent claims win. Migrators started at once on different
//! nodes: exactly one applies each step, nothing is duplicated in the ledger, the others
//! wait and find the phases applied.

use sqlx::Connection;
use std::time::Duration;
use straddle::{Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::cluster::Galera;
use straddle_tests::models::Normalized;
use straddle_tests::{base_table_sql, seed_sql};

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
    let mut c = sqlx::MySqlConnection::connect(&g.url(1)).await.unwrap();
    let mut setup = base_table_sql(Normalized::definition(), straddle::Dialect::MySql);
    for sql in seed_sql(straddle::Dialect::MySql, "users", ROWS) {
        setup.push_str(";\n");
        setup.push_str(&sql);
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut c)
        .await
        .unwrap();

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
