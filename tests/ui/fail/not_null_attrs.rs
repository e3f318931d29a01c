// Malformed `not_null(...)` declarations, all reported at once.
#[derive(straddle::Model)]
#[straddle(table = "guests")]
struct Guest {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    // The field stays `Option<…>`: this release would still read NULL.
    #[straddle(not_null(fill = "lower(email)", phase = expand))]
    a: Option<String>,
    // No fill: what would the previous release's NULLs become?
    #[straddle(not_null(phase = expand))]
    b: String,
    // The fill reads the column itself (NULL, where it is used).
    #[straddle(not_null(fill = "coalesce(c, '')", phase = expand))]
    c: String,
    // Not SQL.
    #[straddle(not_null(fill = "lower(email", phase = expand))]
    d: String,
    // Two changes of one column in one release.
    #[straddle(not_null(fill = "''", phase = expand), default_changed(to = "x", phase = expand))]
    e: String,
    #[straddle(not_null(fill = "''", phase = expand, fil = 1))]
    f: String,
}

fn main() {}
