//! Issue 11 — SQLite changes NOT NULL or a default by rebuilding the table: its UNIQUE
//! constraints (inline or table-level, unnamed) come through the rebuild — they were
//! refused before — while what no catalog describes (a conflict clause, a constraint's
//! name) still refuses the step before anything changes. And a ledger written by a release
//! that rendered the step the old way (its checksum) is the same step, not an edit
//! (`Step::legacy_checksums`); any other checksum is refused.

use straddle::{Backend, Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{TestBackend, TestDb};

/// Before: `nick` may be NULL.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "contacts", dialects(sqlite))]
pub struct Contact0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub nick: Option<String>,
}

/// `nick` made NOT NULL (contract rebuilds the table).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "contacts", dialects(sqlite))]
pub struct Contact1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(not_null(fill = "'anon'", phase = contract))]
    pub nick: String,
}

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

type DB = sqlx::Sqlite;

async fn table(t: &TestDb, create: &str) -> sqlx::pool::PoolConnection<DB> {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, create).await;
    DB::exec(
        &mut conn,
        "INSERT INTO contacts (id, email, nick) VALUES (1, 'a@x', 'a'), (2, 'b@x', NULL), (3, 'c@x', 'c')",
    )
    .await;
    conn
}

/// The table's UNIQUE constraints, as `pragma_index_list` has them (column lists).
async fn uniques(conn: &mut sqlx::SqliteConnection) -> Vec<String> {
    DB::text_rows(
        conn,
        "SELECT group_concat(ii.name, ',') FROM pragma_index_list('contacts') AS il, pragma_index_info(il.name) AS ii \
         WHERE il.origin = 'u' GROUP BY il.name ORDER BY 1"
            .into(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_constraints_survive_the_rebuild_sqlite() {
    let Some(t) = TestDb::sqlite("rebuild_unique").await else {
        return;
    };
    let mut conn = table(
        &t,
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, nick TEXT, \
         UNIQUE (nick, email))",
    )
    .await;
    assert_eq!(uniques(&mut conn).await, ["email", "nick,email"]);
    let mut r = Runner::<DB>::connect(&t.url, &[Contact1::definition()], options())
        .await
        .unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    let nicks = DB::text_rows(&mut conn, "SELECT nick FROM contacts ORDER BY id".into()).await;
    assert_eq!(nicks, ["a", "anon", "c"]);
    assert_eq!(
        uniques(&mut conn).await,
        ["email", "nick,email"],
        "after the rebuild"
    );
    let duplicate = DB::execute(
        &mut conn,
        "INSERT INTO contacts (id, email, nick) VALUES (4, 'a@x', 'z')".into(),
        Default::default(),
    )
    .await;
    assert!(duplicate.is_err(), "a duplicate email went in after the rebuild");
    // Down (NOT NULL relaxed: another rebuild) and up again: still there.
    r.down(None, None).await.unwrap();
    assert_eq!(
        uniques(&mut conn).await,
        ["email", "nick,email"],
        "after going down"
    );
    r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(uniques(&mut conn).await, ["email", "nick,email"], "up again");
    r.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_no_catalog_describes_still_refuses_sqlite() {
    for (tag, create, word) in [
        (
            "rebuild_conflict",
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE ON CONFLICT REPLACE, nick TEXT)",
            "CONFLICT",
        ),
        (
            "rebuild_named",
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, nick TEXT, \
             CONSTRAINT contacts_email UNIQUE (email))",
            "CONSTRAINT",
        ),
    ] {
        let Some(t) = TestDb::sqlite(tag).await else {
            return;
        };
        let mut conn = table(&t, create).await;
        let before = DB::text_rows(
            &mut conn,
            "SELECT sql FROM sqlite_master WHERE name = 'contacts'".into(),
        )
        .await;
        let mut r = Runner::<DB>::connect(&t.url, &[Contact1::definition()], options())
            .await
            .unwrap();
        match r.up(Some(Phase::Contract), None).await {
            Err(Error::Refused { sample, .. }) => assert_eq!(sample, [word]),
            other => panic!("{tag}: {other:?}"),
        }
        r.close().await.unwrap();
        let after = DB::text_rows(
            &mut conn,
            "SELECT sql FROM sqlite_master WHERE name = 'contacts'".into(),
        )
        .await;
        assert_eq!(before, after, "{tag}: the table changed");
    }
}

/// The rebuild step's checksum as the release before this one rendered it (its assertion
/// listed UNIQUE among the refused clauses) is accepted from the ledger; another is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_of_the_previous_rendering_is_accepted_sqlite() {
    let Some(t) = TestDb::sqlite("rebuild_legacy").await else {
        return;
    };
    let mut conn = table(
        &t,
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, nick TEXT)",
    )
    .await;
    let model = Contact1::definition();
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
    let plan = straddle::ir::plan_model(model).remove(0);
    let steps = straddle::ir::render::render_phase(
        straddle::Dialect::Sqlite,
        model,
        &plan,
        Phase::Contract,
        straddle::Direction::Up,
    );
    let rebuild = steps
        .iter()
        .find(|s| s.name.ends_with("rebuild"))
        .expect("a rebuild step");
    assert_eq!(rebuild.legacy_checksums.len(), 1);
    let ledger = straddle::Dialect::Sqlite.quote(straddle::ir::render::ledger::LEDGER);
    // What the previous release recorded: the step's old checksum, and the phase's
    // completion over it.
    let record = |step_checksum: String| -> [String; 2] {
        let all: Vec<String> = steps
            .iter()
            .map(|s| {
                if s.name == rebuild.name {
                    step_checksum.clone()
                } else {
                    s.checksum()
                }
            })
            .collect();
        let completion = straddle::Step {
            name: String::new(),
            transactional: false,
            ddl: false,
            statements: vec![straddle::ir::step::Statement::Execute(all.join(","))],
            expects: Vec::new(),
            lock: None,
            scans_table: false,
            legacy_checksums: Vec::new(),
        }
        .checksum();
        [
            format!(
                "UPDATE {ledger} SET checksum = '{step_checksum}' WHERE phase = 'contract' AND step = '{}'",
                rebuild.name
            ),
            format!(
                "UPDATE {ledger} SET checksum = '{completion}' WHERE phase = 'contract' AND step = '' \
                 AND status = 'completed'"
            ),
        ]
    };
    for sql in record(rebuild.legacy_checksums[0].clone()) {
        DB::exec(&mut conn, &sql).await;
    }
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    let runs = r.up(Some(Phase::Contract), None).await.unwrap();
    assert!(runs.iter().all(|run| run.outcome != "applied"), "{runs:?}");
    r.close().await.unwrap();
    // Any other checksum is an edit.
    for sql in record("0".repeat(64)) {
        DB::exec(&mut conn, &sql).await;
    }
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    match r.up(Some(Phase::Contract), None).await {
        Err(Error::ChecksumMismatch { step, .. }) => assert_eq!(step, rebuild.name),
        other => panic!("another checksum: {other:?}"),
    }
    r.close().await.unwrap();
}
