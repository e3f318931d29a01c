//! Issue 10 — property tests over names. For arbitrary table, key, column and index names
//! built from the characters that end quotes, comments and dollar quotes (`"`, `` ` ``,
//! `'`, `$`, `\`, `--`, `*/`), unicode, and names at the engines' length limit:
//! - every statement of every rendered plan (three changes on one table: a column added
//!   NOT NULL from an expression, a rename, an index) parses with sqlparser for its
//!   dialect;
//! - the whole rollout applies on a scratch database of each engine — every phase up,
//!   then down, then up again — with the previous release's plain INSERTs filled by the
//!   sync triggers, every value right at the end, and nothing of Straddle's left over.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use straddle::ir::expr::{Part, SqlExpr};
use straddle::ir::model::{AddColumn, Change, Column, ColumnType, Index, Model, RenameColumn, Throttle};
use straddle::ir::naming::identifier_problem;
use straddle::{Dialect, Direction, Phase};
use straddle_tests::{TestBackend, TestDb};

/// Names of the characters that break SQL text when not quoted, letters and unicode.
fn identifier(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::collection::vec(
            prop_oneof![
                6 => proptest::char::range('a', 'z'),
                1 => Just('_'),
                1 => Just('"'),
                1 => Just('`'),
                1 => Just('\''),
                1 => Just('$'),
                1 => Just('\\'),
                1 => Just('-'),
                1 => Just('*'),
                1 => Just('/'),
                1 => Just(' '),
                1 => Just('é'),
                1 => Just('日'),
            ],
            1..max,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>()),
        // At PostgreSQL's limit: 63 bytes exactly (a two-byte character among them).
        1 => "[a-z]{60}".prop_map(|s| format!("{s}\u{e9}x")),
        1 => Just("$straddle$".to_string()),
        1 => Just("x -- y */ z".to_string()),
    ]
    .prop_filter("an identifier every engine keeps as written", |s| {
        Dialect::ALL.iter().all(|d| identifier_problem(*d, s).is_none()) && !s.ends_with(' ')
    })
}

#[derive(Clone, Debug)]
struct Names {
    table: String,
    key: String,
    source: String,
    added: String,
    from: String,
    renamed: String,
    index: String,
}

fn names() -> impl Strategy<Value = Names> {
    (
        identifier(30),
        identifier(20),
        identifier(20),
        identifier(20),
        identifier(20),
        identifier(20),
        identifier(30),
    )
        .prop_map(|(table, key, source, added, from, renamed, index)| Names {
            table,
            key,
            source,
            added,
            from,
            renamed,
            index,
        })
        // As the derive requires: columns distinct (MySQL and SQLite ignore case), an index
        // named like no column (a change is known by `table.name`) nor like the table.
        .prop_filter("distinct names, also ignoring case", |n| {
            let names = [&n.key, &n.source, &n.added, &n.from, &n.renamed, &n.index];
            let lower: std::collections::BTreeSet<String> = names.iter().map(|c| c.to_lowercase()).collect();
            lower.len() == names.len() && n.table.to_lowercase() != n.index.to_lowercase()
        })
}

fn column_type(rust: &str, mysql: Option<&str>) -> ColumnType {
    ColumnType {
        rust: rust.into(),
        sql: Dialect::ALL
            .into_iter()
            .map(|d| {
                let ty = match (d, mysql) {
                    (Dialect::MySql, Some(t)) => t.to_string(),
                    _ => straddle::ir::types::sql_type(d, rust).unwrap().to_string(),
                };
                (d, ty)
            })
            .collect(),
    }
}

fn column(name: &str, ty: ColumnType, primary_key: bool, change: Option<Change>) -> Column {
    Column {
        field: format!("f{}", name.len()),
        name: name.into(),
        ty,
        nullable: false,
        primary_key,
        change,
        default: None,
        comment: None,
        identity: false,
    }
}

/// `lower(<source>)`, per dialect.
fn lower(source: &str) -> SqlExpr {
    SqlExpr {
        text: "lower(source)".into(),
        sources: vec![source.into()],
        templates: Dialect::ALL
            .into_iter()
            .map(|d| {
                (
                    d,
                    vec![
                        Part::Sql("lower(".into()),
                        Part::Column(source.into()),
                        Part::Sql(")".into()),
                    ],
                )
            })
            .collect::<BTreeMap<_, _>>(),
        functions: vec!["lower".into()],
    }
}

/// The table with three changes in flight: `added` NOT NULL from `lower(source)`,
/// `renamed` from `from`, and an index on `source`.
fn model(n: &Names) -> Model {
    Model {
        rust_name: "Generated".into(),
        table: n.table.clone(),
        dialects: Dialect::ALL.to_vec(),
        columns: vec![
            column(&n.key, column_type("i64", None), true, None),
            column(
                &n.source,
                column_type("String", Some("VARCHAR(255)")),
                false,
                None,
            ),
            column(
                &n.added,
                column_type("String", None),
                false,
                Some(Change::Add(AddColumn {
                    phase: Phase::Contract,
                    default: None,
                    backfill: Some(lower(&n.source)),
                    throttle: Throttle::default(),
                })),
            ),
            column(
                &n.renamed,
                column_type("String", None),
                false,
                Some(Change::Rename(RenameColumn {
                    phase: Phase::Contract,
                    from: n.from.clone(),
                    throttle: Throttle::default(),
                })),
            ),
        ],
        indexes: vec![Index {
            name: n.index.clone(),
            columns: vec![n.source.clone()],
            unique: false,
            constraint: false,
            primary_key: false,
            dropped: false,
            phase: Phase::Contract,
            renamed_from: None,
            predicate: None,
            method: None,
            include: vec![],
            opclass: Default::default(),
            with: vec![],
        }],
        checks: vec![],
        sql_steps: vec![],
        foreign_keys: vec![],
        created: None,
        retired: None,
        renamed: None,
        rollouts: Vec::new(),
    }
}

fn statements(model: &Model, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for plan in straddle::ir::plan_model(model) {
        for phase in Phase::ALL {
            for direction in [Direction::Up, Direction::Down] {
                for step in straddle::ir::render::render_phase(dialect, model, &plan, phase, direction) {
                    for st in &step.statements {
                        if let straddle::ir::Statement::Execute(sql)
                        | straddle::ir::Statement::When { sql, .. } = st
                        {
                            out.push(sql.clone());
                        }
                    }
                }
            }
        }
    }
    out
}

/// Statements of a shape sqlparser 0.64 cannot parse at all (whatever the names): trigger
/// bodies of MySQL's compound form and SQLite's. They are still applied on the real
/// engines below.
fn parser_cannot_read(dialect: Dialect, sql: &str) -> bool {
    match dialect {
        Dialect::MySql => sql.starts_with("CREATE TRIGGER") && sql.contains("FOR EACH ROW BEGIN"),
        // And `PRAGMA foreign_keys = OFF` (no name in it).
        Dialect::Sqlite => sql.starts_with("CREATE TRIGGER") || sql.starts_with("PRAGMA "),
        Dialect::Postgres => false,
    }
}

/// Clauses sqlparser 0.64 does not know, removed before parsing (they hold no name):
/// PostgreSQL's `DROP INDEX CONCURRENTLY`, MySQL's trailing `ALGORITHM=…, LOCK=…`.
fn without_unknown_clauses(sql: &str) -> String {
    sql.replace("DROP INDEX CONCURRENTLY ", "DROP INDEX ")
        .replace(", ALGORITHM=INPLACE, LOCK=NONE", "")
        .replace(", ALGORITHM=INSTANT", "")
}

fn parses(dialect: Dialect, sql: &str) -> Result<(), String> {
    let mut sql = without_unknown_clauses(sql);
    // sqlparser reads a MySQL trigger's single-statement body up to a `;`.
    if dialect == Dialect::MySql && sql.starts_with("CREATE TRIGGER") {
        sql.push(';');
    }
    let sql = &sql;
    use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
    let d: Box<dyn sqlparser::dialect::Dialect> = match dialect {
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
    };
    let parsed = sqlparser::parser::Parser::parse_sql(d.as_ref(), sql).map_err(|e| e.to_string())?;
    if parsed.len() == 1 {
        Ok(())
    } else {
        Err(format!("{} statements", parsed.len()))
    }
}

#[test]
fn every_rendered_statement_parses_for_its_dialect() {
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    runner
        .run(&names(), |n| {
            let m = model(&n);
            for d in Dialect::ALL {
                for sql in statements(&m, d) {
                    if parser_cannot_read(d, &sql) {
                        continue;
                    }
                    parses(d, &sql).map_err(|e| TestCaseError::fail(format!("{d}: {e}\n{sql}")))?;
                }
            }
            Ok(())
        })
        .unwrap();
}

/// Apply the whole rollout of `model(n)` on `t`: base table, rows, every phase of every
/// change up, down, up; previous-release writes in between; every value checked.
async fn rollout<DB: TestBackend>(t: &TestDb, n: &Names) -> Result<(), String> {
    let d = DB::DIALECT;
    let q = |s: &str| d.quote(s);
    let m = model(n);
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let source_type = m.columns[1].ty.sql(d).to_string();
    let exec = async |conn: &mut DB::Connection, sql: String| {
        DB::execute(conn, sql.clone(), Default::default())
            .await
            .map(|_| ())
            .map_err(|e| format!("{e}\n{sql}"))
    };
    exec(
        &mut conn,
        format!(
            "CREATE TABLE {} ({} BIGINT NOT NULL PRIMARY KEY, {} {source_type} NOT NULL, {} TEXT NOT NULL)",
            q(&n.table),
            q(&n.key),
            q(&n.source),
            q(&n.from)
        ),
    )
    .await?;
    // The previous release's write: the columns it knows.
    let old_insert = |id: i64| {
        format!(
            "INSERT INTO {} ({}, {}, {}) VALUES ({id}, 'Src{id}', 'From{id}')",
            q(&n.table),
            q(&n.key),
            q(&n.source),
            q(&n.from)
        )
    };
    for id in 1..=20 {
        exec(&mut conn, old_insert(id)).await?;
    }
    let changes: Vec<String> = straddle::ir::plan_model(&m)
        .iter()
        .map(|p| p.subject.name().to_string())
        .collect();
    let mut next = 100;
    let apply = async |conn: &mut DB::Connection, phase: Phase, direction: Direction| -> Result<(), String> {
        let order: Vec<&String> = match direction {
            Direction::Up => changes.iter().collect(),
            Direction::Down => changes.iter().rev().collect(),
        };
        for c in order {
            let options = straddle::ApplyOptions {
                app_refresh: straddle::AppRefresh::Sleep(std::time::Duration::ZERO),
                ..Default::default()
            };
            straddle::apply_phase::<DB>(conn, &m, c, phase, direction, &options)
                .await
                .map_err(|e| format!("{c} {phase} {}: {e}", direction.key()))?;
        }
        Ok(())
    };
    apply(&mut conn, Phase::Expand, Direction::Up).await?;
    for (phase, direction) in [
        (Phase::Backfill, Direction::Up),
        (Phase::Backfill, Direction::Down),
        (Phase::Expand, Direction::Down),
        (Phase::Expand, Direction::Up),
        (Phase::Backfill, Direction::Up),
        (Phase::Contract, Direction::Up),
        (Phase::Contract, Direction::Down),
        (Phase::Contract, Direction::Up),
    ] {
        // The previous release keeps writing until contract.
        if phase != Phase::Contract {
            next += 1;
            exec(&mut conn, old_insert(next)).await?;
        }
        apply(&mut conn, phase, direction).await?;
    }
    // Every row: added = lower(source), renamed = the value written as `from`.
    let check = format!(
        "SELECT CAST(count(*) AS CHAR(20)) FROM {} WHERE {} <> lower({}) OR {} <> {} OR {} IS NULL",
        q(&n.table),
        q(&n.added),
        q(&n.source),
        q(&n.renamed),
        match d {
            Dialect::MySql => format!("CONCAT('From', {})", q(&n.key)),
            _ => format!("'From' || {}", q(&n.key)),
        },
        q(&n.renamed)
    );
    let wrong = DB::texts(&mut conn, check.clone())
        .await
        .map_err(|e| format!("{e}\n{check}"))?;
    if wrong[0].trim() != "0" {
        return Err(format!("{} rows read wrong", wrong[0].trim()));
    }
    let left: Vec<String> = DB::leftovers(&mut conn)
        .await
        .into_iter()
        .filter(|l| !l.contains("_straddle_"))
        .collect();
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}"));
    }
    exec(&mut conn, format!("DROP TABLE {}", q(&n.table))).await?;
    Ok(())
}

async fn rollouts<DB: TestBackend>(t: &TestDb, cases: u32) {
    // proptest's runner is synchronous: draw the cases, then run each on the server.
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = names();
    let mut drawn = Vec::new();
    for _ in 0..cases {
        drawn.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    for n in drawn {
        if let Err(e) = rollout::<DB>(t, &n).await {
            panic!("{}: rollout failed for {n:#?}:\n{e}", DB::DIALECT);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_apply_with_any_names_postgres() {
    if let Some(t) = TestDb::postgres("property_names").await {
        rollouts::<sqlx::Postgres>(&t, 24).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_apply_with_any_names_mysql() {
    if let Some(t) = TestDb::mysql("property_names").await {
        rollouts::<sqlx::MySql>(&t, 24).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_apply_with_any_names_sqlite() {
    if let Some(t) = TestDb::sqlite("property_names").await {
        rollouts::<sqlx::Sqlite>(&t, 64).await;
    }
}
