//! Issue 10 — values and definitions that must survive a rollout, against the real
//! servers:
//! - defect 13: an expression that fails for a row (a division by zero, a text that does
//!   not convert) never fails the previous release's write — the new column is left NULL
//!   and `verify` reports the row — and the backfill names the row's key;
//! - defect 8: a default whose function is volatile on the server refuses expand before
//!   anything changes, even when its name is one Straddle knows;
//! - defect 9: a rename keeps what the renamed column carries — its UNIQUE index, default
//!   and comment;
//! - defect 10: MySQL's `MODIFY` keeps the column's collation, default and comment;
//! - defect 12: a table created with an index goes down and up again; a retired table
//!   comes back with its sequence-backed key, defaults, UNIQUE and comment.

use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::{
    Account, AccountRetyped, ArchiveRetired, ContactRenamed, Flagged, Label, MemberNullable, Ratio,
    TagWidened,
};
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect};

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

async fn one<DB: TestBackend>(conn: &mut DB::Connection, sql: &str) -> String {
    DB::text_rows(conn, sql.to_string())
        .await
        .remove(0)
        .trim()
        .to_string()
}

/// `a / b` with rows where `b = 0`.
async fn expression_errors<DB: TestBackend>(t: &TestDb) {
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Ratio::definition(), d)).await;
    for id in 1..=300 {
        let b = if id == 137 || id == 211 { 0 } else { 1 + id % 7 };
        DB::exec(
            &mut conn,
            &format!("INSERT INTO ratios (id, a, b) VALUES ({id}, {}, {b})", id * 10),
        )
        .await;
    }
    let mut runner = Runner::<DB>::connect(
        &t.url,
        &[Ratio::definition()],
        RunnerOptions {
            backfill: straddle::BackfillOptions {
                fixed_batch: Some(50),
                ..Default::default()
            },
            ..options()
        },
    )
    .await
    .unwrap();
    runner.up(Some(Phase::Expand), None).await.unwrap();
    // The previous release writes a row the expression cannot compute, and turns another
    // into one: both writes succeed, the new column left NULL.
    DB::exec(&mut conn, "INSERT INTO ratios (id, a, b) VALUES (1000, 5, 0)").await;
    DB::exec(&mut conn, "UPDATE ratios SET b = 0 WHERE id = 5").await;
    DB::exec(&mut conn, "INSERT INTO ratios (id, a, b) VALUES (1001, 10, 2)").await;
    let computed = match d {
        straddle::Dialect::MySql => "SELECT CAST(ratio AS CHAR) FROM ratios WHERE id = 1001",
        _ => "SELECT CAST(ratio AS TEXT) FROM ratios WHERE id = 1001",
    };
    assert_eq!(
        one::<DB>(&mut conn, computed).await,
        "5",
        "the trigger still computes"
    );
    let null_count = "SELECT CAST(count(*) AS CHAR(10)) FROM ratios WHERE id IN (5, 1000) AND ratio IS NULL";
    assert_eq!(one::<DB>(&mut conn, null_count).await, "2");

    // The backfill stops at the first row the expression fails for, naming its key.
    let err = runner.up(Some(Phase::Backfill), None).await.unwrap_err();
    assert!(matches!(err, Error::BackfillRow { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("key 5:") && text.contains("ratios.ratio"), "{text}");
    // The rows before it are filled.
    let before = "SELECT CAST(count(*) AS CHAR(10)) FROM ratios WHERE id < 5 AND ratio IS NULL";
    assert_eq!(one::<DB>(&mut conn, before).await, "0");
    // Fixed, it resumes — and stops at the next one.
    DB::exec(&mut conn, "UPDATE ratios SET b = 1 WHERE id = 5").await;
    let err = runner
        .up(Some(Phase::Backfill), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("key 137:"), "{err}");
    DB::exec(&mut conn, "UPDATE ratios SET b = 1 WHERE b = 0").await;
    runner.up(Some(Phase::Backfill), None).await.unwrap();
    let nulls = "SELECT CAST(count(*) AS CHAR(10)) FROM ratios WHERE ratio IS NULL";
    assert_eq!(one::<DB>(&mut conn, nulls).await, "0");
    runner.close().await.unwrap();
}

per_dialect!(expression_errors: postgres, mysql);

/// A type change's conversion fails for a value the previous release writes (`'n/a'` is
/// no number): its write succeeds, and contract refuses naming the row.
async fn conversion_errors<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Account::definition(), DB::DIALECT)).await;
    DB::exec(
        &mut conn,
        "INSERT INTO accounts (id, email, balance, points) VALUES (1, 'a@b', ' 12', 3)",
    )
    .await;
    let mut runner = Runner::<DB>::connect(&t.url, &[AccountRetyped::definition()], options())
        .await
        .unwrap();
    runner.up(Some(Phase::Backfill), None).await.unwrap();
    DB::exec(
        &mut conn,
        "INSERT INTO accounts (id, email, balance, points) VALUES (2, 'c@d', 'n/a', 4)",
    )
    .await;
    let v = runner.verify(Some("accounts.balance")).await.unwrap();
    assert_eq!((v[0].violations, v[0].sample.clone()), (1, vec!["2".to_string()]));
    let err = runner
        .up(Some(Phase::Contract), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not yet converted") && err.contains("1 offending row: 2"),
        "{err}"
    );
    runner.close().await.unwrap();
}

per_dialect!(conversion_errors: postgres, mysql);

/// `upper` is a function Straddle knows to be immutable — but on this server a volatile
/// `public.upper(text)` is on the search path: adding the column would rewrite the table.
#[tokio::test]
async fn a_volatile_function_on_the_server_refuses_the_default_postgres() {
    let Some(t) = TestDb::postgres("volatile_default").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE flags (id BIGINT PRIMARY KEY)",
        "INSERT INTO flags SELECT generate_series(1, 100)",
        "CREATE FUNCTION public.upper(text) RETURNS text VOLATILE LANGUAGE sql AS $$ SELECT random()::text $$",
    ] {
        <sqlx::Postgres as TestBackend>::exec(&mut conn, sql).await;
    }
    let relfilenode = "SELECT relfilenode::text FROM pg_class WHERE relname = 'flags'";
    let before = one::<sqlx::Postgres>(&mut conn, relfilenode).await;
    let mut runner = Runner::<sqlx::Postgres>::connect(&t.url, &[Flagged::definition()], options())
        .await
        .unwrap();
    let err = runner.up(None, None).await.unwrap_err().to_string();
    assert!(
        err.contains("calls a volatile function") && err.contains("public.upper"),
        "{err}"
    );
    let columns =
        "SELECT count(*)::text FROM pg_attribute WHERE attrelid = 'flags'::regclass AND attname = 'state'";
    assert_eq!(
        one::<sqlx::Postgres>(&mut conn, columns).await,
        "0",
        "nothing changed"
    );
    assert_eq!(one::<sqlx::Postgres>(&mut conn, relfilenode).await, before);
    runner.close().await.unwrap();
}

/// A rename keeps everything attached to the column: its UNIQUE index, its default, its
/// comment (the original column is kept and renamed at contract; the copy is dropped).
async fn rename_keeps_what_the_column_carries<DB: TestBackend>(t: &TestDb) {
    use straddle::Dialect::*;
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let create = match d {
        Postgres => vec![
            "CREATE TABLE contacts (id BIGINT PRIMARY KEY, email TEXT NOT NULL DEFAULT 'nobody', note TEXT)",
            "CREATE UNIQUE INDEX contacts_email_unique ON contacts (email)",
            "COMMENT ON COLUMN contacts.email IS 'where we write'",
        ],
        MySql => vec![
            "CREATE TABLE contacts (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL DEFAULT 'nobody' \
             COMMENT 'where we write', note VARCHAR(255) NULL, UNIQUE KEY contacts_email_unique (email))",
        ],
        Sqlite => vec![
            "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL DEFAULT 'nobody', note TEXT)",
            "CREATE UNIQUE INDEX contacts_email_unique ON contacts (email)",
        ],
    };
    for sql in create {
        DB::exec(&mut conn, sql).await;
    }
    for id in 1..=50 {
        DB::exec(
            &mut conn,
            &format!("INSERT INTO contacts (id, email, note) VALUES ({id}, 'u{id}@x', 'n{id}')"),
        )
        .await;
    }
    let mut runner = Runner::<DB>::connect(&t.url, &[ContactRenamed::definition()], options())
        .await
        .unwrap();
    runner.up(Some(Phase::Contract), None).await.unwrap();
    // The UNIQUE index is on the column under its new name.
    let dup = DB::execute(
        &mut conn,
        "INSERT INTO contacts (id, email_address, remark) VALUES (100, 'u1@x', 'dup')".into(),
        Default::default(),
    )
    .await;
    assert!(
        dup.is_err(),
        "a duplicate was accepted: the UNIQUE index went with the old column"
    );
    // Its default too.
    DB::exec(&mut conn, "INSERT INTO contacts (id, remark) VALUES (101, 'r')").await;
    let default = "SELECT email_address FROM contacts WHERE id = 101";
    assert_eq!(one::<DB>(&mut conn, default).await, "nobody");
    let comment = match d {
        Postgres => Some(
            "SELECT col_description('contacts'::regclass, attnum) FROM pg_attribute \
             WHERE attrelid = 'contacts'::regclass AND attname = 'email_address'",
        ),
        MySql => Some(
            "SELECT CAST(COLUMN_COMMENT AS CHAR) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'contacts' AND COLUMN_NAME = 'email_address'",
        ),
        Sqlite => None,
    };
    if let Some(sql) = comment {
        assert_eq!(one::<DB>(&mut conn, sql).await, "where we write");
    }
    // Down and up again: still so.
    runner.down(Some(Phase::Contract), None).await.unwrap();
    runner.up(Some(Phase::Contract), None).await.unwrap();
    let dup = DB::execute(
        &mut conn,
        "INSERT INTO contacts (id, email_address, remark) VALUES (102, 'u2@x', 'dup')".into(),
        Default::default(),
    )
    .await;
    assert!(dup.is_err(), "a duplicate was accepted after down and up");
    runner.close().await.unwrap();
}

per_dialect!(rename_keeps_what_the_column_carries);

/// MySQL's `MODIFY` replaces the whole column: making `nickname` nullable must restate its
/// collation, default and comment (they were lost: `text DEFAULT NULL`).
#[tokio::test]
async fn modify_keeps_the_column_mysql() {
    let Some(t) = TestDb::mysql("modify_keeps").await else {
        return;
    };
    let pool = t.pool::<sqlx::MySql>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    <sqlx::MySql as TestBackend>::exec(
        &mut conn,
        "CREATE TABLE members (id BIGINT PRIMARY KEY, email TEXT NOT NULL, \
         nickname TEXT COLLATE utf8mb4_bin NOT NULL DEFAULT 'anon' COMMENT 'shown name')",
    )
    .await;
    let mut runner = Runner::<sqlx::MySql>::connect(&t.url, &[MemberNullable::definition()], options())
        .await
        .unwrap();
    let describe = "SELECT CONCAT_WS('|', COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, COLLATION_NAME, COLUMN_COMMENT) \
                    FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'members' \
                    AND COLUMN_NAME = 'nickname'";
    runner.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(
        one::<sqlx::MySql>(&mut conn, describe).await,
        "text|YES|'anon'|utf8mb4_bin|shown name"
    );
    runner.down(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(
        one::<sqlx::MySql>(&mut conn, describe).await,
        "text|NO|'anon'|utf8mb4_bin|shown name"
    );
    runner.close().await.unwrap();
}

/// A table created with an index in the same rollout: every phase down (the index before
/// the table) and up again.
async fn created_table_with_an_index_goes_down<DB: TestBackend>(t: &TestDb) {
    let mut runner = Runner::<DB>::connect(&t.url, &[Label::definition()], options())
        .await
        .unwrap();
    for _ in 0..2 {
        runner.up(Some(Phase::Contract), None).await.unwrap();
        for _ in 0..3 {
            runner.down(None, None).await.unwrap();
        }
        let status = runner.status(None).await.unwrap();
        assert!(status.iter().all(|s| s.applied.is_empty()), "{status:?}");
    }
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    assert!(!DB::has_table(&mut conn, "labels").await, "the table is gone");
    runner.close().await.unwrap();
}

per_dialect!(created_table_with_an_index_goes_down);

/// A retired table, dropped at contract, comes back as it was when contract is reverted:
/// its generated key continues where it was, its default, UNIQUE, comment and index.
async fn retired_table_comes_back_whole<DB: TestBackend>(t: &TestDb) {
    use straddle::Dialect::*;
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let create = match d {
        Postgres => vec![
            "CREATE TABLE archives (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL DEFAULT 'none' UNIQUE)",
            "CREATE INDEX archives_lower ON archives (lower(email))",
            "COMMENT ON TABLE archives IS 'kept for audits'",
        ],
        MySql => vec![
            "CREATE TABLE archives (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL DEFAULT 'none' \
             UNIQUE, KEY archives_email_prefix (email(10))) COMMENT 'kept for audits'",
        ],
        Sqlite => vec![
            "CREATE TABLE archives (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT NOT NULL DEFAULT 'none' UNIQUE)",
            "CREATE INDEX archives_lower ON archives (lower(email))",
        ],
    };
    for sql in create {
        DB::exec(&mut conn, sql).await;
    }
    for i in 1..=20 {
        DB::exec(
            &mut conn,
            &format!("INSERT INTO archives (email) VALUES ('a{i}@x')"),
        )
        .await;
    }
    let catalog_before = DB::catalog(&mut conn, "archives").await;
    let mut runner = Runner::<DB>::connect(&t.url, &[ArchiveRetired::definition()], options())
        .await
        .unwrap();
    runner.up(Some(Phase::Contract), None).await.unwrap();
    assert!(!DB::has_table(&mut conn, "archives").await, "dropped at contract");
    runner.down(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(
        DB::catalog(&mut conn, "archives").await,
        catalog_before,
        "the table came back as it was"
    );
    // Its generated key goes on after the last one; its default and UNIQUE hold.
    DB::exec(&mut conn, "INSERT INTO archives (email) VALUES ('new@x')").await;
    DB::exec(&mut conn, "INSERT INTO archives (id) VALUES (500)").await;
    let next = "SELECT CAST(id AS CHAR(20)) FROM archives WHERE email = 'new@x'";
    assert_eq!(one::<DB>(&mut conn, next).await, "21", "the key continues");
    let default = "SELECT email FROM archives WHERE id = 500";
    assert_eq!(one::<DB>(&mut conn, default).await, "none");
    let dup = DB::execute(
        &mut conn,
        "INSERT INTO archives (email) VALUES ('new@x')".into(),
        Default::default(),
    )
    .await;
    assert!(dup.is_err(), "UNIQUE was lost");
    if d == Postgres {
        let comment = "SELECT obj_description('archives'::regclass, 'pg_class')";
        assert_eq!(one::<DB>(&mut conn, comment).await, "kept for audits");
    }
    runner.close().await.unwrap();
}

per_dialect!(retired_table_comes_back_whole);

/// A type change's column keeps its default — converted to the new type — and (on
/// PostgreSQL) its comment; going back, the re-created old column gets its default again.
async fn retype_keeps_the_default<DB: TestBackend>(t: &TestDb) {
    use straddle::Dialect::*;
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let create = match d {
        Postgres => vec![
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL, balance TEXT NOT NULL DEFAULT ' 40', \
             points INTEGER DEFAULT 7)",
            "COMMENT ON COLUMN accounts.balance IS 'in cents'",
        ],
        MySql => vec![
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL, balance TEXT NOT NULL \
             DEFAULT ' 40', points INT DEFAULT 7)",
        ],
        Sqlite => vec![
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, balance TEXT NOT NULL DEFAULT ' 40', \
             points INTEGER DEFAULT 7)",
        ],
    };
    for sql in create {
        DB::exec(&mut conn, sql).await;
    }
    DB::exec(
        &mut conn,
        "INSERT INTO accounts (id, email, balance, points) VALUES (1, 'a@b', ' 12', 3)",
    )
    .await;
    let mut runner = Runner::<DB>::connect(&t.url, &[AccountRetyped::definition()], options())
        .await
        .unwrap();
    runner.up(Some(Phase::Contract), None).await.unwrap();
    DB::exec(&mut conn, "INSERT INTO accounts (id, email) VALUES (2, 'c@d')").await;
    let row =
        "SELECT CAST(balance AS CHAR(20)) || '/' || CAST(points AS CHAR(20)) FROM accounts WHERE id = 2";
    let row = if d == MySql {
        "SELECT CONCAT(balance, '/', points) FROM accounts WHERE id = 2"
    } else {
        row
    };
    assert_eq!(one::<DB>(&mut conn, row).await, "40/7", "the defaults, converted");
    if d == Postgres {
        let comment = "SELECT col_description('accounts'::regclass, attnum) FROM pg_attribute \
                       WHERE attrelid = 'accounts'::regclass AND attname = 'balance'";
        assert_eq!(one::<DB>(&mut conn, comment).await, "in cents");
    }
    // Back to the old type: the old column has its default again.
    runner.down(Some(Phase::Contract), None).await.unwrap();
    DB::exec(&mut conn, "INSERT INTO accounts (id, email) VALUES (3, 'e@f')").await;
    let back = if d == MySql {
        "SELECT CONCAT(balance, '/', points) FROM accounts WHERE id = 3"
    } else {
        "SELECT CAST(balance AS CHAR(20)) || '/' || CAST(points AS CHAR(20)) FROM accounts WHERE id = 3"
    };
    assert_eq!(one::<DB>(&mut conn, back).await, "40/7");
    runner.close().await.unwrap();
}

per_dialect!(retype_keeps_the_default);

/// PostgreSQL's in-place widening keeps a collation the column was given (left out of
/// `ALTER COLUMN … TYPE`, the new type's default collation would replace it).
#[tokio::test]
async fn widening_keeps_the_collation_postgres() {
    let Some(t) = TestDb::postgres("widen_collation").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    <sqlx::Postgres as TestBackend>::exec(
        &mut conn,
        "CREATE TABLE tags (id BIGINT PRIMARY KEY, email VARCHAR(32) COLLATE \"C\" NOT NULL, note TEXT)",
    )
    .await;
    let mut runner = Runner::<sqlx::Postgres>::connect(&t.url, &[TagWidened::definition()], options())
        .await
        .unwrap();
    runner.up(Some(Phase::Contract), None).await.unwrap();
    let described = "SELECT format_type(atttypid, atttypmod) || ' ' || collname FROM pg_attribute a \
                     JOIN pg_collation c ON c.oid = a.attcollation WHERE attrelid = 'tags'::regclass AND attname = 'email'";
    assert_eq!(
        one::<sqlx::Postgres>(&mut conn, described).await,
        "character varying(255) C"
    );
    runner.close().await.unwrap();
}

/// A column widened in place under a running release: its prepared statements now return
/// another type ("cached plan must not change result type"), and sqlx would reuse them on
/// their connection for ever. The generated code prepares them anew — reads and writes
/// go on.
#[tokio::test]
async fn prepared_statements_survive_a_widening_postgres() {
    use straddle::{BindFields, Db};
    use straddle_tests::models::Tag;
    let Some(t) = TestDb::postgres("stale_plans").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    <sqlx::Postgres as TestBackend>::exec(
        &mut conn,
        &base_table_sql(Tag::definition(), straddle::Dialect::Postgres),
    )
    .await;
    <sqlx::Postgres as TestBackend>::exec(&mut conn, "INSERT INTO tags (id, email) VALUES (1, 'a@b')").await;
    // The previous release's pool: one connection, its statements prepared.
    let db = Db::new(t.pool::<sqlx::Postgres>(1).await).await.unwrap();
    let row = db.find::<Tag, _>(1_i64).await.unwrap().unwrap();
    db.update(&row).await.unwrap();
    <sqlx::Postgres as TestBackend>::exec(&mut conn, "ALTER TABLE tags ALTER COLUMN email TYPE VARCHAR(255)")
        .await;
    for _ in 0..3 {
        assert_eq!(db.find::<Tag, _>(1_i64).await.unwrap(), Some(row.clone()));
        assert_eq!(db.fetch_all::<Tag>().await.unwrap().len(), 1);
        db.update(&row).await.unwrap();
    }
    let _ = <Tag as BindFields<sqlx::Postgres>>::bind_field;
}
