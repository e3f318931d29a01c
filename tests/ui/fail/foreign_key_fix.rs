// `fix(...)` on a foreign key: on `foreign_key(...)` only, where the engine has triggers for
// it (SQLite has no foreign keys Straddle adds).
#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    foreign_key(name = "orders_a", on(customer_id), references = "customers(id)", fix(customer_id = "NULL", id = "0"), phase = contract),
    dropped_foreign_key(name = "orders_b", on(customer_id), references = "customers(id)", fix(customer_id = "NULL"), phase = contract)
)]
struct Order {
    #[straddle(primary_key)]
    id: i64,
    customer_id: Option<i64>,
}

fn main() {}
