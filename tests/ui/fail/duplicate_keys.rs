#[derive(straddle::Model)]
#[straddle(table = "users")]
#[straddle(table = "people")]
struct User {
    #[straddle(primary_key, primary_key)]
    id: i64,
    #[straddle(added(phase = expand, phase = backfill))]
    nick: Option<String>,
}

fn main() {}
