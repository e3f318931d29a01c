//! Where an instance's code stands on a change, judged from the models it registered —
//! for every kind of change — and what each phase allows (the pure half of fleet gating,
//! on declarations compiled by the real derive).

use straddle::ir::fleet::{Stance, requirement, stance};
use straddle::ir::{ChangePlan, Model as Ir};
use straddle::{Dialect, Direction, Model, Phase};
use straddle_tests::models::*;

/// `accounts` once `points` is an `i64` (its type change settled and no longer declared).
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "accounts")]
struct AccountSettled {
    #[straddle(primary_key)]
    id: i64,
    email: String,
    balance: i64,
    points: Option<i64>,
}

/// `contacts` once the rename of `email` to `email_address` settled.
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "contacts")]
struct ContactSettled {
    #[straddle(primary_key)]
    id: i64,
    email_address: String,
    remark: Option<String>,
}

/// `profiles` once its retired columns are gone.
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "profiles")]
struct ProfileSettled {
    #[straddle(primary_key)]
    id: i64,
    email: String,
}

/// `customers` (renamed from `clients`) and `notes` (created) as ordinary tables.
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "customers")]
struct CustomerSettled {
    #[straddle(primary_key)]
    id: i64,
    email: String,
}

#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "notes")]
struct NoteSettled {
    #[straddle(primary_key)]
    id: i64,
    body: String,
}

fn plan(model: &Ir, id: &str) -> ChangePlan {
    straddle::ir::plan_model(model)
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no change {id}"))
}

fn of(model: &'static Ir, id: &str, running: &[&Ir]) -> Option<Stance> {
    let running: Vec<Ir> = running.iter().map(|m| (*m).clone()).collect();
    stance(&running, &plan(model, id), model, Dialect::Postgres)
}

#[test]
fn an_added_column() {
    let m = NormalizedContract::definition();
    let id = "users.email_normalized";
    assert_eq!(of(m, id, &[UsersBefore::definition()]), Some(Stance::Before));
    assert_eq!(
        of(m, id, &[NormalizedExpand::definition()]),
        Some(Stance::Declares(Phase::Expand))
    );
    assert_eq!(
        of(m, id, &[Normalized::definition()]),
        Some(Stance::Declares(Phase::Backfill))
    );
    assert_eq!(of(m, id, &[m]), Some(Stance::Declares(Phase::Contract)));
    assert_eq!(of(m, id, &[NormalizedSettled::definition()]), Some(Stance::After));
    // Code that does not map the table has no say.
    assert_eq!(of(m, id, &[Contact::definition()]), None);
    assert_eq!(of(m, id, &[]), None);
    // The same column with another declaration is another rollout, not this one.
    assert_eq!(of(m, id, &[NormalizedEdited::definition()]), Some(Stance::Before));
    // Two models of the table in one binary: the earliest counts.
    assert_eq!(
        of(
            m,
            id,
            &[NormalizedSettled::definition(), NormalizedExpand::definition()]
        ),
        Some(Stance::Declares(Phase::Expand))
    );
    assert_eq!(
        of(
            m,
            id,
            &[NormalizedSettled::definition(), UsersBefore::definition()]
        ),
        Some(Stance::Before)
    );
}

#[test]
fn renamed_retyped_retired_and_nullable_columns() {
    let m = ContactRenamed::definition();
    let id = "contacts.email_address";
    assert_eq!(of(m, id, &[Contact::definition()]), Some(Stance::Before));
    assert_eq!(of(m, id, &[m]), Some(Stance::Declares(Phase::Contract)));
    assert_eq!(of(m, id, &[ContactSettled::definition()]), Some(Stance::After));

    let m = AccountRetyped::definition();
    assert_eq!(
        of(m, "accounts.points", &[Account::definition()]),
        Some(Stance::Before)
    );
    assert_eq!(
        of(m, "accounts.points", &[AccountSettled::definition()]),
        Some(Stance::After)
    );
    assert_eq!(
        of(m, "accounts.balance", &[AccountSettled::definition()]),
        Some(Stance::After)
    );

    let m = ProfileRetiring::definition();
    assert_eq!(
        of(m, "profiles.legacy_code", &[Profile::definition()]),
        Some(Stance::Before)
    );
    assert_eq!(
        of(m, "profiles.legacy_code", &[ProfileSettled::definition()]),
        Some(Stance::After)
    );

    let m = MemberNullable::definition();
    let id = plan_id(m);
    assert_eq!(of(m, &id, &[Member::definition()]), Some(Stance::Before));
}

fn plan_id(m: &Ir) -> String {
    straddle::ir::plan_model(m).remove(0).id
}

#[test]
fn tables_and_indexes() {
    let m = Customer::definition();
    assert_eq!(of(m, "customers", &[Client::definition()]), Some(Stance::Before));
    assert_eq!(
        of(m, "customers", &[CustomerSettled::definition()]),
        Some(Stance::After)
    );

    let m = Note::definition();
    assert_eq!(of(m, "notes", &[NoteSettled::definition()]), Some(Stance::After));
    assert_eq!(of(m, "notes", &[m]), Some(Stance::Declares(Phase::Contract)));

    let m = ArchiveRetired::definition();
    assert_eq!(of(m, "archives", &[Archive::definition()]), Some(Stance::Before));
    assert_eq!(of(m, "archives", &[Contact::definition()]), None);

    // An index leaves no trace in code once its declaration is gone: code without it is
    // taken as the previous release.
    let m = ContactIndexed::definition();
    assert_eq!(
        of(m, "contacts.contacts_email_key", &[Contact::definition()]),
        Some(Stance::Before)
    );
    assert_eq!(
        of(m, "contacts.contacts_email_key", &[m]),
        Some(Stance::Declares(Phase::Contract))
    );
}

#[test]
fn what_each_phase_allows() {
    let m = NormalizedContract::definition();
    let p = plan(m, "users.email_normalized");
    let all = [
        Stance::Before,
        Stance::Declares(Phase::Expand),
        Stance::Declares(Phase::Backfill),
        Stance::Declares(Phase::Contract),
        Stance::After,
    ];
    let allowed = |phase, direction| -> Vec<Stance> {
        match requirement(m, &p, phase, direction) {
            None => all.to_vec(),
            Some(r) => all.iter().copied().filter(|s| r.allows(*s)).collect(),
        }
    };
    // Expand and backfill run beside the previous release; contract only once it is gone.
    assert_eq!(allowed(Phase::Expand, Direction::Up), all);
    assert_eq!(allowed(Phase::Backfill, Direction::Up), all);
    assert_eq!(
        allowed(Phase::Contract, Direction::Up),
        [Stance::Declares(Phase::Contract), Stance::After]
    );
    // Reverting a phase waits for code of later phases to be rolled back.
    assert_eq!(
        allowed(Phase::Contract, Direction::Down),
        &all[..4],
        "code past the change needs contract"
    );
    assert_eq!(allowed(Phase::Expand, Direction::Down), &all[..2]);

    // A unique index refuses duplicates from the moment it is built: its expand waits for
    // the previous release to be gone.
    let m = ContactIndexed::definition();
    let p = plan(m, "contacts.contacts_email_key");
    let r = requirement(m, &p, Phase::Expand, Direction::Up).expect("gated");
    assert!(!r.allows(Stance::Before) && r.allows(Stance::Declares(Phase::Expand)));
    let p = plan(m, "contacts.contacts_note_idx");
    assert_eq!(requirement(m, &p, Phase::Expand, Direction::Up), None);
}

/// `ledger_entries` whose `currency_type` step has other SQL (another rollout of it).
#[derive(Debug, Clone, straddle::Model)]
#[straddle(
    table = "ledger_entries",
    sql(
        name = "currency_type",
        up(
            postgres = "CREATE TYPE currency AS ENUM ('eur', 'usd', 'chf')",
            mysql = "CREATE TABLE IF NOT EXISTS currencies (code CHAR(3) PRIMARY KEY)",
            sqlite = "CREATE TABLE IF NOT EXISTS currencies (code TEXT PRIMARY KEY)"
        ),
        down(
            postgres = "DROP TYPE IF EXISTS currency",
            mysql = "DROP TABLE IF EXISTS currencies",
            sqlite = "DROP TABLE IF EXISTS currencies"
        ),
        phase = expand
    )
)]
struct LedgerEntryOtherSql {
    #[straddle(primary_key)]
    id: i64,
    amount: i64,
}

/// An instance declaring a hand-written step of the same name with other SQL does not
/// declare this one: code leaves no other trace of a step, so it stands before it.
#[test]
fn hand_written_steps() {
    let model = LedgerEntryScripted::definition();
    let id = "ledger_entries.currency_type";
    assert_eq!(of(model, id, &[model]), Some(Stance::Declares(Phase::Expand)));
    assert_eq!(
        of(model, id, &[LedgerEntryOtherSql::definition()]),
        Some(Stance::Before)
    );
}
