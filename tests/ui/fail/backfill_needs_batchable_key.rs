// A backfill batches by ranges of the primary key (a composite key's in tuple order): each
// key column must be an integer or a string.
#[derive(straddle::Model)]
#[straddle(table = "memberships")]
struct Membership {
    #[straddle(primary_key)]
    user_id: i64,
    #[straddle(primary_key)]
    active: bool,
    #[straddle(added(phase = backfill, backfill = "user_id + 1"))]
    score: i64,
}

fn main() {}
