// `default`, `default_sql` and `comment` on a field go into the CREATE TABLE of a table
// created in this release.
#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(default = "x", comment = "who")]
    name: String,
}

#[derive(straddle::Model)]
#[straddle(table = "tickets", created(phase = expand))]
struct Ticket {
    #[straddle(primary_key, comment = "SQLite keeps no comments")]
    id: i64,
    #[straddle(default = 1, default_sql = "2")]
    a: i64,
    #[straddle(default_sql = "id + 1")]
    b: i64,
    #[straddle(default = "one")]
    c: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "notes", created(phase = expand), dialects(postgres))]
struct Note {
    #[straddle(primary_key, comment = "a\u{7}bell")]
    id: i64,
}

fn main() {}
