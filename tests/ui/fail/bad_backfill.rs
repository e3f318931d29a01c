#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    #[straddle(added(phase = backfill, backfill = "lower(emial)"))]
    a: String,
    #[straddle(added(phase = backfill, backfill = "lower(email"))]
    b: String,
    #[straddle(added(phase = backfill, backfill = "upper(a)"))]
    c: String,
    #[straddle(added(phase = backfill, backfill = "(SELECT max(id) FROM users)"))]
    d: i64,
}

fn main() {}
