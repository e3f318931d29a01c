//! `check(..., fix(col = "<sql>", …))` on PostgreSQL: a CHECK added over data that violates
//! it today, with the declared rewrite of the violating rows (pgroll's `up` for a
//! constraint) as an explicit choice.
//!
//! - **expand**: a BEFORE INSERT OR UPDATE trigger, entered only `WHEN` the written row
//!   violates the check, gives the fixed columns their fix (all computed from the row as
//!   written, like an `UPDATE`'s `SET`): the previous release keeps writing what it
//!   writes, and what lands satisfies the check.
//! - **backfill**: the rows violating it get the fix in keyset batches (only those rows
//!   are written); rows still violating after the pass — a fix that does not satisfy the
//!   check — stop the run, with their keys.
//! - **contract**: the check is enforced as any (violations refused with keys, `NOT
//!   VALID`, `VALIDATE`), then the trigger goes.
//!
//! Going down drops the check and the trigger: fixed values stay fixed (the rewrite is the
//! declared change of data; nothing kept the values it replaced).

use super::{BatchWork, Rendered, create, drop, step};
use crate::catalog::{Object, State};
use crate::dialect::Dialect;
use crate::expr::Qualifier;
use crate::model::{Check, Model};
use crate::plan::Op;
use crate::step::Statement;

/// The steps of a fix's operation.
pub(super) fn render(model: &Model, check: &Check, op: &Op) -> Vec<Rendered> {
    let d = Dialect::Postgres;
    let name = crate::naming::object_name("fix", &[&model.table, &check.name]);
    let (q_name, table) = (d.quote(&name), d.quote(&model.table));
    let trigger = Object::Trigger {
        table: model.table.clone(),
        name: name.clone(),
    };
    let function = Object::Function {
        table: model.table.clone(),
        name: name.clone(),
    };
    let step = match op {
        Op::CreateFixTrigger => {
            let violated = format!("{} IS FALSE", check.expr.render(d, Qualifier::Row("NEW")));
            let (targets, values): (Vec<String>, Vec<String>) = check
                .fix
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
                "\nBEGIN\n  IF {violated} THEN\n    SELECT {} INTO {};\n  END IF;\n  RETURN NEW;\nEND\n",
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
                "CREATE TRIGGER {q_name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW WHEN ({violated}) \
                 EXECUTE FUNCTION {q_name}()"
            )));
            s.expects.push(create(function, State::Function { body: source }));
            s.expects.push(create(
                trigger,
                State::Trigger {
                    definition: name.clone(),
                },
            ));
            s
        }
        Op::DropFixTrigger => {
            // Trigger first, then the function (`DROP FUNCTION … CASCADE` would lock the
            // table).
            let mut s = step("drop-fix-trigger", true, true);
            s.statements.push(Statement::Execute(format!(
                "DROP TRIGGER IF EXISTS {q_name} ON {table}"
            )));
            s.statements
                .push(Statement::Execute(format!("DROP FUNCTION IF EXISTS {q_name}()")));
            s.expects.push(drop(trigger));
            s.expects.push(drop(function));
            s
        }
        Op::FixViolations => {
            let violated = format!("{} IS FALSE", check.expr.render(d, Qualifier::None));
            let set: Vec<String> = check
                .fix
                .iter()
                .map(|(column, fix)| format!("{} = {}", d.quote(column), fix.render(d, Qualifier::None)))
                .collect();
            let integer = model
                .primary_key()
                .first()
                .is_some_and(|k| super::is_integer_key(k));
            let max = if integer {
                "CAST(max(k) AS BIGINT)"
            } else {
                "max(k)"
            };
            let work = BatchWork {
                label: check.name.clone(),
                set: set.join(", "),
                pending: violated.clone(),
                missed: violated,
                missed_message: Some(format!(
                    "still violate CHECK {} after its fix (e.g. keys {{keys}}): the fix ({}) does not satisfy ({}); \
                     nothing was enforced",
                    check.name,
                    check.fix_text().unwrap_or_default(),
                    check.expr.text
                )),
            };
            return vec![super::keyset_batches(d, model, max, None, work)];
        }
        _ => unreachable!("only a fix's operations are rendered here"),
    };
    vec![Rendered {
        step,
        combinable: false,
    }]
}
