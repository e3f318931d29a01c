#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    #[straddle(added(phase = expand))]
    email_normalized: String,
}

fn main() {}
