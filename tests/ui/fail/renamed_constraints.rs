// Renaming a CHECK or a foreign key: the old name is given and differs from the new one;
// MySQL/MariaDB cannot rename a foreign key in place.
#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    renamed_check(name = "orders_amount_positive", expr = "amount >= 0", phase = expand),
    renamed_check(from = "orders_amount_min", name = "orders_amount_min", expr = "amount >= 0", phase = expand),
    renamed_check(form = "orders_x", name = "orders_y", expr = "amount >= 0", phase = expand)
)]
struct Order {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
}

#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres, mysql),
    renamed_foreign_key(from = "orders_customer", name = "orders_client", on(customer_id), references = "customers(id)", mysql_unvalidated = true, phase = expand)
)]
struct OrderBoth {
    #[straddle(primary_key)]
    id: i64,
    customer_id: i64,
}

// Renamed as it was added (locks/constraints.lock): going down gives the old name back to
// what the declaration says.
#[derive(straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres),
    lock = "../../../../tests/ui/locks/constraints.lock",
    renamed_check(from = "orders_amount_nonneg", name = "orders_amount_min", expr = "amount > 0", phase = expand),
    renamed_foreign_key(from = "orders_customer", name = "orders_client", on(customer_id), references = "clients(id)", phase = expand)
)]
struct OrderShipped {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
    customer_id: i64,
}

fn main() {}
