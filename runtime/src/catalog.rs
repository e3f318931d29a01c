//! The live catalog against what steps expect of it (see `straddle_core::catalog`): read
//! every object a step creates, alters or drops, and judge it — before a phase (an
//! object in the way refuses the phase before anything changes), before a step (already
//! applied only when every object is as the step leaves it) and after a step (it did
//! what it claims, or the run stops).

use crate::backend::Backend;
use crate::error::{Error, Result};
use straddle_core::Phase;
use straddle_core::catalog::{Expect, Found, Verdict, judge, probe_sql};
use straddle_core::step::Step;

/// How a step stands against the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StepState {
    /// Every object it touches is as it leaves it: already applied.
    Done,
    /// It has work to do (or touches no catalog object: its own statements decide).
    Pending,
    /// Objects in the way, or not what the plan expects: each difference.
    Conflict(Vec<String>),
}

/// What the catalog holds under `expect`'s object.
async fn found<DB: Backend>(conn: &mut DB::Connection, expect: &Expect) -> Result<Vec<Found>> {
    let rows = DB::texts(conn, probe_sql(DB::DIALECT, &expect.object)).await?;
    rows.iter()
        .map(|json| {
            serde_json::from_str(json).map_err(|e| {
                Error::Schema(format!(
                    "reading {} from the catalog: {e} ({json})",
                    expect.object
                ))
            })
        })
        .collect()
}

/// Judge every object `step` touches.
pub(crate) async fn step_state<DB: Backend>(conn: &mut DB::Connection, step: &Step) -> Result<StepState> {
    if step.expects.is_empty() {
        return Ok(StepState::Pending);
    }
    let mut conflicts = Vec::new();
    let mut done = true;
    for expect in &step.expects {
        match judge(DB::DIALECT, expect, &found::<DB>(conn, expect).await?) {
            Verdict::Done => {}
            Verdict::Pending => done = false,
            Verdict::Conflict(why) => conflicts.push(why),
        }
    }
    Ok(if !conflicts.is_empty() {
        StepState::Conflict(conflicts)
    } else if done {
        StepState::Done
    } else {
        StepState::Pending
    })
}

/// Before a phase runs: refuse, naming every difference, when an object one of `steps`
/// would create is in the way (another table's index of that name, a leftover column of
/// another type, a trigger with another body) or one it would drop is not this table's.
/// Each object is judged at its first mention: a later step may find it as an earlier
/// one of the phase leaves it (a column renamed away before its name is reused).
pub(crate) async fn precheck<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    phase: Phase,
    steps: &[&Step],
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for step in steps {
        let mut problems = Vec::new();
        for expect in &step.expects {
            if !seen.insert(expect.object.clone()) {
                continue;
            }
            if let Verdict::Conflict(why) = judge(DB::DIALECT, expect, &found::<DB>(conn, expect).await?) {
                problems.push(why);
            }
        }
        if !problems.is_empty() {
            return Err(Error::Conflict {
                change: change.to_string(),
                phase,
                step: step.name.clone(),
                problems,
            });
        }
    }
    Ok(())
}

/// What differs between the catalog and `expects` (each as it should be), as messages.
pub(crate) async fn differences<DB: Backend>(
    conn: &mut DB::Connection,
    expects: &[Expect],
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for expect in expects {
        match judge(DB::DIALECT, expect, &found::<DB>(conn, expect).await?) {
            Verdict::Done => {}
            Verdict::Pending => out.push(format!(
                "a step that {expect} is recorded, but the catalog does not show it"
            )),
            Verdict::Conflict(why) => out.push(why),
        }
    }
    Ok(out)
}

/// After a step ran: every object it touches must be as it leaves it.
pub(crate) async fn postcheck<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    phase: Phase,
    step: &Step,
) -> Result<()> {
    let mut missing = Vec::new();
    for expect in &step.expects {
        if judge(DB::DIALECT, expect, &found::<DB>(conn, expect).await?) != Verdict::Done {
            missing.push(expect.to_string());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NotAsPlanned {
            change: change.to_string(),
            phase,
            step: step.name.clone(),
            problems: missing,
        })
    }
}
