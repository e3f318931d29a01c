// A CHECK or foreign key is dropped as it was added (locks/constraints.lock): going down
// re-adds what the declaration says.
#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    lock = "../../../../tests/ui/locks/constraints.lock",
    dropped_check(name = "orders_amount_nonneg", expr = "amount > 0", phase = expand),
    dropped_foreign_key(name = "orders_customer", on(customer_id), references = "clients(id)", phase = expand)
)]
struct Order {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
    customer_id: i64,
}

fn main() {}
