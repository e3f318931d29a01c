#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand, default = "zero"))]
    count: i64,
    #[straddle(added(phase = expand, default = 1))]
    active: bool,
    #[straddle(added(phase = expand, default = some_const))]
    name: String,
    #[straddle(added(phase = expand, default = 0, backfill = "id * 2"))]
    twice: i64,
}

fn main() {}
