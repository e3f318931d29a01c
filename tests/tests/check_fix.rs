//! Issue 11 — a CHECK added over data that violates it, with the declared fix of the
//! violating rows (`check(..., fix(amount = "<sql>"))`, PostgreSQL): from expand a trigger
//! fixes what the previous release still writes, the backfill fixes the rows there in
//! keyset batches, contract enforces the check — the rollout harness runs the previous
//! release (writing violating rows throughout) and this one beside it, and no statement
//! may fail. A fix that does not satisfy the check stops the backfill naming keys, with
//! nothing enforced.

use std::sync::atomic::AtomicI64;
use straddle::{Backend, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, base_table_sql, seed_sql_with};

/// Before: negative amounts are written (odd keys).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "payments", dialects(postgres))]
pub struct Payment0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub fee: i64,
}

/// The check, violating rows fixed: a negative amount becomes its absolute value, and its
/// fee is read as the row had it (both assigned from the row as written).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "payments",
    dialects(postgres),
    check(
        name = "payments_amount_check",
        expr = "amount >= 0 AND fee <= amount",
        fix(amount = "abs(amount)", fee = "least(fee, abs(amount))"),
        phase = contract
    )
)]
pub struct Payment1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub fee: i64,
}

/// A fix that does not satisfy its check.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "payments",
    dialects(postgres),
    check(name = "payments_amount_check", expr = "amount >= 0", fix(amount = "amount - 1"), phase = contract)
)]
pub struct PaymentBadFix {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub amount: i64,
    pub fee: i64,
}

impl Release for Payment0 {
    fn make(id: i64) -> Self {
        let amount = if id % 2 == 1 { -(id % 1000) - 1 } else { id % 1000 };
        Payment0 {
            id,
            email: format!("p{id}@example.com"),
            amount,
            fee: 3,
        }
    }
}

impl Release for Payment1 {
    fn make(id: i64) -> Self {
        Payment1 {
            id,
            email: format!("p{id}@example.com"),
            amount: id % 1000 + 3,
            fee: 3,
        }
    }
}

const SEEDED: i64 = 3_000;

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn violating_rows_are_fixed_then_checked_postgres() {
    type DB = sqlx::Postgres;
    let Some(t) = TestDb::postgres("check_fix").await else {
        return;
    };
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &base_table_sql(Payment0::definition(), straddle::Dialect::Postgres),
    )
    .await;
    // Every third row violates: a negative amount, or a fee above the amount.
    let seed = seed_sql_with(
        straddle::Dialect::Postgres,
        "payments",
        SEEDED as u64,
        &[
            ("amount", "CASE WHEN n % 3 = 0 THEN -n ELSE n END"),
            ("fee", "CASE WHEN n % 3 = 1 THEN n + 5 ELSE 1 END"),
        ],
    );
    for sql in seed {
        DB::exec(&mut conn, &sql).await;
    }

    // A fix that leaves rows violating: refused after the pass, naming keys; not enforced.
    let mut r = Runner::<DB>::connect(&t.url, &[PaymentBadFix::definition()], options())
        .await
        .unwrap();
    let err = r
        .up(None, None)
        .await
        .expect_err("the fix does not satisfy the check")
        .to_string();
    assert!(
        err.contains("still violate CHECK payments_amount_check after its fix") && err.contains("keys 3"),
        "{err}"
    );
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    r.close().await.unwrap();
    let constraints = DB::text_rows(
        &mut conn,
        "SELECT count(*)::text FROM pg_constraint WHERE conrelid = 'payments'::regclass AND contype = 'c'"
            .into(),
    )
    .await;
    assert_eq!(constraints, ["0"], "nothing enforced");
    // The bad fix rewrote rows (amount - 1, applied twice: the pass and its one re-scan);
    // put the seed back.
    DB::exec(&mut conn, "DELETE FROM payments").await;
    for sql in seed_sql_with(
        straddle::Dialect::Postgres,
        "payments",
        SEEDED as u64,
        &[
            ("amount", "CASE WHEN n % 3 = 0 THEN -n ELSE n END"),
            ("fee", "CASE WHEN n % 3 = 1 THEN n + 5 ELSE 1 END"),
        ],
    ) {
        DB::exec(&mut conn, &sql).await;
    }

    // The rollout, the previous release writing violating rows until contract.
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Payment0, Payment1>(&t, 1, &next_id, SEEDED).await;
    let reference = vec![
        "CREATE TABLE payments_ref (id BIGINT NOT NULL, email TEXT NOT NULL, amount BIGINT NOT NULL, \
         fee BIGINT NOT NULL, PRIMARY KEY (id), CONSTRAINT payments_ref_amount_check CHECK (amount >= 0 AND fee <= amount))"
            .to_string(),
    ];
    assert_matches_reference::<DB>(
        &mut conn,
        "payments",
        "payments_ref",
        &reference,
        "after the rollout",
    )
    .await;
    // Every row satisfies it; seeded rows the releases' traffic did not rewrite (it
    // updates key `1 + (n * 7919) % SEEDED` in its round `n`; far fewer than 2,000 rounds
    // run) hold the seed's values, fixed where they violated.
    let touched: std::collections::HashSet<i64> = (1..=2_000).map(|n| 1 + (n * 7919) % SEEDED).collect();
    let untouched: Vec<i64> = (1..=SEEDED).filter(|id| !touched.contains(id)).collect();
    let pick = |rest: i64| {
        *untouched
            .iter()
            .find(|id| *id % 3 == rest)
            .expect("an untouched row")
    };
    for id in [pick(0), pick(1), pick(2)] {
        // The seed, then the fix where it violated.
        let (amount, fee) = match id % 3 {
            0 => (id, 1),  // -id fixed to id
            1 => (id, id), // fee id + 5 fixed to the amount
            _ => (id, 1),  // never violated
        };
        let row = DB::text_rows(
            &mut conn,
            format!("SELECT amount || ':' || fee FROM payments WHERE id = {id}"),
        )
        .await;
        assert_eq!(row, [format!("{amount}:{fee}")], "row {id}");
    }
    let violating = DB::text_rows(
        &mut conn,
        "SELECT count(*)::text FROM payments WHERE NOT (amount >= 0 AND fee <= amount)".into(),
    )
    .await;
    assert_eq!(violating, ["0"]);
    // Enforced: a violating write is refused now.
    let refused = DB::execute(
        &mut conn,
        "UPDATE payments SET amount = -1 WHERE id = 4".into(),
        Default::default(),
    )
    .await;
    assert!(refused.is_err(), "the check is not enforced");
}
