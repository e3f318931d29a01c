// `not_null` against the shipped history (locks/guests.lock): a column that is NOT NULL
// already, and one that has not shipped.
#[derive(straddle::Model)]
#[straddle(table = "guests", lock = "../../../../tests/ui/locks/guests.lock")]
struct Guest {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    #[straddle(not_null(fill = "lower(email)", phase = expand))]
    nickname: String,
    #[straddle(not_null(fill = "''", phase = expand))]
    code: String,
    #[straddle(not_null(fill = "''", phase = expand))]
    note: String,
}

fn main() {}
