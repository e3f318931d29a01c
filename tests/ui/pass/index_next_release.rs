// Both indexes of locks/indexes.lock move one phase forward.
#[derive(Debug, straddle::Model)]
#[straddle(
    table = "users",
    lock = "../../../../tests/ui/locks/indexes.lock",
    index(name = "users_email", on(email), unique, phase = backfill),
    dropped_index(name = "users_bio", on(bio), phase = backfill)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    bio: Option<String>,
}

fn main() {
    let plans = straddle::ir::plan_model(<User as straddle::Model>::definition());
    let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["users.users_email", "users.users_bio"]);
}
