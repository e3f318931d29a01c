//! Every legal step against the shipped history: one phase forward, the same phase again,
//! an untouched column, and a new change starting at expand.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    pub email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    pub score: i32,
    pub legacy: Option<i64>,
    #[straddle(added(phase = expand))]
    pub nick: Option<String>,
}

/// Tables the lock does not know are new: anything goes.
#[derive(straddle::Model)]
#[straddle(table = "orders", lock = "../../../../tests/ui/locks/users.lock")]
pub struct Order {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(added(phase = contract, default = 1))]
    pub qty: i32,
}

fn main() {
    use straddle::Model;
    assert_eq!(User::plan().len(), 3);
    assert_eq!(Order::plan().len(), 1);
}
