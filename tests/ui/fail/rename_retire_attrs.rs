// Malformed and unsafe `renamed` / `retired` declarations, all reported at once.
#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    #[straddle(primary_key, renamed(from = "uid", phase = expand))]
    id: i64,
    #[straddle(renamed(phase = expand))]
    a: String,
    #[straddle(renamed(from = "b", phase = expand))]
    b: String,
    #[straddle(renamed(from = "d", phase = expand))]
    c: String,
    d: String,
    #[straddle(retired(phase = expand))]
    e: String,
    #[straddle(retired(phase = expand, default = "x"))]
    f: Option<i64>,
    #[straddle(renamed(from = "old_g", phase = expand), retired(phase = expand))]
    g: Option<String>,
    #[straddle(added(phase = expand, backfill = "upper(c)"))]
    h: Option<String>,
    #[straddle(retired(phase = expand, confirm = "yes"))]
    i: Option<String>,
    #[straddle(renamed(from = "old_j"))]
    j: String,
}

fn main() {}
