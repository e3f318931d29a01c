//! Change a column's type (`retyped(from = …)`), two at once on one table — a NOT NULL
//! text becoming `i64` through a declared conversion, a nullable `i32` becoming `i64`
//! through the engine's own — on PostgreSQL, MariaDB and SQLite, through the rollout
//! harness (`straddle_tests::rollout`): the previous release (`Account`, reading and
//! writing the old types) and this one (`AccountRetyped`, the new types) run concurrently
//! through every phase, up, down and up again. On PostgreSQL the table is never rewritten
//! (the shadow column is filled in batches, then takes the old one's name).

use straddle_tests::models::{Account, AccountRetyped, account};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct Retype;

impl Versions for Retype {
    type Old = Account;
    type New = AccountRetyped;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Account {
        let code = account::encode(value);
        Account {
            id,
            email: value.to_string(),
            balance: code.to_string(),
            points: account::points(code).map(|p| i32::try_from(p).unwrap()),
        }
    }
    fn new_row(id: i64, value: &str) -> AccountRetyped {
        let code = account::encode(value);
        AccountRetyped {
            id,
            email: value.to_string(),
            balance: code,
            points: account::points(code),
        }
    }
    fn old_value(row: &Account) -> String {
        match row.balance.trim().parse::<i64>() {
            Ok(code) => account::value(code, row.points.map(i64::from)),
            Err(_) => format!("unreadable balance {:?}", row.balance),
        }
    }
    fn new_value(row: &AccountRetyped) -> String {
        account::value(row.balance, row.points)
    }
}

async fn retype<DB: TestBackend>(t: &TestDb)
where
    Account: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    AccountRetyped: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let seed = seed_sql_with(DB::DIALECT, "accounts", ROWS as u64, &account::SEED);
    rollout::run::<DB, Retype>(t, ROWS, seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("retype").await {
        retype::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("retype").await {
        retype::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("retype").await {
        retype::<sqlx::Sqlite>(&t).await;
    }
}
