//! Fleet gating, the pure half: where a running instance's code stands on a change (read
//! from the models it registered), and which stances a phase allows.
//!
//! The phase model: code shipped in phase *X* works whether or not *X*'s migration has
//! run. So while the database moves to *X*, code of phase *X* and — during a rolling
//! deploy — of the phase before it run side by side; the trigger serves the previous
//! release through expand and backfill. Contract is where that ends: it removes or
//! tightens what the previous release needs (the sync trigger, the old column, NOT NULL,
//! a constraint its writes could violate), so it runs only when every live instance that
//! uses the table declares contract or is past the change. Going down is the mirror
//! image: reverting *X* takes away what code of a later phase needs, so it runs only when
//! no live instance is past *X*.

use crate::dialect::Dialect;
use crate::model::{Change, Model, Phase};
use crate::plan::{ChangePlan, Subject, plan_model};
use crate::step::Direction;
use std::fmt;

/// Where one instance's code stands on a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stance {
    /// The code predates the change (it maps the table and does not declare the change,
    /// and its shape is not the one the change leaves): the previous release.
    Before,
    /// The code declares the change, shipped in this phase.
    Declares(Phase),
    /// The code no longer declares the change and maps the table as the change leaves it.
    After,
}

impl Stance {
    fn rank(self) -> u8 {
        match self {
            Stance::Before => 0,
            Stance::Declares(Phase::Expand) => 1,
            Stance::Declares(Phase::Backfill) => 2,
            Stance::Declares(Phase::Contract) => 3,
            Stance::After => 4,
        }
    }
}

impl fmt::Display for Stance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stance::Before => f.write_str("predates the change"),
            Stance::Declares(p) => write!(f, "declares {p}"),
            Stance::After => f.write_str("is past the change"),
        }
    }
}

/// What a phase needs of every live instance that uses the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Every such instance must stand at least here…
    pub at_least: Option<Stance>,
    /// …and at most here.
    pub at_most: Option<Stance>,
    /// Why, for messages.
    pub why: &'static str,
}

impl Requirement {
    /// Whether an instance standing at `stance` lets the phase run.
    pub fn allows(&self, stance: Stance) -> bool {
        self.at_least.is_none_or(|s| stance.rank() >= s.rank())
            && self.at_most.is_none_or(|s| stance.rank() <= s.rank())
    }

    /// What an instance must do (be replaced by, or rolled back to) for the phase to run.
    pub fn wants(&self) -> String {
        match (self.at_least, self.at_most) {
            (Some(Stance::Declares(p)), _) => format!("code declaring {p} or later"),
            (_, Some(Stance::Declares(p))) => format!("code declaring {p} or earlier"),
            _ => "other code".into(),
        }
    }
}

/// What applying `phase` of `plan` in `direction` needs of the live instances; `None`:
/// nothing (the previous release keeps working through it).
pub fn requirement(
    model: &Model,
    plan: &ChangePlan,
    phase: Phase,
    direction: Direction,
) -> Option<Requirement> {
    match (direction, phase) {
        (Direction::Up, Phase::Contract) => Some(Requirement {
            at_least: Some(Stance::Declares(Phase::Contract)),
            at_most: None,
            why: "contract removes or tightens what the previous release needs",
        }),
        (Direction::Up, Phase::Expand) if builds_unique_index(model, plan) => Some(Requirement {
            at_least: Some(Stance::Declares(Phase::Expand)),
            at_most: None,
            why: "a unique index refuses the previous release's duplicate writes from the moment it is built",
        }),
        (Direction::Up, _) => None,
        (Direction::Down, phase) => Some(Requirement {
            at_least: None,
            at_most: Some(Stance::Declares(phase)),
            why: "reverting a phase takes away what code of a later phase needs: roll the code back first",
        }),
    }
}

fn builds_unique_index(model: &Model, plan: &ChangePlan) -> bool {
    match &plan.subject {
        Subject::Index(name) => model.index(name).is_some_and(|i| i.unique && !i.dropped),
        _ => false,
    }
}

/// Where an instance running `models` stands on `plan` (a change of `model`); `None` when
/// the instance does not map the change's table (by any of its names) on `dialect`.
pub fn stance(models: &[Model], plan: &ChangePlan, model: &Model, dialect: Dialect) -> Option<Stance> {
    let names = model.table_names();
    let relevant: Vec<&Model> = models
        .iter()
        .filter(|m| m.supports(dialect) && m.table_names().iter().any(|n| names.contains(n)))
        .collect();
    if relevant.is_empty() {
        return None;
    }
    // The same change is the same id *and* the same declaration: another rollout of the
    // same object (another index of that name) is not this one.
    let declared = relevant
        .iter()
        .flat_map(|m| plan_model(m))
        .filter(|p| p.id == plan.id && p.summary == plan.summary)
        .map(|p| p.declared_phase)
        .min();
    if let Some(phase) = declared {
        return Some(Stance::Declares(phase));
    }
    let after = relevant.iter().all(|m| shaped_after(m, plan, model, dialect));
    Some(if after { Stance::After } else { Stance::Before })
}

/// Whether `m` (not declaring the change) maps the table as the change leaves it. Only
/// what the code can show counts: an index, a constraint or a default leaves no trace in
/// a model once its declaration is gone, so code without it is taken as the previous
/// release.
fn shaped_after(m: &Model, plan: &ChangePlan, model: &Model, dialect: Dialect) -> bool {
    match &plan.subject {
        Subject::Column(name) => {
            let Some(declared) = model.column(name) else {
                return false;
            };
            let has = m.column(name);
            match &declared.change {
                Some(Change::Add(_)) => has.is_some_and(|c| c.change.is_none()),
                Some(Change::Rename(r)) => {
                    has.is_some_and(|c| c.change.is_none()) && m.column(&r.from).is_none()
                }
                Some(Change::Retype(_)) => has.is_some_and(|c| {
                    c.change.is_none()
                        && crate::types::same_sql_type(dialect, c.ty.sql(dialect), declared.ty.sql(dialect))
                }),
                Some(Change::Retire(_)) => has.is_none(),
                Some(Change::Nullable(_)) => has.is_some_and(|c| c.change.is_none() && c.nullable),
                Some(Change::NotNull(_)) => has.is_some_and(|c| c.change.is_none() && !c.nullable),
                Some(Change::DefaultChanged(_) | Change::CommentChanged(_)) | None => false,
            }
        }
        Subject::Table(_) => {
            if model.created.is_some() {
                // Code that maps a created table without declaring it finds it there.
                m.created.is_none() && m.table == model.table
            } else if model.renamed.is_some() {
                m.renamed.is_none() && m.table == model.table
            } else {
                false // a retired table: code that maps it uses it
            }
        }
        // Like an index: code leaves no trace of a hand-written step once its declaration
        // is gone.
        Subject::Index(_) | Subject::Check(_) | Subject::ForeignKey(_) | Subject::Sql(_) => false,
    }
}

/// What an instance's code declares, per change id: `{"users.email_normalized": "backfill"}`.
pub fn declares(models: &[Model]) -> std::collections::BTreeMap<String, Phase> {
    let mut out = std::collections::BTreeMap::new();
    for m in models {
        for p in plan_model(m) {
            out.entry(p.id)
                .and_modify(|e: &mut Phase| *e = (*e).min(p.declared_phase))
                .or_insert(p.declared_phase);
        }
    }
    out
}

/// The models a release registers, in a stable order, as JSON; and the release's id (a
/// digest of that JSON: two instances of one build share it).
pub fn release(models: &[&Model]) -> (String, String) {
    let mut sorted: Vec<&Model> = models.to_vec();
    sorted.sort_by(|a, b| (&a.table, &a.rust_name).cmp(&(&b.table, &b.rust_name)));
    sorted.dedup_by(|a, b| a == b);
    let json = serde_json::to_string(&sorted).expect("models serialize");
    let id = crate::naming::short_hash("release", &[json.as_str()]);
    (json, id)
}
