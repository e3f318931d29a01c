//! Meaning and safety checks on a parsed declaration, producing the model IR. Every
//! problem is reported (with the safe alternative) and checking goes on, so one build
//! shows them all.

use super::ast::{Decl, FieldDecl};
use super::attr::{
    Added, ForeignKeyAttr, IndexAttr, LiteralValue, NotNull, Renamed, Retired, Retyped, SqlTypeOverride,
};
use super::ctxt::Ctxt;
use super::sql::{self, NON_VOLATILE_FUNCTIONS, VOLATILE_FUNCTIONS};
use crate::dialect::Dialect;
use crate::model::{
    AddColumn, Change, Column, ColumnType, DefaultValue, Literal, Model, Phase, RenameColumn, RetireColumn,
    RetypeColumn, Throttle,
};
use crate::model::{
    Check, CommentChange, DefaultChange, Deferral, ForeignKey, Index, NotNullColumn, NullableColumn,
    ReferentialAction,
};
use crate::types::{LiteralClass, literal_class, sql_type};
use std::collections::BTreeMap;

/// Check a parsed declaration and build its model (errors into `cx`).
pub fn check(cx: &Ctxt, decl: &Decl<'_>, enabled: &[Dialect]) -> Option<Model> {
    let rust_name = decl.ident.to_string();
    let dialects = dialects(cx, decl, enabled);
    let table = match &decl.attrs.table {
        Some((span, t)) => {
            if identifier(cx, *span, "table", t, &dialects) && t.contains('.') {
                cx.error_at(
                    *span,
                    format!(
                        "the table name `{t}` has a `.`: it would read as schema-qualified, and Straddle names a \
                         change `table.column` — name the table without one"
                    ),
                );
            }
            t.clone()
        }
        None => {
            // A mistyped `table` (`tabel = …`) was reported already.
            if !decl.meant.iter().any(|k| k == "table") {
                cx.error_spanned_by(
                    decl.ident,
                    format!(
                        "missing `#[straddle(table = \"…\")]` on `{rust_name}`: name the table it maps to"
                    ),
                );
            }
            String::new()
        }
    };

    let names: Vec<String> = decl.fields.iter().map(column_name).collect();
    let mut columns = Vec::new();
    for (i, f) in decl.fields.iter().enumerate() {
        if names[..i].contains(&names[i]) {
            cx.error_spanned_by(f.ident, format!("column `{}` is declared twice", names[i]));
        }
        let c = if f.malformed {
            cx.muted(|| column(cx, decl, f, &names, &dialects))
        } else {
            column(cx, decl, f, &names, &dialects)
        };
        columns.extend(c);
    }

    let keys: Vec<&FieldDecl<'_>> = decl
        .fields
        .iter()
        .filter(|f| f.attrs.primary_key.is_some())
        .collect();
    // A mistyped `primary_key` was reported as such.
    if keys.is_empty()
        && !decl
            .fields
            .iter()
            .any(|f| f.meant.iter().any(|k| k == "primary_key"))
    {
        cx.error_spanned_by(
            decl.ident,
            format!(
                "`{rust_name}` has no primary key: mark its key field `#[straddle(primary_key)]`; \
                 Straddle updates rows and backfills in batches by key"
            ),
        );
    }
    for f in keys {
        if f.shape.as_ref().is_some_and(|s| s.nullable) {
            cx.error_spanned_by(f.ty, "a primary key column cannot be `Option<…>`");
        }
    }

    let indexes = indexes(cx, decl, &columns, &dialects);
    let index_names: Vec<String> = indexes.iter().map(|i| i.name.clone()).collect();
    let checks = checks(cx, decl, &columns, &dialects, &index_names);
    let mut taken = index_names.clone();
    taken.extend(checks.iter().map(|c| c.name.clone()));
    let foreign_keys = foreign_keys(cx, decl, &columns, &dialects, &taken);
    let mut used: Vec<&str> = taken.iter().map(String::as_str).collect();
    used.extend(columns.iter().map(|c| c.name.as_str()));
    used.extend(foreign_keys.iter().map(|f| f.name.as_str()));
    let sql_steps = super::sql_step::check_steps(cx, decl, &table, &dialects, &used);
    let whole_table = |what: &str| {
        for (f, c) in decl.fields.iter().zip(&columns) {
            if let Some(ch) = &c.change {
                cx.error_spanned_by(
                    f.ident,
                    format!(
                        "`{}` is part of a table {what} in this release: it is {} with the table — declare it as a \
                         plain field",
                        c.name,
                        ch.kind()
                    ),
                );
            }
        }
    };
    let created = decl.attrs.created.as_ref().and_then(|(span, phase)| {
        whole_table("created");
        required_phase(cx, *span, "created", *phase)
    });
    let retired = decl.attrs.retired.as_ref().and_then(|(span, r)| {
        whole_table("retired");
        if created.is_some() {
            cx.error_at(*span, "a table cannot be created and retired in one release");
        }
        match &r.confirm {
            Some(c) if c.value() == table => {}
            Some(c) => cx.error_at(
                c.span(),
                format!(
                    "`confirm` must name the table being dropped, `{table}`: its rows are lost at contract"
                ),
            ),
            None => cx.error_at(
                *span,
                format!(
                    "retiring `{table}` drops it, with its rows, at contract: confirm with \
                     `retired(phase = …, confirm = \"{table}\")`"
                ),
            ),
        }
        required_phase(cx, *span, "retired", r.phase)
    });

    let renamed = decl.attrs.renamed.as_ref().and_then(|(span, r)| {
        for (f, c) in decl.fields.iter().zip(&columns) {
            if let Some(ch) = &c.change {
                cx.error_spanned_by(
                    f.ident,
                    format!(
                        "`{}` is {} while its table is renamed: a rename ships alone (until its contract the new name \
                         is a view over the table) — change the column in a release after the rename's contract",
                        c.name,
                        ch.kind()
                    ),
                );
            }
        }
        if created.is_some() || retired.is_some() {
            cx.error_at(*span, "a table cannot be renamed in the release that creates or retires it");
        }
        if !indexes.is_empty() || !checks.is_empty() || !foreign_keys.is_empty() {
            cx.error_at(
                *span,
                format!(
                    "`{table}` is being renamed in this release: indexes and constraints wait for its contract (until \
                     then the new name is a view over the old table)"
                ),
            );
        }
        let from = match &r.from {
            None => {
                cx.error_at(
                    *span,
                    format!(
                        "`renamed(...)` needs the table's previous name: `renamed(from = \"old_name\", …)` (`{table}` \
                         is the new one)"
                    ),
                );
                None
            }
            Some(l) if l.value() == table => {
                cx.error_at(l.span(), format!("`{table}` is renamed from itself: `from` is the previous name"));
                None
            }
            Some(l) if !identifier(cx, l.span(), "table", &l.value(), &dialects) => None,
            Some(l) if l.value().contains('.') => {
                cx.error_at(l.span(), "a table name with a `.` would read as schema-qualified");
                None
            }
            Some(l) => Some(l.value()),
        };
        let phase = required_phase(cx, *span, "renamed", r.phase);
        Some(crate::model::TableRename {
            from: from?,
            phase: phase?,
        })
    });

    if cx.has_errors() || columns.len() != decl.fields.len() {
        return None;
    }
    Some(Model {
        renamed,
        rust_name,
        table,
        dialects,
        columns,
        indexes,
        checks,
        foreign_keys,
        sql_steps,
        created,
        retired,
        rollouts: Vec::new(),
    })
}

/// Report `name` (a `what`: table, column, index, …) where an engine the model is compiled
/// for would refuse it, truncate it, or could be tricked by it (see
/// [`crate::naming::identifier_problem`]); whether it is fine.
pub(super) fn identifier(
    cx: &Ctxt,
    span: proc_macro2::Span,
    what: &str,
    name: &str,
    dialects: &[Dialect],
) -> bool {
    let mut problems: Vec<(String, Vec<&str>)> = Vec::new();
    for d in dialects {
        if let Some(p) = crate::naming::identifier_problem(*d, name) {
            match problems.iter_mut().find(|(q, _)| *q == p) {
                Some((_, ds)) => ds.push(d.display_name()),
                None => problems.push((p, vec![d.display_name()])),
            }
        }
    }
    for (p, ds) in &problems {
        let on = if ds.len() == dialects.len() {
            String::new()
        } else {
            format!(" (on {})", ds.join(" and "))
        };
        cx.error_at(
            span,
            format!(
                "the {what} name `{}` is refused{on}: it has {p}",
                name.escape_debug()
            ),
        );
    }
    problems.is_empty()
}

/// The name of a table-level object (`what`: index, check, foreign key; declared by
/// `attr`): given, short
/// enough for every engine once `suffix` is appended (a foreign key's `_idx`), and not
/// the name of a column or of another object of the model (`taken`).
#[allow(clippy::too_many_arguments)]
pub(super) fn object_name(
    cx: &Ctxt,
    span: proc_macro2::Span,
    attr: &str,
    what: &str,
    given: &Option<(proc_macro2::Span, String)>,
    suffix: &str,
    taken: &[&str],
    dialects: &[Dialect],
) -> Option<String> {
    match given {
        None => {
            cx.error_at(
                span,
                format!("`{attr}(...)` needs `name = \"…\"`: the {what}'s name in the database"),
            );
            None
        }
        Some((s, n)) if !identifier(cx, *s, what, n, dialects) => None,
        // A foreign key's index is named after it.
        Some((s, n))
            if !suffix.is_empty()
                && !identifier(
                    cx,
                    *s,
                    &format!("{what}'s index"),
                    &format!("{n}{suffix}"),
                    dialects,
                ) =>
        {
            None
        }
        Some((s, n)) if taken.contains(&n.as_str()) || taken.contains(&format!("{n}{suffix}").as_str()) => {
            cx.error_at(
                *s,
                format!("`{n}` is already the name of a column, index or constraint of this model"),
            );
            None
        }
        Some((_, n)) => Some(n.clone()),
    }
}

/// `parent(a, b)` → (`parent`, [`a`, `b`]).
fn parse_reference(text: &str) -> Option<(String, Vec<String>)> {
    let (table, rest) = text.trim().split_once('(')?;
    let cols = rest.trim().strip_suffix(')')?;
    let ident = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')).then(|| s.to_string())
    };
    let cols: Option<Vec<String>> = cols.split(',').map(ident).collect();
    Some((ident(table)?, cols?))
}

fn foreign_keys(
    cx: &Ctxt,
    decl: &Decl<'_>,
    columns: &[Column],
    dialects: &[Dialect],
    taken: &[String],
) -> Vec<ForeignKey> {
    let mut out: Vec<ForeignKey> = Vec::new();
    for (span, attr) in &decl.attrs.foreign_keys {
        let mut used: Vec<&str> = taken.iter().map(String::as_str).collect();
        used.extend(columns.iter().map(|c| c.name.as_str()));
        used.extend(out.iter().map(|f| f.name.as_str()));
        let name = object_name(
            cx,
            *span,
            "foreign_key",
            "foreign key",
            &attr.name,
            "_idx",
            &used,
            dialects,
        );
        let mut ok = true;
        let cols: Vec<String> = match &attr.on {
            None => {
                cx.error_at(
                    *span,
                    "`foreign_key(...)` needs the referencing columns: `on(column, …)`",
                );
                ok = false;
                vec![]
            }
            Some((_, cols)) => cols
                .iter()
                .filter_map(
                    |(s, col)| match columns.iter().find(|c| c.name == *col || c.field == *col) {
                        None => {
                            cx.error_at(*s, format!("`{col}` is not a column of this model"));
                            ok = false;
                            None
                        }
                        Some(c) if c.change.is_some() => {
                            cx.error_at(
                                *s,
                                format!("`{col}` has a change in flight: reference it once that has settled"),
                            );
                            ok = false;
                            None
                        }
                        Some(c) => Some(c.name.clone()),
                    },
                )
                .collect(),
        };
        let reference = match &attr.references {
            None => {
                cx.error_at(
                    *span,
                    "`foreign_key(...)` needs `references = \"parent_table(column, …)\"`",
                );
                None
            }
            Some(text) => match parse_reference(&text.value()) {
                Some((parent, pcols)) if attr.on.as_ref().is_some_and(|(_, c)| c.len() == pcols.len()) => {
                    let named = identifier(cx, text.span(), "referenced table", &parent, dialects)
                        & pcols
                            .iter()
                            .all(|c| identifier(cx, text.span(), "referenced column", c, dialects));
                    named.then_some((parent, pcols))
                }
                Some(_) => {
                    cx.error_at(text.span(), "`references` must name as many columns as `on(...)`");
                    None
                }
                None => {
                    cx.error_at(text.span(), "`references` takes `parent_table(column, …)`");
                    None
                }
            },
        };
        let renamed_from = constraint_rename(
            cx,
            *span,
            "renamed_foreign_key",
            attr.renamed.then_some(&attr.from),
            &name,
            dialects,
            attr.meant.iter().any(|k| k == "from"),
        );
        ok &= renamed_from.is_ok();
        for d in dialects {
            let why = match d {
                Dialect::Postgres => continue,
                Dialect::MySql if attr.renamed => {
                    "MySQL/MariaDB cannot rename a foreign key in place (only drop it and add it again, validated)\n\
                     help: drop it with `dropped_foreign_key(...)` and add it under the new name with `foreign_key(...)` \
                     in a later release, or limit the model with `dialects(postgres)`"
                }
                Dialect::MySql if attr.mysql_unvalidated => continue,
                Dialect::MySql => {
                    "MySQL/MariaDB have no NOT VALID: adding a foreign key validates it by copying the table, which \
                     blocks writes\nhelp: with `mysql_unvalidated = true` Straddle asserts no orphans itself and adds \
                     the key in place without the server's validation (a row written between the two is not checked); \
                     or limit the model with `dialects(postgres)`"
                }
                Dialect::Sqlite => {
                    "SQLite cannot add a foreign key to an existing table without rebuilding it\nhelp: limit the model \
                     with `dialects(...)`"
                }
            };
            cx.error_at(*span, why);
            ok = false;
        }
        let phase = required_phase(cx, *span, "foreign_key", attr.phase);
        let (on_delete, on_update, deferrable) = referential_options(cx, attr, columns, &cols, dialects);
        ok &= on_delete.is_ok() && on_update.is_ok() && deferrable.is_ok();
        let fix = constraint_fix(cx, &attr.fix, columns, dialects);
        if let (Some(fix), Some(s)) = (&fix, attr.fix.as_ref().map(|f| f.0))
            && !fix.is_empty()
        {
            ok &= engines_have(
                cx,
                s,
                "foreign key fixes (triggers rewriting orphans)",
                &[Dialect::Postgres, Dialect::MySql],
                dialects,
            );
        }
        if let (Some(name), Some((parent, parent_columns)), Some(phase), true, Some(fix)) =
            (name, reference, phase, ok, fix)
        {
            out.push(ForeignKey {
                name,
                columns: cols,
                parent,
                parent_columns,
                phase,
                dropped: attr.dropped,
                on_delete: on_delete.unwrap_or(None),
                on_update: on_update.unwrap_or(None),
                deferrable: deferrable.unwrap_or(None),
                renamed_from: renamed_from.unwrap_or(None),
                fix,
            });
        }
    }
    out
}

type Checked<T> = Result<Option<T>, ()>;

/// A constraint's previous name (`renamed_check` / `renamed_foreign_key`): given, a valid
/// name, and not its new one; `Ok(None)` for a constraint that is not renamed (`from`
/// is `None`; `Some(None)` for a rename that does not say `from`).
fn constraint_rename(
    cx: &Ctxt,
    span: proc_macro2::Span,
    what: &str,
    from: Option<&Option<(proc_macro2::Span, String)>>,
    name: &Option<String>,
    dialects: &[Dialect],
    meant_from: bool,
) -> Checked<String> {
    match from {
        None => Ok(None),
        Some(None) => {
            // A mistyped `from` (`form = …`) was reported as such.
            if !meant_from {
                cx.error_at(
                    span,
                    format!("`{what}(...)` needs the constraint's current name: `from = \"…\"`"),
                );
            }
            Err(())
        }
        Some(Some((s, from))) if Some(from) == name.as_ref() => {
            cx.error_at(
                *s,
                "`from` is the constraint's name already: a rename needs a new `name`",
            );
            Err(())
        }
        Some(Some((s, from))) => {
            if identifier(cx, *s, "constraint", from, dialects) {
                Ok(Some(from.clone()))
            } else {
                Err(())
            }
        }
    }
}

/// A foreign key's `on_delete`, `on_update` and deferral, each checked: a known action;
/// `set null` only over nullable columns, `set default` and deferral not on MySQL/MariaDB
/// (InnoDB refuses the one and has no deferred constraints).
fn referential_options(
    cx: &Ctxt,
    attr: &ForeignKeyAttr,
    columns: &[Column],
    cols: &[String],
    dialects: &[Dialect],
) -> (
    Checked<ReferentialAction>,
    Checked<ReferentialAction>,
    Checked<Deferral>,
) {
    let on_mysql = dialects.contains(&Dialect::MySql);
    let action = |text: &Option<syn::LitStr>, key: &str| -> Checked<ReferentialAction> {
        let Some(text) = text else { return Ok(None) };
        let Some(action) = ReferentialAction::parse(&text.value()) else {
            cx.error_at(
                text.span(),
                format!(
                    "`{key}` takes \"cascade\", \"set null\", \"set default\", \"restrict\" or \"no action\", not \"{}\"",
                    text.value()
                ),
            );
            return Err(());
        };
        let not_null: Vec<&str> = cols
            .iter()
            .filter(|c| columns.iter().any(|m| m.name == **c && !m.nullable))
            .map(String::as_str)
            .collect();
        if action == ReferentialAction::SetNull && !not_null.is_empty() {
            cx.error_at(
                text.span(),
                format!(
                    "`{key} = \"set null\"` writes NULL into {}, which {} NOT NULL: make the field `Option<…>` (or \
                     use \"cascade\" or \"restrict\")",
                    not_null.join(", "),
                    if not_null.len() == 1 { "is" } else { "are" }
                ),
            );
            return Err(());
        }
        if action == ReferentialAction::SetDefault && on_mysql {
            cx.error_at(
                text.span(),
                format!("MySQL/MariaDB (InnoDB) refuse `{key} = \"set default\"`\nhelp: limit the model with `dialects(...)`"),
            );
            return Err(());
        }
        Ok(Some(action))
    };
    let on_delete = action(&attr.on_delete, "on_delete");
    let on_update = action(&attr.on_update, "on_update");
    let deferrable = match (attr.deferrable, attr.initially_deferred) {
        (None, None) => Ok(None),
        (Some(s), _) | (None, Some(s)) if on_mysql => {
            cx.error_at(
                s,
                "MySQL/MariaDB have no deferrable constraints: every foreign key is checked per row\nhelp: limit the \
                 model to PostgreSQL with `dialects(postgres)`",
            );
            Err(())
        }
        (_, Some(_)) => Ok(Some(Deferral::InitiallyDeferred)),
        (Some(_), None) => Ok(Some(Deferral::InitiallyImmediate)),
    };
    (on_delete, on_update, deferrable)
}

fn checks(
    cx: &Ctxt,
    decl: &Decl<'_>,
    columns: &[Column],
    dialects: &[Dialect],
    taken: &[String],
) -> Vec<Check> {
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut out: Vec<Check> = Vec::new();
    for (span, attr) in &decl.attrs.checks {
        let mut used: Vec<&str> = taken.iter().map(String::as_str).collect();
        used.extend(names.iter().map(String::as_str));
        used.extend(out.iter().map(|c| c.name.as_str()));
        let name = object_name(cx, *span, "check", "check", &attr.name, "", &used, dialects);
        for d in dialects.iter().filter(|d| **d != Dialect::Postgres) {
            let why = match d {
                Dialect::MySql => {
                    "MySQL/MariaDB validate a new CHECK constraint by copying the table, blocking writes (there is no \
                     NOT VALID)"
                }
                _ => "SQLite cannot add a CHECK constraint to an existing table without rebuilding it",
            };
            cx.error_at(
                *span,
                format!("{why}\nhelp: limit the model to PostgreSQL with `#[straddle(dialects(postgres))]`, or check the rule in code"),
            );
        }
        let expr = match &attr.expr {
            None => {
                cx.error_at(*span, "`check(...)` needs `expr = \"<sql condition>\"`");
                None
            }
            Some(text) => match analyze(cx, text, "check", dialects, &names) {
                None => None,
                Some(a) => {
                    let moving: Vec<&String> = a
                        .expr
                        .sources
                        .iter()
                        .filter(|src| columns.iter().any(|c| c.name == **src && c.change.is_some()))
                        .collect();
                    if let Some(src) = moving.first() {
                        cx.error_at(
                            text.span(),
                            format!("the check reads `{src}`, whose own change is in flight: check it once that has settled"),
                        );
                        None
                    } else {
                        Some(a.expr)
                    }
                }
            },
        };
        let phase = required_phase(cx, *span, "check", attr.phase);
        let renamed_from = constraint_rename(
            cx,
            *span,
            "renamed_check",
            attr.renamed.then_some(&attr.from),
            &name,
            dialects,
            attr.meant.iter().any(|k| k == "from"),
        );
        let fix = constraint_fix(cx, &attr.fix, columns, dialects);
        if let (Some(name), Some(expr), Some(phase), Ok(renamed_from), Some(fix)) =
            (name, expr, phase, renamed_from, fix)
        {
            out.push(Check {
                name,
                expr,
                phase,
                dropped: attr.dropped,
                renamed_from,
                fix,
            });
        }
    }
    out
}

/// A constraint's `fix(col = "<sql>", …)`: each a column of the model, once, whose own
/// change is not in flight and that is no key column (rows are found by it), with an
/// expression over the row that parses for every engine. `None`: refused.
fn constraint_fix(
    cx: &Ctxt,
    fix: &Option<(proc_macro2::Span, Vec<super::attr::FixAssignment>)>,
    columns: &[Column],
    dialects: &[Dialect],
) -> Option<Vec<(String, crate::expr::SqlExpr)>> {
    let Some((span, assignments)) = fix else {
        return Some(Vec::new());
    };
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let mut ok = true;
    if assignments.is_empty() {
        cx.error_at(*span, "`fix(...)` rewrites no column: `fix(column = \"<sql>\")`");
        ok = false;
    }
    let mut out: Vec<(String, crate::expr::SqlExpr)> = Vec::new();
    for (s, column, text) in assignments {
        let Some(c) = columns.iter().find(|c| c.name == *column || c.field == *column) else {
            cx.error_at(*s, format!("`{column}` is not a column of this model"));
            ok = false;
            continue;
        };
        let refusal = if c.primary_key {
            Some("is part of the primary key: rows are found by it, so a fix cannot rewrite it")
        } else if c.change.is_some() {
            Some("has a change in flight: fix it once that has settled")
        } else if out.iter().any(|(n, _)| *n == c.name) {
            Some("is rewritten twice")
        } else {
            None
        };
        if let Some(why) = refusal {
            cx.error_at(*s, format!("`{column}` {why}"));
            ok = false;
            continue;
        }
        match analyze(cx, text, "fix", dialects, &names) {
            Some(a) => out.push((c.name.clone(), a.expr)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn indexes(cx: &Ctxt, decl: &Decl<'_>, columns: &[Column], dialects: &[Dialect]) -> Vec<Index> {
    let mut out: Vec<Index> = Vec::new();
    for (span, attr) in &decl.attrs.indexes {
        let what = if attr.renamed {
            "renamed_index"
        } else if attr.dropped {
            "dropped_index"
        } else {
            "index"
        };
        let mut used: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        used.extend(out.iter().map(|i| i.name.as_str()));
        let name = object_name(cx, *span, what, "index", &attr.name, "", &used, dialects);
        let mut ok = true;
        // The indexed columns by their column names (`on(...)` may name fields).
        let mut resolved: Vec<String> = Vec::new();
        match &attr.on {
            None => {
                cx.error_at(
                    *span,
                    format!("`{what}(...)` needs the indexed columns: `on(column, …)`"),
                );
                ok = false;
            }
            Some((s, cols)) if cols.is_empty() => {
                cx.error_at(*s, "`on(...)` lists no column");
                ok = false;
            }
            Some((_, cols)) => {
                for (s, col) in cols {
                    match columns.iter().find(|c| c.name == *col || c.field == *col) {
                        None => {
                            cx.error_at(*s, format!("`{col}` is not a column of this model"));
                            ok = false;
                        }
                        Some(c)
                            if c.ty.sql.get(&Dialect::MySql).is_some_and(|t| {
                                let t = t.to_ascii_uppercase();
                                [
                                    "TEXT",
                                    "TINYTEXT",
                                    "MEDIUMTEXT",
                                    "LONGTEXT",
                                    "BLOB",
                                    "TINYBLOB",
                                    "MEDIUMBLOB",
                                    "LONGBLOB",
                                    "JSON",
                                ]
                                .contains(&t.as_str())
                            }) =>
                        {
                            cx.error_at(
                                *s,
                                format!(
                                    "MySQL/MariaDB cannot index `{col}` as `{}` without a key length (MariaDB builds a \
                                     hidden hash column for a unique one, which cannot be added in place)\nhelp: give \
                                     the column a bounded type there: `#[straddle(sql_type(mysql = \"VARCHAR(255)\"))]`, \
                                     or limit the model to other engines with `dialects(...)`",
                                    c.ty.sql(Dialect::MySql)
                                ),
                            );
                            ok = false;
                        }
                        Some(c) if c.change.is_some() => {
                            cx.error_at(
                                *s,
                                format!(
                                    "`{col}` is being {} in this release: index it once its change has settled, so the \
                                     index never refers to a column that is not there",
                                    c.change.as_ref().map(|ch| ch.kind().key()).unwrap_or("changed")
                                ),
                            );
                            ok = false;
                        }
                        Some(c) => resolved.push(c.name.clone()),
                    }
                }
            }
        }
        if let Some(s) = attr.constraint
            && !attr.unique
        {
            cx.error_at(
                s,
                "`constraint` is a UNIQUE constraint's index (on `index(...)`: built, then made the constraint; on \
                 `dropped_index(...)`: the constraint dropped with it): it needs `unique`",
            );
            ok = false;
        }
        if let Some(s) = attr.primary_key {
            let earlier = out.iter().find(|i| i.primary_key).map(|i| i.name.as_str());
            ok &= primary_key_index(cx, decl, s, attr, &resolved, columns, earlier);
        }
        let renamed_from = match (&attr.from, attr.renamed) {
            (_, false) => None,
            (None, true) => {
                cx.error_at(
                    *span,
                    "`renamed_index(...)` needs the index's current name: `from = \"…\"`",
                );
                ok = false;
                None
            }
            (Some((s, from)), true) => {
                if Some(from) == name.as_ref() {
                    cx.error_at(
                        *s,
                        "`from` is the index's name already: a rename needs a new `name`",
                    );
                    ok = false;
                }
                ok &= identifier(cx, *s, "index", from, dialects);
                Some(from.clone())
            }
        };
        let (predicate, method, include) = index_options(cx, attr, columns, dialects, &mut ok);
        let resolve = |col: &str| {
            columns
                .iter()
                .find(|c| c.name == col || c.field == col)
                .map(|c| c.name.clone())
        };
        let (opclass, with) =
            super::index_params::check(cx, attr, &resolved, resolve, method.as_deref(), dialects, &mut ok);
        let phase = required_phase(cx, *span, what, attr.phase);
        if let (Some(name), Some(phase), true) = (name, phase, ok) {
            out.push(Index {
                name,
                columns: resolved,
                // A primary key's index is unique by definition.
                unique: attr.unique || attr.primary_key.is_some(),
                constraint: attr.constraint.is_some(),
                primary_key: attr.primary_key.is_some(),
                dropped: attr.dropped,
                phase,
                renamed_from,
                predicate,
                method,
                include,
                opclass,
                with,
            });
        }
    }
    out
}

/// `index(..., primary_key)`: the unique index that becomes the primary key of a table the
/// database has without one — on exactly the model's key columns (the fields marked
/// `primary_key`, in field order), a whole-table b-tree, one per model, on a table that
/// is not created in this release (a created table has its key from the start).
fn primary_key_index(
    cx: &Ctxt,
    decl: &Decl<'_>,
    span: proc_macro2::Span,
    attr: &IndexAttr,
    resolved: &[String],
    columns: &[Column],
    earlier: Option<&str>,
) -> bool {
    let mut ok = true;
    let mut refuse = |message: String| {
        cx.error_at(span, message);
        ok = false;
    };
    if let Some(earlier) = earlier {
        refuse(format!(
            "`{earlier}` is this table's primary key already: a table has one primary key"
        ));
    }
    if decl.attrs.created.is_some() {
        refuse(
            "the table is created in this release, with its primary key: drop `primary_key` (and this index)"
                .to_string(),
        );
    }
    if attr.constraint.is_some() {
        refuse(
            "`primary_key` and `constraint` each make the index a constraint: keep one (a primary key is unique \
             and NOT NULL)"
                .to_string(),
        );
    }
    let options: Vec<&str> = [
        (attr.predicate.is_some(), "`predicate`"),
        (attr.using.is_some(), "`using`"),
        (attr.include.is_some(), "`include`"),
        (attr.opclass.is_some(), "`opclass`"),
        (attr.with.is_some(), "`with`"),
    ]
    .into_iter()
    .filter_map(|(has, what)| has.then_some(what))
    .collect();
    if !options.is_empty() {
        refuse(format!(
            "a primary key's index is a plain b-tree over every row (PostgreSQL's `ADD PRIMARY KEY USING INDEX` \
             takes no other): drop {}",
            options.join(", ")
        ));
    }
    let key: Vec<&str> = columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.as_str())
        .collect();
    if !resolved.is_empty() && resolved.iter().map(String::as_str).ne(key.iter().copied()) {
        refuse(format!(
            "a primary key index is on the model's key, the fields marked `#[straddle(primary_key)]` in field \
             order: `on({})`, not `on({})`",
            key.join(", "),
            resolved.join(", ")
        ));
    }
    ok
}

/// PostgreSQL's index methods.
const INDEX_METHODS: [&str; 6] = ["btree", "hash", "gist", "spgist", "gin", "brin"];

/// Whether every engine in `dialects` is one of `only`, which have `what`; the others
/// reported, on `span`.
pub(super) fn engines_have(
    cx: &Ctxt,
    span: proc_macro2::Span,
    what: &str,
    only: &[Dialect],
    dialects: &[Dialect],
) -> bool {
    let lacking: Vec<String> = dialects
        .iter()
        .filter(|d| !only.contains(d))
        .map(|d| d.to_string())
        .collect();
    if !lacking.is_empty() {
        let mut keep: Vec<&str> = dialects
            .iter()
            .filter(|d| only.contains(d))
            .map(|d| d.key())
            .collect();
        if keep.is_empty() {
            keep = only.iter().map(|d| d.key()).collect();
        }
        cx.error_at(
            span,
            format!(
                "{} {} no {what}\nhelp: limit the model with `dialects({})`",
                lacking.join(" and "),
                if lacking.len() == 1 { "has" } else { "have" },
                keep.join(", ")
            ),
        );
    }
    lacking.is_empty()
}

/// An index's `predicate`, `using` and `include`, checked: where the engines have them,
/// over columns of the model that are not changing; a UNIQUE constraint's index is a
/// plain b-tree (PostgreSQL's `ADD CONSTRAINT … USING INDEX` takes nothing else).
fn index_options(
    cx: &Ctxt,
    attr: &IndexAttr,
    columns: &[Column],
    dialects: &[Dialect],
    ok: &mut bool,
) -> (Option<crate::expr::SqlExpr>, Option<String>, Vec<String>) {
    let refuse = |span, what: &str, only: &[Dialect]| engines_have(cx, span, what, only, dialects);
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let predicate = attr.predicate.as_ref().and_then(|text| {
        *ok &= refuse(text.span(), "partial indexes (`predicate`)", &[Dialect::Postgres, Dialect::Sqlite]);
        let a = analyze(cx, text, "predicate", dialects, &names)?;
        if let Some(src) = a
            .expr
            .sources
            .iter()
            .find(|s| columns.iter().any(|c| c.name == **s && c.change.is_some()))
        {
            cx.error_at(
                text.span(),
                format!("the predicate reads `{src}`, whose own change is in flight: index it once that has settled"),
            );
            *ok = false;
        }
        Some(a.expr)
    });
    let method = attr.using.as_ref().and_then(|text| {
        let m = text.value().to_ascii_lowercase();
        if !INDEX_METHODS.contains(&m.as_str()) {
            cx.error_at(
                text.span(),
                format!(
                    "`using` takes one of {}, not `{}`",
                    INDEX_METHODS.join(", "),
                    text.value()
                ),
            );
            *ok = false;
            return None;
        }
        *ok &= refuse(text.span(), "index methods (`using`)", &[Dialect::Postgres]);
        Some(m)
    });
    let include = match &attr.include {
        None => Vec::new(),
        Some((span, cols)) => {
            *ok &= refuse(*span, "covering indexes (`include`)", &[Dialect::Postgres]);
            cols.iter()
                .filter_map(
                    |(s, col)| match columns.iter().find(|c| c.name == *col || c.field == *col) {
                        Some(c) if c.change.is_none() => Some(c.name.clone()),
                        Some(_) => {
                            cx.error_at(
                                *s,
                                format!("`{col}` has a change in flight: include it once that has settled"),
                            );
                            *ok = false;
                            None
                        }
                        None => {
                            cx.error_at(*s, format!("`{col}` is not a column of this model"));
                            *ok = false;
                            None
                        }
                    },
                )
                .collect()
        }
    };
    if let Some(s) = attr.constraint
        && (predicate.is_some() || method.as_deref().is_some_and(|m| m != "btree"))
    {
        cx.error_at(
            s,
            "a UNIQUE constraint's index is a whole-table b-tree: drop `predicate` / `using`, or `constraint` (a \
             unique index enforces the rule as well)",
        );
        *ok = false;
    }
    (predicate, method, include)
}

fn column_name(f: &FieldDecl<'_>) -> String {
    match &f.attrs.column {
        Some((_, name)) => name.clone(),
        None => f.ident.to_string().trim_start_matches("r#").to_string(),
    }
}

fn dialects(cx: &Ctxt, decl: &Decl<'_>, enabled: &[Dialect]) -> Vec<Dialect> {
    if enabled.is_empty() {
        cx.error_spanned_by(
            decl.ident,
            "no database enabled: turn on a feature of the `straddle` crate: `postgres`, `mysql` or `sqlite`",
        );
        return Vec::new();
    }
    match &decl.attrs.dialects {
        None => enabled.to_vec(),
        Some((span, listed)) => {
            for d in listed {
                if !enabled.contains(d) {
                    cx.error_at(
                        *span,
                        format!(
                            "`{}` is listed, but the `{}` feature of `straddle` is off",
                            d.key(),
                            d.key()
                        ),
                    );
                }
            }
            if listed.is_empty() {
                cx.error_at(*span, "`dialects(...)` lists no database");
            }
            listed.iter().copied().filter(|d| enabled.contains(d)).collect()
        }
    }
}

fn column(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    names: &[String],
    dialects: &[Dialect],
) -> Option<Column> {
    let name = column_name(f);
    let named = match &f.attrs.column {
        Some((span, n)) => identifier(cx, *span, "column", n, dialects),
        None => identifier(cx, f.ident.span(), "column", &name, dialects),
    };
    let Some(shape) = &f.shape else {
        cx.error_spanned_by(
            f.ty,
            "Straddle cannot map this type to a column: use a plain type (i64, String, …) or `Option<T>` \
             for a nullable column",
        );
        return None;
    };
    let types_ok = f
        .attrs
        .sql_type
        .as_ref()
        .is_none_or(|(span, o)| sql_types_ok(cx, *span, o, dialects));
    let (sql, missing) = column_types(&shape.key, f.attrs.sql_type.as_ref().map(|s| &s.1), dialects);
    if !missing.is_empty() {
        cx.error_spanned_by(
            f.ty,
            format!(
                "`{}` has no column type on {}: sqlx cannot bind it there. Use a supported type{}, or \
                 name the column type with `sql_type = \"…\"` for a type that implements sqlx's Encode/Decode",
                shape.display,
                missing.join(" and "),
                if shape.key.starts_with('u') { " (e.g. i64 instead of an unsigned type)" } else { "" }
            ),
        );
    }
    let change = change(cx, decl, f, &name, names, dialects);
    if f.attrs.added.is_some() && f.attrs.primary_key.is_some() {
        cx.error_spanned_by(
            f.ident,
            "a new column cannot join the primary key: the previous version finds rows by the key it has; create a \
             new table instead\nhelp: a table the database has without a primary key gets one on columns it has \
             with `index(name = \"…\", on(<key fields>), primary_key, phase = …)`",
        );
    }
    for (span, what) in [
        (f.attrs.renamed.as_ref().map(|r| r.0), "renamed"),
        (f.attrs.retyped.as_ref().map(|r| r.0), "retyped"),
        (f.attrs.retired.as_ref().map(|r| r.0), "retired"),
        (f.attrs.nullable.as_ref().map(|r| r.0), "made nullable"),
        (f.attrs.not_null.as_ref().map(|r| r.0), "made NOT NULL"),
    ] {
        if let (Some(span), Some(_)) = (span, f.attrs.primary_key) {
            cx.error_at(
                span,
                format!(
                    "a primary key cannot be {what} in place: the previous version finds rows by it; create a new \
                     table instead"
                ),
            );
        }
    }
    let (default, comment) = created_column_options(cx, decl, f, names, dialects);
    let identity = identity_key(cx, decl, f);
    if !named || !types_ok {
        return None;
    }
    Some(Column {
        field: f.ident.to_string().trim_start_matches("r#").to_string(),
        name,
        ty: ColumnType {
            rust: shape.display.clone(),
            sql,
        },
        nullable: shape.nullable,
        primary_key: f.attrs.primary_key.is_some(),
        change,
        default,
        comment,
        identity,
    })
}

/// `identity` on a field: the database generates the key — on the one integer key field
/// (not `Option`), with no default of its own. Whether the column has it in the database
/// is `straddle.lock`'s to say for a table that exists (the history check); a table
/// created in this release gets it in its `CREATE TABLE`.
fn identity_key(cx: &Ctxt, decl: &Decl<'_>, f: &FieldDecl<'_>) -> bool {
    let Some(span) = f.attrs.identity else {
        return false;
    };
    let keys = decl
        .fields
        .iter()
        .filter(|f| f.attrs.primary_key.is_some())
        .count();
    let integer = f
        .shape
        .as_ref()
        .is_some_and(|s| !s.nullable && literal_class(&s.key) == LiteralClass::Integer);
    let why = if f.attrs.primary_key.is_none() {
        Some("`identity` is for the primary key field: the database generates the key")
    } else if keys > 1 {
        Some("`identity` needs a single-column primary key: a composite key is the application's to give")
    } else if !integer {
        Some("`identity` needs an integer key (`i32`, `i64`): the database counts it")
    } else if f.attrs.default.is_some() || f.attrs.default_sql.is_some() {
        Some("an `identity` key has the database's value, not a default")
    } else {
        None
    };
    if let Some(why) = why {
        cx.error_at(span, why);
        return false;
    }
    true
}

/// Whether a comment's text is refused (reported): control characters other than line
/// breaks and tabs.
fn comment_problem(cx: &Ctxt, text: &syn::LitStr) -> bool {
    let bad = text
        .value()
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t');
    if bad {
        cx.error_at(
            text.span(),
            "a comment holds a control character: only line breaks and tabs",
        );
    }
    bad
}

/// `default = …`, `default_sql = "…"` and `comment = "…"` on a field: what its column gets
/// in the `CREATE TABLE` of a table created in this release. On an existing table they
/// would say nothing the database does: a default changes with `default_changed(...)`.
/// An expression default may call any function (there are no rows to rewrite) but read
/// no column; SQLite has no column comments.
fn created_column_options(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    names: &[String],
    dialects: &[Dialect],
) -> (Option<DefaultValue>, Option<String>) {
    let a = &f.attrs;
    let spans = [
        a.default.as_ref().map(|d| ("default", d.0)),
        a.default_sql.as_ref().map(|d| ("default_sql", d.span())),
        a.comment.as_ref().map(|c| ("comment", c.span())),
    ];
    if decl.attrs.created.is_none() {
        for (key, span) in spans.into_iter().flatten() {
            cx.error_at(
                span,
                format!(
                    "`{key}` goes into the `CREATE TABLE` of a table created in this release (`created(...)` on the \
                     struct), and this table exists\nhelp: {}",
                    if key == "comment" {
                        "a comment is not a declared change: set it by hand (`COMMENT ON COLUMN` is metadata only)"
                    } else {
                        "change an existing column's default with `default_changed(from = …, to = …, phase = …)`; a \
                         new column's with `added(default = …)`"
                    }
                ),
            );
        }
        return (None, None);
    }
    let both = a.default_sql.as_ref().and(a.default.as_ref()).map(|d| d.0);
    let mut default = f
        .shape
        .as_ref()
        .and_then(|shape| constant_default(cx, &a.default, both, shape));
    if let Some(text) = &a.default_sql
        && let Some(analysis) = analyze(cx, text, "default_sql", dialects, names)
    {
        if analysis.expr.sources.is_empty() {
            default = Some(DefaultValue::Sql(analysis.expr));
        } else {
            cx.error_at(
                text.span(),
                format!(
                    "a default cannot read other columns (`{}`)",
                    analysis.expr.sources.join("`, `")
                ),
            );
        }
    }
    let comment = a.comment.as_ref().and_then(|text| {
        if comment_problem(cx, text) {
            return None;
        }
        engines_have(
            cx,
            text.span(),
            "column comments",
            &[Dialect::Postgres, Dialect::MySql],
            dialects,
        )
        .then(|| text.value())
    });
    (default, comment)
}

/// Report every `sql_type` (or `from_sql_type`) text that is not a plain data type on
/// the dialect it is given for; whether all are.
fn sql_types_ok(cx: &Ctxt, span: proc_macro2::Span, o: &SqlTypeOverride, dialects: &[Dialect]) -> bool {
    let given: Vec<(Dialect, &String)> = match o {
        SqlTypeOverride::All(t) => dialects.iter().map(|d| (*d, t)).collect(),
        SqlTypeOverride::PerDialect(m) => m.iter().map(|(d, t)| (*d, t)).collect(),
    };
    let mut reported: Vec<String> = Vec::new();
    for (d, t) in given {
        if let Some(p) = sql::data_type_problem(t, d)
            && !reported.contains(&p)
        {
            cx.error_at(span, &p);
            reported.push(p);
        }
    }
    reported.is_empty()
}

/// The column type per dialect of Rust type `key` (the last segment, see
/// [`crate::types::sql_type`]), `sql_type`-style overrides first; and the dialects with
/// none.
fn column_types(
    key: &str,
    overrides: Option<&SqlTypeOverride>,
    dialects: &[Dialect],
) -> (BTreeMap<Dialect, String>, Vec<&'static str>) {
    let overrides: BTreeMap<Dialect, String> = match overrides {
        Some(SqlTypeOverride::All(t)) => dialects.iter().map(|d| (*d, t.clone())).collect(),
        Some(SqlTypeOverride::PerDialect(m)) => m.clone(),
        None => BTreeMap::new(),
    };
    let mut sql = BTreeMap::new();
    let mut missing = Vec::new();
    for &d in dialects {
        match overrides
            .get(&d)
            .cloned()
            .or_else(|| sql_type(d, key).map(str::to_string))
        {
            Some(t) => {
                sql.insert(d, t);
            }
            None => missing.push(d.display_name()),
        }
    }
    (sql, missing)
}

/// The field's change: one of `added`, `renamed`, `retired` (one per release).
fn change(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
) -> Option<Change> {
    let declared: Vec<(proc_macro2::Span, &str)> = [
        f.attrs.added.as_ref().map(|a| (a.0, "added")),
        f.attrs.renamed.as_ref().map(|a| (a.0, "renamed")),
        f.attrs.retyped.as_ref().map(|a| (a.0, "retyped")),
        f.attrs.retired.as_ref().map(|a| (a.0, "retired")),
        f.attrs.nullable.as_ref().map(|a| (a.0, "nullable")),
        f.attrs.not_null.as_ref().map(|a| (a.0, "not_null")),
        f.attrs.default_changed.as_ref().map(|a| (a.0, "default_changed")),
        f.attrs.comment_changed.as_ref().map(|a| (a.0, "comment_changed")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [(_, first), rest @ ..] = declared.as_slice() {
        for (span, other) in rest {
            cx.error_at(
                *span,
                format!(
                    "`{name}` is already `{first}` in this release, so it cannot also be `{other}`: a column goes \
                     through one change at a time (ship `{first}` through contract first)"
                ),
            );
        }
        if !rest.is_empty() {
            return None;
        }
    }
    if let Some((span, added)) = &f.attrs.added {
        return added_column(cx, decl, f, *span, added, name, names, dialects).map(Change::Add);
    }
    if let Some((span, renamed)) = &f.attrs.renamed {
        return renamed_column(cx, *span, renamed, name, names, dialects).map(Change::Rename);
    }
    if let Some((span, retyped)) = &f.attrs.retyped {
        return retyped_column(cx, decl, f, *span, retyped, names, dialects).map(Change::Retype);
    }
    if let Some((span, retired)) = &f.attrs.retired {
        return retired_column(cx, f, *span, retired).map(Change::Retire);
    }
    if let Some((span, d)) = &f.attrs.default_changed {
        let phase = required_phase(cx, *span, "default_changed", d.phase);
        let shape = f.shape.as_ref()?;
        let mut ok = true;
        let mut value = |v: &Option<(proc_macro2::Span, Option<LiteralValue>)>| match v {
            Some((s, Some(lit))) => {
                let l = literal(cx, *s, lit, &shape.key, &shape.display);
                ok &= l.is_some();
                l
            }
            Some((_, None)) => {
                ok = false;
                None
            }
            None => None,
        };
        let (from, to) = (value(&d.from), value(&d.to));
        if from == to && ok {
            cx.error_at(
                *span,
                "`default_changed` changes nothing: give the current default as `from` and the new one as `to` (leave \
                 one out for no default)",
            );
            return None;
        }
        return (ok && phase.is_some()).then(|| {
            Change::DefaultChanged(DefaultChange {
                phase: phase.expect("checked"),
                from,
                to,
            })
        });
    }
    if let Some((span, c)) = &f.attrs.comment_changed {
        let phase = required_phase(cx, *span, "comment_changed", c.phase);
        let mut ok = engines_have(
            cx,
            *span,
            "column comments",
            &[Dialect::Postgres, Dialect::MySql],
            dialects,
        );
        let mut text = |v: &Option<syn::LitStr>| {
            let v = v.as_ref()?;
            if comment_problem(cx, v) {
                ok = false;
            }
            Some(v.value())
        };
        let (from, to) = (text(&c.from), text(&c.to));
        if from == to {
            cx.error_at(
                *span,
                "`comment_changed` changes nothing: give the current comment as `from` and the new one as `to` (leave \
                 one out for no comment)",
            );
            return None;
        }
        return (ok && phase.is_some()).then(|| {
            Change::CommentChanged(CommentChange {
                phase: phase.expect("checked"),
                from,
                to,
            })
        });
    }
    if let Some((span, n)) = &f.attrs.not_null {
        return not_null_column(cx, decl, f, *span, n, name, names, dialects).map(Change::NotNull);
    }
    if let Some((span, phase)) = &f.attrs.nullable {
        let phase = required_phase(cx, *span, "nullable", *phase);
        let shape = f.shape.as_ref()?;
        if !shape.nullable {
            cx.error_spanned_by(
                f.ty,
                format!(
                    "a column becoming nullable is read as `Option<{}>` from this release on: make the field \
                     `Option<{}>`",
                    shape.display, shape.display
                ),
            );
            return None;
        }
        return phase.map(|phase| Change::Nullable(NullableColumn { phase }));
    }
    None
}

/// `not_null(fill = …)`: the field is `T` (this release writes a value and reads NULL as
/// the fill), and `fill` an expression over the row's other, unchanging columns.
#[allow(clippy::too_many_arguments)]
fn not_null_column(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    span: proc_macro2::Span,
    n: &NotNull,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
) -> Option<NotNullColumn> {
    let phase = required_phase(cx, span, "not_null", n.phase);
    let shape = f.shape.as_ref()?;
    let mut ok = true;
    if shape.nullable {
        cx.error_spanned_by(
            f.ty,
            format!(
                "a column becoming NOT NULL is read as `{}` from this release on (a NULL reads as `fill`): make the \
                 field `{}`",
                shape.display.trim_start_matches("Option<").trim_end_matches('>'),
                shape.display.trim_start_matches("Option<").trim_end_matches('>')
            ),
        );
        ok = false;
    }
    let table = decl.attrs.table.as_ref().map(|(_, t)| t.as_str()).unwrap_or("?");
    let fill = match &n.fill {
        Some((s, text)) => backfill_expr(cx, decl, *s, text, table, name, names, dialects, "fill"),
        None => {
            cx.error_at(
                span,
                format!(
                    "`not_null(...)` needs `fill = \"<sql expr>\"`: what the NULLs of `{name}` become (the previous \
                     release keeps writing them until contract) — e.g. `fill = \"''\"` or `fill = \"lower(email)\"`"
                ),
            );
            None
        }
    };
    (ok && phase.is_some() && fill.is_some()).then(|| NotNullColumn {
        phase: phase.expect("checked"),
        fill: fill.expect("checked"),
        throttle: throttle_of(&n.throttle),
    })
}

pub(super) fn required_phase(
    cx: &Ctxt,
    span: proc_macro2::Span,
    what: &str,
    phase: Option<(proc_macro2::Span, Option<Phase>)>,
) -> Option<Phase> {
    match phase {
        Some((_, p)) => p,
        None => {
            cx.error_at(
                span,
                format!("`{what}(...)` needs `phase = expand` (then backfill, then contract)"),
            );
            None
        }
    }
}

fn throttle_of(values: &[(proc_macro2::Span, &'static str, u64)]) -> Throttle {
    let mut throttle = Throttle::default();
    for (_, key, value) in values {
        match *key {
            "max_rows_per_sec" => throttle.max_rows_per_sec = Some(*value),
            "pause_ms" => throttle.pause_ms = Some(*value),
            "max_replica_lag_ms" => throttle.max_replica_lag_ms = Some(*value),
            "max_load" => throttle.max_load = Some(*value),
            _ => throttle.batch_time_ms = Some(*value),
        }
    }
    throttle
}

fn renamed_column(
    cx: &Ctxt,
    span: proc_macro2::Span,
    renamed: &Renamed,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
) -> Option<RenameColumn> {
    let phase = required_phase(cx, span, "renamed", renamed.phase);
    let from = match &renamed.from {
        None => {
            cx.error_at(
                span,
                format!("`renamed(...)` needs the column's previous name: `renamed(from = \"old_name\", …)` (`{name}` is the new one)"),
            );
            None
        }
        Some((s, from)) if from == name => {
            cx.error_at(
                *s,
                format!("`{name}` is renamed from itself: `from` is the column's previous name"),
            );
            None
        }
        Some((s, from)) if names.contains(from) => {
            cx.error_at(
                *s,
                format!(
                    "`{from}` is still a column of this model: a rename replaces the old column, so the old name \
                     cannot stay declared\nhelp: remove the field mapping `{from}`; this release reads and writes it \
                     through `{name}`"
                ),
            );
            None
        }
        Some((s, from)) if !identifier(cx, *s, "column", from, dialects) => None,
        Some((_, from)) => Some(from.clone()),
    };
    Some(RenameColumn {
        phase: phase?,
        from: from?,
        throttle: throttle_of(&renamed.throttle),
    })
}

fn retired_column(
    cx: &Ctxt,
    f: &FieldDecl<'_>,
    span: proc_macro2::Span,
    retired: &Retired,
) -> Option<RetireColumn> {
    let shape = f.shape.as_ref()?;
    let phase = required_phase(cx, span, "retired", retired.phase);
    let mut ok = true;
    if !shape.nullable {
        cx.error_spanned_by(
            f.ty,
            format!(
                "a retired column is never read by this release: make the field `Option<{}>` (it reads as `None`)",
                shape.display
            ),
        );
        ok = false;
    }
    let default = match &retired.default {
        Some((span, Some(value))) => {
            let lit = literal(cx, *span, value, &shape.key, &shape.display);
            ok &= lit.is_some();
            lit
        }
        Some((_, None)) => {
            ok = false;
            None
        }
        None => None,
    };
    ok.then_some(RetireColumn {
        phase: phase?,
        default,
    })
}

#[allow(clippy::too_many_arguments)]
fn added_column(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    added_span: proc_macro2::Span,
    added: &Added,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
) -> Option<AddColumn> {
    let shape = f.shape.as_ref()?;
    let table = decl.attrs.table.as_ref().map(|(_, t)| t.as_str()).unwrap_or("?");
    let phase = required_phase(cx, added_span, "added", added.phase);

    let both = added
        .default
        .as_ref()
        .and(added.default_sql.as_ref())
        .map(|d| d.0);
    let mut default = constant_default(cx, &added.default, both, shape);
    if let Some((span, text)) = &added.default_sql {
        default = default_sql(cx, *span, text, table, name, names, dialects)
            .map(DefaultValue::Sql)
            .or(default);
    }

    let mut backfill = None;
    if let Some((span, text)) = &added.backfill {
        if added.default.is_some() || added.default_sql.is_some() {
            cx.error_at(
                *span,
                "give either `backfill` (existing rows computed from other columns) or a default \
                 (every row gets the same value), not both",
            );
        }
        backfill = backfill_expr(cx, decl, *span, text, table, name, names, dialects, "backfill");
    }

    let has_fill = added.default.is_some() || added.default_sql.is_some() || added.backfill.is_some();
    if !shape.nullable && !has_fill {
        cx.error_spanned_by(
            f.ident,
            format!(
                "`{name}` is added as NOT NULL to existing table `{table}` with neither a default nor a backfill\n\
                 help: the table would be scanned under an exclusive lock and the running app version's INSERTs \
                 would fail; add `backfill = \"<sql expr>\"` to fill existing rows in batches, or `default = <constant>`, \
                 or make the field `Option<{}>`",
                shape.display
            ),
        );
    }
    for (span, key, _) in &added.throttle {
        if added.backfill.is_none() {
            cx.error_at(
                *span,
                format!("`{key}` paces a backfill: it needs `backfill = \"…\"`"),
            );
        }
    }
    let throttle = throttle_of(&added.throttle);
    Some(AddColumn {
        phase: phase?,
        default,
        backfill,
        throttle,
    })
}

/// A constant `default = …` for a field of `shape`; `both`: where to report that
/// `default_sql` was given beside it.
fn constant_default(
    cx: &Ctxt,
    default: &Option<(proc_macro2::Span, Option<LiteralValue>)>,
    both: Option<proc_macro2::Span>,
    shape: &super::ast::TypeShape,
) -> Option<DefaultValue> {
    if let Some(span) = both {
        cx.error_at(
            span,
            "give either `default` (a constant) or `default_sql` (an expression), not both",
        );
    }
    match default {
        Some((span, Some(value))) => {
            literal(cx, *span, value, &shape.key, &shape.display).map(DefaultValue::Literal)
        }
        _ => None,
    }
}

fn literal(
    cx: &Ctxt,
    span: proc_macro2::Span,
    value: &LiteralValue,
    key: &str,
    display: &str,
) -> Option<Literal> {
    let class = literal_class(key);
    let lit = match (value, class) {
        (LiteralValue::Int(i), LiteralClass::Integer | LiteralClass::Float) => Literal::Number(i.clone()),
        (LiteralValue::Float(x), LiteralClass::Float) => Literal::Number(x.clone()),
        (LiteralValue::Bool(b), LiteralClass::Bool) => Literal::Bool(*b),
        (LiteralValue::Str(s), LiteralClass::Text) => Literal::Str(s.clone()),
        (_, LiteralClass::Other) => {
            cx.error_at(
                span,
                format!("a literal default does not fit `{display}`: use `default_sql = \"…\"`"),
            );
            return None;
        }
        _ => {
            cx.error_at(
                span,
                format!("this default does not fit the field's type `{display}`"),
            );
            return None;
        }
    };
    Some(lit)
}

fn default_sql(
    cx: &Ctxt,
    span: proc_macro2::Span,
    text: &syn::LitStr,
    table: &str,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
) -> Option<crate::expr::SqlExpr> {
    let analysis = analyze(cx, text, "default_sql", dialects, names)?;
    let mut ok = true;
    // Known non-volatile functions only, unqualified or in pg_catalog.
    let known = |f: &str| {
        let (schema, name) = f.rsplit_once('.').unwrap_or(("pg_catalog", f));
        schema == "pg_catalog" && NON_VOLATILE_FUNCTIONS.contains(&name)
    };
    let unknown: Vec<&String> = analysis
        .functions
        .iter()
        .filter(|f| !VOLATILE_FUNCTIONS.contains(&f.as_str()) && !known(f))
        .collect();
    if !unknown.is_empty() {
        cx.error_at(
            span,
            format!(
                "{} not {} Straddle knows to be non-volatile: if {} volatile, adding `{name}` to `{table}` with \
                 this default rewrites the whole table under an ACCESS EXCLUSIVE lock\n\
                 help: use `backfill = \"{}\"` instead: the column is added nullable, a trigger fills new rows and \
                 existing rows are filled in batches",
                unknown.iter().map(|f| format!("`{f}()`")).collect::<Vec<_>>().join(", "),
                if unknown.len() == 1 { "is a function" } else { "are functions" },
                if unknown.len() == 1 { "it is" } else { "one is" },
                text.value()
            ),
        );
        ok = false;
    } else if let Some(f) = analysis
        .functions
        .iter()
        .find(|f| VOLATILE_FUNCTIONS.contains(&f.as_str()))
    {
        cx.error_at(
            span,
            format!(
                "`{f}()` is volatile: adding `{name}` to `{table}` with this default rewrites the whole table under \
                 an ACCESS EXCLUSIVE lock on PostgreSQL (MySQL copies it)\n\
                 help: use `backfill = \"{}\"` instead: the column is added nullable, a trigger fills new rows and \
                 existing rows are filled in batches",
                text.value()
            ),
        );
        ok = false;
    }
    if !analysis.expr.sources.is_empty() {
        cx.error_at(
            span,
            format!(
                "a default cannot read other columns (`{}`): use `backfill = \"…\"` to compute `{name}` from them",
                analysis.expr.sources.join("`, `")
            ),
        );
        ok = false;
    }
    for d in dialects {
        let why = match d {
            Dialect::Postgres => continue,
            Dialect::MySql => {
                "MySQL/MariaDB copy the whole table (ALGORITHM=COPY) to add a column with an expression default"
            }
            Dialect::Sqlite => "SQLite cannot add a column with an expression default",
        };
        cx.error_at(
            span,
            format!(
                "{why}\nhelp: use `backfill = \"{}\"` (filled in batches), a constant `default = …`, or limit the model \
                 to PostgreSQL with `#[straddle(dialects(postgres))]`",
                text.value()
            ),
        );
        ok = false;
    }
    ok.then_some(analysis.expr)
}

/// A user SQL expression (`key` names the attribute it is given in), parsed per dialect
/// and resolved against the model's columns; every problem reported on the string.
fn analyze(
    cx: &Ctxt,
    text: &syn::LitStr,
    key: &str,
    dialects: &[Dialect],
    names: &[String],
) -> Option<sql::Analysis> {
    match sql::analyze(&text.value(), dialects, names) {
        Ok(a) => Some(a),
        Err(errors) => {
            for e in errors {
                cx.error_at(text.span(), format!("{key}: {e}"));
            }
            None
        }
    }
}

/// A backfill batches by a single-column integer or text primary key: whether the
/// table has one (reported at `span` otherwise; `what` names the declaration).
fn backfill_key(cx: &Ctxt, decl: &Decl<'_>, span: proc_macro2::Span, table: &str, what: &str) -> bool {
    let keys: Vec<&FieldDecl<'_>> = decl
        .fields
        .iter()
        .filter(|f| f.attrs.primary_key.is_some())
        .collect();
    let mut ok = !keys.is_empty(); // no key: reported once for the struct
    // Batches are ranges of the key (a composite key's in tuple order): each column must
    // compare and bind as an integer or a string.
    for key in &keys {
        let integer_or_text = key
            .shape
            .as_ref()
            .is_some_and(|s| matches!(literal_class(&s.key), LiteralClass::Integer | LiteralClass::Text));
        if !integer_or_text {
            cx.error_at(
                span,
                format!(
                    "{what} batches by primary key, and `{table}`'s key `{}` is neither an integer nor a string",
                    key.ident
                ),
            );
            ok = false;
        }
    }
    ok
}

/// `retyped(from = "<old Rust type>", up, down, phase)`: the previous type must map to a
/// column on every dialect and differ from the field's; `up`/`down` read only the column
/// itself (the engine's own conversion when left out); the conversion is batched, so the
/// table needs a usable key.
fn retyped_column(
    cx: &Ctxt,
    decl: &Decl<'_>,
    f: &FieldDecl<'_>,
    span: proc_macro2::Span,
    r: &Retyped,
    names: &[String],
    dialects: &[Dialect],
) -> Option<RetypeColumn> {
    let shape = f.shape.as_ref()?;
    let name = column_name(f);
    let table = decl.attrs.table.as_ref().map(|(_, t)| t.as_str()).unwrap_or("?");
    let phase = required_phase(cx, span, "retyped", r.phase);
    let (new_types, _) = column_types(&shape.key, f.attrs.sql_type.as_ref().map(|s| &s.1), dialects);
    let new_sql = |d: Dialect| new_types.get(&d).cloned().unwrap_or_default();
    let mut ok = true;
    let from_sql_type = r.from_sql_type.as_ref();
    if let Some((s, o)) = from_sql_type
        && !sql_types_ok(cx, *s, o, dialects)
    {
        return None;
    }
    // The previous Rust type: `from`, or the field's own when only the column type changed.
    let old: Option<(String, String)> = match &r.from {
        None if from_sql_type.is_some() => Some((shape.key.clone(), shape.display.clone())),
        None => {
            cx.error_at(
                span,
                format!(
                    "`retyped(...)` needs the column's previous Rust type: `retyped(from = \"i32\", …)` (`{}` is the \
                     new one), or its previous column type: `retyped(from_sql_type = \"VARCHAR(20)\", …)`",
                    shape.display
                ),
            );
            None
        }
        Some((s, text)) => {
            let parsed = syn::parse_str::<syn::Type>(text)
                .ok()
                .and_then(|ty| super::ast::type_shape(&ty));
            match parsed {
                None => {
                    cx.error_at(*s, format!("`{text}` is not a type Straddle maps to a column"));
                    None
                }
                Some(old) if old.nullable => {
                    cx.error_at(
                        *s,
                        format!(
                            "`from` is the previous type without `Option`: a retyped column keeps its nullability \
                             (`from = \"{}\"`)",
                            old.display
                        ),
                    );
                    None
                }
                Some(old) if old.key == shape.key && from_sql_type.is_none() => {
                    cx.error_at(
                        *s,
                        format!("`{name}` is retyped from its own type `{}`", old.display),
                    );
                    None
                }
                Some(old) => Some((old.key, old.display)),
            }
        }
    };
    let from = old.and_then(|(key, display)| {
        let (sql, missing) = column_types(&key, from_sql_type.map(|s| &s.1), dialects);
        let at = from_sql_type
            .map(|s| s.0)
            .or(r.from.as_ref().map(|f| f.0))
            .unwrap_or(span);
        if !missing.is_empty() {
            cx.error_at(
                at,
                format!("`{display}` has no column type on {}", missing.join(" and ")),
            );
            return None;
        }
        let unchanged = display == shape.display
            && dialects
                .iter()
                .all(|&d| crate::types::same_sql_type(d, &sql[&d], &new_sql(d)));
        if unchanged {
            cx.error_at(
                at,
                format!("`retyped` changes nothing: `{name}` has the column type it had on every database"),
            );
            return None;
        }
        Some(ColumnType { rust: display, sql })
    });
    if let (Some(old), Some(lit)) = (&from, r.up.as_ref().or(r.down.as_ref())) {
        let alike: Vec<&str> = dialects
            .iter()
            .filter(|&&d| crate::types::same_sql_type(d, old.sql(d), &new_sql(d)))
            .map(|d| d.display_name())
            .collect();
        if !alike.is_empty() {
            cx.error_at(
                lit.span(),
                format!(
                    "`{}` and `{}` are the same column type on {}, so `{name}` does not change there and `up`/`down` \
                     would never run: a conversion must mean the same on every database\nhelp: leave out `up`/`down` \
                     (the values keep their meaning), or limit the model with `#[straddle(dialects(...))]`",
                    old.rust,
                    shape.display,
                    alike.join(" and ")
                ),
            );
            ok = false;
        }
    }
    ok &= backfill_key(cx, decl, span, table, "converting existing rows");
    let conversion = |lit: &Option<syn::LitStr>, key: &str, to: &dyn Fn(Dialect) -> Option<String>| {
        let Some(lit) = lit else {
            let types: Option<Vec<(Dialect, String)>> =
                dialects.iter().map(|&d| to(d).map(|t| (d, t))).collect();
            let types = types?;
            return Some(crate::expr::SqlExpr::conversion(
                &name,
                types.iter().map(|(d, t)| (*d, t.as_str())),
            ));
        };
        let analysis = analyze(cx, lit, key, dialects, names)?;
        if let Some(other) = analysis.expr.sources.iter().find(|s| **s != name) {
            cx.error_at(
                lit.span(),
                format!(
                    "`{key}` converts one value of `{name}`: it may read `{name}` only, not `{other}` (the trigger \
                     converts each write on its own)"
                ),
            );
            return None;
        }
        Some(analysis.expr)
    };
    let new_type = |d: Dialect| new_types.get(&d).cloned();
    let old_type = |d: Dialect| from.as_ref().map(|t| t.sql(d).to_string());
    let up = conversion(&r.up, "up", &new_type);
    let down = conversion(&r.down, "down", &old_type);
    if !ok {
        return None;
    }
    Some(RetypeColumn {
        phase: phase?,
        from: from?,
        up: up?,
        down: down?,
        throttle: throttle_of(&r.throttle),
    })
}

#[allow(clippy::too_many_arguments)]
fn backfill_expr(
    cx: &Ctxt,
    decl: &Decl<'_>,
    span: proc_macro2::Span,
    text: &syn::LitStr,
    table: &str,
    name: &str,
    names: &[String],
    dialects: &[Dialect],
    purpose: &str,
) -> Option<crate::expr::SqlExpr> {
    let mut ok = backfill_key(cx, decl, span, table, purpose);
    let analysis = analyze(cx, text, purpose, dialects, names)?;
    for src in &analysis.expr.sources {
        if src == name {
            cx.error_at(span, format!("{purpose} of `{name}` reads `{name}` itself"));
            ok = false;
        } else if let Some(what) = decl.fields.iter().find(|f| column_name(f) == *src).and_then(|f| {
            let a = &f.attrs;
            (a.added.as_ref().map(|_| "added"))
                .or(a.renamed.as_ref().map(|_| "renamed"))
                .or(a.retyped.as_ref().map(|_| "retyped"))
                .or(a.retired.as_ref().map(|_| "retired"))
        }) {
            cx.error_at(
                span,
                format!(
                    "{kind} of `{name}` reads `{src}`, which is itself being {what}: {kind} from columns that \
                     exist, under their names, before and after this release",
                    kind = purpose
                ),
            );
            ok = false;
        }
    }
    ok.then_some(analysis.expr)
}
