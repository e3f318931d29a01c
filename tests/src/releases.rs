//! Two releases side by side through one rollout, via the ledger: the previous release
//! and this one inserting, updating and reading while the runner applies expand and
//! backfill, the previous one stopping before contract (as the fleet gate has it); then
//! every phase down and up again. Used by the tests of a schema's whole life
//! (`tests/history.rs`) and of the operations it strings together.

use crate::TestBackend;
use crate::TestDb;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use straddle::{Db, Model, Phase, ProgressMode, Runner, RunnerOptions};

/// A release's row for key `id`: `code` (under whichever name) is the key itself, so that
/// the unique constraint holds whoever wrote the row.
pub trait Release: Model + Clone + Send + Sync + Unpin + 'static {
    /// The row it writes for key `id`.
    fn make(id: i64) -> Self;
}

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        // Going down through a retirement or an addition loses the column's values: this
        // history does it on purpose.
        allow_data_loss: true,
        ..Default::default()
    }
}

/// A release's traffic while `on`: inserts of new keys, updates and reads of seeded ones;
/// every failure recorded.
pub async fn traffic<DB: TestBackend, M>(
    db: &Db<DB>,
    who: &str,
    on: &AtomicBool,
    done: &AtomicBool,
    next_id: &AtomicI64,
    seeded_rows: i64,
    failures: &Mutex<Vec<String>>,
) -> i64
where
    M: Release + for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut n = 0i64;
    while !done.load(Ordering::Relaxed) {
        if !on.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        n += 1;
        let fresh = next_id.fetch_add(1, Ordering::Relaxed);
        let seeded = 1 + (n * 7919) % seeded_rows;
        let result = async {
            db.insert(&M::make(fresh)).await?;
            db.update(&M::make(seeded)).await?;
            match db.find::<M, _>(seeded).await? {
                Some(_) => Ok(()),
                None => Err(straddle::Error::Usage(format!("row {seeded} is gone"))),
            }
        }
        .await;
        if let Err(e) = result {
            failures.lock().unwrap().push(format!("{who}: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n
}

/// Rollout `k`: `Cur` through every phase with `Prev` running beside it until contract;
/// then every phase down and up again.
pub async fn rollout<DB: TestBackend, Prev, Cur>(t: &TestDb, k: usize, next_id: &AtomicI64, seeded_rows: i64)
where
    Prev: Release + for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Cur: Release + for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let model = Cur::definition();
    let prev_db = Db::new(t.pool::<DB>(3).await).await.unwrap();
    let cur_db = Db::new(t.pool::<DB>(3).await).await.unwrap();
    let (prev_on, cur_on, done) = (
        AtomicBool::new(true),
        AtomicBool::new(false),
        AtomicBool::new(false),
    );
    let failures = Mutex::new(Vec::new());
    let driver = async {
        let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
        let up = |phase| format!("rollout {k} ({}) {phase}", model.rust_name);
        r.up(Some(Phase::Expand), None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", up("expand")));
        cur_on.store(true, Ordering::Relaxed); // this release deploys
        tokio::time::sleep(Duration::from_millis(300)).await;
        r.up(Some(Phase::Backfill), None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", up("backfill")));
        tokio::time::sleep(Duration::from_millis(300)).await;
        prev_on.store(false, Ordering::Relaxed); // the previous release is gone
        tokio::time::sleep(Duration::from_millis(100)).await;
        r.up(Some(Phase::Contract), None)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", up("contract")));
        tokio::time::sleep(Duration::from_millis(300)).await;
        done.store(true, Ordering::Relaxed);
        r.close().await.unwrap();
    };
    let ((), prev_rounds, cur_rounds) = tokio::join!(
        driver,
        traffic::<DB, Prev>(
            &prev_db,
            "previous release",
            &prev_on,
            &done,
            next_id,
            seeded_rows,
            &failures
        ),
        traffic::<DB, Cur>(
            &cur_db,
            "this release",
            &cur_on,
            &done,
            next_id,
            seeded_rows,
            &failures
        ),
    );
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "rollout {k}: {} statements failed: {failures:#?}",
        failures.len()
    );
    eprintln!(
        "rollout {k} ({}): {prev_rounds} rounds of the previous release, {cur_rounds} of this one (insert, update, \
         read each), none failed",
        model.rust_name
    );
    assert!(
        prev_rounds > 10 && cur_rounds > 10,
        "rollout {k}: the releases hardly ran"
    );

    // The releases stop (deregistering from the fleet registry): down through every
    // phase, and up again.
    prev_db.close().await;
    cur_db.close().await;
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    for _ in Phase::ALL {
        r.down(None, None)
            .await
            .unwrap_or_else(|e| panic!("rollout {k} down: {e}"));
    }
    r.up(Some(Phase::Contract), None)
        .await
        .unwrap_or_else(|e| panic!("rollout {k} up again: {e}"));
    r.close().await.unwrap();
}
