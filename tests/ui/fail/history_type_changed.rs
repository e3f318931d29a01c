#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    name: Option<String>,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i64,
    legacy: Option<i64>,
}

fn main() {}
