// `identity`: the database generates the one integer key.
#[derive(straddle::Model)]
#[straddle(table = "a", created(phase = expand))]
struct A {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(identity)]
    n: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "b", created(phase = expand))]
struct B {
    #[straddle(primary_key, identity)]
    id: String,
}

#[derive(straddle::Model)]
#[straddle(table = "c", created(phase = expand))]
struct C {
    #[straddle(primary_key, identity)]
    x: i64,
    #[straddle(primary_key)]
    y: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "d", created(phase = expand))]
struct D {
    #[straddle(primary_key, identity, default = 5)]
    id: i64,
}

fn main() {}
