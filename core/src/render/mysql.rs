//! MySQL 8 / MariaDB 10.11 (InnoDB): DDL is not transactional, so every step is one
//! statement whose objects are checked against the catalog (a step whose objects are
//! already as it leaves them is skipped), and every ALTER states its algorithm so the
//! server refuses instead of silently copying the table. `MODIFY` must restate the whole
//! column, so it is built when it runs from the column's live definition.

use super::{IndexTarget, Rendered, Target, alter, create, default_sql, drop, step};
use crate::catalog::{ConstraintKind, Object, State};
use crate::expr::Qualifier;
use crate::model::{Change, ForeignKey, Model};
use crate::plan::Op;
use crate::step::{LiveSql, Statement};

pub(super) fn render(t: &Target<'_>, op: &Op) -> Vec<Rendered> {
    let table = t.table();
    let col = t.col();
    let one = |name: &str, sql: String, expects: Vec<crate::catalog::Expect>, ddl: bool| {
        let mut s = step(name, false, ddl);
        s.statements.push(Statement::Execute(sql));
        s.expects = expects;
        Rendered {
            step: s,
            combinable: false,
        }
    };
    match op {
        Op::AddColumn {
            nullable, default, ..
        } => {
            let mut def = format!("{col} {}", t.sql_type());
            def.push_str(if *nullable { " NULL" } else { " NOT NULL" });
            if let Some(d) = default {
                def.push_str(&format!(" DEFAULT {}", default_sql(t.dialect, d)));
            }
            vec![one(
                "add-column",
                format!("ALTER TABLE {table} ADD COLUMN {def}, ALGORITHM=INSTANT"),
                t.added_column(*nullable, default.as_ref()),
                true,
            )]
        }
        Op::DropColumn(_) => vec![one(
            "drop-column",
            format!("ALTER TABLE {table} DROP COLUMN {col}, ALGORITHM=INSTANT"),
            vec![drop(t.column_object())],
            true,
        )],
        Op::CreateSyncTrigger => {
            let [ins, upd] = t.sync_trigger_names();
            let (insert_body, update_body) = match t.change {
                Change::Rename(_) => rename_sync_bodies(t),
                Change::Retype(_) => retype_sync_bodies(t),
                _ => computed_sync_bodies(t),
            };
            let trigger = |name: &str, body: &str| {
                create(
                    trigger_object(t, name),
                    State::Trigger {
                        definition: body.to_string(),
                    },
                )
            };
            vec![
                one(
                    "create-sync-trigger-insert",
                    format!(
                        "CREATE TRIGGER {} BEFORE INSERT ON {table} FOR EACH ROW {insert_body}",
                        t.q(&ins)
                    ),
                    vec![trigger(&ins, &insert_body)],
                    true,
                ),
                one(
                    "create-sync-trigger-update",
                    format!(
                        "CREATE TRIGGER {} BEFORE UPDATE ON {table} FOR EACH ROW {update_body}",
                        t.q(&upd)
                    ),
                    vec![trigger(&upd, &update_body)],
                    true,
                ),
            ]
        }
        Op::DropSyncTrigger => {
            let [ins, upd] = t.sync_trigger_names();
            // Trigger names are the schema's: one of that name on another table is not
            // ours, and the step refuses rather than drop it.
            vec![
                one(
                    "drop-sync-trigger-insert",
                    format!("DROP TRIGGER IF EXISTS {}", t.q(&ins)),
                    vec![drop(trigger_object(t, &ins))],
                    true,
                ),
                one(
                    "drop-sync-trigger-update",
                    format!("DROP TRIGGER IF EXISTS {}", t.q(&upd)),
                    vec![drop(trigger_object(t, &upd))],
                    true,
                ),
            ]
        }
        Op::Backfill(_) => vec![super::keyset_backfill(t, None)],
        // BEFORE triggers fill a column a stale writer omits before constraints are checked.
        Op::AwaitAppRefresh => vec![],
        Op::AssertSynced => vec![super::verify_synced(t)],
        Op::AwaitSchemaRefresh => vec![super::await_app_refresh()],
        // INSTANT on MariaDB 10.5+ / MySQL 8.0.29+: metadata only, one atomic statement.
        Op::Swap | Op::Unswap => vec![super::swap_step(t, op)],
        Op::CarryDefault(_) => vec![super::carry_default(t)],
        // Metadata only (INSTANT) on MySQL 8 and MariaDB.
        Op::SetDefault(lit) => vec![one(
            "set-default",
            format!(
                "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {}, ALGORITHM=INSTANT",
                lit.render(t.dialect)
            ),
            vec![],
            true,
        )],
        // The whole definition restated with the new comment: metadata only.
        Op::SetComment(comment) => {
            let mut s = step("set-comment", false, true);
            s.statements
                .push(Statement::Live(crate::step::LiveSql::MySqlComment {
                    table: t.model.table.clone(),
                    column: t.name().to_string(),
                    comment: comment.clone(),
                }));
            vec![Rendered {
                step: s,
                combinable: false,
            }]
        }
        Op::DropDefault => vec![one(
            "drop-default",
            format!("ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT, ALGORITHM=INSTANT"),
            vec![],
            true,
        )],
        Op::EnforceNotNull(_) => {
            let mut verify = step("verify-no-nulls", false, false);
            verify.statements.push(super::no_nulls_left(t));
            // No NOT VALID on MySQL: an in-place rebuild that keeps DML running. The sync
            // trigger is still installed, so no NULL can arrive meanwhile.
            vec![
                Rendered {
                    step: verify,
                    combinable: false,
                },
                modify(t, "set-not-null", true),
            ]
        }
        Op::RelaxNotNull(_) => vec![modify(t, "drop-not-null", false)],
        Op::CreateIndex
        | Op::DropIndex
        | Op::RenameIndex
        | Op::UnrenameIndex
        | Op::AddCheck
        | Op::DropCheck
        | Op::CreateForeignKeyIndex
        | Op::DropForeignKeyIndex
        | Op::AddForeignKey
        | Op::DropForeignKey
        | Op::CreateTable
        | Op::DropTable
        | Op::RetireTable
        | Op::CreateRenameView
        | Op::DropRenameView
        | Op::CreateFixTrigger
        | Op::DropFixTrigger
        | Op::FixViolations
        | Op::RunSql
        | Op::RevertSql
        | Op::RenameConstraint
        | Op::UnrenameConstraint
        | Op::RenameTable
        | Op::UnrenameTable => {
            unreachable!("index, constraint and table operations have their own renderers")
        }
    }
}

/// `MODIFY COLUMN` changing NOT NULL, in place (`ALGORITHM=INPLACE, LOCK=NONE`): MySQL
/// replaces the whole column definition, so the statement restates the column's live type,
/// character set, collation, default, `ON UPDATE` and comment, read from the catalog when
/// it runs (or refuses, for what it cannot restate).
fn modify(t: &Target<'_>, name: &str, not_null: bool) -> Rendered {
    let mut s = step(name, false, true);
    s.scans_table = true;
    s.statements.push(Statement::Live(LiveSql::MySqlModify {
        table: t.model.table.clone(),
        column: t.name(),
        not_null,
    }));
    s.expects
        .push(alter(t.column_object(), t.column_state(!not_null)));
    Rendered {
        step: s,
        combinable: false,
    }
}

fn trigger_object(t: &Target<'_>, name: &str) -> Object {
    Object::Trigger {
        table: t.model.table.clone(),
        name: name.to_string(),
    }
}

/// A trigger body running `statements` in order when `when` holds for the row (outside
/// it the trigger has nothing to do: see [`super::sync_when`]), each statement on its own
/// so that a data error in one (a division by zero, a value that does not convert) sets
/// its column to NULL instead of failing the write: the previous release's writes must
/// never start failing because of a rollout. Each is `(column, statement)`.
fn guarded_body(when: &str, statements: &[(String, String)]) -> String {
    let blocks: Vec<String> = statements
        .iter()
        .map(|(col, st)| {
            format!("BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET NEW.{col} = NULL; {st}; END;")
        })
        .collect();
    format!("BEGIN IF {when} THEN {} END IF; END", blocks.join(" "))
}

/// Trigger bodies (insert, update) filling an added column from its expression.
fn computed_sync_bodies(t: &Target<'_>) -> (String, String) {
    let col = t.col();
    let computed = t.fill_expr().render(t.dialect, Qualifier::Row("NEW"));
    let set = [(col.clone(), format!("SET NEW.{col} = {computed}"))];
    let [insert, update] = super::sync_when(t);
    (guarded_body(&insert, &set), guarded_body(&update, &set))
}

/// Trigger bodies (insert, update) of a rename's two-way copy: whichever column a
/// writer set, the other follows. Assignments run left to right.
fn rename_sync_bodies(t: &Target<'_>) -> (String, String) {
    let (new, old) = (t.q(&t.column.name), t.q(&t.other_name()));
    let [insert, update] = super::sync_when(t);
    (
        format!(
            "BEGIN IF {insert} THEN SET NEW.{new} = COALESCE(NEW.{new}, NEW.{old}), \
             NEW.{old} = COALESCE(NEW.{old}, NEW.{new}); END IF; END"
        ),
        format!(
            "BEGIN IF {update} THEN SET NEW.{old} = CASE WHEN NOT (NEW.{new} <=> OLD.{new}) THEN NEW.{new} ELSE NEW.{old} END, \
             NEW.{new} = CASE WHEN (NEW.{new} <=> OLD.{new}) AND NOT (NEW.{old} <=> OLD.{old}) THEN NEW.{old} \
             ELSE NEW.{new} END; END IF; END"
        ),
    )
}

/// Trigger bodies (insert, update) of a type change's two-way conversion: whichever
/// column a writer set, the other gets it converted.
fn retype_sync_bodies(t: &Target<'_>) -> (String, String) {
    let [new, old, up, down] = t.retype_sync("NEW");
    let [insert, update] = super::sync_when(t);
    (
        guarded_body(
            &insert,
            &[
                (
                    new.clone(),
                    format!("IF NEW.{new} IS NULL THEN SET NEW.{new} = {up}; END IF"),
                ),
                (
                    old.clone(),
                    format!("IF NEW.{old} IS NULL THEN SET NEW.{old} = {down}; END IF"),
                ),
            ],
        ),
        guarded_body(
            &update,
            &[
                // A value already what the other column converts to (the backfill's) is
                // left alone: converting it back could rewrite the other release's value.
                (
                    old.clone(),
                    format!(
                        "IF NOT (NEW.{new} <=> OLD.{new}) AND NOT (NEW.{new} <=> ({up})) THEN SET NEW.{old} = {down}; END IF"
                    ),
                ),
                (
                    new.clone(),
                    format!(
                        "IF (NEW.{new} <=> OLD.{new}) AND NOT (NEW.{old} <=> OLD.{old}) AND NOT (NEW.{old} <=> ({down})) \
                         THEN SET NEW.{new} = {up}; END IF"
                    ),
                ),
            ],
        ),
    )
}

/// Foreign keys (declared `mysql_unvalidated`): there is no NOT VALID, and validating
/// copies the table, so Straddle asserts no orphans itself and adds the constraint in
/// place with the server's validation off for that one statement.
pub(super) fn render_foreign_key(model: &Model, fk: &ForeignKey, op: &Op) -> Vec<Rendered> {
    let d = crate::dialect::Dialect::MySql;
    let (table, name) = (d.quote(&model.table), d.quote(&fk.name));
    let list = |cols: &[String]| cols.iter().map(|c| d.quote(c)).collect::<Vec<_>>().join(", ");
    let object = Object::Constraint {
        table: model.table.clone(),
        name: fk.name.clone(),
    };
    let steps = match op {
        Op::AddForeignKey => {
            let mut verify = step("verify-foreign-key", false, false);
            verify.statements.push(super::no_orphans(d, model, fk));
            let mut add = step("add-foreign-key", false, true);
            add.statements.extend([
                Statement::Execute("SET SESSION foreign_key_checks = 0".into()),
                Statement::Execute(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({}) REFERENCES {} ({}){}, \
                     ALGORITHM=INPLACE, LOCK=NONE",
                    list(&fk.columns),
                    d.quote(&fk.parent),
                    list(&fk.parent_columns),
                    fk.options_sql()
                )),
                Statement::Execute("SET SESSION foreign_key_checks = 1".into()),
            ]);
            add.expects.push(create(
                object,
                State::Constraint {
                    kind: ConstraintKind::ForeignKey,
                    validated: None,
                },
            ));
            vec![verify, add]
        }
        Op::DropForeignKey => {
            let mut s = step("drop-foreign-key", false, true);
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} DROP FOREIGN KEY {name}, ALGORITHM=INPLACE, LOCK=NONE"
            )));
            s.expects.push(drop(object));
            vec![s]
        }
        _ => unreachable!("only foreign-key operations act on a foreign key"),
    };
    steps
        .into_iter()
        .map(|step| Rendered {
            step,
            combinable: false,
        })
        .collect()
}

/// Indexes: `ALGORITHM=INPLACE, LOCK=NONE` (reads and writes go on); index names are
/// the table's.
pub(super) fn render_index(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    let (mut s, sql, expect) = match op {
        Op::CreateIndex => {
            let mut s = step("create-index", false, true);
            s.scans_table = true;
            s.statements.extend(t.no_duplicates());
            (
                s,
                format!(
                    "ALTER TABLE {} ADD {}INDEX {} {}, ALGORITHM=INPLACE, LOCK=NONE",
                    t.table(),
                    t.unique(),
                    t.name(),
                    t.columns()
                ),
                create(t.object(), t.state()),
            )
        }
        Op::DropIndex => (
            step("drop-index", false, true),
            format!(
                "ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE",
                t.table(),
                t.name()
            ),
            drop(t.object()),
        ),
        // Metadata only (MySQL 5.7, MariaDB 10.5).
        Op::RenameIndex | Op::UnrenameIndex => {
            let (old, new) = t.renaming(op);
            let mut s = step(t.rename_step(op), false, true);
            let mut expects = t.renamed(op);
            let last = expects.pop().expect("a rename expects two things");
            s.expects.extend(expects);
            (
                s,
                format!(
                    "ALTER TABLE {} RENAME INDEX {} TO {}, ALGORITHM=INPLACE, LOCK=NONE",
                    t.table(),
                    t.q(&old),
                    t.q(&new)
                ),
                last,
            )
        }
        _ => unreachable!("only index operations act on an index"),
    };
    s.statements.push(Statement::Execute(sql));
    s.expects.push(expect);
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}
