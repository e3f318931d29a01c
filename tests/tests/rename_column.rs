//! Rename a column (`renamed(from = …)`), two at once on one table — a NOT NULL one and
//! a nullable one — on PostgreSQL, MariaDB and SQLite, through the rollout harness
//! (`straddle_tests::rollout`): the previous release (`Contact`, writing `email`/`note`)
//! and this one (`ContactRenamed`, writing `email_address`/`remark`) run concurrently
//! through every phase, up, down and up again.

use straddle_tests::models::{Contact, ContactRenamed, contact_value, note_for};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql};

const ROWS: i64 = 20_000;

struct Rename;

impl Versions for Rename {
    type Old = Contact;
    type New = ContactRenamed;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Contact {
        Contact {
            id,
            email: value.to_string(),
            note: note_for(value),
        }
    }
    fn new_row(id: i64, value: &str) -> ContactRenamed {
        ContactRenamed {
            id,
            email_address: value.to_string(),
            remark: note_for(value),
        }
    }
    fn old_value(row: &Contact) -> String {
        contact_value(&row.email, &row.note)
    }
    fn new_value(row: &ContactRenamed) -> String {
        contact_value(&row.email_address, &row.remark)
    }
}

async fn rename<DB: TestBackend>(t: &TestDb)
where
    Contact: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    ContactRenamed: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    rollout::run::<DB, Rename>(t, ROWS, seed_sql(DB::DIALECT, "contacts", ROWS as u64)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("rename").await {
        rename::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("rename").await {
        rename::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("rename").await {
        rename::<sqlx::Sqlite>(&t).await;
    }
}

/// A writer whose snapshot predates a rename's contract going back omits the old column,
/// which that re-created NOT NULL; SQLite checks NOT NULL before its (AFTER) trigger
/// could fill it, so the insert fails — and `Db` re-probes on the NOT NULL violation and
/// writes both columns.
#[tokio::test]
async fn a_stale_writer_recovers_from_a_not_null_violation() {
    use straddle::{ApplyOptions, Db, Direction, Model, Phase};
    let Some(t) = TestDb::sqlite("stale_not_null").await else {
        return;
    };
    let pool = t.pool::<sqlx::Sqlite>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    let d = straddle::Dialect::Sqlite;
    <sqlx::Sqlite as TestBackend>::exec(
        &mut conn,
        &straddle_tests::base_table_sql(Contact::definition(), d),
    )
    .await;
    for sql in seed_sql(d, "contacts", 10) {
        <sqlx::Sqlite as TestBackend>::exec(&mut conn, &sql).await;
    }
    let model = ContactRenamed::definition();
    let options = ApplyOptions::default();
    for phase in Phase::ALL {
        straddle::apply_phase::<sqlx::Sqlite>(
            &mut conn,
            model,
            "email_address",
            phase,
            Direction::Up,
            &options,
        )
        .await
        .unwrap();
    }
    // Settled for this writer: it writes `email_address` alone from now on.
    let db = Db::new(pool.clone()).await.unwrap().with_max_staleness(None);
    straddle::apply_phase::<sqlx::Sqlite>(
        &mut conn,
        model,
        "email_address",
        Phase::Contract,
        Direction::Down,
        &options,
    )
    .await
    .unwrap();
    let row = ContactRenamed {
        id: 500,
        email_address: "late@example.com".into(),
        remark: None,
    };
    db.insert(&row).await.unwrap();
    let email = <sqlx::Sqlite as TestBackend>::text_rows(
        &mut conn,
        "SELECT `email` FROM `contacts` WHERE `id` = 500".into(),
    )
    .await;
    assert_eq!(email, vec!["late@example.com"], "the old column got the value");
}
