// Malformed table renames, all reported at once: no `from`, from itself, with a column
// change or an index in the same release.
#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(phase = expand))]
struct A {
    #[straddle(primary_key)]
    id: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(from = "customers", phase = expand))]
struct B {
    #[straddle(primary_key)]
    id: i64,
}

#[derive(straddle::Model)]
#[straddle(
    table = "customers",
    renamed(from = "clients", phase = expand),
    index(name = "customers_code", on(code), phase = expand)
)]
struct C {
    #[straddle(primary_key)]
    id: i64,
    code: i64,
}

#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(from = "clients", phase = expand))]
struct E {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand))]
    email: Option<String>,
}

#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(from = "clients", phase = expand, to = "x"))]
struct D {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
