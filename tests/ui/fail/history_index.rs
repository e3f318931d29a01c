// Indexes against the shipped history (locks/indexes.lock): one redefined mid-rollout,
// one whose declaration vanished before contract, one new index not starting at expand.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    lock = "../../../../tests/ui/locks/indexes.lock",
    index(name = "users_email", on(email, bio), phase = backfill),
    index(name = "users_new", on(bio), phase = backfill)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    bio: Option<String>,
}

// Jumps from expand to contract.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    lock = "../../../../tests/ui/locks/indexes.lock",
    index(name = "users_email", on(email), unique, phase = contract),
    dropped_index(name = "users_bio", on(bio), phase = backfill)
)]
struct User2 {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    bio: Option<String>,
}

fn main() {}
