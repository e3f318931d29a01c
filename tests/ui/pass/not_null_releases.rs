// `nickname` made NOT NULL from its nullable shipped state (locks/guests.lock): the field
// is `String` now, and its NULLs read as the fill.
#[derive(Debug, straddle::Model)]
#[straddle(table = "guests", lock = "../../../../tests/ui/locks/guests.lock")]
struct Guest {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    #[straddle(not_null(fill = "lower(email)", phase = expand))]
    nickname: String,
    code: String,
}

fn main() {
    let plans = straddle::ir::plan_model(<Guest as straddle::Model>::definition());
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].id, "guests.nickname");
    assert!(plans[0].summary.contains("lower(email)"), "{}", plans[0].summary);
}
