//! Errors the runtime reports.

use straddle_core::{Dialect, Phase};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be reached; `url` has its password masked.
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },

    #[error(transparent)]
    Sql(#[from] sqlx::Error),

    /// A plan's assertion found rows it must not (e.g. NULLs left before contract).
    #[error(
        "{change} {phase} step `{step}` refused: {message} ({count} offending {}{})",
        if *.count == 1 { "row" } else { "rows" },
        sample_text(.sample)
    )]
    Refused {
        change: String,
        phase: Phase,
        step: String,
        message: String,
        count: i64,
        sample: Vec<String>,
    },

    /// A backfill's expression failed for one row (found by narrowing the failing batch
    /// down to it). The rows before it are filled; the run resumes there.
    #[error(
        "the backfill of {table}.{column} stops at the row with key {key}: {cause} — the rows before it are \
         filled; fix that row (or the expression) and run again to resume"
    )]
    BackfillRow {
        table: String,
        column: String,
        key: String,
        cause: String,
    },

    /// An object a step creates or drops is in the way, or not what the plan expects:
    /// refused before the phase changed anything.
    #[error(
        "{change} {phase} step `{step}` refused before anything changed: {}",
        .problems.join("; ")
    )]
    Conflict {
        change: String,
        phase: Phase,
        step: String,
        problems: Vec<String>,
    },

    /// A step ran but the catalog does not show what it should have done.
    #[error(
        "{change} {phase} step `{step}` ran but the catalog does not show what it does: expected it to {}",
        .problems.join("; ")
    )]
    NotAsPlanned {
        change: String,
        phase: Phase,
        step: String,
        problems: Vec<String>,
    },

    /// The ledger says a phase is applied, but its rows or the catalog say otherwise.
    #[error(
        "the ledger says {change} is applied through {phase}, but {}: refused — the ledger and the database \
         disagree (inspect with `straddle ledger {change}`)",
        .problems.join("; ")
    )]
    LedgerDisagrees {
        change: String,
        phase: Phase,
        problems: Vec<String>,
    },

    /// An applied step's SQL changed since it ran.
    #[error(
        "{change} {phase} step `{step}` was applied with checksum {recorded} but now renders as {current}: \
         released migrations must not change (revert the edit, or roll the change back with `down` first)"
    )]
    ChecksumMismatch {
        change: String,
        phase: Phase,
        step: String,
        recorded: String,
        current: String,
    },

    /// The binary's embedded migrations do not have, or do not match, a phase to apply.
    #[error("{change} {phase} {direction}: {problem}")]
    NotReviewed {
        change: String,
        phase: Phase,
        direction: &'static str,
        problem: String,
    },

    /// Another runner holds the lock.
    #[error(
        "another straddle runner is applying migrations on {url} (waited {waited:?}); try again when it is done"
    )]
    Busy {
        url: String,
        waited: std::time::Duration,
    },

    #[error("model `{model}` is not compiled for {dialect}: enable the `{}` feature or add it to `dialects(...)`", dialect.key())]
    DialectNotCompiled { model: String, dialect: Dialect },

    #[error("model `{model}` has no change on column `{column}`")]
    UnknownChange { model: String, column: String },

    #[error("{0}")]
    Usage(String),

    /// The live schema is not what a step needs (e.g. a column a rebuild changes is gone).
    #[error("the database schema does not allow this step: {0}")]
    Schema(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn sample_text(sample: &[String]) -> String {
    match sample {
        [] => String::new(),
        [one] => format!(": {one}"),
        many => format!(", e.g. {}", many.join("; ")),
    }
}

/// `scheme://user:****@host/db`: a URL safe to print.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    match auth {
        Some(auth) => match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
            None => format!("{scheme}://{auth}@{host}"),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            super::mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:****@h:5432/db"
        );
        assert_eq!(super::mask_url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(super::mask_url("sqlite::memory:"), "sqlite::memory:");
    }
}
