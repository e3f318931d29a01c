//! Issue 11 — hand-written SQL steps (`sql(name, up, down, at, phase[, no_transaction])`)
//! on every engine: run by the phase they name, recorded in the ledger, undone by their
//! `down` going back (newest phase first), with the previous release and this one writing
//! and reading beside the rollout (`straddle_tests::releases`) — no statement may fail.
//! A step whose later statement fails leaves nothing of it behind (one transaction) and is
//! applied once the cause is gone; a step edited after it ran is refused (checksum).

use std::sync::atomic::AtomicI64;
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

/// Before: no hand-written step.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "journal")]
pub struct Journal0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// An engine-specific object at expand (PostgreSQL: an extension; elsewhere a table), a
/// table with a row at contract (on MySQL/MariaDB, whose DDL commits by itself, the row is
/// a step of its own), and an index built without blocking writes (PostgreSQL:
/// `CONCURRENTLY`, outside a transaction).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "journal",
    sql(
        name = "kinds",
        up(
            postgres = "CREATE EXTENSION IF NOT EXISTS citext",
            mysql = "CREATE TABLE IF NOT EXISTS journal_kinds (id INT PRIMARY KEY)",
            sqlite = "CREATE TABLE IF NOT EXISTS journal_kinds (id INTEGER PRIMARY KEY)"
        ),
        down(
            postgres = "DROP EXTENSION IF EXISTS citext",
            mysql = "DROP TABLE IF EXISTS journal_kinds",
            sqlite = "DROP TABLE IF EXISTS journal_kinds"
        ),
        phase = contract
    ),
    sql(
        name = "audit",
        at = contract,
        up(
            postgres = "CREATE TABLE journal_audit (id BIGINT PRIMARY KEY, note VARCHAR(40) NOT NULL);
                        INSERT INTO journal_audit (id, note) VALUES (1, 'a;b')",
            mysql = "CREATE TABLE journal_audit (id BIGINT PRIMARY KEY, note VARCHAR(40) NOT NULL)",
            sqlite = "CREATE TABLE journal_audit (id BIGINT PRIMARY KEY, note VARCHAR(40) NOT NULL);
                      INSERT INTO journal_audit (id, note) VALUES (1, 'a;b')"
        ),
        down = "DROP TABLE journal_audit",
        phase = contract
    ),
    sql(
        name = "audit_row",
        at = contract,
        up(postgres = "", sqlite = "", mysql = "INSERT INTO journal_audit (id, note) VALUES (1, 'a;b')"),
        down(postgres = "", sqlite = "", mysql = "DELETE FROM journal_audit WHERE id = 1"),
        phase = contract
    ),
    sql(
        name = "audit_note",
        at = contract,
        no_transaction,
        up(
            postgres = "CREATE INDEX CONCURRENTLY IF NOT EXISTS journal_audit_note ON journal_audit (note)",
            mysql = "CREATE INDEX journal_audit_note ON journal_audit (note)",
            sqlite = "CREATE INDEX IF NOT EXISTS journal_audit_note ON journal_audit (note)"
        ),
        down(
            postgres = "DROP INDEX CONCURRENTLY IF EXISTS journal_audit_note",
            mysql = "DROP INDEX journal_audit_note ON journal_audit",
            sqlite = "DROP INDEX IF EXISTS journal_audit_note"
        ),
        phase = contract
    )
)]
pub struct Journal1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// A step whose second statement fails until `journal_missing` exists.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "journal",
    dialects(postgres, sqlite),
    sql(
        name = "halfway",
        up = "CREATE TABLE journal_half (id BIGINT PRIMARY KEY); INSERT INTO journal_missing (id) VALUES (1)",
        down = "DELETE FROM journal_missing WHERE id = 1; DROP TABLE journal_half",
        phase = expand
    )
)]
pub struct JournalHalf {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// `Journal1` with its `kinds` step edited after it ran.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "journal",
    sql(
        name = "kinds",
        up(
            postgres = "CREATE EXTENSION IF NOT EXISTS hstore",
            mysql = "CREATE TABLE IF NOT EXISTS journal_kinds (id BIGINT PRIMARY KEY)",
            sqlite = "CREATE TABLE IF NOT EXISTS journal_kinds (id BIGINT PRIMARY KEY)"
        ),
        down(
            postgres = "DROP EXTENSION IF EXISTS hstore",
            mysql = "DROP TABLE IF EXISTS journal_kinds",
            sqlite = "DROP TABLE IF EXISTS journal_kinds"
        ),
        phase = contract
    )
)]
pub struct JournalEdited {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

macro_rules! release {
    ($($t:ident),*) => {$(
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, email: format!("j{id}@example.com") }
            }
        }
    )*};
}
release!(Journal0, Journal1);

const SEEDED: i64 = 1_000;

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

/// What the steps leave, as comparable words: whether the expand object exists, the
/// audit table's rows, whether its index exists.
async fn state<DB: TestBackend>(conn: &mut DB::Connection) -> (bool, Vec<String>, bool) {
    let kinds = match DB::DIALECT {
        straddle::Dialect::Postgres => {
            DB::text_rows(
                conn,
                "SELECT count(*)::text FROM pg_extension WHERE extname = 'citext'".into(),
            )
            .await[0]
                == "1"
        }
        _ => DB::has_table(conn, "journal_kinds").await,
    };
    let audit = if DB::has_table(conn, "journal_audit").await {
        let cast = match DB::DIALECT {
            straddle::Dialect::MySql => "CONCAT(id, ':', note)",
            _ => "CAST(id AS TEXT) || ':' || note",
        };
        DB::text_rows(conn, format!("SELECT {cast} FROM journal_audit ORDER BY id")).await
    } else {
        vec!["(no table)".to_string()]
    };
    let index = match DB::DIALECT {
        straddle::Dialect::Postgres => {
            "SELECT count(*)::text FROM pg_class WHERE relname = 'journal_audit_note'"
        }
        straddle::Dialect::MySql => {
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND INDEX_NAME = 'journal_audit_note'"
        }
        straddle::Dialect::Sqlite => {
            "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'index' AND name = 'journal_audit_note'"
        }
    };
    let index = DB::text_rows(conn, index.into()).await[0] != "0";
    (kinds, audit, index)
}

fn settled() -> (bool, Vec<String>, bool) {
    (true, vec!["1:a;b".to_string()], true)
}

fn before() -> (bool, Vec<String>, bool) {
    (false, vec!["(no table)".to_string()], false)
}

async fn hand_written_steps<DB>(t: &TestDb)
where
    DB: TestBackend,
    Journal0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Journal1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Journal0::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "journal", SEEDED as u64) {
        DB::exec(&mut conn, &sql).await;
    }
    let model = Journal1::definition();

    // Phase by phase: `kinds` runs at expand, the others at contract.
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    assert_eq!(
        state::<DB>(&mut conn).await,
        (true, before().1, false),
        "after expand"
    );
    r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(state::<DB>(&mut conn).await, settled(), "after contract");
    // The ledger holds each step that ran here, applied, once.
    let ledger = DB::text_rows(
        &mut conn,
        format!(
            "SELECT change_id FROM {} WHERE direction = 'up' AND status = 'applied' AND change_id LIKE 'journal.%' \
             ORDER BY id",
            DB::DIALECT.quote(straddle::ir::render::ledger::LEDGER)
        ),
    )
    .await;
    let mut expected = vec!["journal.kinds", "journal.audit", "journal.audit_note"];
    if DB::DIALECT == straddle::Dialect::MySql {
        expected.insert(2, "journal.audit_row");
    }
    assert_eq!(ledger, expected);
    // Going down reverts the newest phase first: contract's steps, in reverse order.
    r.down(None, None).await.unwrap();
    assert_eq!(
        state::<DB>(&mut conn).await,
        (true, before().1, false),
        "contract reverted"
    );
    r.down(None, None).await.unwrap(); // backfill: nothing
    r.down(None, None).await.unwrap();
    assert_eq!(state::<DB>(&mut conn).await, before(), "expand reverted");
    r.close().await.unwrap();

    // The whole rollout with both releases running beside it, then down and up again.
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Journal0, Journal1>(t, 1, &next_id, SEEDED).await;
    assert_eq!(state::<DB>(&mut conn).await, settled(), "after the rollout");

    // Edited after it ran: refused before anything runs, naming the step.
    let mut r = Runner::<DB>::connect(&t.url, &[JournalEdited::definition()], options())
        .await
        .unwrap();
    match r.up(None, None).await {
        Err(e @ Error::ChecksumMismatch { .. }) => {
            let text = e.to_string();
            assert!(text.contains("journal.kinds expand step `run-sql`"), "{text}");
        }
        other => panic!("an edited hand-written step: {other:?}"),
    }
    r.close().await.unwrap();
    assert_eq!(state::<DB>(&mut conn).await, settled());
}

straddle_tests::per_dialect!(hand_written_steps);

/// A step is one transaction where the engine has transactional DDL: its first statement
/// does not stay when its second fails, and the same run applies it once the cause is gone.
async fn a_failed_step_leaves_nothing<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(JournalHalf::definition(), DB::DIALECT)).await;
    let model = JournalHalf::definition();
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    let err = r.up(None, None).await.expect_err("its INSERT has no table");
    assert!(err.to_string().contains("journal_missing"), "{err}");
    assert!(
        !DB::has_table(&mut conn, "journal_half").await,
        "half a step stayed"
    );
    r.close().await.unwrap();
    DB::exec(&mut conn, "CREATE TABLE journal_missing (id BIGINT PRIMARY KEY)").await;
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.up(None, None).await.unwrap();
    assert!(DB::has_table(&mut conn, "journal_half").await);
    r.down(Some(Phase::Expand), None).await.unwrap();
    assert!(!DB::has_table(&mut conn, "journal_half").await);
    let rows = DB::text_rows(
        &mut conn,
        "SELECT CAST(count(*) AS TEXT) FROM journal_missing".into(),
    )
    .await;
    assert_eq!(rows, ["0"]);
    r.close().await.unwrap();
}

straddle_tests::per_dialect!(a_failed_step_leaves_nothing: postgres, sqlite);

/// `straddle.lock` records each step's digest and phase; once its contract shipped, the
/// same name with other SQL is the step's next rollout (its own ledger rows).
#[test]
fn the_lock_records_steps_and_their_rollouts() {
    use straddle::ir::lock::LockFile;
    use straddle::ir::plan::Subject;
    let first = Journal1::definition();
    let shipped = LockFile::default().with_models(&[first]);
    let kinds = &shipped.tables["journal"].sql["kinds"];
    assert_eq!(kinds.phase, Phase::Contract);
    assert_eq!(kinds.definition, first.sql_step("kinds").unwrap().signature());
    assert!(
        kinds.definition.starts_with("sql at expand "),
        "{}",
        kinds.definition
    );
    let edited = JournalEdited::definition();
    assert_ne!(
        edited.sql_step("kinds").unwrap().signature(),
        kinds.definition,
        "other SQL, another digest"
    );
    let rollouts = shipped.rollouts(edited);
    assert_eq!(rollouts.len(), 1);
    assert_eq!(
        (&rollouts[0].subject, rollouts[0].number),
        (&Subject::Sql("kinds".into()), 2)
    );
    let next = shipped.with_models(&[edited]);
    assert_eq!(
        next.tables["journal"].completed.sql["kinds"],
        std::slice::from_ref(&kinds.definition)
    );
    // The steps no longer declared completed too.
    assert_eq!(next.tables["journal"].completed.sql.len(), 4);
    let text = next.render();
    assert_eq!(LockFile::parse(&text).unwrap(), next);
}
