//! Hand-written SQL steps (`sql(...)`): the declared statements as one step, in the
//! phase the declaration names. What they touch is unknown to Straddle, so the step has no
//! catalog expectations: a transactional step is atomic (PostgreSQL, SQLite), and a step
//! that cannot be (`no_transaction`, or DDL on MySQL, which commits each statement) is one
//! statement, checked at compile time — so a retry never re-runs a statement that
//! succeeded. Its lock on PostgreSQL is taken to be the strongest its statements could
//! take (`ACCESS EXCLUSIVE` for DDL), bounded by the lock timeout like every DDL step.

use super::{Rendered, step};
use crate::dialect::Dialect;
use crate::model::SqlStep;
use crate::plan::Op;
use crate::step::{Direction, Statement};

/// The step running `declared`'s statements for `op` on `dialect`; none where it declares
/// nothing to do on that engine.
pub(super) fn render(dialect: Dialect, declared: &SqlStep, op: &Op) -> Vec<Rendered> {
    let (name, direction) = match op {
        Op::RunSql => ("run-sql", Direction::Up),
        Op::RevertSql => ("revert-sql", Direction::Down),
        _ => unreachable!("only hand-written SQL operations act on a SQL step"),
    };
    let statements = declared.statements(dialect, direction);
    if statements.is_empty() {
        return Vec::new();
    }
    let mut s = step(name, declared.transactional, true);
    s.statements = statements.iter().cloned().map(Statement::Execute).collect();
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}
