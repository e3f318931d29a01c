//! The runner against the real servers: ledger and idempotence, checksum refusal,
//! contract gating, down, one runner at a time, DDL under a lock timeout while another
//! transaction holds the table, and a backfill killed with SIGKILL and resumed.

use std::time::{Duration, Instant};
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::{
    Account, AccountRetyped, Client, Contact, ContactIndexed, ContactRenamed, Customer, Normalized,
    NormalizedEdited, account,
};
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect, seed_sql};

const ROWS: u64 = 5000;

per_dialect!(ledger_and_idempotence);
per_dialect!(contract_refuses_until_backfilled);
per_dialect!(down_reverts_newest_first);
per_dialect!(one_runner_at_a_time);
per_dialect!(killed_backfill_resumes);
per_dialect!(renames_and_indexes_through_the_runner);
per_dialect!(type_changes_and_a_table_rename_through_the_runner);

/// These tests take one model through every phase (its declared phase is not the point:
/// tests/fleet.rs covers phases ahead of the code and the fleet gate).
fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        fleet: straddle::FleetOptions {
            ahead_of_code: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn seeded<DB: TestBackend>(t: &TestDb, rows: u64) -> sqlx::Pool<DB> {
    let pool = t.pool::<DB>(4).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Normalized::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", rows) {
        DB::exec(&mut conn, &sql).await;
    }
    pool
}

async fn runner<DB: TestBackend>(t: &TestDb, model: &'static straddle::ir::Model) -> Runner<DB> {
    Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap()
}

async fn count<DB: TestBackend>(pool: &sqlx::Pool<DB>, sql: &str) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    DB::text_rows(&mut conn, format!("SELECT CAST(({sql}) AS CHAR(20))")).await[0]
        .trim()
        .parse()
        .unwrap()
}

const CHANGE: &str = "users.email_normalized";

/// Structs mapping one table must agree: one renaming `email` while another indexes it
/// (and still declares it) is refused before anything is applied, naming both.
#[tokio::test]
async fn contradicting_models_are_refused() {
    let t = TestDb::sqlite("contradict").await.unwrap();
    let models = [ContactRenamed::definition(), ContactIndexed::definition()];
    let err = match Runner::<sqlx::Sqlite>::connect(&t.url, &models, options()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("contradicting models were accepted"),
    };
    assert!(err.contains("`ContactRenamed` renames `contacts.email` to `email_address`, but `ContactIndexed` still declares `email`"), "{err}");
    assert!(
        err.contains("but `ContactIndexed` indexes it (`contacts_email_key`)"),
        "{err}"
    );
}

/// A struct still mapping a table by the name another struct renames it away from is
/// refused before anything is applied.
#[tokio::test]
async fn a_struct_on_a_renamed_tables_old_name_is_refused() {
    let t = TestDb::sqlite("renamed_away").await.unwrap();
    let models = [Customer::definition(), Client::definition()];
    let err = match Runner::<sqlx::Sqlite>::connect(&t.url, &models, options()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a struct on the old name was accepted"),
    };
    assert!(
        err.contains("`Customer` renames table `clients` to `customers`, but `Client` still maps `clients`"),
        "{err}"
    );
}

/// Two renames, then two indexes, through the runner and its ledger: up to the declared
/// contract, every phase down (a rename's contract coming back copies the values into
/// the old column again; that reverse copy keeps no checkpoint, so the second round fills
/// again), and up once more — values intact at every stage.
async fn renames_and_indexes_through_the_runner<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Contact::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "contacts", 500) {
        DB::exec(&mut conn, &sql).await;
    }
    let q = |s: &str| DB::DIALECT.quote(s);
    let email_of_7 = |col: &str| format!("SELECT {} FROM {} WHERE {} = 7", q(col), q("contacts"), q("id"));
    // (model, what its contract leaves in the catalog, what its full revert leaves)
    let scenarios = [
        (ContactRenamed::definition(), "email_address", " email "),
        (ContactIndexed::definition(), "_email_key", "_note_idx"),
    ];
    for (model, after_up, after_down) in scenarios {
        for round in 0..2 {
            let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
            let runs = r.up(None, None).await.unwrap();
            assert!(
                runs.iter().all(|c| c.outcome == "applied"),
                "round {round}: {runs:?}"
            );
            assert_eq!(runs.len(), 2 * 3, "two changes, three phases each");
            let catalog = DB::catalog(&mut conn, "contacts").await;
            assert!(
                catalog.iter().any(|l| l.contains(after_up)),
                "round {round}: {catalog:?}"
            );
            for _ in 0..3 {
                r.down(None, None).await.unwrap();
            }
            let catalog = DB::catalog(&mut conn, "contacts").await;
            assert!(
                catalog.iter().any(|l| l.contains(after_down)),
                "round {round}: {catalog:?}"
            );
            assert!(
                !catalog.iter().any(|l| l.contains(after_up)),
                "round {round}: {catalog:?}"
            );
            assert_eq!(
                DB::text_rows(&mut conn, email_of_7("email")).await,
                vec![straddle_tests::seeded_email(7)],
                "round {round}: values intact"
            );
            r.close().await.unwrap();
        }
    }
}

async fn ledger_and_idempotence<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t, ROWS).await;
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    let runs = r.up(None, None).await.unwrap();
    let applied: Vec<_> = runs.iter().map(|c| (c.phase, c.outcome.as_str())).collect();
    assert_eq!(
        applied,
        [(Phase::Expand, "applied"), (Phase::Backfill, "applied")],
        "up goes to the declared phase"
    );
    assert_eq!(runs[1].report.rows_backfilled, ROWS);

    // Running again is a no-op, recorded nowhere.
    let ledger_len = r.ledger(CHANGE).await.unwrap().len();
    let again = r.up(None, None).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].outcome, "already applied");
    assert_eq!(r.ledger(CHANGE).await.unwrap().len(), ledger_len);

    // Every step is in the ledger, once, with its checksum and who applied it.
    let ledger = r.ledger(CHANGE).await.unwrap();
    let done: Vec<_> = ledger
        .iter()
        .filter(|l| l.status == "applied")
        .map(|l| (l.phase.as_str(), l.step.as_str()))
        .collect();
    let expected_steps: Vec<String> = [Phase::Expand, Phase::Backfill]
        .iter()
        .flat_map(|p| {
            straddle::phase_steps(
                Normalized::definition(),
                "email_normalized",
                *p,
                straddle::Direction::Up,
                DB::DIALECT,
            )
            .unwrap()
        })
        .map(|s| s.name)
        .collect();
    assert_eq!(
        done.iter().map(|(_, s)| s.to_string()).collect::<Vec<_>>(),
        expected_steps
    );
    assert!(
        ledger
            .iter()
            .all(|l| l.applied_by.contains(&std::process::id().to_string()))
    );
    assert_eq!(
        ledger.iter().filter(|l| l.step.is_empty()).count(),
        2,
        "one completion row per phase"
    );
    let status = r.status(None).await.unwrap();
    assert_eq!(status[0].applied, vec![Phase::Expand, Phase::Backfill]);
    assert_eq!(status[0].backfilled_rows, Some(ROWS));
    assert_eq!(status[0].violations, Some(0));
    r.close().await.unwrap();

    // The released backfill expression was edited afterwards: refused, naming the step.
    let mut edited = runner::<DB>(t, NormalizedEdited::definition()).await;
    let err = edited.up(Some(Phase::Contract), None).await.unwrap_err();
    match &err {
        Error::ChecksumMismatch { change, step, .. } => {
            assert_eq!(change, CHANGE);
            assert!(step.contains("trigger") || step == "backfill", "{step}");
        }
        other => panic!("expected a checksum mismatch, got {other}"),
    }
    assert!(err.to_string().contains("released migrations must not change"));
    assert!(edited.status(None).await.unwrap()[0].problem.is_some());
    edited.close().await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        0
    );
}

async fn contract_refuses_until_backfilled<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t, ROWS).await;
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    r.up(Some(Phase::Expand), None).await.unwrap();
    let verify = r.verify(None).await.unwrap();
    assert_eq!(verify[0].violations, ROWS as i64);
    assert_eq!(verify[0].sample, vec!["1", "2", "3", "4", "5"]);

    // Phases go in order, so contract always follows a backfill; make NULLs appear
    // behind the runner's back after it (its triggers out of the way for a moment and put
    // back as they were — the runner checks they are there — and values erased).
    r.up(Some(Phase::Backfill), None).await.unwrap();
    {
        let mut conn = pool.acquire().await.unwrap();
        let mut recreate = Vec::new();
        for name in straddle::ir::render::sync_trigger_names("users", "email_normalized") {
            let lit = DB::DIALECT.string_literal(&name);
            let (definition, on) = match DB::DIALECT {
                straddle::Dialect::Postgres => (
                    format!("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = {lit}"),
                    " ON users",
                ),
                straddle::Dialect::MySql => (
                    format!(
                        "SELECT CONCAT('CREATE TRIGGER `', TRIGGER_NAME, '` ', ACTION_TIMING, ' ', EVENT_MANIPULATION, \
                         ' ON `', EVENT_OBJECT_TABLE, '` FOR EACH ROW ', ACTION_STATEMENT) \
                         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = {lit}"
                    ),
                    "",
                ),
                straddle::Dialect::Sqlite => (
                    format!("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = {lit}"),
                    "",
                ),
            };
            recreate.extend(DB::text_rows(&mut conn, definition).await);
            DB::exec(
                &mut conn,
                &format!("DROP TRIGGER {}{on}", DB::DIALECT.quote(&name)),
            )
            .await;
        }
        DB::exec(
            &mut conn,
            "UPDATE users SET email_normalized = NULL WHERE id IN (7, 3)",
        )
        .await;
        for sql in &recreate {
            DB::exec(&mut conn, sql).await;
        }
    }
    let err = r.up(Some(Phase::Contract), None).await.unwrap_err();
    match &err {
        Error::Refused {
            count, sample, step, ..
        } => {
            assert_eq!(*count, 2);
            assert_eq!(sample, &vec!["3".to_string(), "7".to_string()]);
            assert!(step.contains("verify") || step.contains("rebuild"), "{step}");
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(err.to_string().contains("(2 offending rows, e.g. 3; 7)"), "{err}");
    let status = r.status(None).await.unwrap();
    assert!(!status[0].applied.contains(&Phase::Contract));
    assert_eq!(status[0].violations, Some(2));
    r.close().await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        2,
        "nothing changed"
    );
}

async fn down_reverts_newest_first<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t, ROWS).await;
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    r.up(Some(Phase::Contract), None).await.unwrap();
    let err = r.down(Some(Phase::Expand), None).await.unwrap_err();
    assert!(err.to_string().contains("revert contract first"), "{err}");

    let runs = r.down(None, None).await.unwrap();
    assert_eq!(
        (runs[0].phase, runs[0].outcome.as_str()),
        (Phase::Contract, "applied")
    );
    let runs = r.down(None, None).await.unwrap();
    assert_eq!(runs[0].phase, Phase::Backfill);
    assert_eq!(
        r.status(None).await.unwrap()[0].backfilled_rows,
        Some(0),
        "checkpoint forgotten"
    );
    // Expand down would drop a column full of values: refused unless allowed.
    let err = r.down(None, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { count, .. } if *count == ROWS as i64),
        "{err}"
    );
    assert!(err.to_string().contains("--allow-data-loss"));
    r.close().await.unwrap();
    let mut r = Runner::<DB>::connect(
        &t.url,
        &[Normalized::definition()],
        RunnerOptions {
            allow_data_loss: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(r.down(None, None).await.unwrap()[0].phase, Phase::Expand);
    assert_eq!(r.down(None, None).await.unwrap()[0].outcome, "nothing to revert");
    assert!(r.status(None).await.unwrap()[0].applied.is_empty());

    // And forward again from scratch: the ledger tells the new run from the old one.
    let runs = r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1].report.rows_backfilled, ROWS);
    r.close().await.unwrap();
    assert_eq!(
        count(&pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        0
    );
}

async fn one_runner_at_a_time<DB: TestBackend>(t: &TestDb) {
    let _pool = seeded::<DB>(t, ROWS).await;
    let first = runner::<DB>(t, Normalized::definition()).await;
    // A second runner that will not wait is told clearly, naming the database.
    let busy = Runner::<DB>::connect(
        &t.url,
        &[Normalized::definition()],
        RunnerOptions {
            wait_for_runner: Duration::from_millis(300),
            ..options()
        },
    )
    .await;
    match busy {
        Err(e @ Error::Busy { .. }) => assert!(e.to_string().contains("another straddle runner"), "{e}"),
        Err(e) => panic!("expected Busy, got {e}"),
        Ok(_) => panic!("two runners held the lock"),
    }
    first.close().await.unwrap();
    // Two runners started together: each step is applied exactly once.
    let (a, b) = tokio::join!(
        async {
            let mut r = runner::<DB>(t, Normalized::definition()).await;
            let runs = r.up(Some(Phase::Contract), None).await.unwrap();
            r.close().await.unwrap();
            runs
        },
        async {
            let mut r = runner::<DB>(t, Normalized::definition()).await;
            let runs = r.up(Some(Phase::Contract), None).await.unwrap();
            r.close().await.unwrap();
            runs
        }
    );
    let applied = a.iter().chain(&b).filter(|r| r.outcome == "applied").count();
    assert_eq!(
        applied, 3,
        "expand, backfill and contract applied once in all: {a:?} {b:?}"
    );
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    let ledger = r.ledger(CHANGE).await.unwrap();
    let mut steps: Vec<_> = ledger
        .iter()
        .filter(|l| l.status == "applied")
        .map(|l| (&l.phase, &l.step))
        .collect();
    let n = steps.len();
    steps.dedup();
    assert_eq!(steps.len(), n, "a step applied twice: {ledger:?}");
    r.close().await.unwrap();
}

/// A migrator process (the fixture binary) is killed with SIGKILL in the middle of the
/// backfill, then run again: every row is filled exactly once, and the ledger shows both
/// runs.
async fn killed_backfill_resumes<DB: TestBackend>(t: &TestDb) {
    let rows = 20_000u64;
    let pool = expanded_with_fill_counter::<DB>(t, rows).await;
    let bin = env!("CARGO_BIN_EXE_straddle-fixture");
    let spawn = || {
        std::process::Command::new(bin)
            .args([
                "backfill",
                CHANGE,
                "--batch-size",
                "250",
                "--pause-ms",
                "5",
                "--quiet",
            ])
            .env("DATABASE_URL", &t.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    // Kill it at a random point once batches are landing.
    let target = rows as i64 * rand::random_range(10..60) / 100;
    let started = Instant::now();
    loop {
        let done = count(&pool, "SELECT count(*) FROM fills").await;
        if done >= target {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "backfill made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill ended before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The server may still finish the batch statement in flight when the client died (it
    // notices only when it replies): wait until the count settles.
    let mut after_kill = count(&pool, "SELECT count(*) FROM fills").await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count(&pool, "SELECT count(*) FROM fills").await;
        if now == after_kill {
            break;
        }
        after_kill = now;
    }
    assert!(
        after_kill > 0 && after_kill < rows as i64,
        "killed mid-way: {after_kill}"
    );

    let out = spawn().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    assert_filled_once(&pool, rows).await;
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    let ledger = r.ledger(CHANGE).await.unwrap();
    let starts: Vec<_> = ledger
        .iter()
        .filter(|l| l.step == "backfill" && l.status == "started")
        .collect();
    assert_eq!(starts.len(), 2, "both runs are in the ledger: {ledger:?}");
    assert_ne!(starts[0].applied_by, starts[1].applied_by);
    let finished: Vec<_> = ledger
        .iter()
        .filter(|l| l.step == "backfill" && l.status == "applied")
        .collect();
    assert_eq!(finished.len(), 1);
    assert_eq!(
        finished[0].rows_touched,
        rows as i64 - after_kill,
        "the second run filled exactly the rest"
    );
    assert_eq!(r.status(None).await.unwrap()[0].backfilled_rows, Some(rows));
    r.close().await.unwrap();
}

/// A table of `rows` rows with expand applied and a `fills` table that records every
/// NULL → value transition of the new column, per row.
async fn expanded_with_fill_counter<DB: TestBackend>(t: &TestDb, rows: u64) -> sqlx::Pool<DB> {
    let pool = seeded::<DB>(t, rows).await;
    let mut r = runner::<DB>(t, Normalized::definition()).await;
    r.up(Some(Phase::Expand), None).await.unwrap();
    r.close().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, "CREATE TABLE fills (id BIGINT NOT NULL)").await;
    for sql in fill_counter(DB::DIALECT) {
        DB::exec(&mut conn, sql).await;
    }
    drop(conn);
    pool
}

/// No NULL left, and every row went from NULL to a value exactly once.
async fn assert_filled_once<DB: TestBackend>(pool: &sqlx::Pool<DB>, rows: u64) {
    assert_eq!(
        count(pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        0
    );
    assert_eq!(
        count(pool, "SELECT count(*) FROM fills").await,
        rows as i64,
        "each row filled once"
    );
    assert_eq!(
        count(pool, "SELECT count(DISTINCT id) FROM fills").await,
        rows as i64
    );
}

fn fill_counter(dialect: straddle::Dialect) -> Vec<&'static str> {
    match dialect {
        straddle::Dialect::Postgres => vec![
            "CREATE FUNCTION count_fill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF OLD.email_normalized IS NULL AND NEW.email_normalized IS NOT NULL THEN INSERT INTO fills VALUES (NEW.id); END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER count_fill AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION count_fill()",
        ],
        straddle::Dialect::MySql => vec![
            "CREATE TRIGGER count_fill AFTER UPDATE ON users FOR EACH ROW BEGIN \
             IF OLD.email_normalized IS NULL AND NEW.email_normalized IS NOT NULL THEN INSERT INTO fills VALUES (NEW.id); END IF; END",
        ],
        straddle::Dialect::Sqlite => vec![
            "CREATE TRIGGER count_fill AFTER UPDATE ON users FOR EACH ROW \
             WHEN OLD.email_normalized IS NULL AND NEW.email_normalized IS NOT NULL BEGIN INSERT INTO fills VALUES (NEW.id); END",
        ],
    }
}

#[tokio::test]
async fn unreachable_database_is_named_with_its_password_masked() {
    let url = "postgres://app:s3cret@127.0.0.1:1/prod";
    let err = Runner::<sqlx::Postgres>::connect(url, &[Normalized::definition()], options())
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to postgres://app:****@127.0.0.1:1/prod: "),
        "{msg}"
    );
    assert!(!msg.contains("s3cret"));
    assert!(msg.to_lowercase().contains("refused"), "names the cause: {msg}");
}

/// The server terminates the runner's session in the middle of the backfill: the runner
/// reconnects, takes its lock again and resumes from the checkpoint; every row is filled
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_connection_is_resumed() {
    let Some(t) = TestDb::postgres("reconnect").await else {
        return;
    };
    let rows = 20_000u64;
    let pool = expanded_with_fill_counter::<sqlx::Postgres>(&t, rows).await;
    let options = RunnerOptions {
        backfill: straddle::BackfillOptions {
            fixed_batch: Some(200),
            pause: Some(Duration::from_millis(3)),
            ..Default::default()
        },
        ..options()
    };
    let mut r = Runner::<sqlx::Postgres>::connect(&t.url, &[Normalized::definition()], options)
        .await
        .unwrap();
    let killer = async {
        loop {
            let done = count(&pool, "SELECT count(*) FROM fills").await;
            if done >= rows as i64 / 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut conn = pool.acquire().await.unwrap();
        let killed = sqlx::Postgres::text_rows(
            &mut conn,
            "SELECT CAST(pg_terminate_backend(pid) AS TEXT) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'WITH bounds AS%' AND pid <> pg_backend_pid()"
                .into(),
        )
        .await;
        assert_eq!(killed, vec!["true"], "terminated the runner's session");
    };
    let (runs, ()) = tokio::join!(r.up(Some(Phase::Backfill), None), killer);
    let runs = runs.unwrap();
    assert_eq!(runs[0].outcome, "applied");
    assert_filled_once(&pool, rows).await;
    let ledger = r.ledger(CHANGE).await.unwrap();
    let starts = ledger
        .iter()
        .filter(|l| l.step == "backfill" && l.status == "started")
        .count();
    assert_eq!(
        starts, 2,
        "the interrupted attempt and the resumed one: {ledger:?}"
    );
    assert_eq!(r.status(None).await.unwrap()[0].backfilled_rows, Some(rows));
    r.close().await.unwrap();
}

/// SQLite's NOT NULL rebuild works from the live table: a column the model does not
/// declare (with its default and values), an index and a trigger of the user's all
/// survive it; only the changed column's NOT NULL differs afterwards.
#[tokio::test]
async fn sqlite_rebuild_keeps_what_the_model_does_not_describe() {
    use straddle_tests::models::Audited;
    let t = TestDb::sqlite("keeps").await.unwrap();
    let pool = t.pool::<sqlx::Sqlite>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE audits (id INTEGER NOT NULL, checked_at TEXT NOT NULL, unique_code TEXT NOT NULL, \
         extra TEXT DEFAULT 'x', PRIMARY KEY (id))",
        "CREATE INDEX audits_checked ON audits (checked_at)",
        "CREATE TABLE audit_log (id INTEGER)",
        "CREATE TRIGGER audits_log AFTER INSERT ON audits BEGIN INSERT INTO audit_log VALUES (NEW.id); END",
        "INSERT INTO audits (id, checked_at, unique_code, extra) VALUES (1, 'now', 'ab', 'kept'), (2, 'then', 'cd', NULL)",
    ] {
        sqlx::Sqlite::exec(&mut conn, sql).await;
    }
    let before = sqlx::Sqlite::catalog(&mut conn, "audits").await;
    drop(conn);
    let mut r = runner::<sqlx::Sqlite>(&t, Audited::definition()).await;
    assert_eq!(
        r.up(Some(Phase::Contract), None)
            .await
            .unwrap()
            .last()
            .unwrap()
            .phase,
        Phase::Contract
    );
    r.close().await.unwrap();

    let mut conn = pool.acquire().await.unwrap();
    let after = sqlx::Sqlite::catalog(&mut conn, "audits").await;
    let expected: Vec<String> = before
        .iter()
        .cloned()
        .chain(std::iter::once(
            "column code_key TEXT NOT NULL default=- pk=0".to_string(),
        ))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(after, expected, "only code_key was added, NOT NULL");
    let rows = sqlx::Sqlite::text_rows(
        &mut conn,
        "SELECT id || ':' || coalesce(extra, 'NULL') || ':' || code_key FROM audits ORDER BY id".into(),
    )
    .await;
    assert_eq!(rows, vec!["1:kept:AB", "2:NULL:CD"]);
    sqlx::Sqlite::exec(
        &mut conn,
        "INSERT INTO audits (id, checked_at, unique_code, code_key) VALUES (3, 'x', 'ef', 'EF')",
    )
    .await;
    let logged = sqlx::Sqlite::text_rows(&mut conn, "SELECT group_concat(id) FROM audit_log".into()).await;
    assert_eq!(logged, vec!["1,2,3"], "the user's trigger survived the rebuild");
    let extra = sqlx::Sqlite::text_rows(&mut conn, "SELECT extra FROM audits WHERE id = 3".into()).await;
    assert_eq!(extra, vec!["x"], "the unknown column kept its default");
}

/// SQLite's NOT NULL rebuild refuses a table with clauses the catalog cannot describe —
/// and only then: column names that merely contain a keyword are not clauses.
#[tokio::test]
async fn sqlite_rebuild_refuses_only_real_clauses() {
    use straddle_tests::models::Audited;
    for (table_sql, refused) in [
        (
            "CREATE TABLE audits (id INTEGER NOT NULL, checked_at TEXT NOT NULL, unique_code TEXT NOT NULL, PRIMARY KEY (id))",
            None,
        ),
        (
            "CREATE TABLE audits (id INTEGER NOT NULL, checked_at TEXT NOT NULL,\n unique_code TEXT NOT NULL CHECK(length(unique_code) > 0), PRIMARY KEY (id))",
            Some("CHECK"),
        ),
        // An unnamed UNIQUE constraint is kept (tests/sqlite_rebuild.rs); its conflict
        // clause is in no catalog.
        (
            "CREATE TABLE audits (id INTEGER NOT NULL, checked_at TEXT NOT NULL, unique_code TEXT NOT NULL UNIQUE, PRIMARY KEY (id))",
            None,
        ),
        (
            "CREATE TABLE audits (id INTEGER NOT NULL, checked_at TEXT NOT NULL, unique_code TEXT NOT NULL UNIQUE ON CONFLICT IGNORE, PRIMARY KEY (id))",
            Some("CONFLICT"),
        ),
    ] {
        let t = TestDb::sqlite("clauses").await.unwrap();
        let pool = t.pool::<sqlx::Sqlite>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        sqlx::Sqlite::exec(&mut conn, table_sql).await;
        sqlx::Sqlite::exec(
            &mut conn,
            "INSERT INTO audits VALUES (1, 'now', 'ab'), (2, 'then', 'cd')",
        )
        .await;
        drop(conn);
        let mut r = runner::<sqlx::Sqlite>(&t, Audited::definition()).await;
        let result = r.up(Some(Phase::Contract), None).await;
        match refused {
            None => assert_eq!(result.unwrap().last().unwrap().phase, Phase::Contract),
            Some(clause) => match result.unwrap_err() {
                Error::Refused { sample, message, .. } => {
                    assert_eq!(sample, vec![clause.to_string()]);
                    assert!(
                        message.contains("clauses the catalog cannot describe"),
                        "{message}"
                    );
                }
                other => panic!("expected a refusal, got {other}"),
            },
        }
        r.close().await.unwrap();
    }
}

/// Two type changes, then a table rename, through the runner and its ledger: `verify`
/// before contract, up to the declared contract in one command, every phase down and up
/// again — this release's generated code reading the same values at every stage — and
/// `status` afterwards (it used to verify a contracted rename against its dropped old
/// column).
async fn type_changes_and_a_table_rename_through_the_runner<DB: TestBackend>(t: &TestDb)
where
    AccountRetyped: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Customer: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let d = DB::DIALECT;
    DB::exec(&mut conn, &base_table_sql(Account::definition(), d)).await;
    DB::exec(&mut conn, &base_table_sql(Client::definition(), d)).await;
    for sql in straddle_tests::seed_sql_with(d, "accounts", 300, &account::SEED)
        .into_iter()
        .chain(seed_sql(d, "clients", 300))
    {
        DB::exec(&mut conn, &sql).await;
    }
    let db = straddle::Db::new(pool.clone()).await.unwrap();
    let read = async || {
        let a = db.find::<AccountRetyped, _>(7_i64).await.unwrap().unwrap();
        let c = db.find::<Customer, _>(7_i64).await.unwrap().unwrap();
        (a.balance, a.points, c.email)
    };
    let expected = (31, account::points(31), straddle_tests::seeded_email(7));
    assert_eq!(read().await, expected, "before expand");
    // This release's code keeps running while every phase goes down (a rollback rehearsal
    // beyond what the fleet gate allows: the gate would have the code rolled back first).
    let rehearsal = RunnerOptions {
        fleet: straddle::FleetOptions {
            ignore: true,
            ..options().fleet
        },
        ..options()
    };
    for model in [AccountRetyped::definition(), Customer::definition()] {
        let mut r = Runner::<DB>::connect(&t.url, &[model], rehearsal.clone())
            .await
            .unwrap();
        r.up(Some(Phase::Backfill), None).await.unwrap();
        let verified = r.verify(None).await.unwrap();
        // `points` (i32 → i64) changes nothing on SQLite; a table rename has no rows to check.
        let checked = match (model.table.as_str(), d) {
            ("customers", _) => 0,
            (_, straddle::Dialect::Sqlite) => 1,
            _ => 2,
        };
        assert_eq!(verified.len(), checked, "{verified:?}");
        for v in verified {
            assert_eq!(v.violations, 0, "{v:?}");
        }
        assert_eq!(read().await, expected, "{}: filled", model.table);
        let runs = r.up(None, None).await.unwrap();
        assert!(
            runs.iter()
                .all(|c| c.outcome == "applied" && c.phase == Phase::Contract),
            "{runs:?}"
        );
        assert_eq!(read().await, expected, "{}: contracted", model.table);
        for _ in 0..3 {
            r.down(None, None).await.unwrap();
            assert_eq!(read().await, expected, "{}: going down", model.table);
        }
        r.up(None, None).await.unwrap();
        assert_eq!(read().await, expected, "{}: up again", model.table);
        for status in r.status(None).await.unwrap() {
            assert_eq!(status.applied.last(), Some(&Phase::Contract), "{status:?}");
        }
        r.close().await.unwrap();
    }
    let catalog = DB::catalog(&mut conn, "customers").await;
    assert!(
        catalog.iter().any(|l| l.contains("email")),
        "the table goes by its new name: {catalog:?}"
    );
}
