// A created table's columns come with it; its creation moves one phase per release and
// stays declared until contract ships (locks/created.lock).
#[derive(straddle::Model)]
#[straddle(table = "drafts", created(phase = expand))]
struct Draft {
    #[straddle(primary_key)]
    id: i64,
    #[straddle(added(phase = expand))]
    body: Option<String>,
}

#[derive(straddle::Model)]
#[straddle(table = "notes", lock = "../../../../tests/ui/locks/created.lock")]
struct Note {
    #[straddle(primary_key)]
    id: i64,
    body: String,
}

#[derive(straddle::Model)]
#[straddle(table = "notes", lock = "../../../../tests/ui/locks/created.lock", created(phase = contract))]
struct Note2 {
    #[straddle(primary_key)]
    id: i64,
    body: String,
}

fn main() {}
