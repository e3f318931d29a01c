#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand, max_rows_per_sec = 5000))]
    nick: Option<String>,
    #[straddle(added(phase = backfill, backfill = "id * 2", batch_time_ms = 0, pause_ms = 10))]
    twice: i64,
}

fn main() {}
