//! Issue 11 — a schema's whole life: one column and one index of `parcels` taken through
//! eight successive rollouts, each in a release of its own with the lock `straddle
//! generate` writes (`tests/rollouts/parcels-N.lock`), on every engine:
//!
//! 1. `code` added (nullable `i32`)          5. a UNIQUE constraint on `code`
//! 2. `code` retyped to `i64`                6. that constraint dropped
//! 3. `code` given a default (7)             7. `code` renamed to `ref_code`
//! 4. `code` made NOT NULL (NULLs ← `id`)    8. `ref_code` retired
//!
//! Each rollout runs through the ledger (`Runner`) with the previous release and this one
//! writing and reading concurrently (the previous one until contract, as the fleet gate
//! would have it); no statement may fail. Then it goes down through every phase and up
//! again. After each rollout the table's catalog equals a hand-written `CREATE TABLE`,
//! nothing of Straddle's is left, and the ledger holds each rollout under its own key.

use std::sync::atomic::AtomicI64;
use straddle::{Dialect, Model, Phase};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{TestBackend, TestDb, assert_matches_reference, base_table_sql, seed_sql};

/// Before the history: `parcels (id, email)`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels")]
pub struct Parcel0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-1.lock")]
pub struct Parcel1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = contract))]
    pub code: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-2.lock")]
pub struct Parcel2 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(retyped(from = "i32", phase = contract))]
    pub code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-3.lock")]
pub struct Parcel3 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(default_changed(to = 7, phase = contract))]
    pub code: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-4.lock")]
pub struct Parcel4 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(not_null(fill = "id", phase = contract))]
    pub code: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "parcels",
    lock = "rollouts/parcels-5.lock",
    index(name = "parcels_code", on(code), unique, constraint, phase = contract)
)]
pub struct Parcel5 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub code: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "parcels",
    lock = "rollouts/parcels-6.lock",
    dropped_index(name = "parcels_code", on(code), unique, constraint, phase = contract)
)]
pub struct Parcel6 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub code: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-7.lock")]
pub struct Parcel7 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(renamed(from = "code", phase = contract))]
    pub ref_code: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "parcels", lock = "rollouts/parcels-8.lock")]
pub struct Parcel8 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(retired(phase = contract, default = 0))]
    pub ref_code: Option<i64>,
}

macro_rules! release {
    ($t:ident { $($field:ident: $value:expr),* }) => {
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, email: format!("p{id}@example.com") $(, $field: $value(id))* }
            }
        }
    };
}
release!(Parcel0 {});
release!(Parcel1 {
    code: |id: i64| Some(id as i32)
});
release!(Parcel2 { code: Some });
release!(Parcel3 { code: Some });
release!(Parcel4 { code: |id| id });
release!(Parcel5 { code: |id| id });
release!(Parcel6 { code: |id| id });
release!(Parcel7 { ref_code: |id| id });
release!(Parcel8 { ref_code: |_| None });

const SEEDED: i64 = 2_000;

/// The table after rollout `k`, written by hand (as `parcels_ref`).
fn reference(dialect: Dialect, k: usize) -> Vec<String> {
    let q = |s: &str| dialect.quote(s);
    let ty = |rust| straddle::ir::types::sql_type(dialect, rust).unwrap();
    let null = if dialect == Dialect::MySql { " NULL" } else { "" };
    let code = match k {
        1 => Some(format!("{} {}{null}", q("code"), ty("i32"))),
        2 => Some(format!("{} {}{null}", q("code"), ty("i64"))),
        3 => Some(format!("{} {}{null} DEFAULT 7", q("code"), ty("i64"))),
        4..=6 => Some(format!("{} {} NOT NULL DEFAULT 7", q("code"), ty("i64"))),
        7 => Some(format!("{} {} NOT NULL DEFAULT 7", q("ref_code"), ty("i64"))),
        _ => None,
    };
    let columns: Vec<String> = [
        Some(format!("{} {} NOT NULL", q("id"), ty("i64"))),
        Some(format!("{} {} NOT NULL", q("email"), ty("String"))),
        code,
        Some(format!("PRIMARY KEY ({})", q("id"))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut sql = vec![format!(
        "CREATE TABLE {} ({})",
        q("parcels_ref"),
        columns.join(", ")
    )];
    if k == 5 {
        sql.push(match dialect {
            Dialect::Postgres => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                q("parcels_ref"),
                q("parcels_ref_code"),
                q("code")
            ),
            _ => format!(
                "CREATE UNIQUE INDEX {} ON {} ({})",
                q("parcels_ref_code"),
                q("parcels_ref"),
                q("code")
            ),
        });
    }
    sql
}

async fn assert_settled<DB: TestBackend>(t: &TestDb, k: usize) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let when = format!("after rollout {k}");
    assert_matches_reference::<DB>(
        &mut conn,
        "parcels",
        "parcels_ref",
        &reference(DB::DIALECT, k),
        &when,
    )
    .await;
    let rows = DB::text_rows(&mut conn, "SELECT CAST(COUNT(*) AS CHAR(12)) FROM parcels".into()).await;
    let rows: i64 = rows[0].trim().parse().unwrap();
    assert!(rows > SEEDED, "after rollout {k}: {rows} rows");
}

async fn history<DB: TestBackend>(t: &TestDb)
where
    Parcel0: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel1: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel2: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel3: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel4: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel5: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel6: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel7: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    Parcel8: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(1).await;
    {
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, &base_table_sql(Parcel0::definition(), DB::DIALECT)).await;
        for sql in seed_sql(DB::DIALECT, "parcels", SEEDED as u64) {
            DB::exec(&mut conn, &sql).await;
        }
    }
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Parcel0, Parcel1>(t, 1, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 1).await;
    rollout::<DB, Parcel1, Parcel2>(t, 2, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 2).await;
    rollout::<DB, Parcel2, Parcel3>(t, 3, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 3).await;
    rollout::<DB, Parcel3, Parcel4>(t, 4, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 4).await;
    rollout::<DB, Parcel4, Parcel5>(t, 5, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 5).await;
    rollout::<DB, Parcel5, Parcel6>(t, 6, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 6).await;
    rollout::<DB, Parcel6, Parcel7>(t, 7, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 7).await;
    rollout::<DB, Parcel7, Parcel8>(t, 8, &next_id, SEEDED).await;
    assert_settled::<DB>(t, 8).await;

    // Each rollout under its own key; none of them left a failure behind.
    let mut conn = pool.acquire().await.unwrap();
    let keys = DB::text_rows(
        &mut conn,
        "SELECT DISTINCT change_id FROM _straddle_migrations ORDER BY change_id".into(),
    )
    .await;
    assert_eq!(
        keys,
        [
            "parcels.code",
            "parcels.code~2",
            "parcels.code~3",
            "parcels.code~4",
            "parcels.parcels_code",
            "parcels.parcels_code~2",
            "parcels.ref_code",
            "parcels.ref_code~2"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("history").await {
        history::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("history").await {
        history::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("history").await {
        history::<sqlx::Sqlite>(&t).await;
    }
}

/// The committed locks chain the way `straddle generate` writes them: each release's
/// contract ships, the next release declares its change (at expand), and the lock it
/// generates records the same completed rollouts as the next committed lock — and gives
/// each change the rollout number the derive read.
#[test]
fn the_locks_chain() {
    use straddle::ir::lock::LockFile;
    use straddle::ir::model::Change;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rollouts");
    let lock = |k: usize| {
        LockFile::read(&root.join(format!("parcels-{k}.lock")))
            .unwrap()
            .unwrap()
    };
    let at_expand = |m: &straddle::ir::Model| {
        let mut m = m.clone();
        m.rollouts.clear();
        for c in &mut m.columns {
            match &mut c.change {
                Some(Change::Add(x)) => x.phase = Phase::Expand,
                Some(Change::Rename(x)) => x.phase = Phase::Expand,
                Some(Change::Retire(x)) => x.phase = Phase::Expand,
                Some(Change::Nullable(x)) => x.phase = Phase::Expand,
                Some(Change::NotNull(x)) => x.phase = Phase::Expand,
                Some(Change::DefaultChanged(x)) => x.phase = Phase::Expand,
                Some(Change::Retype(x)) => x.phase = Phase::Expand,
                Some(Change::CommentChanged(x)) => x.phase = Phase::Expand,
                None => {}
            }
        }
        for i in &mut m.indexes {
            i.phase = Phase::Expand;
        }
        m
    };
    let models = [
        Parcel1::definition(),
        Parcel2::definition(),
        Parcel3::definition(),
        Parcel4::definition(),
        Parcel5::definition(),
        Parcel6::definition(),
        Parcel7::definition(),
        Parcel8::definition(),
    ];
    for k in 1..models.len() {
        let shipped = lock(k).with_models(&[models[k - 1]]);
        let next = at_expand(models[k]);
        assert_eq!(shipped.rollouts(&next), models[k].rollouts, "release {}", k + 1);
        let generated = shipped.with_models(&[&next]);
        assert_eq!(
            generated.tables["parcels"].completed,
            lock(k + 1).tables["parcels"].completed,
            "the lock of release {}",
            k + 1
        );
    }
}
