//! After contract shipped, `added(...)` may go: the column is an ordinary one. Keeping
//! `added(phase = contract)` is legal too.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/settled.lock")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub nickname: Option<String>,
}

#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/settled.lock")]
pub struct UserStill {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(added(phase = contract))]
    pub nickname: Option<String>,
}

fn main() {
    use straddle::Model;
    assert!(User::plan().is_empty());
    assert_eq!(UserStill::plan().len(), 1);
}
