//! Change a column's default (`default_changed(...)`) on PostgreSQL, MariaDB and SQLite
//! through the rollout harness (`straddle_tests::rollout`), both releases writing
//! concurrently; afterwards a writer that omits the column gets the new default, and
//! the settled catalog shows it.

use straddle_tests::models::{Setting, SettingDefaulted};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct ChangeDefault;

fn value(email: &str, level: i64) -> String {
    if level == 1 || email.starts_with("User") && level == 0 {
        email.to_string()
    } else {
        format!("{email} at level {level}")
    }
}

impl Versions for ChangeDefault {
    type Old = Setting;
    type New = SettingDefaulted;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, v: &str) -> Setting {
        Setting {
            id,
            email: v.to_string(),
            level: 1,
        }
    }
    fn new_row(id: i64, v: &str) -> SettingDefaulted {
        SettingDefaulted {
            id,
            email: v.to_string(),
            level: 1,
        }
    }
    fn old_value(row: &Setting) -> String {
        value(&row.email, row.level)
    }
    fn new_value(row: &SettingDefaulted) -> String {
        value(&row.email, row.level)
    }
}

async fn change<DB: TestBackend>(t: &TestDb)
where
    Setting: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    SettingDefaulted: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let seed = seed_sql_with(DB::DIALECT, "settings", ROWS as u64, &[("level", "0")]);
    rollout::run::<DB, ChangeDefault>(t, ROWS, seed).await;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let q = |s: &str| DB::DIALECT.quote(s);
    DB::execute(
        &mut conn,
        format!(
            "INSERT INTO {} ({}, {}) VALUES (9000000, 'omits@level')",
            q("settings"),
            q("id"),
            q("email")
        ),
        Default::default(),
    )
    .await
    .unwrap();
    let level = DB::text_rows(
        &mut conn,
        format!(
            "SELECT CAST({} AS CHAR(20)) FROM {} WHERE {} = 9000000",
            q("level"),
            q("settings"),
            q("id")
        ),
    )
    .await;
    assert_eq!(level[0].trim(), "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("default").await {
        change::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("default").await {
        change::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("default").await {
        change::<sqlx::Sqlite>(&t).await;
    }
}
