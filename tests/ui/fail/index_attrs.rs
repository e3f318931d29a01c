// Malformed and unsafe index declarations, all reported at once.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    index(on(email), phase = expand),
    index(name = "users_x", phase = expand),
    index(name = "users_y", on(nope), phase = expand),
    index(name = "email", on(email), phase = expand),
    index(name = "users_z", on(email), phase = expand),
    index(name = "users_z", on(email), phase = expand),
    index(name = "users_n", on(nickname), phase = expand),
    index(name = "users_b", on(bio), phase = expand),
    dropped_index(name = "users_w", on(email), colums(email), phase = contract),
    index(name = "users_u", on(email), constraint, phase = expand),
    index(name = "users_v", on(email))
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    email: String,
    #[straddle(added(phase = expand), sql_type(mysql = "VARCHAR(64)"))]
    nickname: Option<String>,
    bio: String,
}

fn main() {}
