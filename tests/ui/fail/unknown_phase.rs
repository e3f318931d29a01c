#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = contracting))]
    nick: Option<String>,
    #[straddle(added)]
    other: Option<String>,
    #[straddle(added(default = 1))]
    count: i64,
}

fn main() {}
