//! What a step expects of the catalog, and how the live catalog is read to judge it.
//!
//! A step names every object it creates, alters or drops — with the table it belongs to
//! and what it must look like — instead of a probe that only asks whether a name exists.
//! Before a phase runs, the runner reads each of those objects ([`probe_sql`]) and
//! refuses, naming the difference, when an object the phase would create exists as
//! something else (another type, another table's index of that name, a trigger with
//! another body); a step is skipped as already applied only when every object it
//! touches is exactly as it leaves it; and after a step runs, the same holds or the run
//! stops. Objects found under a name that belong to another table are never counted as
//! done and never dropped.

use crate::dialect::Dialect;
use crate::types::same_sql_type;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An object Straddle creates, alters or drops.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Object {
    /// A column of a table.
    Column {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// On PostgreSQL, a trigger's name is its table's; elsewhere the schema's.
    Trigger {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// A PostgreSQL trigger function (the schema's namespace), run by `table`'s trigger.
    Function {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// On PostgreSQL and SQLite an index's name is the schema's; on MySQL its table's.
    Index {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// On PostgreSQL a constraint's name is its table's; on MySQL a foreign key's is the
    /// schema's.
    Constraint {
        /// The table.
        table: String,
        /// Its name.
        name: String,
    },
    /// A table.
    Table {
        /// Its name.
        name: String,
    },
    /// A view.
    View {
        /// Its name.
        name: String,
    },
}

impl Object {
    /// What identifies the object where names are shared: a table and a view of one name
    /// are one relation (a renamed table takes the name its view had).
    pub fn key(&self) -> Object {
        match self {
            Object::View { name } => Object::Table { name: name.clone() },
            other => other.clone(),
        }
    }

    /// The table the object belongs to, where it belongs to one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Object::Column { table, .. }
            | Object::Trigger { table, .. }
            | Object::Index { table, .. }
            | Object::Constraint { table, .. }
            | Object::Function { table, .. } => Some(table),
            Object::Table { .. } | Object::View { .. } => None,
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Column { table, column } => write!(f, "column {table}.{column}"),
            Object::Trigger { table, name } => write!(f, "trigger {name} on {table}"),
            Object::Function { table, name } => write!(f, "function {name}() of {table}"),
            Object::Index { table, name } => write!(f, "index {name} on {table}"),
            Object::Constraint { table, name } => write!(f, "constraint {name} on {table}"),
            Object::Table { name } => write!(f, "table {name}"),
            Object::View { name } => write!(f, "view {name}"),
        }
    }
}

/// What an object is, as far as a step cares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// A column with this type, nullability and default.
    Column {
        /// The type as declared; compared through [`same_sql_type`].
        sql_type: String,
        /// `None`: either (a step that changes only the default).
        nullable: Option<bool>,
        /// The default, when it matters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<ColumnDefault>,
    },
    /// The trigger's body as the engine stores it (PostgreSQL: the function it runs).
    Trigger {
        /// Its definition, as the catalog shows it.
        definition: String,
    },
    /// A PostgreSQL function's body (`prosrc`).
    Function {
        /// The body, as the catalog shows it.
        body: String,
    },
    /// An index on these columns.
    Index {
        /// The columns, in order.
        columns: Vec<String>,
        /// Whether it is unique.
        unique: bool,
        /// Whether it covers only the rows of a predicate (a partial index).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        partial: bool,
    },
    /// A constraint of this kind.
    Constraint {
        /// Its kind.
        kind: ConstraintKind,
        /// `Some(true)`: validated; `None`: either (added `NOT VALID`, validated later).
        validated: Option<bool>,
    },
    /// A base table with at least these columns (name, type, nullable).
    Table {
        /// Its columns: (name, type, nullable).
        columns: Vec<(String, String, bool)>,
    },
    /// A view.
    View,
}

/// A column's default, as a step leaves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnDefault {
    /// Nothing of that name.
    None,
    /// A literal, as rendered for the engine (`'x'`, `0`, `TRUE`): compared by value.
    Literal(String),
    /// An expression: the engine re-spells it (casts, parentheses), so only its presence
    /// is compared.
    Expression,
}

impl ColumnDefault {
    /// The default of a column declared with `default` rendered for `dialect`.
    pub fn of(default: Option<&crate::model::DefaultValue>, dialect: Dialect) -> ColumnDefault {
        match default {
            None => ColumnDefault::None,
            Some(crate::model::DefaultValue::Literal(l)) => ColumnDefault::Literal(l.render(dialect)),
            Some(crate::model::DefaultValue::Sql(_)) => ColumnDefault::Expression,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// The kinds of constraint Straddle creates.
pub enum ConstraintKind {
    /// A CHECK constraint.
    Check,
    /// A foreign key.
    ForeignKey,
    /// A UNIQUE constraint.
    Unique,
    /// A primary key.
    PrimaryKey,
}

impl ConstraintKind {
    fn code(self) -> &'static str {
        match self {
            ConstraintKind::Check => "c",
            ConstraintKind::ForeignKey => "f",
            ConstraintKind::Unique => "u",
            ConstraintKind::PrimaryKey => "p",
        }
    }
}

/// What a step does to one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// Makes it exist as `State`: beforehand it must be absent, or already exactly that
    /// (a leftover of an interrupted run of this very step).
    Create(State),
    /// Changes an existing object into `State`.
    Alter(State),
    /// Removes it: beforehand, if present, it must be this table's.
    Drop,
    /// Needs it, exactly so, and leaves it as it is (the column a rename copies from).
    Requires(State),
}

/// One object and what a step does to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// The object.
    pub object: Object,
    /// What the step does to it.
    pub effect: Effect,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.effect {
            Effect::Create(s) => write!(f, "creates {} ({})", self.object, describe(s)),
            Effect::Alter(s) => write!(f, "makes {} {}", self.object, describe(s)),
            Effect::Drop => write!(f, "drops {}", self.object),
            Effect::Requires(s) => write!(f, "needs {} ({})", self.object, describe(s)),
        }
    }
}

fn describe(s: &State) -> String {
    match s {
        State::Column {
            sql_type,
            nullable,
            default,
        } => format!(
            "{sql_type}{}{}",
            match nullable {
                Some(true) => ", nullable",
                Some(false) => ", NOT NULL",
                None => "",
            },
            match default {
                Some(ColumnDefault::Literal(d)) => format!(", default {d}"),
                Some(ColumnDefault::Expression) => ", an expression default".into(),
                Some(ColumnDefault::None) => ", no default".into(),
                None => String::new(),
            }
        ),
        State::Trigger { .. } => "with the planned body".into(),
        State::Function { .. } => "with the planned body".into(),
        State::Index {
            columns,
            unique,
            partial,
        } => format!(
            "{}{}on ({})",
            if *unique { "unique, " } else { "" },
            if *partial { "partial, " } else { "" },
            columns.join(", ")
        ),
        State::Constraint { kind, validated } => format!(
            "{kind:?}{}",
            match validated {
                Some(true) => ", validated",
                _ => "",
            }
        ),
        State::Table { columns } => format!(
            "with columns {}",
            columns
                .iter()
                .map(|c| c.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        State::View => "a view".into(),
    }
}

/// An object as the catalog reports it under a name (one JSON object per row of
/// [`probe_sql`]). Fields a kind has no use for are absent.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Found {
    /// `column`, `table`, `view`, `index`, `trigger`, `function`, `constraint`,
    /// `sequence`, …
    pub kind: String,
    #[serde(default)]
    /// The table it belongs to.
    pub table: Option<String>,
    #[serde(default, rename = "type")]
    /// A column's type.
    pub sql_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    /// A column's nullability.
    pub nullable: Option<bool>,
    #[serde(default)]
    /// A column's default.
    pub default: Option<String>,
    #[serde(default)]
    /// A trigger's, constraint's or view's definition.
    pub definition: Option<String>,
    #[serde(default)]
    /// A table's columns.
    pub columns: Option<Vec<Found>>,
    #[serde(default)]
    /// An index's or constraint's columns.
    pub column_names: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient_bool")]
    /// Whether an index is unique.
    pub unique: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    /// Whether an index is partial (absent where the engine has none).
    pub partial: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    /// Whether an index is valid, a constraint validated.
    pub valid: Option<bool>,
    /// Tables whose triggers run a function.
    #[serde(default)]
    pub used_by: Option<Vec<String>>,
    #[serde(default)]
    /// Its name.
    pub name: Option<String>,
}

/// Booleans as the engines' JSON spells them: `true`, `1`, `"YES"`.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v: Option<serde_json::Value> = Option::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Bool(b)) => Some(b),
        Some(serde_json::Value::Number(n)) => Some(n.as_i64() != Some(0)),
        Some(serde_json::Value::String(s)) => Some(matches!(s.as_str(), "YES" | "1" | "t" | "true")),
        Some(other) => return Err(serde::de::Error::custom(format!("not a boolean: {other}"))),
    })
}

/// How an object stands against what a step does to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As the step leaves it.
    Done,
    /// The step has work to do on it.
    Pending,
    /// Something else holds the name, or the object is not what the plan expects: the
    /// step must not run (nor be counted as applied). The difference, for a message.
    Conflict(String),
}

/// Judge what the catalog holds under an object's name (`found`: every row the probe
/// returned) against what a step does to it, on `dialect`.
pub fn judge(dialect: Dialect, expect: &Expect, found: &[Found]) -> Verdict {
    let object = &expect.object;
    // What holds the name but is not this object (another table's, another kind).
    let (mine, others): (Vec<&Found>, Vec<&Found>) = found.iter().partition(|f| is_this(object, f));
    let foreign = others.first().map(|f| {
        format!(
            "{} is already the name of {}{}",
            name_of(object),
            article(&f.kind),
            f.table
                .as_deref()
                .or(f.used_by.iter().flatten().next().map(String::as_str))
                .map(|t| format!(" on table {t}"))
                .unwrap_or_default()
        )
    });
    match &expect.effect {
        Effect::Drop => match (mine.first(), foreign) {
            (Some(_), _) => Verdict::Pending,
            // Not ours: never dropped, and the object this step drops is not there.
            (None, Some(why)) => Verdict::Conflict(format!("{why}, not {object}: Straddle leaves it alone")),
            (None, None) => Verdict::Done,
        },
        Effect::Create(state) => match (mine.first(), foreign) {
            (_, Some(why)) => Verdict::Conflict(format!("{why}: cannot create {object}")),
            (None, None) => Verdict::Pending,
            (Some(f), None) => match difference(dialect, state, f, false) {
                Some(diff) => Verdict::Conflict(format!(
                    "{object} exists but {diff}: it is not what this step creates (left by something else?)"
                )),
                None if difference(dialect, state, f, true).is_none() => Verdict::Done,
                // Ours, half-built (an INVALID index, a NOT VALID constraint): redo.
                None => Verdict::Pending,
            },
        },
        Effect::Requires(state) => match mine.first() {
            Some(f) => match difference(dialect, state, f, true) {
                None => Verdict::Done,
                Some(diff) => Verdict::Conflict(format!("{object} {diff}: the declaration says otherwise")),
            },
            None => Verdict::Conflict(format!("{object} does not exist")),
        },
        // The step makes it so (a view may give way to the table it renames, a column
        // change its type in a swap): done when it is, to do otherwise; what it leaves is
        // checked after it runs.
        Effect::Alter(state) => match mine.first() {
            Some(f) if difference(dialect, state, f, true).is_none() => Verdict::Done,
            _ => Verdict::Pending,
        },
    }
}

fn name_of(object: &Object) -> &str {
    match object {
        Object::Column { column, .. } => column,
        Object::Trigger { name, .. }
        | Object::Function { name, .. }
        | Object::Index { name, .. }
        | Object::Constraint { name, .. }
        | Object::Table { name }
        | Object::View { name } => name,
    }
}

fn article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// Whether a catalog row is the object itself (its kind and table), not something else
/// under its name.
fn is_this(object: &Object, f: &Found) -> bool {
    let on = |table: &str| f.table.as_deref() == Some(table);
    match object {
        Object::Column { table, .. } => f.kind == "column" && on(table),
        Object::Trigger { table, .. } => f.kind == "trigger" && on(table),
        // A function is this table's while no other table's trigger runs it.
        Object::Function { table, .. } => {
            f.kind == "function" && f.used_by.iter().flatten().all(|t| t == table)
        }
        Object::Index { table, .. } => f.kind == "index" && on(table),
        Object::Constraint { table, .. } => f.kind == "constraint" && on(table),
        Object::Table { .. } => f.kind == "table",
        Object::View { .. } => f.kind == "view",
    }
}

/// How `f` differs from `state` (`None`: it does not). `strict`: also what a step
/// finishes later (an index's validity, a constraint's validation); otherwise only what
/// makes it another object.
pub fn difference(dialect: Dialect, state: &State, f: &Found, strict: bool) -> Option<String> {
    match state {
        State::Column {
            sql_type,
            nullable,
            default,
        } => {
            let live = f.sql_type.as_deref().unwrap_or("?");
            if !same_sql_type(dialect, live, sql_type) {
                return Some(format!("has type {live}, not {sql_type}"));
            }
            if let Some(nullable) = nullable
                && f.nullable != Some(*nullable)
            {
                return Some(if *nullable { "is NOT NULL" } else { "is nullable" }.into());
            }
            let live_default = f.default.as_deref();
            let same = match default {
                None => true,
                Some(ColumnDefault::None) => same_default(dialect, live_default, None),
                Some(ColumnDefault::Literal(v)) => same_default(dialect, live_default, Some(v)),
                Some(ColumnDefault::Expression) => !same_default(dialect, live_default, None),
            };
            (!same).then(|| format!("has default {}", live_default.unwrap_or("none")))
        }
        State::Trigger { definition } => {
            let live = f.definition.as_deref().unwrap_or_default();
            (normalize_space(live) != normalize_space(definition)).then(|| "has another body".to_string())
        }
        State::Function { body } => {
            (f.definition.as_deref() != Some(body.as_str())).then(|| "has another body".to_string())
        }
        State::Index {
            columns,
            unique,
            partial,
        } => {
            let live = f.column_names.clone().unwrap_or_default();
            if &live != columns {
                return Some(format!(
                    "is on ({}), not ({})",
                    live.join(", "),
                    columns.join(", ")
                ));
            }
            if f.unique != Some(*unique) {
                return Some(if *unique { "is not unique" } else { "is unique" }.into());
            }
            if f.partial.unwrap_or(false) != *partial {
                return Some(
                    if *partial {
                        "covers every row (it is not partial)"
                    } else {
                        "is partial (it covers only some rows)"
                    }
                    .into(),
                );
            }
            (strict && f.valid == Some(false))
                .then(|| "is INVALID (a failed or interrupted build)".to_string())
        }
        State::Constraint { kind, validated } => {
            let live = f.sql_type.as_deref().unwrap_or_default();
            if live != kind.code() && !(dialect == Dialect::MySql && mysql_kind(live) == Some(*kind)) {
                return Some(format!("is another kind of constraint ({live})"));
            }
            (strict && validated.is_some() && f.valid != *validated).then(|| "is NOT VALID".to_string())
        }
        State::Table { columns } => {
            let live = f.columns.clone().unwrap_or_default();
            for (name, ty, nullable) in columns {
                match live.iter().find(|c| c.name.as_deref() == Some(name)) {
                    None => return Some(format!("has no column {name}")),
                    Some(c) => {
                        let lt = c.sql_type.as_deref().unwrap_or("?");
                        if !same_sql_type(dialect, lt, ty) {
                            return Some(format!("has {name} of type {lt}, not {ty}"));
                        }
                        if c.nullable != Some(*nullable) {
                            return Some(format!(
                                "has {name} {}",
                                if *nullable { "NOT NULL" } else { "nullable" }
                            ));
                        }
                    }
                }
            }
            None
        }
        State::View => None,
    }
}

fn mysql_kind(live: &str) -> Option<ConstraintKind> {
    match live {
        "FOREIGN KEY" => Some(ConstraintKind::ForeignKey),
        "UNIQUE" => Some(ConstraintKind::Unique),
        "CHECK" => Some(ConstraintKind::Check),
        "PRIMARY KEY" => Some(ConstraintKind::PrimaryKey),
        _ => None,
    }
}

fn normalize_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a default the catalog reports is the declared one: compared as values after
/// removing what the engine adds (PostgreSQL's `::type` casts and parentheses) and
/// reading quoted strings as the engine escapes them.
pub fn same_default(dialect: Dialect, live: Option<&str>, declared: Option<&str>) -> bool {
    let norm = |s: &str| -> Option<String> {
        let mut t = s.trim().to_string();
        if dialect == Dialect::Postgres {
            // `'x'::text`, `(0)::bigint`, `'a'::character varying`.
            while let Some(i) = t.rfind("::") {
                let cast = &t[i + 2..];
                if !cast.contains('\'')
                    && cast
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || " _()".contains(c))
                {
                    t.truncate(i);
                } else {
                    break;
                }
            }
            while t.starts_with('(') && t.ends_with(')') {
                t = t[1..t.len() - 1].to_string();
            }
        }
        if t.eq_ignore_ascii_case("NULL") {
            return None;
        }
        if let Some(inner) = t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Some(unquote(dialect, inner));
        }
        let lower = t.to_ascii_lowercase();
        Some(match lower.as_str() {
            "true" => "1".into(),
            "false" => "0".into(),
            _ => lower,
        })
    };
    live.and_then(norm) == declared.and_then(norm)
}

/// The value of a quoted string literal's body: `''` is a quote everywhere; MySQL also
/// escapes with backslashes.
fn unquote(dialect: Dialect, body: &str) -> String {
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\\' if dialect == Dialect::MySql => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// The query describing what the catalog holds under `object`'s name: rows of one JSON
/// object each (see [`Found`]), including objects of other tables or kinds that hold
/// the name where the engine shares the namespace.
pub fn probe_sql(dialect: Dialect, object: &Object) -> String {
    let lit = |s: &str| dialect.string_literal(s);
    match (dialect, object) {
        (Dialect::Postgres, Object::Column { table, column }) => format!(
            "SELECT json_build_object('kind', 'column', 'table', c.relname, 'type', format_type(a.atttypid, a.atttypmod), \
             'nullable', NOT a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid))::text \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') \
             AND c.relname = {} AND a.attname = {} AND a.attnum > 0 AND NOT a.attisdropped",
            lit(table),
            lit(column)
        ),
        // Trigger names are per table on PostgreSQL: only this table's can be in the way.
        (Dialect::Postgres, Object::Trigger { table, name }) => format!(
            "SELECT json_build_object('kind', 'trigger', 'table', c.relname, 'definition', p.proname)::text \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid \
             WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal \
             AND c.relname = {} AND t.tgname = {}",
            lit(table),
            lit(name)
        ),
        (Dialect::Postgres, Object::Function { name, .. }) => format!(
            "SELECT json_build_object('kind', 'function', 'definition', p.prosrc, 'used_by', \
             (SELECT json_agg(DISTINCT c.relname::text) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE t.tgfoid = p.oid))::text \
             FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = {}",
            lit(name)
        ),
        // Index names are the schema's: a table, a view or another table's index may hold it.
        (Dialect::Postgres, Object::Index { name, .. }) => format!(
            "SELECT json_build_object('kind', CASE c.relkind WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' \
             WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' \
             WHEN 'S' THEN 'sequence' ELSE 'relation' END, 'table', t.relname, 'unique', i.indisunique, \
             'valid', i.indisvalid AND i.indexprs IS NULL, 'partial', i.indpred IS NOT NULL, 'column_names', \
             (SELECT json_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE k.n <= i.indnkeyatts))::text \
             FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = {}",
            lit(name)
        ),
        (Dialect::Postgres, Object::Constraint { table, name }) => format!(
            "SELECT json_build_object('kind', 'constraint', 'table', c.relname, 'type', o.contype, \
             'valid', o.convalidated)::text \
             FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = {} AND o.conname = {}",
            lit(table),
            lit(name)
        ),
        (Dialect::Postgres, Object::Table { name } | Object::View { name }) => format!(
            "SELECT json_build_object('kind', CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' \
             WHEN 'v' THEN 'view' WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'S' THEN 'sequence' \
             WHEN 'm' THEN 'materialized view' ELSE 'relation' END, 'columns', \
             (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), \
             'nullable', NOT a.attnotnull, 'kind', 'column')) FROM pg_attribute a \
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))::text \
             FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = {}",
            lit(name)
        ),
        (Dialect::MySql, Object::Column { table, column }) => format!(
            "SELECT JSON_OBJECT('kind', 'column', 'table', TABLE_NAME, 'type', COLUMN_TYPE, \
             'nullable', IS_NULLABLE = 'YES', 'default', COLUMN_DEFAULT) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND COLUMN_NAME = {}",
            lit(table),
            lit(column)
        ),
        // Trigger names are the schema's on MySQL: another table's may hold the name.
        (Dialect::MySql, Object::Trigger { name, .. }) => format!(
            "SELECT JSON_OBJECT('kind', 'trigger', 'table', EVENT_OBJECT_TABLE, 'definition', ACTION_STATEMENT) \
             FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = {}",
            lit(name)
        ),
        (Dialect::MySql, Object::Index { table, name }) => format!(
            "SELECT JSON_OBJECT('kind', 'index', 'table', TABLE_NAME, 'unique', MIN(NON_UNIQUE) = 0, 'valid', TRUE, \
             'column_names', JSON_ARRAYAGG(COLUMN_NAME ORDER BY SEQ_IN_INDEX)) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {} AND INDEX_NAME = {} \
             GROUP BY TABLE_NAME",
            lit(table),
            lit(name)
        ),
        // Foreign key names are the schema's on MySQL.
        (Dialect::MySql, Object::Constraint { name, .. }) => format!(
            "SELECT JSON_OBJECT('kind', 'constraint', 'table', TABLE_NAME, 'type', CONSTRAINT_TYPE, 'valid', TRUE) \
             FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_NAME = {}",
            lit(name)
        ),
        (Dialect::MySql, Object::Table { name } | Object::View { name }) => format!(
            "SELECT JSON_OBJECT('kind', IF(t.TABLE_TYPE = 'VIEW', 'view', 'table'), 'columns', \
             (SELECT JSON_ARRAYAGG(JSON_OBJECT('kind', 'column', 'name', c.COLUMN_NAME, 'type', c.COLUMN_TYPE, \
             'nullable', c.IS_NULLABLE = 'YES')) FROM information_schema.COLUMNS c \
             WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME)) \
             FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = {}",
            lit(name)
        ),
        (Dialect::MySql | Dialect::Sqlite, Object::Function { .. }) => "SELECT NULL WHERE 1 = 0".into(),
        (Dialect::Sqlite, Object::Column { table, column }) => format!(
            "SELECT json_object('kind', 'column', 'table', {t}, 'type', type, 'nullable', \"notnull\" = 0, \
             'default', dflt_value) FROM pragma_table_info({t}) WHERE name = {}",
            lit(column),
            t = lit(table)
        ),
        // One namespace for tables, views, indexes and triggers.
        (Dialect::Sqlite, Object::Trigger { name, .. } | Object::Index { name, .. }) => format!(
            "SELECT json_object('kind', m.type, 'table', m.tbl_name, 'definition', m.sql, 'unique', \
             (SELECT l.\"unique\" FROM pragma_index_list(m.tbl_name) l WHERE l.name = m.name), 'valid', 1, \
             'partial', (SELECT l.partial FROM pragma_index_list(m.tbl_name) l WHERE l.name = m.name), \
             'column_names', (SELECT json_group_array(i.name) FROM (SELECT name FROM pragma_index_info(m.name) \
             ORDER BY seqno) i)) FROM sqlite_master m WHERE m.name = {}",
            lit(name)
        ),
        (Dialect::Sqlite, Object::Constraint { .. }) => "SELECT NULL WHERE 1 = 0".into(),
        (Dialect::Sqlite, Object::Table { name } | Object::View { name }) => format!(
            "SELECT json_object('kind', m.type, 'columns', (SELECT json_group_array(json_object('kind', 'column', \
             'name', p.name, 'type', p.type, 'nullable', p.\"notnull\" = 0)) FROM pragma_table_info(m.name) p)) \
             FROM sqlite_master m WHERE m.name = {}",
            lit(name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: &str, nullable: bool) -> State {
        State::Column {
            sql_type: ty.into(),
            nullable: Some(nullable),
            default: None,
        }
    }

    fn found_col(table: &str, ty: &str, nullable: bool) -> Found {
        Found {
            kind: "column".into(),
            table: Some(table.into()),
            sql_type: Some(ty.into()),
            nullable: Some(nullable),
            ..Found::default()
        }
    }

    #[test]
    fn a_leftover_column_of_another_type_is_a_conflict_not_done() {
        let e = Expect {
            object: Object::Column {
                table: "t".into(),
                column: "n".into(),
            },
            effect: Effect::Create(col("TEXT", true)),
        };
        let d = Dialect::Postgres;
        assert_eq!(judge(d, &e, &[]), Verdict::Pending);
        assert_eq!(judge(d, &e, &[found_col("t", "text", true)]), Verdict::Done);
        match judge(d, &e, &[found_col("t", "integer", true)]) {
            Verdict::Conflict(why) => assert!(why.contains("has type integer, not TEXT"), "{why}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn another_tables_index_is_neither_done_nor_dropped() {
        let object = Object::Index {
            table: "posts".into(),
            name: "fk_users_id_idx".into(),
        };
        let theirs = Found {
            kind: "index".into(),
            table: Some("orders".into()),
            column_names: Some(vec!["user_id".into()]),
            unique: Some(false),
            valid: Some(true),
            ..Found::default()
        };
        let create = Expect {
            object: object.clone(),
            effect: Effect::Create(State::Index {
                columns: vec!["user_id".into()],
                unique: false,
                partial: false,
            }),
        };
        let drop = Expect {
            object,
            effect: Effect::Drop,
        };
        for e in [&create, &drop] {
            match judge(Dialect::Postgres, e, std::slice::from_ref(&theirs)) {
                Verdict::Conflict(why) => assert!(why.contains("on table orders"), "{why}"),
                v => panic!("{v:?}"),
            }
        }
    }

    #[test]
    fn an_invalid_leftover_of_the_same_index_is_redone() {
        let e = Expect {
            object: Object::Index {
                table: "t".into(),
                name: "i".into(),
            },
            effect: Effect::Create(State::Index {
                columns: vec!["a".into()],
                unique: true,
                partial: false,
            }),
        };
        let mut f = Found {
            kind: "index".into(),
            table: Some("t".into()),
            column_names: Some(vec!["a".into()]),
            unique: Some(true),
            valid: Some(false),
            ..Found::default()
        };
        assert_eq!(
            judge(Dialect::Postgres, &e, std::slice::from_ref(&f)),
            Verdict::Pending
        );
        f.valid = Some(true);
        assert_eq!(
            judge(Dialect::Postgres, &e, std::slice::from_ref(&f)),
            Verdict::Done
        );
        // A partial index of that name is not the whole-table index planned (nor the
        // other way round), whatever its columns.
        f.partial = Some(true);
        assert!(matches!(
            judge(Dialect::Postgres, &e, std::slice::from_ref(&f)),
            Verdict::Conflict(ref why) if why.contains("is partial")
        ));
        f.column_names = Some(vec!["b".into()]);
        f.partial = Some(false);
        assert!(matches!(
            judge(Dialect::Postgres, &e, std::slice::from_ref(&f)),
            Verdict::Conflict(_)
        ));
    }

    #[test]
    fn defaults_compare_as_values() {
        assert!(same_default(
            Dialect::MySql,
            Some("'it\\'s a\\\\b'"),
            Some("'it''s a\\\\b'")
        ));
        assert!(same_default(
            Dialect::Postgres,
            Some("'it''s'::text"),
            Some("'it''s'")
        ));
        assert!(same_default(Dialect::MySql, Some("1"), Some("TRUE")));
        assert!(!same_default(Dialect::MySql, Some("'x'"), None));
    }

    #[test]
    fn defaults_compare_without_the_casts_the_engine_adds() {
        assert!(same_default(
            Dialect::Postgres,
            Some("'anon'::text"),
            Some("'anon'")
        ));
        assert!(same_default(Dialect::Postgres, Some("0"), Some("0")));
        assert!(same_default(Dialect::Postgres, Some("true"), Some("TRUE")));
        assert!(!same_default(Dialect::Postgres, Some("1"), Some("0")));
        assert!(same_default(Dialect::MySql, Some("NULL"), None));
        assert!(same_default(Dialect::Sqlite, None, None));
    }
}
