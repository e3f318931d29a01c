// A rename and a retirement moving one phase forward (locks/rollout.lock); the field of
// a retirement whose contract shipped is gone.
#[derive(Debug, straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/rollout.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(renamed(from = "email", phase = backfill))]
    email_address: String,
    #[straddle(retired(phase = backfill))]
    legacy: Option<i64>,
}

fn main() {}
