// Foreign keys: MySQL only with the explicit opt-in, never SQLite; a well-formed
// reference with as many columns as `on(...)`.
#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    foreign_key(name = "orders_user_fk", on(user_id), references = "users(id)", phase = expand)
)]
struct Everywhere {
    #[straddle(primary_key)]
    id: i64,
    user_id: i64,
}

#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    foreign_key(name = "orders_a", on(user_id), references = "users", phase = expand),
    foreign_key(name = "orders_b", on(user_id), references = "users(id, tenant)", phase = expand),
    foreign_key(name = "orders_c", on(nope), references = "users(id)", phase = expand),
    foreign_key(on(user_id), references = "users(id)", phase = expand),
    foreign_key(name = "orders_d", on(user_id), phase = expand)
)]
struct Postgres {
    #[straddle(primary_key)]
    id: i64,
    user_id: i64,
}

fn main() {}
