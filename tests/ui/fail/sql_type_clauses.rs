// `sql_type` is a data type and nothing more: each clause below would do unsafely what a
// declaration does safely.
#[derive(straddle::Model)]
#[straddle(table = "orders", dialects(postgres))]
struct Order {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type = "BIGSERIAL", added(phase = expand, default = 0))]
    seq: i64,
    #[straddle(sql_type = "BIGINT GENERATED ALWAYS AS IDENTITY", added(phase = expand, default = 0))]
    ident: i64,
    #[straddle(sql_type = "TEXT GENERATED ALWAYS AS (lower(code)) STORED", added(phase = expand))]
    lowered: Option<String>,
    #[straddle(sql_type = "TEXT UNIQUE", added(phase = expand))]
    code: Option<String>,
    #[straddle(sql_type = "INTEGER CHECK (qty > 0)", added(phase = expand))]
    qty: Option<i32>,
    #[straddle(sql_type = "BIGINT REFERENCES orgs(id)", added(phase = expand))]
    org_id: Option<i64>,
    #[straddle(sql_type = "TEXT; DROP TABLE orders", added(phase = expand))]
    note: Option<String>,
    #[straddle(sql_type = "VARCHAR(20)", retyped(from_sql_type = "VARCHAR(10) DEFAULT 'x'", phase = expand))]
    label: String,
}

#[derive(straddle::Model)]
#[straddle(table = "items", dialects(mysql))]
struct Item {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type = "BIGINT AUTO_INCREMENT", added(phase = expand, default = 0))]
    seq: i64,
    #[straddle(sql_type = "ENUM('a', 'b')", added(phase = expand))]
    kind: Option<String>,
}

fn main() {}
