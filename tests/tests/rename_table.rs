//! Rename a table (`renamed(from = …)` on the struct) on PostgreSQL, MariaDB and SQLite,
//! through the rollout harness (`straddle_tests::rollout`): the previous release
//! (`Client`, on `clients`) and this one (`Customer`, declaring `customers`) run
//! concurrently through every phase, up, down and up again — the table keeps its name
//! until contract, which renames it in one step. Then this release's own SQL through the
//! view under the new name, during the window.

use straddle::{ApplyOptions, Dialect, Direction, Model, Phase};
use straddle_tests::models::{Client, Customer, contact_value, note_for};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql};

const ROWS: i64 = 20_000;

struct Rename;

impl Versions for Rename {
    type Old = Client;
    type New = Customer;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Client {
        Client {
            id,
            email: value.to_string(),
            note: note_for(value),
        }
    }
    fn new_row(id: i64, value: &str) -> Customer {
        Customer {
            id,
            email: value.to_string(),
            note: note_for(value),
        }
    }
    fn old_value(row: &Client) -> String {
        contact_value(&row.email, &row.note)
    }
    fn new_value(row: &Customer) -> String {
        contact_value(&row.email, &row.note)
    }
}

async fn rename<DB: TestBackend>(t: &TestDb)
where
    Client: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Customer: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    rollout::run::<DB, Rename>(t, ROWS, seed_sql(DB::DIALECT, "clients", ROWS as u64)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("rename_table").await {
        rename::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("rename_table").await {
        rename::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("rename_table").await {
        rename::<sqlx::Sqlite>(&t).await;
    }
}

/// During the window the new name is a view over the table: hand-written SQL of this
/// release inserts, updates, reads and deletes through it, and the rows are the table's.
async fn the_new_name_during_the_window<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let d = DB::DIALECT;
    DB::exec(
        &mut conn,
        &straddle_tests::base_table_sql(Client::definition(), d),
    )
    .await;
    for sql in seed_sql(d, "clients", 10) {
        DB::exec(&mut conn, &sql).await;
    }
    straddle::apply_phase::<DB>(
        &mut conn,
        Customer::definition(),
        "customers",
        Phase::Expand,
        Direction::Up,
        &ApplyOptions::default(),
    )
    .await
    .unwrap();
    let (q, customers, clients) = (|s: &str| d.quote(s), d.quote("customers"), d.quote("clients"));
    let (id, email, note) = (q("id"), q("email"), q("note"));
    for sql in [
        format!("INSERT INTO {customers} ({id}, {email}, {note}) VALUES (100, 'via@view', 'n')"),
        format!("UPDATE {customers} SET {email} = 'changed@view' WHERE {id} = 3"),
        format!("DELETE FROM {customers} WHERE {id} = 4"),
    ] {
        DB::exec(&mut conn, &sql).await;
    }
    let rows = |table: &str| {
        format!(
            "SELECT CAST({id} AS {}) {} {email} FROM {table} WHERE {id} IN (3, 4, 100) ORDER BY {id}",
            if d == Dialect::MySql { "CHAR" } else { "TEXT" },
            if d == Dialect::MySql {
                ", ' ', "
            } else {
                "|| ' ' ||"
            }
        )
    };
    let rows = |table: &str| {
        let sql = rows(table);
        if d == Dialect::MySql {
            sql.replacen("SELECT CAST", "SELECT CONCAT(CAST", 1).replacen(
                &format!(" FROM {table}"),
                &format!(") FROM {table}"),
                1,
            )
        } else {
            sql
        }
    };
    let expected = vec!["3 changed@view".to_string(), "100 via@view".to_string()];
    assert_eq!(
        DB::text_rows(&mut conn, rows(&clients)).await,
        expected,
        "the table has the writes"
    );
    assert_eq!(
        DB::text_rows(&mut conn, rows(&customers)).await,
        expected,
        "the view reads the table"
    );
}

#[tokio::test]
async fn the_new_name_during_the_window_postgres() {
    if let Some(t) = TestDb::postgres("rename_table_view").await {
        the_new_name_during_the_window::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test]
async fn the_new_name_during_the_window_mysql() {
    if let Some(t) = TestDb::mysql("rename_table_view").await {
        the_new_name_during_the_window::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test]
async fn the_new_name_during_the_window_sqlite() {
    if let Some(t) = TestDb::sqlite("rename_table_view").await {
        the_new_name_during_the_window::<sqlx::Sqlite>(&t).await;
    }
}
