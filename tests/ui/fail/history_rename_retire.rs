// Renames and retirements against the shipped history (locks/users.lock).
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    // NOT NULL in the lock: the previous version cannot read rows written without it.
    #[straddle(retired(phase = expand))]
    email: Option<String>,
    // `name` is `String` in the lock.
    #[straddle(renamed(from = "name", phase = expand))]
    full_name: Option<String>,
    // Shipped as `added` (expand): cannot become something else mid-rollout.
    #[straddle(retired(phase = backfill))]
    email_normalized: Option<String>,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    // Nullable in the lock: a default would be restored as NOT NULL on the way down.
    #[straddle(retired(phase = expand, default = 5))]
    legacy: Option<i64>,
    // Never shipped.
    #[straddle(renamed(from = "nickname", phase = expand))]
    handle: String,
}

fn main() {}
