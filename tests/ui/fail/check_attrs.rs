// Check constraints: PostgreSQL only, with a name and a valid expression over columns
// that are not themselves changing.
#[derive(straddle::Model)]
#[straddle(table = "users", check(name = "users_age", expr = "age >= 0", phase = expand))]
struct Everywhere {
    #[straddle(primary_key)]
    id: i64,
    age: i32,
}

#[derive(straddle::Model)]
#[straddle(
    table = "users",
    dialects(postgres),
    check(expr = "age >= 0", phase = expand),
    check(name = "users_a", phase = expand),
    check(name = "users_b", expr = "age >= ", phase = expand),
    check(name = "users_c", expr = "nope > 1", phase = expand),
    check(name = "users_d", expr = "length(nick) > 0", phase = expand),
    check(name = "age", expr = "age >= 0", phase = expand)
)]
struct Postgres {
    #[straddle(primary_key)]
    id: i64,
    age: i32,
    #[straddle(added(phase = expand))]
    nick: Option<String>,
}

fn main() {}
