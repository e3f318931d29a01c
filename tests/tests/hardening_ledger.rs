//! Issue 10 — the ledger is checked, not trusted, against the real servers:
//! - defect 4: a backfill killed half-way, expand reverted, expand applied again — the new
//!   backfill starts from the first key (a checkpoint belongs to one incarnation of the
//!   column) and fills every row;
//! - defect 5: completion rows written by something else, or a catalog that is not what
//!   the recorded phases leave (a database restored from an older backup, a hand-made
//!   revert), make `up`, `down` and `status` refuse instead of answering "already
//!   applied".

use std::time::{Duration, Instant};
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect, seed_sql};

per_dialect!(a_checkpoint_dies_with_its_column);
per_dialect!(completion_rows_without_their_steps_are_refused);
per_dialect!(a_catalog_that_disagrees_with_the_ledger_is_refused);

const CHANGE: &str = "users.email_normalized";

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

async fn count<DB: TestBackend>(pool: &sqlx::Pool<DB>, sql: &str) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    DB::text_rows(&mut conn, format!("SELECT CAST(({sql}) AS CHAR(20))")).await[0]
        .trim()
        .parse()
        .unwrap()
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

/// The fixture migrator (a real process) with `args`.
fn migrator(t: &TestDb, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_straddle-fixture"));
    c.args(args)
        .arg("--quiet")
        .env("DATABASE_URL", &t.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

fn run(t: &TestDb, args: &[&str]) -> String {
    let out = migrator(t, args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

/// Kill a backfill half-way, revert expand (the column goes, with the half of the rows it
/// had), apply expand again and backfill: every row is filled — the old checkpoint, past
/// half the keys, belongs to the column that was dropped.
async fn a_checkpoint_dies_with_its_column<DB: TestBackend>(t: &TestDb) {
    let rows = 20_000u64;
    let pool = seeded::<DB>(t, rows).await;
    run(t, &["up", CHANGE, "--phase", "expand"]);
    let mut child = migrator(t, &["backfill", CHANGE, "--batch-size", "250", "--pause-ms", "5"])
        .spawn()
        .unwrap();
    let started = Instant::now();
    let filled = "SELECT count(*) FROM users WHERE email_normalized IS NOT NULL";
    while count(&pool, filled).await < rows as i64 / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the backfill made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backfill ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    run(t, &["down", CHANGE, "--allow-data-loss"]);
    run(t, &["up", CHANGE, "--phase", "backfill"]);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        0,
        "rows skipped: the backfill resumed from the dropped column's checkpoint"
    );
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    assert_eq!(r.status(None).await.unwrap()[0].backfilled_rows, Some(rows));
    r.up(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
}

/// Completion rows for backfill and contract, with the checksum of another phase's, and
/// no step behind them: refused — the column is nullable, the trigger present, rows NULL.
async fn completion_rows_without_their_steps_are_refused<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t, 1000).await;
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    let expand = r
        .ledger(CHANGE)
        .await
        .unwrap()
        .into_iter()
        .find(|row| row.step.is_empty() && row.phase == "expand")
        .unwrap();
    let d = DB::DIALECT;
    let q = |s: &str| d.quote(s);
    {
        let mut conn = pool.acquire().await.unwrap();
        for phase in ["backfill", "contract"] {
            DB::exec(
                &mut conn,
                &format!(
                    "INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) VALUES \
                     ('{CHANGE}', '{phase}', 'up', '', '{}', 'completed', 0, 0, 0, 0, 1, 'someone')",
                    q("_straddle_migrations"),
                    q("change_id"),
                    q("phase"),
                    q("direction"),
                    q("step"),
                    q("checksum"),
                    q("status"),
                    q("started_at_ms"),
                    q("finished_at_ms"),
                    q("duration_ms"),
                    q("rows_touched"),
                    q("attempts"),
                    q("applied_by"),
                    expand.checksum
                ),
            )
            .await;
        }
    }
    let err = r.up(Some(Phase::Contract), None).await.unwrap_err();
    assert!(matches!(err, Error::LedgerDisagrees { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the ledger says users.email_normalized is applied through")
            && text.contains("was recorded"),
        "{text}"
    );
    assert!(r.down(None, None).await.is_err(), "down trusts it either");
    let status = r.status(None).await.unwrap();
    assert!(status[0].problem.is_some(), "{status:?}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await,
        1000,
        "nothing was done"
    );
    r.close().await.unwrap();
}

/// The whole rollout applied, then undone behind the ledger's back (a restore from an
/// older backup, a hand-made revert): the sync trigger is back. `up` must not answer
/// "already applied".
async fn a_catalog_that_disagrees_with_the_ledger_is_refused<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t, 200).await;
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(
        r.up(Some(Phase::Contract), None).await.unwrap()[0].outcome,
        "already applied"
    );
    let d = DB::DIALECT;
    let [trigger, _] = straddle::ir::render::sync_trigger_names("users", "email_normalized");
    let revert = match d {
        straddle::Dialect::Postgres => vec![
            "ALTER TABLE users ALTER COLUMN email_normalized DROP NOT NULL".to_string(),
            format!(
                "CREATE FUNCTION \"{trigger}\"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
            ),
            format!(
                "CREATE TRIGGER \"{trigger}\" BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION \"{trigger}\"()"
            ),
        ],
        straddle::Dialect::MySql => vec![
            "ALTER TABLE users MODIFY email_normalized TEXT NULL".to_string(),
            format!(
                "CREATE TRIGGER `{trigger}` BEFORE INSERT ON users FOR EACH ROW SET NEW.email = NEW.email"
            ),
        ],
        straddle::Dialect::Sqlite => vec![format!(
            "CREATE TRIGGER `{trigger}` AFTER INSERT ON users FOR EACH ROW BEGIN SELECT 1; END"
        )],
    };
    {
        let mut conn = pool.acquire().await.unwrap();
        for sql in &revert {
            DB::exec(&mut conn, sql).await;
        }
    }
    let err = r.up(Some(Phase::Contract), None).await.unwrap_err().to_string();
    assert!(
        err.contains("applied through contract")
            && err.contains(&format!("drops trigger {trigger} on users")),
        "{err}"
    );
    if d != straddle::Dialect::Sqlite {
        assert!(
            err.contains("makes column users.email_normalized TEXT, NOT NULL is recorded, but the catalog does not show it"),
            "{err}"
        );
    }
    r.close().await.unwrap();
}
