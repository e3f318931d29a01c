// `comment_changed(from, to, phase)`: where the engines have comments, changing something,
// one change per column.
#[derive(straddle::Model)]
#[straddle(table = "docs")]
struct Doc {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(comment_changed(from = "a", to = "b", phase = expand))]
    title: String,
}

#[derive(straddle::Model)]
#[straddle(table = "docs", dialects(postgres, mysql))]
struct DocPg {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(comment_changed(from = "same", to = "same", phase = expand))]
    title: String,
    #[straddle(comment_changed(to = "a\u{0}b", phase = expand))]
    body: String,
    #[straddle(comment_changed(to = "x", phase = expand), default_changed(to = "y", phase = expand))]
    kind: String,
}

fn main() {}
