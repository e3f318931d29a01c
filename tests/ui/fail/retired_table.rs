// Retiring a table drops its rows at contract: it must be confirmed by name; its fields
// are plain; it cannot be created and retired at once.
#[derive(straddle::Model)]
#[straddle(table = "archives", retired(phase = expand))]
struct Unconfirmed {
    #[straddle(primary_key)]
    id: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "archives", retired(phase = expand, confirm = "archive"))]
struct Misconfirmed {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(retired(phase = expand))]
    email: Option<String>,
}

#[derive(straddle::Model)]
#[straddle(table = "archives", created(phase = expand), retired(phase = expand, confirm = "archives"))]
struct Both {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
