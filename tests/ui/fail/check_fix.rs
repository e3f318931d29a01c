// `fix(...)` on a CHECK: columns of the model, once each, not the key, not changing; on
// `check(...)` only.
#[derive(straddle::Model)]
#[straddle(
    table = "payments",
    dialects(postgres),
    check(name = "payments_a", expr = "amount >= 0", fix(id = "0", nope = "0", amount = "0", amount = "1"), phase = contract),
    check(name = "payments_c", expr = "amount >= 0", fix(label = "'x'", amount = "abs(amount"), phase = contract),
    dropped_check(name = "payments_d", expr = "amount >= 0", fix(amount = "0"), phase = contract)
)]
struct Payment {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
    #[straddle(added(default = "", phase = expand))]
    label: String,
}

// An empty fix is a parse error of its own.
#[derive(straddle::Model)]
#[straddle(table = "payments", dialects(postgres), check(name = "payments_b", expr = "amount >= 0", fix(), phase = contract))]
struct PaymentEmptyFix {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
}

fn main() {}
