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
    /// The lock file (`straddle.lock`).
    pub lock: PathBuf,
    /// The migrations folder.
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
    /// The change.
    pub change: String,
    /// The phase.
    pub phase: Phase,
}

#[derive(Debug, thiserror::Error)]
/// Why `generate` or `check` could not do its work.
pub enum GenerateError {
    #[error(transparent)]
    /// The lock cannot be read.
    Lock(#[from] straddle_core::lock::LockError),
    #[error("{path}: {source}")]
    /// A file cannot be read or written.
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    #[error(
        "{path} was released and differs from what the models render now (line {line}: the file has `{file}`, the \
         models render `{rendered}`): released migrations are append-only — if the file was edited, restore it \
         (`git checkout -- {path}`); if a model changed a released phase, revert that change or roll the change \
         back with `down` first"
    )]
    /// A released migration file would change.
    Released {
        /// The file.
        path: String,
        /// The first line where it differs (1-based).
        line: usize,
        /// That line in the file (around the difference).
        file: String,
        /// That line as the models render it.
        rendered: String,
    },
}

/// What `generate` did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Generated {
    /// Phases the lock did not have.
    pub shipped: Vec<Shipped>,
    /// Files written (new ones: a released file is never rewritten).
    pub written: Vec<PathBuf>,
    /// Whether the lock was written.
    pub lock_written: bool,
}

/// Where two texts first differ: the line (1-based) and both lines, cut to a window
/// around the first differing character. A differing SQL line is preferred to a comment
/// (the header comment carries checksums, which differ whenever anything does).
fn first_difference(file: &str, rendered: &str) -> (usize, String, String) {
    let (a, b): (Vec<&str>, Vec<&str>) = (file.lines().collect(), rendered.lines().collect());
    let differing: Vec<usize> = (0..a.len().max(b.len()))
        .filter(|&i| a.get(i) != b.get(i))
        .collect();
    let is_comment = |i: &usize| a.get(*i).is_none_or(|l| l.trim_start().starts_with("--"));
    let Some(&line) = differing.iter().find(|i| !is_comment(i)).or(differing.first()) else {
        return (0, String::new(), String::new());
    };
    let (x, y) = (a.get(line).copied(), b.get(line).copied());
    let at = match (x, y) {
        (Some(x), Some(y)) => x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count(),
        _ => 0,
    };
    let window = |l: Option<&str>| {
        let Some(l) = l else {
            return "(end of file)".to_string();
        };
        let chars: Vec<char> = l.chars().collect();
        let from = at.saturating_sub(25);
        let to = (at + 35).min(chars.len());
        let cut: String = chars[from.min(to)..to].iter().collect();
        format!(
            "{}{}{}",
            if from > 0 { "…" } else { "" },
            cut.trim(),
            if to < chars.len() { "…" } else { "" }
        )
    };
    (line + 1, window(x), window(y))
}

/// Accept the pending phases: write their migration files and the new lock.
pub fn generate(project: &Project, models: &[&Model]) -> Result<Generated, GenerateError> {
    let lock = LockFile::read(&project.lock)?.unwrap_or_default();
    let shipped: Vec<Shipped> = pending(models, &lock)
        .into_iter()
        .map(|(change, phase)| Shipped { change, phase })
        .collect();
    // Write every file the shipped history needs: new ones are created, released ones
    // must be unchanged.
    let next = lock.with_models(models);
    let mut written = Vec::new();
    for (rel, text) in files(models, |model, change, phase| {
        locked_phase(&next, model, change).is_some_and(|p| phase <= p)
    }) {
        let path = project.migrations.join(&rel);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(existing) => {
                let (line, file, rendered) = first_difference(&existing, &text);
                return Err(GenerateError::Released {
                    path: shown,
                    line,
                    file,
                    rendered,
                });
            }
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
                written.push(path);
            }
            Err(source) => return Err(GenerateError::Io { path: shown, source }),
        }
    }
    let lock_written = next != lock || !project.lock.exists();
    if lock_written {
        std::fs::write(&project.lock, next.render()).map_err(|source| GenerateError::Io {
            path: project.lock.display().to_string(),
            source,
        })?;
    }
    Ok(Generated {
        shipped,
        written,
        lock_written,
    })
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
                (Some(a), Some(b)) if a.rust_type != b.rust_type => problems.push(format!(
                    "{id}: the lock has type {}, the code {}: run `straddle generate`",
                    a.rust_type, b.rust_type
                )),
                (Some(a), Some(b)) if a.primary_key != b.primary_key => problems.push(format!(
                    "{id}: the lock has it {} the primary key, the code {}",
                    if a.primary_key { "in" } else { "outside" },
                    if b.primary_key { "in it" } else { "outside it" }
                )),
                // A version 1 lock did not record declared types (the next `generate` does).
                (Some(a), Some(b)) if a.sql_type != b.sql_type && lock.version >= 2 => problems.push(format!(
                    "{id}: the lock has declared column types {:?}, the code {:?}: run `straddle generate`",
                    a.sql_type, b.sql_type
                )),
                // What is left to differ: the change itself, or (version 1) declared types.
                (Some(a), Some(b)) if a.change != b.change || a.from != b.from => {
                    problems.push(format!("{id}: differs from the lock: run `straddle generate`"))
                }
                (Some(_), Some(_)) => {}
                (Some(_), None) => problems.push(format!("{id}: in the lock but not in the code")),
                (None, Some(_)) => problems.push(format!(
                    "{id}: in the code but not in the lock: run `straddle generate`"
                )),
                (None, None) => unreachable!(),
            }
        }
    }
    for (rel, text) in files(models, |model, change, phase| {
        locked_phase(&lock, model, change).is_some_and(|p| phase <= p)
    }) {
        let path = project.migrations.join(&rel);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == text => {}
            Ok(existing) => {
                let (line, file, rendered) = first_difference(&existing, &text);
                problems.push(format!(
                    "{}: differs from what the models render (line {line}: the file has `{file}`, the models render \
                     `{rendered}`) — edited after release, or a model changed a released phase",
                    path.display()
                ))
            }
            Err(_) => problems.push(format!("{}: missing: run `straddle generate`", path.display())),
        }
    }
    Ok(problems)
}
