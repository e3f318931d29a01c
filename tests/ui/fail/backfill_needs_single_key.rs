#[derive(straddle::Model)]
#[straddle(table = "memberships")]
struct Membership {
    #[straddle(primary_key)]
    user_id: i64,
    #[straddle(primary_key)]
    group_id: i64,
    #[straddle(added(phase = backfill, backfill = "user_id + group_id"))]
    score: i64,
}

fn main() {}
