// An index is dropped the way it was added (locks/unique_constraint.lock): the UNIQUE
// constraint's index with `unique, constraint`, the plain index without `unique`.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    lock = "../../../../tests/ui/locks/unique_constraint.lock",
    dropped_index(name = "users_email_key", on(email), unique, phase = expand),
    dropped_index(name = "users_bio", on(bio), unique, phase = expand)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    bio: String,
}

fn main() {}
