//! The command line over several databases (`--database-url` more than once, or
//! `--targets FILE`): `up`/`backfill`/`contract`/`down` advance them together (see
//! [`crate::targets::advance`]); `status`, `verify` and `ledger` show each of them.

use super::{Cli, Command, look, print_runs};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::runner::{Runner, RunnerOptions};
use crate::targets::{self, Move, Target};
use std::process::ExitCode;
use straddle_core::{Model, Phase};

pub(super) async fn run<DB: Backend>(
    models: &[&'static Model],
    options: RunnerOptions,
    cli: &Cli,
    targets: &[Target],
    note: Option<String>,
) -> Result<ExitCode> {
    let mv = match &cli.command {
        Command::Up { change, phase, .. } => Move::Up {
            target: phase.map(Phase::from),
            only: change.as_deref(),
        },
        Command::Backfill { change, .. } => Move::Up {
            target: Some(Phase::Backfill),
            only: change.as_deref(),
        },
        Command::Contract { change, .. } => Move::Up {
            target: Some(Phase::Contract),
            only: change.as_deref(),
        },
        Command::Down { change, phase, .. } => Move::Down {
            phase: phase.map(Phase::from),
            only: change.as_deref(),
        },
        _ => {
            if let Some(note) = note {
                eprintln!("{note}");
            }
            return look_at_each::<DB>(models, options, cli, targets).await;
        }
    };
    let mut runners = targets::connect_all::<DB>(targets, models, &options, cli.parallel).await?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let done = targets::advance(targets, &mut runners, mv, cli.parallel).await;
    targets::close_all(runners).await;
    let failed: Vec<&targets::TargetOutcome> = done.failed().collect();
    if cli.json {
        out!("{}", serde_json::to_string_pretty(&done).expect("json"));
    } else {
        for t in &done.targets {
            out!("== {} ({})", t.target, t.url);
            if t.runs.is_empty() && t.error.is_some() {
                out!("nothing applied");
            } else {
                print_runs(&t.runs, false);
            }
        }
        for t in &failed {
            eprintln!("error: {}: {}", t.target, t.error.as_deref().unwrap_or_default());
        }
        if let Some(next) = done.held_before {
            let names: Vec<&str> = failed.iter().map(|t| t.target.as_str()).collect();
            eprintln!(
                "stopped before {next}: no database starts it until every one is ready for it ({} failed); \
                 fix {} and run again — each database resumes from its own ledger",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" },
            );
        } else if failed.is_empty() {
            let phases: Vec<String> = done.completed.iter().map(ToString::to_string).collect();
            out!(
                "{} databases: {}",
                done.targets.len(),
                if phases.is_empty() {
                    "done".to_string()
                } else {
                    format!("{} done on every one", phases.join(", "))
                }
            );
        }
    }
    Ok(match failed.first().and_then(|t| t.kind) {
        Some(kind) => ExitCode::from(kind.exit_code()),
        None => ExitCode::SUCCESS,
    })
}

/// `status`, `verify`, `ledger`: each database in turn, every one shown even when one
/// cannot be reached (the exit code is then that failure's).
async fn look_at_each<DB: Backend>(
    models: &[&'static Model],
    options: RunnerOptions,
    cli: &Cli,
    targets: &[Target],
) -> Result<ExitCode> {
    let mut shown = Vec::new();
    let mut code = ExitCode::SUCCESS;
    let mut failure: Option<Error> = None;
    for t in targets {
        if !cli.json {
            out!("== {} ({})", t.name, t.masked());
        }
        let looked = async {
            let mut runner = Runner::<DB>::connect(&t.url, models, options.clone()).await?;
            let looked = look(&mut runner, cli).await;
            let closed = runner.close().await;
            let looked = looked?;
            closed?;
            Ok::<_, Error>(looked)
        }
        .await;
        let entry = match looked {
            Ok((value, c)) => {
                if c != ExitCode::SUCCESS {
                    code = c;
                }
                serde_json::json!({ "target": t.name, "url": t.masked(), "report": value })
            }
            Err(e) => {
                if !cli.json {
                    eprintln!("error: {}: {e}", t.name);
                }
                let entry = serde_json::json!({
                    "target": t.name, "url": t.masked(), "error": e.to_string(), "kind": e.kind()
                });
                failure.get_or_insert(e);
                entry
            }
        };
        shown.push(entry);
    }
    if cli.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "targets": shown })).expect("json")
        );
    }
    Ok(match failure {
        Some(e) => ExitCode::from(e.kind().exit_code()),
        None => code,
    })
}
