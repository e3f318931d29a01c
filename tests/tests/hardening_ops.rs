//! Issue 10, defect 14 — operating Straddle, against the real servers:
//! - a password given in the URL's query or a key-value DSN never reaches an error, text
//!   or `--json`;
//! - the runner lock is one per database: a migrator of an unrelated database never waits;
//!   one that has to wait names who holds it and since when;
//! - a server restart that outlasts a few reconnection attempts is waited out (bounded,
//!   configurable) and the run completes;
//! - a ledger table of another shape is named, not failed on with a bare SQL error;
//! - a database user without CREATE can still see `status`; applying tells which
//!   privilege is missing.

use std::process::Command;
use std::time::{Duration, Instant};
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::cluster::PrivatePostgres;
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

fn migrator(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

#[test]
fn secrets_never_reach_the_output() {
    for url in [
        "postgres://app@127.0.0.1:1/db?password=hunter2&sslmode=disable",
        "postgres://app:hunter2@127.0.0.1:1/db",
        "mysql://app@127.0.0.1:1/db?password=hunter2",
    ] {
        for args in [&["status"][..], &["status", "--json"][..], &["up"][..]] {
            let out = migrator(url, args);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success(), "{args:?}: {text}");
            assert!(
                !text.contains("hunter2"),
                "{url} {args:?}: the password was printed: {text}"
            );
            assert!(text.contains("****") && text.contains("127.0.0.1:1"), "{text}");
        }
    }
}

async fn seeded<DB: TestBackend>(t: &TestDb, rows: u64) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Normalized::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", rows) {
        DB::exec(&mut conn, &sql).await;
    }
}

/// Two databases on one MySQL server: a runner on each at once (the lock is the
/// database's, not the server's); a second runner on the same database waits, then gives
/// up naming the first.
async fn the_runner_lock_is_one_per_database<DB: TestBackend>(a: &TestDb, b: &TestDb) {
    let holder = Runner::<DB>::connect(&a.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    let started = Instant::now();
    let other = Runner::<DB>::connect(&b.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited for another database's runner"
    );
    other.close().await.unwrap();
    let busy = Runner::<DB>::connect(
        &a.url,
        &[Normalized::definition()],
        RunnerOptions {
            wait_for_runner: Duration::from_millis(600),
            ..options()
        },
    )
    .await;
    let err = match busy {
        Err(e) => e,
        Ok(_) => panic!("two runners on one database"),
    };
    assert!(matches!(err, Error::Busy { .. }), "{err}");
    let text = err.to_string();
    let pid = std::process::id().to_string();
    assert!(
        text.contains("held by") && text.contains(&format!(":{pid}:")) && text.contains(" s ago"),
        "{text}"
    );
    // Reading never waits for it.
    let started = Instant::now();
    let mut reader = Runner::<DB>::connect(
        &a.url,
        &[Normalized::definition()],
        RunnerOptions {
            read_only: true,
            ..options()
        },
    )
    .await
    .unwrap();
    reader.status(None).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    reader.close().await.unwrap();
    holder.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_lock_is_one_per_database_mysql() {
    let (Some(a), Some(b)) = (TestDb::mysql("lock_a").await, TestDb::mysql("lock_b").await) else {
        return;
    };
    the_runner_lock_is_one_per_database::<sqlx::MySql>(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_lock_is_one_per_database_postgres() {
    let (Some(a), Some(b)) = (TestDb::postgres("lock_a").await, TestDb::postgres("lock_b").await) else {
        return;
    };
    the_runner_lock_is_one_per_database::<sqlx::Postgres>(&a, &b).await;
}

/// A ledger table of that name, but not Straddle's.
async fn a_foreign_ledger_table_is_named<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        "CREATE TABLE _straddle_migrations (id INTEGER PRIMARY KEY, version TEXT, applied TEXT)",
    )
    .await;
    let err = match Runner::<DB>::connect(&t.url, &[Normalized::definition()], options()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a foreign ledger table was accepted"),
    };
    assert!(
        err.contains("a table named _straddle_migrations exists but is not Straddle's")
            && err.contains("version")
            && err.contains("lacks (change_id, phase"),
        "{err}"
    );
}

#[tokio::test]
async fn a_foreign_ledger_table_is_named_postgres() {
    if let Some(t) = TestDb::postgres("foreign_ledger").await {
        a_foreign_ledger_table_is_named::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test]
async fn a_foreign_ledger_table_is_named_mysql() {
    if let Some(t) = TestDb::mysql("foreign_ledger").await {
        a_foreign_ledger_table_is_named::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test]
async fn a_foreign_ledger_table_is_named_sqlite() {
    if let Some(t) = TestDb::sqlite("foreign_ledger").await {
        a_foreign_ledger_table_is_named::<sqlx::Sqlite>(&t).await;
    }
}

/// A role dropped when the test ends (also when it panics).
struct Role {
    name: String,
    admin: String,
}

impl Drop for Role {
    fn drop(&mut self) {
        let (name, admin) = (self.name.clone(), self.admin.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP OWNED BY \"{name}\"")))
                            .execute(&mut c)
                            .await;
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{name}\"")))
                            .execute(&mut c)
                            .await;
                    }
                })
        })
        .join();
    }
}

/// A user that may read but not create tables (PostgreSQL 15's default on `public`).
#[tokio::test]
async fn a_user_without_create_sees_status_and_is_told_what_to_grant_postgres() {
    let Some(t) = TestDb::postgres("no_create").await else {
        return;
    };
    seeded::<sqlx::Postgres>(&t, 10).await;
    let role = Role {
        name: format!("straddle_reader_{:08x}", rand::random::<u32>()),
        admin: t.url.clone(),
    };
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        format!("CREATE ROLE \"{}\" LOGIN", role.name),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_string(),
        format!("GRANT SELECT ON users TO \"{}\"", role.name),
    ] {
        <sqlx::Postgres as TestBackend>::exec(&mut conn, &sql).await;
    }
    let url = t
        .url
        .replacen("postgres://postgres@", &format!("postgres://{}@", role.name), 1);
    let out = migrator(&url, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status: {text}");
    assert!(text.contains("applied: nothing"), "{text}");
    let out = migrator(&url, &["up"]);
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert!(
        text.contains("cannot create Straddle's ledger tables") && text.contains("GRANT CREATE ON SCHEMA"),
        "{text}"
    );
}

/// The server is killed (`-m immediate`) in the middle of a backfill and comes back after
/// longer than the old reconnection attempts lasted (~2.3 s): the runner waits for it and
/// completes, every row filled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_is_waited_out_postgres() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let admin = pg.url("postgres");
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query("CREATE DATABASE app").execute(&mut c).await.unwrap();
    }
    let url = pg.url("app");
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(base_table_sql(
            Normalized::definition(),
            straddle::Dialect::Postgres,
        )))
        .execute(&mut c)
        .await
        .unwrap();
        for sql in seed_sql(straddle::Dialect::Postgres, "users", 60_000) {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
    let mut runner = Runner::<sqlx::Postgres>::connect(
        &url,
        &[Normalized::definition()],
        RunnerOptions {
            backfill: straddle::BackfillOptions {
                max_rows_per_sec: Some(15_000),
                ..Default::default()
            },
            reconnect_within: Duration::from_secs(30),
            ..options()
        },
    )
    .await
    .unwrap();
    runner.up(Some(Phase::Expand), None).await.unwrap();
    let restart = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = Instant::now();
        tokio::task::block_in_place(|| pg.stop("immediate"));
        tokio::time::sleep(Duration::from_secs(5)).await;
        tokio::task::block_in_place(|| pg.start_again());
        started.elapsed()
    };
    let (result, down) = tokio::join!(runner.up(Some(Phase::Backfill), None), restart);
    assert!(down > Duration::from_secs(4), "the server was down {down:?}");
    let runs = result.unwrap();
    assert_eq!(runs.last().unwrap().outcome, "applied");
    let mut status = runner.status(None).await.unwrap();
    assert_eq!(status.remove(0).violations, Some(0), "every row filled");
    runner.close().await.unwrap();
}
