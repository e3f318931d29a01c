//! Operations → executable steps, one module per dialect. Every piece of SQL text
//! Straddle sends is written in this module tree or in [`crate::query`] through the
//! helpers here; identifiers always go through [`Dialect::quote`].

mod constraint_fix;
pub mod fleet;
pub mod ledger;
pub mod live;
mod mysql;
mod postgres;
mod primary_key;
mod sql_step;
mod sqlite;
pub mod sqlite_rebuild;
pub mod table_definition;
mod table_rename;

use crate::catalog::{Effect, Expect, Object, State};
use crate::dialect::Dialect;
use crate::expr::SqlExpr;
use crate::model::{Change, Column, DefaultValue, ForeignKey, Index, Model, Phase, RetypeMethod};
use crate::plan::{ChangePlan, Col, Op, Subject};
use crate::step::{Direction, Statement, Step};

/// The column an operation applies to, with everything a renderer may need.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub model: &'a Model,
    /// The declared column whose change this is.
    pub column: &'a Column,
    pub change: &'a Change,
    pub dialect: Dialect,
    /// The physical column the operation acts on.
    pub col: Col,
}

impl<'a> Target<'a> {
    pub fn q(&self, ident: &str) -> String {
        self.dialect.quote(ident)
    }
    pub fn table(&self) -> String {
        self.q(&self.model.table)
    }
    /// The same change, acting on another of its columns.
    pub fn at(&self, col: Col) -> Target<'a> {
        Target { col, ..*self }
    }
    /// A type change's columns and conversions for a trigger body, quoted: the shadow, the
    /// old column, `up` and `down` reading the `row` (`NEW`) values of the other column.
    pub fn retype_sync(&self, row: &str) -> [String; 4] {
        let q = crate::expr::Qualifier::Row(row);
        [
            self.q(&self.name_of(Col::Shadow)),
            self.q(&self.name_of(Col::From)),
            self.at(Col::Shadow).fill_expr().render(self.dialect, q),
            self.at(Col::From).fill_expr().render(self.dialect, q),
        ]
    }
    /// The name of the column the operation acts on.
    pub fn name(&self) -> String {
        self.name_of(self.col)
    }
    /// The physical name of `col` for this change.
    pub fn name_of(&self, col: Col) -> String {
        match (col, self.change) {
            (Col::This, _) => self.column.name.clone(),
            (Col::From, Change::Rename(r)) => r.from.clone(),
            // A type change keeps the name: the old column is the declared one.
            (Col::From, Change::Retype(_)) => self.column.name.clone(),
            (Col::Shadow, Change::Retype(_)) => {
                shadow_column(self.dialect, &self.model.table, &self.column.name)
            }
            (Col::From | Col::Shadow, _) => {
                unreachable!("the planner acts on another column only for a rename or a type change")
            }
        }
    }
    /// The name of the other column of a rename or a type change (the old column for the
    /// new one, the new one for the old).
    pub fn other_name(&self) -> String {
        match (self.col, self.change) {
            (Col::This, Change::Rename(_)) => self.name_of(Col::From),
            (Col::From, Change::Rename(_)) => self.name_of(Col::This),
            (Col::Shadow | Col::This, Change::Retype(_)) => self.name_of(Col::From),
            (Col::From, Change::Retype(_)) => self.name_of(Col::Shadow),
            _ => unreachable!("only renames and type changes have two columns"),
        }
    }
    /// The quoted column the operation acts on.
    pub fn col(&self) -> String {
        self.q(&self.name())
    }
    /// The type of the column the operation acts on (a type change's old column has the
    /// old type).
    pub fn sql_type(&self) -> &'a str {
        match (self.col, self.change) {
            (Col::From, Change::Retype(r)) => r.from.sql(self.dialect),
            _ => self.column.ty.sql(self.dialect),
        }
    }
    /// What a backfill or sync trigger writes into the column: the backfill expression of
    /// an added column, the other column of a rename, the other column converted for a
    /// type change (`up` into the shadow, `down` back into the old column).
    pub fn fill_expr(&self) -> SqlExpr {
        match self.change {
            Change::Add(add) => add
                .backfill
                .clone()
                .expect("planner emits sync/backfill ops only with an expression"),
            Change::Rename(_) => SqlExpr::column(&self.other_name()),
            Change::NotNull(n) => n.fill.clone(),
            Change::Retype(r) => match self.col {
                Col::From => r.down.reading(&self.column.name, &self.other_name()),
                Col::Shadow | Col::This => r.up.clone(),
            },
            Change::Retire(_)
            | Change::Nullable(_)
            | Change::DefaultChanged(_)
            | Change::CommentChanged(_) => {
                panic!("only added, renamed and retyped columns are filled")
            }
        }
    }
    /// The key column backfill batches by; of a composite key its leading column (the
    /// batches range over the whole key: see `composite_keyset_backfill`).
    pub fn key(&self) -> &'a Column {
        self.model.primary_key()[0]
    }
    pub fn key_is_integer(&self) -> bool {
        is_integer_key(self.key())
    }
    /// A string literal holding an identifier, for catalog lookups.
    pub fn lit(&self, s: &str) -> String {
        self.dialect.string_literal(s)
    }
    /// A name for an object Straddle owns, unique per table, column and purpose, within
    /// every engine's identifier limit (see [`crate::naming`]).
    pub fn object_name(&self, purpose: &str) -> String {
        crate::naming::object_name(purpose, &[&self.model.table, &self.name()])
    }
    /// The change's sync triggers: see [`sync_trigger_names`].
    pub fn sync_trigger_names(&self) -> [String; 2] {
        sync_trigger_names(&self.model.table, &self.column.name)
    }
    /// `WHERE` condition selecting the row a trigger fires for (SQLite's AFTER triggers).
    pub fn this_row(&self) -> String {
        self.model
            .primary_key()
            .iter()
            .map(|k| format!("{0} = NEW.{0}", self.q(&k.name)))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
    /// The catalog object of the column the operation acts on.
    pub fn column_object(&self) -> Object {
        Object::Column {
            table: self.model.table.clone(),
            column: self.name(),
        }
    }
    /// What adding the column needs to find: the column a rename copies from, or a type
    /// change converts from, as the previous release declared it (a rename keeps that
    /// column at contract: of another type, the column would not be what the model says).
    pub fn requires(&self) -> Option<Expect> {
        let (type_of_from, col) = match (self.change, self.col) {
            (Change::Rename(_), Col::This) => (self.column.ty.sql(self.dialect), Col::From),
            (Change::Retype(r), Col::Shadow) => (r.from.sql(self.dialect), Col::From),
            _ => return None,
        };
        Some(Expect {
            object: self.at(col).column_object(),
            effect: Effect::Requires(State::Column {
                sql_type: type_of_from.to_string(),
                nullable: Some(self.column.nullable),
                default: None,
            }),
        })
    }
    /// What adding the column (as declared by `nullable` and `default`) expects of the
    /// catalog: the column created so — or found so, left by an interrupted run — and
    /// what it needs to find (see [`Target::requires`]).
    pub fn added_column(&self, nullable: bool, default: Option<&DefaultValue>) -> Vec<Expect> {
        let column = create(
            self.column_object(),
            State::Column {
                sql_type: self.sql_type().to_string(),
                nullable: Some(nullable),
                default: Some(crate::catalog::ColumnDefault::of(default, self.dialect)),
            },
        );
        std::iter::once(column).chain(self.requires()).collect()
    }
    /// The column the operation acts on, as the step leaves it.
    pub fn column_state(&self, nullable: bool) -> State {
        State::Column {
            sql_type: self.sql_type().to_string(),
            nullable: Some(nullable),
            default: None,
        }
    }
}

/// The temporary name of a type change's new column while both exist (`straddle_new_…`).
pub fn shadow_column(_dialect: Dialect, table: &str, column: &str) -> String {
    crate::naming::object_name("new", &[table, column])
}

/// Names of the sync triggers Straddle installs for a backfilled column (the insert
/// trigger, the update trigger). Their presence in the catalog is how the runtime knows a
/// change is between expand and contract.
pub fn sync_trigger_names(table: &str, column: &str) -> [String; 2] {
    ["sync_ins", "sync_upd"].map(|purpose| crate::naming::object_name(purpose, &[table, column]))
}

/// When a change's sync trigger has work to do: the condition on an inserted row and the
/// one on an updated row (`NEW`/`OLD`), in the dialect. Outside them the trigger would
/// change nothing, and it is not run at all (PostgreSQL's and SQLite's `WHEN`, an outer
/// `IF` on MySQL) — so the backfill's own writes, which leave every row synced, do not pay
/// for it:
/// - an added column is computed where a writer left it NULL, and recomputed where an
///   update changed its sources but not it;
/// - a rename's two columns are made equal where they differ;
/// - a type change converts whichever column a writer changed into the other. (Where the
///   written value is already what the other column converts to — the backfill's own
///   writes — the body leaves the other column alone: converting back would rewrite a
///   value the other release reads, `' 42'` → `42` → `'42'`. SQLite's condition says so
///   itself; PostgreSQL's and MySQL's bodies check it, guarded against conversion errors.)
pub(crate) fn sync_when(t: &Target<'_>) -> [String; 2] {
    let d = t.dialect;
    let distinct = |a: &str, b: &str| match d {
        Dialect::Postgres => format!("{a} IS DISTINCT FROM {b}"),
        Dialect::MySql => format!("NOT ({a} <=> {b})"),
        Dialect::Sqlite => format!("{a} IS NOT {b}"),
    };
    let same = |a: &str, b: &str| match d {
        Dialect::Postgres => format!("{a} IS NOT DISTINCT FROM {b}"),
        Dialect::MySql => format!("{a} <=> {b}"),
        Dialect::Sqlite => format!("{a} IS {b}"),
    };
    let row = |r: &str, col: &str| format!("{r}.{col}");
    match t.change {
        // Only a NULL is filled: the column holds this and the previous release's values.
        Change::NotNull(_) => {
            let null = format!("NEW.{} IS NULL", t.col());
            [null.clone(), null]
        }
        Change::Rename(_) => {
            let (new, old) = (t.q(&t.column.name), t.q(&t.other_name()));
            let differ = distinct(&row("NEW", &new), &row("NEW", &old));
            [differ.clone(), differ]
        }
        Change::Retype(_) => {
            let [new, old, up, down] = t.retype_sync("NEW");
            let changed = |c: &str| distinct(&row("NEW", c), &row("OLD", c));
            let update = match d {
                // SQLite's conversions do not raise: the condition can hold them.
                Dialect::Sqlite => format!(
                    "({} AND {}) OR ({} AND {})",
                    changed(&old),
                    distinct(&row("NEW", &old), &format!("({down})")),
                    changed(&new),
                    distinct(&row("NEW", &new), &format!("({up})")),
                ),
                Dialect::Postgres | Dialect::MySql => format!("{} OR {}", changed(&old), changed(&new)),
            };
            [
                format!("{} IS NULL OR {} IS NULL", row("NEW", &new), row("NEW", &old)),
                update,
            ]
        }
        _ => {
            let col = t.col();
            let sources = t.fill_expr().sources;
            let sources_changed = if sources.is_empty() {
                match d {
                    Dialect::Sqlite => "0".to_string(),
                    Dialect::Postgres | Dialect::MySql => "FALSE".to_string(),
                }
            } else {
                sources
                    .iter()
                    .map(|s| distinct(&row("NEW", &t.q(s)), &row("OLD", &t.q(s))))
                    .collect::<Vec<_>>()
                    .join(" OR ")
            };
            [
                format!("NEW.{col} IS NULL"),
                format!(
                    "NEW.{col} IS NULL OR ({} AND ({sources_changed}))",
                    same(&row("NEW", &col), &row("OLD", &col))
                ),
            ]
        }
    }
}

pub(crate) fn create(object: Object, state: State) -> Expect {
    Expect {
        object,
        effect: Effect::Create(state),
    }
}

pub(crate) fn alter(object: Object, state: State) -> Expect {
    Expect {
        object,
        effect: Effect::Alter(state),
    }
}

pub(crate) fn drop(object: Object) -> Expect {
    Expect {
        object,
        effect: Effect::Drop,
    }
}

/// A step before merging: `combinable` steps are short, metadata-only DDL that may share
/// one transaction (and so one lock acquisition) with their neighbours on engines with
/// transactional DDL (RULES.md one-ae-per-transaction).
pub(crate) struct Rendered {
    pub step: Step,
    pub combinable: bool,
}

/// The index an operation applies to.
pub(crate) struct IndexTarget<'a> {
    pub model: &'a Model,
    pub index: &'a Index,
    pub dialect: Dialect,
}

impl IndexTarget<'_> {
    pub fn q(&self, ident: &str) -> String {
        self.dialect.quote(ident)
    }
    pub fn table(&self) -> String {
        self.q(&self.model.table)
    }
    pub fn name(&self) -> String {
        self.q(&self.index.name)
    }
    pub fn lit(&self, s: &str) -> String {
        self.dialect.string_literal(s)
    }
    /// `("a", "b")`
    pub fn columns(&self) -> String {
        let cols: Vec<String> = self.index.columns.iter().map(|c| self.q(c)).collect();
        format!("({})", cols.join(", "))
    }
    /// What follows `ON <table>` in `CREATE INDEX`: the method, the columns, the included
    /// columns and the predicate, as declared (just the columns when nothing else is).
    pub fn definition(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.index.method {
            out.push_str(&format!("USING {m} "));
        }
        if self.index.opclass.is_empty() {
            out.push_str(&self.columns());
        } else {
            // A column's operator class follows it: `("email" "text_pattern_ops")`.
            let cols: Vec<String> = self
                .index
                .columns
                .iter()
                .map(|c| match self.index.opclass.get(c) {
                    Some(class) => {
                        let class: Vec<String> = class.split('.').map(|p| self.q(p)).collect();
                        format!("{} {}", self.q(c), class.join("."))
                    }
                    None => self.q(c),
                })
                .collect();
            out.push_str(&format!("({})", cols.join(", ")));
        }
        if !self.index.include.is_empty() {
            let cols: Vec<String> = self.index.include.iter().map(|c| self.q(c)).collect();
            out.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
        }
        if !self.index.with.is_empty() {
            // Names and values checked at compile time (`syntax::index_params`).
            let params: Vec<String> = self
                .index
                .with
                .iter()
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            out.push_str(&format!(" WITH ({})", params.join(", ")));
        }
        if let Some(p) = self.predicate() {
            out.push_str(&format!(" WHERE {p}"));
        }
        out
    }
    /// A partial index's predicate, in the dialect.
    fn predicate(&self) -> Option<String> {
        let p = self.index.predicate.as_ref()?;
        Some(p.render(self.dialect, crate::expr::Qualifier::None))
    }
    pub fn unique(&self) -> &'static str {
        if self.index.unique { "UNIQUE " } else { "" }
    }
    /// The index in the catalog.
    pub fn object(&self) -> Object {
        self.object_named(&self.index.name)
    }
    /// An index of the table named `name` in the catalog.
    pub fn object_named(&self, name: &str) -> Object {
        Object::Index {
            table: self.model.table.clone(),
            name: name.to_string(),
        }
    }
    /// A rename's (old name, new name) for `op` (`RenameIndex` or `UnrenameIndex`).
    pub fn renaming(&self, op: &Op) -> (String, String) {
        let from = self
            .index
            .renamed_from
            .clone()
            .expect("the planner renames only a renamed index");
        match op {
            Op::RenameIndex => (from, self.index.name.clone()),
            _ => (self.index.name.clone(), from),
        }
    }
    /// A rename step's name, for `op` (`RenameIndex` or `UnrenameIndex`).
    pub fn rename_step(&self, op: &Op) -> &'static str {
        if *op == Op::RenameIndex {
            "rename-index"
        } else {
            "unrename-index"
        }
    }
    /// A rename's expectations: the old name gone, the new one the index as declared.
    pub fn renamed(&self, op: &Op) -> Vec<Expect> {
        let (old, new) = self.renaming(op);
        vec![
            drop(self.object_named(&old)),
            create(self.object_named(&new), self.state()),
        ]
    }
    /// The index as built.
    pub fn state(&self) -> State {
        State::Index {
            columns: self.index.columns.clone(),
            unique: self.index.unique,
            partial: self.index.predicate.is_some(),
        }
    }

    /// For a unique index: the assertion that no two rows share the indexed values, with
    /// a sample of them (rows with a NULL among the columns never conflict).
    pub fn no_duplicates(&self) -> Option<Statement> {
        if !self.index.unique {
            return None;
        }
        let cols: Vec<String> = self.index.columns.iter().map(|c| self.q(c)).collect();
        let list = cols.join(", ");
        let mut not_null = cols
            .iter()
            .map(|c| format!("{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        // A partial unique index: only the rows it covers must be distinct.
        if let Some(p) = self.predicate() {
            not_null.push_str(&format!(" AND {p}"));
        }
        let text = match self.dialect {
            Dialect::MySql => "CHAR",
            Dialect::Postgres | Dialect::Sqlite => "TEXT",
        };
        let shown = match self.dialect {
            Dialect::MySql => format!(
                "CONCAT_WS(', ', {})",
                cols.iter()
                    .map(|c| format!("CAST({c} AS CHAR)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => cols
                .iter()
                .map(|c| format!("CAST({c} AS {text})"))
                .collect::<Vec<_>>()
                .join(" || ', ' || "),
        };
        let dups = format!(
            "SELECT {list} FROM {} WHERE {not_null} GROUP BY {list} HAVING count(*) > 1",
            self.table()
        );
        Some(Statement::Assert {
            sql: format!("SELECT count(*) FROM ({dups}) AS straddle_dups"),
            message: format!(
                "unique index {} cannot be built: values of ({}) repeat in {} — nothing was changed; resolve the \
                 duplicates and run again",
                self.index.name,
                self.index.columns.join(", "),
                self.model.table
            ),
            sample: Some(format!(
                "SELECT {shown} AS straddle_key FROM ({dups} ORDER BY {list} LIMIT 5) AS straddle_dups"
            )),
        })
    }
}

/// Render one phase of one change, in one direction, for one dialect.
pub fn render_phase(
    dialect: Dialect,
    model: &Model,
    plan: &ChangePlan,
    phase: Phase,
    direction: Direction,
) -> Vec<Step> {
    let mut steps = render_steps(dialect, model, plan, phase, direction);
    if dialect == Dialect::Postgres {
        for step in &mut steps {
            step.lock = Some(postgres::claimed_lock(step));
        }
    }
    steps
}

fn render_steps(
    dialect: Dialect,
    model: &Model,
    plan: &ChangePlan,
    phase: Phase,
    direction: Direction,
) -> Vec<Step> {
    let ops = match direction {
        Direction::Up => &plan.phase(phase).up,
        Direction::Down => &plan.phase(phase).down,
    };
    let column_name = match &plan.subject {
        Subject::Column(c) => c,
        Subject::Table(_) => {
            let rendered = ops
                .iter()
                .flat_map(|op| match op {
                    Op::CreateRenameView | Op::DropRenameView | Op::RenameTable | Op::UnrenameTable => {
                        table_rename::render(dialect, model, op)
                    }
                    _ => vec![render_table(dialect, model, op)],
                })
                .collect();
            return merge_combinable(rendered);
        }
        Subject::ForeignKey(name) => {
            let fk = model
                .foreign_key(name)
                .expect("plan refers to a model foreign key");
            let index = Index {
                name: fk.index_name(),
                columns: fk.columns.clone(),
                unique: false,
                constraint: false,
                primary_key: false,
                dropped: false,
                phase: fk.phase,
                renamed_from: None,
                predicate: None,
                method: None,
                include: Vec::new(),
                opclass: Default::default(),
                with: Vec::new(),
            };
            let it = IndexTarget {
                model,
                index: &index,
                dialect,
            };
            let rendered = ops
                .iter()
                .flat_map(|op| match (op, dialect) {
                    (Op::CreateFixTrigger | Op::DropFixTrigger | Op::FixViolations, _) => {
                        constraint_fix::render(dialect, model, &constraint_fix::Rule::ForeignKey(fk), op)
                    }
                    (Op::CreateForeignKeyIndex | Op::DropForeignKeyIndex, _) => {
                        let op = if *op == Op::CreateForeignKeyIndex {
                            Op::CreateIndex
                        } else {
                            Op::DropIndex
                        };
                        render_index(&it, &op)
                    }
                    (_, Dialect::Postgres) => postgres::render_foreign_key(model, fk, op),
                    (_, Dialect::MySql) => mysql::render_foreign_key(model, fk, op),
                    // Refused at compile time; a model compiled elsewhere cannot reach here.
                    (_, Dialect::Sqlite) => vec![unsupported("foreign keys", dialect)],
                })
                .collect();
            return merge_combinable(rendered);
        }
        Subject::Check(name) => {
            let check = model.check(name).expect("plan refers to a model check");
            let rendered = ops
                .iter()
                .flat_map(|op| match dialect {
                    Dialect::Postgres => postgres::render_check(model, check, op),
                    // Refused at compile time; a model compiled elsewhere cannot reach here.
                    Dialect::MySql | Dialect::Sqlite => vec![unsupported("check constraints", dialect)],
                })
                .collect();
            return merge_combinable(rendered);
        }
        Subject::Sql(name) => {
            let declared = model.sql_step(name).expect("plan refers to a model SQL step");
            let rendered = ops
                .iter()
                .flat_map(|op| sql_step::render(dialect, declared, op))
                .collect();
            return merge_combinable(rendered);
        }
        Subject::Index(name) => {
            let index = model.index(name).expect("plan refers to a model index");
            let t = IndexTarget {
                model,
                index,
                dialect,
            };
            let rendered = ops.iter().flat_map(|op| render_index(&t, op)).collect();
            return merge_combinable(rendered);
        }
    };
    let column = model.column(column_name).expect("plan refers to a model column");
    let change = column
        .change
        .as_ref()
        .expect("plan for a column without a change");
    let target = Target {
        model,
        column,
        change,
        dialect,
        col: Col::This,
    };
    if let Change::Retype(r) = change {
        match r.method(dialect, &column.ty) {
            // Both types are stored alike here: nothing to change in this database.
            RetypeMethod::Nothing => return Vec::new(),
            // One brief ALTER at expand, where the new code may start writing wider values.
            // Going down leaves the column wide: narrowing would check or rewrite every
            // row, and the previous release reads the wider column as before.
            RetypeMethod::InPlace if (phase, direction) == (Phase::Expand, Direction::Up) => {
                return merge_combinable(postgres::alter_type_in_place(&target));
            }
            RetypeMethod::InPlace => return Vec::new(),
            RetypeMethod::Shadow => {}
        }
    }
    let phase_plan = plan.phase(phase);
    let ops = match direction {
        Direction::Up => &phase_plan.up,
        Direction::Down => &phase_plan.down,
    };
    let rendered: Vec<Rendered> = ops
        .iter()
        .flat_map(|op| {
            let target = target.at(op.col());
            match dialect {
                Dialect::Postgres => postgres::render(&target, op),
                Dialect::MySql => mysql::render(&target, op),
                Dialect::Sqlite => sqlite::render(&target, op),
            }
        })
        .collect();
    merge_combinable(rendered)
}

/// An index operation, spelled by the target's dialect.
fn render_index(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    if t.index.primary_key {
        return primary_key::render(t, op);
    }
    match t.dialect {
        Dialect::Postgres => postgres::render_index(t, op),
        Dialect::MySql => mysql::render_index(t, op),
        Dialect::Sqlite => sqlite::render_index(t, op),
    }
}

/// The table as the model declares it, for the catalog: its columns (name, type,
/// nullable).
pub(crate) fn table_state(dialect: Dialect, model: &Model) -> State {
    State::Table {
        columns: model
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.sql(dialect).to_string(), c.nullable))
            .collect(),
    }
}

/// `CREATE TABLE` for the model's columns (types, NOT NULL for non-`Option` fields,
/// primary key), or the guarded drop.
fn render_table(dialect: Dialect, model: &Model, op: &Op) -> Rendered {
    let table = dialect.quote(&model.table);
    let object = Object::Table {
        name: model.table.clone(),
    };
    // MySQL DDL commits implicitly: each step stands alone there.
    let transactional = dialect != Dialect::MySql;
    let s = match op {
        Op::CreateTable => {
            let mut defs: Vec<String> = model
                .columns
                .iter()
                .map(|c| {
                    let null = match (c.nullable, dialect) {
                        (false, _) => " NOT NULL",
                        (true, Dialect::MySql) => " NULL",
                        (true, _) => "",
                    };
                    let mut def = format!("{} {}{null}", dialect.quote(&c.name), c.ty.sql(dialect));
                    // SQLite's INTEGER PRIMARY KEY is the rowid, generated already.
                    match (c.identity, dialect) {
                        (true, Dialect::Postgres) => def.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                        (true, Dialect::MySql) => def.push_str(" AUTO_INCREMENT"),
                        _ => {}
                    }
                    // An expression renders parenthesized, as MySQL/MariaDB and SQLite require.
                    if let Some(d) = &c.default {
                        def.push_str(&format!(" DEFAULT {}", default_sql(dialect, d)));
                    }
                    if let (Some(text), Dialect::MySql) = (&c.comment, dialect) {
                        def.push_str(&format!(" COMMENT {}", dialect.string_literal(text)));
                    }
                    def
                })
                .collect();
            let keys: Vec<String> = model
                .primary_key()
                .iter()
                .map(|k| dialect.quote(&k.name))
                .collect();
            defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
            let mut s = step("create-table", transactional, true);
            let create_table = format!("CREATE TABLE IF NOT EXISTS {table} ({})", defs.join(", "));
            s.statements.push(if model.retired.is_some() {
                // A retirement reverted: the table as it was when it was dropped.
                Statement::Restore(crate::step::TableRestore {
                    table: model.table.clone(),
                    fallback: vec![create_table],
                })
            } else {
                Statement::Execute(create_table)
            });
            if dialect == Dialect::Postgres && model.retired.is_none() {
                // In the same transaction as the table.
                for c in model.columns.iter().filter(|c| c.comment.is_some()) {
                    s.statements.push(Statement::Execute(format!(
                        "COMMENT ON COLUMN {table}.{} IS {}",
                        dialect.quote(&c.name),
                        dialect.string_literal(c.comment.as_deref().unwrap_or_default())
                    )));
                }
            }
            // A retirement reverted brings back the table as it was kept, whatever the model
            // says of it.
            let state = if model.retired.is_some() {
                State::Table { columns: Vec::new() }
            } else {
                table_state(dialect, model)
            };
            s.expects.push(create(object, state));
            s
        }
        Op::DropTable => {
            let mut s = step("drop-table", transactional, true);
            s.statements.push(Statement::Assert {
                sql: format!("SELECT count(*) FROM {table}"),
                message: format!(
                    "reverting the creation of {} would drop the rows it holds: nothing was dropped; move or delete \
                     them first",
                    model.table
                ),
                sample: None,
            });
            s.statements
                .push(Statement::Execute(format!("DROP TABLE IF EXISTS {table}")));
            s.expects.push(drop(object));
            s
        }
        Op::RetireTable => {
            let mut s = step("drop-table", transactional, true);
            // Kept to re-create it exactly if the retirement is reverted.
            s.statements.push(Statement::Capture {
                table: model.table.clone(),
            });
            s.statements
                .push(Statement::Execute(format!("DROP TABLE IF EXISTS {table}")));
            s.expects.push(drop(object));
            s
        }
        _ => unreachable!("only table operations act on a table"),
    };
    Rendered {
        step: s,
        combinable: false,
    }
}

/// A step that refuses: what the compile-time checks keep a model from declaring for
/// `dialect`.
fn unsupported(what: &str, dialect: Dialect) -> Rendered {
    let mut s = step("unsupported", false, false);
    s.statements.push(Statement::Assert {
        sql: "SELECT 1".into(),
        message: format!("{what} cannot be added in place on {dialect}"),
        sample: None,
    });
    Rendered {
        step: s,
        combinable: false,
    }
}

/// The assertion that every row's referencing columns find their parent row, with a
/// sample of the keys of those that do not (rows with a NULL among them are not checked,
/// as the constraint does not check them).
pub(crate) fn no_orphans(dialect: Dialect, model: &Model, fk: &ForeignKey) -> Statement {
    let q = |s: &str| dialect.quote(s);
    let set = fk
        .columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", q(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let join = fk
        .columns
        .iter()
        .zip(&fk.parent_columns)
        .map(|(c, p)| format!("p.{} = c.{}", q(p), q(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let orphans = format!(
        "FROM {} AS c WHERE {set} AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE {join})",
        q(&model.table),
        q(&fk.parent)
    );
    let keys = key_columns(dialect, model, "c.");
    let (shown, order) = (key_text(dialect, &keys), keys.join(", "));
    Statement::Assert {
        sql: format!("SELECT count(*) {orphans}"),
        message: format!(
            "rows of {} reference missing rows of {} ({}): nothing was changed; fix them and run again",
            model.table,
            fk.parent,
            fk.definition()
        ),
        sample: Some(format!(
            "SELECT {shown} AS straddle_key {orphans} ORDER BY {order} LIMIT 5"
        )),
    }
}

fn merge_combinable(rendered: Vec<Rendered>) -> Vec<Step> {
    let mut out: Vec<(Step, bool)> = Vec::new();
    for r in rendered {
        if let Some((last, last_combinable)) = out.last_mut()
            && *last_combinable
            && r.combinable
        {
            last.name = format!("{}+{}", last.name, r.step.name);
            last.statements.extend(r.step.statements);
            last.expects.extend(r.step.expects);
            continue;
        }
        out.push((r.step, r.combinable));
    }
    out.into_iter().map(|(s, _)| s).collect()
}

/// `DEFAULT …` clause text for a column default.
pub(crate) fn default_sql(dialect: Dialect, default: &DefaultValue) -> String {
    match default {
        DefaultValue::Literal(lit) => lit.render(dialect),
        DefaultValue::Sql(expr) => expr.render(dialect, crate::expr::Qualifier::None),
    }
}

/// Catalog probe: every column of every table in the current database/schema, as
/// rows of (table, column, nullable: bool-ish integer, type as the catalog spells it;
/// see [`crate::types::canonical_type`]).
pub fn catalog_columns_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT c.relname::text, a.attname::text, CAST(NOT a.attnotnull AS BOOLEAN), \
             format_type(a.atttypid, a.atttypmod) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v') \
             AND a.attnum > 0 AND NOT a.attisdropped"
        }
        Dialect::MySql => {
            "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), IS_NULLABLE = 'YES', \
             CAST(COLUMN_TYPE AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        }
        Dialect::Sqlite => {
            "SELECT m.name, p.name, p.\"notnull\" = 0, p.type FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type IN ('table', 'view')"
        }
    }
}

/// Catalog probe: names of Straddle's triggers in the current database/schema.
pub fn catalog_triggers_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal \
             AND t.tgname LIKE 'straddle%'"
        }
        Dialect::MySql => {
            "SELECT CAST(TRIGGER_NAME AS CHAR) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'straddle%'"
        }
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'straddle%'",
    }
}

/// Did a statement fail because it could not get its lock in time (lock timeout,
/// deadlock victim, busy database)? Such a statement can be retried.
pub fn is_lock_timeout(dialect: Dialect, code: Option<&str>, message: &str) -> bool {
    match dialect {
        // lock_not_available, deadlock_detected
        Dialect::Postgres => matches!(code, Some("55P03" | "40P01")),
        Dialect::MySql => {
            message.contains("Lock wait timeout exceeded")
                || message.contains("Deadlock found")
                || matches!(code, Some("40001"))
        }
        Dialect::Sqlite => matches!(code, Some("5" | "6" | "517")) || message.contains("database is locked"),
    }
}

/// Does an error message from the engine say a column does not exist? Used to refresh a
/// stale schema snapshot.
pub fn is_undefined_column(dialect: Dialect, code: Option<&str>, message: &str) -> bool {
    match dialect {
        Dialect::Postgres => code == Some("42703"),
        Dialect::MySql => code == Some("42S22") || message.contains("Unknown column"),
        Dialect::Sqlite => message.contains("no such column") || message.contains("has no column named"),
    }
}

/// Does an error from the engine say a NOT NULL column got no value? A writer whose
/// snapshot is stale may omit a column that just became required (a rename or type
/// change going back re-creates the old column); re-probing tells whether it was that.
pub fn is_not_null_violation(dialect: Dialect, code: Option<&str>, message: &str) -> bool {
    match dialect {
        Dialect::Postgres => code == Some("23502"),
        Dialect::MySql => {
            message.contains("cannot be null") || message.contains("doesn't have a default value")
        }
        Dialect::Sqlite => message.contains("NOT NULL constraint failed"),
    }
}

/// Does an error message from the engine say a table does not exist (a rename's contract
/// just ran)? Used to refresh a stale schema snapshot.
pub fn is_undefined_table(dialect: Dialect, code: Option<&str>, message: &str) -> bool {
    match dialect {
        Dialect::Postgres => code == Some("42P01"),
        Dialect::MySql => code == Some("42S02") || message.contains("doesn't exist"),
        Dialect::Sqlite => message.contains("no such table"),
    }
}

/// What a batched pass over the table writes: the `SET` list, which rows still need it
/// (`pending`), which rows it should have written and did not once it is done (`missed`),
/// and the name its progress and messages go by (`table.<label>`).
pub(crate) struct BatchWork {
    pub label: String,
    pub set: String,
    pub pending: String,
    pub missed: String,
    /// What rows left behind mean, when not a column left NULL.
    pub missed_message: Option<String>,
}

/// The expression reading a batch's upper key from its keys `k`: cast where the engine
/// would otherwise return a narrower integer.
pub(crate) fn upper_key_max(dialect: Dialect, integer_key: bool) -> &'static str {
    match (dialect, integer_key) {
        (Dialect::Postgres, true) => "CAST(max(k) AS BIGINT)",
        (Dialect::MySql, true) => "CAST(max(k) AS SIGNED)",
        _ => "max(k)",
    }
}

/// The backfill step: keyset batches by primary key, upper key first, then one ranged
/// UPDATE of the rows still NULL. `one_statement` is the engine's single-statement batch,
/// where it has one.
pub(crate) fn keyset_backfill(t: &Target<'_>, one_statement: Option<[String; 2]>) -> Rendered {
    let (col, expr) = (
        t.col(),
        t.fill_expr().render(t.dialect, crate::expr::Qualifier::None),
    );
    let work = BatchWork {
        label: t.name().to_string(),
        set: format!("{col} = {expr}"),
        pending: format!("{col} IS NULL"),
        missed: format!("{col} IS NULL AND {expr} IS NOT NULL"),
        missed_message: None,
    };
    keyset_batches(t.dialect, t.model, one_statement, work)
}

/// [`keyset_backfill`]'s batches for any [`BatchWork`]; over a composite key, see
/// [`composite_keyset_batches`].
pub(crate) fn keyset_batches(
    dialect: Dialect,
    model: &Model,
    one_statement: Option<[String; 2]>,
    work: BatchWork,
) -> Rendered {
    if model.primary_key().len() > 1 {
        return composite_keyset_batches(dialect, model, work);
    }
    let key_column = model.primary_key()[0];
    let max = upper_key_max(dialect, is_integer_key(key_column));
    let key = dialect.quote(&key_column.name);
    let table = dialect.quote(&model.table);
    let BatchWork {
        label,
        set,
        pending,
        missed,
        missed_message,
    } = work;
    let p = |n| dialect.placeholder(n);
    let mut s = step("backfill", false, false);
    s.statements.push(Statement::Backfill(Box::new(crate::step::Backfill {
        table: model.table.clone(),
        column: label,
        key: key_column.name.clone(),
        key_is_integer: is_integer_key(key_column),
        first_upper_key_sql: format!(
            "SELECT {max} FROM (SELECT {key} AS k FROM {table} ORDER BY {key} LIMIT {}) AS batch",
            p(1)
        ),
        upper_key_sql: format!(
            "SELECT {max} FROM (SELECT {key} AS k FROM {table} WHERE {key} > {} ORDER BY {key} LIMIT {}) AS batch",
            p(1),
            p(2)
        ),
        first_update_sql: format!("UPDATE {table} SET {set} WHERE {key} <= {} AND {pending}", p(1)),
        update_sql: format!(
            "UPDATE {table} SET {set} WHERE {key} > {} AND {key} <= {} AND {pending}",
            p(1),
            p(2)
        ),
        remaining_sql: format!("SELECT count(*) FROM {table} WHERE {pending}"),
        missed_sql: format!("SELECT count(*) FROM {table} WHERE {missed}"),
        missed_sample_sql: format!(
            "SELECT {} AS straddle_key FROM {table} WHERE {missed} ORDER BY {key} LIMIT 5",
            key_text(dialect, std::slice::from_ref(&key))
        ),
        one_statement,
        key_columns: Vec::new(),
        expanded_binds: false,
        missed_message,
    })));
    Rendered {
        step: s,
        combinable: false,
    }
}

/// [`keyset_batches`] over a composite primary key: batches are ranges of the key tuple
/// in its order. Each upper-key query returns the batch's last key as a JSON array; the
/// ranges are row comparisons `(k1, k2) > (?, ?)` where the engine range-scans them
/// (PostgreSQL, SQLite) and their expansion `k1 > ? OR (k1 = ? AND k2 > ?)` where it
/// does not (MySQL/MariaDB).
fn composite_keyset_batches(d: Dialect, model: &Model, work: BatchWork) -> Rendered {
    let keys: Vec<String> = model.primary_key().iter().map(|k| d.quote(&k.name)).collect();
    let (list, table) = (keys.join(", "), d.quote(&model.table));
    let BatchWork {
        label,
        set,
        pending,
        missed,
        missed_message,
    } = work;
    let expanded = d == Dialect::MySql;
    // Placeholders from `first` on, as many as the comparison binds.
    let compare = |op: &str, last_op: &str, first: usize| -> (String, usize) {
        if !expanded {
            let ps: Vec<String> = (0..keys.len()).map(|i| d.placeholder(first + i)).collect();
            return (
                format!("({list}) {last_op} ({})", ps.join(", ")),
                first + keys.len(),
            );
        }
        let mut n = first;
        let mut terms = Vec::new();
        for i in 0..keys.len() {
            let mut parts = Vec::new();
            for (j, k) in keys.iter().enumerate().take(i + 1) {
                let o = if j < i {
                    "="
                } else if i + 1 == keys.len() {
                    last_op
                } else {
                    op
                };
                parts.push(format!("{k} {o} {}", d.placeholder(n)));
                n += 1;
            }
            terms.push(format!("({})", parts.join(" AND ")));
        }
        (format!("({})", terms.join(" OR ")), n)
    };
    let json = match d {
        Dialect::Postgres => format!("json_build_array({list})::text"),
        Dialect::MySql => format!("JSON_ARRAY({list})"),
        Dialect::Sqlite => format!("json_array({list})"),
    };
    let desc: Vec<String> = keys.iter().map(|k| format!("{k} DESC")).collect();
    let upper = |filter: &str, limit: usize| {
        format!(
            "SELECT {json} FROM (SELECT {list} FROM {table}{filter} ORDER BY {list} LIMIT {}) AS batch ORDER BY {} \
             LIMIT 1",
            d.placeholder(limit),
            desc.join(", ")
        )
    };
    let (after, next) = compare(">", ">", 1);
    let (upto, _) = compare("<", "<=", 1);
    // The next batches bind the last key, then the upper one.
    let (upto_after_last, _) = compare("<", "<=", next);
    let after_then_upto = format!("{after} AND {upto_after_last}");
    let mut s = step("backfill", false, false);
    s.statements
        .push(Statement::Backfill(Box::new(crate::step::Backfill {
            table: model.table.clone(),
            column: label,
            key: model.primary_key()[0].name.clone(),
            key_is_integer: false,
            first_upper_key_sql: upper("", 1),
            upper_key_sql: upper(&format!(" WHERE {after}"), next),
            first_update_sql: format!("UPDATE {table} SET {set} WHERE {upto} AND {pending}"),
            update_sql: format!("UPDATE {table} SET {set} WHERE {after_then_upto} AND {pending}"),
            remaining_sql: format!("SELECT count(*) FROM {table} WHERE {pending}"),
            missed_sql: format!("SELECT count(*) FROM {table} WHERE {missed}"),
            missed_sample_sql: format!(
                "SELECT {} AS straddle_key FROM {table} WHERE {missed} ORDER BY {list} LIMIT 5",
                key_text(d, &keys)
            ),
            one_statement: None,
            key_columns: model.primary_key().iter().map(|k| k.name.clone()).collect(),
            expanded_binds: expanded,
            missed_message,
        })));
    Rendered {
        step: s,
        combinable: false,
    }
}

/// Whether a key column is bound and read as an integer.
pub(crate) fn is_integer_key(key: &Column) -> bool {
    crate::types::literal_class(&key.ty.rust) == crate::types::LiteralClass::Integer
}

/// The primary key of a row as one text value, for samples of offending rows.
/// The primary key's columns, quoted, each prefixed (`c.` for an aliased table).
pub(crate) fn key_columns(dialect: Dialect, model: &Model, prefix: &str) -> Vec<String> {
    model
        .primary_key()
        .iter()
        .map(|k| format!("{prefix}{}", dialect.quote(&k.name)))
        .collect()
}

/// Key columns (see [`key_columns`]) as one text value, for samples of offending rows.
pub(crate) fn key_text(dialect: Dialect, keys: &[String]) -> String {
    let text = match dialect {
        Dialect::MySql => "CHAR",
        Dialect::Postgres | Dialect::Sqlite => "TEXT",
    };
    let casts: Vec<String> = keys.iter().map(|k| format!("CAST({k} AS {text})")).collect();
    if dialect == Dialect::MySql && keys.len() > 1 {
        format!("CONCAT_WS(', ', {})", casts.join(", "))
    } else {
        casts.join(" || ', ' || ")
    }
}

/// The assertion that no row still has the column NULL, with a sample of offending keys.
pub(crate) fn no_nulls_left(t: &Target<'_>) -> Statement {
    let (table, col) = (t.table(), t.col());
    Statement::Assert {
        sql: format!("SELECT count(*) FROM {table} WHERE {col} IS NULL"),
        message: format!(
            "rows of {} still have {} NULL: run the backfill to completion before contract",
            t.model.table,
            t.name()
        ),
        // Aliased: PostgreSQL would bind ORDER BY "id" to an output column named after
        // the cast's argument, and sort the keys as text.
        sample: Some(format!(
            "SELECT {} AS straddle_key FROM {table} WHERE {col} IS NULL ORDER BY {} LIMIT 5",
            key_text(t.dialect, &key_columns(t.dialect, t.model, "")),
            key_columns(t.dialect, t.model, "").join(", ")
        )),
    }
}

/// The check `verify` runs before contract: no NULL left in a column whose contract
/// enforces NOT NULL; the old and new column of a rename equal in every row.
/// Returned with what a violating row is, in words (`email_normalized is NULL`).
pub fn verification(dialect: Dialect, model: &Model, plan: &ChangePlan) -> Option<(Statement, String)> {
    let column = model.column(plan.column()?)?;
    let change = column.change.as_ref()?;
    if let Change::Retype(r) = change
        && !r.uses_shadow(dialect, &column.ty)
    {
        return None;
    }
    let contract = &plan.phase(Phase::Contract).up;
    let target = Target {
        model,
        column,
        change,
        dialect,
        col: Col::This,
    };
    if contract.contains(&Op::AssertSynced) {
        let rule = match change {
            Change::Retype(r) => format!(
                "{} is not yet converted from {} to {}",
                column.name, r.from.rust, column.ty.rust
            ),
            _ => format!("{} differs from {}", column.name, target.other_name()),
        };
        Some((columns_equal(&target), rule))
    } else if contract.iter().any(|op| matches!(op, Op::EnforceNotNull(_))) {
        Some((no_nulls_left(&target), format!("{} is NULL", column.name)))
    } else {
        None
    }
}

/// The assertion that a rename's two columns hold the same value in every row; for a
/// type change, that every row's value was converted into the shadow (`down(up(x))`
/// need not give `x` back — a narrowing `down` — so the values are not compared).
pub(crate) fn columns_equal(t: &Target<'_>) -> Statement {
    if let Change::Retype(r) = t.change {
        return all_converted(t, r);
    }
    let (table, new, old) = (t.table(), t.q(&t.column.name), t.q(&t.other_name()));
    let differ = match t.dialect {
        Dialect::Postgres => format!("{new} IS DISTINCT FROM {old}"),
        Dialect::MySql => format!("NOT ({new} <=> {old})"),
        Dialect::Sqlite => format!("{new} IS NOT {old}"),
    };
    Statement::Assert {
        sql: format!("SELECT count(*) FROM {table} WHERE {differ}"),
        message: format!(
            "rows of {} have {} and {} differing: run the backfill to completion before contract drops {}",
            t.model.table,
            t.column.name,
            t.other_name(),
            t.other_name()
        ),
        sample: Some(format!(
            "SELECT {} AS straddle_key FROM {table} WHERE {differ} ORDER BY {} LIMIT 5",
            key_text(t.dialect, &key_columns(t.dialect, t.model, "")),
            key_columns(t.dialect, t.model, "").join(", ")
        )),
    }
}

/// The step asserting, before contract drops the old column, that nothing would be lost:
/// a rename's columns equal; a type change's rows all converted and the old column used
/// by no index or constraint.
pub(crate) fn verify_synced(t: &Target<'_>) -> Rendered {
    let mut s = step("verify-synced", false, false);
    s.statements.push(columns_equal(t));
    if let Change::Retype(_) = t.change {
        s.statements.push(old_column_unused(t));
    }
    Rendered {
        step: s,
        combinable: false,
    }
}

/// A type change's default (and comment) carried to the column that receives it (see
/// [`Op::CarryDefault`]): from the old column to the shadow at contract (converted with
/// `up`), back to the re-created old column going down (with `down`).
pub(crate) fn carry_default(t: &Target<'_>) -> Rendered {
    let Change::Retype(r) = t.change else {
        unreachable!("only a type change carries a default");
    };
    let (from, convert) = match t.col {
        Col::Shadow => (Col::From, r.up.clone()),
        _ => (Col::Shadow, r.down.clone()),
    };
    let mut s = step("carry-default", t.dialect != Dialect::MySql, true);
    s.statements
        .push(Statement::Live(crate::step::LiveSql::CarryDefault {
            dialect: t.dialect,
            table: t.model.table.clone(),
            from: t.name_of(from),
            to: t.name(),
            convert,
        }));
    Rendered {
        step: s,
        combinable: false,
    }
}

/// A step that waits until every app instance has re-read the schema (twice the
/// snapshot's maximum staleness).
pub(crate) fn await_app_refresh() -> Rendered {
    let mut s = step("await-app-refresh", false, false);
    s.statements.push(Statement::AwaitAppRefresh);
    Rendered {
        step: s,
        combinable: false,
    }
}

/// The contract swap of a type change or a rename (see [`Op::Swap`]): the declared
/// column dropped and the column that stays — a type change's shadow, a rename's original
/// — renamed into its place; metadata only: one transaction on PostgreSQL (brief ACCESS
/// EXCLUSIVE) and SQLite (under the database write lock; its DROP COLUMN rewrites the rows
/// without the column), one `ALGORITHM=INSTANT` statement on MySQL 8.0.29+ / MariaDB
/// 10.5+. Going back ([`Op::Unswap`]), the column that stayed takes its previous name
/// again.
pub(crate) fn swap_step(t: &Target<'_>, op: &Op) -> Rendered {
    let retype = matches!(t.change, Change::Retype(_));
    let source = if retype { Col::Shadow } else { Col::From };
    let (table, col, other) = (t.table(), t.q(&t.name_of(Col::This)), t.q(&t.name_of(source)));
    let rename = |from: &str, to: &str| format!("ALTER TABLE {table} RENAME COLUMN {from} TO {to}");
    let sql = match (op, t.dialect) {
        (Op::Swap, Dialect::MySql) => vec![format!(
            "ALTER TABLE {table} DROP COLUMN {col}, RENAME COLUMN {other} TO {col}, ALGORITHM=INSTANT"
        )],
        (Op::Swap, _) => vec![
            format!("ALTER TABLE {table} DROP COLUMN {col}"),
            rename(&other, &col),
        ],
        (_, Dialect::MySql) => vec![format!("{}, ALGORITHM=INSTANT", rename(&col, &other))],
        _ => vec![rename(&col, &other)],
    };
    // The column that stays: a type change's shadow of the new type, added nullable; a
    // rename's original, with the column's own nullability.
    let stays = State::Column {
        sql_type: t.column.ty.sql(t.dialect).to_string(),
        nullable: Some(retype || t.column.nullable),
        default: None,
    };
    let (this, gone) = (t.at(Col::This).column_object(), t.at(source).column_object());
    let (name, expects) = match (op, retype) {
        (Op::Swap, true) => ("swap-in-retyped-column", vec![alter(this, stays), drop(gone)]),
        (Op::Swap, false) => ("swap-in-renamed-column", vec![alter(this, stays), drop(gone)]),
        (_, true) => ("swap-out-retyped-column", vec![create(gone, stays), drop(this)]),
        (_, false) => ("swap-out-renamed-column", vec![create(gone, stays), drop(this)]),
    };
    let mut s = step(name, t.dialect != Dialect::MySql, true);
    if *op == Op::Swap && retype {
        s.statements.push(old_column_unused(t));
    }
    s.statements.extend(sql.into_iter().map(Statement::Execute));
    s.expects = expects;
    Rendered {
        step: s,
        combinable: false,
    }
}

fn all_converted(t: &Target<'_>, r: &crate::model::RetypeColumn) -> Statement {
    let (table, new, old) = (
        t.table(),
        t.q(&t.name_of(Col::Shadow)),
        t.q(&t.name_of(Col::From)),
    );
    let missing = format!("{new} IS NULL AND {old} IS NOT NULL");
    Statement::Assert {
        sql: format!("SELECT count(*) FROM {table} WHERE {missing}"),
        message: format!(
            "rows of {} have {} not yet converted from {} to {}: run the backfill to completion before contract drops \
             the old column",
            t.model.table, t.column.name, r.from.rust, t.column.ty.rust
        ),
        sample: Some(format!(
            "SELECT {} AS straddle_key FROM {table} WHERE {missing} ORDER BY {} LIMIT 5",
            key_text(t.dialect, &key_columns(t.dialect, t.model, "")),
            key_columns(t.dialect, t.model, "").join(", ")
        )),
    }
}

/// The assertion, before a type change's contract drops the old column, that no index or
/// constraint uses it: the engine would drop them with it (PostgreSQL, MySQL) or refuse
/// (SQLite). Names them.
pub(crate) fn old_column_unused(t: &Target<'_>) -> Statement {
    let (table, col) = (&t.model.table, t.name_of(Col::From));
    let (tl, cl) = (t.lit(table), t.lit(&col));
    let users = match t.dialect {
        Dialect::Postgres => format!(
            "SELECT c.relname::text AS straddle_key FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = {cl} \
             WHERE i.indrelid = {}::regclass AND a.attnum = ANY(i.indkey) \
             UNION SELECT conname::text FROM pg_constraint o JOIN pg_attribute a ON a.attrelid = o.conrelid AND a.attname = {cl} \
             WHERE o.conrelid = {}::regclass AND a.attnum = ANY(o.conkey)",
            t.lit(&t.table()),
            t.lit(&t.table())
        ),
        Dialect::MySql => format!(
            "SELECT DISTINCT CAST(INDEX_NAME AS CHAR) AS straddle_key FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {tl} AND COLUMN_NAME = {cl}"
        ),
        Dialect::Sqlite => format!(
            "SELECT DISTINCT l.name AS straddle_key FROM pragma_index_list({tl}) l JOIN pragma_index_info(l.name) i \
             WHERE i.name = {cl}"
        ),
    };
    Statement::Assert {
        sql: format!("SELECT count(*) FROM ({users}) AS straddle_users"),
        message: format!(
            "{table}.{col} of the old type is used by indexes or constraints, which dropping it at contract would drop \
             too: nothing was changed; build them on {} (the new column, renamed to {col} by this step) first",
            t.name_of(Col::Shadow)
        ),
        sample: Some(format!(
            "SELECT straddle_key FROM ({users}) AS straddle_users ORDER BY 1 LIMIT 5"
        )),
    }
}

pub(crate) fn step(name: &str, transactional: bool, ddl: bool) -> Step {
    Step {
        name: name.to_string(),
        transactional,
        ddl,
        statements: Vec::new(),
        expects: Vec::new(),
        lock: None,
        scans_table: false,
        legacy_checksums: Vec::new(),
    }
}

/// How a transactional step starts where plain `BEGIN` is not enough: SQLite DDL takes
/// the write lock up front (`BEGIN IMMEDIATE`), so it waits out the busy timeout for it
/// instead of failing at once when its read transaction cannot be upgraded because
/// another connection wrote meanwhile.
pub fn begin_sql(dialect: Dialect, ddl: bool) -> Option<&'static str> {
    (dialect == Dialect::Sqlite && ddl).then_some("BEGIN IMMEDIATE")
}

/// Statements that bound how long DDL waits for its lock, and undo that afterwards.
/// `in_transaction`: the setting can be scoped to the transaction.
pub fn lock_timeout_sql(
    dialect: Dialect,
    timeout_ms: u64,
    in_transaction: bool,
) -> (Vec<String>, Vec<String>) {
    match dialect {
        Dialect::Postgres if in_transaction => {
            (vec![format!("SET LOCAL lock_timeout = '{timeout_ms}ms'")], vec![])
        }
        Dialect::Postgres => (
            vec![format!("SET lock_timeout = '{timeout_ms}ms'")],
            vec!["RESET lock_timeout".to_string()],
        ),
        // MySQL counts whole seconds (minimum 1) for metadata locks.
        Dialect::MySql => (
            vec![format!(
                "SET SESSION lock_wait_timeout = {}",
                timeout_ms.div_ceil(1000).max(1)
            )],
            vec!["SET SESSION lock_wait_timeout = DEFAULT".to_string()],
        ),
        // SQLite has one database lock; its wait is the connection's busy timeout.
        Dialect::Sqlite => (vec![], vec![]),
    }
}
