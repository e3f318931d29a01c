//! Statements written when they run, from a column's live definition: what the model
//! cannot know — its collation, comment, `ON UPDATE`, the default as the engine stores it
//! — but a statement must restate or carry over. The runtime reads the definition with
//! [`definition_sql`] and turns it into SQL with [`statements`].

use crate::dialect::Dialect;
use crate::naming::comment;
use crate::step::LiveSql;
use serde::Deserialize;

/// A column as the catalog describes it (one JSON object, see [`definition_sql`]).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ColumnDefinition {
    /// The full type (`varchar(80)`, `int(10) unsigned`).
    #[serde(rename = "type")]
    pub sql_type: String,
    #[serde(default)]
    /// The character set, where the engine has one.
    pub charset: Option<String>,
    #[serde(default)]
    /// The collation, where not the default.
    pub collation: Option<String>,
    /// The default as the catalog spells it; `None` when there is none.
    #[serde(default)]
    pub default: Option<String>,
    /// MySQL's `EXTRA` (`auto_increment`, `on update current_timestamp()`, …).
    #[serde(default)]
    pub extra: Option<String>,
    #[serde(default)]
    /// The comment, if any.
    pub comment: Option<String>,
    /// MySQL's `IS_NULLABLE` (`YES` / `NO`).
    #[serde(default)]
    pub nullable: Option<String>,
    /// The server's version string (MariaDB and MySQL spell defaults differently).
    #[serde(default)]
    pub server: Option<String>,
}

/// The query reading a column's definition: one row, one JSON object (none when the
/// column does not exist).
pub fn definition_sql(dialect: Dialect, table: &str, column: &str) -> String {
    let lit = |s: &str| dialect.string_literal(s);
    match dialect {
        Dialect::MySql => mysql_definition_sql(table, column, ""),
        Dialect::Postgres => format!(
            "SELECT json_build_object('type', format_type(a.atttypid, a.atttypmod), 'collation', \
             CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(co.collname) END, \
             'default', pg_get_expr(d.adbin, d.adrelid), 'comment', col_description(a.attrelid, a.attnum))::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = {} AND a.attname = {} \
             AND a.attnum > 0 AND NOT a.attisdropped",
            lit(table),
            lit(column)
        ),
        Dialect::Sqlite => format!(
            "SELECT json_object('type', type, 'default', dflt_value) FROM pragma_table_info({}) WHERE name = {}",
            lit(table),
            lit(column)
        ),
    }
}

/// The query reading the definition `live` is written from: [`definition_sql`], and for
/// a comment change on MySQL also the column's nullability (which `MODIFY` restates; the
/// other statements' query stays as released, being part of their checksums).
pub fn definition_query(dialect: Dialect, live: &LiveSql) -> String {
    let (table, column) = subject(live);
    match live {
        LiveSql::MySqlComment { .. } => mysql_definition_sql(table, column, "'nullable', IS_NULLABLE, "),
        _ => definition_sql(dialect, table, column),
    }
}

/// MySQL's [`definition_sql`], with `more` fields (each `'key', COLUMN, `) before the
/// server's version.
fn mysql_definition_sql(table: &str, column: &str, more: &str) -> String {
    let lit = |s: &str| Dialect::MySql.string_literal(s);
    format!(
        "SELECT JSON_OBJECT('type', COLUMN_TYPE, 'charset', CHARACTER_SET_NAME, 'collation', COLLATION_NAME, \
         'default', COLUMN_DEFAULT, 'extra', EXTRA, 'comment', COLUMN_COMMENT, {more}'server', VERSION()) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME = {}",
        lit(table),
        lit(column)
    )
}

/// The table and column whose definition `live` needs.
pub fn subject(live: &LiveSql) -> (&str, &str) {
    match live {
        LiveSql::MySqlModify { table, column, .. }
        | LiveSql::MySqlComment { table, column, .. }
        | LiveSql::AlterType { table, column, .. } => (table, column),
        LiveSql::CarryDefault { table, from, .. } => (table, from),
    }
}

/// What a carried default is, as the catalog spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CarriedDefault {
    /// None to carry.
    None,
    /// A constant: carried as its value converted (evaluated by the engine when it runs).
    Constant(String),
    /// An expression (`nextval(…)`, `now()`): carried as the expression, converted.
    Expression(String),
}

/// The default of a column as `def` spells it, classified (it matters on MySQL, where a
/// constant is converted by evaluating it, and an expression only carried as it is).
pub fn carried_default(dialect: Dialect, def: &ColumnDefinition) -> CarriedDefault {
    let Some(d) = def.default.as_deref().map(str::trim) else {
        return CarriedDefault::None;
    };
    if d.eq_ignore_ascii_case("NULL") {
        return CarriedDefault::None;
    }
    let mariadb = def.server.as_deref().is_some_and(|v| v.contains("MariaDB"));
    let generated = def
        .extra
        .as_deref()
        .is_some_and(|e| e.contains("DEFAULT_GENERATED"));
    let constant = d.starts_with('\'') || d.parse::<f64>().is_ok();
    match dialect {
        // MySQL 8 spells a constant default raw, without quotes.
        Dialect::MySql if !mariadb && !generated => {
            CarriedDefault::Constant(Dialect::MySql.string_literal(d))
        }
        Dialect::MySql if constant => CarriedDefault::Constant(d.to_string()),
        Dialect::Postgres | Dialect::MySql | Dialect::Sqlite => CarriedDefault::Expression(d.to_string()),
    }
}

/// The converted default: `convert` (an expression over the column's name) with the
/// default in the column's place.
pub fn converted(dialect: Dialect, convert: &crate::expr::SqlExpr, default: &str) -> String {
    convert.render_with(dialect, |_| format!("({default})"))
}

/// MySQL: the query computing a constant default's converted value, as text.
pub fn mysql_value_sql(convert: &crate::expr::SqlExpr, default: &str) -> String {
    format!(
        "SELECT CAST({} AS CHAR)",
        converted(Dialect::MySql, convert, default)
    )
}

/// MySQL: the default set on `to`, in place (metadata only).
pub fn mysql_set_default(table: &str, to: &str, value_sql: &str) -> String {
    let d = Dialect::MySql;
    format!(
        "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {value_sql}, ALGORITHM=INSTANT",
        d.quote(table),
        d.quote(to)
    )
}

/// The SQL of `live`, given the column's definition, where it follows from it alone
/// (PostgreSQL's carried default and comment, MySQL's `MODIFY`, an in-place type change);
/// an error (naming why) when it cannot be written without losing something.
pub fn statements(live: &LiveSql, def: &ColumnDefinition) -> Result<Vec<String>, String> {
    match live {
        LiveSql::MySqlModify {
            table,
            column,
            not_null,
        } => Ok(vec![mysql_modify(table, column, *not_null, def)?]),
        LiveSql::MySqlComment {
            table,
            column,
            comment,
        } => {
            let def = ColumnDefinition {
                comment: comment.clone(),
                ..def.clone()
            };
            let not_null = def.nullable.as_deref() == Some("NO");
            Ok(vec![mysql_modify(table, column, not_null, &def)?])
        }
        LiveSql::AlterType {
            table,
            column,
            sql_type,
        } => {
            let d = Dialect::Postgres;
            let collate = def
                .collation
                .as_ref()
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            Ok(vec![format!(
                "ALTER TABLE {} ALTER COLUMN {} TYPE {sql_type}{collate}",
                d.quote(table),
                d.quote(column)
            )])
        }
        LiveSql::CarryDefault {
            dialect: Dialect::Postgres,
            table,
            to,
            convert,
            ..
        } => {
            let d = Dialect::Postgres;
            let mut out = Vec::new();
            match carried_default(d, def) {
                CarriedDefault::None => {}
                CarriedDefault::Constant(v) | CarriedDefault::Expression(v) => out.push(format!(
                    "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
                    d.quote(table),
                    d.quote(to),
                    converted(d, convert, &v)
                )),
            }
            if let Some(c) = def.comment.as_deref().filter(|c| !c.is_empty()) {
                out.push(format!(
                    "COMMENT ON COLUMN {}.{} IS {}",
                    d.quote(table),
                    d.quote(to),
                    d.string_literal(c)
                ));
            }
            Ok(out)
        }
        LiveSql::CarryDefault { dialect, .. } => {
            unreachable!("a default is carried on {dialect} with the engine's help (see the runtime)")
        }
    }
}

fn mysql_modify(table: &str, column: &str, not_null: bool, def: &ColumnDefinition) -> Result<String, String> {
    let d = Dialect::MySql;
    let mariadb = def.server.as_deref().is_some_and(|v| v.contains("MariaDB"));
    let mut extra_parts: Vec<String> = Vec::new();
    let extra = def.extra.as_deref().unwrap_or_default().trim().to_string();
    let mut expression_default = false;
    let mut rest = extra.as_str();
    while !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("auto_increment") {
            extra_parts.push("AUTO_INCREMENT".into());
            rest = rest[rest.len() - r.len()..].trim_start();
        } else if let Some(r) = lower.strip_prefix("default_generated") {
            expression_default = true;
            rest = rest[rest.len() - r.len()..].trim_start();
        } else if let Some(r) = lower.strip_prefix("invisible") {
            extra_parts.push("INVISIBLE".into());
            rest = rest[rest.len() - r.len()..].trim_start();
        } else if lower.starts_with("on update ") {
            // `on update current_timestamp(6)`: to the end (it is the last attribute).
            extra_parts.push(format!("ON UPDATE {}", &rest["on update ".len()..]));
            rest = "";
        } else {
            return Err(format!(
                "{table}.{column} has `{extra}` (a generated column or an attribute Straddle cannot restate): \
                 changing its NOT NULL with MODIFY would lose it; change it by hand"
            ));
        }
    }
    let mut sql = format!(
        "ALTER TABLE {} MODIFY COLUMN {} {}",
        d.quote(table),
        d.quote(column),
        def.sql_type
    );
    if let Some(cs) = &def.charset {
        sql.push_str(&format!(" CHARACTER SET {cs}"));
    }
    if let Some(co) = &def.collation {
        sql.push_str(&format!(" COLLATE {co}"));
    }
    sql.push_str(if not_null { " NOT NULL" } else { " NULL" });
    match def.default.as_deref() {
        None => {}
        // MariaDB spells a NULL default `NULL`: no default to restate.
        Some(v) if mariadb && v.eq_ignore_ascii_case("NULL") => {}
        // MariaDB stores the default as SQL (`'anon'`, `5`, `current_timestamp()`).
        Some(v) if mariadb => sql.push_str(&format!(" DEFAULT {v}")),
        Some(v) if expression_default => sql.push_str(&format!(" DEFAULT ({v})")),
        Some(v) => sql.push_str(&format!(" DEFAULT {}", d.string_literal(v))),
    }
    for p in extra_parts {
        sql.push(' ');
        sql.push_str(&p);
    }
    if let Some(c) = def.comment.as_deref().filter(|c| !c.is_empty()) {
        sql.push_str(&format!(" COMMENT {}", d.string_literal(c)));
    }
    sql.push_str(", ALGORITHM=INPLACE, LOCK=NONE");
    Ok(sql)
}

/// The shape of the statements `live` writes, with `…` for what the catalog supplies:
/// for the plan rules, which check every DDL Straddle can emit.
pub fn shape(live: &LiveSql) -> Vec<String> {
    let q = |d: Dialect, s: &str| d.quote(s);
    match live {
        LiveSql::MySqlModify {
            table,
            column,
            not_null,
        } => vec![format!(
            "ALTER TABLE {} MODIFY COLUMN {} … {} …, ALGORITHM=INPLACE, LOCK=NONE",
            q(Dialect::MySql, table),
            q(Dialect::MySql, column),
            if *not_null { "NOT NULL" } else { "NULL" }
        )],
        LiveSql::MySqlComment { table, column, .. } => vec![format!(
            "ALTER TABLE {} MODIFY COLUMN {} … COMMENT …, ALGORITHM=INPLACE, LOCK=NONE",
            q(Dialect::MySql, table),
            q(Dialect::MySql, column)
        )],
        LiveSql::AlterType {
            table,
            column,
            sql_type,
        } => vec![format!(
            "ALTER TABLE {} ALTER COLUMN {} TYPE {sql_type} …",
            q(Dialect::Postgres, table),
            q(Dialect::Postgres, column)
        )],
        LiveSql::CarryDefault {
            dialect, table, to, ..
        } => match dialect {
            Dialect::Postgres => vec![
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT …",
                    q(*dialect, table),
                    q(*dialect, to)
                ),
                format!(
                    "COMMENT ON COLUMN {}.{} IS …",
                    q(*dialect, table),
                    q(*dialect, to)
                ),
            ],
            Dialect::MySql => vec![mysql_set_default(table, to, "…")],
            // The table rebuild (see `sqlite_rebuild`).
            Dialect::Sqlite => vec![],
        },
    }
}

/// The statement as a migration file shows it: what it does and what it reads.
pub fn describe(live: &LiveSql) -> String {
    match live {
        LiveSql::AlterType {
            table,
            column,
            sql_type,
        } => comment(&format!(
            "written when it runs, keeping the column's collation (left out, the new type's default would replace \
             it):\n  ALTER TABLE {table} ALTER COLUMN {column} TYPE {sql_type} [COLLATE <its collation>];\n  read \
             with: {}",
            definition_sql(Dialect::Postgres, table, column)
        )),
        LiveSql::CarryDefault {
            dialect,
            table,
            from,
            to,
            convert,
        } => comment(&format!(
            "written when it runs: {to} gets the default {from} has, converted ({}){}:\n  read with: {}",
            convert.text,
            match dialect {
                Dialect::Postgres => ", and its comment",
                Dialect::MySql => "",
                Dialect::Sqlite => " — SQLite rebuilds the table for it, only when there is a default",
            },
            definition_sql(*dialect, table, from)
        )),
        LiveSql::MySqlComment {
            table,
            column,
            comment: text,
        } => comment(&format!(
            "written when it runs, from the live definition of {table}.{column} (MySQL's MODIFY restates it \
             whole), with the new comment:\n  ALTER TABLE … MODIFY COLUMN … {}, ALGORITHM=INPLACE, \
             LOCK=NONE;\n  read with: {}",
            text.as_deref().map_or("(no COMMENT)".to_string(), |c| format!(
                "COMMENT {}",
                Dialect::MySql.string_literal(c)
            )),
            definition_query(Dialect::MySql, live)
        )),
        LiveSql::MySqlModify {
            table,
            column,
            not_null,
        } => comment(&format!(
            "written when it runs, from the live definition of {table}.{column} (type, character set, collation, \
             default, ON UPDATE, comment — MySQL's MODIFY replaces them all):\n  ALTER TABLE … MODIFY COLUMN … {} \
             …, ALGORITHM=INPLACE, LOCK=NONE;\n  read with: {}",
            if *not_null { "NOT NULL" } else { "NULL" },
            definition_sql(Dialect::MySql, table, column)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(default: Option<&str>, extra: &str, server: &str) -> ColumnDefinition {
        ColumnDefinition {
            sql_type: "text".into(),
            charset: Some("utf8mb4".into()),
            collation: Some("utf8mb4_bin".into()),
            default: default.map(str::to_string),
            extra: Some(extra.into()),
            comment: Some("shown 'name'".into()),
            nullable: Some("NO".into()),
            server: Some(server.into()),
        }
    }

    #[test]
    fn a_comment_change_restates_the_column_with_the_new_comment_only() {
        let live = |comment: Option<&str>| LiveSql::MySqlComment {
            table: "t".into(),
            column: "c".into(),
            comment: comment.map(str::to_string),
        };
        let d = def(Some("'anon'"), "", "10.11.6-MariaDB");
        let set = statements(&live(Some("it's \\ new")), &d).unwrap();
        assert_eq!(
            set,
            [
                "ALTER TABLE `t` MODIFY COLUMN `c` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT \
              'anon' COMMENT 'it''s \\\\ new', ALGORITHM=INPLACE, LOCK=NONE"
            ]
        );
        let cleared = statements(
            &live(None),
            &ColumnDefinition {
                nullable: Some("YES".into()),
                ..d
            },
        )
        .unwrap();
        assert!(
            cleared[0].contains(" NULL DEFAULT 'anon', ALGORITHM"),
            "{}",
            cleared[0]
        );
        assert!(!cleared[0].contains("COMMENT"), "{}", cleared[0]);
    }

    #[test]
    fn modify_restates_everything_the_column_has() {
        let live = LiveSql::MySqlModify {
            table: "users".into(),
            column: "name".into(),
            not_null: false,
        };
        let sql = statements(&live, &def(Some("'anon'"), "", "10.11.19-MariaDB")).unwrap();
        assert_eq!(
            sql[0],
            "ALTER TABLE `users` MODIFY COLUMN `name` text CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL \
             DEFAULT 'anon' COMMENT 'shown ''name''', ALGORITHM=INPLACE, LOCK=NONE"
        );
        let mysql8 = statements(&live, &def(Some("anon"), "", "8.0.36")).unwrap();
        assert!(mysql8[0].contains("DEFAULT 'anon'"), "{}", mysql8[0]);
        let ts = statements(
            &live,
            &def(
                Some("current_timestamp(6)"),
                "on update current_timestamp(6)",
                "10.11.19-MariaDB",
            ),
        )
        .unwrap();
        assert!(
            ts[0].contains("DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6)"),
            "{}",
            ts[0]
        );
        let generated = statements(&live, &def(None, "STORED GENERATED", "8.0.36"));
        assert!(generated.unwrap_err().contains("STORED GENERATED"));
    }
}
