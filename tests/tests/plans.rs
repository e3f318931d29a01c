//! Snapshots of every plan, per dialect, phase and direction (insta). A changed
//! snapshot is a changed migration: review it like one.

use straddle::{Dialect, Direction, Model, Phase, ir};
use straddle_tests::models::{
    AccountRetyped, ArchiveRetired, Awkward, ContactIndexed, ContactRenamed, Counted, Customer, DocCommented,
    LedgerEntryScripted, MemberChecked, MemberConstraintsRenamed, MemberNullable, Nickname, Normalized, Note,
    OrderFixed, PaymentFixed, ProfileRetiring, SettingDefaulted, TagWidened, TicketLinked, VisitKeyed,
};

fn render_all(model: &ir::Model) -> String {
    let mut out = String::new();
    for plan in ir::plan_model(model) {
        for dialect in Dialect::ALL.into_iter().filter(|d| model.supports(*d)) {
            out.push_str(&format!(
                "######## {} — {} — {}\n",
                plan.id, plan.summary, dialect
            ));
            for phase in Phase::ALL {
                for direction in [Direction::Up, Direction::Down] {
                    let steps = ir::render::render_phase(dialect, model, &plan, phase, direction);
                    out.push_str(&format!(
                        "\n=== {phase} {}{}\n",
                        direction.key(),
                        if steps.is_empty() { ": (nothing)" } else { "" }
                    ));
                    for step in steps {
                        out.push_str(&format!("{step}-- checksum {}\n", &step.checksum()[..16]));
                    }
                }
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn backfilled_not_null() {
    insta::assert_snapshot!(render_all(Normalized::definition()));
}

#[test]
fn nullable() {
    insta::assert_snapshot!(render_all(Nickname::definition()));
}

#[test]
fn constant_defaults() {
    insta::assert_snapshot!(render_all(Counted::definition()));
}

#[test]
fn quoting_text_keys_and_postgres_only_defaults() {
    insta::assert_snapshot!(render_all(Awkward::definition()));
}

#[test]
fn renames() {
    insta::assert_snapshot!(render_all(ContactRenamed::definition()));
}

#[test]
fn retirements() {
    insta::assert_snapshot!(render_all(ProfileRetiring::definition()));
}

#[test]
fn indexes() {
    insta::assert_snapshot!(render_all(ContactIndexed::definition()));
}

#[test]
fn made_nullable() {
    insta::assert_snapshot!(render_all(MemberNullable::definition()));
}

#[test]
fn made_not_null() {
    insta::assert_snapshot!(render_all(straddle_tests::models::GuestRequired::definition()));
}

#[test]
fn check_constraints() {
    insta::assert_snapshot!(render_all(MemberChecked::definition()));
}

#[test]
fn foreign_keys() {
    insta::assert_snapshot!(render_all(TicketLinked::definition()));
}

#[test]
fn created_table() {
    insta::assert_snapshot!(render_all(Note::definition()));
}

#[test]
fn retired_table() {
    insta::assert_snapshot!(render_all(ArchiveRetired::definition()));
}

#[test]
fn default_changed() {
    insta::assert_snapshot!(render_all(SettingDefaulted::definition()));
}

#[test]
fn checksums_are_stable_and_sensitive() {
    let model = Normalized::definition();
    let plan = &ir::plan_model(model)[0];
    let steps = ir::render::render_phase(Dialect::Postgres, model, plan, Phase::Expand, Direction::Up);
    let again = ir::render::render_phase(Dialect::Postgres, model, plan, Phase::Expand, Direction::Up);
    assert_eq!(steps[0].checksum(), again[0].checksum());
    let mut edited = steps[0].clone();
    if let ir::Statement::Execute(sql) = &mut edited.statements[0] {
        sql.push(' ');
    }
    assert_ne!(steps[0].checksum(), edited.checksum());
}

#[test]
fn type_changes() {
    insta::assert_snapshot!(render_all(AccountRetyped::definition()));
}

#[test]
fn widened_in_place() {
    insta::assert_snapshot!(render_all(TagWidened::definition()));
}

#[test]
fn renamed_table() {
    insta::assert_snapshot!(render_all(Customer::definition()));
}

#[test]
fn hand_written_steps() {
    insta::assert_snapshot!(render_all(LedgerEntryScripted::definition()));
}

#[test]
fn renamed_constraints() {
    insta::assert_snapshot!(render_all(MemberConstraintsRenamed::definition()));
}

#[test]
fn primary_key_added() {
    insta::assert_snapshot!(render_all(VisitKeyed::definition()));
}

#[test]
fn check_fixed() {
    insta::assert_snapshot!(render_all(PaymentFixed::definition()));
}

#[test]
fn comment_changed() {
    insta::assert_snapshot!(render_all(DocCommented::definition()));
}

#[test]
fn foreign_key_fixed() {
    insta::assert_snapshot!(render_all(OrderFixed::definition()));
}
