// Type changes against the shipped history (locks/retype.lock): a first release from a
// type that did not ship, a `from` changed mid-rollout, a first release past expand, and
// a phase jump.
#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/retype.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(retyped(from = "i16", phase = expand))]
    score: i64,
    #[straddle(retyped(from = "i16", phase = backfill))]
    points: Option<i64>,
}

#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/retype.lock")]
struct User2 {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(retyped(from = "i32", phase = backfill))]
    score: i64,
    #[straddle(retyped(from = "i32", phase = contract))]
    points: Option<i64>,
}

fn main() {}
