#[derive(straddle::Model)]
#[straddle(table = "users", dialects(postgres, oracle))]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = backfill, backfill = "coalesce(score, 0) + 1"))]
    score: i64,
}

fn main() {}
