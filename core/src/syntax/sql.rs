//! Analysis of user-supplied SQL expressions (trusted input) with sqlparser, at compile
//! time: syntax per dialect, which columns they read, which functions they call. The
//! result is the [`SqlExpr`] template the renderers splice into generated SQL.

use crate::dialect::Dialect;
use crate::expr::{Part, SqlExpr};
use sqlparser::ast::{Expr, Ident, InTarget, visit_expressions};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// Functions whose result changes per row/call. As a column default they force a table
/// rewrite (PostgreSQL) or copy (MySQL).
pub const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "nextval",
    "clock_timestamp",
    "timeofday",
    "setseed",
    "txid_current",
    "rand",
    "uuid",
    "uuid_short",
    "sysdate",
    "randomblob",
];

/// Functions a PostgreSQL column default may call and still be added without a table
/// rewrite: immutable or stable ones (the default is then evaluated once, when the
/// column is added, and stored in the catalog). Anything else — a user function, a
/// volatile one, one Straddle does not know — is refused at compile time; the runner
/// also asks the server (`pg_proc.provolatile`) before the column is added.
pub const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "current_schema",
    "current_database",
    "lower",
    "upper",
    "length",
    "char_length",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "concat",
    "concat_ws",
    "substr",
    "substring",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "replace",
    "left",
    "right",
    "lpad",
    "rpad",
    "repeat",
    "split_part",
    "md5",
    "sha256",
    "encode",
    "decode",
    "to_hex",
    "format",
    "abs",
    "round",
    "trunc",
    "floor",
    "ceil",
    "ceiling",
    "to_char",
    "to_date",
    "to_timestamp",
    "date_trunc",
    "date_part",
    "extract",
    "make_date",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "make_interval",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "to_json",
    "to_jsonb",
];

/// Why a `sql_type` text is not a plain data type on `dialect`, if it is not: it must
/// parse as a type and nothing more. A column option spliced into `ADD COLUMN` would do
/// what Straddle's phased declarations do safely — unsafely (a default or identity that
/// rewrites the table, a UNIQUE that builds its index under lock, a CHECK or REFERENCES
/// validated at once) — so each is refused naming that declaration.
pub fn data_type_problem(text: &str, dialect: Dialect) -> Option<String> {
    let parser_dialect: Box<dyn sqlparser::dialect::Dialect> = match dialect {
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
    };
    let mut parser = match Parser::new(parser_dialect.as_ref()).try_with_sql(text) {
        Ok(p) => p,
        Err(e) => return Some(format!("`{text}` is not a column type: {e}")),
    };
    let ty = match parser.parse_data_type() {
        Ok(ty) => ty,
        Err(e) => return Some(format!("`{text}` is not a column type: {e}")),
    };
    let shown = ty.to_string().to_ascii_uppercase();
    let base = shown.split(['(', ' ']).next().unwrap_or_default().to_string();
    if [
        "SERIAL",
        "BIGSERIAL",
        "SMALLSERIAL",
        "SERIAL2",
        "SERIAL4",
        "SERIAL8",
    ]
    .contains(&base.as_str())
    {
        return Some(format!(
            "`{text}` is a serial: its default (nextval) is volatile, so adding it rewrites the table under an \
             exclusive lock\nhelp: declare the integer type, and give new rows their values in code or with a \
             default set in a later change"
        ));
    }
    if matches!(
        ty,
        sqlparser::ast::DataType::Enum(..) | sqlparser::ast::DataType::Set(_)
    ) {
        return Some(format!(
            "`{text}` is an enumeration: changing its values later copies the table on MySQL\nhelp: store the \
             value as a string and check it in code"
        ));
    }
    let next = parser.peek_token();
    if next.token == Token::EOF {
        return None;
    }
    let at = offset(text, next.span.start).unwrap_or(0);
    let rest = text[at..].trim().to_ascii_uppercase();
    let next = next.token;
    let word = |w: &str| {
        rest.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|x| x == w)
    };
    let why = if word("GENERATED") && word("IDENTITY")
        || word("IDENTITY")
        || word("AUTO_INCREMENT")
        || word("AUTOINCREMENT")
    {
        "a database-generated key: adding one fills every row, rewriting the table under an exclusive lock"
    } else if word("GENERATED") || word("AS") {
        "a generated column: a stored one is computed for every row under an exclusive lock\nhelp: use \
         `added(backfill = \"<expr>\", …)`: a plain column, kept filled by a trigger and backfilled in batches"
    } else if word("DEFAULT") {
        "a default: declare it with `added(default = …)` (or `default_sql`), or change it with `default_changed(…)`"
    } else if word("UNIQUE") || word("PRIMARY") {
        "a unique or primary key: its index would be built under an exclusive lock\nhelp: \
         `#[straddle(index(name = \"…\", on(col), unique, phase = expand))]` builds it without blocking writes"
    } else if word("CHECK") {
        "a CHECK constraint, validated at once under lock\nhelp: `#[straddle(check(name = \"…\", expr = \"…\", \
         phase = expand))]` validates it without blocking writes"
    } else if word("REFERENCES") {
        "a foreign key, validated at once under lock\nhelp: `#[straddle(foreign_key(name = \"…\", on(col), \
         references = \"parent(id)\", phase = expand))]` validates it without blocking writes"
    } else if word("NULL") || word("NOT") {
        "nullability: it comes from the field's type (`Option<T>` is a nullable column)"
    } else if word("COLLATE") || word("CHARACTER") || word("CHARSET") {
        "a collation or character set: it is not part of the type Straddle compares and casts to\nhelp: set it \
         on the column in the database; Straddle keeps it through renames and NOT NULL changes"
    } else {
        return Some(format!(
            "`{text}` is not just a column type: `{}` follows the type",
            next
        ));
    };
    Some(format!("`{text}` is not just a column type, it declares {why}"))
}

#[derive(Debug)]
/// A user SQL expression, analysed.
pub struct Analysis {
    /// The expression.
    pub expr: SqlExpr,
    /// Function names called, lower-cased.
    pub functions: Vec<String>,
}

/// Parse `text` for each dialect and resolve its identifiers against `columns` (the
/// model's column names). Errors are human-readable and complete.
pub fn analyze(text: &str, dialects: &[Dialect], columns: &[String]) -> Result<Analysis, Vec<String>> {
    // Each distinct problem once, naming the dialects it applies to when not all.
    let mut problems: Vec<(String, Vec<Dialect>)> = Vec::new();
    let mut templates = BTreeMap::new();
    let mut sources: Vec<String> = Vec::new();
    let mut functions: Vec<String> = Vec::new();
    for &dialect in dialects {
        match analyze_one(text, dialect, columns) {
            Ok((parts, srcs, funcs)) => {
                for s in srcs {
                    if !sources.contains(&s) {
                        sources.push(s);
                    }
                }
                for f in funcs {
                    if !functions.contains(&f) {
                        functions.push(f);
                    }
                }
                templates.insert(dialect, parts);
            }
            Err(errs) => {
                for e in errs {
                    match problems.iter_mut().find(|(m, _)| *m == e) {
                        Some((_, ds)) => ds.push(dialect),
                        None => problems.push((e, vec![dialect])),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(Analysis {
            expr: SqlExpr {
                text: text.to_string(),
                sources,
                templates,
                functions: functions.clone(),
            },
            functions,
        });
    }
    Err(problems
        .into_iter()
        .map(|(msg, ds)| {
            if ds.len() == dialects.len() {
                msg
            } else {
                let names: Vec<&str> = ds.iter().map(|d| d.display_name()).collect();
                format!("{msg} (on {})", names.join(" and "))
            }
        })
        .collect())
}

type One = (Vec<Part>, Vec<String>, Vec<String>);

fn analyze_one(text: &str, dialect: Dialect, columns: &[String]) -> Result<One, Vec<String>> {
    let parsed = match dialect {
        Dialect::Postgres => parse(&PostgreSqlDialect {}, text),
        Dialect::MySql => parse(&MySqlDialect {}, text),
        Dialect::Sqlite => parse(&SQLiteDialect {}, text),
    };
    let expr = parsed.map_err(|e| vec![e])?;

    let mut errors = Vec::new();
    let mut idents: Vec<Ident> = Vec::new();
    let mut functions = Vec::new();
    let mut subquery = false;
    let _ = visit_expressions(&expr, |e: &Expr| {
        match e {
            Expr::Identifier(id) => idents.push(id.clone()),
            Expr::CompoundIdentifier(parts) => errors.push(format!(
                "qualified name `{}`: refer to the row's columns by name alone",
                parts.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(".")
            )),
            Expr::Function(f) => functions.push(f.name.to_string().to_lowercase()),
            Expr::Subquery(_) | Expr::Exists { .. } => subquery = true,
            Expr::In {
                target: InTarget::Subquery(_) | InTarget::Table { .. },
                ..
            } => subquery = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });

    if subquery {
        errors.push("subqueries are not supported: the expression is evaluated on one row".to_string());
    }
    let mut sources = Vec::new();
    let mut holes = Vec::new();
    for id in &idents {
        let resolved = columns.iter().find(|c| match id.quote_style {
            Some(_) => **c == id.value,
            None => c.eq_ignore_ascii_case(&id.value),
        });
        match resolved {
            Some(c) => {
                if !sources.contains(c) {
                    sources.push(c.clone());
                }
                match byte_range(text, id.span.start, id.span.end) {
                    Some(range) => holes.push((range, c.clone())),
                    None => errors.push(format!("cannot locate `{}` in the expression", id.value)),
                }
            }
            None => errors.push(format!(
                "unknown column `{}` in expression; the model's columns are: {}",
                id.value,
                columns.join(", ")
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    holes.sort_by_key(|(r, _)| r.start);
    let mut parts = Vec::new();
    let mut at = 0;
    for (range, column) in holes {
        if range.start > at {
            parts.push(Part::Sql(text[at..range.start].to_string()));
        }
        parts.push(Part::Column(column));
        at = range.end;
    }
    if at < text.len() {
        parts.push(Part::Sql(text[at..].to_string()));
    }
    Ok((parts, sources, functions))
}

fn parse(dialect: &dyn sqlparser::dialect::Dialect, text: &str) -> Result<Expr, String> {
    let mut parser = Parser::new(dialect)
        .try_with_sql(text)
        .map_err(|e| format!("invalid SQL expression: {e}"))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("invalid SQL expression: {e}"))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(format!(
            "invalid SQL expression: unexpected `{}` after the expression",
            next.token
        ));
    }
    Ok(expr)
}

/// Byte range of a token span (1-based line/column, in characters; end exclusive).
fn byte_range(text: &str, start: Location, end: Location) -> Option<std::ops::Range<usize>> {
    Some(offset(text, start)?..offset(text, end)?)
}

pub(super) fn offset(text: &str, loc: Location) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..loc.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let col = usize::try_from(loc.column).ok()?.checked_sub(1)?;
    match line.char_indices().nth(col) {
        Some((i, _)) => Some(line_start + i),
        None if line.chars().count() == col => Some(line_start + line.len()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Qualifier;

    fn cols() -> Vec<String> {
        vec!["id".into(), "email".into(), "first name".into()]
    }

    #[test]
    fn column_references_become_holes_and_the_rest_is_kept_verbatim() {
        let a = analyze("lower(email) || 'it''s'", &Dialect::ALL, &cols()).unwrap();
        assert_eq!(a.expr.sources, vec!["email"]);
        assert_eq!(a.functions, vec!["lower"]);
        assert_eq!(
            a.expr.render(Dialect::Postgres, Qualifier::Row("NEW")),
            "(lower(NEW.\"email\") || 'it''s')"
        );
        assert_eq!(
            a.expr.render(Dialect::MySql, Qualifier::None),
            "(lower(`email`) || 'it''s')"
        );
    }

    #[test]
    fn quoted_and_multiline_identifiers_resolve() {
        let a = analyze(
            "coalesce(\"first name\",\n  EMAIL)",
            &[Dialect::Postgres],
            &cols(),
        )
        .unwrap();
        assert_eq!(a.expr.sources, vec!["first name", "email"]);
        assert_eq!(
            a.expr.render(Dialect::Postgres, Qualifier::Row("OLD")),
            "(coalesce(OLD.\"first name\",\n  OLD.\"email\"))"
        );
    }

    #[test]
    fn unknown_columns_and_syntax_errors_are_reported() {
        let e = analyze("lower(emial)", &[Dialect::Postgres], &cols()).unwrap_err();
        assert_eq!(
            e,
            vec!["unknown column `emial` in expression; the model's columns are: id, email, first name"]
        );
        let e = analyze("lower(email", &[Dialect::Postgres], &cols()).unwrap_err();
        assert!(e[0].starts_with("invalid SQL expression"), "{e:?}");
        let e = analyze("email email", &[Dialect::Postgres], &cols()).unwrap_err();
        assert!(e[0].contains("after the expression"), "{e:?}");
    }

    #[test]
    fn sql_types_are_types_and_nothing_more() {
        for (d, ok) in [
            (Dialect::Postgres, "VARCHAR(80)"),
            (Dialect::Postgres, "NUMERIC(12, 2)"),
            (Dialect::Postgres, "TEXT[]"),
            (Dialect::Postgres, "CITEXT"),
            (Dialect::Postgres, "TIMESTAMP(3) WITH TIME ZONE"),
            (Dialect::Postgres, "DOUBLE PRECISION"),
            (Dialect::MySql, "INT UNSIGNED"),
            (Dialect::MySql, "VARCHAR(255)"),
            (Dialect::MySql, "DECIMAL(65, 30)"),
            (Dialect::Sqlite, "INTEGER"),
        ] {
            assert_eq!(data_type_problem(ok, d), None, "{d}: {ok}");
        }
        for (d, bad, says) in [
            (Dialect::Postgres, "BIGSERIAL", "serial"),
            (
                Dialect::Postgres,
                "BIGINT GENERATED ALWAYS AS IDENTITY",
                "database-generated key",
            ),
            (
                Dialect::Postgres,
                "TEXT GENERATED ALWAYS AS (lower(x)) STORED",
                "generated column",
            ),
            (Dialect::Postgres, "TEXT UNIQUE", "unique"),
            (Dialect::Postgres, "INTEGER CHECK (x > 0)", "CHECK"),
            (Dialect::Postgres, "BIGINT REFERENCES orgs(id)", "foreign key"),
            (Dialect::Postgres, "TEXT DEFAULT 'x'", "a default"),
            (Dialect::Postgres, "TEXT NOT NULL", "nullability"),
            (Dialect::Postgres, "TEXT COLLATE \"C\"", "collation"),
            (Dialect::MySql, "BIGINT AUTO_INCREMENT", "database-generated key"),
            (Dialect::MySql, "ENUM('a', 'b')", "enumeration"),
            (
                Dialect::Postgres,
                "TEXT; DROP TABLE users",
                "not just a column type",
            ),
        ] {
            let got = data_type_problem(bad, d).unwrap_or_else(|| panic!("{d}: {bad} accepted"));
            assert!(got.contains(says), "{d}: {bad}: {got}");
        }
    }

    #[test]
    fn keywords_and_functions_are_not_columns() {
        let a = analyze(
            "CASE WHEN id > 0 THEN CURRENT_TIMESTAMP ELSE now() END",
            &[Dialect::Postgres],
            &cols(),
        )
        .unwrap();
        assert_eq!(a.expr.sources, vec!["id"]);
    }
}
