#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand, default_sql = "upper('x')"))]
    code: String,
}

fn main() {}
