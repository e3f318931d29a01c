#[derive(straddle::Model)]
#[straddle(table = "users", tabel = "oops")]
struct User {
    #[straddle(primary_key, primary = true)]
    id: i64,
    #[straddle(added(phase = expand, backfil = "1"))]
    nick: Option<String>,
}

fn main() {}
