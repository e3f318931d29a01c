//! Make an existing nullable column NOT NULL (`not_null(fill = …)`) on PostgreSQL,
//! MariaDB and SQLite through the rollout harness (`straddle_tests::rollout`): the
//! previous release (`Guest`, writing NULL for every other row) and this one
//! (`GuestRequired`, always writing a value and reading a NULL as the fill) run
//! concurrently through expand, backfill and contract, up, down and up; every NULL —
//! seeded or written by the previous release meanwhile — ends up as `lower(email)`, and
//! NOT NULL holds. Then a NULL is refused by the database, and reverting contract lets
//! the previous release write NULL again.

use straddle::{Db, Direction, Model, Phase};
use straddle_tests::models::{Guest, GuestRequired};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct MakeNotNull;

/// What a row carries: its email, when the nickname is right for it (absent, for the
/// previous release, or the fill of the email); otherwise a text that matches nothing.
fn carried(email: &str, nickname: Option<&str>, absent_ok: bool) -> String {
    match nickname {
        Some(n) if n == email.to_lowercase() => email.to_string(),
        None if absent_ok => email.to_string(),
        other => format!("{email} with nickname {other:?}"),
    }
}

impl Versions for MakeNotNull {
    type Old = Guest;
    type New = GuestRequired;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Guest {
        // Every other write leaves the nickname NULL.
        Guest {
            id,
            email: value.to_string(),
            nickname: (id % 2 == 0).then(|| value.to_lowercase()),
        }
    }
    fn new_row(id: i64, value: &str) -> GuestRequired {
        GuestRequired {
            id,
            email: value.to_string(),
            nickname: value.to_lowercase(),
        }
    }
    fn old_value(row: &Guest) -> String {
        carried(&row.email, row.nickname.as_deref(), true)
    }
    fn new_value(row: &GuestRequired) -> String {
        // A NULL reads as the fill: never absent here.
        carried(&row.email, Some(&row.nickname), false)
    }
}

async fn not_null<DB: TestBackend>(t: &TestDb)
where
    Guest: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    GuestRequired: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let seed = seed_sql_with(
        DB::DIALECT,
        "guests",
        ROWS as u64,
        &[(
            "nickname",
            "CASE WHEN n % 3 = 0 THEN NULL ELSE LOWER(CONCAT('User', n, '@Example.COM')) END",
        )],
    );
    rollout::run::<DB, MakeNotNull>(t, ROWS, seed).await;

    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let count = |sql: &str| sql.to_string();
    let wrong = DB::text_rows(
        &mut conn,
        count(
            "SELECT CAST(count(*) AS CHAR(20)) FROM guests WHERE nickname IS NULL OR nickname <> lower(email)",
        ),
    )
    .await;
    assert_eq!(wrong[0].trim(), "0", "every NULL filled with lower(email)");

    // NOT NULL holds: the previous release's NULL is refused now (it is gone by contract).
    let old = Db::new(t.pool::<DB>(1).await).await.unwrap();
    let null = Guest {
        id: 6_000_001,
        email: "late@example.com".into(),
        nickname: None,
    };
    assert!(old.insert(&null).await.is_err(), "a NULL after contract");

    // Reverting contract relaxes NOT NULL and puts the trigger back: a NULL written by
    // the previous release is filled again.
    let options = straddle::ApplyOptions::default();
    straddle::apply_phase::<DB>(
        &mut conn,
        GuestRequired::definition(),
        "nickname",
        Phase::Contract,
        Direction::Down,
        &options,
    )
    .await
    .unwrap();
    let old = Db::new(t.pool::<DB>(1).await).await.unwrap();
    old.insert(&null).await.unwrap();
    let back = old.find::<Guest, _>(null.id).await.unwrap().unwrap();
    assert_eq!(back.nickname.as_deref(), Some("late@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("not_null").await {
        not_null::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("not_null").await {
        not_null::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("not_null").await {
        not_null::<sqlx::Sqlite>(&t).await;
    }
}
