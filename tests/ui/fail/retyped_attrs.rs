// Malformed and unsafe `retyped` declarations, all reported at once.
#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key, retyped(from = "i32", phase = expand))]
    id: i64,
    #[straddle(retyped(phase = expand))]
    a: i64,
    #[straddle(retyped(from = "Vec<String>", phase = expand))]
    b: i64,
    #[straddle(retyped(from = "Option<i32>", phase = expand))]
    c: Option<i64>,
    #[straddle(retyped(from = "i64", phase = expand))]
    d: i64,
    #[straddle(retyped(from_sql_type = "TEXT", phase = expand))]
    e: String,
    #[straddle(retyped(from = "String", up = "CAST(d AS BIGINT)", phase = expand))]
    f: i64,
    #[straddle(retyped(from = "String", down = "CAST(g AS", phase = expand))]
    g: i64,
    #[straddle(retyped(from = "i32"))]
    h: i64,
    #[straddle(retyped(from = "i32", phase = expand), renamed(from = "old_i", phase = expand))]
    i: i64,
    #[straddle(retyped(from = "u64", phase = expand))]
    j: i64,
    #[straddle(retyped(from = "i32", phase = expand, upp = "x"))]
    k: i64,
    #[straddle(retyped(from = "i32", up = "l * 100", phase = expand))]
    l: i64,
    #[straddle(sql_type = "VARCHAR(80)", retyped(from_sql_type(oracle = "VARCHAR2(20)"), phase = expand))]
    m: String,
    #[straddle(added(phase = expand, backfill = "f + 1"))]
    n: Option<i64>,
}

fn main() {}
