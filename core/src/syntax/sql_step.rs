//! Hand-written SQL steps (`sql(up = "…", down = "…")`), at compile time: the text split
//! into statements (each must parse for its dialect) and each statement linted. The SQL is
//! trusted input — these rules catch the mistakes a migration tool exists to prevent, not
//! malice: a statement that changes the model's own table behind its declarations, one
//! that locks or rewrites a table for as long as the table is large, one that takes the
//! runner's transaction or lock timeout away from it, and a step a retry could half
//! re-run. Each refusal names the safe way (see docs/rules.md).

use super::ast::Decl;
use super::attr::SqlText;
use super::ctxt::Ctxt;
use crate::dialect::Dialect;
use crate::model::{Phase, SqlStep};
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, ObjectName, ObjectType, Set, Statement,
    TableConstraint, TableFactor,
};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeMap;

/// One statement: its text as written (what is sent) and as parsed (what is linted).
pub struct Parsed {
    /// The statement's text, trimmed, without its `;`.
    pub text: String,
    /// The parsed statement.
    pub statement: Statement,
}

fn parser_dialect(dialect: Dialect) -> Box<dyn sqlparser::dialect::Dialect> {
    match dialect {
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
    }
}

/// `text` split at its top-level `;` (not those inside strings, quoted identifiers or
/// dollar-quoted bodies), each piece parsed as one statement on `dialect`.
pub fn split(dialect: Dialect, text: &str) -> Result<Vec<Parsed>, String> {
    let pd = parser_dialect(dialect);
    let tokens = Tokenizer::new(pd.as_ref(), text)
        .tokenize_with_location()
        .map_err(|e| format!("it cannot be read as {dialect} SQL: {e}"))?;
    let mut pieces = Vec::new();
    let mut start = 0;
    for t in &tokens {
        if t.token == Token::SemiColon {
            let end = super::sql::offset(text, t.span.start)
                .ok_or_else(|| "a statement's position could not be found".to_string())?;
            pieces.push(&text[start..end]);
            start = end + 1;
        }
    }
    pieces.push(&text[start..]);
    let mut out = Vec::new();
    for piece in pieces.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let mut parsed = Parser::parse_sql(pd.as_ref(), &for_parser(dialect, piece))
            .map_err(|e| format!("`{}` does not parse as {dialect} SQL: {e}", shorten(piece)))?;
        if parsed.len() != 1 {
            return Err(format!("`{}` is not one statement", shorten(piece)));
        }
        out.push(Parsed {
            text: piece.to_string(),
            statement: parsed.remove(0),
        });
    }
    Ok(out)
}

/// The statement as sqlparser reads it: PostgreSQL's `DROP INDEX CONCURRENTLY` is linted
/// as the `DROP INDEX` it is (sqlparser 0.64 does not know the keyword there); the text
/// sent is always the statement as written.
fn for_parser(dialect: Dialect, piece: &str) -> String {
    let words: Vec<&str> = piece.splitn(4, char::is_whitespace).collect();
    match words.as_slice() {
        [d, i, c, rest]
            if dialect == Dialect::Postgres
                && d.eq_ignore_ascii_case("DROP")
                && i.eq_ignore_ascii_case("INDEX")
                && c.eq_ignore_ascii_case("CONCURRENTLY") =>
        {
            format!("DROP INDEX {rest}")
        }
        _ => piece.to_string(),
    }
}

/// The statement's first words, for messages.
pub fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// What is wrong with the statements of one direction of a step on `dialect`, for a model
/// of `table`; `transactional` is false with `no_transaction`.
pub fn lint(dialect: Dialect, table: &str, statements: &[Parsed], transactional: bool) -> Vec<String> {
    let mut problems = Vec::new();
    for p in statements {
        let s = &p.statement;
        let shown = shorten(&p.text);
        for rule in RULES {
            if let Some(why) = rule(dialect, table, s) {
                problems.push(format!("`{shown}`: {why}"));
            }
        }
        if transactional && needs_no_transaction(dialect, s, &p.text) {
            problems.push(format!(
                "`{shown}` cannot run inside a transaction block: declare the step `no_transaction` (it must then \
                 be its only statement)"
            ));
        }
    }
    if !transactional && statements.len() > 1 {
        problems.push(format!(
            "a `no_transaction` step runs its statements one by one, so a retry after a failure would run again \
             those that succeeded: give it one statement ({} here) — declare one `sql(...)` step per statement",
            statements.len()
        ));
    }
    if dialect == Dialect::MySql && statements.len() > 1 && statements.iter().any(|p| !is_dml(&p.statement)) {
        problems.push(format!(
            "MySQL/MariaDB commit each DDL statement by itself, so a step of several ({} here) is not atomic and a \
             retry would run again those that succeeded: declare one `sql(...)` step per DDL statement",
            statements.len()
        ));
    }
    problems
}

type Rule = fn(Dialect, &str, &Statement) -> Option<String>;

/// Every rule, each returning why a statement is refused.
const RULES: &[Rule] = &[
    transaction_control,
    runner_timeouts,
    own_table,
    whole_table_write,
    blocking_index_build,
    locking_alter,
];

/// `BEGIN`, `COMMIT`, `ROLLBACK`, savepoints: the runner owns the transaction, and
/// records the step in the ledger inside it.
fn transaction_control(_: Dialect, _: &str, s: &Statement) -> Option<String> {
    matches!(
        s,
        Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
    )
    .then(|| {
        "transaction control is the runner's: it runs the step in one transaction (none with `no_transaction`) and \
         records it in the ledger"
            .to_string()
    })
}

/// The lock and statement timeouts bound every step; a step may not lift them.
fn runner_timeouts(_: Dialect, _: &str, s: &Statement) -> Option<String> {
    let Statement::Set(Set::SingleAssignment { variable, .. }) = s else {
        return None;
    };
    let name = last(variable)?.to_ascii_lowercase();
    [
        "lock_timeout",
        "statement_timeout",
        "lock_wait_timeout",
        "innodb_lock_wait_timeout",
        "busy_timeout",
    ]
    .contains(&name.as_str())
    .then(|| {
        format!(
            "`{name}` is set by the runner for every step (`--lock-timeout-ms`, retried `--ddl-attempts` times): a \
             step may not lift it"
        )
    })
}

/// The model's own table changes only through its declarations: the generated code, the
/// catalog checks and the history in `straddle.lock` all follow them.
fn own_table(_: Dialect, table: &str, s: &Statement) -> Option<String> {
    let touches = |name: &ObjectName| last(name).is_some_and(|n| n.eq_ignore_ascii_case(table));
    let what = match s {
        Statement::AlterTable(a) if touches(&a.name) => "alters",
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } if names.iter().any(touches) => "drops",
        Statement::Truncate(t) if t.table_names.iter().any(|t| touches(&t.name)) => "truncates",
        Statement::CreateIndex(i) if touches(&i.table_name) => "indexes",
        _ => return None,
    };
    Some(format!(
        "it {what} `{table}`, the model's own table, behind its declarations (the generated code and the catalog \
         checks would not know): declare the change — `added`, `retyped`, `renamed`, `retired`, `not_null`, \
         `nullable`, `default_changed` on a field; `index`, `check`, `foreign_key` and their `dropped_…` forms, \
         `retired(confirm = …)` on the struct"
    ))
}

/// An `UPDATE` or `DELETE` of every row holds every row's lock until it commits.
fn whole_table_write(_: Dialect, _: &str, s: &Statement) -> Option<String> {
    let (verb, table) = match s {
        Statement::Update(u) if u.selection.is_none() && u.limit.is_none() => {
            ("UPDATE", factor(&u.table.relation))
        }
        Statement::Delete(d) if d.selection.is_none() && d.limit.is_none() => ("DELETE", None),
        _ => return None,
    };
    let on = table.map(|t| format!(" of `{t}`")).unwrap_or_default();
    Some(format!(
        "an {verb} with no WHERE writes every row{on} in one statement, holding each row's lock until it commits \
         (writers of those rows wait): fill a column with `added(backfill = …)` or `not_null(fill = …)`, which run \
         in paced keyset batches, or bound it with a WHERE"
    ))
}

/// PostgreSQL builds an index without `CONCURRENTLY` under a lock that blocks writes.
fn blocking_index_build(dialect: Dialect, _: &str, s: &Statement) -> Option<String> {
    match s {
        Statement::CreateIndex(i) if dialect == Dialect::Postgres && !i.concurrently => Some(format!(
            "CREATE INDEX without CONCURRENTLY blocks every write to `{}` for the whole build: write CREATE INDEX \
             CONCURRENTLY in a `no_transaction` step (or declare `index(...)` on the table's model)",
            last(&i.table_name).unwrap_or_default()
        )),
        _ => None,
    }
}

/// `ALTER TABLE` actions that scan or rewrite a table while holding its strongest lock.
fn locking_alter(dialect: Dialect, _: &str, s: &Statement) -> Option<String> {
    let Statement::AlterTable(a) = s else {
        return None;
    };
    let t = last(&a.name).unwrap_or_default();
    a.operations.iter().find_map(|op| match op {
        AlterTableOperation::AlterColumn {
            op: AlterColumnOperation::SetDataType { .. },
            ..
        } => Some(format!(
            "changing a column's type rewrites or scans `{t}` under its strongest lock: declare `retyped(...)` on \
             the table's model (a shadow column kept in sync, filled in batches)"
        )),
        AlterTableOperation::AlterColumn {
            op: AlterColumnOperation::SetNotNull,
            ..
        } => Some(format!(
            "SET NOT NULL scans `{t}` under its strongest lock: declare `not_null(fill = …)` on the table's model \
             (CHECK NOT VALID, VALIDATE, then SET NOT NULL)"
        )),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::Check(_) | TableConstraint::ForeignKey(_),
            not_valid: false,
        } if dialect == Dialect::Postgres => Some(format!(
            "adding a CHECK or FOREIGN KEY validates every row of `{t}` while writes wait: add it NOT VALID here and \
             VALIDATE CONSTRAINT in a later step (or declare `check`/`foreign_key` on the table's model)"
        )),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::Check(_) | TableConstraint::ForeignKey(_),
            ..
        } if dialect == Dialect::MySql => Some(format!(
            "adding a CHECK or FOREIGN KEY on MySQL/MariaDB validates it by copying `{t}`: declare \
             `foreign_key(…, mysql_unvalidated = true)` on the table's model"
        )),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::Unique(u),
            ..
        } if u.index_name.is_none() || dialect != Dialect::Postgres => Some(unique_under_lock(&t)),
        AlterTableOperation::AddConstraint {
            constraint: TableConstraint::PrimaryKey(k),
            ..
        } if k.index_name.is_none() || dialect != Dialect::Postgres => Some(unique_under_lock(&t)),
        AlterTableOperation::AddColumn { column_def, .. } => {
            let has = |f: fn(&ColumnOption) -> bool| column_def.options.iter().any(|o| f(&o.option));
            (has(|o| matches!(o, ColumnOption::NotNull)) && !has(|o| matches!(o, ColumnOption::Default(_)))).then(
                || {
                    format!(
                        "a NOT NULL column without a default cannot be added to `{t}` once it has rows: add it \
                         nullable, or with a constant default (or declare `added(...)` on the table's model)"
                    )
                },
            )
        }
        _ => None,
    })
}

fn unique_under_lock(table: &str) -> String {
    format!(
        "a UNIQUE or PRIMARY KEY constraint builds its index on `{table}` while writes wait: build a unique index \
         CONCURRENTLY first (a `no_transaction` step), then ADD CONSTRAINT … USING INDEX (PostgreSQL) — or declare \
         `index(…, unique, constraint)` on the table's model"
    )
}

/// Statements PostgreSQL refuses inside a transaction block.
fn needs_no_transaction(dialect: Dialect, s: &Statement, text: &str) -> bool {
    let words = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    dialect == Dialect::Postgres
        && match s {
            Statement::CreateIndex(i) => i.concurrently,
            Statement::CreateDatabase { .. } => true,
            _ => [
                "VACUUM",
                "DROP INDEX CONCURRENTLY",
                "REINDEX",
                "ALTER SYSTEM",
                "DROP DATABASE",
            ]
            .iter()
            .any(|p| words.starts_with(p)),
        }
}

/// Statements that change rows only (MySQL runs them inside the step's transaction).
fn is_dml(s: &Statement) -> bool {
    matches!(
        s,
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Query(_)
    )
}

fn last(name: &ObjectName) -> Option<String> {
    name.0.last()?.as_ident().map(|i| i.value.clone())
}

fn factor(f: &TableFactor) -> Option<String> {
    match f {
        TableFactor::Table { name, .. } => last(name),
        _ => None,
    }
}

/// The model's `sql(...)` steps, checked: a name no other object of the model has, `up`
/// and `down` for every dialect it is compiled for (`""`: nothing to do there — then on
/// both sides), each split and linted; errors into `cx`.
pub(super) fn check_steps(
    cx: &Ctxt,
    decl: &Decl<'_>,
    table: &str,
    dialects: &[Dialect],
    taken: &[&str],
) -> Vec<SqlStep> {
    let mut out: Vec<SqlStep> = Vec::new();
    for (span, attr) in &decl.attrs.sql_steps {
        let mut used = taken.to_vec();
        used.extend(out.iter().map(|s| s.name.as_str()));
        let name = super::check::object_name(cx, *span, "sql", "SQL step", &attr.name, "", &used, dialects);
        let label = name.as_deref().unwrap_or("?");
        let transactional = attr.no_transaction.is_none();
        let mut texts = [BTreeMap::new(), BTreeMap::new()];
        for (side, given, map) in [("up", &attr.up, 0), ("down", &attr.down, 1)] {
            let Some((_, text)) = given else {
                let example = if side == "up" {
                    "up = \"CREATE EXTENSION IF NOT EXISTS pgcrypto\""
                } else {
                    "down = \"DROP EXTENSION IF EXISTS pgcrypto\""
                };
                cx.error_at(
                    *span,
                    format!(
                        "`sql(...)` needs `{side} = \"<statements>\"`: every hand-written step says how it is \
                         {}, e.g. `{example}` (`{side}(postgres = \"…\", mysql = \"\")` per engine, `\"\"` for nothing \
                         to do on one)",
                        if side == "up" { "applied" } else { "undone going down" }
                    ),
                );
                continue;
            };
            for d in dialects {
                let lit = match text {
                    SqlText::All(l) => l,
                    SqlText::PerDialect(per) => match per.get(d) {
                        Some(l) => l,
                        None => {
                            cx.error_at(
                                *span,
                                format!(
                                    "`{side}(...)` of SQL step `{label}` gives nothing for {d}, which the model is \
                                     compiled for: add `{} = \"…\"` (`\"\"` for nothing to do there)",
                                    d.key()
                                ),
                            );
                            continue;
                        }
                    },
                };
                match split(*d, &lit.value()) {
                    Err(why) => cx.error_at(lit.span(), format!("`{side}` of SQL step `{label}`: {why}")),
                    Ok(parsed) => {
                        for problem in lint(*d, table, &parsed, transactional) {
                            let on = if dialects.len() > 1 {
                                format!(" on {}", d.display_name())
                            } else {
                                String::new()
                            };
                            cx.error_at(
                                lit.span(),
                                format!("`{side}` of SQL step `{label}`{on}: {problem}"),
                            );
                        }
                        texts[map].insert(*d, parsed.into_iter().map(|p| p.text).collect::<Vec<_>>());
                    }
                }
            }
        }
        let [up, down] = texts;
        for d in dialects {
            let (u, w) = (
                up.get(d).is_some_and(|v| !v.is_empty()),
                down.get(d).is_some_and(|v| !v.is_empty()),
            );
            if up.contains_key(d) && down.contains_key(d) && u != w {
                cx.error_at(
                    *span,
                    format!(
                        "SQL step `{label}` {} on {} but its `down` {}: going down must undo exactly what `up` did",
                        if u { "does something" } else { "does nothing" },
                        d.display_name(),
                        if w { "does something" } else { "does nothing" },
                    ),
                );
            }
        }
        if !up.is_empty() && up.values().all(Vec::is_empty) && attr.up.is_some() {
            cx.error_at(
                *span,
                format!("SQL step `{label}` does nothing on any engine: remove it"),
            );
        }
        let at = attr.at.as_ref().map_or(Some(Phase::Expand), |(_, p)| *p);
        let phase = super::check::required_phase(cx, *span, "sql", attr.phase);
        if let (Some(name), Some(at), Some(phase)) = (name, at, phase)
            && up.len() == dialects.len()
            && down.len() == dialects.len()
        {
            out.push(SqlStep {
                name,
                at,
                phase,
                up,
                down,
                transactional,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(dialect: Dialect, sql: &str, transactional: bool) -> Vec<String> {
        let parsed = split(dialect, sql).unwrap();
        lint(dialect, "users", &parsed, transactional)
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;\n\
                   INSERT INTO settings (k) VALUES ('a;b');";
        let parsed = split(Dialect::Postgres, sql).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[0].text.ends_with("END $$"), "{}", parsed[0].text);
        assert_eq!(parsed[1].text, "INSERT INTO settings (k) VALUES ('a;b')");
        assert!(split(Dialect::Postgres, "CREATE EXTENSON x").is_err());
    }

    #[test]
    fn each_rule_refuses_its_statement_and_passes_the_safe_one() {
        let pg = Dialect::Postgres;
        for (sql, word) in [
            ("BEGIN", "transaction control"),
            ("SET lock_timeout = 0", "lock_timeout"),
            ("ALTER TABLE users ADD COLUMN x INT", "model's own table"),
            ("DROP TABLE users", "model's own table"),
            ("TRUNCATE users", "model's own table"),
            ("UPDATE accounts SET a = 1", "no WHERE"),
            ("DELETE FROM accounts", "no WHERE"),
            ("CREATE INDEX i ON accounts (a)", "CONCURRENTLY"),
            ("ALTER TABLE accounts ALTER COLUMN a TYPE BIGINT", "retyped"),
            ("ALTER TABLE accounts ALTER COLUMN a SET NOT NULL", "not_null"),
            ("ALTER TABLE accounts ADD CONSTRAINT c CHECK (a > 0)", "NOT VALID"),
            ("ALTER TABLE accounts ADD CONSTRAINT u UNIQUE (a)", "USING INDEX"),
            ("ALTER TABLE accounts ADD COLUMN b INT NOT NULL", "nullable"),
        ] {
            let p = problems(pg, sql, true);
            assert!(p.iter().any(|m| m.contains(word)), "{sql}: {p:?}");
        }
        for sql in [
            "CREATE EXTENSION IF NOT EXISTS pgcrypto",
            "CREATE TYPE mood AS ENUM ('sad', 'ok')",
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'happy'",
            "UPDATE accounts SET a = 1 WHERE id = 7",
            "ALTER TABLE accounts ADD CONSTRAINT c CHECK (a > 0) NOT VALID",
            "ALTER TABLE accounts ADD COLUMN b INT NOT NULL DEFAULT 0",
            "COMMENT ON TABLE users IS 'people'",
            "CREATE TABLE IF NOT EXISTS audit (id BIGINT PRIMARY KEY)",
        ] {
            assert_eq!(problems(pg, sql, true), Vec::<String>::new(), "{sql}");
        }
        let concurrent = "CREATE INDEX CONCURRENTLY i ON accounts (a)";
        assert!(problems(pg, concurrent, true)[0].contains("no_transaction"));
        assert!(problems(pg, concurrent, false).is_empty());
        let drop = "DROP INDEX CONCURRENTLY IF EXISTS i";
        assert!(problems(pg, drop, true)[0].contains("no_transaction"));
        assert_eq!(split(pg, drop).unwrap()[0].text, drop);
        assert!(problems(pg, "SELECT 1; SELECT 2", false)[0].contains("one statement"));
        let mysql = problems(
            Dialect::MySql,
            "CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY)",
            true,
        );
        assert!(mysql[0].contains("not atomic"), "{mysql:?}");
        assert!(
            problems(
                Dialect::MySql,
                "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2)",
                true
            )
            .is_empty()
        );
    }
}
