//! Issue 11 — a primary key added to a table the database has without one
//! (`index(..., primary_key)`), on every engine, with the previous release and this one
//! writing and reading beside the rollout (`straddle_tests::releases`): no statement may
//! fail.
//!
//! PostgreSQL makes the nullable key NOT NULL through a validated check (no long lock),
//! builds the unique index concurrently and attaches it with `ADD PRIMARY KEY USING
//! INDEX` — the table is never rewritten (its relfilenode stays); MySQL/MariaDB add the
//! key in place; SQLite keeps the unique index as the key. Before anything changes, a
//! NULL key, a repeated key and (PostgreSQL, MySQL) a primary key the table already has
//! are refused, naming them; the catalog equals a hand-written table after the rollout and
//! after going back down (the key gone, the column left NOT NULL).

use std::sync::atomic::AtomicI64;
use straddle::{Dialect, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, seed_sql_with};

/// Before: the database's table has no primary key (the code finds rows by `id` all the
/// same).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "accounts")]
pub struct Account0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub balance: i64,
}

/// The key added.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "accounts", index(name = "accounts_pkey", on(id), primary_key, phase = contract))]
pub struct Account1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub balance: i64,
}

macro_rules! release {
    ($($t:ident),*) => {$(
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, email: format!("a{id}@example.com"), balance: id % 1000 }
            }
        }
    )*};
}
release!(Account0, Account1);

const SEEDED: i64 = 2_000;

/// The table as the database had it: no key, `id` nullable.
fn keyless(dialect: Dialect, table: &str) -> String {
    let (int, null) = match dialect {
        Dialect::Sqlite => ("INTEGER", ""),
        Dialect::MySql => ("BIGINT", " NULL"),
        Dialect::Postgres => ("BIGINT", ""),
    };
    format!("CREATE TABLE {table} (id {int}{null}, email TEXT NOT NULL, balance {int} NOT NULL)")
}

/// The table once the key is added (`keyed`) or after going back down, written by hand
/// (as `accounts_ref`).
fn reference(dialect: Dialect, keyed: bool) -> Vec<String> {
    match (dialect, keyed) {
        // SQLite: the unique index is the key; `id` keeps what it had.
        (Dialect::Sqlite, true) => vec![
            keyless(dialect, "accounts_ref"),
            "CREATE UNIQUE INDEX accounts_ref_pkey ON accounts_ref (id)".into(),
        ],
        (Dialect::Sqlite, false) => vec![keyless(dialect, "accounts_ref")],
        (_, true) => vec![
            "CREATE TABLE accounts_ref (id BIGINT NOT NULL, email TEXT NOT NULL, balance BIGINT NOT NULL, \
             PRIMARY KEY (id))"
                .into(),
        ],
        // Going down leaves `id` NOT NULL.
        (_, false) => {
            vec!["CREATE TABLE accounts_ref (id BIGINT NOT NULL, email TEXT NOT NULL, balance BIGINT NOT NULL)".into()]
        }
    }
}

async fn assert_table<DB: TestBackend>(t: &TestDb, keyed: bool, when: &str) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    assert_matches_reference::<DB>(
        &mut conn,
        "accounts",
        "accounts_ref",
        &reference(DB::DIALECT, keyed),
        when,
    )
    .await;
}

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

/// `up` with `Account1` refused, its message containing each of `expected`.
async fn refused<DB: TestBackend>(t: &TestDb, expected: &[&str]) {
    let mut r = Runner::<DB>::connect(&t.url, &[Account1::definition()], options())
        .await
        .unwrap();
    let err = r.up(None, None).await.expect_err("refused").to_string();
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
    r.close().await.unwrap();
}

/// PostgreSQL's table file: the same one when the table was not rewritten.
async fn relfilenode(t: &TestDb) -> String {
    type DB = sqlx::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::text_rows(
        &mut conn,
        "SELECT relfilenode::text FROM pg_class WHERE oid = 'accounts'::regclass".into(),
    )
    .await
    .remove(0)
}

async fn primary_key_added<DB>(t: &TestDb)
where
    DB: TestBackend,
    Account0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Account1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &keyless(d, "accounts")).await;
    for sql in seed_sql_with(d, "accounts", SEEDED as u64, &[("balance", "n % 1000")]) {
        DB::exec(&mut conn, &sql).await;
    }

    // A row without a key, then two rows with one key: each refused, naming it, with
    // nothing changed.
    for (row, expected, cleanup) in [
        (
            "(NULL, 'nobody', 0)",
            ["primary key (id) cannot be added to accounts", "NULL"],
            "DELETE FROM accounts WHERE id IS NULL",
        ),
        (
            "(17, 'twin', 0)",
            ["values of (id) repeat in accounts", "17"],
            "DELETE FROM accounts WHERE email = 'twin'",
        ),
    ] {
        DB::exec(
            &mut conn,
            &format!("INSERT INTO accounts (id, email, balance) VALUES {row}"),
        )
        .await;
        refused::<DB>(t, &expected).await;
        let unchanged = [keyless(d, "accounts_ref")];
        assert_matches_reference::<DB>(&mut conn, "accounts", "accounts_ref", &unchanged, "refused").await;
        DB::exec(&mut conn, cleanup).await;
    }

    // The rollout, both releases writing and reading throughout, down and up again.
    let file = if d == Dialect::Postgres {
        Some(relfilenode(t).await)
    } else {
        None
    };
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Account0, Account1>(t, 1, &next_id, SEEDED).await;
    assert_table::<DB>(t, true, "after the rollout").await;
    if let Some(file) = file {
        assert_eq!(relfilenode(t).await, file, "the table was rewritten");
    }
    // The key holds.
    let dup = DB::execute(
        &mut conn,
        "INSERT INTO accounts (id, email, balance) VALUES (17, 'twin', 0)".into(),
        Default::default(),
    )
    .await;
    assert!(dup.is_err(), "a repeated key was accepted");

    // Going down drops the key (the column stays NOT NULL where it became so).
    let mut r = Runner::<DB>::connect(&t.url, &[Account1::definition()], options())
        .await
        .unwrap();
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    r.close().await.unwrap();
    assert_table::<DB>(t, false, "after down").await;

    // A primary key the table has meanwhile (another one): refused, naming it.
    if d != Dialect::Sqlite {
        DB::exec(
            &mut conn,
            "ALTER TABLE accounts ADD CONSTRAINT other_key PRIMARY KEY (id, balance)",
        )
        .await;
        let named = if d == Dialect::Postgres {
            "other_key"
        } else {
            "PRIMARY"
        };
        refused::<DB>(t, &[named]).await;
        let drop = if d == Dialect::Postgres {
            "ALTER TABLE accounts DROP CONSTRAINT other_key"
        } else {
            "ALTER TABLE accounts DROP PRIMARY KEY"
        };
        DB::exec(&mut conn, drop).await;
        assert_table::<DB>(t, false, "another key refused").await;
    }

    let mut r = Runner::<DB>::connect(&t.url, &[Account1::definition()], options())
        .await
        .unwrap();
    r.up(None, None).await.unwrap();
    r.close().await.unwrap();
    assert_table::<DB>(t, true, "up again").await;
}

straddle_tests::per_dialect!(primary_key_added);
