//! Issue 11 — a column's comment changed (`comment_changed(from, to, phase)`), on
//! PostgreSQL (`COMMENT ON COLUMN`) and MySQL/MariaDB (`MODIFY COLUMN` restating the live
//! definition — type, NOT NULL, default, collation — with the new comment), through the
//! rollout harness with the previous release and this one writing and reading beside it;
//! going down gives the old comment back, and nothing else of the column changes.

use std::sync::atomic::AtomicI64;
use straddle::{Dialect, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, seed_sql_with};

/// Before: `title` has the old comment.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "docs", dialects(postgres, mysql))]
pub struct Doc0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(sql_type(mysql = "VARCHAR(80)"))]
    pub title: String,
}

/// The comment changed (a quote and a backslash in it).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "docs", dialects(postgres, mysql))]
pub struct Doc1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(
        sql_type(mysql = "VARCHAR(80)"),
        comment_changed(from = "old title", to = "the doc's title \\ as shown", phase = contract)
    )]
    pub title: String,
}

macro_rules! release {
    ($($t:ident),*) => {$(
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, email: format!("d{id}@example.com"), title: format!("title {id}") }
            }
        }
    )*};
}
release!(Doc0, Doc1);

const SEEDED: i64 = 1_000;

/// The table with `title` commented `comment`, written by hand (as `table`).
fn table(dialect: Dialect, table: &str, comment: &str) -> Vec<String> {
    let lit = dialect.string_literal(comment);
    match dialect {
        Dialect::MySql => vec![format!(
            "CREATE TABLE {table} (id BIGINT NOT NULL, email TEXT NOT NULL, \
             title VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'untitled' COMMENT {lit}, \
             PRIMARY KEY (id))"
        )],
        _ => vec![
            format!(
                "CREATE TABLE {table} (id BIGINT NOT NULL, email TEXT NOT NULL, \
                 title TEXT COLLATE \"C\" NOT NULL DEFAULT 'untitled', PRIMARY KEY (id))"
            ),
            format!("COMMENT ON COLUMN {table}.title IS {lit}"),
        ],
    }
}

/// `title`'s comment, collation and default as the catalog has them.
async fn title<DB: TestBackend>(conn: &mut DB::Connection) -> Vec<String> {
    let sql = match DB::DIALECT {
        Dialect::MySql => {
            "SELECT CAST(CONCAT_WS(' | ', COLUMN_COMMENT, COLLATION_NAME, COLUMN_DEFAULT, IS_NULLABLE) AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'docs' \
             AND COLUMN_NAME = 'title'"
        }
        _ => {
            "SELECT concat_ws(' | ', col_description(a.attrelid, a.attnum), co.collname, \
             pg_get_expr(d.adbin, d.adrelid), a.attnotnull) FROM pg_attribute a \
             JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = 'docs'::regclass AND a.attname = 'title'"
        }
    };
    DB::text_rows(conn, sql.into()).await
}

async fn comment_changed<DB>(t: &TestDb)
where
    DB: TestBackend,
    Doc0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Doc1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in table(d, "docs", "old title") {
        DB::exec(&mut conn, &sql).await;
    }
    for sql in seed_sql_with(d, "docs", SEEDED as u64, &[("title", "'seeded'")]) {
        DB::exec(&mut conn, &sql).await;
    }
    let before = title::<DB>(&mut conn).await;
    let new = "the doc's title \\ as shown";

    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Doc0, Doc1>(t, 1, &next_id, SEEDED).await;
    assert_matches_reference::<DB>(&mut conn, "docs", "docs_ref", &table(d, "docs_ref", new), "after").await;
    let after = title::<DB>(&mut conn).await;
    assert_eq!(
        after,
        [before[0].replacen("old title", new, 1)],
        "only the comment changed"
    );

    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[Doc1::definition()], options)
        .await
        .unwrap();
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    r.close().await.unwrap();
    assert_eq!(
        title::<DB>(&mut conn).await,
        before,
        "down gives the old comment back"
    );
    assert_matches_reference::<DB>(
        &mut conn,
        "docs",
        "docs_ref",
        &table(d, "docs_ref", "old title"),
        "down",
    )
    .await;
}

straddle_tests::per_dialect!(comment_changed: postgres, mysql);
