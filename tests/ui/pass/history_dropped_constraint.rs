// The UNIQUE constraint of locks/unique_constraint.lock dropped as it was added: its next
// rollout (the lock records the plain index's completed one too).
#[derive(Debug, straddle::Model)]
#[straddle(
    table = "users",
    lock = "../../../../tests/ui/locks/unique_constraint.lock",
    dropped_index(name = "users_email_key", on(email), unique, constraint, phase = expand),
    dropped_index(name = "users_bio", on(bio), phase = expand)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    bio: String,
}

fn main() {
    let plans = straddle::ir::plan_model(<User as straddle::Model>::definition());
    let ids: Vec<&str> = plans.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["users.users_email_key~2", "users.users_bio~2"]);
}
