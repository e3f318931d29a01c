#[derive(straddle::Model)]
struct User {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
