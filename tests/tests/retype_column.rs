//! Change a column's type (`retyped(from = …)`), two at once on one table — a NOT NULL
//! text becoming `i64` through a declared conversion, a nullable `i32` becoming `i64`
//! through the engine's own — on PostgreSQL, MariaDB and SQLite, through the rollout
//! harness (`straddle_tests::rollout`): the previous release (`Account`, reading and
//! writing the old types) and this one (`AccountRetyped`, the new types) run concurrently
//! through every phase, up, down and up again. On PostgreSQL the table is never rewritten
//! (the shadow column is filled in batches, then takes the old one's name).

use straddle_tests::models::{Account, AccountRetyped, account};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, per_dialect, seed_sql_with};

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

/// The previous release's table (`Account`) with `rows` seeded rows.
async fn seed_accounts<DB: TestBackend>(conn: &mut DB::Connection, rows: u64) {
    let d = DB::DIALECT;
    DB::exec(
        conn,
        &straddle_tests::base_table_sql(<Account as straddle::Model>::definition(), d),
    )
    .await;
    for sql in seed_sql_with(d, "accounts", rows, &account::SEED) {
        DB::exec(conn, &sql).await;
    }
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

/// An index on the old column would be dropped with it at contract: contract refuses,
/// naming it, and changes nothing; once the index is built on the shadow column (and the
/// old one dropped), contract goes through and the index follows the renamed column.
async fn index_on_the_old_column<DB: TestBackend>(t: &TestDb) {
    use straddle::{ApplyOptions, Dialect, Direction, Model, Phase};
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let model = AccountRetyped::definition();
    let d = DB::DIALECT;
    seed_accounts::<DB>(&mut conn, 50).await;
    // MySQL indexes a TEXT column by a prefix.
    let on = |col: &str| match d {
        Dialect::MySql => format!("{}(20)", d.quote(col)),
        _ => d.quote(col),
    };
    let index = |name: &str, col: &str| {
        format!(
            "CREATE INDEX {} ON {} ({})",
            d.quote(name),
            d.quote("accounts"),
            on(col)
        )
    };
    DB::exec(&mut conn, &index("accounts_balance_idx", "balance")).await;
    let options = ApplyOptions::default();
    for phase in [Phase::Expand, Phase::Backfill] {
        straddle::apply_phase::<DB>(&mut conn, model, "balance", phase, Direction::Up, &options)
            .await
            .unwrap();
    }
    let before = DB::catalog(&mut conn, "accounts").await;
    let contract = async |conn: &mut DB::Connection| {
        straddle::apply_phase::<DB>(conn, model, "balance", Phase::Contract, Direction::Up, &options).await
    };
    match contract(&mut conn).await.unwrap_err() {
        straddle::Error::Refused { step, sample, .. } => {
            assert_eq!(step, "verify-synced");
            assert_eq!(sample, vec!["accounts_balance_idx"]);
        }
        other => panic!("expected a refusal naming the index, got {other}"),
    }
    assert_eq!(
        DB::catalog(&mut conn, "accounts").await,
        before,
        "nothing changed"
    );

    let shadow = straddle::ir::render::shadow_column(d, "accounts", "balance");
    let drop = match d {
        Dialect::MySql => format!(
            "DROP INDEX {} ON {}",
            d.quote("accounts_balance_idx"),
            d.quote("accounts")
        ),
        _ => format!("DROP INDEX {}", d.quote("accounts_balance_idx")),
    };
    DB::exec(&mut conn, &drop).await;
    // The new column is a BIGINT: no prefix.
    let rebuilt = format!(
        "CREATE INDEX {} ON {} ({})",
        d.quote("accounts_balance_idx"),
        d.quote("accounts"),
        d.quote(&shadow)
    );
    DB::exec(&mut conn, &rebuilt).await;
    contract(&mut conn).await.unwrap();
    // The index's columns, as the catalog has them.
    let indexed = match d {
        Dialect::Postgres => {
            "SELECT a.attname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE c.relname = 'accounts_balance_idx'"
        }
        Dialect::MySql => {
            "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'accounts_balance_idx'"
        }
        Dialect::Sqlite => "SELECT name FROM pragma_index_info('accounts_balance_idx')",
    };
    assert_eq!(
        DB::text_rows(&mut conn, indexed.into()).await,
        vec!["balance"],
        "the index follows the renamed column"
    );
}

per_dialect!(index_on_the_old_column);

/// The backfill fills the new column and nothing else: a value the previous release wrote
/// that converts but would not convert back the same (`' 7'` → `7` → `'7'`) stays as it
/// was in the old column, which that release still reads. (The update trigger used to
/// convert the backfill's own write back into the old column.)
async fn backfill_leaves_the_old_column_alone<DB: TestBackend>(t: &TestDb) {
    use straddle::{ApplyOptions, Direction, Model, Phase};
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let model = AccountRetyped::definition();
    let d = DB::DIALECT;
    seed_accounts::<DB>(&mut conn, 50).await;
    let balances = format!(
        "SELECT {} FROM {} ORDER BY {}",
        d.quote("balance"),
        d.quote("accounts"),
        d.quote("id")
    );
    let before = DB::text_rows(&mut conn, balances.clone()).await;
    assert!(
        before.iter().all(|b| b.starts_with(' ')),
        "seeded with a leading space: {before:?}"
    );
    let options = ApplyOptions::default();
    for phase in [Phase::Expand, Phase::Backfill] {
        straddle::apply_phase::<DB>(&mut conn, model, "balance", phase, Direction::Up, &options)
            .await
            .unwrap();
    }
    assert_eq!(
        DB::text_rows(&mut conn, balances).await,
        before,
        "the previous release's values are untouched"
    );
    let shadow = straddle::ir::render::shadow_column(d, "accounts", "balance");
    let filled = format!(
        "SELECT CAST({} AS CHAR(20)) FROM {} ORDER BY {}",
        d.quote(&shadow),
        d.quote("accounts"),
        d.quote("id")
    );
    let filled = match d {
        straddle::Dialect::Postgres | straddle::Dialect::Sqlite => filled.replace("CHAR(20)", "TEXT"),
        straddle::Dialect::MySql => filled,
    };
    assert_eq!(
        DB::text_rows(&mut conn, filled).await,
        before.iter().map(|b| b.trim().to_string()).collect::<Vec<_>>(),
        "the new column has every value converted"
    );
}

per_dialect!(backfill_leaves_the_old_column_alone);

/// A binary-coercible widening (`VARCHAR(32)` → `VARCHAR(255)` on PostgreSQL) is one
/// brief ALTER at expand: the rollout harness holds it to no rewrite (`relfilenode`
/// unchanged) and a short ACCESS EXCLUSIVE, with both releases running.
struct Widen;

impl Versions for Widen {
    type Old = straddle_tests::models::Tag;
    type New = straddle_tests::models::TagWidened;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Self::Old {
        straddle_tests::models::Tag {
            id,
            email: value.to_string(),
            note: straddle_tests::models::note_for(value),
        }
    }
    fn new_row(id: i64, value: &str) -> Self::New {
        straddle_tests::models::TagWidened {
            id,
            email: value.to_string(),
            note: straddle_tests::models::note_for(value),
        }
    }
    fn old_value(row: &Self::Old) -> String {
        straddle_tests::models::contact_value(&row.email, &row.note)
    }
    fn new_value(row: &Self::New) -> String {
        straddle_tests::models::contact_value(&row.email, &row.note)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widen_in_place_postgres() {
    if let Some(t) = TestDb::postgres("widen").await {
        let seed = straddle_tests::seed_sql(straddle::Dialect::Postgres, "tags", ROWS as u64);
        rollout::run::<sqlx::Postgres, Widen>(&t, ROWS, seed).await;
        // The settled column is the wide one (the harness compared the whole table).
        let steps = straddle::ir::render::render_phase(
            straddle::Dialect::Postgres,
            <straddle_tests::models::TagWidened as straddle::Model>::definition(),
            &<straddle_tests::models::TagWidened as straddle::Model>::plan()[0],
            straddle::Phase::Expand,
            straddle::Direction::Up,
        );
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alter-column-type", "analyze"]);
    }
}
