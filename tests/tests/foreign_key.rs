//! Add a foreign key (`foreign_key(...)`) on PostgreSQL and MariaDB through the rollout
//! harness (`straddle_tests::rollout`): the referencing column indexed without blocking
//! writes at expand, the constraint enforced at contract (PostgreSQL `NOT VALID` →
//! `VALIDATE`; MariaDB, opted in with `mysql_unvalidated`, orphans asserted by Straddle
//! and the key added in place), while the previous release (`Ticket`) and this one
//! (`TicketLinked`) write concurrently, every phase up, down and up. Then an orphan is
//! refused by the key, and orphans present before contract make it refuse, with keys.

use straddle::{Direction, Model, Phase};
use straddle_tests::models::{Ticket, TicketLinked};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct AddForeignKey;

fn account(id: i64) -> i64 {
    id % 100 + 1
}

impl Versions for AddForeignKey {
    type Old = Ticket;
    type New = TicketLinked;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, v: &str) -> Ticket {
        Ticket {
            id,
            email: v.to_string(),
            account_id: account(id),
        }
    }
    fn new_row(id: i64, v: &str) -> TicketLinked {
        TicketLinked {
            id,
            email: v.to_string(),
            account_id: account(id),
        }
    }
    fn old_value(row: &Ticket) -> String {
        row.email.clone()
    }
    fn new_value(row: &TicketLinked) -> String {
        row.email.clone()
    }
}

fn setup(dialect: straddle::Dialect) -> Vec<String> {
    let q = |s: &str| dialect.quote(s);
    let mut sql = vec![format!(
        "CREATE TABLE {} ({} BIGINT NOT NULL PRIMARY KEY)",
        q("accounts"),
        q("id")
    )];
    sql.extend((1..=100).map(|i| format!("INSERT INTO {} ({}) VALUES ({i})", q("accounts"), q("id"))));
    sql.extend(seed_sql_with(
        dialect,
        "tickets",
        ROWS as u64,
        &[("account_id", "n % 100 + 1")],
    ));
    sql
}

async fn foreign_key<DB: TestBackend>(t: &TestDb)
where
    Ticket: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    TicketLinked: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    rollout::run::<DB, AddForeignKey>(t, ROWS, setup(DB::DIALECT)).await;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let orphan = format!(
        "INSERT INTO {} ({}, {}, {}) VALUES (9000000, 'x', 555)",
        DB::DIALECT.quote("tickets"),
        DB::DIALECT.quote("id"),
        DB::DIALECT.quote("email"),
        DB::DIALECT.quote("account_id")
    );
    assert!(
        DB::execute(&mut conn, orphan, Default::default()).await.is_err(),
        "an orphan was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("fk").await {
        foreign_key::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("fk").await {
        foreign_key::<sqlx::MySql>(&t).await;
    }
}

async fn orphans_are_refused<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &straddle_tests::base_table_sql(Ticket::definition(), DB::DIALECT),
    )
    .await;
    for sql in setup(DB::DIALECT).into_iter().filter(|s| !s.contains("tickets")) {
        DB::exec(&mut conn, &sql).await;
    }
    let tickets = DB::DIALECT.quote("tickets");
    DB::exec(
        &mut conn,
        &format!("INSERT INTO {tickets} VALUES (1, 'a', 1), (2, 'b', 700), (3, 'c', 800)"),
    )
    .await;
    let model = TicketLinked::definition();
    let options = straddle::ApplyOptions::default();
    for phase in [Phase::Expand, Phase::Backfill] {
        straddle::apply_phase::<DB>(
            &mut conn,
            model,
            "tickets_account_fk",
            phase,
            Direction::Up,
            &options,
        )
        .await
        .unwrap();
    }
    let contract = straddle::apply_phase::<DB>(
        &mut conn,
        model,
        "tickets_account_fk",
        Phase::Contract,
        Direction::Up,
        &options,
    )
    .await;
    match contract.unwrap_err() {
        straddle::Error::Refused {
            count, sample, step, ..
        } => {
            assert_eq!(
                (count, sample, step.as_str()),
                (2, vec!["2".into(), "3".into()], "verify-foreign-key")
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }
    let catalog = DB::catalog(&mut conn, "tickets").await;
    assert!(
        !catalog.iter().any(|l| l.contains("FOREIGN KEY")),
        "nothing added: {catalog:?}"
    );
    assert!(
        catalog.iter().any(|l| l.contains("<table>_account_fk_idx")),
        "the referencing column was indexed at expand: {catalog:?}"
    );
}

#[tokio::test]
async fn orphans_postgres() {
    if let Some(t) = TestDb::postgres("fk_orphans").await {
        orphans_are_refused::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test]
async fn orphans_mysql() {
    if let Some(t) = TestDb::mysql("fk_orphans").await {
        orphans_are_refused::<sqlx::MySql>(&t).await;
    }
}
