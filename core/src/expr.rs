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
pub struct SqlExpr {
    /// The expression as the user wrote it.
    pub text: String,
    /// Column names the expression reads, in first-use order.
    pub sources: Vec<String>,
    /// The expression split around column references, per dialect (tokenization differs,
    /// e.g. `"…"` is an identifier on PostgreSQL and a string on MySQL).
    pub templates: BTreeMap<Dialect, Vec<Part>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Part {
    Sql(String),
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
        }
    }

    /// Render the expression, parenthesized, for `dialect`.
    pub fn render(&self, dialect: Dialect, qualifier: Qualifier<'_>) -> String {
        let parts = self
            .templates
            .get(&dialect)
            .unwrap_or_else(|| panic!("expression `{}` was not compiled for {dialect}", self.text));
        let mut out = String::from("(");
        for part in parts {
            match part {
                Part::Sql(s) => out.push_str(s),
                Part::Column(c) => {
                    if let Qualifier::Row(row) = qualifier {
                        out.push_str(row);
                        out.push('.');
                    }
                    out.push_str(&dialect.quote(c));
                }
            }
        }
        out.push(')');
        out
    }
}
