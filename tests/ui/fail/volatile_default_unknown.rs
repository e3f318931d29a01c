// Only functions known not to be volatile pass: a user function, a qualified volatile
// one, or one Straddle does not know would rewrite the table if it were volatile.
#[derive(straddle::Model)]
#[straddle(table = "tickets", dialects(postgres))]
struct Ticket {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand, default_sql = "next_ticket()"))]
    number: i64,
    #[straddle(added(phase = expand, default_sql = "pg_catalog.random()"))]
    weight: f64,
    #[straddle(added(phase = expand, default_sql = "encode(gen_random_bytes(16), 'hex')"))]
    token: String,
    #[straddle(added(phase = expand, default_sql = "pg_current_xact_id()::text"))]
    xact: Option<String>,
    // Known stable and immutable functions pass.
    #[straddle(added(phase = expand, default_sql = "to_char(now(), 'YYYY')"))]
    year: String,
}

fn main() {}
