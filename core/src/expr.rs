//! User-supplied SQL expressions (`backfill = "…"`, `default_sql = "…"`).
//!
//! These are **trusted input**: Straddle splices them into the SQL it generates. At
//! compile time they are parsed (sqlparser) to reject syntax errors, unknown columns and
//! volatile defaults; what is stored is a template in which every column reference is a
//! hole, so the renderers can quote it and, inside triggers, qualify it with `NEW.`/`OLD.`.

use crate::dialect::Dialect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A user SQL expression, parsed at compile time into SQL text and column references (trusted input).
pub struct SqlExpr {
    /// The expression as the user wrote it.
    pub text: String,
    /// Column names the expression reads, in first-use order.
    pub sources: Vec<String>,
    /// The expression split around column references, per dialect (tokenization differs,
    /// e.g. `"…"` is an identifier on PostgreSQL and a string on MySQL).
    pub templates: BTreeMap<Dialect, Vec<Part>>,
    /// Functions the expression calls, lower-cased, as written (`pg_catalog.now`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A piece of a [`SqlExpr`].
pub enum Part {
    /// SQL text, as written.
    Sql(String),
    /// A reference to a column of the row, quoted per dialect when rendered.
    Column(String),
}

/// How column references are written when an expression is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// `"col"`: evaluated against the table's own row (UPDATE, SELECT).
    None,
    /// `NEW."col"` / `OLD."col"` in trigger bodies.
    Row(&'a str),
}

impl SqlExpr {
    /// The expression that reads one column (a rename's copy), for every dialect.
    pub fn column(name: &str) -> SqlExpr {
        SqlExpr {
            text: name.to_string(),
            sources: vec![name.to_string()],
            templates: [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite]
                .into_iter()
                .map(|d| (d, vec![Part::Column(name.to_string())]))
                .collect(),
            functions: Vec::new(),
        }
    }

    /// The engine's own conversion of column `name` to a type, per dialect: `CAST(… AS
    /// <type>)` where the engine casts to any column type (PostgreSQL, SQLite), the bare
    /// value where it converts on assignment and its CAST knows few types (MySQL; strict
    /// mode refuses a value that does not fit).
    pub fn conversion<'a>(name: &str, to: impl IntoIterator<Item = (Dialect, &'a str)>) -> SqlExpr {
        let templates = to
            .into_iter()
            .map(|(d, ty)| {
                let parts = match d {
                    Dialect::MySql => vec![Part::Column(name.to_string())],
                    Dialect::Postgres | Dialect::Sqlite => vec![
                        Part::Sql("CAST(".into()),
                        Part::Column(name.to_string()),
                        Part::Sql(format!(" AS {ty})")),
                    ],
                };
                (d, parts)
            })
            .collect();
        SqlExpr {
            text: format!("the engine's conversion of {name}"),
            sources: vec![name.to_string()],
            templates,
            functions: Vec::new(),
        }
    }

    /// The same expression reading column `to` where it read `from`.
    pub fn reading(&self, from: &str, to: &str) -> SqlExpr {
        let swap = |c: &String| if c == from { to.to_string() } else { c.clone() };
        SqlExpr {
            text: self.text.clone(),
            sources: self.sources.iter().map(swap).collect(),
            templates: self
                .templates
                .iter()
                .map(|(d, parts)| {
                    let parts = parts
                        .iter()
                        .map(|p| match p {
                            Part::Column(c) => Part::Column(swap(c)),
                            sql => sql.clone(),
                        })
                        .collect();
                    (*d, parts)
                })
                .collect(),
            functions: self.functions.clone(),
        }
    }

    /// Render the expression, parenthesized, for `dialect`.
    pub fn render(&self, dialect: Dialect, qualifier: Qualifier<'_>) -> String {
        self.render_with(dialect, |c| match qualifier {
            Qualifier::Row(row) => format!("{row}.{}", dialect.quote(c)),
            Qualifier::None => dialect.quote(c),
        })
    }

    /// Render the expression, parenthesized, with each column reference written by
    /// `column` (e.g. a bind placeholder standing for the column's value).
    pub fn render_with(&self, dialect: Dialect, column: impl Fn(&str) -> String) -> String {
        let parts = self
            .templates
            .get(&dialect)
            .unwrap_or_else(|| panic!("expression `{}` was not compiled for {dialect}", self.text));
        let mut out = String::from("(");
        for part in parts {
            match part {
                Part::Sql(s) => out.push_str(s),
                Part::Column(c) => out.push_str(&column(c)),
            }
        }
        out.push(')');
        out
    }
}
