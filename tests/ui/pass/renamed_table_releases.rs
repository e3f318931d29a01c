//! Table renames that follow the shipped history (locks/renamed_table.lock): `clients`
//! starts its rename to `customers` (first release, expand), `accounts` moves one phase
//! on; and what the derive records.
use straddle::{Model, Phase};

#[derive(straddle::Model)]
#[straddle(table = "customers", renamed(from = "clients", phase = expand), lock = "../../../../tests/ui/locks/renamed_table.lock")]
pub struct Customer {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

#[derive(straddle::Model)]
#[straddle(table = "accounts", renamed(from = "old_accounts", phase = backfill), lock = "../../../../tests/ui/locks/renamed_table.lock")]
pub struct Account {
    #[straddle(primary_key)]
    pub id: i64,
}

fn main() {
    let c = Customer::definition();
    let r = c.renamed.as_ref().unwrap();
    assert_eq!((r.from.as_str(), r.phase), ("clients", Phase::Expand));
    assert_eq!(c.table_names(), vec!["clients", "customers"]);
    assert_eq!(Customer::plan()[0].summary, "rename table from clients");
    assert_eq!(Account::plan()[0].declared_phase, Phase::Backfill);
}
