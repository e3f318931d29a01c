//! SQLite 3.35+: `ADD COLUMN`/`DROP COLUMN` in place; NOT NULL can only change through
//! the documented create-copy-drop-rename rebuild, which runs in one transaction under
//! the database write lock and refuses (losing nothing) when the table has anything the
//! model does not describe.

use super::{Rendered, Target, default_sql, step};
use crate::expr::Qualifier;
use crate::model::{AddKind, Change, Column};
use crate::plan::Col;
use crate::plan::Op;
use crate::step::Statement;

fn column_count(t: &Target<'_>) -> String {
    format!(
        "SELECT count(*) FROM pragma_table_info({}) WHERE name = {}",
        t.lit(&t.model.table),
        t.lit(t.name())
    )
}

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
            s.skip_if = Some(column_count(t));
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
            s.skip_if = Some(format!("SELECT 1 - min(1, ({}))", column_count(t)));
            vec![Rendered {
                step: s,
                combinable: false,
            }]
        }
        Op::CreateSyncTrigger => {
            let mut s = step("create-sync-trigger", true, true);
            s.statements.extend(create_sync_triggers(t));
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::DropSyncTrigger => {
            let mut s = step("drop-sync-trigger", true, true);
            s.statements.extend(drop_sync_triggers(t));
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::Backfill(_) => vec![super::keyset_backfill(t, "max(k)", None)],
        Op::AssertSynced => {
            let mut s = step("verify-synced", false, false);
            s.statements.push(super::columns_equal(t));
            vec![Rendered {
                step: s,
                combinable: false,
            }]
        }
        Op::EnforceNotNull { syncing, .. } => rebuild(t, Rebuild::NotNull(true), *syncing),
        Op::RelaxNotNull { syncing, .. } => rebuild(t, Rebuild::NotNull(false), *syncing),
        Op::SetDefault(lit) => rebuild(t, Rebuild::Default(Some(lit.render(t.dialect))), false),
        Op::DropDefault => rebuild(t, Rebuild::Default(None), false),
    }
}

/// SQLite triggers cannot assign NEW: they fix the row right after it is written
/// (recursive triggers are off, so the fix does not fire them again).
fn create_sync_triggers(t: &Target<'_>) -> Vec<Statement> {
    let table = t.table();
    let names = super::sync_trigger_names(t.dialect, &t.model.table, &t.column.name);
    let this_row = t.this_row();
    let (insert, update) = match t.change {
        Change::Rename(_) => {
            // Two-way copy: whichever column a writer set, the other follows.
            let (new, old) = (t.q(&t.column.name), t.q(t.other_name()));
            let set = "CASE WHEN NEW.{new} IS NOT OLD.{new} THEN NEW.{new} ELSE NEW.{old} END"
                .replace("{new}", &new)
                .replace("{old}", &old);
            (
                format!(
                    "WHEN NEW.{new} IS NOT NEW.{old} BEGIN UPDATE {table} SET {new} = COALESCE(NEW.{new}, NEW.{old}), \
                     {old} = COALESCE(NEW.{new}, NEW.{old}) WHERE {this_row}; END"
                ),
                format!(
                    "WHEN NEW.{new} IS NOT NEW.{old} BEGIN UPDATE {table} SET {new} = {set}, {old} = {set} \
                     WHERE {this_row}; END"
                ),
            )
        }
        _ => {
            let col = t.q(&t.column.name);
            let expr = t.fill_expr();
            let computed = expr.render(t.dialect, Qualifier::None);
            let sources_changed = if expr.sources.is_empty() {
                "0".to_string()
            } else {
                expr.sources
                    .iter()
                    .map(|s| format!("NEW.{0} IS NOT OLD.{0}", t.q(s)))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
            let fill = format!("UPDATE {table} SET {col} = {computed} WHERE {this_row}");
            (
                format!("WHEN NEW.{col} IS NULL BEGIN {fill}; END"),
                format!(
                    "WHEN NEW.{col} IS NULL OR (NEW.{col} IS OLD.{col} AND ({sources_changed})) BEGIN {fill}; END"
                ),
            )
        }
    };
    vec![
        Statement::Execute(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {table} FOR EACH ROW {insert}",
            t.q(&names[0])
        )),
        Statement::Execute(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {table} FOR EACH ROW {update}",
            t.q(&names[1])
        )),
    ]
}

fn drop_sync_triggers(t: &Target<'_>) -> Vec<Statement> {
    super::sync_trigger_names(t.dialect, &t.model.table, &t.column.name)
        .iter()
        .map(|n| Statement::Execute(format!("DROP TRIGGER IF EXISTS {}", t.q(n))))
        .collect()
}

/// Table clauses the model cannot describe, which a rebuild from the model would lose.
const CLAUSES: [&str; 9] = [
    "CHECK",
    "REFERENCES",
    "COLLATE",
    "UNIQUE",
    "AUTOINCREMENT",
    "GENERATED",
    "ROWID",
    "STRICT",
    "CONSTRAINT",
];

/// What a rebuild changes on the target column.
enum Rebuild {
    NotNull(bool),
    Default(Option<String>),
}

/// A physical column the rebuild must recreate: (name, model column it is typed as,
/// NOT NULL, default).
struct PhysicalColumn<'a> {
    name: &'a str,
    column: &'a Column,
    not_null: bool,
    default: Option<String>,
}

/// The table's columns as they physically exist while the changes are between expand
/// and contract: the model's columns (a retired one still NOT NULL with its default) and,
/// when the rebuild acts on a rename's old column, that column too.
fn physical_columns<'a>(t: &Target<'a>) -> Vec<PhysicalColumn<'a>> {
    let mut out: Vec<PhysicalColumn<'a>> = t
        .model
        .columns
        .iter()
        .map(|c| {
            let (not_null, default) = match &c.change {
                Some(Change::Add(add)) => (
                    !c.nullable,
                    match add.kind(c.nullable) {
                        AddKind::Nullable { default } => default.map(|d| default_sql(t.dialect, d)),
                        AddKind::NotNullDefault { default } => Some(default_sql(t.dialect, default)),
                        AddKind::Backfilled { .. } => None,
                    },
                ),
                Some(Change::Retire(r)) => (
                    r.default.is_some(),
                    r.default.as_ref().map(|l| l.render(t.dialect)),
                ),
                Some(Change::Rename(_)) | None => (!c.nullable, None),
            };
            PhysicalColumn {
                name: &c.name,
                column: c,
                not_null,
                default,
            }
        })
        .collect();
    if t.col == Col::From {
        out.push(PhysicalColumn {
            name: t.name(),
            column: t.column,
            not_null: !t.column.nullable,
            default: None,
        });
    }
    out
}

/// Rebuild the table with the target column's NOT NULL or default changed.
fn rebuild(t: &Target<'_>, change: Rebuild, syncing: bool) -> Vec<Rendered> {
    let table = t.table();
    let name_lit = t.lit(&t.model.table);
    let temp = t.q(&format!("_straddle_rebuild_{}", t.model.table));
    let model = t.model;
    let (name, skip) = match &change {
        Rebuild::NotNull(true) => ("set-not-null-rebuild", "\"notnull\" = 1".to_string()),
        Rebuild::NotNull(false) => ("drop-not-null-rebuild", "\"notnull\" = 0".to_string()),
        Rebuild::Default(Some(d)) => ("set-default-rebuild", format!("dflt_value = {}", t.lit(d))),
        Rebuild::Default(None) => ("drop-default-rebuild", "dflt_value IS NULL".to_string()),
    };
    let mut s = step(name, true, true);
    s.skip_if = Some(format!("{} AND {skip}", column_count(t)));
    if let Rebuild::NotNull(true) = change {
        s.statements.push(super::no_nulls_left(t));
    }

    let columns = physical_columns(t);
    let matches = columns
        .iter()
        .map(|c| {
            let mut conds = vec![
                format!("p.name = {}", t.lit(c.name)),
                format!("upper(p.type) = upper({})", t.lit(c.column.ty.sql(t.dialect))),
                format!("(p.pk > 0) = {}", if c.column.primary_key { 1 } else { 0 }),
            ];
            let target = c.name == t.name();
            if !(target && matches!(change, Rebuild::Default(_))) {
                conds.push(match &c.default {
                    Some(d) => format!("p.dflt_value = {}", t.lit(d)),
                    None => "p.dflt_value IS NULL".to_string(),
                });
            }
            if !(target && matches!(change, Rebuild::NotNull(_))) {
                conds.push(format!("p.\"notnull\" = {}", if c.not_null { 1 } else { 0 }));
            }
            format!("({})", conds.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let why = format!(
        "SQLite can change NOT NULL or a default on {} only by rebuilding the table from the model",
        model.table
    );
    s.statements.push(Statement::Assert {
        sql: format!("SELECT count(*) FROM pragma_table_info({name_lit}) AS p WHERE NOT ({matches})"),
        sample: Some(format!(
            "SELECT p.name FROM pragma_table_info({name_lit}) AS p WHERE NOT ({matches})"
        )),
        message: format!(
            "{why}, and some columns differ from it (a column the model does not declare, or a \
             different type, NOT NULL, default or primary key; other changes on the table must be \
             contracted first): declare them on the struct (sql_type = … for the exact type)"
        ),
    });
    let declared = columns
        .iter()
        .map(|c| format!("SELECT {} AS name", t.lit(c.name)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    s.statements.push(Statement::Assert {
        sql: format!(
            "SELECT count(*) FROM ({declared}) AS m WHERE m.name NOT IN (SELECT name FROM pragma_table_info({name_lit}))"
        ),
        sample: Some(format!(
            "SELECT m.name FROM ({declared}) AS m WHERE m.name NOT IN (SELECT name FROM pragma_table_info({name_lit}))"
        )),
        message: format!("{why}, and some declared columns do not exist in it"),
    });
    let own_triggers = super::sync_trigger_names(t.dialect, &model.table, &t.column.name)
        .iter()
        .map(|n| t.lit(n))
        .collect::<Vec<_>>()
        .join(", ");
    s.statements.push(Statement::Assert {
        sql: format!(
            "SELECT count(*) FROM sqlite_master WHERE tbl_name = {name_lit} AND type IN ('index', 'trigger') \
             AND sql IS NOT NULL AND name NOT IN ({own_triggers})"
        ),
        sample: Some(format!(
            "SELECT type || ' ' || name FROM sqlite_master WHERE tbl_name = {name_lit} \
             AND type IN ('index', 'trigger') AND sql IS NOT NULL AND name NOT IN ({own_triggers})"
        )),
        message: format!(
            "{why}, which would drop its indexes and triggers: drop them first, or keep the column nullable"
        ),
    });
    // Clause keywords as whole words: the stored CREATE TABLE text, upper-cased, with
    // punctuation padded and line breaks and tabs turned into spaces, so that a column named
    // `checked_at` or `unique_code` does not read as CHECK or UNIQUE.
    let sample_words = CLAUSES
        .iter()
        .map(|k| format!("SELECT '{k}' AS k"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let tokens = "' ' || replace(replace(replace(replace(replace(replace(upper(sql), char(10), ' '), char(13), ' '), \
         char(9), ' '), '(', ' ( '), ')', ' ) '), ',', ' , ') || ' '";
    s.statements.push(Statement::Assert {
        sql: format!(
            "SELECT count(*) FROM sqlite_master, ({sample_words}) AS w WHERE type = 'table' AND name = {name_lit} \
             AND {tokens} LIKE '% ' || w.k || ' %'"
        ),
        sample: Some(format!(
            "SELECT w.k FROM sqlite_master, ({sample_words}) AS w WHERE type = 'table' AND name = {name_lit} \
             AND {tokens} LIKE '% ' || w.k || ' %'"
        )),
        message: format!(
            "{why}, and its definition has clauses the model does not describe (constraints, collations, \
             table options) that the rebuild would lose"
        ),
    });

    s.statements.extend(drop_sync_triggers(t));
    let defs = columns
        .iter()
        .map(|c| {
            let (mut nn, mut default) = (c.not_null, c.default.clone());
            if c.name == t.name() {
                match &change {
                    Rebuild::NotNull(v) => nn = *v,
                    Rebuild::Default(v) => default = v.clone(),
                }
            }
            let mut d = format!("{} {}", t.q(c.name), c.column.ty.sql(t.dialect));
            if nn {
                d.push_str(" NOT NULL");
            }
            if let Some(v) = default {
                d.push_str(&format!(" DEFAULT {v}"));
            }
            d
        })
        .chain(std::iter::once(format!(
            "PRIMARY KEY ({})",
            model
                .primary_key()
                .iter()
                .map(|k| t.q(&k.name))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .collect::<Vec<_>>()
        .join(", ");
    let cols = columns.iter().map(|c| t.q(c.name)).collect::<Vec<_>>().join(", ");
    s.statements
        .push(Statement::Execute(format!("CREATE TABLE {temp} ({defs})")));
    s.statements.push(Statement::Execute(format!(
        "INSERT INTO {temp} ({cols}) SELECT {cols} FROM {table}"
    )));
    s.statements
        .push(Statement::Execute(format!("DROP TABLE {table}")));
    s.statements.push(Statement::Execute(format!(
        "ALTER TABLE {temp} RENAME TO {table}"
    )));
    if syncing {
        // The change's sync triggers were dropped with the old table: they come back.
        s.statements.extend(create_sync_triggers(t));
    }
    s.statements.push(Statement::Assert {
        sql: format!("SELECT count(*) FROM pragma_foreign_key_check({name_lit})"),
        sample: Some(format!(
            "SELECT \"table\" || ' row ' || rowid FROM pragma_foreign_key_check({name_lit})"
        )),
        message: format!("rebuilding {} would break foreign keys", model.table),
    });

    // Dropping a table with foreign keys enforced would run its ON DELETE actions; the
    // pragma is a no-op inside a transaction, hence its own steps around the rebuild.
    let mut off = step("foreign-keys-off", false, false);
    off.statements
        .push(Statement::Execute("PRAGMA foreign_keys = OFF".into()));
    let mut on = step("foreign-keys-on", false, false);
    on.statements
        .push(Statement::Execute("PRAGMA foreign_keys = ON".into()));
    vec![
        Rendered {
            step: off,
            combinable: false,
        },
        Rendered {
            step: s,
            combinable: false,
        },
        Rendered {
            step: on,
            combinable: false,
        },
    ]
}
