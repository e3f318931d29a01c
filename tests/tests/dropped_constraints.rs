//! Issue 11 — dropping a CHECK constraint and a foreign key (`dropped_check`,
//! `dropped_foreign_key`), on PostgreSQL, as the later rollout of constraints an earlier
//! release added (`tests/rollouts/orders-N.lock`).
//!
//! Both rollouts run through the ledger with the previous release and this one writing
//! and reading beside them until contract (`straddle_tests::releases`); no statement may
//! fail. Dropped at contract — until then the previous release may rely on them — and
//! re-added going down, which is refused, naming the rows, while rows violate them (and
//! changes nothing); the foreign key's index stays. The catalog equals a hand-written
//! table after each rollout.

use std::sync::atomic::AtomicI64;
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, base_table_sql, seed_sql_with};

/// Before: no constraint.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "orders", dialects(postgres))]
pub struct Order0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub customer_id: i64,
}

/// Rollout 1: the CHECK and the foreign key added.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    lock = "rollouts/orders-1.lock",
    check(name = "orders_amount_nonneg", expr = "amount >= 0", phase = contract),
    foreign_key(name = "orders_customer", on(customer_id), references = "customers(id)", phase = contract)
)]
pub struct Order1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub customer_id: i64,
}

/// Rollout 2: both dropped.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    lock = "rollouts/orders-2.lock",
    dropped_check(name = "orders_amount_nonneg", expr = "amount >= 0", phase = contract),
    dropped_foreign_key(name = "orders_customer", on(customer_id), references = "customers(id)", phase = contract)
)]
pub struct Order2 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub customer_id: i64,
}

macro_rules! release {
    ($($t:ident),*) => {$(
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, email: format!("o{id}@example.com"), amount: id % 1000, customer_id: 1 + id % 10 }
            }
        }
    )*};
}
release!(Order0, Order1, Order2);

const SEEDED: i64 = 2_000;

/// The table after rollout `k`, written by hand (as `orders_ref`).
fn reference(k: usize) -> Vec<String> {
    let mut constraints = String::new();
    if k == 1 {
        constraints = ", CONSTRAINT orders_ref_amount_nonneg CHECK (amount >= 0), \
                       CONSTRAINT orders_ref_customer FOREIGN KEY (customer_id) REFERENCES customers (id)"
            .into();
    }
    vec![
        format!(
            "CREATE TABLE orders_ref (id BIGINT NOT NULL, email TEXT NOT NULL, amount BIGINT NOT NULL, \
             customer_id BIGINT NOT NULL, PRIMARY KEY (id){constraints})"
        ),
        // The foreign key's index, built with it, stays when it goes.
        "CREATE INDEX orders_ref_customer_idx ON orders_ref (customer_id)".into(),
    ]
}

async fn assert_settled(t: &TestDb, k: usize) {
    type DB = sqlx::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let when = format!("after rollout {k}");
    assert_matches_reference::<DB>(&mut conn, "orders", "orders_ref", &reference(k), &when).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_and_a_foreign_key_added_then_dropped_postgres() {
    type DB = sqlx::Postgres;
    let Some(t) = TestDb::postgres("dropped_constraints").await else {
        return;
    };
    let pool = t.pool::<DB>(1).await;
    {
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, "CREATE TABLE customers (id BIGINT PRIMARY KEY)").await;
        DB::exec(&mut conn, "INSERT INTO customers SELECT generate_series(1, 10)").await;
        DB::exec(
            &mut conn,
            &base_table_sql(Order0::definition(), straddle::Dialect::Postgres),
        )
        .await;
        let seed = seed_sql_with(
            straddle::Dialect::Postgres,
            "orders",
            SEEDED as u64,
            &[("amount", "n % 100"), ("customer_id", "1 + n % 10")],
        );
        for sql in seed {
            DB::exec(&mut conn, &sql).await;
        }
    }
    assert_eq!(
        straddle::ir::plan_model(Order2::definition())
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        ["orders.orders_amount_nonneg~2", "orders.orders_customer~2"]
    );
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Order0, Order1>(&t, 1, &next_id, SEEDED).await;
    assert_settled(&t, 1).await;
    rollout::<DB, Order1, Order2>(&t, 2, &next_id, SEEDED).await;
    assert_settled(&t, 2).await;

    // Dropped: a row neither would have let in.
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        "INSERT INTO orders (id, email, amount, customer_id) VALUES (9000000, 'x', -5, 999)",
    )
    .await;
    // Going back would re-add them: refused, naming the row, nothing changed.
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[Order2::definition()], options.clone())
        .await
        .unwrap();
    match r.down(Some(Phase::Contract), None).await {
        Err(Error::Refused { count, sample, .. }) => {
            assert_eq!((count, sample), (1, vec!["9000000".to_string()]))
        }
        other => panic!("re-adding a constraint over a violating row: {other:?}"),
    }
    r.close().await.unwrap();
    assert_settled(&t, 2).await;
    // Without the row, both come back (validated), and go again.
    DB::exec(&mut conn, "DELETE FROM orders WHERE id = 9000000").await;
    let mut r = Runner::<DB>::connect(&t.url, &[Order2::definition()], options)
        .await
        .unwrap();
    r.down(Some(Phase::Contract), None).await.unwrap();
    assert_settled(&t, 1).await;
    r.up(None, None).await.unwrap();
    r.close().await.unwrap();
    assert_settled(&t, 2).await;
}

/// The committed locks chain the way `straddle generate` writes them.
#[test]
fn the_locks_chain() {
    use straddle::ir::lock::LockFile;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rollouts");
    let lock = |k: usize| {
        LockFile::read(&root.join(format!("orders-{k}.lock")))
            .unwrap()
            .unwrap()
    };
    let shipped = lock(1).with_models(&[Order1::definition()]);
    let mut next = Order2::definition().clone();
    next.rollouts.clear();
    for c in &mut next.checks {
        c.phase = Phase::Expand;
    }
    for f in &mut next.foreign_keys {
        f.phase = Phase::Expand;
    }
    assert_eq!(shipped.rollouts(&next), Order2::definition().rollouts);
    assert_eq!(
        shipped.with_models(&[&next]).tables["orders"].completed,
        lock(2).tables["orders"].completed
    );
}
