// `legacy` is gone without being retired; `name` was renamed by editing the field.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    display_name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = backfill, default = 0))]
    score: i32,
}

fn main() {}
