//! A constraint added over data that violates it today, with the declared rewrite of the
//! violating rows (pgroll's `up` for a constraint) as an explicit choice:
//! `check(..., fix(col = "<sql>", …))` (PostgreSQL) and `foreign_key(..., fix(col =
//! "<sql>", …))` (PostgreSQL, MySQL/MariaDB), e.g. `fix(customer_id = "NULL")` for orphans.
//!
//! - **expand**: BEFORE INSERT and UPDATE triggers give a written row that violates the
//!   constraint the fix (PostgreSQL: all fixed columns computed from the row as written,
//!   like an `UPDATE`'s `SET` there; MySQL: left to right, like its `UPDATE`): the previous
//!   release keeps writing what it writes, and what lands satisfies the constraint. On
//!   PostgreSQL the trigger is entered only `WHEN` the row may violate it.
//! - **backfill**: the violating rows get the fix in keyset batches (only those rows are
//!   written); rows still violating after the pass — a fix that does not satisfy the
//!   constraint — stop the run, with their keys.
//! - **contract**: the constraint is enforced as any (violations refused with keys, then
//!   added without a long lock), then the triggers go.
//!
//! Going down drops the constraint and the triggers: fixed values stay fixed (the rewrite is
//! the declared change of data; nothing kept the values it replaced). A foreign key's
//! parent rows deleted between the fix and contract leave new orphans, which contract
//! refuses, naming them (run the backfill again).

use super::{BatchWork, Rendered, create, drop, step};
use crate::catalog::{Object, State};
use crate::dialect::Dialect;
use crate::expr::{Qualifier, SqlExpr};
use crate::model::{Check, ForeignKey, Model};
use crate::plan::Op;
use crate::step::Statement;

/// The constraint whose violations a fix rewrites.
pub(super) enum Rule<'a> {
    /// A CHECK.
    Check(&'a Check),
    /// A foreign key.
    ForeignKey(&'a ForeignKey),
}

impl Rule<'_> {
    fn name(&self) -> &str {
        match self {
            Rule::Check(c) => &c.name,
            Rule::ForeignKey(f) => &f.name,
        }
    }

    fn fix(&self) -> &[(String, SqlExpr)] {
        match self {
            Rule::Check(c) => &c.fix,
            Rule::ForeignKey(f) => &f.fix,
        }
    }

    /// The condition under which a row violates it: the row a trigger writes (`NEW`), or
    /// the table's own row in a batch's `UPDATE` (`None`).
    fn violated(&self, d: Dialect, model: &Model, row: Option<&str>) -> String {
        match self {
            Rule::Check(c) => {
                let q = row.map_or(Qualifier::None, Qualifier::Row);
                format!("{} IS FALSE", c.expr.render(d, q))
            }
            Rule::ForeignKey(f) => {
                let table = d.quote(&model.table);
                let row = row.unwrap_or(&table);
                let set: Vec<String> = f
                    .columns
                    .iter()
                    .map(|c| format!("{row}.{} IS NOT NULL", d.quote(c)))
                    .collect();
                let join: Vec<String> = f
                    .columns
                    .iter()
                    .zip(&f.parent_columns)
                    .map(|(c, p)| format!("straddle_parent.{} = {row}.{}", d.quote(p), d.quote(c)))
                    .collect();
                format!(
                    "{} AND NOT EXISTS (SELECT 1 FROM {} AS straddle_parent WHERE {})",
                    set.join(" AND "),
                    d.quote(&f.parent),
                    join.join(" AND ")
                )
            }
        }
    }

    /// PostgreSQL's trigger `WHEN`: the violation where it has no subquery (a trigger
    /// condition cannot have one), else that the referencing columns are set.
    fn when(&self, model: &Model) -> String {
        let d = Dialect::Postgres;
        match self {
            Rule::Check(_) => self.violated(d, model, Some("NEW")),
            Rule::ForeignKey(f) => f
                .columns
                .iter()
                .map(|c| format!("NEW.{} IS NOT NULL", d.quote(c)))
                .collect::<Vec<_>>()
                .join(" AND "),
        }
    }

    fn fix_text(&self) -> String {
        self.fix()
            .iter()
            .map(|(c, e)| format!("{c} = {}", e.text))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The steps of a fix's operation (`CreateFixTrigger`, `DropFixTrigger`,
/// `FixViolations`) on `dialect`.
pub(super) fn render(dialect: Dialect, model: &Model, rule: &Rule<'_>, op: &Op) -> Vec<Rendered> {
    let lone = |step| {
        vec![Rendered {
            step,
            combinable: false,
        }]
    };
    match (op, dialect) {
        (Op::FixViolations, _) => vec![fix_violations(dialect, model, rule)],
        (Op::CreateFixTrigger, Dialect::Postgres) => lone(postgres_trigger(model, rule)),
        (Op::DropFixTrigger, Dialect::Postgres) => lone(postgres_drop(model, rule)),
        (Op::CreateFixTrigger, Dialect::MySql) => mysql_triggers(model, rule),
        (Op::DropFixTrigger, Dialect::MySql) => lone(mysql_drop(model, rule)),
        _ => unreachable!(
            "a fix's triggers exist on PostgreSQL and MySQL/MariaDB (refused elsewhere at compile time)"
        ),
    }
}

/// PostgreSQL: the trigger function and its trigger share one generated name.
fn postgres_name(model: &Model, rule: &Rule<'_>) -> String {
    crate::naming::object_name("fix", &[&model.table, rule.name()])
}

/// MySQL/MariaDB: one trigger per event (names are the schema's).
fn mysql_names(model: &Model, rule: &Rule<'_>) -> [String; 2] {
    ["insert", "update"].map(|event| crate::naming::object_name("fix", &[&model.table, rule.name(), event]))
}

fn trigger(model: &Model, name: &str) -> Object {
    Object::Trigger {
        table: model.table.clone(),
        name: name.to_string(),
    }
}

fn function(model: &Model, name: &str) -> Object {
    Object::Function {
        table: model.table.clone(),
        name: name.to_string(),
    }
}

fn postgres_trigger(model: &Model, rule: &Rule<'_>) -> crate::step::Step {
    let d = Dialect::Postgres;
    let name = postgres_name(model, rule);
    let (q_name, table) = (d.quote(&name), d.quote(&model.table));
    let (targets, values): (Vec<String>, Vec<String>) = rule
        .fix()
        .iter()
        .map(|(column, fix)| {
            (
                format!("NEW.{}", d.quote(column)),
                fix.render(d, Qualifier::Row("NEW")),
            )
        })
        .unzip();
    // One SELECT … INTO: every fix reads the row as written, as one UPDATE would.
    let source = format!(
        "\nBEGIN\n  IF {} THEN\n    SELECT {} INTO {};\n  END IF;\n  RETURN NEW;\nEND\n",
        rule.violated(d, model, Some("NEW")),
        values.join(", "),
        targets.join(", ")
    );
    let tag = crate::naming::dollar_tag(&source);
    let mut s = step("create-fix-trigger", true, true);
    s.statements.push(Statement::Execute(format!(
        "CREATE OR REPLACE FUNCTION {q_name}() RETURNS trigger LANGUAGE plpgsql AS {tag}{source}{tag}"
    )));
    s.statements.push(Statement::Execute(format!(
        "DROP TRIGGER IF EXISTS {q_name} ON {table}"
    )));
    s.statements.push(Statement::Execute(format!(
        "CREATE TRIGGER {q_name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW WHEN ({}) \
         EXECUTE FUNCTION {q_name}()",
        rule.when(model)
    )));
    s.expects
        .push(create(function(model, &name), State::Function { body: source }));
    s.expects.push(create(
        trigger(model, &name),
        State::Trigger {
            definition: name.clone(),
        },
    ));
    s
}

fn postgres_drop(model: &Model, rule: &Rule<'_>) -> crate::step::Step {
    let d = Dialect::Postgres;
    let name = postgres_name(model, rule);
    let q_name = d.quote(&name);
    // Trigger first, then the function (`DROP FUNCTION … CASCADE` would lock the table).
    let mut s = step("drop-fix-trigger", true, true);
    s.statements.push(Statement::Execute(format!(
        "DROP TRIGGER IF EXISTS {q_name} ON {}",
        d.quote(&model.table)
    )));
    s.statements
        .push(Statement::Execute(format!("DROP FUNCTION IF EXISTS {q_name}()")));
    s.expects.push(drop(trigger(model, &name)));
    s.expects.push(drop(function(model, &name)));
    s
}

/// MySQL/MariaDB: each trigger its own statement (DDL commits by itself there).
fn mysql_triggers(model: &Model, rule: &Rule<'_>) -> Vec<Rendered> {
    let d = Dialect::MySql;
    let sets: Vec<String> = rule
        .fix()
        .iter()
        .map(|(column, fix)| {
            format!(
                "NEW.{} = {}",
                d.quote(column),
                fix.render(d, Qualifier::Row("NEW"))
            )
        })
        .collect();
    let body = format!(
        "BEGIN IF {} THEN SET {}; END IF; END",
        rule.violated(d, model, Some("NEW")),
        sets.join(", ")
    );
    mysql_names(model, rule)
        .into_iter()
        .zip(["INSERT", "UPDATE"])
        .map(|(name, event)| {
            let mut s = step(
                &format!("create-fix-trigger-{}", event.to_ascii_lowercase()),
                false,
                true,
            );
            s.statements.push(Statement::Execute(format!(
                "CREATE TRIGGER {} BEFORE {event} ON {} FOR EACH ROW {body}",
                d.quote(&name),
                d.quote(&model.table)
            )));
            s.expects.push(create(
                trigger(model, &name),
                State::Trigger {
                    definition: body.clone(),
                },
            ));
            Rendered {
                step: s,
                combinable: false,
            }
        })
        .collect()
}

fn mysql_drop(model: &Model, rule: &Rule<'_>) -> crate::step::Step {
    let d = Dialect::MySql;
    let mut s = step("drop-fix-trigger", false, true);
    for name in mysql_names(model, rule) {
        s.statements.push(Statement::Execute(format!(
            "DROP TRIGGER IF EXISTS {}",
            d.quote(&name)
        )));
        s.expects.push(drop(trigger(model, &name)));
    }
    s
}

/// The violating rows fixed in keyset batches; rows still violating afterwards stop the
/// run with their keys.
fn fix_violations(d: Dialect, model: &Model, rule: &Rule<'_>) -> Rendered {
    let violated = rule.violated(d, model, None);
    let set: Vec<String> = rule
        .fix()
        .iter()
        .map(|(column, fix)| format!("{} = {}", d.quote(column), fix.render(d, Qualifier::None)))
        .collect();
    let work = BatchWork {
        label: rule.name().to_string(),
        set: set.join(", "),
        pending: violated.clone(),
        missed: violated,
        missed_message: Some(format!(
            "still violate {} {} after its fix (e.g. keys {{keys}}): the fix ({}) does not satisfy it; nothing was \
             enforced",
            match rule {
                Rule::Check(_) => "CHECK",
                Rule::ForeignKey(_) => "foreign key",
            },
            rule.name(),
            rule.fix_text()
        )),
    };
    super::keyset_batches(d, model, None, work)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_violation_of_a_foreign_key_reads_the_row_it_is_given() {
        let fk = ForeignKey {
            name: "orders_customer".into(),
            columns: vec!["customer_id".into()],
            parent: "customers".into(),
            parent_columns: vec!["id".into()],
            phase: crate::model::Phase::Contract,
            dropped: false,
            on_delete: None,
            on_update: None,
            deferrable: None,
            renamed_from: None,
            fix: Vec::new(),
        };
        let model: Model = serde_json::from_value(serde_json::json!({
            "rust_name": "Order", "table": "orders", "dialects": ["postgres"], "columns": []
        }))
        .unwrap();
        let rule = Rule::ForeignKey(&fk);
        assert_eq!(
            rule.violated(Dialect::Postgres, &model, Some("NEW")),
            "NEW.\"customer_id\" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM \"customers\" AS straddle_parent WHERE \
             straddle_parent.\"id\" = NEW.\"customer_id\")"
        );
        assert!(
            rule.violated(Dialect::MySql, &model, None)
                .contains("straddle_parent.`id` = `orders`.`customer_id`")
        );
    }
}
