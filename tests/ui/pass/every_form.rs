//! Every legal declaration of this slice compiles, and its definition is what was declared.
use straddle::{Model, Phase};

#[derive(straddle::Model)]
#[straddle(table = "users")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = expand))]
    pub nickname: Option<String>,
    #[straddle(added(phase = backfill, default = -1))]
    pub balance: i64,
    #[straddle(added(phase = contract, default = true))]
    pub active: bool,
    #[straddle(added(phase = expand, default = 0.5))]
    pub ratio: f64,
    #[straddle(added(phase = expand, default = "new"))]
    pub state: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)", max_rows_per_sec = 20000, pause_ms = 5, batch_time_ms = 100, max_replica_lag_ms = 300, max_load = 10))]
    pub email_normalized: String,
    #[straddle(added(phase = "contract", backfill = "CASE WHEN id > 10 THEN 'late' END"))]
    pub cohort: Option<String>,
    #[straddle(column = "display name", sql_type(postgres = "VARCHAR(80)", mysql = "VARCHAR(80)"))]
    pub display_name: Option<String>,
    pub r#type: i16,
    pub avatar: Option<Vec<u8>>,
}

#[derive(straddle::Model)]
#[straddle(table = "events", dialects(postgres))]
pub struct Event {
    #[straddle(primary_key)]
    pub key: String,
    #[straddle(added(phase = expand, default_sql = "to_char(now(), 'YYYY')"))]
    pub year: Option<String>,
    #[straddle(added(phase = backfill, backfill = "length(key)"))]
    pub key_len: i32,
}

/// A model without changes in flight.
#[derive(straddle::Model)]
#[straddle(table = "memberships")]
pub struct Membership {
    #[straddle(primary_key)]
    pub user_id: i64,
    #[straddle(primary_key)]
    pub group_id: i64,
}

fn main() {
    let user = User::definition();
    assert_eq!(user.table, "users");
    assert_eq!(User::plan().len(), 7);
    assert_eq!(User::plan()[1].declared_phase, Phase::Backfill);
    assert_eq!(user.column("display name").unwrap().field, "display_name");
    assert_eq!(user.columns.last().unwrap().ty.sql(straddle::Dialect::MySql), "BLOB");
    assert_eq!(Event::definition().dialects, vec![straddle::Dialect::Postgres]);
    assert!(Membership::plan().is_empty());
    let Some(straddle::ir::Change::Add(add)) = &user.column("email_normalized").unwrap().change else { panic!() };
    assert_eq!(add.throttle.max_rows_per_sec, Some(20000));
    assert_eq!((add.throttle.pause_ms, add.throttle.batch_time_ms), (Some(5), Some(100)));
    assert_eq!((add.throttle.max_replica_lag_ms, add.throttle.max_load), (Some(300), Some(10)));
}
