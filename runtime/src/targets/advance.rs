//! One plan, many databases, phase by phase: every database finishes a phase — and every
//! database's fleet gate for the next phase passes — before any database starts the next.
//! A database that fails stops the advance at that phase's boundary: the others finish
//! the phase they are in and start no other; running again resumes each from its own
//! ledger.

use super::Target;
use super::label::scoped;
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::runner::{ChangeRun, Runner, RunnerOptions};
use futures::StreamExt;
use straddle_core::{Model, Phase};

/// What a run does on every database.
#[derive(Clone, Copy, Debug)]
pub enum Move<'a> {
    /// `up` / `backfill` / `contract`: phases up to `target` (default: each change's
    /// declared phase) of every change, or of `only`.
    Up {
        /// The phase to reach.
        target: Option<Phase>,
        /// One change.
        only: Option<&'a str>,
    },
    /// `down`: the newest applied phase of every change, or of `only`.
    Down {
        /// The phase to revert (must be each database's newest applied one).
        phase: Option<Phase>,
        /// One change.
        only: Option<&'a str>,
    },
}

/// What one database did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TargetOutcome {
    /// Its name.
    pub target: String,
    /// Its URL, secrets masked.
    pub url: String,
    /// The phases it applied or reverted (and the ones it found applied, or held back).
    pub runs: Vec<ChangeRun>,
    /// Why it stopped, when it failed.
    pub error: Option<String>,
    /// What kind of failure stopped it.
    pub kind: Option<ErrorKind>,
}

/// What a run over many databases did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Advance {
    /// Each database, in the order given.
    pub targets: Vec<TargetOutcome>,
    /// Phases every database finished in this run.
    pub completed: Vec<Phase>,
    /// The phase no database started because one failed (or was refused) before it.
    pub held_before: Option<Phase>,
}

impl Advance {
    /// The databases that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TargetOutcome> {
        self.targets.iter().filter(|t| t.error.is_some())
    }
}

/// Connect to every database (at most `parallel` at a time), taking each one's runner
/// lock. A database that cannot be reached, or whose runner lock is held, stops the run
/// before anything is applied anywhere: the error names it.
pub async fn connect_all<DB: Backend>(
    targets: &[Target],
    models: &[&'static Model],
    options: &RunnerOptions,
    parallel: usize,
) -> Result<Vec<Runner<DB>>> {
    let results: Vec<Result<Runner<DB>>> = futures::stream::iter(targets)
        .map(|t| scoped(&t.name, Runner::<DB>::connect(&t.url, models, options.clone())))
        .buffered(parallel.max(1))
        .collect()
        .await;
    let mut runners = Vec::new();
    let mut failure = None;
    for (t, r) in targets.iter().zip(results) {
        match r {
            Ok(r) => runners.push(r),
            Err(e) if failure.is_none() => {
                failure = Some(Error::Target {
                    target: t.name.clone(),
                    source: Box::new(e),
                })
            }
            Err(_) => {}
        }
    }
    match failure {
        None => Ok(runners),
        Some(e) => {
            close_all(runners).await;
            Err(e)
        }
    }
}

/// Release every runner's lock and connection (errors are the run's least concern here).
pub async fn close_all<DB: Backend>(runners: Vec<Runner<DB>>) {
    futures::future::join_all(runners.into_iter().map(|r| r.close())).await;
}

/// Apply `mv` to every database, phase by phase (see the module docs).
pub async fn advance<DB: Backend>(
    targets: &[Target],
    runners: &mut [Runner<DB>],
    mv: Move<'_>,
    parallel: usize,
) -> Advance {
    let parallel = parallel.max(1);
    let mut outcomes: Vec<TargetOutcome> = targets
        .iter()
        .map(|t| TargetOutcome {
            target: t.name.clone(),
            url: t.masked(),
            runs: Vec::new(),
            error: None,
            kind: None,
        })
        .collect();
    let mut completed = Vec::new();
    let mut held_before = None;
    match mv {
        Move::Up { target, .. } => {
            let last = target.unwrap_or(Phase::Contract);
            for phase in Phase::ALL.into_iter().filter(|p| *p <= last) {
                // Every gate first: a phase starts nowhere until it may start everywhere.
                let gates = on_each(runners, targets, parallel, Stage::Gate, mv, Some(phase)).await;
                if merge(&mut outcomes, gates) {
                    held_before = Some(phase);
                    break;
                }
                let runs = on_each(runners, targets, parallel, Stage::Apply, mv, Some(phase)).await;
                // A round whose phase no change reaches (each declares less) completes nothing.
                let reached = runs.iter().any(|(result, _)| {
                    result.as_ref().is_ok_and(|runs| {
                        runs.iter().any(|r| {
                            r.phase == phase && matches!(r.outcome.as_str(), "applied" | "already applied")
                        })
                    })
                });
                if merge(&mut outcomes, runs) {
                    held_before = Phase::ALL.into_iter().find(|p| *p > phase && *p <= last);
                    break;
                }
                if reached {
                    completed.push(phase);
                }
            }
        }
        Move::Down { .. } => {
            let gates = on_each(runners, targets, parallel, Stage::Gate, mv, None).await;
            if !merge(&mut outcomes, gates) {
                let runs = on_each(runners, targets, parallel, Stage::Apply, mv, None).await;
                merge(&mut outcomes, runs);
            }
        }
    }
    Advance {
        targets: outcomes,
        completed,
        held_before,
    }
}

/// Half of a round on every database: the fleet gates, or the phase itself.
#[derive(Clone, Copy)]
enum Stage {
    Gate,
    Apply,
}

/// What one database did in half a round: the result, and the runs it applied before it
/// stopped when it failed.
type Done = (Result<Vec<ChangeRun>>, Vec<ChangeRun>);

/// `stage` of `mv` (no phase beyond `cap`) on every database, at most `parallel` at once,
/// each one's messages prefixed with its name; results in the databases' order.
async fn on_each<DB: Backend>(
    runners: &mut [Runner<DB>],
    targets: &[Target],
    parallel: usize,
    stage: Stage,
    mv: Move<'_>,
    cap: Option<Phase>,
) -> Vec<Done> {
    futures::stream::iter(runners.iter_mut().zip(targets))
        .map(|(r, t)| {
            scoped(&t.name, async move {
                let result = match (stage, mv) {
                    (Stage::Gate, Move::Up { target, only }) => {
                        r.gate_up(target, only, cap).await.map(|()| vec![])
                    }
                    (Stage::Gate, Move::Down { only, .. }) => r.gate_down(only).await.map(|()| vec![]),
                    (Stage::Apply, Move::Up { target, only }) => r.up_capped(target, only, cap).await,
                    (Stage::Apply, Move::Down { phase, only }) => r.down(phase, only).await,
                };
                let so_far = match stage {
                    Stage::Gate => Vec::new(),
                    Stage::Apply => r.runs_so_far().to_vec(),
                };
                (result, so_far)
            })
        })
        .buffered(parallel)
        .collect()
        .await
}

/// Note each database's error, and add its runs of this phase (a failed one's: those it
/// applied before it stopped) to what it did, each phase of each change once; whether any
/// failed.
fn merge(outcomes: &mut [TargetOutcome], results: Vec<Done>) -> bool {
    let mut any = false;
    for (o, (result, so_far)) in outcomes.iter_mut().zip(results) {
        let runs = match result {
            Ok(runs) => runs,
            Err(e) => {
                o.kind = Some(e.kind());
                o.error = Some(e.to_string());
                any = true;
                so_far.into_iter().filter(|r| r.outcome == "applied").collect()
            }
        };
        for run in runs {
            let same = |r: &ChangeRun| {
                r.change == run.change && r.phase == run.phase && r.direction == run.direction
            };
            match o.runs.iter().position(same) {
                // Found applied in a later round: what this run did to it is the news.
                Some(_) if run.outcome == "already applied" => {}
                Some(at) => o.runs[at] = run,
                None => o.runs.push(run),
            }
        }
    }
    any
}
