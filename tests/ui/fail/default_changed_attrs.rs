// `default_changed` must change something, with literals of the field's type, on a
// column that has shipped (locks/users.lock).
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(default_changed(from = "a", to = "a", phase = expand))]
    email: String,
    #[straddle(default_changed(to = 5, phase = expand))]
    name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    legacy: Option<i64>,
}

// A column new in this release has no previous default to change.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User2 {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
    legacy: Option<i64>,
    #[straddle(default_changed(to = 1, phase = expand))]
    fresh: i64,
}

fn main() {}
