// Table renames against the shipped history (locks/renamed_table.lock): a first release
// past expand, a rename from a table that never shipped, `from` changed mid-rollout, and
// the declaration dropped before its contract shipped.
#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(from = "clients", phase = backfill), lock = "../../../../tests/ui/locks/renamed_table.lock")]
struct Customer {
    #[straddle(primary_key)]
    id: i64,
    email: String,
}

#[derive(straddle::Model)]
#[straddle(table = "people", renamed(from = "persons", phase = expand), lock = "../../../../tests/ui/locks/renamed_table.lock")]
struct Person {
    #[straddle(primary_key)]
    id: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "accounts", renamed(from = "older", phase = backfill), lock = "../../../../tests/ui/locks/renamed_table.lock")]
struct Account {
    #[straddle(primary_key)]
    id: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "accounts", lock = "../../../../tests/ui/locks/renamed_table.lock")]
struct Account2 {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
