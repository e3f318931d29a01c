// `nullable` needs an `Option<T>` field and its phase; against the lock, the column must
// not be nullable already.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(nullable(phase = expand))]
    email: String,
    #[straddle(nullable)]
    name: Option<String>,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    legacy: Option<i64>,
}

#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User2 {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(nullable(phase = expand))]
    email: Option<String>,
    name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    #[straddle(nullable(phase = expand))]
    legacy: Option<i64>,
}

fn main() {}
