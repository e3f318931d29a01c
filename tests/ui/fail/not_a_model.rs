#[derive(straddle::Model)]
enum Status {
    Active,
}

#[derive(straddle::Model)]
#[straddle(table = "pairs")]
struct Pair(i64, i64);

#[derive(straddle::Model)]
#[straddle(table = "boxes")]
struct Boxed<T> {
    #[straddle(primary_key)]
    id: i64,
    inner: T,
}

fn main() {}
