// A rename in flight (locks/rollout.lock) whose `from` changes, a retired column whose
// field left before its contract shipped, and a rename jumping a phase.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/rollout.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(renamed(from = "mail", phase = backfill))]
    email_address: String,
}

#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/rollout.lock")]
struct User2 {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(renamed(from = "email", phase = contract))]
    email_address: String,
    #[straddle(retired(phase = backfill))]
    legacy: Option<i64>,
}

fn main() {}
