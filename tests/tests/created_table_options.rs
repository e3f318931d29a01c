//! Issue 11 — a table created in this release carries its columns' defaults (constants and
//! expressions) and comments (PostgreSQL, MySQL/MariaDB) from its `CREATE TABLE`: a row
//! written without those columns gets the defaults, the catalog shows the comments, and
//! the table equals one written by hand; going down drops it, up creates it again.

use straddle::{Direction, Model, Phase};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference};

/// Defaults on every engine.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tickets", created(phase = expand))]
pub struct Ticket {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(default = "new", sql_type(mysql = "VARCHAR(32)"))]
    pub state: String,
    #[straddle(default = 0)]
    pub priority: i64,
    #[straddle(default = true)]
    pub open: bool,
    #[straddle(default_sql = "lower('ABC')", sql_type(mysql = "VARCHAR(32)"))]
    pub code: String,
    pub note: Option<String>,
}

/// Comments where the engine has them.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "annotated", created(phase = expand), dialects(postgres, mysql))]
pub struct Annotated {
    #[straddle(primary_key, comment = "the row's key")]
    pub id: i64,
    #[straddle(
        comment = "it's \"quoted\"; -- not SQL \\ nor a backslash escape",
        default = 1
    )]
    pub weight: i64,
}

/// The tables written by hand, per engine.
fn reference(dialect: straddle::Dialect) -> (Vec<String>, Vec<String>) {
    use straddle::Dialect::*;
    let (text, int, truth) = match dialect {
        Postgres => ("TEXT", "BIGINT", "TRUE"),
        MySql => ("VARCHAR(32)", "BIGINT", "TRUE"),
        Sqlite => ("TEXT", "INTEGER", "1"),
    };
    let tickets = vec![format!(
        "CREATE TABLE tickets_ref (id {int} NOT NULL, state {text} NOT NULL DEFAULT 'new', \
         priority {int} NOT NULL DEFAULT 0, open BOOLEAN NOT NULL DEFAULT {truth}, \
         code {text} NOT NULL DEFAULT (lower('ABC')), note TEXT{}, PRIMARY KEY (id))",
        if dialect == MySql { " NULL" } else { "" }
    )];
    let annotated = match dialect {
        Postgres => vec![
            "CREATE TABLE annotated_ref (id BIGINT NOT NULL, weight BIGINT NOT NULL DEFAULT 1, PRIMARY KEY (id))".into(),
            "COMMENT ON COLUMN annotated_ref.id IS 'the row''s key'".into(),
            "COMMENT ON COLUMN annotated_ref.weight IS 'it''s \"quoted\"; -- not SQL \\ nor a backslash escape'".into(),
        ],
        _ => vec![
            "CREATE TABLE annotated_ref (id BIGINT NOT NULL COMMENT 'the row''s key', weight BIGINT NOT NULL DEFAULT 1 \
             COMMENT 'it''s \"quoted\"; -- not SQL \\\\ nor a backslash escape', PRIMARY KEY (id))"
                .into(),
        ],
    };
    (tickets, annotated)
}

/// A column's comment as the catalog has it.
fn comment_sql(dialect: straddle::Dialect, table: &str, column: &str) -> String {
    match dialect {
        straddle::Dialect::Postgres => format!(
            "SELECT col_description('{table}'::regclass, attnum) FROM pg_attribute \
             WHERE attrelid = '{table}'::regclass AND attname = '{column}'"
        ),
        _ => format!(
            "SELECT CAST(COLUMN_COMMENT AS CHAR) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}'"
        ),
    }
}

async fn apply<DB: TestBackend>(t: &TestDb, model: &straddle::ir::Model, direction: Direction) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    straddle::apply_phase::<DB>(
        &mut conn,
        model,
        &model.table,
        Phase::Expand,
        direction,
        &Default::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{} expand {}: {e}", model.table, direction.key()));
}

async fn created_with_defaults<DB: TestBackend>(t: &TestDb) {
    let d = DB::DIALECT;
    let models: Vec<&straddle::ir::Model> = if d == straddle::Dialect::Sqlite {
        vec![Ticket::definition()]
    } else {
        vec![Ticket::definition(), Annotated::definition()]
    };
    let (tickets, annotated) = reference(d);
    for round in ["created", "created again after down"] {
        for model in &models {
            apply::<DB>(t, model, Direction::Up).await;
        }
        let pool = t.pool::<DB>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        assert_matches_reference::<DB>(&mut conn, "tickets", "tickets_ref", &tickets, round).await;
        DB::exec(&mut conn, "INSERT INTO tickets (id) VALUES (1)").await;
        let row_sql = match d {
            straddle::Dialect::MySql => {
                "SELECT CAST(CONCAT_WS('/', state, priority, open, code, COALESCE(note, '-')) AS CHAR) FROM tickets"
            }
            _ => {
                "SELECT state || '/' || CAST(priority AS TEXT) || '/' || CAST(open AS TEXT) || '/' || code || '/' \
                 || COALESCE(note, '-') FROM tickets"
            }
        };
        let row = DB::text_rows(&mut conn, row_sql.into()).await;
        let truth = if d == straddle::Dialect::Postgres {
            "true"
        } else {
            "1"
        };
        assert_eq!(row, [format!("new/0/{truth}/abc/-")], "{round}: the defaults");
        DB::exec(&mut conn, "DELETE FROM tickets").await;
        if d != straddle::Dialect::Sqlite {
            assert_matches_reference::<DB>(&mut conn, "annotated", "annotated_ref", &annotated, round).await;
            let key = DB::text_rows(&mut conn, comment_sql(d, "annotated", "id")).await;
            assert_eq!(key, ["the row's key"]);
            let weight = DB::text_rows(&mut conn, comment_sql(d, "annotated", "weight")).await;
            assert_eq!(weight, ["it's \"quoted\"; -- not SQL \\ nor a backslash escape"]);
        }
        drop(conn);
        for model in models.iter().rev() {
            apply::<DB>(t, model, Direction::Down).await;
        }
        let pool = t.pool::<DB>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        assert!(
            !DB::has_table(&mut conn, "tickets").await,
            "{round}: down drops it"
        );
    }
}

straddle_tests::per_dialect!(created_with_defaults);
