// `index(..., primary_key)` adds a primary key to a table the database has without one:
// on the model's key, as a plain b-tree, once per table; never dropped nor renamed.
#[derive(straddle::Model)]
#[straddle(
    table = "accounts",
    dialects(postgres),
    index(name = "accounts_pkey", on(email), primary_key, phase = expand),
    index(name = "accounts_key2", on(id), primary_key, unique, constraint, phase = expand),
    index(name = "accounts_key3", on(id), primary_key, predicate = "id > 0", using = "btree", phase = expand),
    dropped_index(name = "accounts_key4", on(id), unique, primary_key, phase = expand),
    renamed_index(from = "accounts_key5", name = "accounts_key6", on(id), unique, primary_key, phase = expand)
)]
struct Account {
    #[straddle(primary_key)]
    id: i64,
    email: String,
}

// A created table has its key from the start.
#[derive(straddle::Model)]
#[straddle(
    table = "ledgers",
    created(phase = expand),
    index(name = "ledgers_pkey", on(id), primary_key, phase = expand)
)]
struct Ledger {
    #[straddle(primary_key)]
    id: i64,
}

// A table has one primary key.
#[derive(straddle::Model)]
#[straddle(
    table = "pairs",
    dialects(postgres),
    index(name = "pairs_pkey", on(id), primary_key, phase = expand),
    index(name = "pairs_pkey2", on(id), primary_key, phase = expand)
)]
struct Pair {
    #[straddle(primary_key)]
    id: i64,
}

// A new column cannot join the key (the help names `primary_key` for columns the table has).
#[derive(straddle::Model)]
#[straddle(table = "stops", dialects(postgres))]
struct Stop {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(primary_key, added(default = 0, phase = expand))]
    seq: i64,
}

fn main() {}
