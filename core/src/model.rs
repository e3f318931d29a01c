//! The model IR: what a `#[derive(Model)]` struct declares, validated and
//! dialect-independent. Produced by [`crate::syntax`], consumed by [`crate::plan`] and
//! [`crate::query`], and embedded (as JSON) in binaries by the derive.

use crate::dialect::Dialect;
use crate::expr::SqlExpr;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One table, as the application code that ships with it sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The Rust struct's name, for messages.
    pub rust_name: String,
    /// The table it maps.
    pub table: String,
    /// The dialects this model is compiled for.
    pub dialects: Vec<Dialect>,
    /// Its columns, in field order.
    pub columns: Vec<Column>,
    /// Indexes being added or dropped in this rollout.
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// Check constraints being added in this rollout.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Foreign keys being added in this rollout.
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// Hand-written SQL steps (`sql(...)`), each with its `down`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql_steps: Vec<SqlStep>,
    /// `#[straddle(created(phase = …))]`: the table itself is new in this rollout (created
    /// at expand); the phase the code ships in.
    #[serde(default)]
    pub created: Option<Phase>,
    /// `#[straddle(retired(phase = …, confirm = "<table>"))]`: the table is on its way
    /// out (dropped at contract); this release does not use it.
    #[serde(default)]
    pub retired: Option<Phase>,
    /// `#[straddle(renamed(from = "old", phase = …))]` on the struct: the table is renamed
    /// from `from` (`table` is the new name).
    #[serde(default)]
    pub renamed: Option<TableRename>,
    /// Which rollout of its object each change is, where it is not the first: the same
    /// column, index, constraint or table changed again after an earlier change of it
    /// completed. Read from `straddle.lock` (its `completed` lists) by the derive; the
    /// change's ledger key carries the number, so each rollout has its own ledger rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<Rollout>,
}

/// A change that is not its object's first rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The object the change acts on.
    pub subject: crate::plan::Subject,
    /// Which rollout of it this is: 2 for the second change of the object, …
    pub number: u32,
}

/// A table's rename in flight. Until contract the table keeps its old name (the previous
/// release uses it untouched) and a view under the new name serves this release's own
/// SQL; contract renames the table (the view dropped in the same transaction).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableRename {
    /// Where it comes from (the previous name or type).
    pub from: String,
    /// The phase the code ships it in.
    pub phase: Phase,
}

/// `#[straddle(foreign_key(name = "…", on(a), references = "parent(id)", phase = …))]`:
/// the referencing columns indexed at expand, the constraint enforced from contract on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Its name.
    pub name: String,
    /// The columns, in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub parent: String,
    /// The referenced columns.
    pub parent_columns: Vec<String>,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// `dropped_foreign_key(...)`: dropped at contract (its index stays), re-added going
    /// down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// `on_delete = "…"`: what deleting a referenced row does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<ReferentialAction>,
    /// `on_update = "…"`: what changing a referenced key does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<ReferentialAction>,
    /// `deferrable` / `initially_deferred` (PostgreSQL): checked at commit, when deferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<Deferral>,
    /// `renamed_foreign_key(from = "old", …)`: the key there as `from` takes `name` at
    /// contract (its index keeps its name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// `fix(col = "<sql>", …)`: rows referencing no parent are rewritten so (e.g.
    /// `customer_id = "NULL"`) — the previous release's writes from expand on by triggers,
    /// existing rows in keyset batches — before the key is enforced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<(String, SqlExpr)>,
}

/// What a foreign key does when the referenced row is deleted or its key changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferentialAction {
    /// `CASCADE`: the referencing rows follow.
    Cascade,
    /// `SET NULL`: the referencing columns become NULL.
    SetNull,
    /// `SET DEFAULT`: the referencing columns take their default.
    SetDefault,
    /// `RESTRICT`: refused at once.
    Restrict,
    /// `NO ACTION`: refused at the end of the statement (or at commit, when deferred).
    NoAction,
}

impl ReferentialAction {
    /// From the attribute's text: `cascade`, `set null`, `set default`, `restrict`,
    /// `no action` (any case, `_` for the space).
    pub fn parse(text: &str) -> Option<ReferentialAction> {
        match text.trim().to_ascii_lowercase().replace('_', " ").as_str() {
            "cascade" => Some(ReferentialAction::Cascade),
            "set null" => Some(ReferentialAction::SetNull),
            "set default" => Some(ReferentialAction::SetDefault),
            "restrict" => Some(ReferentialAction::Restrict),
            "no action" => Some(ReferentialAction::NoAction),
            _ => None,
        }
    }

    /// As SQL spells it.
    pub fn sql(self) -> &'static str {
        match self {
            ReferentialAction::Cascade => "CASCADE",
            ReferentialAction::SetNull => "SET NULL",
            ReferentialAction::SetDefault => "SET DEFAULT",
            ReferentialAction::Restrict => "RESTRICT",
            ReferentialAction::NoAction => "NO ACTION",
        }
    }
}

/// When a deferrable foreign key is checked by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deferral {
    /// `DEFERRABLE INITIALLY IMMEDIATE`: per statement unless a transaction defers it.
    InitiallyImmediate,
    /// `DEFERRABLE INITIALLY DEFERRED`: at commit.
    InitiallyDeferred,
}

impl ForeignKey {
    /// The fix as written (`a = <sql>, b = <sql>`), for the lock and messages.
    pub fn fix_text(&self) -> Option<String> {
        fix_text(&self.fix)
    }

    /// The index Straddle builds on the referencing columns.
    pub fn index_name(&self) -> String {
        format!("{}_idx", self.name)
    }

    /// `FOREIGN KEY (a) REFERENCES parent(id)` and its options, for messages and the lock.
    pub fn definition(&self) -> String {
        format!(
            "FOREIGN KEY ({}) REFERENCES {}({}){}",
            self.columns.join(", "),
            self.parent,
            self.parent_columns.join(", "),
            self.options_sql()
        )
    }

    /// ` ON DELETE … ON UPDATE … DEFERRABLE …`, as declared (empty when nothing is).
    pub fn options_sql(&self) -> String {
        let mut out = String::new();
        if let Some(a) = self.on_delete {
            out.push_str(&format!(" ON DELETE {}", a.sql()));
        }
        if let Some(a) = self.on_update {
            out.push_str(&format!(" ON UPDATE {}", a.sql()));
        }
        match self.deferrable {
            Some(Deferral::InitiallyImmediate) => out.push_str(" DEFERRABLE INITIALLY IMMEDIATE"),
            Some(Deferral::InitiallyDeferred) => out.push_str(" DEFERRABLE INITIALLY DEFERRED"),
            None => {}
        }
        out
    }
}

/// `#[straddle(sql(name = "…", up = "…", down = "…", at = …, phase = …))]` on the struct:
/// hand-written statements run by one phase (`at`) of the rollout, with the statements
/// that undo them going down — for what no declaration expresses (`CREATE EXTENSION`, an
/// enum type, a function). Trusted SQL, split into statements and linted at compile time
/// (see `syntax::sql_step`), recorded in the ledger like every generated step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SqlStep {
    /// Its name: the change is `table.name` in the ledger.
    pub name: String,
    /// The phase whose run applies it.
    pub at: Phase,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The statements going up, per dialect (none: nothing to do on that engine).
    pub up: BTreeMap<Dialect, Vec<String>>,
    /// The statements undoing them, per dialect.
    pub down: BTreeMap<Dialect, Vec<String>>,
    /// Whether each direction runs in one transaction (`no_transaction` clears it: then it
    /// is one statement, e.g. `CREATE INDEX CONCURRENTLY`).
    pub transactional: bool,
}

impl SqlStep {
    /// The statements of `direction` on `dialect`.
    pub fn statements(&self, dialect: Dialect, direction: crate::step::Direction) -> &[String] {
        let map = match direction {
            crate::step::Direction::Up => &self.up,
            crate::step::Direction::Down => &self.down,
        };
        map.get(&dialect).map_or(&[], Vec::as_slice)
    }

    /// What it is, comparably (the lock's signature): where it runs, whether in a
    /// transaction, and a digest of its statements on every engine — a shipped step whose
    /// SQL changes is a new rollout, not an edit.
    pub fn signature(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for (direction, map) in [("up", &self.up), ("down", &self.down)] {
            for (dialect, statements) in map {
                for s in statements {
                    hash.update(format!("{direction}\0{}\0{s}\0", dialect.key()));
                }
            }
        }
        let digest: String = hash
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!(
            "sql at {}{} {digest}",
            self.at,
            if self.transactional {
                ""
            } else {
                " (no transaction)"
            }
        )
    }
}

/// `#[straddle(check(name = "…", expr = "…", phase = …))]` on the struct: a CHECK
/// constraint enforced from contract on (PostgreSQL only), once no writer of the
/// previous release can violate it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Its name.
    pub name: String,
    /// Trusted SQL, parsed at compile time.
    pub expr: SqlExpr,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// `dropped_check(...)`: dropped at contract, re-added (validated) going down.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// `renamed_check(from = "old", …)`: the CHECK there as `from` takes `name` at contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// `fix(col = "<sql>", …)`: rows violating the check are rewritten so (each column an
    /// expression over the row, trusted SQL) — the previous release's writes from expand
    /// on by a trigger, existing rows in keyset batches — before it is enforced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<(String, SqlExpr)>,
}

impl Check {
    /// The fix as written (`a = <sql>, b = <sql>`), for the lock and messages.
    pub fn fix_text(&self) -> Option<String> {
        fix_text(&self.fix)
    }
}

/// A constraint's `fix(...)` as written (`a = <sql>, b = <sql>`); `None` when it has none.
fn fix_text(fix: &[(String, SqlExpr)]) -> Option<String> {
    (!fix.is_empty()).then(|| {
        fix.iter()
            .map(|(c, e)| format!("{c} = {}", e.text))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// `#[straddle(index(...))]` / `#[straddle(dropped_index(...))]` on the struct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// Its name.
    pub name: String,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// Whether it is unique.
    pub unique: bool,
    /// A unique index turned into a named UNIQUE constraint once built (PostgreSQL
    /// `ADD CONSTRAINT … UNIQUE USING INDEX`; elsewhere the unique index is the constraint).
    #[serde(default)]
    pub constraint: bool,
    /// `primary_key`: the unique index on the model's key columns, on a table the
    /// database has without a primary key, becomes its primary key (PostgreSQL `ADD
    /// PRIMARY KEY USING INDEX`; MySQL/MariaDB `ADD PRIMARY KEY` in place; SQLite, which
    /// cannot add one to an existing table, keeps the unique index as the key).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
    /// `true`: dropped at contract (and recreated going down); `false`: built at expand.
    pub dropped: bool,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// `renamed_index(from = "old", …)`: the index, there under `from`, takes `name` at
    /// contract (and its old name back going down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// `predicate = "<sql>"`: a partial index, over the rows the condition holds for
    /// (PostgreSQL, SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<SqlExpr>,
    /// `using = "gin"`: the index method (PostgreSQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `include(a, b)`: columns stored in the index, not searched (PostgreSQL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// `opclass(a = "text_pattern_ops")`: a column's operator class (PostgreSQL).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub opclass: BTreeMap<String, String>,
    /// `with = "fillfactor = 70"`: storage parameters, `name = value` each (PostgreSQL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<(String, String)>,
}

impl Index {
    /// What kind of change this is.
    pub fn kind(&self) -> ChangeKind {
        if self.renamed_from.is_some() {
            ChangeKind::Renamed
        } else if self.dropped {
            ChangeKind::Dropped
        } else {
            ChangeKind::Added
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A column of a model (a field).
pub struct Column {
    /// The struct field (and the alias the select list decodes from).
    pub field: String,
    /// The database column.
    pub name: String,
    /// The column's type.
    pub ty: ColumnType,
    /// `Option<T>` fields are nullable columns.
    pub nullable: bool,
    /// Part of the primary key.
    pub primary_key: bool,
    /// The schema change this release is rolling out for the column, if any.
    pub change: Option<Change>,
    /// `default = …` / `default_sql = "…"` on a column of a table created in this release:
    /// its default in `CREATE TABLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultValue>,
    /// `comment = "…"` on a column of a table created in this release (PostgreSQL,
    /// MySQL/MariaDB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `identity`: the database generates the (integer, single-column) key — PostgreSQL
    /// `GENERATED BY DEFAULT AS IDENTITY`, MySQL/MariaDB `AUTO_INCREMENT`, SQLite's
    /// `INTEGER PRIMARY KEY`; inserts leave it out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identity: bool,
}

/// A column's SQL type, per dialect the model is compiled for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnType {
    /// The Rust type as written (without `Option`), for messages.
    pub rust: String,
    /// The column type per dialect.
    pub sql: BTreeMap<Dialect, String>,
}

impl ColumnType {
    /// The column type in `dialect`.
    pub fn sql(&self, dialect: Dialect) -> &str {
        self.sql
            .get(&dialect)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("column type `{}` was not compiled for {dialect}", self.rust))
    }
}

/// A change in flight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Change {
    /// `added(...)`: a new column.
    Add(AddColumn),
    /// `renamed(...)`: a column renamed.
    Rename(RenameColumn),
    /// `retired(...)`: a column on its way out.
    Retire(RetireColumn),
    /// `nullable(...)`: NOT NULL dropped.
    Nullable(NullableColumn),
    /// `not_null(...)`: a nullable column made NOT NULL, its NULLs filled.
    NotNull(NotNullColumn),
    /// `default_changed(...)`: the default changed.
    DefaultChanged(DefaultChange),
    /// `retyped(...)`: the column's type changed.
    Retype(RetypeColumn),
    /// `comment_changed(...)`: the column's comment changed.
    CommentChanged(CommentChange),
}

/// `#[straddle(comment_changed(from = "…", to = "…", phase))]`: the column's comment
/// changes (set at expand, metadata only; restored going back). `None` is no comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommentChange {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The comment before (`None`: none).
    pub from: Option<String>,
    /// The comment after (`None`: none).
    pub to: Option<String>,
}

/// `#[straddle(retyped(from = "i32", up = "…", down = "…", phase))]`: the column's type
/// changes. A shadow column of the new type is added beside the old one and kept
/// converted both ways by a trigger (`up` for the previous release's writes, `down` for
/// this release's, so that it keeps reading correct values), filled in batches, and at
/// contract — the previous release gone — the old column is dropped and the shadow takes
/// its name. Where a dialect stores both types alike (SQLite's INTEGER for `i32` and
/// `i64`), nothing changes in that database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetypeColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The column's type in the previous release.
    pub from: ColumnType,
    /// Old value → new type, an expression over the column's name (trusted SQL); the
    /// engine's own conversion when not declared.
    pub up: SqlExpr,
    /// New value → old type, an expression over the column's name.
    pub down: SqlExpr,
    #[serde(default)]
    /// Backfill pacing declared on this change.
    pub throttle: Throttle,
}

/// How a type change is carried out on one engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetypeMethod {
    /// Both types are stored alike there (SQLite's INTEGER for `i32` and `i64`): nothing
    /// changes in the database.
    Nothing,
    /// The engine changes the type without rewriting the table or checking a row
    /// (PostgreSQL: `VARCHAR(n)` → `VARCHAR(m ≥ n)` or `TEXT`, `NUMERIC(p, s)` →
    /// `NUMERIC(p' ≥ p, s)`): one brief ALTER at expand.
    InPlace,
    /// A shadow column, a converting trigger, a batched conversion, a swap at contract.
    Shadow,
}

impl RetypeColumn {
    /// How the change to `to` is carried out on `dialect`.
    pub fn method(&self, dialect: Dialect, to: &ColumnType) -> RetypeMethod {
        let (from, to) = (self.from.sql(dialect), to.sql(dialect));
        if crate::types::same_sql_type(dialect, from, to) {
            RetypeMethod::Nothing
        } else if crate::types::widens_in_place(dialect, from, to) {
            RetypeMethod::InPlace
        } else {
            RetypeMethod::Shadow
        }
    }

    /// Whether the change goes through a shadow column on `dialect`.
    pub fn uses_shadow(&self, dialect: Dialect, to: &ColumnType) -> bool {
        self.method(dialect, to) == RetypeMethod::Shadow
    }
}

/// `#[straddle(default_changed(from = …, to = …, phase))]`: the column's constant
/// default changes (set at expand, metadata only; restored going back). `None` is no
/// default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefaultChange {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The default before (`None`: none).
    pub from: Option<Literal>,
    /// The default after (`None`: none).
    pub to: Option<Literal>,
}

/// What kind of change a column is going through; recorded in `straddle.lock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A column added.
    Added,
    /// A column renamed.
    Renamed,
    /// A column retired.
    Retired,
    /// An index being dropped.
    Dropped,
    /// A NOT NULL column becoming nullable.
    Nullable,
    /// A nullable column becoming NOT NULL.
    #[serde(rename = "not_null")]
    NotNull,
    /// A column's default changing.
    #[serde(rename = "default_changed")]
    DefaultChanged,
    /// A column's type changing.
    Retyped,
    /// A column's comment changing.
    #[serde(rename = "comment_changed")]
    CommentChanged,
}

impl ChangeKind {
    /// The attribute that declares it.
    pub fn key(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Renamed => "renamed",
            ChangeKind::Retired => "retired",
            ChangeKind::Dropped => "dropped",
            ChangeKind::Nullable => "nullable",
            ChangeKind::NotNull => "not_null",
            ChangeKind::DefaultChanged => "default_changed",
            ChangeKind::Retyped => "retyped",
            ChangeKind::CommentChanged => "comment_changed",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Change {
    /// The phase the code ships the change in.
    pub fn phase(&self) -> Phase {
        match self {
            Change::Add(add) => add.phase,
            Change::Rename(r) => r.phase,
            Change::Retire(r) => r.phase,
            Change::Nullable(n) => n.phase,
            Change::NotNull(n) => n.phase,
            Change::DefaultChanged(d) => d.phase,
            Change::Retype(r) => r.phase,
            Change::CommentChanged(c) => c.phase,
        }
    }

    /// What kind of change this is.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Add(_) => ChangeKind::Added,
            Change::Rename(_) => ChangeKind::Renamed,
            Change::Retire(_) => ChangeKind::Retired,
            Change::Nullable(_) => ChangeKind::Nullable,
            Change::NotNull(_) => ChangeKind::NotNull,
            Change::DefaultChanged(_) => ChangeKind::DefaultChanged,
            Change::CommentChanged(_) => ChangeKind::CommentChanged,
            Change::Retype(_) => ChangeKind::Retyped,
        }
    }

    /// Backfill pacing declared for the change (defaults where it has no backfill).
    pub fn throttle(&self) -> Throttle {
        match self {
            Change::Add(add) => add.throttle.clone(),
            Change::Rename(r) => r.throttle.clone(),
            Change::Retype(r) => r.throttle.clone(),
            Change::NotNull(n) => n.throttle.clone(),
            Change::Retire(_)
            | Change::Nullable(_)
            | Change::DefaultChanged(_)
            | Change::CommentChanged(_) => Throttle::default(),
        }
    }

    /// The column the change renames away from, if it is a rename.
    pub fn renamed_from(&self) -> Option<&str> {
        match self {
            Change::Rename(r) => Some(&r.from),
            _ => None,
        }
    }

    /// What the change started from, as `straddle.lock` records it: a rename's old
    /// column, a type change's old Rust type.
    pub fn from_key(&self) -> Option<&str> {
        match self {
            Change::Rename(r) => Some(&r.from),
            Change::Retype(r) => Some(&r.from.rust),
            _ => None,
        }
    }
}

/// `#[straddle(renamed(from = "old", ...))]`: the column is renamed from `from`. The new
/// column is added beside the old one and kept equal to it by a two-way trigger until
/// contract drops the old one, so both app versions read and write their own name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenameColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The column's name in the previous release.
    pub from: String,
    #[serde(default)]
    /// Backfill pacing declared on this change.
    pub throttle: Throttle,
}

/// `#[straddle(nullable(...))]`: a NOT NULL column becomes nullable. This release reads
/// NULL (the field is `Option<T>`); NOT NULL is dropped at contract, once no reader of
/// the previous release (which cannot read NULL) is left. Until then writes need a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NullableColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
}

/// `#[straddle(not_null(fill = "<sql>", phase = …))]`: a nullable column becomes NOT
/// NULL. This release always writes a value (the field is `T`) and reads a NULL the way
/// `fill` computes it; from expand a trigger fills the NULLs the previous release writes,
/// the backfill fills existing ones in keyset batches, and contract — the previous release
/// gone — asserts none is left and enforces NOT NULL without a long lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotNullColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// What a NULL becomes: trusted SQL over the row's other columns, parsed at compile
    /// time.
    pub fill: SqlExpr,
    #[serde(default)]
    /// Backfill pacing declared on this change.
    pub throttle: Throttle,
}

/// `#[straddle(retired(...))]`: the column is on its way out. This release never reads
/// it (the field reads `None`) nor writes it; contract drops it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RetireColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// For a NOT NULL column: the default set at expand, so that rows this release
    /// inserts without the column stay readable by the previous release. `None` for a
    /// nullable column.
    pub default: Option<Literal>,
}

/// `#[straddle(added(...))]`: a column that does not exist in the previous release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddColumn {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// Value for rows that do not set the column: a database default.
    pub default: Option<DefaultValue>,
    /// Value for existing rows and for rows written by the previous app version.
    pub backfill: Option<SqlExpr>,
    /// How hard the backfill may push (defaults apply where unset; CLI flags override).
    #[serde(default)]
    pub throttle: Throttle,
}

/// Backfill pacing declared on the model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    /// Upper bound on rows filled per second.
    pub max_rows_per_sec: Option<u64>,
    /// Pause between batches, in milliseconds.
    pub pause_ms: Option<u64>,
    /// Target duration of one batch, in milliseconds: the batch size adapts to it.
    pub batch_time_ms: Option<u64>,
    /// Hold the backfill while a standby or replica is further behind than this, in
    /// milliseconds — the stricter of this and the run's `--max-replica-lag` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_lag_ms: Option<u64>,
    /// Hold the backfill while more than this many other statements run on the server —
    /// the stricter of this and the run's `--max-load` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// How a column's default is given.
pub enum DefaultValue {
    /// A constant: metadata-only on PostgreSQL 11+, INSTANT on MySQL 8 / MariaDB.
    Literal(Literal),
    /// A non-volatile SQL expression (PostgreSQL only; validated at compile time).
    Sql(SqlExpr),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// A constant value.
pub enum Literal {
    /// A boolean.
    Bool(bool),
    /// Integer or decimal, as written.
    Number(String),
    /// A string.
    Str(String),
}

impl Literal {
    /// The literal as SQL in `dialect`.
    pub fn render(&self, dialect: Dialect) -> String {
        match self {
            Literal::Bool(b) => match dialect {
                Dialect::Sqlite => if *b { "1" } else { "0" }.to_string(),
                Dialect::Postgres | Dialect::MySql => if *b { "TRUE" } else { "FALSE" }.to_string(),
            },
            Literal::Number(n) => n.clone(),
            Literal::Str(s) => dialect.string_literal(s),
        }
    }
}

/// The rollout phase the shipped code is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Add what the new code needs, keeping what the old code needs.
    Expand,
    /// Fill existing rows.
    Backfill,
    /// Remove or tighten what only the old code needed.
    Contract,
}

impl Phase {
    /// The phases, in order.
    pub const ALL: [Phase; 3] = [Phase::Expand, Phase::Backfill, Phase::Contract];

    /// Its key: `expand`, `backfill`, `contract`.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Backfill => "backfill",
            Phase::Contract => "contract",
        }
    }

    /// The phase of a key.
    pub fn from_key(key: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The phases up to and including this one, in order.
    pub fn through(self) -> impl Iterator<Item = Phase> {
        Phase::ALL.into_iter().filter(move |p| *p <= self)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// How an added column gets its values; derived from the declaration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddKind<'a> {
    /// Nullable, existing rows stay NULL (or take a default).
    Nullable {
        /// The default, if any.
        default: Option<&'a DefaultValue>,
    },
    /// NOT NULL with a constant default: one metadata-only step.
    NotNullDefault {
        /// The default.
        default: &'a DefaultValue,
    },
    /// Filled from an expression: nullable add + sync trigger, batched backfill, and
    /// (when `not_null`) constraint enforcement at contract.
    Backfilled {
        /// The expression.
        expr: &'a SqlExpr,
        /// Whether the column ends NOT NULL.
        not_null: bool,
    },
}

impl AddColumn {
    /// How existing rows get a value, for a column of this nullability.
    pub fn kind(&self, column_nullable: bool) -> AddKind<'_> {
        match (&self.backfill, &self.default) {
            (Some(expr), _) => AddKind::Backfilled {
                expr,
                not_null: !column_nullable,
            },
            (None, Some(default)) if !column_nullable => AddKind::NotNullDefault { default },
            (None, default) => AddKind::Nullable {
                default: default.as_ref(),
            },
        }
    }
}

impl Model {
    /// The primary key's columns.
    pub fn primary_key(&self) -> Vec<&Column> {
        self.columns.iter().filter(|c| c.primary_key).collect()
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// An index by name.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// A CHECK constraint by name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// A foreign key by name.
    pub fn foreign_key(&self, name: &str) -> Option<&ForeignKey> {
        self.foreign_keys.iter().find(|c| c.name == name)
    }

    /// A hand-written SQL step by name.
    pub fn sql_step(&self, name: &str) -> Option<&SqlStep> {
        self.sql_steps.iter().find(|c| c.name == name)
    }

    /// Whether anything of this model is changing (a column or an index).
    pub fn has_changes(&self) -> bool {
        self.changes().next().is_some()
            || self.created.is_some()
            || self.retired.is_some()
            || self.renamed.is_some()
            || !self.indexes.is_empty()
            || !self.checks.is_empty()
            || !self.foreign_keys.is_empty()
            || !self.sql_steps.is_empty()
    }

    /// Whether the model is compiled for `dialect`.
    pub fn supports(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }

    /// Which rollout of `subject` this model's change of it is (1: its first).
    pub fn rollout(&self, subject: &crate::plan::Subject) -> u32 {
        self.rollouts
            .iter()
            .find(|r| &r.subject == subject)
            .map_or(1, |r| r.number)
    }

    /// Columns whose change is in flight, with the change.
    pub fn changes(&self) -> impl Iterator<Item = (&Column, &Change)> {
        self.columns
            .iter()
            .filter_map(|c| c.change.as_ref().map(|ch| (c, ch)))
    }

    /// The names the table may have during its rollout, in the order the generated code
    /// prefers them: the name it had before a rename (the real table until contract), then
    /// its declared name.
    pub fn table_names(&self) -> Vec<&str> {
        self.renamed
            .as_ref()
            .map(|r| r.from.as_str())
            .into_iter()
            .chain([self.table.as_str()])
            .collect()
    }

    /// Parse the JSON the derive embeds.
    pub fn from_json(json: &str) -> Result<Model, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The model as JSON (how the derive embeds it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the model IR always serializes")
    }
}
