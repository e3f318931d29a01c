#[derive(straddle::Model)]
#[straddle(table = "users", dialects(postgres))]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand, default_sql = "gen_random_uuid()::text"))]
    token: String,
    #[straddle(added(phase = expand, default_sql = "random()"))]
    weight: f64,
    #[straddle(added(phase = expand, default_sql = "nextval('user_seq')"))]
    seq: i64,
    #[straddle(added(phase = expand, default_sql = "CLOCK_TIMESTAMP()::text"))]
    created: Option<String>,
}

fn main() {}
