//! Add a CHECK constraint (`check(...)`, PostgreSQL) through the rollout harness
//! (`straddle_tests::rollout`): enforced at contract with `NOT VALID` → `VALIDATE`, while
//! the previous release (`Member`) and this one (`MemberChecked`) write concurrently;
//! the pg_locks watcher sees no long ACCESS EXCLUSIVE and no scan under a strong lock.
//! Then: rows violating the check make contract refuse with their keys, nothing added.

use straddle::{Backend, Direction, Model, Phase};
use straddle_tests::models::{Member, MemberChecked};
use straddle_tests::rollout::{self, Versions};
use straddle_tests::{TestBackend, TestDb, seed_sql_with};

const ROWS: i64 = 20_000;

struct AddCheck;

fn value(email: &str, nickname: &str) -> String {
    if nickname == format!("n-{email}") || nickname.starts_with("seed-") {
        email.to_string()
    } else {
        format!("{email} with nickname {nickname:?}")
    }
}

impl Versions for AddCheck {
    type Old = Member;
    type New = MemberChecked;
    const NEW_SURVIVES_EXPAND_DOWN: bool = true;

    fn old_row(id: i64, v: &str) -> Member {
        Member {
            id,
            email: v.to_string(),
            nickname: format!("n-{v}"),
        }
    }
    fn new_row(id: i64, v: &str) -> MemberChecked {
        MemberChecked {
            id,
            email: v.to_string(),
            nickname: format!("n-{v}"),
        }
    }
    fn old_value(row: &Member) -> String {
        value(&row.email, &row.nickname)
    }
    fn new_value(row: &MemberChecked) -> String {
        value(&row.email, &row.nickname)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(t) = TestDb::postgres("check").await else {
        return;
    };
    let seed = seed_sql_with(
        straddle::Dialect::Postgres,
        "members",
        ROWS as u64,
        &[("nickname", "CONCAT('seed-', n)")],
    );
    rollout::run::<sqlx::Postgres, AddCheck>(&t, ROWS, seed).await;
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let valid = "SELECT convalidated::text FROM pg_constraint WHERE conname = 'members_email_present'";
    assert_eq!(
        sqlx::Postgres::text_rows(&mut conn, valid.into()).await,
        vec!["true"]
    );
    let violating = sqlx::Postgres::execute(
        &mut conn,
        "INSERT INTO members (id, email, nickname) VALUES (9000000, '', 'x')".into(),
        Default::default(),
    )
    .await;
    assert!(violating.is_err(), "the check is enforced");
}

#[tokio::test]
async fn violations_are_refused_with_their_keys() {
    let Some(t) = TestDb::postgres("check_refused").await else {
        return;
    };
    let pool = t.pool::<sqlx::Postgres>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::Postgres::exec(
        &mut conn,
        &straddle_tests::base_table_sql(Member::definition(), straddle::Dialect::Postgres),
    )
    .await;
    sqlx::Postgres::exec(
        &mut conn,
        "INSERT INTO members VALUES (1, 'a@b', 'x'), (2, '', 'y'), (3, '', 'z')",
    )
    .await;
    let options = straddle::ApplyOptions::default();
    let model = MemberChecked::definition();
    let contract = straddle::apply_phase::<sqlx::Postgres>(
        &mut conn,
        model,
        "members_email_present",
        Phase::Contract,
        Direction::Up,
        &options,
    )
    .await;
    match contract.unwrap_err() {
        straddle::Error::Refused {
            count, sample, step, ..
        } => {
            assert_eq!(
                (count, sample, step.as_str()),
                (2, vec!["2".into(), "3".into()], "verify-check")
            );
        }
        other => panic!("expected a refusal, got {other}"),
    }
    let constraints = "SELECT count(*)::text FROM pg_constraint WHERE conname = 'members_email_present'";
    assert_eq!(
        sqlx::Postgres::text_rows(&mut conn, constraints.into()).await,
        vec!["0"]
    );
    sqlx::Postgres::exec(&mut conn, "UPDATE members SET email = 'fixed@b' WHERE email = ''").await;
    straddle::apply_phase::<sqlx::Postgres>(
        &mut conn,
        model,
        "members_email_present",
        Phase::Contract,
        Direction::Up,
        &options,
    )
    .await
    .unwrap();
    assert_eq!(
        sqlx::Postgres::text_rows(&mut conn, constraints.into()).await,
        vec!["1"]
    );
}
