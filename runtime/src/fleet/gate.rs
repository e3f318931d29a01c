//! The runner side of the fleet: which live instances a phase would break (and waiting
//! for them to go), and the acknowledged schema refresh that replaces a fixed sleep.

use super::registry::{self, Instance};
use crate::backend::Backend;
use crate::error::Result;
use crate::progress::ProgressMode;
use std::time::{Duration, Instant};
use straddle_core::fleet::{Requirement, stance};
use straddle_core::{ChangePlan, Model};

/// How the runner treats the application fleet (see the CLI flags).
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// How long to wait for instances that block a phase to be replaced or gone before
    /// refusing (default: refuse at once).
    pub wait_for: Duration,
    /// Run a phase although live instances block it; recorded in the ledger.
    pub ignore: bool,
    /// How long a step waits for every live instance using the table to acknowledge that
    /// it re-read the schema (default 30 s).
    pub refresh_within: Duration,
    /// Apply a phase beyond the one the compiled code declares.
    pub ahead_of_code: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            wait_for: Duration::ZERO,
            ignore: false,
            refresh_within: Duration::from_secs(30),
            ahead_of_code: false,
        }
    }
}

/// The live instances that do not let the phase run, each with what its code does.
pub(crate) fn blockers(
    instances: &[Instance],
    model: &Model,
    plan: &ChangePlan,
    requirement: &Requirement,
    dialect: straddle_core::Dialect,
) -> Vec<String> {
    instances
        .iter()
        .filter(|i| i.live)
        .filter_map(|i| match &i.models {
            Err(why) => Some(format!("{}: {why}", i.describe())),
            Ok(models) => match stance(models, plan, model, dialect) {
                Some(s) if !requirement.allows(s) => Some(format!("{}: its code {s}", i.describe())),
                _ => None,
            },
        })
        .collect()
}

/// Move the schema generation on and wait until every live instance whose code maps one
/// of `tables` has re-read the schema; the laggards (and the generation) when `within`
/// passes first.
pub(crate) async fn await_refresh<DB: Backend>(
    conn: &mut DB::Connection,
    tables: &[&str],
    within: Duration,
    progress: ProgressMode,
) -> Result<std::result::Result<(), (i64, Vec<String>)>> {
    let generation = registry::bump::<DB>(conn).await?;
    let started = Instant::now();
    let mut told = false;
    loop {
        crate::stop::check(|| "while waiting for the fleet to re-read the schema".to_string())?;
        let instances = registry::list::<DB>(conn).await?;
        let laggards: Vec<&Instance> = instances
            .iter()
            .filter(|i| i.live && i.generation_seen < generation && i.maps_any(tables))
            .collect();
        if laggards.is_empty() {
            return Ok(Ok(()));
        }
        if started.elapsed() >= within {
            return Ok(Err((
                generation,
                laggards
                    .iter()
                    .map(|i| format!("{}: has read generation {} only", i.describe(), i.generation_seen))
                    .collect(),
            )));
        }
        if !told && started.elapsed() >= Duration::from_secs(3) && progress != ProgressMode::Off {
            crate::targets::label::note!(
                "  waiting for {} {} to re-read the schema (generation {generation}): {}",
                laggards.len(),
                if laggards.len() == 1 {
                    "instance"
                } else {
                    "instances"
                },
                laggards
                    .iter()
                    .map(|i| i.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
