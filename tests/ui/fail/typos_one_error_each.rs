// A mistyped key is one error, with the key it most likely meant — and no knock-on errors
// from what the mistake left out (no table, no primary key, no backfill).
#[derive(straddle::Model)]
#[straddle(tabel = "users")]
struct User {
    #[straddle(primary_ky)]
    id: i64,
    email: String,
    #[straddle(added(phase = expand, backfil = "lower(email)"))]
    email_normalized: String,
    #[straddle(nullabel(phase = expand))]
    nick: Option<String>,
    #[straddle(primaryKey, sql_typ = "TEXT")]
    code: String,
    #[straddle(frobnicate = 1)]
    other: String,
}

fn main() {}
