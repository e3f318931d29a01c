//! SQLite 3.35+: `ADD COLUMN`/`DROP COLUMN` in place; NOT NULL and defaults can only
//! change through the documented create-copy-drop-rename rebuild
//! ([`super::sqlite_rebuild`]), which runs in one transaction under the database write
//! lock and refuses (losing nothing) when the table has clauses it cannot carry over.

use super::{IndexTarget, Rendered, Target, alter, create, default_sql, drop, step};
use crate::catalog::{ColumnDefault, Object, State};
use crate::expr::Qualifier;
use crate::model::Change;
use crate::plan::{Col, Op};
use crate::step::{Statement, TableRebuild};

pub(super) fn render(t: &Target<'_>, op: &Op) -> Vec<Rendered> {
    let table = t.table();
    let col = t.col();
    match op {
        Op::AddColumn {
            nullable, default, ..
        } => {
            let mut def = format!("{col} {}", t.sql_type());
            if !nullable {
                def.push_str(" NOT NULL");
            }
            if let Some(d) = default {
                def.push_str(&format!(" DEFAULT {}", default_sql(t.dialect, d)));
            }
            let mut s = step("add-column", true, true);
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} ADD COLUMN {def}"
            )));
            s.expects = t.added_column(*nullable, default.as_ref());
            vec![Rendered {
                step: s,
                combinable: false,
            }]
        }
        Op::DropColumn(_) => {
            let mut s = step("drop-column", true, true);
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} DROP COLUMN {col}"
            )));
            s.expects.push(drop(t.column_object()));
            vec![Rendered {
                step: s,
                combinable: false,
            }]
        }
        Op::CreateSyncTrigger => {
            let mut s = step("create-sync-trigger", true, true);
            for (name, body) in sync_triggers(t) {
                s.statements
                    .push(Statement::Execute(trigger_sql(t, &name, &body, true)));
                s.expects.push(create(
                    trigger_object(t, &name),
                    State::Trigger {
                        definition: trigger_sql(t, &name, &body, false),
                    },
                ));
            }
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::DropSyncTrigger => {
            let mut s = step("drop-sync-trigger", true, true);
            for name in t.sync_trigger_names() {
                s.statements.push(Statement::Execute(format!(
                    "DROP TRIGGER IF EXISTS {}",
                    t.q(&name)
                )));
                s.expects.push(drop(trigger_object(t, &name)));
            }
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::Backfill(_) => vec![super::keyset_backfill(t, None)],
        Op::AssertSynced => vec![super::verify_synced(t)],
        Op::AwaitSchemaRefresh => vec![super::await_app_refresh()],
        // Under the database write lock; DROP COLUMN rewrites the rows without the column.
        Op::Swap | Op::Unswap => vec![super::swap_step(t, op)],
        // A default changes only by rebuilding the table (when there is one to carry).
        Op::CarryDefault(_) => around_rebuild(super::carry_default(t)),
        // Triggers run after constraints here: a stale writer that omits a column that
        // just came back must have re-read the schema before NOT NULL is enforced on it.
        Op::AwaitAppRefresh => vec![super::await_app_refresh()],
        Op::EnforceNotNull(_) => rebuild(t, Some(true), None),
        Op::RelaxNotNull(_) => rebuild(t, Some(false), None),
        Op::SetDefault(lit) => rebuild(t, None, Some(Some(lit.render(t.dialect)))),
        Op::DropDefault => rebuild(t, None, Some(None)),
        // Refused at compile time: SQLite keeps no comments.
        Op::SetComment(_) => vec![super::unsupported("column comments", t.dialect)],
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

fn trigger_object(t: &Target<'_>, name: &str) -> Object {
    Object::Trigger {
        table: t.model.table.clone(),
        name: name.to_string(),
    }
}

/// `CREATE TRIGGER` for one of [`sync_triggers`]; without `IF NOT EXISTS`, it is the text
/// SQLite stores (and the catalog check compares).
fn trigger_sql(t: &Target<'_>, name: &str, body: &str, if_not_exists: bool) -> String {
    format!(
        "CREATE TRIGGER {}{} {body}",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        t.q(name)
    )
}

/// The columns whose writes the update trigger watches (`UPDATE OF`): an update that sets
/// none of them does not run the trigger program at all — not even its `WHEN` — which is
/// what lets the backfill's own writes go at the speed of a bare `UPDATE`:
/// - an added column: its expression's sources (a write of the column itself is this
///   release's, or the backfill's, and already right; an explicit NULL written by hand is
///   left for `verify` and contract to report). Generated code updates every field, so
///   its writes always include the sources;
/// - a rename: both columns (either release may write either);
/// - a type change: both columns (the backfill's writes run the trigger program, whose
///   condition finds them already converted).
fn update_of(t: &Target<'_>) -> Vec<String> {
    match t.change {
        Change::Rename(_) => vec![t.q(&t.column.name), t.q(&t.other_name())],
        Change::Retype(_) => vec![t.q(&t.name_of(Col::From)), t.q(&t.name_of(Col::Shadow))],
        // An update that writes NULL into it.
        Change::NotNull(_) => vec![t.q(&t.column.name)],
        _ => {
            let sources = t.fill_expr().sources;
            if sources.is_empty() {
                vec![t.q(&t.column.name)]
            } else {
                sources.iter().map(|s| t.q(s)).collect()
            }
        }
    }
}

/// The sync triggers (name, what follows the name). SQLite triggers cannot assign NEW:
/// they fix the row right after it is written (recursive triggers are off, so the fix
/// does not fire them again).
fn sync_triggers(t: &Target<'_>) -> Vec<(String, String)> {
    let table = t.table();
    let [insert_trigger, update_trigger] = t.sync_trigger_names();
    let this_row = t.this_row();
    let [when_insert, when_update] = super::sync_when(t);
    let (insert, update) = match t.change {
        Change::Rename(_) => {
            // Two-way copy: whichever column a writer set, the other follows.
            let (new, old) = (t.q(&t.column.name), t.q(&t.other_name()));
            let set = "CASE WHEN NEW.{new} IS NOT OLD.{new} THEN NEW.{new} ELSE NEW.{old} END"
                .replace("{new}", &new)
                .replace("{old}", &old);
            (
                format!(
                    "UPDATE {table} SET {new} = COALESCE(NEW.{new}, NEW.{old}), \
                     {old} = COALESCE(NEW.{new}, NEW.{old}) WHERE {this_row}"
                ),
                format!("UPDATE {table} SET {new} = {set}, {old} = {set} WHERE {this_row}"),
            )
        }
        Change::Retype(_) => {
            // Two-way conversion: whichever column a writer set, the other gets it converted.
            let [new, old, up, down] = t.retype_sync("NEW");
            let changed = format!("NEW.{new} IS NOT OLD.{new}");
            (
                format!(
                    "UPDATE {table} SET {new} = COALESCE(NEW.{new}, {up}), \
                     {old} = COALESCE(NEW.{old}, {down}) WHERE {this_row}"
                ),
                format!(
                    "UPDATE {table} SET \
                     {old} = CASE WHEN {changed} THEN {down} ELSE NEW.{old} END, \
                     {new} = CASE WHEN {changed} THEN NEW.{new} ELSE {up} END WHERE {this_row}"
                ),
            )
        }
        _ => {
            let col = t.q(&t.column.name);
            let computed = t.fill_expr().render(t.dialect, Qualifier::None);
            let fill = format!("UPDATE {table} SET {col} = {computed} WHERE {this_row}");
            (fill.clone(), fill)
        }
    };
    let (insert, update) = (
        format!("WHEN {when_insert} BEGIN {insert}; END"),
        format!("WHEN {when_update} BEGIN {update}; END"),
    );
    vec![
        (
            insert_trigger,
            format!("AFTER INSERT ON {table} FOR EACH ROW {insert}"),
        ),
        (
            update_trigger,
            format!(
                "AFTER UPDATE OF {} ON {table} FOR EACH ROW {update}",
                update_of(t).join(", ")
            ),
        ),
    ]
}

/// Indexes: SQLite builds them under the database write lock (there is no concurrent
/// build); IF [NOT] EXISTS makes them re-runnable.
pub(super) fn render_index(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    let s = match op {
        Op::CreateIndex => {
            let mut s = step("create-index", true, true);
            s.statements.extend(t.no_duplicates());
            s.statements.push(Statement::Execute(format!(
                "CREATE {}INDEX IF NOT EXISTS {} ON {} {}",
                t.unique(),
                t.name(),
                t.table(),
                t.definition()
            )));
            s.expects.push(create(t.object(), t.state()));
            s
        }
        Op::DropIndex => {
            let mut s = step("drop-index", true, true);
            s.statements
                .push(Statement::Execute(format!("DROP INDEX IF EXISTS {}", t.name())));
            s.expects.push(drop(t.object()));
            s
        }
        // SQLite cannot rename an index: the new one is built under the write lock and
        // the old one dropped, in one transaction.
        Op::RenameIndex | Op::UnrenameIndex => {
            let (old, new) = t.renaming(op);
            let mut s = step(t.rename_step(op), true, true);
            s.statements.push(Statement::Execute(format!(
                "CREATE {}INDEX IF NOT EXISTS {} ON {} {}",
                t.unique(),
                t.q(&new),
                t.table(),
                t.definition()
            )));
            s.statements
                .push(Statement::Execute(format!("DROP INDEX IF EXISTS {}", t.q(&old))));
            s.expects.extend(t.renamed(op));
            s
        }
        _ => unreachable!("only index operations act on an index"),
    };
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}

use super::sqlite_rebuild::{CLAUSES, CLAUSES_BEFORE_UNIQUE};

/// The assertion that the table's stored definition has none of `words` as whole words:
/// the stored CREATE TABLE text, upper-cased, with punctuation padded and line breaks and
/// tabs turned into spaces, so that a column named `checked_at` or `unique_code` does not
/// read as CHECK or UNIQUE.
fn clauses_assert(name_lit: &str, why: &str, words: &[&str]) -> Statement {
    let sample_words = words
        .iter()
        .map(|k| format!("SELECT '{k}' AS k"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let tokens = "' ' || replace(replace(replace(replace(replace(replace(upper(sql), char(10), ' '), char(13), ' '), \
         char(9), ' '), '(', ' ( '), ')', ' ) '), ',', ' , ') || ' '";
    Statement::Assert {
        sql: format!(
            "SELECT count(*) FROM sqlite_master, ({sample_words}) AS w WHERE type = 'table' AND name = {name_lit} \
             AND {tokens} LIKE '% ' || w.k || ' %'"
        ),
        sample: Some(format!(
            "SELECT w.k FROM sqlite_master, ({sample_words}) AS w WHERE type = 'table' AND name = {name_lit} \
             AND {tokens} LIKE '% ' || w.k || ' %'"
        )),
        message: format!(
            "{why}, and its definition has clauses the catalog cannot describe (constraints, collations, \
             table options) that the rebuild would lose: change this table by hand, or keep the column as it is"
        ),
    }
}

/// Rebuild the table with the target column's NOT NULL (`not_null`) or default
/// (`default`) changed: assertions that nothing would be lost, then the rebuild itself,
/// which reads the live table (see [`super::sqlite_rebuild`]).
fn rebuild(t: &Target<'_>, not_null: Option<bool>, default: Option<Option<String>>) -> Vec<Rendered> {
    let name_lit = t.lit(&t.model.table);
    let name = match (&not_null, &default) {
        (Some(true), _) => "set-not-null-rebuild",
        (Some(false), _) => "drop-not-null-rebuild",
        (None, Some(Some(_))) => "set-default-rebuild",
        (None, _) => "drop-default-rebuild",
    };
    let mut s = step(name, true, true);
    // The column as the rebuild leaves it (skipped when it is so already).
    s.expects.push(alter(
        t.column_object(),
        State::Column {
            sql_type: t.sql_type().to_string(),
            nullable: not_null.map(|n| !n),
            default: default.clone().map(|d| match d {
                Some(v) => ColumnDefault::Literal(v),
                None => ColumnDefault::None,
            }),
        },
    ));
    if not_null == Some(true) {
        s.statements.push(super::no_nulls_left(t));
    }
    let why = format!(
        "SQLite can change NOT NULL or a default on {} only by rebuilding the table",
        t.model.table
    );
    let assert_at = s.statements.len();
    s.statements.push(clauses_assert(&name_lit, &why, &CLAUSES));

    s.statements.push(Statement::Rebuild(TableRebuild {
        table: t.model.table.clone(),
        column: t.name().to_string(),
        not_null,
        default,
    }));
    s.statements.push(Statement::Assert {
        sql: format!("SELECT count(*) FROM pragma_foreign_key_check({name_lit})"),
        sample: Some(format!(
            "SELECT \"table\" || ' row ' || rowid FROM pragma_foreign_key_check({name_lit})"
        )),
        message: format!("rebuilding {} would break foreign keys", t.model.table),
    });
    // Releases before UNIQUE constraints were kept refused them here: the same step.
    let mut legacy = s.clone();
    legacy.statements[assert_at] = clauses_assert(&name_lit, &why, &CLAUSES_BEFORE_UNIQUE);
    s.legacy_checksums.push(legacy.checksum());
    around_rebuild(Rendered {
        step: s,
        combinable: false,
    })
}

/// A rebuilding step between foreign keys turned off and on again: dropping a table with
/// foreign keys enforced would run its ON DELETE actions, and the pragma is a no-op inside
/// a transaction, hence steps of their own.
fn around_rebuild(rebuild: Rendered) -> Vec<Rendered> {
    let pragma = |name: &str, sql: &str| {
        let mut s = step(name, false, false);
        s.statements.push(Statement::Execute(sql.into()));
        Rendered {
            step: s,
            combinable: false,
        }
    };
    vec![
        pragma("foreign-keys-off", "PRAGMA foreign_keys = OFF"),
        rebuild,
        pragma("foreign-keys-on", "PRAGMA foreign_keys = ON"),
    ]
}
