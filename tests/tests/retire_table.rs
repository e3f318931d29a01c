//! Retire a table (`retired(phase, confirm = "<table>")` on the struct) on PostgreSQL,
//! MariaDB and SQLite: the previous release keeps reading and writing it through expand
//! and backfill while this release refuses to touch it (saying why); contract drops it;
//! reverting contract re-creates it empty with the same schema; nothing left behind.

use straddle::{ApplyOptions, BindFields, Db, Direction, Model, Phase};
use straddle_tests::models::{Archive, ArchiveRetired};
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

async fn retire<DB: TestBackend>(t: &TestDb)
where
    Archive: for<'r> sqlx::FromRow<'r, DB::Row> + BindFields<DB>,
    ArchiveRetired: for<'r> sqlx::FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Archive::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "archives", 100) {
        DB::exec(&mut conn, &sql).await;
    }
    let before = DB::catalog(&mut conn, "archives").await;
    let db = Db::new(pool.clone()).await.unwrap();
    let options = ApplyOptions::default();
    let apply = async |conn: &mut DB::Connection, phase, direction| {
        straddle::apply_phase::<DB>(
            conn,
            ArchiveRetired::definition(),
            "archives",
            phase,
            direction,
            &options,
        )
        .await
        .unwrap();
    };

    for phase in [Phase::Expand, Phase::Backfill] {
        apply(&mut conn, phase, Direction::Up).await;
        // The previous release still works; this one refuses the table, saying why.
        let row = Archive {
            id: 1000 + phase as i64,
            email: "still@used".into(),
        };
        db.insert(&row).await.unwrap();
        assert_eq!(db.find::<Archive, _>(row.id).await.unwrap(), Some(row));
        let refused = db.fetch_all::<ArchiveRetired>().await.unwrap_err().to_string();
        assert!(refused.contains("retired"), "{refused}");
    }

    let exists_sql = match DB::DIALECT {
        straddle::Dialect::Postgres => {
            "SELECT count(*)::text FROM pg_class WHERE relname = 'archives' AND relkind = 'r'"
        }
        straddle::Dialect::MySql => {
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'archives'"
        }
        straddle::Dialect::Sqlite => {
            "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = 'archives'"
        }
    };
    apply(&mut conn, Phase::Contract, Direction::Up).await;
    assert_eq!(
        DB::text_rows(&mut conn, exists_sql.into()).await,
        vec!["0"],
        "dropped"
    );
    apply(&mut conn, Phase::Contract, Direction::Down).await;
    assert_eq!(
        DB::catalog(&mut conn, "archives").await,
        before,
        "re-created with its schema"
    );
    let count = DB::text_rows(
        &mut conn,
        "SELECT CAST(count(*) AS CHAR(20)) FROM archives".into(),
    )
    .await;
    assert_eq!(
        count[0].trim(),
        "0",
        "re-created empty: its rows went with the confirmed retirement"
    );
    apply(&mut conn, Phase::Contract, Direction::Up).await;
    assert_eq!(DB::text_rows(&mut conn, exists_sql.into()).await, vec!["0"]);
    assert_eq!(DB::leftovers(&mut conn).await, Vec::<String>::new());
}

#[tokio::test]
async fn postgres() {
    if let Some(t) = TestDb::postgres("retire_table").await {
        retire::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test]
async fn mysql() {
    if let Some(t) = TestDb::mysql("retire_table").await {
        retire::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("retire_table").await {
        retire::<sqlx::Sqlite>(&t).await;
    }
}
