// A primary key added by an earlier rollout (locks/primary_key.lock) is not dropped: the
// running version finds its rows by it.
#[derive(straddle::Model)]
#[straddle(
    table = "accounts",
    lock = "../../../../tests/ui/locks/primary_key.lock",
    dropped_index(name = "accounts_pkey", on(id), unique, phase = expand)
)]
struct Account {
    #[straddle(primary_key)]
    id: i64,
}

fn main() {}
