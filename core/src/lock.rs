//! `straddle.lock`: what has shipped. Written by `straddle generate`, committed, read by
//! the derive (history checks) and by `straddle check`.
//!
//! ```toml
//! version = 1
//!
//! [tables.users]
//! model = "User"
//!
//! [tables.users.columns.id]
//! type = "i64"
//! primary_key = true
//!
//! [tables.users.columns.email_normalized]
//! type = "String"
//! phase = "backfill"      # the change's shipped phase; absent once it is an ordinary column
//! change = "added"        # what the change is: added, renamed (with `from`), retired
//!
//! [tables.users.columns.email_address]
//! type = "String"
//! phase = "expand"
//! change = "renamed"
//! from = "email"
//!
//! [tables.users.columns.points]
//! type = "i64"
//! phase = "expand"
//! change = "retyped"
//! from = "i32"             # the previous Rust type
//!
//! [tables.users.completed.columns]   # rollouts that completed, oldest first: the next
//! nickname = ["added"]                # change of `nickname` is its rollout 2
//! ```

use crate::model::{ChangeKind, Model, Phase, Rollout};
use crate::plan::Subject;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The lock file's name, at the crate root.
pub const FILE_NAME: &str = "straddle.lock";
/// The lock format's version: 2 records the column types declared with `sql_type`
/// (version 1 locks are read too: their columns' declared types are unknown, so changes to
/// them are not checked until `straddle generate` rewrites the lock).
pub const VERSION: u32 = 2;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// `straddle.lock`: what has shipped, per table.
pub struct LockFile {
    /// The format's version.
    pub version: u32,
    #[serde(default)]
    /// Every table's shipped history, by name.
    pub tables: BTreeMap<String, LockedTable>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// A table's shipped history.
pub struct LockedTable {
    /// The Rust struct, for messages.
    pub model: String,
    /// The shipped phase of the table's own creation (`created`), if Straddle created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Phase>,
    /// The shipped phase of the table's retirement (`retired`), if it is being retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Phase>,
    /// The shipped phase of the table's rename (`renamed`), if it was renamed; with the
    /// name it had before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed: Option<Phase>,
    /// The name it was renamed from, while the rename is in flight or shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Its columns as shipped, by name.
    #[serde(default)]
    pub columns: BTreeMap<String, LockedColumn>,
    /// Indexes added or dropped through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, LockedIndex>,
    /// Check constraints added through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, LockedCheck>,
    /// Foreign keys added through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub foreign_keys: BTreeMap<String, LockedForeignKey>,
    /// Hand-written SQL steps, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sql: BTreeMap<String, LockedSql>,
    /// The completed rollouts of the table and of its objects, oldest first: a change
    /// whose contract shipped and whose declaration then went (or gave way to another
    /// change of the same object). The next change of an object is its rollout
    /// `completed + 1`, with ledger rows of its own.
    #[serde(default, skip_serializing_if = "Completed::is_empty")]
    pub completed: Completed,
}

/// Completed rollouts, per object kind and name: each a signature of the change
/// (`retyped from i32`, `added index on (email)`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completed {
    /// Of the table itself (`created`, `renamed from …`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table: Vec<String>,
    /// Of columns, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, Vec<String>>,
    /// Of indexes, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, Vec<String>>,
    /// Of CHECK constraints, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, Vec<String>>,
    /// Of foreign keys, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub foreign_keys: BTreeMap<String, Vec<String>>,
    /// Of hand-written SQL steps, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sql: BTreeMap<String, Vec<String>>,
}

impl Completed {
    fn is_empty(&self) -> bool {
        self == &Completed::default()
    }

    /// The completed rollouts of `subject`, oldest first.
    pub fn of(&self, subject: &Subject) -> &[String] {
        let map = match subject {
            Subject::Table(_) => return &self.table,
            Subject::Column(_) => &self.columns,
            Subject::Index(_) => &self.indexes,
            Subject::Check(_) => &self.checks,
            Subject::ForeignKey(_) => &self.foreign_keys,
            Subject::Sql(_) => &self.sql,
        };
        map.get(subject.name()).map_or(&[], Vec::as_slice)
    }

    fn push(&mut self, subject: &Subject, signature: String) {
        let map = match subject {
            Subject::Table(_) => return self.table.push(signature),
            Subject::Column(_) => &mut self.columns,
            Subject::Index(_) => &mut self.indexes,
            Subject::Check(_) => &mut self.checks,
            Subject::ForeignKey(_) => &mut self.foreign_keys,
            Subject::Sql(_) => &mut self.sql,
        };
        map.entry(subject.name().to_string()).or_default().push(signature);
    }
}

/// An index change, comparably: e.g. `added unique index on (email)`.
pub fn index_definition(change: ChangeKind, unique: bool, constraint: bool, columns: &[String]) -> String {
    format!(
        "{change} {}index on ({}){}",
        if unique { "unique " } else { "" },
        columns.join(", "),
        if constraint { " as a constraint" } else { "" }
    )
}

/// [`index_definition`], with its method, included columns and predicate, and where a
/// renamed index comes from.
pub fn index_change(
    change: ChangeKind,
    unique: bool,
    constraint: bool,
    columns: &[String],
    options: &IndexOptions,
    from: Option<&str>,
) -> String {
    let mut out = index_definition(change, unique, constraint, columns);
    if options.primary_key {
        out.push_str(" as the primary key");
    }
    if let Some(m) = &options.using {
        out.push_str(&format!(" using {m}"));
    }
    if !options.include.is_empty() {
        out.push_str(&format!(" including ({})", options.include.join(", ")));
    }
    if !options.opclass.is_empty() {
        let classes: Vec<String> = options.opclass.iter().map(|(c, o)| format!("{c} {o}")).collect();
        out.push_str(&format!(" with operator classes ({})", classes.join(", ")));
    }
    if !options.with.is_empty() {
        out.push_str(&format!(" with ({})", options.with.join(", ")));
    }
    if let Some(p) = &options.predicate {
        out.push_str(&format!(" where {p}"));
    }
    if let Some(from) = from {
        out.push_str(&format!(" from {from}"));
    }
    out
}

/// An index's method, included columns and predicate, as the lock records them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexOptions {
    /// `predicate`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
    /// `using`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    /// `include(…)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `opclass(…)`: each column's operator class.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub opclass: BTreeMap<String, String>,
    /// `with = "…"`: storage parameters, `name = value` each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// `primary_key`: the index becomes the table's primary key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
}

impl IndexOptions {
    /// What `index` declares.
    pub fn of(index: &crate::model::Index) -> IndexOptions {
        IndexOptions {
            predicate: index.predicate.as_ref().map(|p| p.text.clone()),
            using: index.method.clone(),
            include: index.include.clone(),
            opclass: index.opclass.clone(),
            with: index.with.iter().map(|(n, v)| format!("{n} = {v}")).collect(),
            primary_key: index.primary_key,
        }
    }
}

/// A CHECK change, comparably: `CHECK (…)` added, `dropped CHECK (…)`, `renamed CHECK (…)
/// from old`.
pub fn check_definition(expr: &str, dropped: bool, from: Option<&str>) -> String {
    constraint_change(&format!("CHECK ({expr})"), dropped, from)
}

/// What a CHECK's signature says of its `fix(...)`: `CHECK (…) fixing a = <sql>`.
pub const FIXING: &str = " fixing ";

/// [`check_definition`], with the rewrite of violating rows it declares (a changed fix is
/// another rollout, not an edit).
pub fn check_change(expr: &str, dropped: bool, from: Option<&str>, fix: Option<&str>) -> String {
    let mut out = check_definition(expr, dropped, from);
    if let Some(fix) = fix {
        out.push_str(FIXING);
        out.push_str(fix);
    }
    out
}

/// [`foreign_key_definition`], with the rewrite of orphan rows it declares.
pub fn foreign_key_change(definition: &str, dropped: bool, from: Option<&str>, fix: Option<&str>) -> String {
    let mut out = foreign_key_definition(definition, dropped, from);
    if let Some(fix) = fix {
        out.push_str(FIXING);
        out.push_str(fix);
    }
    out
}

/// A foreign key change, comparably: its definition, `dropped …` when it goes, `renamed …
/// from old` when it takes a new name.
pub fn foreign_key_definition(definition: &str, dropped: bool, from: Option<&str>) -> String {
    constraint_change(definition, dropped, from)
}

fn constraint_change(definition: &str, dropped: bool, from: Option<&str>) -> String {
    match from {
        Some(from) => format!("renamed {definition} from {from}"),
        None if dropped => format!("dropped {definition}"),
        None => definition.to_string(),
    }
}

/// A column change, comparably: its kind, and where it comes from for a rename (the old
/// name) or a type change (the old type) — what the history checks hold fixed while it
/// rolls out.
fn column_signature(kind: ChangeKind, from: Option<&str>) -> String {
    match (kind, from) {
        (ChangeKind::Renamed | ChangeKind::Retyped, Some(from)) => format!("{kind} from {from}"),
        _ => kind.to_string(),
    }
}

/// The changes `models` declare on `table`, each object's signature.
fn declared_changes(models: &[&Model], table: &str) -> Vec<(Subject, String)> {
    let mut out = Vec::new();
    for m in models.iter().filter(|m| m.table == table) {
        let mut own = Vec::new();
        if m.created.is_some() {
            own.push("created".to_string());
        }
        if let Some(r) = &m.renamed {
            own.push(format!("renamed from {}", r.from));
        }
        if m.retired.is_some() {
            own.push("retired".to_string());
        }
        if !own.is_empty() {
            out.push((Subject::Table(table.to_string()), own.join(", ")));
        }
        for c in &m.columns {
            if let Some(ch) = &c.change {
                out.push((
                    Subject::Column(c.name.clone()),
                    column_signature(ch.kind(), ch.from_key()),
                ));
            }
        }
        for i in &m.indexes {
            out.push((
                Subject::Index(i.name.clone()),
                index_change(
                    i.kind(),
                    i.unique,
                    i.constraint,
                    &i.columns,
                    &IndexOptions::of(i),
                    i.renamed_from.as_deref(),
                ),
            ));
        }
        for c in &m.checks {
            out.push((
                Subject::Check(c.name.clone()),
                check_change(
                    &c.expr.text,
                    c.dropped,
                    c.renamed_from.as_deref(),
                    c.fix_text().as_deref(),
                ),
            ));
        }
        for f in &m.foreign_keys {
            out.push((
                Subject::ForeignKey(f.name.clone()),
                foreign_key_change(
                    &f.definition(),
                    f.dropped,
                    f.renamed_from.as_deref(),
                    f.fix_text().as_deref(),
                ),
            ));
        }
        for s in &m.sql_steps {
            out.push((Subject::Sql(s.name.clone()), s.signature()));
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A foreign key as shipped.
pub struct LockedForeignKey {
    /// `FOREIGN KEY (a) REFERENCES parent(id)`.
    pub definition: String,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// Being dropped (`dropped_foreign_key`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// A rename's previous name (`renamed_foreign_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `fix(...)`, as written (`a = <sql>, …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A hand-written SQL step as shipped.
pub struct LockedSql {
    /// Where it runs and a digest of its statements: `sql at expand 3f2a…` (see
    /// [`crate::model::SqlStep::signature`]).
    pub definition: String,
    /// The phase the code ships it in.
    pub phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A CHECK constraint as shipped.
pub struct LockedCheck {
    /// The expression as written.
    pub expr: String,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// Being dropped (`dropped_check`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// A rename's previous name (`renamed_check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `fix(...)`, as written (`a = <sql>, …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// An index as shipped.
pub struct LockedIndex {
    /// The columns, in order.
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Whether it is unique.
    pub unique: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// With `constraint`: the unique index becomes a UNIQUE constraint.
    pub constraint: bool,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// `added`, `dropped` or `renamed`.
    pub change: ChangeKind,
    /// A rename's previous name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Its method, included columns and predicate.
    #[serde(flatten)]
    pub options: IndexOptions,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A column as shipped.
pub struct LockedColumn {
    /// The field's Rust type as written (`Option<…>` for nullable columns).
    #[serde(rename = "type")]
    pub rust_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Part of the primary key.
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// A key the database generates (`identity`).
    pub identity: bool,
    /// The shipped phase of the column's change; absent for an ordinary column (one that
    /// existed before Straddle, or whose `added(...)` was removed after contract shipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The column types declared with `sql_type`, per dialect, where they differ from the
    /// Rust type's default mapping (absent: the defaults — in a version 2 lock).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sql_type: BTreeMap<String, String>,
    /// What the change is (`added` when absent and a phase is given: locks written
    /// before renames and retirements existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeKind>,
    /// A rename's previous column name; a type change's previous Rust type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A column's types declared with `sql_type`, per dialect key, where they differ from the
/// default mapping of its Rust type (compared as the engine reads them).
pub fn declared_sql_types(c: &crate::model::Column) -> BTreeMap<String, String> {
    c.ty.sql
        .iter()
        .filter(|(d, sql)| {
            crate::types::sql_type(**d, &c.ty.rust)
                .is_none_or(|default| !crate::types::same_sql_type(**d, default, sql))
        })
        .map(|(d, sql)| (d.key().to_string(), sql.clone()))
        .collect()
}

impl LockedTable {
    /// The changes this lock records as shipped (in flight, or settled at contract and
    /// still declared), each object's signature and shipped phase; the table's own
    /// changes under the name `table`.
    pub fn shipped_changes(&self, table: &str) -> Vec<(Subject, String, Phase)> {
        let mut out = Vec::new();
        let own: Vec<(String, Phase)> = [
            self.created.map(|p| ("created".to_string(), p)),
            self.renamed.map(|p| {
                (
                    format!("renamed from {}", self.renamed_from.as_deref().unwrap_or("?")),
                    p,
                )
            }),
            self.retired.map(|p| ("retired".to_string(), p)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Some((_, phase)) = own.first() {
            let signature = own.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", ");
            out.push((Subject::Table(table.to_string()), signature, *phase));
        }
        for (name, c) in &self.columns {
            if let Some((kind, phase)) = c.shipped() {
                out.push((
                    Subject::Column(name.clone()),
                    column_signature(kind, c.from.as_deref()),
                    phase,
                ));
            }
        }
        for (name, i) in &self.indexes {
            out.push((
                Subject::Index(name.clone()),
                index_change(
                    i.change,
                    i.unique,
                    i.constraint,
                    &i.columns,
                    &i.options,
                    i.from.as_deref(),
                ),
                i.phase,
            ));
        }
        for (name, c) in &self.checks {
            out.push((
                Subject::Check(name.clone()),
                check_change(&c.expr, c.dropped, c.from.as_deref(), c.fix.as_deref()),
                c.phase,
            ));
        }
        for (name, f) in &self.foreign_keys {
            out.push((
                Subject::ForeignKey(name.clone()),
                foreign_key_change(&f.definition, f.dropped, f.from.as_deref(), f.fix.as_deref()),
                f.phase,
            ));
        }
        for (name, s) in &self.sql {
            out.push((Subject::Sql(name.clone()), s.definition.clone(), s.phase));
        }
        out
    }
}

impl LockedColumn {
    /// The change in flight or last shipped, with its shipped phase.
    pub fn shipped(&self) -> Option<(ChangeKind, Phase)> {
        self.phase.map(|p| (self.change.unwrap_or(ChangeKind::Added), p))
    }
}

#[derive(Debug)]
/// Why the lock cannot be read.
pub enum LockError {
    /// It cannot be read from disk.
    Io(std::io::Error),
    /// It is not valid TOML of the expected shape.
    Parse(String),
    /// It was written by a newer format version.
    Version(u32),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Io(e) => write!(f, "cannot read {FILE_NAME}: {e}"),
            LockError::Parse(e) => write!(f, "{FILE_NAME} is malformed: {e}"),
            LockError::Version(v) => write!(
                f,
                "{FILE_NAME} has version {v}; this straddle reads versions 1 to {VERSION} (a newer straddle wrote it)"
            ),
        }
    }
}

impl std::error::Error for LockError {}

impl LockFile {
    /// The lock at `path`; `Ok(None)` when there is none (a fresh project).
    pub fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
        match std::fs::read_to_string(path) {
            Ok(text) => LockFile::parse(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LockError::Io(e)),
        }
    }

    /// Parse a lock's text.
    pub fn parse(text: &str) -> Result<LockFile, LockError> {
        let lock: LockFile = toml::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        if !(1..=VERSION).contains(&lock.version) {
            return Err(LockError::Version(lock.version));
        }
        Ok(lock)
    }

    /// The lock's text, as written to disk.
    pub fn render(&self) -> String {
        format!(
            "# Written by `straddle generate`: what has shipped. Commit it; do not edit it by hand.\n{}",
            toml::to_string_pretty(self).expect("the lock always serializes")
        )
    }

    /// The lock after shipping `models` as declared: each of their tables is replaced by
    /// what the models (all of them that map it) declare.
    pub fn with_models(&self, models: &[&Model]) -> LockFile {
        let mut next = self.clone();
        next.version = VERSION;
        for model in models {
            let mut table = LockedTable::of(models, &model.table);
            if let Some(shipped) = self.shipped_table(model) {
                // A change whose contract shipped and that is no longer declared as it
                // was has completed: the object's next change is its next rollout.
                table.completed = shipped.completed.clone();
                let declared = declared_changes(models, &model.table);
                for (subject, signature, phase) in shipped.shipped_changes(&model.table) {
                    let continued = declared.iter().any(|(s, d)| *s == subject && *d == signature);
                    if phase == Phase::Contract && !continued {
                        table.completed.push(&subject, signature);
                    }
                }
            }
            // A renamed table is recorded under its new name from its first release on.
            if let Some(r) = &model.renamed {
                next.tables.remove(&r.from);
            }
            next.tables.insert(model.table.clone(), table);
        }
        next
    }

    /// The table `model` maps as this lock has it (under its previous name in a rename's
    /// first release). Its changes are read under the model's name for the table
    /// (`shipped_changes(&model.table)`), so that they compare with the declared ones.
    fn shipped_table(&self, model: &Model) -> Option<&LockedTable> {
        self.tables
            .get(&model.table)
            .or_else(|| self.tables.get(&model.renamed.as_ref()?.from))
    }

    /// The phase this lock has shipped of rollout `rollout` of `subject`, a change `model`
    /// declares: `None` when the lock has another rollout of it (or none).
    pub fn shipped_phase(&self, model: &Model, subject: &Subject, rollout: u32) -> Option<Phase> {
        let table = self.shipped_table(model)?;
        if table.completed.of(subject).len() + 1 != rollout as usize {
            return None;
        }
        let declared = declared_changes(&[model], &model.table)
            .into_iter()
            .find(|(s, _)| s == subject)?
            .1;
        table
            .shipped_changes(&model.table)
            .into_iter()
            .find(|(s, d, _)| s == subject && *d == declared)
            .map(|(_, _, phase)| phase)
    }

    /// Which rollout of its object each change `model` declares is, where it is not the
    /// first: the object's completed rollouts, plus one when the lock has another change
    /// of it settled at contract (this release is the first without that declaration).
    pub fn rollouts(&self, model: &Model) -> Vec<Rollout> {
        let Some(shipped) = self.shipped_table(model) else {
            return Vec::new();
        };
        let settled = shipped.shipped_changes(&model.table);
        declared_changes(&[model], &model.table)
            .into_iter()
            .filter_map(|(subject, signature)| {
                let done = shipped.completed.of(&subject).len();
                let superseded = settled
                    .iter()
                    .any(|(s, d, p)| *s == subject && *p == Phase::Contract && *d != signature);
                let number = (done + usize::from(superseded) + 1) as u32;
                (number > 1).then_some(Rollout { subject, number })
            })
            .collect()
    }
}

impl LockedTable {
    /// What the models that map `table` declare of it, together.
    pub fn of(models: &[&Model], table: &str) -> LockedTable {
        let mapping: Vec<&&Model> = models.iter().filter(|m| m.table == table).collect();
        LockedTable {
            completed: Completed::default(),
            model: mapping
                .iter()
                .map(|m| m.rust_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: mapping.iter().find_map(|m| m.created),
            retired: mapping.iter().find_map(|m| m.retired),
            renamed: mapping.iter().find_map(|m| m.renamed.as_ref().map(|r| r.phase)),
            renamed_from: mapping
                .iter()
                .find_map(|m| m.renamed.as_ref().map(|r| r.from.clone())),
            columns: mapping
                .iter()
                .flat_map(|m| &m.columns)
                .map(|c| {
                    let rust_type = if c.nullable {
                        format!("Option<{}>", c.ty.rust)
                    } else {
                        c.ty.rust.clone()
                    };
                    let change = c.change.as_ref();
                    (
                        c.name.clone(),
                        LockedColumn {
                            rust_type,
                            sql_type: declared_sql_types(c),
                            primary_key: c.primary_key,
                            identity: c.identity,
                            phase: change.map(|ch| ch.phase()),
                            change: change.map(|ch| ch.kind()),
                            from: change.and_then(|ch| ch.from_key()).map(str::to_string),
                        },
                    )
                })
                .collect(),
            indexes: mapping
                .iter()
                .flat_map(|m| &m.indexes)
                .map(|i| {
                    (
                        i.name.clone(),
                        LockedIndex {
                            columns: i.columns.clone(),
                            unique: i.unique,
                            constraint: i.constraint,
                            phase: i.phase,
                            change: i.kind(),
                            from: i.renamed_from.clone(),
                            options: IndexOptions::of(i),
                        },
                    )
                })
                .collect(),
            checks: mapping
                .iter()
                .flat_map(|m| &m.checks)
                .map(|c| {
                    (
                        c.name.clone(),
                        LockedCheck {
                            expr: c.expr.text.clone(),
                            phase: c.phase,
                            dropped: c.dropped,
                            from: c.renamed_from.clone(),
                            fix: c.fix_text(),
                        },
                    )
                })
                .collect(),
            foreign_keys: mapping
                .iter()
                .flat_map(|m| &m.foreign_keys)
                .map(|f| {
                    (
                        f.name.clone(),
                        LockedForeignKey {
                            definition: f.definition(),
                            phase: f.phase,
                            dropped: f.dropped,
                            from: f.renamed_from.clone(),
                            fix: f.fix_text(),
                        },
                    )
                })
                .collect(),
            sql: mapping
                .iter()
                .flat_map(|m| &m.sql_steps)
                .map(|s| {
                    (
                        s.name.clone(),
                        LockedSql {
                            definition: s.signature(),
                            phase: s.phase,
                        },
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_locks_are_read_and_declared_types_round_trip() {
        let v1 = "version = 1\n\n[tables.t]\nmodel = \"T\"\n\n[tables.t.columns.id]\ntype = \"i64\"\nprimary_key = true\n";
        let lock = LockFile::parse(v1).unwrap();
        assert_eq!(lock.version, 1);
        assert!(lock.tables["t"].columns["id"].sql_type.is_empty());
        assert!(matches!(
            LockFile::parse("version = 3\n"),
            Err(LockError::Version(3))
        ));
        let mut next = lock.clone();
        next.version = VERSION;
        next.tables
            .get_mut("t")
            .unwrap()
            .columns
            .get_mut("id")
            .unwrap()
            .sql_type = BTreeMap::from([("postgres".to_string(), "BIGINT".to_string())]);
        let text = next.render();
        assert!(text.contains("version = 2"), "{text}");
        assert_eq!(LockFile::parse(&text).unwrap(), next);
    }

    #[test]
    fn round_trips_and_rejects_other_versions() {
        let mut lock = LockFile {
            version: VERSION,
            tables: BTreeMap::new(),
        };
        let mut t = LockedTable {
            model: "User".into(),
            created: None,
            retired: None,
            columns: BTreeMap::new(),
            indexes: BTreeMap::new(),
            checks: BTreeMap::new(),
            foreign_keys: BTreeMap::new(),
            ..LockedTable::default()
        };
        t.columns.insert(
            "id".into(),
            LockedColumn {
                rust_type: "i64".into(),
                sql_type: BTreeMap::new(),
                primary_key: true,
                identity: false,
                phase: None,
                change: None,
                from: None,
            },
        );
        t.columns.insert(
            "n".into(),
            LockedColumn {
                rust_type: "String".into(),
                sql_type: BTreeMap::new(),
                primary_key: false,
                identity: false,
                phase: Some(Phase::Backfill),
                change: Some(ChangeKind::Renamed),
                from: Some("m".into()),
            },
        );
        t.indexes.insert(
            "users_email_prefix".into(),
            LockedIndex {
                columns: vec!["org".into(), "email".into()],
                unique: false,
                constraint: false,
                phase: Phase::Expand,
                change: ChangeKind::Added,
                from: None,
                options: IndexOptions {
                    opclass: BTreeMap::from([("email".to_string(), "text_pattern_ops".to_string())]),
                    with: vec!["fillfactor = 70".into()],
                    ..IndexOptions::default()
                },
            },
        );
        t.sql.insert(
            "citext".into(),
            LockedSql {
                definition: "sql at expand 0123456789ab".into(),
                phase: Phase::Expand,
            },
        );
        lock.tables.insert("users".into(), t);
        let text = lock.render();
        assert!(
            text.contains(
                "[tables.users.columns.n]\ntype = \"String\"\nphase = \"backfill\"\nchange = \"renamed\"\nfrom = \"m\""
            ),
            "{text}"
        );
        assert_eq!(LockFile::parse(&text).unwrap(), lock);
        assert!(matches!(
            LockFile::parse("version = 3"),
            Err(LockError::Version(3))
        ));
        assert!(matches!(LockFile::parse("version = "), Err(LockError::Parse(_))));
    }
}
