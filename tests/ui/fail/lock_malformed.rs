#[derive(straddle::Model)]
#[straddle(table = "users", lock = "../../../../tests/ui/locks/broken.lock")]
struct User {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
