//! SQLite 3.35+: `ADD COLUMN`/`DROP COLUMN` in place; NOT NULL can only change through
//! the documented create-copy-drop-rename rebuild, which runs in one transaction under
//! the database write lock and refuses (losing nothing) when the table has anything the
//! model does not describe.

use super::{Rendered, Target, default_sql, step};
use crate::expr::Qualifier;
use crate::model::{AddKind, Change};
use crate::plan::Op;
use crate::step::Statement;

fn column_count(t: &Target<'_>) -> String {
    format!(
        "SELECT count(*) FROM pragma_table_info({}) WHERE name = {}",
        t.lit(&t.model.table),
        t.lit(&t.column.name)
    )
}

pub(super) fn render(t: &Target<'_>, op: &Op) -> Vec<Rendered> {
    let table = t.table();
    let col = t.col();
    match op {
        Op::AddColumn { nullable, default } => {
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
        Op::DropColumn => {
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
        Op::Backfill => vec![super::keyset_backfill(t, "max(k)", None)],
        Op::EnforceNotNull => rebuild(t, true),
        Op::RelaxNotNull => rebuild(t, false),
    }
}

fn create_sync_triggers(t: &Target<'_>) -> Vec<Statement> {
    let table = t.table();
    let col = t.col();
    let expr = t.expr();
    let names = super::sync_trigger_names(t.dialect, &t.model.table, &t.column.name);
    let computed = expr.render(t.dialect, Qualifier::None);
    let this_row = t
        .model
        .primary_key()
        .iter()
        .map(|k| format!("{0} = NEW.{0}", t.q(&k.name)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sources_changed = if expr.sources.is_empty() {
        "0".to_string()
    } else {
        expr.sources
            .iter()
            .map(|s| format!("NEW.{0} IS NOT OLD.{0}", t.q(s)))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    // SQLite triggers cannot assign NEW: fill the row right after it is written.
    let fill = format!("UPDATE {table} SET {col} = {computed} WHERE {this_row}");
    vec![
        Statement::Execute(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {table} FOR EACH ROW \
             WHEN NEW.{col} IS NULL BEGIN {fill}; END",
            t.q(&names[0])
        )),
        Statement::Execute(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {table} FOR EACH ROW \
             WHEN NEW.{col} IS NULL OR (NEW.{col} IS OLD.{col} AND ({sources_changed})) BEGIN {fill}; END",
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

/// Rebuild the table with the target column NOT NULL (`not_null`) or nullable.
fn rebuild(t: &Target<'_>, not_null: bool) -> Vec<Rendered> {
    let table = t.table();
    let name_lit = t.lit(&t.model.table);
    let temp = t.q(&format!("_straddle_rebuild_{}", t.model.table));
    let model = t.model;
    let mut s = step(
        if not_null {
            "set-not-null-rebuild"
        } else {
            "drop-not-null-rebuild"
        },
        true,
        true,
    );
    s.skip_if = Some(format!(
        "{} AND \"notnull\" = {}",
        column_count(t),
        if not_null { 1 } else { 0 }
    ));
    if not_null {
        s.statements.push(super::no_nulls_left(t));
    }

    // What the model says each column is, physically, once this change is settled.
    let expected = |c: &crate::model::Column| -> (bool, Option<String>) {
        let default = match &c.change {
            Some(Change::Add(add)) => match add.kind(c.nullable) {
                AddKind::Nullable { default } => default.map(|d| default_sql(t.dialect, d)),
                AddKind::NotNullDefault { default } => Some(default_sql(t.dialect, default)),
                AddKind::Backfilled { .. } => None,
            },
            None => None,
        };
        (!c.nullable, default)
    };
    let matches = model
        .columns
        .iter()
        .map(|c| {
            let (nn, default) = expected(c);
            let mut conds = vec![
                format!("p.name = {}", t.lit(&c.name)),
                format!("upper(p.type) = upper({})", t.lit(c.ty.sql(t.dialect))),
                format!("(p.pk > 0) = {}", if c.primary_key { 1 } else { 0 }),
                match default {
                    Some(d) => format!("p.dflt_value = {}", t.lit(&d)),
                    None => "p.dflt_value IS NULL".to_string(),
                },
            ];
            if c.name != t.column.name {
                conds.push(format!("p.\"notnull\" = {}", if nn { 1 } else { 0 }));
            }
            format!("({})", conds.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let why = format!(
        "SQLite can change NOT NULL on {} only by rebuilding the table from the model",
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
    let declared = model
        .columns
        .iter()
        .map(|c| format!("SELECT {} AS name", t.lit(&c.name)))
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
    let defs = model
        .columns
        .iter()
        .map(|c| {
            let (mut nn, default) = expected(c);
            if c.name == t.column.name {
                nn = not_null;
            }
            let mut d = format!("{} {}", t.q(&c.name), c.ty.sql(t.dialect));
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
    let cols = model
        .columns
        .iter()
        .map(|c| t.q(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
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
    if !not_null {
        // Going back to the backfill phase: its sync triggers come back with the table.
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
