// The first release of a rename and of a retirement (locks/users.lock).
#[derive(Debug, straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/users.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    #[straddle(renamed(from = "name", phase = expand, max_rows_per_sec = 500))]
    full_name: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    email_normalized: String,
    #[straddle(added(phase = contract, default = 0))]
    score: i32,
    #[straddle(retired(phase = expand))]
    legacy: Option<i64>,
}

fn main() {
    let plans = straddle::ir::plan_model(<User as straddle::Model>::definition());
    assert_eq!(plans.len(), 4);
    assert!(plans.iter().any(|p| p.summary == "rename column from `name`"));
}
