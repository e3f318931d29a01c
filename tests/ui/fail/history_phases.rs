// email_normalized shipped expand and jumps to contract; score shipped backfill and goes back.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    name: String,
    #[straddle(added(phase = contract, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = expand, default = 0))]
    score: i32,
    legacy: Option<i64>,
}

fn main() {}
