//! Issue 10 — names and objects found in the catalog, against the real servers:
//! - defect 1: `order.item_total` and `order_item.total` once shared every generated name;
//!   each table's rollout now runs through the harness (previous and this release
//!   concurrently, every phase up, down, up) while the other table's change is expanded,
//!   and the other table's previous release keeps writing right;
//! - defect 2: a table and column named with quotes, backticks, a backslash, `$straddle$`
//!   and `--` go through the harness on every engine;
//! - defect 6: a leftover column of the same name but another type refuses expand, naming
//!   the difference, before anything changes;
//! - defect 11: an index of the same name on another table is neither counted as built
//!   nor dropped (PostgreSQL and SQLite share index names across tables).

use straddle::{Direction, Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::models::{
    ContactIndexed, HostileV1, HostileV2, Normalized, OrderItemV1, OrderItemV2, OrderV1, OrderV2,
    TicketLinked,
};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect, seed_sql};

const ROWS: i64 = 5_000;

per_dialect!(order_rollout_beside_an_expanded_order_item);
per_dialect!(order_item_rollout_beside_an_expanded_order);
per_dialect!(hostile_names_roll_out);
per_dialect!(a_leftover_column_of_another_type_refuses_expand);

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

struct OrderRollout;

impl Versions for OrderRollout {
    type Old = OrderV1;
    type New = OrderV2;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;
    fn old_row(id: i64, v: &str) -> OrderV1 {
        OrderV1 { id, email: v.into() }
    }
    fn new_row(id: i64, v: &str) -> OrderV2 {
        OrderV2 {
            id,
            email: v.into(),
            item_total: v.to_lowercase(),
        }
    }
    fn old_value(r: &OrderV1) -> String {
        r.email.clone()
    }
    fn new_value(r: &OrderV2) -> String {
        if r.item_total == r.email.to_lowercase() {
            r.email.clone()
        } else {
            format!("item_total {:?} is not lower({:?})", r.item_total, r.email)
        }
    }
}

struct OrderItemRollout;

impl Versions for OrderItemRollout {
    type Old = OrderItemV1;
    type New = OrderItemV2;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;
    fn old_row(id: i64, v: &str) -> OrderItemV1 {
        OrderItemV1 { id, email: v.into() }
    }
    fn new_row(id: i64, v: &str) -> OrderItemV2 {
        OrderItemV2 {
            id,
            email: v.into(),
            total: v.to_uppercase(),
        }
    }
    fn old_value(r: &OrderItemV1) -> String {
        r.email.clone()
    }
    fn new_value(r: &OrderItemV2) -> String {
        if r.total == r.email.to_uppercase() {
            r.email.clone()
        } else {
            format!("total {:?} is not upper({:?})", r.total, r.email)
        }
    }
}

/// The other table of the pair, created, seeded and expanded (its sync trigger installed).
async fn expanded<DB: TestBackend>(t: &TestDb, model: &'static straddle::ir::Model) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(model, DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, &model.table, 100) {
        DB::exec(&mut conn, &sql).await;
    }
    let column = straddle::ir::plan_model(model)[0].subject.name().to_string();
    straddle::apply_phase::<DB>(
        &mut conn,
        model,
        &column,
        Phase::Expand,
        Direction::Up,
        &Default::default(),
    )
    .await
    .unwrap();
}

/// A write of the previous release (which does not know the new column) to `table`, and
/// the new column of that row as the sync trigger filled it.
async fn previous_release_write<DB: TestBackend>(t: &TestDb, table: &str, column: &str, id: i64) -> String {
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &format!(
            "INSERT INTO {} ({}, {}) VALUES ({id}, 'Mixed@Case.Example')",
            d.quote(table),
            d.quote("id"),
            d.quote("email")
        ),
    )
    .await;
    DB::text_rows(
        &mut conn,
        format!(
            "SELECT {} FROM {} WHERE {} = {id}",
            d.quote(column),
            d.quote(table),
            d.quote("id")
        ),
    )
    .await
    .remove(0)
}

async fn order_rollout_beside_an_expanded_order_item<DB: TestBackend>(t: &TestDb)
where
    OrderV1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    OrderV2: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    expanded::<DB>(t, OrderItemV2::definition()).await;
    rollout::run::<DB, OrderRollout>(t, ROWS, seed_sql(DB::DIALECT, "order", ROWS as u64)).await;
    // The other table's trigger is its own still: its previous release's writes are filled.
    assert_eq!(
        previous_release_write::<DB>(t, "order_item", "total", 900_001).await,
        "MIXED@CASE.EXAMPLE"
    );
}

async fn order_item_rollout_beside_an_expanded_order<DB: TestBackend>(t: &TestDb)
where
    OrderItemV1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    OrderItemV2: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    expanded::<DB>(t, OrderV2::definition()).await;
    rollout::run::<DB, OrderItemRollout>(t, ROWS, seed_sql(DB::DIALECT, "order_item", ROWS as u64)).await;
    assert_eq!(
        previous_release_write::<DB>(t, "order", "item_total", 900_001).await,
        "mixed@case.example"
    );
}

struct HostileRollout;

impl Versions for HostileRollout {
    type Old = HostileV1;
    type New = HostileV2;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;
    fn old_row(id: i64, v: &str) -> HostileV1 {
        HostileV1 { id, email: v.into() }
    }
    fn new_row(id: i64, v: &str) -> HostileV2 {
        HostileV2 {
            id,
            email: v.into(),
            norm: v.to_lowercase(),
        }
    }
    fn old_value(r: &HostileV1) -> String {
        r.email.clone()
    }
    fn new_value(r: &HostileV2) -> String {
        if r.norm == r.email.to_lowercase() {
            r.email.clone()
        } else {
            format!("norm {:?} is not lower({:?})", r.norm, r.email)
        }
    }
}

async fn hostile_names_roll_out<DB: TestBackend>(t: &TestDb)
where
    HostileV1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    HostileV2: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // A canary: a name that broke out of its quoting would be SQL, and this table its target.
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, "CREATE TABLE audit (id INTEGER PRIMARY KEY)").await;
    DB::exec(&mut conn, "INSERT INTO audit (id) VALUES (1)").await;
    let table = HostileV2::definition().table.clone();
    rollout::run::<DB, HostileRollout>(t, ROWS, seed_sql(DB::DIALECT, &table, ROWS as u64)).await;
    let canary = DB::text_rows(&mut conn, "SELECT CAST(count(*) AS CHAR(10)) FROM audit".into()).await;
    assert_eq!(canary[0].trim(), "1", "the canary row is intact");
}

/// An earlier attempt (or a hand-made fix) left `email_normalized` as an INTEGER: expand
/// must not take it for the column it adds.
async fn a_leftover_column_of_another_type_refuses_expand<DB: TestBackend>(t: &TestDb) {
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Normalized::definition(), d)).await;
    for sql in seed_sql(d, "users", 100) {
        DB::exec(&mut conn, &sql).await;
    }
    DB::exec(
        &mut conn,
        &format!(
            "ALTER TABLE {} ADD COLUMN {} INTEGER",
            d.quote("users"),
            d.quote("email_normalized")
        ),
    )
    .await;
    let before = DB::catalog(&mut conn, "users").await;
    let mut runner = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    let err = runner.up(Some(Phase::Expand), None).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Conflict { .. }), "{text}");
    assert!(
        text.contains("refused before anything changed")
            && text.contains("column users.email_normalized exists but has type")
            && text.contains("not TEXT"),
        "{text}"
    );
    assert_eq!(DB::catalog(&mut conn, "users").await, before, "nothing changed");
    let installed: Vec<String> = DB::leftovers(&mut conn)
        .await
        .into_iter()
        .filter(|l| !l.contains("_straddle_"))
        .collect();
    assert_eq!(installed, Vec::<String>::new(), "no trigger was installed");
    // The previous release still writes.
    DB::exec(
        &mut conn,
        &format!(
            "INSERT INTO {} ({}, {}) VALUES (1000, 'x@y')",
            d.quote("users"),
            d.quote("id"),
            d.quote("email")
        ),
    )
    .await;
    let status = runner.status(None).await.unwrap();
    assert!(status[0].applied.is_empty(), "{status:?}");
    runner.close().await.unwrap();
}

/// PostgreSQL (and SQLite) index names are the schema's: an index another table holds
/// under the name a foreign key's supporting index would get must make expand refuse — not
/// be counted as built — and going down must not drop it.
#[tokio::test]
async fn another_tables_index_is_not_counted_as_built_postgres() {
    let Some(t) = TestDb::postgres("foreign_index").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY)",
        "CREATE TABLE tickets (id BIGINT PRIMARY KEY, email TEXT NOT NULL, account_id BIGINT NOT NULL)",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, account_id BIGINT NOT NULL)",
        "CREATE INDEX tickets_account_fk_idx ON orders (account_id)",
    ] {
        <sqlx::Postgres as TestBackend>::exec(&mut conn, sql).await;
    }
    let mut runner = Runner::<sqlx::Postgres>::connect(&t.url, &[TicketLinked::definition()], options())
        .await
        .unwrap();
    let err = runner
        .up(Some(Phase::Expand), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tickets_account_fk_idx is already the name of an index on table orders"),
        "{err}"
    );
    assert!(runner.status(None).await.unwrap()[0].applied.is_empty());
    // A forged "applied" cannot make down drop it either.
    let index_on_orders = "SELECT count(*)::text FROM pg_indexes WHERE indexname = 'tickets_account_fk_idx' AND tablename = 'orders'";
    async fn rows(c: &mut sqlx::PgConnection, sql: &str) -> Vec<String> {
        <sqlx::Postgres as TestBackend>::text_rows(c, sql.to_string()).await
    }
    assert_eq!(rows(&mut conn, index_on_orders).await, vec!["1"]);
    let err = runner.down(None, None).await.unwrap();
    assert_eq!(err[0].outcome, "nothing to revert");
    runner.close().await.unwrap();
    let mut direct = pool.acquire().await.unwrap();
    let refused = straddle::apply_phase::<sqlx::Postgres>(
        &mut direct,
        TicketLinked::definition(),
        "tickets_account_fk",
        Phase::Expand,
        Direction::Down,
        &Default::default(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("on table orders") && refused.contains("leaves it alone"),
        "{refused}"
    );
    assert_eq!(
        rows(&mut conn, index_on_orders).await,
        vec!["1"],
        "the other table's index is still there"
    );
}

/// SQLite: an index `contacts_note_idx` of another table must not be dropped by the
/// rollout that drops `contacts.contacts_note_idx`.
#[tokio::test]
async fn another_tables_index_is_not_dropped_sqlite() {
    let Some(t) = TestDb::sqlite("foreign_index").await else {
        return;
    };
    let pool = t.pool::<sqlx::Sqlite>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT NOT NULL, note TEXT)",
        "CREATE TABLE other (id INTEGER PRIMARY KEY, note TEXT)",
        "CREATE INDEX contacts_note_idx ON other (note)",
    ] {
        <sqlx::Sqlite as TestBackend>::exec(&mut conn, sql).await;
    }
    let mut runner = Runner::<sqlx::Sqlite>::connect(&t.url, &[ContactIndexed::definition()], options())
        .await
        .unwrap();
    let err = runner
        .up(Some(Phase::Contract), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("contacts_note_idx is already the name of an index on table other"),
        "{err}"
    );
    let still = <sqlx::Sqlite as TestBackend>::text_rows(
        &mut conn,
        "SELECT tbl_name FROM sqlite_master WHERE name = 'contacts_note_idx'".into(),
    )
    .await;
    assert_eq!(still, vec!["other"]);
    runner.close().await.unwrap();
}
