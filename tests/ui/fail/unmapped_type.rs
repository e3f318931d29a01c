#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    visits: u64,
    tags: Vec<String>,
    score: Option<Option<i32>>,
    #[straddle(sql_type(postgres = "NUMERIC(20)"))]
    big: u64,
}

fn main() {}
