// A shipped column's primary key membership and declared column type stay as shipped:
// `code` changes its PostgreSQL type without `retyped`, `sku` joins the primary key and
// `legacy_key` leaves it. `label` keeps its declared type: no error.
#[derive(straddle::Model)]
#[straddle(table = "items", lock = "../../../../tests/ui/locks/items.lock")]
struct Item {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(sql_type(postgres = "VARCHAR(40)", mysql = "VARCHAR(20)"))]
    code: String,
    #[straddle(sql_type(mysql = "VARCHAR(80)"))]
    label: String,
    #[straddle(primary_key)]
    sku: i64,
    legacy_key: i64,
}

fn main() {}
