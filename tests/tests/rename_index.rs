//! Issue 11 — renaming an index and a UNIQUE constraint (`renamed_index(from = …)`) on
//! PostgreSQL, MariaDB and SQLite: two indexes that were there before Straddle take
//! their new names at contract (PostgreSQL `ALTER INDEX … RENAME` / `ALTER TABLE … RENAME
//! CONSTRAINT`, metadata only; MySQL `RENAME INDEX`, in place; SQLite, which cannot rename
//! one, builds the new and drops the old in one transaction), through the ledger with the
//! previous release and this one writing beside it (`straddle_tests::releases`), then down
//! (the old names back) and up again. The catalog equals a hand-written table each time.

use std::sync::atomic::AtomicI64;
use straddle::{Dialect, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::releases::{Release, rollout};
use straddle_tests::{
    TestBackend, TestDb, assert_matches_reference, base_table_sql, final_table_sql, per_dialect, seed_sql,
};

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tags")]
pub struct Tag {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub label: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "tags",
    lock = "rollouts/tags.lock",
    renamed_index(from = "tags_legacy_label", name = "tags_label", on(label), phase = contract),
    renamed_index(from = "tags_legacy_code", name = "tags_code", on(code), unique, constraint, phase = contract)
)]
pub struct TagRenamed {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub label: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub code: String,
}

macro_rules! release {
    ($($t:ident),*) => {$(
        impl Release for $t {
            fn make(id: i64) -> Self {
                $t { id, label: format!("l{}", id % 50), code: format!("c{id}") }
            }
        }
    )*};
}
release!(Tag, TagRenamed);

const SEEDED: i64 = 2_000;

per_dialect!(indexes_take_their_new_names_at_contract);

/// The index statements of `table`: the plain index and the UNIQUE constraint under
/// `<table>_<label>` and `<table>_<code>`.
fn indexes(d: Dialect, table: &str, label: &str, code: &str) -> Vec<String> {
    let q = |s: &str| d.quote(s);
    let (label, code) = (format!("{table}_{label}"), format!("{table}_{code}"));
    vec![
        format!("CREATE INDEX {} ON {} ({})", q(&label), q(table), q("label")),
        match d {
            Dialect::Postgres => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                q(table),
                q(&code),
                q("code")
            ),
            _ => format!("CREATE UNIQUE INDEX {} ON {} ({})", q(&code), q(table), q("code")),
        },
    ]
}

async fn assert_named<DB: TestBackend>(t: &TestDb, label: &str, code: &str, when: &str) {
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let reference: Vec<String> = std::iter::once(final_table_sql(Tag::definition(), DB::DIALECT, "tags_ref"))
        .chain(indexes(DB::DIALECT, "tags_ref", label, code))
        .collect();
    assert_matches_reference::<DB>(&mut conn, "tags", "tags_ref", &reference, when).await;
}

async fn indexes_take_their_new_names_at_contract<DB: TestBackend>(t: &TestDb)
where
    Tag: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    TagRenamed: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(1).await;
    {
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, &base_table_sql(Tag::definition(), DB::DIALECT)).await;
        let seed = seed_sql(DB::DIALECT, "tags", SEEDED as u64);
        for sql in seed {
            // (id, email) → (id, label); code from the key.
            let sql = sql
                .replace(&DB::DIALECT.quote("email"), &DB::DIALECT.quote("label"))
                .replace(
                    &format!("{})", DB::DIALECT.quote("label")),
                    &format!("{}, {})", DB::DIALECT.quote("label"), DB::DIALECT.quote("code")),
                )
                .replace("'@Example.COM') FROM", "'@Example.COM'), CONCAT('c', n) FROM");
            DB::exec(&mut conn, &sql).await;
        }
        for sql in indexes(DB::DIALECT, "tags", "legacy_label", "legacy_code") {
            DB::exec(&mut conn, &sql).await;
        }
    }
    assert_named::<DB>(t, "legacy_label", "legacy_code", "before").await;
    let next_id = AtomicI64::new(1_000_000);
    rollout::<DB, Tag, TagRenamed>(t, 1, &next_id, SEEDED).await;
    assert_named::<DB>(t, "label", "code", "renamed").await;

    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[TagRenamed::definition()], options)
        .await
        .unwrap();
    r.down(Some(Phase::Contract), None).await.unwrap();
    assert_named::<DB>(t, "legacy_label", "legacy_code", "the rename reverted").await;
    r.up(None, None).await.unwrap();
    r.close().await.unwrap();
    assert_named::<DB>(t, "label", "code", "renamed again").await;
    // The unique constraint still holds under its new name.
    let mut conn = pool.acquire().await.unwrap();
    let dup = format!(
        "INSERT INTO {} ({}, {}, {}) VALUES (9000000, 'x', 'c1')",
        DB::DIALECT.quote("tags"),
        DB::DIALECT.quote("id"),
        DB::DIALECT.quote("label"),
        DB::DIALECT.quote("code")
    );
    assert!(
        DB::execute(&mut conn, dup, Default::default()).await.is_err(),
        "a duplicate code"
    );
}
