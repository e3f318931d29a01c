//! Add and drop indexes (`index(...)`, `dropped_index(...)`) on PostgreSQL, MariaDB and
//! SQLite through the rollout harness (`straddle_tests::rollout`): a unique index built
//! at expand and an index dropped at contract, while the previous release (`Contact`)
//! and this one (`ContactIndexed`) write concurrently, every phase up, down and up. Then:
//! a duplicate is refused by the unique index; on PostgreSQL an INVALID leftover of a
//! failed build is detected and rebuilt, and duplicates are reported with sample keys
//! before anything is built.

use straddle::{ApplyOptions, Direction, Model, Phase};
use straddle_tests::models::{Contact, ContactIndexed, contact_value, note_for};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql};

const ROWS: i64 = 20_000;

struct Indexes;

impl Versions for Indexes {
    type Old = Contact;
    type New = ContactIndexed;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Contact {
        Contact {
            id,
            email: value.to_string(),
            note: note_for(value),
        }
    }
    fn new_row(id: i64, value: &str) -> ContactIndexed {
        ContactIndexed {
            id,
            email: value.to_string(),
            note: note_for(value),
        }
    }
    fn old_value(row: &Contact) -> String {
        contact_value(&row.email, &row.note)
    }
    fn new_value(row: &ContactIndexed) -> String {
        contact_value(&row.email, &row.note)
    }
}

async fn indexes<DB: TestBackend>(t: &TestDb)
where
    Contact: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    ContactIndexed: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let q = |s: &str| DB::DIALECT.quote(s);
    let mut setup = seed_sql(DB::DIALECT, "contacts", ROWS as u64);
    setup.push(format!(
        "CREATE INDEX {} ON {} ({})",
        q("contacts_note_idx"),
        q("contacts"),
        q("note")
    ));
    rollout::run::<DB, Indexes>(t, ROWS, setup).await;

    // The unique index is real: a duplicate is refused.
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let dup = format!(
        "INSERT INTO {} ({}, {}) VALUES (99999999, {})",
        q("contacts"),
        q("id"),
        q("email"),
        DB::DIALECT.string_literal(&straddle_tests::seeded_email(7))
    );
    assert!(
        DB::execute(&mut conn, dup, Default::default()).await.is_err(),
        "a duplicate email was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("index").await {
        indexes::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("index").await {
        indexes::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("index").await {
        indexes::<sqlx::Sqlite>(&t).await;
    }
}

/// Duplicates are reported with sample keys before anything is built; an INVALID index
/// left by a failed build is dropped and rebuilt by the next run.
async fn duplicates_and_invalid_leftovers<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let model = ContactIndexed::definition();
    DB::exec(
        &mut conn,
        &straddle_tests::base_table_sql(Contact::definition(), DB::DIALECT),
    )
    .await;
    for sql in seed_sql(DB::DIALECT, "contacts", 100) {
        DB::exec(&mut conn, &sql).await;
    }
    let dup = |id: i64| {
        format!(
            "UPDATE {} SET {} = 'same@example.com' WHERE {} = {id}",
            DB::DIALECT.quote("contacts"),
            DB::DIALECT.quote("email"),
            DB::DIALECT.quote("id")
        )
    };
    DB::exec(&mut conn, &dup(3)).await;
    DB::exec(&mut conn, &dup(4)).await;
    let options = ApplyOptions::default();
    let expand = async |conn: &mut DB::Connection| {
        straddle::apply_phase::<DB>(
            conn,
            model,
            "contacts_email_key",
            Phase::Expand,
            Direction::Up,
            &options,
        )
        .await
    };
    let err = expand(&mut conn).await.unwrap_err();
    // The sample is the repeated value, and it is called that (not "offending rows").
    assert!(
        err.to_string().contains("(1 repeated value: same@example.com)"),
        "{err}"
    );
    match err {
        straddle::Error::Refused {
            count, sample, step, ..
        } => {
            assert_eq!((count, step.as_str()), (1, "create-index"));
            assert_eq!(sample, vec!["same@example.com"]);
        }
        other => panic!("expected a refusal naming the duplicates, got {other}"),
    }
    let indexes = DB::catalog(&mut conn, "contacts").await;
    assert!(
        !indexes.iter().any(|l| l.contains("contacts_email_key")),
        "nothing was built: {indexes:?}"
    );

    if DB::DIALECT == straddle::Dialect::Postgres {
        // A failed concurrent build leaves an INVALID index behind.
        let failed = DB::execute(
            &mut conn,
            "CREATE UNIQUE INDEX CONCURRENTLY contacts_email_key ON contacts (email)".into(),
            Default::default(),
        )
        .await;
        assert!(failed.is_err());
        let invalid = "SELECT count(*)::text FROM pg_index JOIN pg_class ON oid = indexrelid \
                       WHERE relname = 'contacts_email_key' AND NOT indisvalid";
        assert_eq!(DB::text_rows(&mut conn, invalid.into()).await, vec!["1"]);
        DB::exec(
            &mut conn,
            "UPDATE contacts SET email = 'other@example.com' WHERE id = 4",
        )
        .await;
        expand(&mut conn).await.unwrap();
        assert_eq!(
            DB::text_rows(&mut conn, invalid.into()).await,
            vec!["0"],
            "rebuilt valid"
        );
        let valid = "SELECT count(*)::text FROM pg_index JOIN pg_class ON oid = indexrelid \
                     WHERE relname = 'contacts_email_key' AND indisvalid AND indisunique";
        assert_eq!(DB::text_rows(&mut conn, valid.into()).await, vec!["1"]);
    }
}

#[tokio::test]
async fn duplicates_postgres() {
    if let Some(t) = TestDb::postgres("dups").await {
        duplicates_and_invalid_leftovers::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test]
async fn duplicates_mysql() {
    if let Some(t) = TestDb::mysql("dups").await {
        duplicates_and_invalid_leftovers::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test]
async fn duplicates_sqlite() {
    if let Some(t) = TestDb::sqlite("dups").await {
        duplicates_and_invalid_leftovers::<sqlx::Sqlite>(&t).await;
    }
}
