#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    id: i64,
    email: String,
}

fn main() {}
