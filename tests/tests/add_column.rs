//! Every form of "add column", on PostgreSQL, MariaDB and SQLite, on a populated table:
//! each phase up, down (the catalog returns exactly to what it was) and up again; the
//! generated query code reading and writing at every live shape, next to "old" code
//! that knows nothing of the column; the final catalog equal to a hand-written table of
//! the declared schema; nothing of Straddle's left behind; on PostgreSQL, no rewrite.

use sqlx::FromRow;
use std::collections::BTreeMap;
use std::time::Duration;
use straddle::{ApplyOptions, BindFields, ColumnShape, Db, Direction, Model, Phase};
use straddle_tests::models::{Awkward, Counted, HasId, Nickname, Normalized};
use straddle_tests::{
    TestBackend, TestDb, base_table_sql, final_table_sql, per_dialect, seed_sql, seeded_email,
};

const ROWS: i64 = 1000;

fn options() -> ApplyOptions {
    ApplyOptions {
        batch_size: 97,
        lock_timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

per_dialect!(backfilled_not_null);
per_dialect!(nullable);
per_dialect!(constant_defaults);

/// Apply one phase of `M`'s change on `column` and refresh the snapshot.
async fn apply<DB: TestBackend, M: Model>(
    db: &Db<DB>,
    column: &str,
    phase: Phase,
    direction: Direction,
) -> straddle::PhaseReport {
    let mut conn = db.pool().acquire().await.unwrap();
    let report =
        straddle::apply_phase::<DB>(&mut conn, M::definition(), column, phase, direction, &options())
            .await
            .unwrap_or_else(|e| panic!("{column} {phase} {}: {e}", direction.key()));
    db.refresh().await.unwrap();
    report
}

async fn catalog<DB: TestBackend>(db: &Db<DB>, table: &str) -> Vec<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    DB::catalog(&mut conn, table).await
}

async fn exec<DB: TestBackend>(db: &Db<DB>, sql: &str) {
    let mut conn = db.pool().acquire().await.unwrap();
    DB::exec(&mut conn, sql).await;
}

async fn texts<DB: TestBackend>(db: &Db<DB>, sql: &str) -> Vec<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    DB::text_rows(&mut conn, sql.to_string()).await
}

async fn null_count<DB: TestBackend>(db: &Db<DB>) -> i64 {
    let sql = "SELECT CAST(count(*) AS CHAR(20)) FROM users WHERE email_normalized IS NULL";
    texts(db, sql).await[0].trim().parse().unwrap()
}

/// PostgreSQL's data file of the table: a change means the table was rewritten.
async fn relfilenode<DB: TestBackend>(db: &Db<DB>) -> Option<String> {
    (DB::DIALECT == straddle::Dialect::Postgres).then_some(())?;
    Some(
        texts(
            db,
            "SELECT relfilenode::text FROM pg_class WHERE oid = 'users'::regclass",
        )
        .await
        .remove(0),
    )
}

async fn setup<DB: TestBackend, M: Model>(t: &TestDb) -> Db<DB> {
    let pool = t.pool::<DB>(4).await;
    let db = Db::new(pool).await.unwrap();
    exec(&db, &base_table_sql(M::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", ROWS as u64) {
        exec(&db, &sql).await;
    }
    db.refresh().await.unwrap();
    db
}

/// Up, down (catalog back to exactly `before`), up again (catalog as after the first up).
async fn round_trip<DB: TestBackend, M: Model>(db: &Db<DB>, column: &str, phase: Phase) -> Vec<String> {
    let before = catalog(db, &M::definition().table).await;
    apply::<DB, M>(db, column, phase, Direction::Up).await;
    let after = catalog(db, &M::definition().table).await;
    apply::<DB, M>(db, column, phase, Direction::Down).await;
    assert_eq!(
        catalog(db, &M::definition().table).await,
        before,
        "{column}: {phase} down must restore the schema"
    );
    apply::<DB, M>(db, column, phase, Direction::Up).await;
    assert_eq!(
        catalog(db, &M::definition().table).await,
        after,
        "{column}: {phase} up again"
    );
    after
}

/// The migrated table's catalog equals a table created directly with the declared schema.
async fn assert_final_schema<DB: TestBackend, M: Model>(db: &Db<DB>) {
    let table = &M::definition().table;
    // Catalogs print a name quoted only when it needs quoting: so must the reference's.
    let plain = table.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let reference = if plain { "reference" } else { "Reference Table" };
    exec(db, &final_table_sql(M::definition(), DB::DIALECT, reference)).await;
    assert_eq!(catalog(db, table).await, catalog(db, reference).await);
    exec(db, &format!("DROP TABLE {}", DB::DIALECT.quote(reference))).await;
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(
        DB::leftovers(&mut conn).await,
        Vec::<String>::new(),
        "Straddle objects left behind"
    );
}

async fn assert_rows<DB: TestBackend, M>(db: &Db<DB>, expected: &BTreeMap<i64, M>)
where
    M: Model + for<'r> FromRow<'r, DB::Row> + std::fmt::Debug + PartialEq + Clone + HasId,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut rows = db.fetch_all::<M>().await.unwrap();
    rows.sort_by_key(|r| r.id());
    let want: Vec<M> = expected.values().cloned().collect();
    assert_eq!(rows.len(), want.len());
    for (got, want) in rows.iter().zip(&want) {
        assert_eq!(got, want);
    }
    let (id, row) = expected.iter().next_back().unwrap();
    assert_eq!(db.find::<M, _>(*id).await.unwrap().as_ref(), Some(row));
}

async fn backfilled_not_null<DB: TestBackend>(t: &TestDb)
where
    Normalized: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    type M = Normalized;
    let col = "email_normalized";
    let db = setup::<DB, M>(t).await;
    let mut expected: BTreeMap<i64, M> = (1..=ROWS)
        .map(|i| {
            (
                i,
                M {
                    id: i,
                    email: seeded_email(i),
                    email_normalized: seeded_email(i).to_lowercase(),
                },
            )
        })
        .collect();
    let rel = relfilenode(&db).await;

    // Before expand: the column is absent; reads compute it; writes skip it.
    assert_eq!(db.shape::<M>().unwrap().columns[2], ColumnShape::Absent);
    let early = M {
        id: ROWS + 1,
        email: "Early@New.App".into(),
        email_normalized: "not stored".into(),
    };
    db.insert(&early).await.unwrap();
    expected.insert(
        early.id,
        M {
            email_normalized: "early@new.app".into(),
            ..early
        },
    );
    assert_rows(&db, &expected).await;

    // Expand: nullable column + sync trigger.
    round_trip::<DB, M>(&db, col, Phase::Expand).await;
    assert_eq!(db.shape::<M>().unwrap().columns[2], ColumnShape::Filling);
    assert_rows(&db, &expected).await;
    exec(
        &db,
        &format!(
            "INSERT INTO users (id, email) VALUES ({}, 'Old@App.IO')",
            ROWS + 2
        ),
    )
    .await;
    expected.insert(
        ROWS + 2,
        M {
            id: ROWS + 2,
            email: "Old@App.IO".into(),
            email_normalized: "old@app.io".into(),
        },
    );
    let custom = M {
        id: ROWS + 3,
        email: "Mixed@Case.IO".into(),
        email_normalized: "custom value".into(),
    };
    db.insert(&custom).await.unwrap();
    expected.insert(custom.id, custom.clone());
    // The old app changes an email (row not backfilled yet): the trigger computes it.
    exec(&db, "UPDATE users SET email = 'Changed@Old.App' WHERE id = 1").await;
    expected.insert(
        1,
        M {
            id: 1,
            email: "Changed@Old.App".into(),
            email_normalized: "changed@old.app".into(),
        },
    );
    // The new app rewrites its own row: both columns kept as written.
    let rewritten = M {
        email: "Mixed2@Case.IO".into(),
        email_normalized: "custom 2".into(),
        ..custom
    };
    assert_eq!(db.update(&rewritten).await.unwrap(), 1);
    expected.insert(rewritten.id, rewritten);
    assert_rows(&db, &expected).await;
    let stored = texts(
        &db,
        &format!(
            "SELECT email_normalized FROM users WHERE id IN (1, {}) ORDER BY id",
            ROWS + 2
        ),
    )
    .await;
    assert_eq!(
        stored,
        vec!["changed@old.app", "old@app.io"],
        "the trigger stores the value for old-code writes"
    );

    // Backfill: every NULL row filled, in batches; schema unchanged; down keeps values.
    let schema = catalog(&db, "users").await;
    let nulls = null_count(&db).await;
    assert_eq!(
        nulls,
        ROWS - 1 + 1,
        "seeded rows except row 1, plus the row inserted before expand"
    );
    let report = apply::<DB, M>(&db, col, Phase::Backfill, Direction::Up).await;
    assert_eq!(report.rows_backfilled, nulls as u64);
    assert_eq!(null_count(&db).await, 0);
    assert_eq!(catalog(&db, "users").await, schema);
    let again = apply::<DB, M>(&db, col, Phase::Backfill, Direction::Up).await;
    assert_eq!(
        again.rows_backfilled, 0,
        "re-running the backfill touches nothing"
    );
    apply::<DB, M>(&db, col, Phase::Backfill, Direction::Down).await;
    assert_rows(&db, &expected).await;

    // Contract: NOT NULL enforced, trigger gone.
    round_trip::<DB, M>(&db, col, Phase::Contract).await;
    assert_eq!(db.shape::<M>().unwrap().columns[2], ColumnShape::Present);
    assert_final_schema::<DB, M>(&db).await;
    assert_rows(&db, &expected).await;
    let mut conn = db.pool().acquire().await.unwrap();
    let old_insert = DB::execute(
        &mut conn,
        format!("INSERT INTO users (id, email) VALUES ({}, 'x@y.z')", ROWS + 9),
        Default::default(),
    )
    .await;
    assert!(old_insert.is_err(), "NOT NULL is enforced after contract");
    drop(conn);
    let late = M {
        id: ROWS + 4,
        email: "Late@New.App".into(),
        email_normalized: "late".into(),
    };
    db.insert(&late).await.unwrap();
    expected.insert(late.id, late);
    assert_rows(&db, &expected).await;
    assert_eq!(relfilenode(&db).await, rel, "no phase may rewrite the table");
}

async fn nullable<DB: TestBackend>(t: &TestDb)
where
    Nickname: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    type M = Nickname;
    let db = setup::<DB, M>(t).await;
    let mut expected: BTreeMap<i64, M> = (1..=ROWS)
        .map(|i| {
            (
                i,
                M {
                    id: i,
                    email: seeded_email(i),
                    nickname: None,
                },
            )
        })
        .collect();
    let rel = relfilenode(&db).await;

    assert_eq!(db.shape::<M>().unwrap().columns[2], ColumnShape::Absent);
    db.insert(&M {
        id: ROWS + 1,
        email: "a@b.c".into(),
        nickname: Some("lost".into()),
    })
    .await
    .unwrap();
    expected.insert(
        ROWS + 1,
        M {
            id: ROWS + 1,
            email: "a@b.c".into(),
            nickname: None,
        },
    );
    assert_rows(&db, &expected).await;

    round_trip::<DB, M>(&db, "nickname", Phase::Expand).await;
    assert_eq!(db.shape::<M>().unwrap().columns[2], ColumnShape::Present);
    exec(
        &db,
        &format!("INSERT INTO users (id, email) VALUES ({}, 'old@app')", ROWS + 2),
    )
    .await;
    expected.insert(
        ROWS + 2,
        M {
            id: ROWS + 2,
            email: "old@app".into(),
            nickname: None,
        },
    );
    let new = M {
        id: ROWS + 3,
        email: "new@app".into(),
        nickname: Some("Nick".into()),
    };
    db.insert(&new).await.unwrap();
    expected.insert(new.id, new);
    let mut first = expected[&1].clone();
    first.nickname = Some("First".into());
    db.update(&first).await.unwrap();
    expected.insert(1, first);
    assert_rows(&db, &expected).await;

    for phase in [Phase::Backfill, Phase::Contract] {
        for direction in [Direction::Up, Direction::Down, Direction::Up] {
            assert!(
                apply::<DB, M>(&db, "nickname", phase, direction)
                    .await
                    .applied
                    .is_empty()
            );
        }
    }
    assert_final_schema::<DB, M>(&db).await;
    assert_rows(&db, &expected).await;
    assert_eq!(relfilenode(&db).await, rel);
}

async fn constant_defaults<DB: TestBackend>(t: &TestDb)
where
    Counted: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    type M = Counted;
    let db = setup::<DB, M>(t).await;
    let status = "it's active".to_string();
    let mut expected: BTreeMap<i64, M> = (1..=ROWS)
        .map(|i| {
            (
                i,
                M {
                    id: i,
                    email: seeded_email(i),
                    login_count: 0,
                    status: status.clone(),
                },
            )
        })
        .collect();
    let rel = relfilenode(&db).await;

    // Before expand both columns read as their defaults.
    assert_rows(&db, &expected).await;

    // Two changes on one table, applied independently.
    round_trip::<DB, M>(&db, "login_count", Phase::Expand).await;
    assert_eq!(
        db.shape::<M>().unwrap().columns[2..],
        [ColumnShape::Present, ColumnShape::Absent]
    );
    let row = M {
        id: ROWS + 1,
        email: "n@a".into(),
        login_count: 7,
        status: "ignored".into(),
    };
    db.insert(&row).await.unwrap();
    expected.insert(
        row.id,
        M {
            status: status.clone(),
            ..row
        },
    );
    assert_rows(&db, &expected).await;

    round_trip::<DB, M>(&db, "status", Phase::Expand).await;
    exec(
        &db,
        &format!("INSERT INTO users (id, email) VALUES ({}, 'old@app')", ROWS + 2),
    )
    .await;
    expected.insert(
        ROWS + 2,
        M {
            id: ROWS + 2,
            email: "old@app".into(),
            login_count: 0,
            status: status.clone(),
        },
    );
    let row = M {
        id: ROWS + 3,
        email: "n@b".into(),
        login_count: 3,
        status: "busy".into(),
    };
    db.insert(&row).await.unwrap();
    expected.insert(row.id, row);
    assert_rows(&db, &expected).await;

    assert_final_schema::<DB, M>(&db).await;
    assert_eq!(relfilenode(&db).await, rel);
}

per_dialect!(stale_snapshots);

/// The schema moves under a `Db` that was not told: reads and writes stay correct.
async fn stale_snapshots<DB: TestBackend>(t: &TestDb)
where
    Normalized: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    type M = Normalized;
    let col = "email_normalized";
    let migrator = setup::<DB, M>(t).await;
    let app = Db::new(migrator.pool().clone())
        .await
        .unwrap()
        .with_max_staleness(None);

    // Expand runs elsewhere; the app still believes the column is absent. Its writes
    // omit the column and the trigger fills it; its reads compute the expression.
    apply::<DB, M>(&migrator, col, Phase::Expand, Direction::Up).await;
    assert_eq!(app.shape::<M>().unwrap().columns[2], ColumnShape::Absent);
    app.insert(&M {
        id: ROWS + 1,
        email: "Stale@App.IO".into(),
        email_normalized: "ignored".into(),
    })
    .await
    .unwrap();
    let row = app.find::<M, _>(ROWS + 1).await.unwrap().unwrap();
    assert_eq!(row.email_normalized, "stale@app.io");
    assert_eq!(
        texts(
            &migrator,
            &format!("SELECT email_normalized FROM users WHERE id = {}", ROWS + 1)
        )
        .await,
        vec!["stale@app.io"]
    );

    // The app catches up, then the column disappears behind its back (expand down):
    // the undefined-column error makes it re-probe and retry.
    app.refresh().await.unwrap();
    assert_eq!(app.shape::<M>().unwrap().columns[2], ColumnShape::Filling);
    apply::<DB, M>(&migrator, col, Phase::Expand, Direction::Down).await;
    let rows = app.fetch_all::<M>().await.unwrap();
    assert_eq!(rows[0].email_normalized, seeded_email(1).to_lowercase());
    assert_eq!(rows.len() as i64, ROWS + 1);
    assert_eq!(
        app.shape::<M>().unwrap().columns[2],
        ColumnShape::Absent,
        "re-probed after the error"
    );
    app.refresh().await.unwrap();
    apply::<DB, M>(&migrator, col, Phase::Expand, Direction::Up).await;
    app.update(&M {
        id: 1,
        email: "One@Retry.IO".into(),
        email_normalized: "ignored".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        app.find::<M, _>(1_i64).await.unwrap().unwrap().email_normalized,
        "one@retry.io"
    );

    // With a staleness bound, the next query after the bound notices the new phase.
    let bounded = app.clone().with_max_staleness(Some(Duration::from_millis(50)));
    assert_eq!(bounded.shape::<M>().unwrap().columns[2], ColumnShape::Absent);
    tokio::time::sleep(Duration::from_millis(60)).await;
    bounded.fetch_all::<M>().await.unwrap();
    assert_eq!(bounded.shape::<M>().unwrap().columns[2], ColumnShape::Filling);
}

/// Names that need quoting (spaces, quotes, a keyword), a text primary key, a nullable
/// backfill whose expression can yield NULL, and a PostgreSQL-only SQL default: every
/// statement of the plan, run.
#[tokio::test]
async fn awkward_names_postgres() {
    let Some(t) = TestDb::postgres("awkward").await else {
        return;
    };
    type M = Awkward;
    let db = Db::new(t.pool::<sqlx::Postgres>(4).await).await.unwrap();
    exec(&db, &base_table_sql(M::definition(), straddle::Dialect::Postgres)).await;
    exec(
        &db,
        r#"INSERT INTO "Order Lines" ("Line ""Key""", qty, type) SELECT 'k' || lpad(g::text, 5, '0'), g % 250, 'std' FROM generate_series(1, 1000) g"#,
    )
    .await;
    db.refresh().await.unwrap();
    let rel = texts(
        &db,
        r#"SELECT relfilenode::text FROM pg_class WHERE oid = '"Order Lines"'::regclass"#,
    )
    .await;

    let check = |rows: Vec<M>, first_seen_known: bool| {
        assert_eq!(rows.len(), 1001);
        for r in rows {
            let want = (r.qty > 100).then(|| "bulk".to_string());
            assert_eq!(r.size_class, want, "{}", r.key);
            assert_eq!(r.first_seen.is_some(), first_seen_known, "{}", r.key);
        }
    };
    db.insert(&M {
        key: "new 'one'".into(),
        qty: 500,
        size_class: None,
        first_seen: None,
        r#type: "x".into(),
    })
    .await
    .unwrap();
    check(db.fetch_all::<M>().await.unwrap(), true);

    round_trip::<sqlx::Postgres, M>(&db, "size_class", Phase::Expand).await;
    exec(
        &db,
        r#"INSERT INTO "Order Lines" ("Line ""Key""", qty, type) VALUES ('old', 101, 'o')"#,
    )
    .await;
    round_trip::<sqlx::Postgres, M>(&db, "first_seen", Phase::Expand).await;
    let report = apply::<sqlx::Postgres, M>(&db, "size_class", Phase::Backfill, Direction::Up).await;
    assert!(report.rows_backfilled > 0);
    round_trip::<sqlx::Postgres, M>(&db, "size_class", Phase::Contract).await;
    let mut rows = db.fetch_all::<M>().await.unwrap();
    rows.retain(|r| r.key != "old");
    check(rows, true);
    let old = db.find::<M, _>("old".to_string()).await.unwrap().unwrap();
    assert_eq!(
        old.size_class.as_deref(),
        Some("bulk"),
        "filled by the trigger for old code"
    );
    assert_final_schema::<sqlx::Postgres, M>(&db).await;
    assert_eq!(
        texts(
            &db,
            r#"SELECT relfilenode::text FROM pg_class WHERE oid = '"Order Lines"'::regclass"#
        )
        .await,
        rel
    );
}
