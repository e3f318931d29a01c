//! The `#[straddle(...)]` attribute grammar, parsed into raw values that keep their
//! spans. No meaning is checked here beyond the grammar itself (see `check.rs`).
//!
//! ```text
//! container:  #[straddle(table = "users", dialects(postgres, sqlite))]
//!             #[straddle(created(phase = expand))]          (a table new in this rollout)
//!             #[straddle(renamed(from = "clients", phase = expand))]  (`table` is the new name)
//!             #[straddle(index(name = "users_email", on(email), unique, constraint, phase = expand))]
//!             #[straddle(dropped_index(name = "users_old", on(legacy), phase = expand))]
//!             #[straddle(check(name = "users_age", expr = "age >= 0", phase = expand))]
//!             #[straddle(foreign_key(name = "orders_user", on(user_id), references = "users(id)",
//!                                    phase = expand))]
//! field:      #[straddle(primary_key)]
//!             #[straddle(column = "db_name")]
//!             #[straddle(sql_type = "VARCHAR(64)")]
//!             #[straddle(sql_type(postgres = "CITEXT", mysql = "VARCHAR(255)"))]
//!             #[straddle(added(phase = backfill, backfill = "lower(email)"))]
//!             #[straddle(added(phase = expand, default = 0))]
//!             #[straddle(added(phase = expand, default_sql = "now()"))]
//!             #[straddle(renamed(from = "email", phase = expand))]
//!             #[straddle(retired(phase = expand))]            (a nullable column)
//!             #[straddle(retired(phase = expand, default = ""))]  (a NOT NULL one)
//!             #[straddle(nullable(phase = expand))]
//!             #[straddle(not_null(fill = "<sql>", phase = expand))]   (NULLs filled, then NOT NULL)
//!             #[straddle(retyped(from = "i32", phase = expand))]
//!             #[straddle(retyped(from = "String", up = "CAST(code AS BIGINT)",
//!                                down = "CAST(code AS TEXT)", phase = expand))]
//!             #[straddle(sql_type = "VARCHAR(80)",
//!                        retyped(from_sql_type = "VARCHAR(20)", phase = expand))]
//! ```

use super::ctxt::Ctxt;
use crate::dialect::Dialect;
use crate::model::Phase;
use proc_macro2::Span;
use quote::ToTokens;
use std::collections::BTreeMap;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;

/// A value set at most once, remembering where.
pub struct Attr<T> {
    name: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Attr<T> {
    /// Not set yet.
    pub fn none(name: &'static str) -> Self {
        Attr { name, value: None }
    }

    /// Set it, reporting a second setting as a duplicate.
    pub fn set(&mut self, cx: &Ctxt, span: Span, value: T) {
        if self.value.is_some() {
            cx.error_at(span, format!("duplicate straddle attribute `{}`", self.name));
        } else {
            self.value = Some((span, value));
        }
    }

    /// The value and where it was set.
    pub fn get(self) -> Option<(Span, T)> {
        self.value
    }
}

/// The struct's attributes.
pub struct Container {
    /// `table = "…"`.
    pub table: Option<(Span, String)>,
    /// `dialects(...)`.
    pub dialects: Option<(Span, Vec<Dialect>)>,
    /// `lock = "path"`: where `straddle.lock` is, relative to the crate root.
    pub lock: Option<(Span, String)>,
    /// `index(...)` and `dropped_index(...)`, in order, with the attribute's span.
    pub indexes: Vec<(Span, IndexAttr)>,
    /// `check(...)`, in order, with the attribute's span.
    pub checks: Vec<(Span, CheckAttr)>,
    /// `foreign_key(...)`, in order, with the attribute's span.
    pub foreign_keys: Vec<(Span, ForeignKeyAttr)>,
    /// `created(phase = …)`: the attribute's span and the phase.
    pub created: Option<(Span, Option<PhaseValue>)>,
    /// `renamed(from = "old", phase = …)` on the struct.
    pub renamed: Option<(Span, RenamedTable)>,
    /// `retired(phase = …, confirm = "…")` on the struct.
    pub retired: Option<(Span, RetiredTable)>,
    /// `sql(...)`, in order, with the attribute's span.
    pub sql_steps: Vec<(Span, SqlStepAttr)>,
}

/// `sql(name = "…", up = "…", down = "…", at = …, phase = …, no_transaction)`: a
/// hand-written step.
pub struct SqlStepAttr {
    /// Its name.
    pub name: Option<(Span, String)>,
    /// The statements going up: one text, or one per dialect.
    pub up: Option<(Span, SqlText)>,
    /// The statements undoing them.
    pub down: Option<(Span, SqlText)>,
    /// The phase that runs it (expand when left out).
    pub at: Option<PhaseValue>,
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// `no_transaction`: its span.
    pub no_transaction: Option<Span>,
}

/// Hand-written SQL: the same text on every dialect, or one per dialect.
pub enum SqlText {
    /// For every dialect.
    All(syn::LitStr),
    /// Per dialect.
    PerDialect(BTreeMap<Dialect, syn::LitStr>),
}

/// `renamed(...)` on the struct.
pub struct RenamedTable {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// Where it comes from (the previous name or type).
    pub from: Option<syn::LitStr>,
}

/// `retired(...)` on the struct.
pub struct RetiredTable {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// The table's name, confirming the drop of its rows.
    pub confirm: Option<syn::LitStr>,
}

/// `foreign_key(name = "…", on(a), references = "parent(id)", phase = …,
/// mysql_unvalidated = true)`.
pub struct ForeignKeyAttr {
    /// Its name.
    pub name: Option<(Span, String)>,
    /// The columns it covers.
    pub on: Option<(Span, Vec<(Span, String)>)>,
    /// The referenced table and columns: `parent(id)`.
    pub references: Option<syn::LitStr>,
    /// On MySQL/MariaDB: add it with the server's validation off, after Straddle checked for orphans.
    pub mysql_unvalidated: bool,
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// A foreign key being dropped (`dropped_foreign_key`).
    pub dropped: bool,
    /// `renamed_foreign_key(from = "old", …)`: whether it is one, and the old name.
    pub renamed: bool,
    /// See `renamed`.
    pub from: Option<(Span, String)>,
    /// Keys its mistyped keys most likely meant.
    pub meant: Vec<String>,
    /// `on_delete = "…"`, `on_update = "…"`: the text and its span.
    pub on_delete: Option<syn::LitStr>,
    /// See `on_delete`.
    pub on_update: Option<syn::LitStr>,
    /// `deferrable`, `initially_deferred`: their spans.
    pub deferrable: Option<Span>,
    /// See `deferrable`.
    pub initially_deferred: Option<Span>,
    /// `fix(col = "<sql>", …)`: the rewrite of orphan rows (on `foreign_key(...)` only).
    pub fix: Option<(Span, Vec<FixAssignment>)>,
}

/// One column of a check's `fix(...)`: (its span, the column as written, the expression).
pub type FixAssignment = (Span, String, syn::LitStr);

/// `check(name = "…", expr = "…", phase = …)`; `dropped` for `dropped_check(...)`.
pub struct CheckAttr {
    /// Its name.
    pub name: Option<(Span, String)>,
    /// The SQL expression.
    pub expr: Option<syn::LitStr>,
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// A CHECK being dropped (`dropped_check`).
    pub dropped: bool,
    /// `renamed_check(from = "old", …)`: whether it is one, and the old name.
    pub renamed: bool,
    /// See `renamed`.
    pub from: Option<(Span, String)>,
    /// `fix(col = "<sql>", …)`: the rewrite of violating rows (on `check(...)` only).
    pub fix: Option<(Span, Vec<FixAssignment>)>,
    /// Keys its mistyped keys most likely meant.
    pub meant: Vec<String>,
}

/// `index(name = "…", on(a, b), unique, phase = …)`; `dropped` for `dropped_index(...)`.
pub struct IndexAttr {
    /// An index being dropped (`dropped_index`).
    pub dropped: bool,
    /// An index being renamed (`renamed_index`): `from = "old"`, with the value's span.
    pub renamed: bool,
    /// `from = "…"` of `renamed_index`.
    pub from: Option<(Span, String)>,
    /// `predicate = "<sql>"`: a partial index.
    pub predicate: Option<syn::LitStr>,
    /// `using = "gin"`: the method.
    pub using: Option<syn::LitStr>,
    /// `include(a, b)`.
    pub include: Option<(Span, Vec<(Span, String)>)>,
    /// `opclass(a = "text_pattern_ops")`: an operator class per column.
    pub opclass: Option<(Span, BTreeMap<String, syn::LitStr>)>,
    /// `with = "fillfactor = 70"`: storage parameters.
    pub with: Option<syn::LitStr>,
    /// Its name.
    pub name: Option<(Span, String)>,
    /// The columns it covers.
    pub on: Option<(Span, Vec<(Span, String)>)>,
    /// Whether it is unique.
    pub unique: bool,
    /// `constraint`: with its span.
    pub constraint: Option<Span>,
    /// `primary_key`: with its span.
    pub primary_key: Option<Span>,
    /// The phase the code ships it in.
    pub phase: Option<(Span, Option<Phase>)>,
}

/// A field's attributes.
pub struct Field {
    /// `primary_key`.
    pub primary_key: Option<Span>,
    /// `column = "…"`.
    pub column: Option<(Span, String)>,
    /// `sql_type = …`.
    pub sql_type: Option<(Span, SqlTypeOverride)>,
    /// `added(...)`.
    pub added: Option<(Span, Added)>,
    /// `renamed(...)`.
    pub renamed: Option<(Span, Renamed)>,
    /// `retired(...)`.
    pub retired: Option<(Span, Retired)>,
    /// `nullable(phase = …)`: the phase.
    pub nullable: Option<(Span, Option<PhaseValue>)>,
    /// `default_changed(...)`.
    pub default_changed: Option<(Span, DefaultChanged)>,
    /// `retyped(...)`.
    pub retyped: Option<(Span, Retyped)>,
    /// `not_null(...)`.
    pub not_null: Option<(Span, NotNull)>,
    /// `default = <literal>` on a column of a table created in this release.
    pub default: Option<(Span, Option<LiteralValue>)>,
    /// `default_sql = "<sql>"` on a column of a table created in this release.
    pub default_sql: Option<syn::LitStr>,
    /// `comment = "…"` on a column of a table created in this release.
    pub comment: Option<syn::LitStr>,
    /// `comment_changed(...)`.
    pub comment_changed: Option<(Span, CommentChanged)>,
    /// `identity`: the database generates the key.
    pub identity: Option<Span>,
}

/// `not_null(fill = "<sql>", phase = …, pacing…)`.
pub struct NotNull {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// What a NULL becomes.
    pub fill: Option<(Span, syn::LitStr)>,
    /// Backfill pacing declared on this change.
    pub throttle: Vec<(Span, &'static str, u64)>,
}

/// `retyped(from = "<Rust type>", up = "<sql>", down = "<sql>", phase = …, pacing…)`.
pub struct Retyped {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// The previous Rust type, as written (the string's span).
    pub from: Option<(Span, String)>,
    /// The conversion from the old type to the new one.
    pub up: Option<syn::LitStr>,
    /// The conversion back.
    pub down: Option<syn::LitStr>,
    /// The previous column type, where it was not the Rust type's mapping.
    pub from_sql_type: Option<(Span, SqlTypeOverride)>,
    /// Backfill pacing declared on this change.
    pub throttle: Vec<(Span, &'static str, u64)>,
}

/// `default_changed(from = <literal>, to = <literal>, phase = …)` (either may be left
/// out: no default).
pub struct DefaultChanged {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// Where it comes from (the previous name or type).
    pub from: Option<(Span, Option<LiteralValue>)>,
    /// What it becomes.
    pub to: Option<(Span, Option<LiteralValue>)>,
}

/// `comment_changed(from = "…", to = "…", phase = …)` (either may be left out: no
/// comment).
pub struct CommentChanged {
    /// The phase the code ships it in.
    pub phase: Option<PhaseValue>,
    /// The comment before.
    pub from: Option<syn::LitStr>,
    /// The comment after.
    pub to: Option<syn::LitStr>,
}

/// `phase = …` as given: the key's span, and the phase unless it failed to parse.
pub type PhaseValue = (Span, Option<Phase>);

/// `renamed(from = "old", phase = …, pacing…)`.
pub struct Renamed {
    /// The phase the code ships it in.
    pub phase: Option<(Span, Option<Phase>)>,
    /// Where it comes from (the previous name or type).
    pub from: Option<(Span, String)>,
    /// Backfill pacing declared on this change.
    pub throttle: Vec<(Span, &'static str, u64)>,
}

/// `retired(phase = …, default = <literal>)`.
pub struct Retired {
    /// The phase the code ships it in.
    pub phase: Option<(Span, Option<Phase>)>,
    /// The default.
    pub default: Option<(Span, Option<LiteralValue>)>,
}

/// `sql_type`: one type, or one per dialect.
pub enum SqlTypeOverride {
    /// The same type on every dialect.
    All(String),
    /// A type per dialect.
    PerDialect(BTreeMap<Dialect, String>),
}

/// Values that failed to parse are kept as `None` (their error is already reported), so
/// later checks know the key was given and do not report it missing too.
pub struct Added {
    /// The phase the code ships it in.
    pub phase: Option<(Span, Option<Phase>)>,
    /// The default.
    pub default: Option<(Span, Option<LiteralValue>)>,
    /// A SQL default expression (PostgreSQL).
    pub default_sql: Option<(Span, syn::LitStr)>,
    /// The expression existing rows are filled with.
    pub backfill: Option<(Span, syn::LitStr)>,
    /// `max_rows_per_sec`, `pause_ms`, `batch_time_ms`, `max_replica_lag_ms`, `max_load`:
    /// (key span, key, value).
    pub throttle: Vec<(Span, &'static str, u64)>,
}

/// `default = …`: a Rust literal, possibly negated.
pub enum LiteralValue {
    /// A boolean.
    Bool(bool),
    /// An integer, as written.
    Int(String),
    /// A float, as written.
    Float(String),
    /// A string.
    Str(String),
}

const CONTAINER_KEYS: &str = "`table`, `dialects`, `lock`, `created`, `renamed`, `retired`, `index`, `dropped_index`, `renamed_index`, `check`, `dropped_check`, `renamed_check`, `foreign_key`, `dropped_foreign_key`, `renamed_foreign_key`, `sql`";
const SQL_STEP_KEYS: &str = "`name`, `up`, `down`, `at`, `phase`, `no_transaction`";
const INDEX_KEYS: &str = "`name`, `on`, `unique`, `constraint`, `primary_key`, `predicate`, `using`, `include`, `opclass`, `with`, `phase`";
const DROPPED_INDEX_KEYS: &str =
    "`name`, `on`, `unique`, `constraint`, `predicate`, `using`, `include`, `opclass`, `with`, `phase`";
const RENAMED_INDEX_KEYS: &str = "`from`, `name`, `on`, `unique`, `constraint`, `predicate`, `using`, `include`, `opclass`, `with`, `phase`";
const FIELD_KEYS: &str = "`primary_key`, `identity`, `column`, `sql_type`, `default`, `default_sql`, `comment`, `added`, `renamed`, `retyped`, `retired`, `nullable`, `not_null`, `default_changed`, `comment_changed`";
const NOT_NULL_KEYS: &str =
    "`fill`, `phase`, `max_rows_per_sec`, `pause_ms`, `batch_time_ms`, `max_replica_lag_ms`, `max_load`";
const RETYPED_KEYS: &str = "`from`, `from_sql_type`, `up`, `down`, `phase`, `max_rows_per_sec`, `pause_ms`, \
     `batch_time_ms`, `max_replica_lag_ms`, `max_load`";
const RENAMED_KEYS: &str =
    "`from`, `phase`, `max_rows_per_sec`, `pause_ms`, `batch_time_ms`, `max_replica_lag_ms`, `max_load`";
const RETIRED_KEYS: &str = "`phase`, `default`";
const ADDED_KEYS: &str = "`phase`, `default`, `default_sql`, `backfill`, `max_rows_per_sec`, `pause_ms`, \
     `batch_time_ms`, `max_replica_lag_ms`, `max_load`";
const THROTTLE_KEYS: [&str; 5] = [
    "max_rows_per_sec",
    "pause_ms",
    "batch_time_ms",
    "max_replica_lag_ms",
    "max_load",
];

fn key(meta: &ParseNestedMeta<'_>) -> String {
    meta.path.to_token_stream().to_string().replace(' ', "")
}

/// Report an unknown key and skip its value, so the rest of the attribute is still
/// parsed and checked.
fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>, what: &str, expected: &str) -> syn::Result<()> {
    let given = key(meta);
    let message = match closest(&given, expected) {
        Some(near) => {
            cx.meant(&near);
            format!("unknown straddle {what} attribute `{given}`: did you mean `{near}`?")
        }
        None => format!("unknown straddle {what} attribute `{given}`; expected one of {expected}"),
    };
    cx.error_spanned_by(&meta.path, message);
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

/// The expected key (from a list written `` `a`, `b` ``) a mistyped one most likely meant:
/// close in spelling (a letter or two off, or swapped), or the same but for case and
/// separators (`primaryKey`, `primary-key`).
fn closest(given: &str, expected: &str) -> Option<String> {
    let plain = |s: &str| s.to_lowercase().replace(['_', '-'], "");
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|candidate| {
            let score = if plain(candidate) == plain(given) {
                1.0
            } else if given.len() >= 4 && (candidate.starts_with(given) || given.starts_with(candidate)) {
                0.9
            } else {
                strsim::normalized_damerau_levenshtein(given, candidate)
            };
            (candidate, score)
        })
        .filter(|(_, score)| *score >= 0.7)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate.to_string())
}

fn straddle_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = &syn::Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("straddle"))
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<syn::LitStr> {
    meta.value()?.parse()
}

/// Parse the struct's `#[straddle(...)]` attributes.
pub fn parse_container(cx: &Ctxt, attrs: &[syn::Attribute]) -> Container {
    let mut table = Attr::none("table");
    let mut dialects = Attr::none("dialects");
    let mut lock = Attr::none("lock");
    let mut indexes = Vec::new();
    let mut checks = Vec::new();
    let mut foreign_keys = Vec::new();
    let mut created = Attr::none("created");
    let mut retired = Attr::none("retired");
    let mut renamed = Attr::none("renamed");
    let mut sql_steps = Vec::new();
    for attr in straddle_attrs(attrs) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                let s = lit_str(&meta)?;
                table.set(cx, s.span(), s.value());
            } else if meta.path.is_ident("lock") {
                let s = lit_str(&meta)?;
                lock.set(cx, meta.path.span(), s.value());
            } else if meta.path.is_ident("index")
                || meta.path.is_ident("dropped_index")
                || meta.path.is_ident("renamed_index")
            {
                let kind = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                indexes.push((meta.path.span(), parse_index(cx, &meta, &kind)?));
            } else if meta.path.is_ident("created") {
                let phase = parse_phase_only(cx, &meta, "created")?;
                created.set(cx, meta.path.span(), phase);
            } else if meta.path.is_ident("retired") {
                let (phase, confirm) = parse_phase_and(cx, &meta, "retired", "confirm")?;
                retired.set(cx, meta.path.span(), RetiredTable { phase, confirm });
            } else if meta.path.is_ident("renamed") {
                let (phase, from) = parse_phase_and(cx, &meta, "renamed", "from")?;
                renamed.set(cx, meta.path.span(), RenamedTable { phase, from });
            } else if meta.path.is_ident("foreign_key")
                || meta.path.is_ident("dropped_foreign_key")
                || meta.path.is_ident("renamed_foreign_key")
            {
                let kind = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                foreign_keys.push((meta.path.span(), parse_foreign_key(cx, &meta, &kind)?));
            } else if meta.path.is_ident("check")
                || meta.path.is_ident("dropped_check")
                || meta.path.is_ident("renamed_check")
            {
                let kind = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                checks.push((meta.path.span(), parse_check(cx, &meta, &kind)?));
            } else if meta.path.is_ident("sql") {
                sql_steps.push((meta.path.span(), parse_sql_step(cx, &meta)?));
            } else if meta.path.is_ident("dialects") {
                let mut list = Vec::new();
                meta.parse_nested_meta(|d| {
                    match d.path.get_ident().and_then(|i| Dialect::from_key(&i.to_string())) {
                        Some(dialect) => list.push(dialect),
                        None => cx.error_spanned_by(
                            &d.path,
                            format!(
                                "unknown dialect `{}`; expected `postgres`, `mysql` or `sqlite`",
                                key(&d)
                            ),
                        ),
                    }
                    Ok(())
                })?;
                dialects.set(cx, meta.path.span(), list);
            } else {
                unknown(cx, &meta, "container", CONTAINER_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = res {
            cx.syn_error(err);
        }
    }
    Container {
        table: table.get(),
        dialects: dialects.get(),
        lock: lock.get(),
        indexes,
        checks,
        foreign_keys,
        created: created.get(),
        renamed: renamed.get(),
        retired: retired.get(),
        sql_steps,
    }
}

fn parse_sql_step(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<SqlStepAttr> {
    needs_parens(meta, "sql")?;
    let mut name = Attr::none("name");
    let mut up = Attr::none("up");
    let mut down = Attr::none("down");
    let mut at = Attr::none("at");
    let mut phase = Attr::none("phase");
    let mut no_transaction = Attr::none("no_transaction");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let s = lit_str(&inner)?;
            name.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if inner.path.is_ident("up") {
            up.set(cx, inner.path.span(), parse_sql_text(cx, &inner)?);
        } else if inner.path.is_ident("down") {
            down.set(cx, inner.path.span(), parse_sql_text(cx, &inner)?);
        } else if inner.path.is_ident("at") {
            parse_phase(cx, &inner, &mut at)?;
        } else if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("no_transaction") {
            no_transaction.set(cx, inner.path.span(), ());
        } else {
            unknown(cx, &inner, "`sql`", SQL_STEP_KEYS)?;
        }
        Ok(())
    })?;
    Ok(SqlStepAttr {
        name: name.get().map(|(_, v)| v),
        up: up.get(),
        down: down.get(),
        at: at.get(),
        phase: phase.get(),
        no_transaction: no_transaction.get().map(|(s, ())| s),
    })
}

/// `up = "…"` or `up(postgres = "…", mysql = "…")`.
fn parse_sql_text(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<SqlText> {
    if !meta.input.peek(syn::token::Paren) {
        return Ok(SqlText::All(lit_str(meta)?));
    }
    Ok(SqlText::PerDialect(parse_per_dialect(cx, meta)?))
}

/// `(postgres = "…", mysql = "…")`: one string per dialect named (an unknown dialect or a
/// repeated one reported).
fn parse_per_dialect(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<BTreeMap<Dialect, syn::LitStr>> {
    let mut per = BTreeMap::new();
    meta.parse_nested_meta(|d| {
        match d.path.get_ident().and_then(|i| Dialect::from_key(&i.to_string())) {
            Some(dialect) => {
                if per.insert(dialect, lit_str(&d)?).is_some() {
                    cx.error_spanned_by(&d.path, format!("duplicate straddle attribute `{}`", key(&d)));
                }
            }
            None => {
                cx.error_spanned_by(
                    &d.path,
                    format!(
                        "unknown dialect `{}`; expected `postgres`, `mysql` or `sqlite`",
                        key(&d)
                    ),
                );
                d.value()?.parse::<syn::Expr>()?;
            }
        }
        Ok(())
    })?;
    Ok(per)
}

/// `on(a, b)`: column names with their spans.
fn parse_on(cx: &Ctxt, inner: &ParseNestedMeta<'_>) -> syn::Result<Vec<(Span, String)>> {
    let mut columns = Vec::new();
    inner.parse_nested_meta(|c| {
        let ident = c
            .path
            .get_ident()
            .map(|i| i.to_string().trim_start_matches("r#").to_string());
        match ident {
            Some(col) => columns.push((c.path.span(), col)),
            None => cx.error_spanned_by(&c.path, "`on(...)` lists column names: `on(email, created_at)`"),
        }
        Ok(())
    })?;
    Ok(columns)
}

fn parse_foreign_key(cx: &Ctxt, meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<ForeignKeyAttr> {
    let (dropped, renamed) = (what == "dropped_foreign_key", what == "renamed_foreign_key");
    needs_parens(meta, what)?;
    let meant_before = cx.meant_count();
    let mut from = Attr::none("from");
    let mut name = Attr::none("name");
    let mut on = Attr::none("on");
    let mut references = Attr::none("references");
    let mut mysql_unvalidated = Attr::none("mysql_unvalidated");
    let mut phase = Attr::none("phase");
    let mut on_delete = Attr::none("on_delete");
    let mut on_update = Attr::none("on_update");
    let mut deferrable = Attr::none("deferrable");
    let mut initially_deferred = Attr::none("initially_deferred");
    let mut fix = Attr::none("fix");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let s = lit_str(&inner)?;
            name.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if inner.path.is_ident("on") {
            let cols = parse_on(cx, &inner)?;
            on.set(cx, inner.path.span(), cols);
        } else if inner.path.is_ident("references") {
            references.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("mysql_unvalidated") {
            let b: syn::LitBool = inner.value()?.parse()?;
            mysql_unvalidated.set(cx, inner.path.span(), b.value);
        } else if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("on_delete") {
            on_delete.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("on_update") {
            on_update.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("deferrable") {
            deferrable.set(cx, inner.path.span(), ());
        } else if inner.path.is_ident("initially_deferred") {
            initially_deferred.set(cx, inner.path.span(), ());
        } else if !dropped && !renamed && inner.path.is_ident("fix") {
            fix.set(cx, inner.path.span(), parse_fix(&inner)?);
        } else if renamed && inner.path.is_ident("from") {
            let s = lit_str(&inner)?;
            from.set(cx, inner.path.span(), (s.span(), s.value()));
        } else {
            let keys = "`name`, `on`, `references`, `phase`, `on_delete`, `on_update`, `deferrable`, \
                        `initially_deferred`, `mysql_unvalidated`";
            let keys = if renamed {
                format!("`from`, {keys}")
            } else if dropped {
                keys.to_string()
            } else {
                format!("{keys}, `fix`")
            };
            unknown(cx, &inner, &format!("`{what}`"), &keys)?;
        }
        Ok(())
    })?;
    Ok(ForeignKeyAttr {
        name: name.get().map(|(_, v)| v),
        on: on.get(),
        references: references.get().map(|(_, v)| v),
        mysql_unvalidated: mysql_unvalidated.get().is_some_and(|(_, v)| v),
        phase: phase.get(),
        dropped,
        renamed,
        from: from.get().map(|(_, v)| v),
        meant: cx.meant_since(meant_before),
        on_delete: on_delete.get().map(|(_, v)| v),
        on_update: on_update.get().map(|(_, v)| v),
        deferrable: deferrable.get().map(|(s, ())| s),
        initially_deferred: initially_deferred.get().map(|(s, ())| s),
        fix: fix.get(),
    })
}

/// `fix(col = "<sql>", …)` of a constraint.
fn parse_fix(inner: &ParseNestedMeta<'_>) -> syn::Result<Vec<FixAssignment>> {
    let mut assignments = Vec::new();
    inner.parse_nested_meta(|c| {
        let column = key(&c).trim_start_matches("r#").to_string();
        assignments.push((c.path.span(), column, lit_str(&c)?));
        Ok(())
    })?;
    Ok(assignments)
}

fn parse_check(cx: &Ctxt, meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<CheckAttr> {
    let (dropped, renamed) = (what == "dropped_check", what == "renamed_check");
    needs_parens(meta, what)?;
    let meant_before = cx.meant_count();
    let mut from = Attr::none("from");
    let mut name = Attr::none("name");
    let mut expr = Attr::none("expr");
    let mut phase = Attr::none("phase");
    let mut fix = Attr::none("fix");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let s = lit_str(&inner)?;
            name.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if inner.path.is_ident("expr") {
            expr.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if !dropped && !renamed && inner.path.is_ident("fix") {
            fix.set(cx, inner.path.span(), parse_fix(&inner)?);
        } else if renamed && inner.path.is_ident("from") {
            let s = lit_str(&inner)?;
            from.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if renamed {
            unknown(
                cx,
                &inner,
                &format!("`{what}`"),
                "`from`, `name`, `expr`, `phase`",
            )?;
        } else {
            let keys = if dropped {
                "`name`, `expr`, `phase`"
            } else {
                "`name`, `expr`, `fix`, `phase`"
            };
            unknown(cx, &inner, &format!("`{what}`"), keys)?;
        }
        Ok(())
    })?;
    Ok(CheckAttr {
        name: name.get().map(|(_, v)| v),
        expr: expr.get().map(|(_, v)| v),
        phase: phase.get(),
        dropped,
        renamed,
        from: from.get().map(|(_, v)| v),
        fix: fix.get(),
        meant: cx.meant_since(meant_before),
    })
}

fn parse_index(cx: &Ctxt, meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<IndexAttr> {
    let (dropped, renamed) = (what == "dropped_index", what == "renamed_index");
    needs_parens(meta, what)?;
    let mut from = Attr::none("from");
    let mut predicate = Attr::none("predicate");
    let mut using = Attr::none("using");
    let mut include = Attr::none("include");
    let mut opclass = Attr::none("opclass");
    let mut with = Attr::none("with");
    let mut name = Attr::none("name");
    let mut on = Attr::none("on");
    let mut unique = Attr::none("unique");
    let mut constraint = Attr::none("constraint");
    let mut primary_key = Attr::none("primary_key");
    let mut phase = Attr::none("phase");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("name") {
            let s = lit_str(&inner)?;
            name.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if inner.path.is_ident("on") {
            let columns = parse_on(cx, &inner)?;
            on.set(cx, inner.path.span(), columns);
        } else if inner.path.is_ident("unique") {
            unique.set(cx, inner.path.span(), ());
        } else if inner.path.is_ident("constraint") {
            constraint.set(cx, inner.path.span(), ());
        } else if inner.path.is_ident("primary_key") && !dropped && !renamed {
            primary_key.set(cx, inner.path.span(), ());
        } else if inner.path.is_ident("primary_key") {
            // No phased path drops or renames a table's primary key: the running version
            // finds its rows by it (MySQL/MariaDB and SQLite have no name to rename).
            cx.error_spanned_by(
                &inner.path,
                format!(
                    "`primary_key` is for `index(...)`, adding a primary key to a table that has none: Straddle has \
                     no phased path that {} a table's primary key (the running version finds its rows by it)",
                    if dropped { "drops" } else { "renames" }
                ),
            );
        } else if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("predicate") {
            predicate.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("using") {
            using.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("include") {
            let columns = parse_on(cx, &inner)?;
            include.set(cx, inner.path.span(), columns);
        } else if inner.path.is_ident("opclass") {
            let mut per = BTreeMap::new();
            inner.parse_nested_meta(|c| {
                let column = key(&c).trim_start_matches("r#").to_string();
                if per.insert(column.clone(), lit_str(&c)?).is_some() {
                    cx.error_spanned_by(&c.path, format!("`{column}` has two operator classes"));
                }
                Ok(())
            })?;
            opclass.set(cx, inner.path.span(), per);
        } else if inner.path.is_ident("with") {
            with.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if renamed && inner.path.is_ident("from") {
            let s = lit_str(&inner)?;
            from.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if renamed {
            unknown(cx, &inner, &format!("`{what}`"), RENAMED_INDEX_KEYS)?;
        } else if dropped {
            unknown(cx, &inner, &format!("`{what}`"), DROPPED_INDEX_KEYS)?;
        } else {
            unknown(cx, &inner, &format!("`{what}`"), INDEX_KEYS)?;
        }
        Ok(())
    })?;
    Ok(IndexAttr {
        dropped,
        renamed,
        from: from.get().map(|(_, v)| v),
        predicate: predicate.get().map(|(_, v)| v),
        using: using.get().map(|(_, v)| v),
        include: include.get(),
        opclass: opclass.get(),
        with: with.get().map(|(_, v)| v),
        name: name.get().map(|(_, v)| v),
        on: on.get(),
        unique: unique.get().is_some(),
        constraint: constraint.get().map(|(s, ())| s),
        primary_key: primary_key.get().map(|(s, ())| s),
        phase: phase.get(),
    })
}

/// Parse a field's `#[straddle(...)]` attributes.
pub fn parse_field(cx: &Ctxt, attrs: &[syn::Attribute]) -> Field {
    let mut primary_key = Attr::none("primary_key");
    let mut column = Attr::none("column");
    let mut sql_type = Attr::none("sql_type");
    let mut added = Attr::none("added");
    let mut renamed = Attr::none("renamed");
    let mut retired = Attr::none("retired");
    let mut nullable = Attr::none("nullable");
    let mut default_changed = Attr::none("default_changed");
    let mut retyped = Attr::none("retyped");
    let mut not_null = Attr::none("not_null");
    let mut default = Attr::none("default");
    let mut default_sql = Attr::none("default_sql");
    let mut comment = Attr::none("comment");
    let mut comment_changed = Attr::none("comment_changed");
    let mut identity = Attr::none("identity");
    for attr in straddle_attrs(attrs) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                primary_key.set(cx, meta.path.span(), ());
            } else if meta.path.is_ident("identity") {
                identity.set(cx, meta.path.span(), ());
            } else if meta.path.is_ident("column") {
                let s = lit_str(&meta)?;
                column.set(cx, s.span(), s.value());
            } else if meta.path.is_ident("sql_type") {
                let value = parse_sql_type(cx, &meta)?;
                sql_type.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("added") {
                let value = parse_added(cx, &meta)?;
                added.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("renamed") {
                let value = parse_renamed(cx, &meta)?;
                renamed.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("retyped") {
                let value = parse_retyped(cx, &meta)?;
                retyped.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("default_changed") {
                let (phase, from, to) = parse_from_to(cx, &meta, "default_changed", |inner, side| {
                    parse_literal_default(cx, inner, side)
                })?;
                default_changed.set(cx, meta.path.span(), DefaultChanged { phase, from, to });
            } else if meta.path.is_ident("not_null") {
                let value = parse_not_null(cx, &meta)?;
                not_null.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("nullable") {
                let phase = parse_phase_only(cx, &meta, "nullable")?;
                nullable.set(cx, meta.path.span(), phase);
            } else if meta.path.is_ident("retired") {
                let value = parse_retired(cx, &meta)?;
                retired.set(cx, meta.path.span(), value);
            } else if meta.path.is_ident("default") {
                parse_literal_default(cx, &meta, &mut default)?;
            } else if meta.path.is_ident("default_sql") {
                default_sql.set(cx, meta.path.span(), lit_str(&meta)?);
            } else if meta.path.is_ident("comment") {
                comment.set(cx, meta.path.span(), lit_str(&meta)?);
            } else if meta.path.is_ident("comment_changed") {
                let (phase, from, to) = parse_from_to(cx, &meta, "comment_changed", |inner, side| {
                    side.set(cx, inner.path.span(), lit_str(inner)?);
                    Ok(())
                })?;
                comment_changed.set(cx, meta.path.span(), CommentChanged { phase, from, to });
            } else {
                unknown(cx, &meta, "field", FIELD_KEYS)?;
            }
            Ok(())
        });
        if let Err(err) = res {
            cx.syn_error(err);
        }
    }
    Field {
        primary_key: primary_key.get().map(|(s, ())| s),
        column: column.get(),
        sql_type: sql_type.get(),
        added: added.get(),
        renamed: renamed.get(),
        retired: retired.get(),
        nullable: nullable.get(),
        default_changed: default_changed.get(),
        retyped: retyped.get(),
        not_null: not_null.get(),
        default: default.get().map(|(_, v)| v),
        default_sql: default_sql.get().map(|(_, s)| s),
        comment: comment.get().map(|(_, s)| s),
        comment_changed: comment_changed.get(),
        identity: identity.get().map(|(s, ())| s),
    }
}

/// `<what>(from = …, to = …, phase = …)`, each side read by `side`: the phase and the two
/// sides as given.
fn parse_from_to<T>(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    what: &str,
    mut side: impl FnMut(&ParseNestedMeta<'_>, &mut Attr<T>) -> syn::Result<()>,
) -> syn::Result<(Option<PhaseValue>, Option<T>, Option<T>)> {
    needs_parens(meta, what)?;
    let mut phase = Attr::none("phase");
    let mut from = Attr::none("from");
    let mut to = Attr::none("to");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)
        } else if inner.path.is_ident("from") {
            side(&inner, &mut from)
        } else if inner.path.is_ident("to") {
            side(&inner, &mut to)
        } else {
            unknown(cx, &inner, &format!("`{what}`"), "`from`, `to`, `phase`")
        }
    })?;
    Ok((phase.get(), from.get().map(|(_, v)| v), to.get().map(|(_, v)| v)))
}

fn parse_not_null(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<NotNull> {
    needs_parens(meta, "not_null")?;
    let mut phase = Attr::none("phase");
    let mut fill = Attr::none("fill");
    let mut throttle = new_throttle();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("fill") {
            let s = lit_str(&inner)?;
            fill.set(cx, inner.path.span(), s);
        } else if !parse_throttle(cx, &inner, &mut throttle)? {
            unknown(cx, &inner, "`not_null`", NOT_NULL_KEYS)?;
        }
        Ok(())
    })?;
    Ok(NotNull {
        phase: phase.get(),
        fill: fill.get().map(|(_, s)| (s.span(), s)),
        throttle: throttle_values(throttle),
    })
}

/// The rollout phase of a change: `phase = expand` (or a string).
fn parse_phase(cx: &Ctxt, inner: &ParseNestedMeta<'_>, phase: &mut Attr<Option<Phase>>) -> syn::Result<()> {
    let value = inner.value()?;
    let (span, text) = if value.peek(syn::LitStr) {
        let s: syn::LitStr = value.parse()?;
        (s.span(), s.value())
    } else {
        let i: syn::Ident = value.parse()?;
        (i.span(), i.to_string())
    };
    let parsed = Phase::from_key(&text);
    if parsed.is_none() {
        cx.error_at(
            span,
            format!("unknown phase `{text}`; expected `expand`, `backfill` or `contract`"),
        );
    }
    phase.set(cx, inner.path.span(), parsed);
    Ok(())
}

/// `what(phase = …, key = "…")`: a table-level change with one string beside its phase.
fn parse_phase_and(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    what: &str,
    key: &'static str,
) -> syn::Result<(Option<PhaseValue>, Option<syn::LitStr>)> {
    needs_parens(meta, what)?;
    let mut phase = Attr::none("phase");
    let mut value = Attr::none(key);
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)
        } else if inner.path.is_ident(key) {
            value.set(cx, inner.path.span(), lit_str(&inner)?);
            Ok(())
        } else {
            unknown(cx, &inner, &format!("`{what}`"), &format!("`phase`, `{key}`"))
        }
    })?;
    Ok((phase.get(), value.get().map(|(_, v)| v)))
}

/// `what(phase = …)`: an attribute whose only key is the phase.
fn parse_phase_only(cx: &Ctxt, meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<Option<PhaseValue>> {
    needs_parens(meta, what)?;
    let mut phase = Attr::none("phase");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)
        } else {
            unknown(cx, &inner, &format!("`{what}`"), "`phase`")
        }
    })?;
    Ok(phase.get())
}

fn needs_parens(meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<()> {
    if meta.input.peek(syn::token::Paren) {
        Ok(())
    } else {
        Err(meta.error(format!(
            "`{what}` needs its rollout phase: `{what}(phase = expand, …)` (then backfill, then contract)"
        )))
    }
}

/// One of [`THROTTLE_KEYS`], when `inner` is one of them.
fn parse_throttle(
    cx: &Ctxt,
    inner: &ParseNestedMeta<'_>,
    throttle: &mut [Attr<u64>; 5],
) -> syn::Result<bool> {
    let Some(i) = THROTTLE_KEYS.iter().position(|k| inner.path.is_ident(k)) else {
        return Ok(false);
    };
    let n: syn::LitInt = inner.value()?.parse()?;
    match n.base10_parse::<u64>() {
        Ok(v) if v > 0 || THROTTLE_KEYS[i] == "pause_ms" => throttle[i].set(cx, inner.path.span(), v),
        _ => cx.error_spanned_by(&n, format!("`{}` takes a positive integer", THROTTLE_KEYS[i])),
    }
    Ok(true)
}

fn new_throttle() -> [Attr<u64>; 5] {
    THROTTLE_KEYS.map(Attr::none)
}

fn throttle_values(throttle: [Attr<u64>; 5]) -> Vec<(Span, &'static str, u64)> {
    throttle
        .into_iter()
        .zip(THROTTLE_KEYS)
        .filter_map(|(a, key)| a.get().map(|(span, v)| (span, key, v)))
        .collect()
}

/// `default = <literal>`, remembering the value's span.
fn parse_literal_default(
    cx: &Ctxt,
    inner: &ParseNestedMeta<'_>,
    default: &mut Attr<(Span, Option<LiteralValue>)>,
) -> syn::Result<()> {
    let expr: syn::Expr = inner.value()?.parse()?;
    let value = literal_value(&expr);
    if value.is_none() {
        cx.error_spanned_by(
            &expr,
            "`default` takes a literal (number, string or bool); for an SQL expression use `default_sql = \"…\"`",
        );
    }
    default.set(cx, inner.path.span(), (expr.span(), value));
    Ok(())
}

fn parse_renamed(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Renamed> {
    needs_parens(meta, "renamed")?;
    let mut phase = Attr::none("phase");
    let mut from = Attr::none("from");
    let mut throttle = new_throttle();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("from") {
            let s = lit_str(&inner)?;
            from.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if !parse_throttle(cx, &inner, &mut throttle)? {
            unknown(cx, &inner, "`renamed`", RENAMED_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Renamed {
        phase: phase.get(),
        from: from.get().map(|(_, v)| v),
        throttle: throttle_values(throttle),
    })
}

/// `sql_type = "TYPE"` or `sql_type(postgres = "…", mysql = "…")` (also `from_sql_type`).
fn parse_sql_type(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<SqlTypeOverride> {
    if !meta.input.peek(syn::token::Paren) {
        return Ok(SqlTypeOverride::All(lit_str(meta)?.value()));
    }
    let per = parse_per_dialect(cx, meta)?;
    Ok(SqlTypeOverride::PerDialect(
        per.into_iter().map(|(d, l)| (d, l.value())).collect(),
    ))
}

fn parse_retyped(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Retyped> {
    needs_parens(meta, "retyped")?;
    let mut phase = Attr::none("phase");
    let mut from = Attr::none("from");
    let mut up = Attr::none("up");
    let mut down = Attr::none("down");
    let mut from_sql_type = Attr::none("from_sql_type");
    let mut throttle = new_throttle();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("from") {
            let s = lit_str(&inner)?;
            from.set(cx, inner.path.span(), (s.span(), s.value()));
        } else if inner.path.is_ident("up") {
            up.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("down") {
            down.set(cx, inner.path.span(), lit_str(&inner)?);
        } else if inner.path.is_ident("from_sql_type") {
            let value = parse_sql_type(cx, &inner)?;
            from_sql_type.set(cx, inner.path.span(), value);
        } else if !parse_throttle(cx, &inner, &mut throttle)? {
            unknown(cx, &inner, "`retyped`", RETYPED_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Retyped {
        phase: phase.get(),
        from: from.get().map(|(_, v)| v),
        up: up.get().map(|(_, v)| v),
        down: down.get().map(|(_, v)| v),
        from_sql_type: from_sql_type.get(),
        throttle: throttle_values(throttle),
    })
}

fn parse_retired(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Retired> {
    needs_parens(meta, "retired")?;
    let mut phase = Attr::none("phase");
    let mut default = Attr::none("default");
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("default") {
            parse_literal_default(cx, &inner, &mut default)?;
        } else {
            unknown(cx, &inner, "`retired`", RETIRED_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Retired {
        phase: phase.get(),
        default: default.get().map(|(_, v)| v),
    })
}

fn parse_added(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Added> {
    needs_parens(meta, "added")?;
    let mut phase = Attr::none("phase");
    let mut default = Attr::none("default");
    let mut default_sql = Attr::none("default_sql");
    let mut backfill = Attr::none("backfill");
    let mut throttle = new_throttle();
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("phase") {
            parse_phase(cx, &inner, &mut phase)?;
        } else if inner.path.is_ident("default") {
            parse_literal_default(cx, &inner, &mut default)?;
        } else if inner.path.is_ident("default_sql") {
            let s = lit_str(&inner)?;
            default_sql.set(cx, inner.path.span(), s);
        } else if inner.path.is_ident("backfill") {
            let s = lit_str(&inner)?;
            backfill.set(cx, inner.path.span(), s);
        } else if !parse_throttle(cx, &inner, &mut throttle)? {
            unknown(cx, &inner, "`added`", ADDED_KEYS)?;
        }
        Ok(())
    })?;
    Ok(Added {
        phase: phase.get(),
        default: default.get().map(|(_, v)| v),
        default_sql: default_sql.get().map(|(_, s)| (s.span(), s)),
        backfill: backfill.get().map(|(_, s)| (s.span(), s)),
        throttle: throttle_values(throttle),
    })
}

fn literal_value(expr: &syn::Expr) -> Option<LiteralValue> {
    match expr {
        syn::Expr::Lit(l) => match &l.lit {
            syn::Lit::Bool(b) => Some(LiteralValue::Bool(b.value)),
            syn::Lit::Int(i) => Some(LiteralValue::Int(i.base10_digits().to_string())),
            syn::Lit::Float(f) => Some(LiteralValue::Float(f.base10_digits().to_string())),
            syn::Lit::Str(s) => Some(LiteralValue::Str(s.value())),
            _ => None,
        },
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match literal_value(&u.expr)? {
            LiteralValue::Int(i) => Some(LiteralValue::Int(format!("-{i}"))),
            LiteralValue::Float(f) => Some(LiteralValue::Float(format!("-{f}"))),
            _ => None,
        },
        _ => None,
    }
}
