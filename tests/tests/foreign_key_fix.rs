//! Issue 11 — a foreign key added over rows that reference no parent, with the declared
//! fix of those rows (`foreign_key(..., fix(customer_id = "NULL"))`), on PostgreSQL and
//! MariaDB: from expand triggers fix what the previous release still writes (it keeps
//! writing orphans until contract), the backfill fixes the orphans there in keyset
//! batches, contract enforces the key. No statement of either release may fail; afterwards
//! the table equals a hand-written one and nothing of the fix is left.

use std::sync::atomic::AtomicI64;
use straddle::Dialect;
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference};

/// Before: orders reference customers 0–12, of which only 1–10 exist.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "orders", dialects(postgres, mysql))]
pub struct Order0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub customer_id: Option<i64>,
}

/// The key, orphans' `customer_id` set to NULL.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres, mysql),
    foreign_key(
        name = "orders_customer",
        on(customer_id),
        references = "customers(id)",
        fix(customer_id = "NULL"),
        mysql_unvalidated = true,
        phase = contract
    )
)]
pub struct Order1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub customer_id: Option<i64>,
}

impl Release for Order0 {
    fn make(id: i64) -> Self {
        Order0 {
            id,
            email: format!("o{id}@example.com"),
            customer_id: Some(id % 13),
        }
    }
}

impl Release for Order1 {
    fn make(id: i64) -> Self {
        Order1 {
            id,
            email: format!("o{id}@example.com"),
            customer_id: Some(1 + id % 10),
        }
    }
}

const SEEDED: i64 = 2_000;

fn reference(dialect: Dialect) -> Vec<String> {
    let null = if dialect == Dialect::MySql { " NULL" } else { "" };
    vec![
        format!(
            "CREATE TABLE orders_ref (id BIGINT NOT NULL, email TEXT NOT NULL, customer_id BIGINT{null}, \
             PRIMARY KEY (id), CONSTRAINT orders_ref_customer FOREIGN KEY (customer_id) REFERENCES customers (id))"
        ),
        "CREATE INDEX orders_ref_customer_idx ON orders_ref (customer_id)".into(),
    ]
}

async fn orphans_fixed<DB>(t: &TestDb)
where
    DB: TestBackend,
    Order0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Order1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let d = DB::DIALECT;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let null = if d == Dialect::MySql { " NULL" } else { "" };
    DB::exec(
        &mut conn,
        "CREATE TABLE customers (id BIGINT NOT NULL, PRIMARY KEY (id))",
    )
    .await;
    DB::exec(
        &mut conn,
        "INSERT INTO customers (id) VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)",
    )
    .await;
    DB::exec(
        &mut conn,
        &format!(
            "CREATE TABLE orders (id BIGINT NOT NULL, email TEXT NOT NULL, customer_id BIGINT{null}, PRIMARY KEY (id))"
        ),
    )
    .await;
    let rows: Vec<String> = (1..=SEEDED)
        .map(|n| format!("({n}, 'o{n}@example.com', {})", n % 13))
        .collect();
    for chunk in rows.chunks(500) {
        DB::exec(
            &mut conn,
            &format!(
                "INSERT INTO orders (id, email, customer_id) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await;
    }

    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Order0, Order1>(t, 1, &next_id, SEEDED).await;
    assert_matches_reference::<DB>(
        &mut conn,
        "orders",
        "orders_ref",
        &reference(d),
        "after the rollout",
    )
    .await;
    let text = if d == Dialect::MySql { "CHAR" } else { "TEXT" };
    let orphans = DB::text_rows(
        &mut conn,
        format!(
            "SELECT CAST(count(*) AS {text}) FROM orders o WHERE o.customer_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)"
        ),
    )
    .await;
    assert_eq!(orphans, ["0"]);
    // Seeded rows the releases' traffic did not rewrite (it updates key `1 + (n * 7919) %
    // SEEDED` in its round `n`; a rollout runs a few hundred rounds at most) hold the seed,
    // orphans fixed.
    let touched: std::collections::HashSet<i64> = (1..=1_000).map(|n| 1 + (n * 7919) % SEEDED).collect();
    let untouched: Vec<i64> = (1..=SEEDED).filter(|id| !touched.contains(id)).collect();
    for rest in [0, 5, 11, 12] {
        let id = *untouched
            .iter()
            .find(|id| *id % 13 == rest)
            .expect("an untouched row");
        let got = DB::text_rows(
            &mut conn,
            format!("SELECT COALESCE(CAST(customer_id AS {text}), 'NULL') FROM orders WHERE id = {id}"),
        )
        .await;
        let want = if (1..=10).contains(&rest) {
            rest.to_string()
        } else {
            "NULL".into()
        };
        assert_eq!(got, [want], "row {id}");
    }
    // Enforced: an orphan is refused now.
    let refused = DB::execute(
        &mut conn,
        "INSERT INTO orders (id, email, customer_id) VALUES (5000000, 'x', 99)".into(),
        Default::default(),
    )
    .await;
    assert!(refused.is_err(), "the key is not enforced");
}

straddle_tests::per_dialect!(orphans_fixed: postgres, mysql);
