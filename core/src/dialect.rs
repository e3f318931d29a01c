//! The SQL dialects Straddle renders for, and the lexical rules they differ in.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A database engine family. `MySql` covers MySQL 8 and MariaDB 10.11+.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    /// The name used in attributes, feature flags and file names.
    pub fn key(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The dialect of a key (`postgres`, `mysql`, `sqlite`).
    pub fn from_key(key: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.key() == key)
    }

    /// Human name for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Dialect::Postgres => "PostgreSQL",
            Dialect::MySql => "MySQL/MariaDB",
            Dialect::Sqlite => "SQLite",
        }
    }

    /// Quote an identifier. Identifiers are always quoted, whatever they contain.
    ///
    /// SQLite gets backticks, not double quotes: for compatibility SQLite reads a
    /// double-quoted name that matches no column as a *string literal*, so a query over a
    /// column that was just dropped would silently return its name as data. A
    /// backtick-quoted name is always an identifier, and a missing column is an error.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MySql | Dialect::Sqlite => format!("`{}`", ident.replace('`', "``")),
            Dialect::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// Quote a string literal.
    pub fn string_literal(self, value: &str) -> String {
        let escaped = value.replace('\'', "''");
        match self {
            // MySQL treats backslash as an escape character unless NO_BACKSLASH_ESCAPES.
            Dialect::MySql => format!("'{}'", escaped.replace('\\', "\\\\")),
            Dialect::Postgres | Dialect::Sqlite => format!("'{escaped}'"),
        }
    }

    /// The bind placeholder for the `n`th (1-based) parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::MySql | Dialect::Sqlite => "?".to_string(),
        }
    }

    /// Longest identifier the engine accepts, in bytes.
    pub fn max_identifier_len(self) -> usize {
        match self {
            Dialect::Postgres => 63,
            Dialect::MySql => 64,
            Dialect::Sqlite => 1024,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_the_quote_character() {
        assert_eq!(Dialect::Postgres.quote("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(Dialect::MySql.quote("we`ird"), "`we``ird`");
        assert_eq!(Dialect::Sqlite.quote("we`ird"), "`we``ird`");
        assert_eq!(Dialect::MySql.string_literal("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(Dialect::Sqlite.string_literal("a'b\\c"), "'a''b\\c'");
    }
}
