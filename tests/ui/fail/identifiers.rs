// Every declared name must be an identifier every engine keeps as written: no control
// characters (a newline would end a comment in SQL that shows the name), within
// PostgreSQL's 63 bytes and MySQL's 64 characters, nothing MySQL refuses.
#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(column = "norm\nDELETE FROM audit; --", added(phase = expand))]
    norm: Option<String>,
    #[straddle(column = "a_column_name_that_is_much_too_long_for_postgres_which_keeps_63_bytes", added(phase = expand))]
    long: Option<String>,
    #[straddle(column = "trailing ", added(phase = expand))]
    spaced: Option<String>,
    #[straddle(column = "ok $straddle$ \"quoted\" `ticked` 'name' é", added(phase = expand))]
    awkward: Option<String>,
}

#[derive(straddle::Model)]
#[straddle(table = "tab\tle", dialects(postgres))]
#[straddle(index(name = "an_index_name_that_is_much_too_long_for_postgres_which_keeps_63b", on(id), phase = expand))]
struct Tabbed {
    #[straddle(primary_key)]
    id: i64,
}


// A dot reads as schema-qualified, and would make `table.column` change ids ambiguous.
#[derive(straddle::Model)]
#[straddle(table = "app.users", dialects(sqlite))]
struct Dotted {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
