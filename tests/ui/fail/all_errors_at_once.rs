// One declaration with several problems: every one is reported, on its own span.
#[derive(straddle::Model)]
#[straddle(table = "users")]
struct User {
    id: i64,
    #[straddle(colunm = "e")]
    email: String,
    #[straddle(added(phase = expand))]
    email_normalized: String,
    visits: u64,
}

// Using the broken model adds no errors of its own: the derive still emits its impls.
fn main() {
    use straddle::Model;
    let _ = User::definition();
    let _ = User::plan();
}
