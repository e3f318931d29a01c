//! Issue 11 — renaming a CHECK and a foreign key (`renamed_check`, `renamed_foreign_key`)
//! on PostgreSQL, as the later rollout of constraints an earlier release added.
//!
//! Both rollouts run through the ledger with the previous release and this one writing and
//! reading beside them until contract (`straddle_tests::releases`); no statement may fail.
//! The constraints take their new names at contract (until then the previous release may
//! name them) in one metadata-only `RENAME CONSTRAINT` each, keep enforcing their rule, and
//! get their old names back going down. The catalog equals a hand-written table after
//! each rollout; the foreign key's index keeps its name.

use std::sync::atomic::AtomicI64;
use straddle::{Backend, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, base_table_sql, seed_sql_with};

/// Before: no constraint.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "invoices", dialects(postgres))]
pub struct Invoice0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub customer_id: i64,
}

/// Rollout 1: the CHECK and the foreign key added.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "invoices",
    dialects(postgres),
    check(name = "invoices_amount_check", expr = "amount >= 0", phase = contract),
    foreign_key(name = "invoices_customer", on(customer_id), references = "clients(id)", on_delete = "cascade", phase = contract)
)]
pub struct Invoice1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub customer_id: i64,
}

/// Rollout 2: both renamed.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "invoices",
    dialects(postgres),
    renamed_check(from = "invoices_amount_check", name = "invoices_amount_nonneg", expr = "amount >= 0", phase = contract),
    renamed_foreign_key(
        from = "invoices_customer",
        name = "invoices_client_fk",
        on(customer_id),
        references = "clients(id)",
        on_delete = "cascade",
        phase = contract
    )
)]
pub struct Invoice2 {
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
                $t { id, email: format!("i{id}@example.com"), amount: id % 1000, customer_id: 1 + id % 10 }
            }
        }
    )*};
}
release!(Invoice0, Invoice1, Invoice2);

const SEEDED: i64 = 2_000;

/// The table after rollout `k`, written by hand (as `invoices_ref`).
fn reference(k: usize) -> Vec<String> {
    let (check, fk) = match k {
        1 => ("amount_check", "customer"),
        _ => ("amount_nonneg", "client_fk"),
    };
    vec![
        format!(
            "CREATE TABLE invoices_ref (id BIGINT NOT NULL, email TEXT NOT NULL, amount BIGINT NOT NULL, \
             customer_id BIGINT NOT NULL, PRIMARY KEY (id), CONSTRAINT invoices_ref_{check} CHECK (amount >= 0), \
             CONSTRAINT invoices_ref_{fk} FOREIGN KEY (customer_id) REFERENCES clients (id) ON DELETE CASCADE)"
        ),
        // The foreign key's index keeps the name it was built with.
        "CREATE INDEX invoices_ref_customer_idx ON invoices_ref (customer_id)".into(),
    ]
}

async fn assert_settled(t: &TestDb, k: usize, when: &str) {
    type DB = sqlx::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    assert_matches_reference::<DB>(&mut conn, "invoices", "invoices_ref", &reference(k), when).await;
}

/// The violation a row breaking the CHECK gets, naming the constraint.
async fn violation(t: &TestDb) -> String {
    type DB = sqlx::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::execute(
        &mut conn,
        "INSERT INTO invoices (id, email, amount, customer_id) VALUES (9000000, 'x', -5, 1)".into(),
        Default::default(),
    )
    .await
    .expect_err("a negative amount")
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_and_a_foreign_key_renamed_postgres() {
    type DB = sqlx::Postgres;
    let Some(t) = TestDb::postgres("renamed_constraints").await else {
        return;
    };
    let pool = t.pool::<DB>(1).await;
    {
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, "CREATE TABLE clients (id BIGINT PRIMARY KEY)").await;
        DB::exec(&mut conn, "INSERT INTO clients SELECT generate_series(1, 10)").await;
        DB::exec(
            &mut conn,
            &base_table_sql(Invoice0::definition(), straddle::Dialect::Postgres),
        )
        .await;
        let seed = seed_sql_with(
            straddle::Dialect::Postgres,
            "invoices",
            SEEDED as u64,
            &[("amount", "n % 100"), ("customer_id", "1 + n % 10")],
        );
        for sql in seed {
            DB::exec(&mut conn, &sql).await;
        }
    }
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Invoice0, Invoice1>(&t, 1, &next_id, SEEDED).await;
    assert_settled(&t, 1, "after rollout 1").await;
    rollout::<DB, Invoice1, Invoice2>(&t, 2, &next_id, SEEDED).await;
    assert_settled(&t, 2, "after rollout 2").await;
    // Still enforced, under the new name.
    let err = violation(&t).await;
    assert!(err.contains("invoices_amount_nonneg"), "{err}");

    // Going down gives the old names back; up again the new ones.
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[Invoice2::definition()], options.clone())
        .await
        .unwrap();
    r.down(Some(Phase::Contract), None).await.unwrap();
    assert_settled(&t, 1, "rollout 2's contract reverted").await;
    assert!(violation(&t).await.contains("invoices_amount_check"));
    r.up(None, None).await.unwrap();
    assert_settled(&t, 2, "up again").await;
    // A rename whose new name another constraint has taken is refused (by the server,
    // inside the step's transaction), naming it, and changes nothing.
    r.down(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        "ALTER TABLE invoices ADD CONSTRAINT invoices_amount_nonneg CHECK (amount < 1000000000) NOT VALID",
    )
    .await;
    let mut r = Runner::<DB>::connect(&t.url, &[Invoice2::definition()], options)
        .await
        .unwrap();
    let err = r.up(None, None).await.expect_err("the new name is taken");
    assert!(err.to_string().contains("invoices_amount_nonneg"), "{err}");
    r.close().await.unwrap();
    DB::exec(
        &mut conn,
        "ALTER TABLE invoices DROP CONSTRAINT invoices_amount_nonneg",
    )
    .await;
    assert_settled(&t, 1, "a refused rename").await;
}
