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

use crate::model::{AddKind, Change, Column, DefaultValue, Model, Phase};

/// All phases of one change, e.g. `users.email_normalized`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangePlan {
    /// `table.column`: stable identifier of the change (ledger key).
    pub id: String,
    pub table: String,
    pub column: String,
    /// The phase the compiled code declares.
    pub declared_phase: Phase,
    pub summary: String,
    /// Always three entries, in phase order (a phase may have no operations).
    pub phases: Vec<PhasePlan>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PhasePlan {
    pub phase: Phase,
    pub up: Vec<Op>,
    /// Reverses `up`, newest first.
    pub down: Vec<Op>,
}

/// A dialect-independent schema operation on the change's column.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Add the column as declared by `nullable` / `default` (never NOT NULL without a
    /// constant default).
    AddColumn {
        nullable: bool,
        default: Option<DefaultValue>,
    },
    DropColumn,
    /// Trigger that fills the column from the backfill expression for rows written by
    /// code that does not know the column (the previous app version).
    CreateSyncTrigger,
    DropSyncTrigger,
    /// Fill rows still NULL from the backfill expression, in keyset batches.
    Backfill,
    /// Assert no NULL remains, then enforce NOT NULL without a long lock.
    EnforceNotNull,
    /// Undo [`Op::EnforceNotNull`].
    RelaxNotNull,
}

impl ChangePlan {
    pub fn phase(&self, phase: Phase) -> &PhasePlan {
        &self.phases[phase as usize]
    }
}

/// Plan every change declared on the model, in field order.
pub fn plan_model(model: &Model) -> Vec<ChangePlan> {
    model
        .changes()
        .map(|(column, change)| plan_change(model, column, change))
        .collect()
}

fn plan_change(model: &Model, column: &Column, change: &Change) -> ChangePlan {
    let Change::Add(add) = change;
    let (summary, [expand, backfill, contract]) = match add.kind(column.nullable) {
        AddKind::Nullable { default } => (
            "add nullable column".to_string(),
            [
                (
                    vec![Op::AddColumn {
                        nullable: true,
                        default: default.cloned(),
                    }],
                    vec![Op::DropColumn],
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
                        nullable: false,
                        default: Some(default.clone()),
                    }],
                    vec![Op::DropColumn],
                ),
                (vec![], vec![]),
                (vec![], vec![]),
            ],
        ),
        AddKind::Backfilled { expr, not_null } => {
            let (contract_up, contract_down) = if not_null {
                (
                    vec![Op::EnforceNotNull, Op::DropSyncTrigger],
                    vec![Op::CreateSyncTrigger, Op::RelaxNotNull],
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
                        vec![
                            Op::AddColumn {
                                nullable: true,
                                default: None,
                            },
                            Op::CreateSyncTrigger,
                        ],
                        vec![Op::DropSyncTrigger, Op::DropColumn],
                    ),
                    // Backfilled values are kept on the way down: the previous phase's
                    // schema holds them, and re-filling would cost another full pass.
                    (vec![Op::Backfill], vec![]),
                    (contract_up, contract_down),
                ],
            )
        }
    };
    let phases = Phase::ALL
        .into_iter()
        .zip([expand, backfill, contract])
        .map(|(phase, (up, down))| PhasePlan { phase, up, down })
        .collect();
    ChangePlan {
        id: format!("{}.{}", model.table, column.name),
        table: model.table.clone(),
        column: column.name.clone(),
        declared_phase: change.phase(),
        summary,
        phases,
    }
}
