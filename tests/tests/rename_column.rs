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
