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
    pub charset: Option<String>,
    #[serde(default)]
    pub collation: Option<String>,
    /// The default as the catalog spells it; `None` when there is none.
    #[serde(default)]
    pub default: Option<String>,
    /// MySQL's `EXTRA` (`auto_increment`, `on update current_timestamp()`, …).
    #[serde(default)]
    pub extra: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// The server's version string (MariaDB and MySQL spell defaults differently).
    #[serde(default)]
    pub server: Option<String>,
}

/// The query reading a column's definition: one row, one JSON object (none when the
/// column does not exist).
pub fn definition_sql(dialect: Dialect, table: &str, column: &str) -> String {
    let lit = |s: &str| dialect.string_literal(s);
    match dialect {
        Dialect::MySql => format!(
            "SELECT JSON_OBJECT('type', COLUMN_TYPE, 'charset', CHARACTER_SET_NAME, 'collation', COLLATION_NAME, \
             'default', COLUMN_DEFAULT, 'extra', EXTRA, 'comment', COLUMN_COMMENT, 'server', VERSION()) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME = {}",
            lit(table),
            lit(column)
        ),
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

/// The table and column whose definition `live` needs.
pub fn subject(live: &LiveSql) -> (&str, &str) {
    match live {
        LiveSql::MySqlModify { table, column, .. } => (table, column),
    }
}

/// The SQL of `live`, given the column's definition; an error (naming why) when it
/// cannot be written without losing something of the column.
pub fn statements(live: &LiveSql, def: &ColumnDefinition) -> Result<Vec<String>, String> {
    match live {
        LiveSql::MySqlModify {
            table,
            column,
            not_null,
        } => Ok(vec![mysql_modify(table, column, *not_null, def)?]),
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

/// The statement as a migration file shows it: what it does and what it reads.
pub fn describe(live: &LiveSql) -> String {
    match live {
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
            server: Some(server.into()),
        }
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
