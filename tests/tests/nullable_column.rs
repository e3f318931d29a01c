//! Make a NOT NULL column nullable (`nullable(...)`) on PostgreSQL, MariaDB and SQLite
//! through the rollout harness (`straddle_tests::rollout`): the previous release
//! (`Member`, reading `nickname: String`) and this one (`MemberNullable`, reading
//! `Option<String>`) run concurrently; NOT NULL is dropped only at contract, when no
//! reader that cannot take NULL is left. Then this release writes NULL, and reverting
//! the contract is refused — with the offending keys — rather than losing anything.

use straddle::{Db, Direction, Model, Phase};
use straddle_tests::models::{Member, MemberNullable};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct MakeNullable;

fn nickname_ok(email: &str, nickname: Option<&str>) -> bool {
    nickname.is_some_and(|n| n == format!("n-{email}") || n.starts_with("seed-"))
}

impl Versions for MakeNullable {
    type Old = Member;
    type New = MemberNullable;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, value: &str) -> Member {
        Member {
            id,
            email: value.to_string(),
            nickname: format!("n-{value}"),
        }
    }
    fn new_row(id: i64, value: &str) -> MemberNullable {
        // Until contract, this release still writes a value.
        MemberNullable {
            id,
            email: value.to_string(),
            nickname: Some(format!("n-{value}")),
        }
    }
    fn old_value(row: &Member) -> String {
        if nickname_ok(&row.email, Some(&row.nickname)) {
            row.email.clone()
        } else {
            format!("{} with nickname {:?}", row.email, row.nickname)
        }
    }
    fn new_value(row: &MemberNullable) -> String {
        if nickname_ok(&row.email, row.nickname.as_deref()) {
            row.email.clone()
        } else {
            format!("{} with nickname {:?}", row.email, row.nickname)
        }
    }
}

async fn nullable<DB: TestBackend>(t: &TestDb)
where
    Member: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    MemberNullable: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let seed = seed_sql_with(
        DB::DIALECT,
        "members",
        ROWS as u64,
        &[("nickname", "CONCAT('seed-', n)")],
    );
    rollout::run::<DB, MakeNullable>(t, ROWS, seed).await;

    // Contract applied: this release may now write NULL, and reads it back.
    let db = Db::new(t.pool::<DB>(2).await).await.unwrap();
    let row = MemberNullable {
        id: 5_000_000,
        email: "no-nickname@example.com".into(),
        nickname: None,
    };
    db.insert(&row).await.unwrap();
    assert_eq!(db.find::<MemberNullable, _>(row.id).await.unwrap(), Some(row));

    // Reverting contract now would make the previous release read NULL: refused.
    let mut conn = db.pool().acquire().await.unwrap();
    let options = straddle::ApplyOptions::default();
    let down = straddle::apply_phase::<DB>(
        &mut conn,
        MemberNullable::definition(),
        "nickname",
        Phase::Contract,
        Direction::Down,
        &options,
    )
    .await;
    match down.unwrap_err() {
        straddle::Error::Refused { count, sample, .. } => {
            assert_eq!((count, sample), (1, vec!["5000000".to_string()]));
        }
        other => panic!("expected a refusal naming the NULL rows, got {other}"),
    }
    let still = DB::text_rows(
        &mut conn,
        "SELECT CAST(count(*) AS CHAR(20)) FROM members WHERE nickname IS NULL".into(),
    )
    .await;
    assert_eq!(still[0].trim(), "1", "nothing lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("nullable").await {
        nullable::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("nullable").await {
        nullable::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("nullable").await {
        nullable::<sqlx::Sqlite>(&t).await;
    }
}
