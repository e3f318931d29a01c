// A new column not declared as added, a new change that skips expand, an ordinary column
// added again, and a rollout whose declaration was dropped before contract shipped.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    name: String,
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    #[straddle(added(phase = expand))]
    legacy: Option<i64>,
    nick: Option<String>,
    #[straddle(added(phase = backfill, default = true))]
    active: bool,
}

fn main() {}
