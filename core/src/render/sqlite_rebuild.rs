//! SQLite's documented way to change a column's NOT NULL or default: create the new
//! table, copy the rows, drop the old one, rename the new one, recreate the indexes and
//! triggers (<https://sqlite.org/lang_altertable.html#otheralter>), all in one
//! transaction under the database's write lock.
//!
//! The new table is built from what the table has *when the step runs* — its columns
//! with their declared types, defaults, NOT NULL and primary key order as
//! `pragma_table_info` reports them, and the stored SQL of its indexes and triggers —
//! not from the model, so columns of other changes in flight, indexes and triggers the
//! model does not describe all survive; so do UNIQUE constraints, read from
//! `pragma_index_list` (unnamed ones: a name is in no catalog). Table-level clauses the
//! catalog cannot report (CHECK, foreign keys, collations, conflict clauses, constraint
//! names, generated columns, table options) make the step refuse before anything changes
//! (an assertion rendered before the rebuild).

use crate::dialect::Dialect;
use crate::step::TableRebuild;
use serde::Deserialize;

/// Table clauses the catalog cannot describe, which a rebuild from the catalog would lose.
pub const CLAUSES: [&str; 9] = [
    "CHECK",
    "REFERENCES",
    "COLLATE",
    "CONFLICT",
    "AUTOINCREMENT",
    "GENERATED",
    "ROWID",
    "STRICT",
    "CONSTRAINT",
];

/// [`CLAUSES`] as releases before UNIQUE constraints were kept had them: steps rendered
/// with them are the same steps (see [`crate::step::Step::legacy_checksums`]).
pub const CLAUSES_BEFORE_UNIQUE: [&str; 9] = [
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

/// The table's UNIQUE constraints, one JSON array of column names (in order) per row.
pub fn uniques_sql(table: &str) -> String {
    format!(
        "SELECT json_group_array(name) FROM (SELECT il.name AS idx, ii.name AS name \
         FROM pragma_index_list({}) AS il, pragma_index_info(il.name) AS ii WHERE il.origin = 'u' \
         ORDER BY il.name, ii.seqno) GROUP BY idx ORDER BY idx",
        Dialect::Sqlite.string_literal(table)
    )
}

/// The [`CLAUSES`] a table's stored `CREATE TABLE` text has, as whole words (a column
/// named `checked_at` is no CHECK).
pub fn unreproducible_clauses(create_table: &str) -> Vec<&'static str> {
    let words: Vec<String> = create_table
        .to_ascii_uppercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map(str::to_string)
        .collect();
    CLAUSES
        .iter()
        .copied()
        .filter(|k| words.iter().any(|w| w == k))
        .collect()
}

/// The stored `CREATE TABLE` of a table; binds nothing.
pub fn create_table_sql(table: &str) -> String {
    format!(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = {}",
        Dialect::Sqlite.string_literal(table)
    )
}

/// A column of the live table, as the query of [`columns_sql`] returns it (one JSON
/// object per row).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LiveColumn {
    /// The column's name.
    pub name: String,
    #[serde(rename = "type")]
    /// Its declared type.
    pub ty: String,
    /// `1` for NOT NULL.
    pub notnull: i64,
    /// The default, as SQLite reports it.
    pub dflt: Option<String>,
    /// Position in the primary key, from 1; 0 when not part of it.
    pub pk: i64,
}

/// The live table's columns, one JSON object per row, in column order.
pub fn columns_sql(table: &str) -> String {
    format!(
        "SELECT json_object('name', name, 'type', type, 'notnull', \"notnull\", 'dflt', dflt_value, 'pk', pk) \
         FROM pragma_table_info({}) ORDER BY cid",
        Dialect::Sqlite.string_literal(table)
    )
}

/// The stored SQL of the table's explicit indexes, then of its triggers.
pub fn dependents_sql(table: &str) -> String {
    format!(
        "SELECT sql FROM sqlite_master WHERE tbl_name = {} AND type IN ('index', 'trigger') AND sql IS NOT NULL \
         ORDER BY type = 'trigger', name",
        Dialect::Sqlite.string_literal(table)
    )
}

/// The rebuild's name for the new table while it is filled (the rebuild is one
/// transaction: no earlier attempt can have left it, so one that exists is someone
/// else's, and the rebuild fails rather than drop it).
pub fn temp_name(table: &str) -> String {
    crate::naming::object_name("rebuild", &[table])
}

/// The statements of the rebuild, given the live columns and dependents' SQL. Errors
/// when the column to change is not there.
pub fn statements(
    r: &TableRebuild,
    live: &[LiveColumn],
    uniques: &[Vec<String>],
    dependents: &[String],
) -> Result<Vec<String>, String> {
    let d = Dialect::Sqlite;
    if !live.iter().any(|c| c.name == r.column) {
        return Err(format!("{} has no column {} to change", r.table, r.column));
    }
    let mut keys: Vec<&LiveColumn> = live.iter().filter(|c| c.pk > 0).collect();
    keys.sort_by_key(|c| c.pk);
    let mut defs: Vec<String> = live
        .iter()
        .map(|c| {
            let (mut not_null, mut default) = (c.notnull != 0, c.dflt.clone());
            if c.name == r.column {
                if let Some(nn) = r.not_null {
                    not_null = nn;
                }
                if let Some(dflt) = &r.default {
                    default = dflt.clone();
                }
            }
            let mut def = d.quote(&c.name);
            if !c.ty.is_empty() {
                def.push(' ');
                def.push_str(&c.ty);
            }
            if not_null {
                def.push_str(" NOT NULL");
            }
            // Parenthesized: SQLite reports `DEFAULT (lower('X'))` as `lower('X')`, which is
            // no valid default without them (a literal is the same with or without).
            if let Some(v) = default {
                def.push_str(&format!(" DEFAULT ({v})"));
            }
            def
        })
        .collect();
    if !keys.is_empty() {
        defs.push(format!(
            "PRIMARY KEY ({})",
            keys.iter()
                .map(|k| d.quote(&k.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for unique in uniques {
        let cols: Vec<String> = unique.iter().map(|c| d.quote(c)).collect();
        defs.push(format!("UNIQUE ({})", cols.join(", ")));
    }
    let (table, temp) = (d.quote(&r.table), d.quote(&temp_name(&r.table)));
    let cols = live
        .iter()
        .map(|c| d.quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![
        format!("CREATE TABLE {temp} ({})", defs.join(", ")),
        format!("INSERT INTO {temp} ({cols}) SELECT {cols} FROM {table}"),
        format!("DROP TABLE {table}"),
        format!("ALTER TABLE {temp} RENAME TO {table}"),
    ];
    out.extend(dependents.iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, notnull: i64, dflt: Option<&str>, pk: i64) -> LiveColumn {
        LiveColumn {
            name: name.into(),
            ty: ty.into(),
            notnull,
            dflt: dflt.map(str::to_string),
            pk,
        }
    }

    #[test]
    fn keeps_what_the_table_has_and_changes_only_the_column() {
        let live = [
            col("b", "TEXT", 0, None, 2),
            col("a", "INTEGER", 1, None, 1),
            col("x", "TEXT", 1, Some("'it''s'"), 0),
            col("y", "", 0, None, 0),
        ];
        let r = TableRebuild {
            table: "t".into(),
            column: "x".into(),
            not_null: None,
            default: Some(None),
        };
        let uniques = [vec!["x".to_string(), "y".to_string()]];
        let sql = statements(&r, &live, &uniques, &["CREATE INDEX i ON t (y)".into()]).unwrap();
        assert_eq!(
            sql[0],
            format!(
                "CREATE TABLE `{}` (`b` TEXT, `a` INTEGER NOT NULL, `x` TEXT NOT NULL, `y`, PRIMARY KEY (`a`, `b`), \
                 UNIQUE (`x`, `y`))",
                temp_name("t")
            )
        );
        assert_eq!(sql.last().unwrap(), "CREATE INDEX i ON t (y)");
        // An expression default, as SQLite reports it (without its parentheses), is
        // written back parenthesized.
        let with_expression = [
            col("k", "INTEGER", 1, None, 1),
            col("d", "TEXT", 0, Some("lower('X')"), 0),
        ];
        let r2 = TableRebuild {
            table: "t".into(),
            column: "k".into(),
            not_null: Some(true),
            default: None,
        };
        let sql = statements(&r2, &with_expression, &[], &[]).unwrap();
        assert!(sql[0].contains("`d` TEXT DEFAULT (lower('X'))"), "{}", sql[0]);
        let missing = TableRebuild {
            column: "z".into(),
            ..r
        };
        assert!(statements(&missing, &live, &[], &[]).is_err());
    }
}
