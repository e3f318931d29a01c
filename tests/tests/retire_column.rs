//! Retire a column (`retired(...)`), two at once on one table — a NOT NULL one (with the
//! default that keeps rows written without it readable by the previous release) and a
//! nullable one — on PostgreSQL, MariaDB and SQLite, through the rollout harness
//! (`straddle_tests::rollout`): the previous release (`Profile`, reading and writing
//! both columns) and this one (`ProfileRetiring`, never touching them) run concurrently
//! through every phase. The previous release decoding `legacy_code: String` from rows
//! this release inserted is the point: without the default those reads would fail.

use straddle_tests::models::{Profile, ProfileRetiring};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct Retire;

impl Versions for Retire {
    type Old = Profile;
    type New = ProfileRetiring;
    /// Reverting expand removes the default this release's inserts rely on: a rollback
    /// stops this release first.
    const NEW_SURVIVES_EXPAND_DOWN: bool = false;

    fn old_row(id: i64, value: &str) -> Profile {
        Profile {
            id,
            email: value.to_string(),
            legacy_code: format!("L-{value}"),
            old_note: Some(value.to_string()),
        }
    }
    fn new_row(id: i64, value: &str) -> ProfileRetiring {
        ProfileRetiring {
            id,
            email: value.to_string(),
            // Never written: whatever the struct holds must not reach the database.
            legacy_code: Some("written by the new release".into()),
            old_note: Some("written by the new release".into()),
        }
    }
    fn old_value(row: &Profile) -> String {
        // The default for rows this release inserted, the previous release's own values,
        // or the seed's.
        let legacy_ok = row.legacy_code == "none"
            || row.legacy_code == format!("L-{}", row.email)
            || row.legacy_code.starts_with("seed-");
        let note_ok = row.old_note.is_none() || row.old_note.as_deref() == Some(row.email.as_str());
        if legacy_ok && note_ok && !row.legacy_code.contains("new release") {
            row.email.clone()
        } else {
            format!("{} with {:?} / {:?}", row.email, row.legacy_code, row.old_note)
        }
    }
    fn new_value(row: &ProfileRetiring) -> String {
        match (&row.legacy_code, &row.old_note) {
            (None, None) => row.email.clone(),
            read => format!("{} read retired columns {read:?}", row.email),
        }
    }
}

async fn retire<DB: TestBackend>(t: &TestDb)
where
    Profile: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    ProfileRetiring: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let seed = seed_sql_with(
        DB::DIALECT,
        "profiles",
        ROWS as u64,
        &[("legacy_code", "CONCAT('seed-', n)")],
    );
    rollout::run::<DB, Retire>(t, ROWS, seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("retire").await {
        retire::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("retire").await {
        retire::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("retire").await {
        retire::<sqlx::Sqlite>(&t).await;
    }
}
