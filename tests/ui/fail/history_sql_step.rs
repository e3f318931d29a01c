// A hand-written step that has shipped cannot change mid-rollout (locks/sql_step.lock
// has `users.citext` at expand, with other SQL): its ledger rows record what ran.
#[derive(straddle::Model)]
#[straddle(
    table = "users",
    dialects(postgres),
    lock = "../../../../tests/ui/locks/sql_step.lock",
    sql(name = "citext", up = "CREATE EXTENSION IF NOT EXISTS citext", down = "DROP EXTENSION IF EXISTS citext", phase = backfill)
)]
struct User {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
