// Whether the database generates a shipped key (locks/keyed.lock: it does not) is what
// the table has: `identity` cannot appear on it.
#[derive(straddle::Model)]
#[straddle(table = "accounts", lock = "../../../../tests/ui/locks/keyed.lock")]
struct Account {
    #[straddle(primary_key, identity)]
    id: i64,
    email: String,
}

fn main() {}
