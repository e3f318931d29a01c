//! The planner: each declared change → dialect-independent operations per phase.
//!
//! This is where the safe recipe lives; the renderers only decide how each operation is
//! spelled (or, where an engine lacks a feature, which equivalent procedure is used).
//! Properties the planner guarantees for every change (tested in `tests/plan_rules.rs`
//! and against the real servers):
//! - a column is never added NOT NULL without a constant default (add-column-required);
//! - existing rows are only ever filled in keyset batches (no table-wide UPDATE);
//! - NOT NULL is enforced only at contract, after an assertion that no NULL remains;
//! - every phase has a `down` that restores the previous phase's schema.

use crate::model::{
    AddColumn, AddKind, Change, Check, Column, DefaultValue, ForeignKey, Index, Literal, Model, Phase,
    RenameColumn, RetireColumn, RetypeColumn, SqlStep,
};

/// What a change acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A column, by name.
    Column(String),
    /// An index, by name.
    Index(String),
    /// A CHECK constraint, by name.
    Check(String),
    /// A foreign key, by name.
    ForeignKey(String),
    /// The table itself (`created`).
    Table(String),
    /// A hand-written SQL step (`sql(...)`), by name.
    Sql(String),
}

impl Subject {
    /// The column's or the index's name.
    pub fn name(&self) -> &str {
        match self {
            Subject::Column(n)
            | Subject::Index(n)
            | Subject::Check(n)
            | Subject::ForeignKey(n)
            | Subject::Table(n)
            | Subject::Sql(n) => n,
        }
    }

    /// What kind of object it is, in words.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Column(_) => "column",
            Subject::Index(_) => "index",
            Subject::Check(_) => "check",
            Subject::ForeignKey(_) => "foreign key",
            Subject::Table(_) => "table",
            Subject::Sql(_) => "sql step",
        }
    }
}

/// The ledger key of rollout `number` of a change whose first rollout's key is `first`:
/// `first` itself (`users.email`, the key ledgers have always used), then `first~2`,
/// `first~3`, … Two changes whose keys would be equal are refused before anything runs
/// ([`crate::consistency::conflicts`]).
pub fn rollout_id(first: &str, number: u32) -> String {
    if number <= 1 {
        first.to_string()
    } else {
        format!("{first}~{number}")
    }
}

/// All phases of one change, e.g. `users.email_normalized`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangePlan {
    /// `table.column` or `table.index` (the table's own name for a change of the table),
    /// with `~N` for its object's Nth rollout: stable identifier of the change (ledger
    /// key); see [`rollout_id`].
    pub id: String,
    /// Which rollout of its object the change is (1: its first).
    pub rollout: u32,
    /// The table.
    pub table: String,
    /// What changes: a column, an index, a constraint.
    pub subject: Subject,
    /// The phase the compiled code declares.
    pub declared_phase: Phase,
    /// What the change does, in words.
    pub summary: String,
    /// Always three entries, in phase order (a phase may have no operations).
    pub phases: Vec<PhasePlan>,
}

#[derive(Clone, Debug, PartialEq)]
/// What one phase does, up and down.
pub struct PhasePlan {
    /// The phase the code ships it in.
    pub phase: Phase,
    /// The operations going up.
    pub up: Vec<Op>,
    /// Reverses `up`, newest first.
    pub down: Vec<Op>,
}

/// Which physical column an operation acts on: the declared one, the column a rename
/// started from (for a type change: the column of the old type), or a type change's
/// shadow — the column of the new type under its temporary name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// The column itself.
    This,
    /// The column it comes from (a rename's old name).
    From,
    /// A type change's shadow column.
    Shadow,
}

/// A dialect-independent schema operation on the change's column(s).
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Add the column as declared by `nullable` / `default` (never NOT NULL without a
    /// constant default).
    AddColumn {
        /// Which of the change's columns.
        col: Col,
        /// Whether it is added nullable.
        nullable: bool,
        /// Its default, if any.
        default: Option<DefaultValue>,
    },
    /// Drop a column.
    DropColumn(Col),
    /// Trigger that keeps the new column right for rows written by code that does not
    /// know it (the previous app version): computed from the backfill expression for an
    /// added column; copied both ways between old and new for a rename.
    CreateSyncTrigger,
    /// Drop the sync trigger.
    DropSyncTrigger,
    /// Fill rows where the column is still NULL, in keyset batches: from the backfill
    /// expression, or (rename) from the other column.
    Backfill(Col),
    /// Assert that the old and the new column of a rename hold the same value in every
    /// row (nothing would be lost by dropping the old one), with sample keys if not.
    AssertSynced,
    /// Assert no NULL remains, then enforce NOT NULL without a long lock.
    EnforceNotNull(Col),
    /// Undo [`Op::EnforceNotNull`].
    RelaxNotNull(Col),
    /// Wait until every running app instance has re-read the schema (its snapshot's
    /// maximum staleness), so that it writes a column that just came back before a
    /// constraint requires it: needed where triggers run after constraints (SQLite).
    AwaitAppRefresh,
    /// Wait until every running app instance has re-read the schema, on every engine:
    /// the next operation gives a column name back with another type, and an instance
    /// still reading by that name would decode the wrong column.
    AwaitSchemaRefresh,
    /// The contract of a type change or a rename: the declared column's name goes to the
    /// column that stays — a type change's shadow (after asserting no index or constraint
    /// uses the old column, which is dropped), a rename's *original* column (the copy is
    /// dropped; the original keeps its indexes, constraints, default, collation and
    /// comment) — one transaction where the engine allows.
    Swap,
    /// Undo [`Op::Swap`]'s rename: the column that stayed goes back to its previous name
    /// (the other column is then re-created and refilled).
    Unswap,
    /// Give the column (of a type change: the shadow at contract, the re-created old column
    /// going back) the default and comment the other column has, converted to its type —
    /// what the column had must not be lost with the column that goes.
    CarryDefault(Col),
    /// Build the index without blocking writes (an INVALID leftover of an earlier
    /// attempt is dropped first; a unique index is refused, with sample keys, while
    /// duplicates exist).
    CreateIndex,
    /// Drop the index without blocking reads or writes.
    DropIndex,
    /// Give the index (there under its previous name) its declared name: metadata only.
    RenameIndex,
    /// Undo [`Op::RenameIndex`].
    UnrenameIndex,
    /// Assert no row violates the check, then add it without a long lock (PostgreSQL:
    /// `NOT VALID`, then `VALIDATE` in its own transaction).
    AddCheck,
    /// Drop the CHECK constraint.
    DropCheck,
    /// Index the referencing columns of a foreign key without blocking writes.
    CreateForeignKeyIndex,
    /// Drop the index built for a foreign key.
    DropForeignKeyIndex,
    /// Assert no row references a missing parent, then add the constraint without a long
    /// lock (PostgreSQL: `NOT VALID`, then `VALIDATE` in its own transaction).
    AddForeignKey,
    /// Drop the foreign key.
    DropForeignKey,
    /// Create the table as the model declares it.
    CreateTable,
    /// Drop the table, refusing while it holds rows.
    DropTable,
    /// Drop the table with its rows (a retirement, confirmed in the declaration).
    RetireTable,
    /// A rename's window: a view under the table's new name over the table (which keeps
    /// its previous name for the previous release), updatable, for this release's own SQL.
    CreateRenameView,
    /// Drop the view under the new name.
    DropRenameView,
    /// A rename's contract: the view dropped and the table renamed, atomically.
    RenameTable,
    /// Undo [`Op::RenameTable`]: the table back under its previous name, the view again.
    UnrenameTable,
    /// Give the column a constant default (metadata only).
    SetDefault(Literal),
    /// Drop the column's default.
    DropDefault,
    /// Give the column this comment (`None`: none); metadata only.
    SetComment(Option<String>),
    /// Give the CHECK or foreign key (there under its previous name) its declared name:
    /// metadata only.
    RenameConstraint,
    /// Undo [`Op::RenameConstraint`].
    UnrenameConstraint,
    /// A check's fix: a trigger rewriting the violating rows the previous release writes.
    CreateFixTrigger,
    /// Drop the fix's trigger.
    DropFixTrigger,
    /// A check's fix applied to the rows that violate it, in keyset batches.
    FixViolations,
    /// A hand-written step's `up` statements.
    RunSql,
    /// A hand-written step's `down` statements.
    RevertSql,
}

impl Op {
    /// The column the operation acts on.
    pub fn col(&self) -> Col {
        match self {
            Op::AddColumn { col, .. }
            | Op::DropColumn(col)
            | Op::Backfill(col)
            | Op::EnforceNotNull(col)
            | Op::RelaxNotNull(col)
            | Op::CarryDefault(col) => *col,
            _ => Col::This,
        }
    }
}

impl ChangePlan {
    /// The plan of one phase.
    pub fn phase(&self, phase: Phase) -> &PhasePlan {
        &self.phases[phase as usize]
    }

    /// The ledger key of rollout `number` of the same object.
    pub fn rollout_key(&self, number: u32) -> String {
        let suffix = format!("~{}", self.rollout);
        let first = match self.rollout {
            1 => self.id.as_str(),
            _ => self.id.strip_suffix(&suffix).unwrap_or(&self.id),
        };
        rollout_id(first, number)
    }

    /// The column the change is about, when it is a column change.
    pub fn column(&self) -> Option<&str> {
        match &self.subject {
            Subject::Column(c) => Some(c),
            Subject::Index(_)
            | Subject::Check(_)
            | Subject::ForeignKey(_)
            | Subject::Table(_)
            | Subject::Sql(_) => None,
        }
    }
}

/// Plan every change declared on the model: columns in field order, then indexes.
pub fn plan_model(model: &Model) -> Vec<ChangePlan> {
    model
        .created
        .map(|phase| plan_table(model, phase))
        .into_iter()
        .chain(model.retired.map(|phase| plan_table_retirement(model, phase)))
        .chain(model.renamed.as_ref().map(|r| plan_table_rename(model, r)))
        .chain(
            model
                .changes()
                .map(|(column, change)| plan_change(model, column, change)),
        )
        .chain(model.indexes.iter().map(|index| plan_index(model, index)))
        .chain(model.checks.iter().map(|check| plan_check(model, check)))
        .chain(model.foreign_keys.iter().map(|fk| plan_foreign_key(model, fk)))
        .chain(model.sql_steps.iter().map(|step| plan_sql_step(model, step)))
        .map(|mut plan| {
            plan.rollout = model.rollout(&plan.subject);
            plan.id = rollout_id(&plan.id, plan.rollout);
            plan
        })
        .collect()
}

/// A new table: created at expand (before the release that uses it runs); going down it
/// is dropped only while empty.
fn plan_table(model: &Model, phase: Phase) -> ChangePlan {
    table_change(
        model,
        phase,
        "create table".to_string(),
        [
            (vec![Op::CreateTable], vec![Op::DropTable]),
            (vec![], vec![]),
            (vec![], vec![]),
        ],
    )
}

/// A retired table: dropped at contract, once no release uses it; going back re-creates
/// it empty (its rows are gone, which is what the confirmed retirement declares).
fn plan_table_retirement(model: &Model, phase: Phase) -> ChangePlan {
    table_change(
        model,
        phase,
        "retire table (dropped at contract)".to_string(),
        [
            (vec![], vec![]),
            (vec![], vec![]),
            (vec![Op::RetireTable], vec![Op::CreateTable]),
        ],
    )
}

/// A renamed table: through the window it keeps its name (the previous release uses it as
/// ever) and a view under the new name serves this release's own SQL; at contract, the
/// previous release gone, the view goes and the table takes the new name in one step.
fn plan_table_rename(model: &Model, rename: &crate::model::TableRename) -> ChangePlan {
    table_change(
        model,
        rename.phase,
        format!("rename table from {}", rename.from),
        [
            (vec![Op::CreateRenameView], vec![Op::DropRenameView]),
            (vec![], vec![]),
            (vec![Op::RenameTable], vec![Op::UnrenameTable]),
        ],
    )
}

/// A foreign key: its referencing columns indexed at expand (a parent's DELETE would
/// otherwise scan the table), the constraint enforced at contract, when no writer of the
/// previous release is left.
fn plan_foreign_key(model: &Model, fk: &ForeignKey) -> ChangePlan {
    ChangePlan {
        rollout: 1,
        id: format!("{}.{}", model.table, fk.name),
        table: model.table.clone(),
        subject: Subject::ForeignKey(fk.name.clone()),
        declared_phase: fk.phase,
        summary: match &fk.renamed_from {
            Some(from) => format!("rename {} from {from}", fk.definition()),
            None => format!(
                "{} {}{}",
                if fk.dropped { "drop" } else { "add" },
                fk.definition(),
                fk.fix_text()
                    .map(|f| format!(", orphan rows fixed: {f}"))
                    .unwrap_or_default()
            ),
        },
        phases: phases(if fk.renamed_from.is_some() {
            // At contract, like an index: the previous release may name it (matching a
            // violation's constraint name) until then.
            [
                (vec![], vec![]),
                (vec![], vec![]),
                (vec![Op::RenameConstraint], vec![Op::UnrenameConstraint]),
            ]
        } else if !fk.fix.is_empty() {
            // As a check's fix: triggers from expand, the orphans fixed in batches, the key
            // enforced at contract and the triggers gone.
            [
                (
                    vec![Op::CreateForeignKeyIndex, Op::CreateFixTrigger],
                    vec![Op::DropFixTrigger, Op::DropForeignKeyIndex],
                ),
                (vec![Op::FixViolations], vec![]),
                (
                    vec![Op::AddForeignKey, Op::DropFixTrigger],
                    vec![Op::CreateFixTrigger, Op::DropForeignKey],
                ),
            ]
        } else if fk.dropped {
            // Dropped once no release relies on it; its index stays (queries may use it).
            [
                (vec![], vec![]),
                (vec![], vec![]),
                (vec![Op::DropForeignKey], vec![Op::AddForeignKey]),
            ]
        } else {
            [
                (vec![Op::CreateForeignKeyIndex], vec![Op::DropForeignKeyIndex]),
                (vec![], vec![]),
                (vec![Op::AddForeignKey], vec![Op::DropForeignKey]),
            ]
        }),
    }
}

/// A hand-written step runs in the phase it names (`at`), its `down` going back.
fn plan_sql_step(model: &Model, step: &SqlStep) -> ChangePlan {
    let mut ops: [PhaseOps; 3] = Default::default();
    ops[step.at as usize] = (vec![Op::RunSql], vec![Op::RevertSql]);
    ChangePlan {
        rollout: 1,
        id: format!("{}.{}", model.table, step.name),
        table: model.table.clone(),
        subject: Subject::Sql(step.name.clone()),
        declared_phase: step.phase,
        // The digest tells two steps of one name apart (another rollout of it is not this
        // one: see `fleet::stance`).
        summary: format!("hand-written {}", step.signature()),
        phases: phases(ops),
    }
}

/// A check is enforced at contract: before it, the previous release may still write
/// rows that violate it.
fn plan_check(model: &Model, check: &Check) -> ChangePlan {
    let none = || (vec![], vec![]);
    ChangePlan {
        rollout: 1,
        id: format!("{}.{}", model.table, check.name),
        table: model.table.clone(),
        subject: Subject::Check(check.name.clone()),
        declared_phase: check.phase,
        summary: match &check.renamed_from {
            Some(from) => format!("rename CHECK ({}) from {from}", check.expr.text),
            None => format!(
                "{} CHECK ({}){}",
                if check.dropped { "drop" } else { "add" },
                check.expr.text,
                check
                    .fix_text()
                    .map(|f| format!(", violating rows fixed: {f}"))
                    .unwrap_or_default()
            ),
        },
        // Dropped at contract, like NOT NULL: until then the previous release may rely
        // on it. Going back re-adds it, refused (with keys) while rows violate it.
        // Renamed at contract too: until then the previous release may name it.
        phases: phases(if check.renamed_from.is_some() {
            [
                none(),
                none(),
                (vec![Op::RenameConstraint], vec![Op::UnrenameConstraint]),
            ]
        } else if !check.fix.is_empty() {
            // The fix is a rewrite of data, declared as such: from expand a trigger fixes
            // what the previous release writes, the backfill what is there; contract
            // enforces the check and drops the trigger. Going down removes the trigger and
            // the check; fixed values stay fixed.
            [
                (vec![Op::CreateFixTrigger], vec![Op::DropFixTrigger]),
                (vec![Op::FixViolations], vec![]),
                (
                    vec![Op::AddCheck, Op::DropFixTrigger],
                    vec![Op::CreateFixTrigger, Op::DropCheck],
                ),
            ]
        } else if check.dropped {
            [none(), none(), (vec![Op::DropCheck], vec![Op::AddCheck])]
        } else {
            [none(), none(), (vec![Op::AddCheck], vec![Op::DropCheck])]
        }),
    }
}

/// An index is built at expand (before the release that needs it runs) and dropped at
/// contract (after the release that needed it is gone).
fn plan_index(model: &Model, index: &Index) -> ChangePlan {
    let none = || (vec![], vec![]);
    let what = match (index.primary_key, index.unique) {
        (true, _) => "primary key",
        (false, true) => "unique index",
        (false, false) => "index",
    };
    let on = index.columns.join(", ");
    let (summary, ops) = if let Some(from) = &index.renamed_from {
        // At contract: the previous release's hand-written SQL (an index hint) may name
        // it until then.
        (
            format!("rename {what} on ({on}) from {from}"),
            [none(), none(), (vec![Op::RenameIndex], vec![Op::UnrenameIndex])],
        )
    } else if index.dropped {
        (
            format!("drop {what} on ({on})"),
            [none(), none(), (vec![Op::DropIndex], vec![Op::CreateIndex])],
        )
    } else {
        (
            format!("add {what} on ({on})"),
            [(vec![Op::CreateIndex], vec![Op::DropIndex]), none(), none()],
        )
    };
    ChangePlan {
        rollout: 1,
        id: format!("{}.{}", model.table, index.name),
        table: model.table.clone(),
        subject: Subject::Index(index.name.clone()),
        declared_phase: index.phase,
        summary,
        phases: phases(ops),
    }
}

type PhaseOps = (Vec<Op>, Vec<Op>);

/// The three phases' plans from their (up, down) operations, in phase order.
fn phases(ops: [PhaseOps; 3]) -> Vec<PhasePlan> {
    Phase::ALL
        .into_iter()
        .zip(ops)
        .map(|(phase, (up, down))| PhasePlan { phase, up, down })
        .collect()
}

/// A change of the table itself (`created`, `retired`, `renamed`).
fn table_change(model: &Model, declared_phase: Phase, summary: String, ops: [PhaseOps; 3]) -> ChangePlan {
    ChangePlan {
        rollout: 1,
        id: model.table.clone(),
        table: model.table.clone(),
        subject: Subject::Table(model.table.clone()),
        declared_phase,
        summary,
        phases: phases(ops),
    }
}

fn plan_change(model: &Model, column: &Column, change: &Change) -> ChangePlan {
    let (summary, [expand, backfill, contract]) = match change {
        Change::Add(add) => plan_add(column, add),
        Change::Rename(rename) => plan_rename(column, rename),
        Change::Retype(retype) => plan_retype(column, retype),
        Change::Retire(retire) => plan_retire(column, retire),
        Change::CommentChanged(c) => {
            let show = |v: &Option<String>| v.as_deref().map_or("none".to_string(), |c| format!("{c:?}"));
            (
                format!("change comment from {} to {}", show(&c.from), show(&c.to)),
                [
                    (
                        vec![Op::SetComment(c.to.clone())],
                        vec![Op::SetComment(c.from.clone())],
                    ),
                    (vec![], vec![]),
                    (vec![], vec![]),
                ],
            )
        }
        Change::DefaultChanged(d) => {
            let set = |v: &Option<Literal>| match v {
                Some(lit) => Op::SetDefault(lit.clone()),
                None => Op::DropDefault,
            };
            let show = |v: &Option<Literal>| match v {
                Some(Literal::Str(s)) => format!("'{s}'"),
                Some(Literal::Number(n)) => n.clone(),
                Some(Literal::Bool(b)) => b.to_string(),
                None => "none".to_string(),
            };
            (
                format!("change default from {} to {}", show(&d.from), show(&d.to)),
                [
                    (vec![set(&d.to)], vec![set(&d.from)]),
                    (vec![], vec![]),
                    (vec![], vec![]),
                ],
            )
        }
        // The recipe of an added column filled from an expression, on a column that is
        // there: a trigger fills the NULLs the previous release writes, the backfill the
        // existing ones, and NOT NULL is enforced once that release is gone.
        Change::NotNull(n) => (
            format!("make NOT NULL, NULLs filled from `{}`", n.fill.text),
            [
                (vec![Op::CreateSyncTrigger], vec![Op::DropSyncTrigger]),
                // Filled values are kept on the way down: NULL and the fill read alike.
                (vec![Op::Backfill(Col::This)], vec![]),
                (
                    vec![Op::EnforceNotNull(Col::This), Op::DropSyncTrigger],
                    vec![Op::RelaxNotNull(Col::This), Op::CreateSyncTrigger],
                ),
            ],
        ),
        Change::Nullable(_) => (
            "drop NOT NULL (at contract: the previous release cannot read NULL)".to_string(),
            [
                (vec![], vec![]),
                (vec![], vec![]),
                // Going back refuses, with sample keys, once NULLs were written.
                (
                    vec![Op::RelaxNotNull(Col::This)],
                    vec![Op::EnforceNotNull(Col::This)],
                ),
            ],
        ),
    };
    let phases = phases([expand, backfill, contract]);
    ChangePlan {
        rollout: 1,
        id: format!("{}.{}", model.table, column.name),
        table: model.table.clone(),
        subject: Subject::Column(column.name.clone()),
        declared_phase: change.phase(),
        summary,
        phases,
    }
}

fn add_nullable(col: Col) -> Op {
    Op::AddColumn {
        col,
        nullable: true,
        default: None,
    }
}

fn plan_add(column: &Column, add: &AddColumn) -> (String, [PhaseOps; 3]) {
    match add.kind(column.nullable) {
        AddKind::Nullable { default } => (
            "add nullable column".to_string(),
            [
                (
                    vec![Op::AddColumn {
                        col: Col::This,
                        nullable: true,
                        default: default.cloned(),
                    }],
                    vec![Op::DropColumn(Col::This)],
                ),
                (vec![], vec![]),
                (vec![], vec![]),
            ],
        ),
        AddKind::NotNullDefault { default } => (
            "add NOT NULL column with a constant default".to_string(),
            [
                (
                    vec![Op::AddColumn {
                        col: Col::This,
                        nullable: false,
                        default: Some(default.clone()),
                    }],
                    vec![Op::DropColumn(Col::This)],
                ),
                (vec![], vec![]),
                (vec![], vec![]),
            ],
        ),
        AddKind::Backfilled { expr, not_null } => {
            let (contract_up, contract_down) = if not_null {
                (
                    vec![Op::EnforceNotNull(Col::This), Op::DropSyncTrigger],
                    vec![Op::RelaxNotNull(Col::This), Op::CreateSyncTrigger],
                )
            } else {
                (vec![Op::DropSyncTrigger], vec![Op::CreateSyncTrigger])
            };
            (
                format!(
                    "add {} column filled from `{}`",
                    if not_null { "NOT NULL" } else { "nullable" },
                    expr.text
                ),
                [
                    (
                        vec![add_nullable(Col::This), Op::CreateSyncTrigger],
                        vec![Op::DropSyncTrigger, Op::DropColumn(Col::This)],
                    ),
                    // Backfilled values are kept on the way down: the previous phase's
                    // schema holds them, and re-filling would cost another full pass.
                    (vec![Op::Backfill(Col::This)], vec![]),
                    (contract_up, contract_down),
                ],
            )
        }
    }
}

/// A NOT NULL column replaced at contract by a type change's shadow: the column that
/// stays gets NOT NULL once the old one is gone; going back, it is relaxed first, and the
/// re-created old column gets NOT NULL again once every instance writes it (SQLite's
/// triggers run after constraints).
fn keep_not_null(contract_up: &mut Vec<Op>, contract_down: &mut Vec<Op>) {
    contract_up.push(Op::EnforceNotNull(Col::This));
    contract_down.insert(0, Op::RelaxNotNull(Col::This));
    contract_down.push(Op::AwaitAppRefresh);
    contract_down.push(Op::EnforceNotNull(Col::From));
}

/// Rename: a copy under the new name beside the original, a two-way trigger, a batched
/// copy, and at contract (the previous version is gone), once both are proven equal, the
/// copy dropped and the original renamed into its place — so the column keeps its
/// indexes, constraints, default, collation, comment and NOT NULL. Before the trigger
/// goes, every instance re-reads the schema: one whose snapshot predates going back
/// would write only the copy, which the swap drops.
fn plan_rename(_column: &Column, rename: &RenameColumn) -> (String, [PhaseOps; 3]) {
    (
        format!("rename column from `{}`", rename.from),
        [
            (
                vec![add_nullable(Col::This), Op::CreateSyncTrigger],
                // The original still holds every value: dropping the copy loses nothing.
                vec![Op::DropSyncTrigger, Op::DropColumn(Col::This)],
            ),
            (vec![Op::Backfill(Col::This)], vec![]),
            (
                vec![
                    Op::AssertSynced,
                    Op::AwaitSchemaRefresh,
                    Op::DropSyncTrigger,
                    Op::Swap,
                ],
                // The original back under its previous name, then the copy again.
                vec![
                    Op::Unswap,
                    Op::AwaitSchemaRefresh,
                    add_nullable(Col::This),
                    Op::CreateSyncTrigger,
                    Op::Backfill(Col::This),
                ],
            ),
        ],
    )
}

/// Type change: a shadow column of the new type beside the old one, a two-way converting
/// trigger, a batched conversion, and at contract (the previous version is gone) the old
/// column dropped — once every row is converted — and the shadow renamed into its place.
/// Both ways, every app instance re-reads the schema before a column name changes type
/// under it. Going back renames the column away again, re-creates the old column and
/// converts the values back.
fn plan_retype(column: &Column, retype: &RetypeColumn) -> (String, [PhaseOps; 3]) {
    let not_null = !column.nullable;
    // Before the trigger goes, every instance re-reads the schema and so writes both
    // columns itself: one still writing only the shadow (its snapshot taken while going
    // back) would leave the old NOT NULL column empty, and one whose snapshot predated
    // expand would read the new column, under the old name, through `up` after the swap.
    let mut contract_up = vec![
        Op::AssertSynced,
        Op::AwaitSchemaRefresh,
        Op::DropSyncTrigger,
        Op::CarryDefault(Col::Shadow),
        Op::Swap,
    ];
    let mut contract_down = vec![
        Op::Unswap,
        Op::AwaitSchemaRefresh,
        add_nullable(Col::From),
        Op::CarryDefault(Col::From),
        Op::CreateSyncTrigger,
        Op::Backfill(Col::From),
    ];
    if not_null {
        keep_not_null(&mut contract_up, &mut contract_down);
    }
    let what = if retype.from.rust == column.ty.rust {
        "change column type".to_string()
    } else {
        format!("change type from {} to {}", retype.from.rust, column.ty.rust)
    };
    let how = if retype.up.text.starts_with("the engine's conversion")
        && retype.down.text.starts_with("the engine's conversion")
    {
        "the engine's conversion both ways".to_string()
    } else {
        format!("up: {}; down: {}", retype.up.text, retype.down.text)
    };
    (
        format!("{what} ({how})"),
        [
            (
                vec![add_nullable(Col::Shadow), Op::CreateSyncTrigger],
                // The old column still holds every value: dropping the shadow loses nothing.
                vec![Op::DropSyncTrigger, Op::DropColumn(Col::Shadow)],
            ),
            (vec![Op::Backfill(Col::Shadow)], vec![]),
            (contract_up, contract_down),
        ],
    )
}

/// Retire: a NOT NULL column gets a default first, so that rows written without it stay
/// readable by the previous version; contract drops it.
fn plan_retire(_column: &Column, retire: &RetireColumn) -> (String, [PhaseOps; 3]) {
    let expand = match &retire.default {
        Some(lit) => (vec![Op::SetDefault(lit.clone())], vec![Op::DropDefault]),
        None => (vec![], vec![]),
    };
    let restore = Op::AddColumn {
        col: Col::This,
        nullable: retire.default.is_none(),
        default: retire.default.clone().map(DefaultValue::Literal),
    };
    (
        "retire column (dropped at contract)".to_string(),
        [
            expand,
            (vec![], vec![]),
            // Going back re-creates the column empty (its values are gone).
            (vec![Op::DropColumn(Col::This)], vec![restore]),
        ],
    )
}
