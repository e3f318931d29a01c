// The way forward the refusal of a changed `sql_type` names: the column type changed in
// phases, from the type the lock recorded.
#[derive(straddle::Model)]
#[straddle(table = "parts", lock = "../../../../tests/ui/locks/items.lock")]
struct Part {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(
        sql_type(postgres = "VARCHAR(40)", mysql = "VARCHAR(20)"),
        retyped(from_sql_type(postgres = "VARCHAR(20)"), phase = expand)
    )]
    code: String,
}

fn main() {}
