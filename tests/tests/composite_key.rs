//! Issue 11 — backfill over a composite primary key, on every engine: the batches are
//! ranges of the key tuple `(order_id, sku)` in its order (row comparisons on PostgreSQL
//! and SQLite; their expansion `order_id > ? OR (order_id = ? AND sku > ?)` on
//! MySQL/MariaDB, whose optimizer range-scans only that), so batch boundaries fall inside
//! an order's lines; the checkpoint keeps the last key as a JSON array, and a run stopped
//! mid-way resumes from it. The previous release inserts and updates lines throughout;
//! afterwards every line holds the value its own quantity gives, none left behind, none
//! written twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use straddle::{BackfillOptions, Db, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{TestBackend, TestDb, backfill_report, base_table_sql};

/// Before: no `doubled`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "line_items")]
pub struct LineItem0 {
    #[straddle(primary_key)]
    pub order_id: i64,
    #[straddle(primary_key, sql_type(mysql = "VARCHAR(64)"))]
    pub sku: String,
    pub qty: i64,
}

/// `doubled` added and filled from `qty`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "line_items")]
pub struct LineItem1 {
    #[straddle(primary_key)]
    pub order_id: i64,
    #[straddle(primary_key, sql_type(mysql = "VARCHAR(64)"))]
    pub sku: String,
    pub qty: i64,
    #[straddle(added(backfill = "qty * 2", phase = contract))]
    pub doubled: i64,
}

/// Orders of 10 lines each: `sku-0` … `sku-9` (text order, not numeric, past `sku-1`).
const ORDERS: i64 = 400;

fn options(backfill: BackfillOptions) -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        backfill,
        // Going back through expand drops the filled column: this test does it on purpose.
        allow_data_loss: true,
        ..Default::default()
    }
}

async fn composite_key_backfill<DB>(t: &TestDb)
where
    DB: TestBackend,
    LineItem0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
{
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(LineItem0::definition(), DB::DIALECT)).await;
    let mut values = Vec::new();
    for o in 1..=ORDERS {
        for l in 0..10 {
            values.push(format!("({o}, 'sku-{l}', {})", o * 10 + l));
        }
    }
    for chunk in values.chunks(500) {
        DB::exec(
            &mut conn,
            &format!(
                "INSERT INTO line_items (order_id, sku, qty) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await;
    }
    let model = LineItem1::definition();
    let mut r = Runner::<DB>::connect(&t.url, &[model], options(BackfillOptions::default()))
        .await
        .unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    r.close().await.unwrap();

    // The previous release writes throughout: new orders, and new quantities for old lines.
    let prev = Db::new(t.pool::<DB>(2).await).await.unwrap();
    let (stop, failures) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(0)));
    let writes = async {
        let mut n = 0i64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let fresh = LineItem0 {
                order_id: 1_000_000 + n,
                sku: format!("sku-{}", n % 10),
                qty: n,
            };
            let old = LineItem0 {
                order_id: 1 + (n * 37) % ORDERS,
                sku: format!("sku-{}", n % 10),
                qty: 5_000_000 + n,
            };
            if prev.insert(&fresh).await.is_err() || prev.update(&old).await.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n
    };
    let migrate = async {
        // Small odd batches: boundaries fall inside orders. Stopped after a while...
        let slow = BackfillOptions {
            fixed_batch: Some(7),
            max_rows_per_sec: Some(1_500),
            ..Default::default()
        };
        let mut r = Runner::<DB>::connect(&t.url, &[model], options(slow))
            .await
            .unwrap();
        let stopped =
            tokio::time::timeout(Duration::from_millis(800), r.up(Some(Phase::Backfill), None)).await;
        assert!(stopped.is_err(), "the throttled backfill finished within 800 ms");
        drop(r);
        {
            // Where it stopped: every line up to the checkpoint's key, in (order_id, sku)
            // order, is filled — the batch boundaries fell inside orders — and lines past it
            // the previous release did not touch are not.
            let pool = t.pool::<DB>(1).await;
            let mut conn = pool.acquire().await.unwrap();
            let checkpoints = DB::DIALECT.quote(straddle::ir::render::ledger::CHECKPOINTS);
            let last = DB::text_rows(
                &mut conn,
                format!("SELECT last_key FROM {checkpoints} WHERE change_id LIKE 'line_items.doubled#%'"),
            )
            .await;
            let key: (i64, String) = serde_json::from_str(&last[0]).unwrap();
            let upto = format!(
                "(order_id < {0} OR (order_id = {0} AND sku <= '{1}'))",
                key.0, key.1
            );
            let text = if DB::DIALECT == straddle::Dialect::MySql {
                "CHAR"
            } else {
                "TEXT"
            };
            let unfilled = DB::text_rows(
                &mut conn,
                format!("SELECT CAST(count(*) AS {text}) FROM line_items WHERE {upto} AND doubled IS NULL"),
            )
            .await;
            assert_eq!(unfilled, ["0"], "a line up to the checkpoint {key:?} was skipped");
            let beyond = DB::text_rows(
                &mut conn,
                format!(
                    "SELECT CAST(count(*) AS {text}) FROM line_items WHERE NOT {upto} AND doubled IS NULL \
                     AND order_id < 1000000"
                ),
            )
            .await;
            assert_ne!(beyond, ["0"], "nothing left past the checkpoint {key:?}");
        }
        if DB::DIALECT == straddle::Dialect::Sqlite {
            // The stopped run's lease on SQLite would keep a second runner out until it
            // expires (60 s): expire it now.
            let pool = t.pool::<DB>(1).await;
            let mut conn = pool.acquire().await.unwrap();
            let lease = DB::DIALECT.quote(straddle::ir::render::ledger::LEASE);
            DB::exec(&mut conn, &format!("DELETE FROM {lease}")).await;
        }
        // ...and resumed from its checkpoint by another run.
        let fixed = BackfillOptions {
            fixed_batch: Some(97),
            ..Default::default()
        };
        let mut r = Runner::<DB>::connect(&t.url, &[model], options(fixed))
            .await
            .unwrap();
        let runs = r.up(Some(Phase::Backfill), None).await.unwrap();
        let report = backfill_report(&runs);
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        r.close().await.unwrap();
        report
    };
    let (written, report) = tokio::join!(writes, migrate);
    assert!(
        report.resumed_rows > 0,
        "the second run resumed from the checkpoint: {report:?}"
    );
    assert!(report.batches > 10, "{report:?}");
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "the previous release's writes failed"
    );
    assert!(written > 20, "the previous release hardly wrote");
    prev.close().await;

    // Every line, old and new, holds its own quantity doubled.
    let text = if DB::DIALECT == straddle::Dialect::MySql {
        "CHAR"
    } else {
        "TEXT"
    };
    let wrong = DB::text_rows(
        &mut conn,
        format!(
            "SELECT CAST(count(*) AS {text}) FROM line_items WHERE doubled IS NULL OR doubled <> qty * 2"
        ),
    )
    .await;
    assert_eq!(wrong, ["0"]);
    let total = DB::text_rows(
        &mut conn,
        format!("SELECT CAST(count(*) AS {text}) FROM line_items"),
    )
    .await;
    assert_eq!(total, [(ORDERS * 10 + written).to_string()]);

    // Contract (NOT NULL) and back down, up again.
    let mut r = Runner::<DB>::connect(&t.url, &[model], options(BackfillOptions::default()))
        .await
        .unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    r.up(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
}

straddle_tests::per_dialect!(composite_key_backfill);

/// `Db::find_by_key` finds a row by its whole composite key (a tuple in key-field order);
/// `find` with one value, or a tuple of another length, is refused naming the key.
async fn rows_found_by_composite_key<DB>(t: &TestDb)
where
    DB: TestBackend,
    LineItem0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(LineItem0::definition(), DB::DIALECT)).await;
    DB::exec(
        &mut conn,
        "INSERT INTO line_items (order_id, sku, qty) VALUES (7, 'sku-3', 73), (7, 'sku-4', 74), (8, 'sku-3', 83)",
    )
    .await;
    let db = Db::new(t.pool::<DB>(1).await).await.unwrap();
    let line = |order_id: i64, sku: &str, qty: i64| LineItem0 {
        order_id,
        sku: sku.into(),
        qty,
    };
    for (order_id, sku, qty) in [(7, "sku-4", 74), (8, "sku-3", 83), (7, "sku-3", 73)] {
        let found = db
            .find_by_key::<LineItem0, _>((order_id, sku.to_string()))
            .await
            .unwrap();
        assert_eq!(found, Some(line(order_id, sku, qty)));
    }
    let missing = db.find_by_key::<LineItem0, _>((8i64, "sku-4".to_string())).await;
    assert_eq!(missing.unwrap(), None);
    let one = db.find::<LineItem0, _>(7i64).await.unwrap_err().to_string();
    assert!(
        one.contains("primary key is (order_id, sku)")
            && one.contains("find_by_key::<LineItem0, _>((order_id, sku))"),
        "{one}"
    );
    let three = db
        .find_by_key::<LineItem0, _>((7i64, "sku-3".to_string(), 1i64))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        three.contains("by 2 values") && three.contains("not 3"),
        "{three}"
    );
    db.close().await;
}

straddle_tests::per_dialect!(rows_found_by_composite_key);

/// MariaDB range-scans the expanded comparison (it would scan the whole index for a row
/// comparison, making each batch cost the table): its plan for a batch's UPDATE is a
/// `range` over the primary key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_range_scans_a_composite_key_batch() {
    type DB = sqlx::MySql;
    let Some(t) = TestDb::mysql("composite_key_plan").await else {
        return;
    };
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &base_table_sql(LineItem0::definition(), straddle::Dialect::MySql),
    )
    .await;
    DB::exec(&mut conn, "ALTER TABLE line_items ADD COLUMN doubled BIGINT NULL").await;
    DB::exec(
        &mut conn,
        "INSERT INTO line_items (order_id, sku, qty) SELECT seq DIV 10, CONCAT('sku-', seq MOD 10), seq \
         FROM seq_1_to_20000",
    )
    .await;
    DB::exec(&mut conn, "ANALYZE TABLE line_items").await;
    let model = LineItem1::definition();
    let plan = straddle::ir::plan_model(model).remove(0);
    let steps = straddle::ir::render::render_phase(
        straddle::Dialect::MySql,
        model,
        &plan,
        Phase::Backfill,
        straddle::Direction::Up,
    );
    let b = steps
        .iter()
        .flat_map(|s| &s.statements)
        .find_map(|s| match s {
            straddle::ir::step::Statement::Backfill(b) => Some(b.clone()),
            _ => None,
        })
        .expect("a backfill statement");
    assert!(b.expanded_binds);
    // After (500, 'sku-3'), up to (510, 'sku-7'): k1 | k1, k2 for each bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {}", b.update_sql)));
    for (o, s) in [(500, "sku-3"), (510, "sku-7")] {
        query = query.bind(o).bind(o).bind(s);
    }
    let row = query.fetch_one(&mut *conn).await.unwrap();
    let access: String = sqlx::Row::try_get(&row, "type").unwrap();
    let rows: String = sqlx::Row::try_get(&row, "rows").unwrap();
    let rows: i64 = rows.parse().unwrap();
    assert_eq!(access, "range", "the batch's UPDATE plan");
    assert!(
        rows < 1_000,
        "the batch's UPDATE reads {rows} rows for a batch of ~100"
    );
}
