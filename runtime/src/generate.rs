//! `straddle generate` and `straddle check`: accept the models' pending phases into
//! `migrations/` and `straddle.lock`, and verify that models, lock and migrations agree.
//!
//! Layout: `migrations/<table>.<column>/<n>-<phase>/<dialect>/{up,down}.sql`, one folder
//! per change and phase. Released files are append-only: `generate` never rewrites a
//! file whose content differs, and `check` reports it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use straddle_core::lock::LockFile;
use straddle_core::migrations::{files, locked_phase, pending};
use straddle_core::{Model, Phase};

/// Where a project keeps its lock and migrations.
#[derive(Clone, Debug)]
pub struct Project {
    pub lock: PathBuf,
    pub migrations: PathBuf,
}

impl Project {
    /// `straddle.lock` and `migrations/` under `root`.
    pub fn at(root: &Path) -> Project {
        Project {
            lock: root.join(straddle_core::lock::FILE_NAME),
            migrations: root.join("migrations"),
        }
    }
}

/// A phase of a change that this release ships.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Shipped {
    pub change: String,
    pub phase: Phase,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Lock(#[from] straddle_core::lock::LockError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error(
        "{path} was released and differs from what the model renders now: released migrations are append-only \
         (revert the model change, or roll the change back first)"
    )]
    Released { path: String },
}

/// Accept the pending phases: write their migration files and the new lock.
pub fn generate(project: &Project, models: &[&Model]) -> Result<Vec<Shipped>, GenerateError> {
    let lock = LockFile::read(&project.lock)?.unwrap_or_default();
    let shipped: Vec<Shipped> = pending(models, &lock)
        .into_iter()
        .map(|(change, phase)| Shipped { change, phase })
        .collect();
    // Write every file the shipped history needs: new ones are created, released ones
    // must be unchanged.
    let next = lock.with_models(models);
    for (rel, text) in files(models, |change, phase| {
        locked_phase(&next, change).is_some_and(|p| phase <= p)
    }) {
        let path = project.migrations.join(&rel);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(_) => return Err(GenerateError::Released { path: shown }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let io = |source| GenerateError::Io {
                    path: shown.clone(),
                    source,
                };
                std::fs::create_dir_all(path.parent().expect("file in a folder")).map_err(io)?;
                std::fs::write(&path, text).map_err(|source| GenerateError::Io {
                    path: shown.clone(),
                    source,
                })?;
            }
            Err(source) => return Err(GenerateError::Io { path: shown, source }),
        }
    }
    if next != lock || !project.lock.exists() {
        std::fs::write(&project.lock, next.render()).map_err(|source| GenerateError::Io {
            path: project.lock.display().to_string(),
            source,
        })?;
    }
    Ok(shipped)
}

/// Every disagreement between the models, the lock and the migrations, as lines a
/// person can act on (empty: all agree).
pub fn check(project: &Project, models: &[&Model]) -> Result<Vec<String>, GenerateError> {
    let lock = LockFile::read(&project.lock)?;
    let mut problems = straddle_core::consistency::conflicts(models);
    let Some(lock) = lock else {
        if models.iter().any(|m| !straddle_core::plan_model(m).is_empty()) {
            problems.push(format!(
                "{} is missing: run `straddle generate`",
                project.lock.display()
            ));
        }
        return Ok(problems);
    };
    let tables: BTreeSet<&str> = models.iter().map(|m| m.table.as_str()).collect();
    for table in tables {
        let now = straddle_core::lock::LockedTable::of(models, table);
        let Some(shipped) = lock.tables.get(table) else {
            problems.push(format!(
                "table `{table}` ({}) is not in the lock: run `straddle generate`",
                now.model
            ));
            continue;
        };
        let names: BTreeSet<&String> = now.columns.keys().chain(shipped.columns.keys()).collect();
        for name in names {
            let id = format!("{table}.{name}");
            match (shipped.columns.get(name), now.columns.get(name)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) if a.phase != b.phase => problems.push(format!(
                    "{id}: the lock has {}, the code declares {}: run `straddle generate`",
                    a.phase.map_or("no change".into(), |p| format!("phase {p}")),
                    b.phase.map_or("no change".into(), |p| format!("phase {p}")),
                )),
                (Some(a), Some(b)) => problems.push(format!(
                    "{id}: the lock has type {}, the code {}: run `straddle generate`",
                    a.rust_type, b.rust_type
                )),
                (Some(_), None) => problems.push(format!("{id}: in the lock but not in the code")),
                (None, Some(_)) => problems.push(format!(
                    "{id}: in the code but not in the lock: run `straddle generate`"
                )),
                (None, None) => unreachable!(),
            }
        }
    }
    for (rel, text) in files(models, |change, phase| {
        locked_phase(&lock, change).is_some_and(|p| phase <= p)
    }) {
        let path = project.migrations.join(&rel);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(_) => problems.push(format!(
                "{}: differs from what the model renders (edited after release?)",
                path.display()
            )),
            Err(_) => problems.push(format!("{}: missing: run `straddle generate`", path.display())),
        }
    }
    Ok(problems)
}
