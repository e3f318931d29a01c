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
        "another straddle runner is applying migrations on {url}{} (waited {} s); try again when it is done",
        .holder.as_ref().map(|h| format!(": {h}")).unwrap_or_default(),
        .waited.as_secs_f64().round()
    )]
    Busy {
        url: String,
        waited: std::time::Duration,
        /// Who holds it and since when, where recorded.
        holder: Option<String>,
    },

    /// Live application instances still run code the phase would break (fleet gating).
    #[error("{0}")]
    FleetNotReady(Box<FleetRefusal>),

    /// Live instances did not re-read the schema in time.
    #[error(
        "{change} {phase} step `{step}`: {} live {} did not re-read the schema (generation {generation}) within \
         {} s:\n  {}\n  they poll the generation every second by default: a laggard is stuck, overloaded or \
         configured to poll rarely; run again once it has (nothing after this step ran)",
        .laggards.len(),
        if .laggards.len() == 1 { "instance" } else { "instances" },
        .waited.as_secs_f64().round(),
        .laggards.join("\n  "),
    )]
    FleetLagging {
        change: String,
        phase: Phase,
        step: String,
        generation: i64,
        laggards: Vec<String>,
        waited: std::time::Duration,
    },

    /// A phase beyond the one the compiled code declares.
    #[error(
        "{change}: the code declares {declared}, so {phase} would run ahead of it — the code that runs during \
         {phase} must declare it (ship that release first, then run this); pass --ahead-of-code to do it anyway"
    )]
    AheadOfCode {
        change: String,
        phase: Phase,
        declared: Phase,
    },

    /// The database user lacks a privilege Straddle needs.
    #[error("{0}")]
    Privilege(String),

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

/// Who keeps a phase from running, and why (see [`Error::FleetNotReady`]).
#[derive(Debug, thiserror::Error)]
#[error(
    "{change} {phase} {direction} refused: {why}; {} live {} still {} code it would break:\n  {}{}\n  it runs \
     once each is replaced by {wants} (or gone: a stopped instance deregisters, a killed one expires); wait \
     with --wait-for-fleet <duration>, or override with --ignore-fleet (recorded in the ledger)",
    .blockers.len(),
    if .blockers.len() == 1 { "instance" } else { "instances" },
    if .blockers.len() == 1 { "runs" } else { "run" },
    .blockers.join("\n  "),
    unknown_text(.unknown),
)]
pub struct FleetRefusal {
    pub change: String,
    pub phase: Phase,
    pub direction: &'static str,
    pub why: &'static str,
    /// What each blocking instance must be replaced by.
    pub wants: String,
    /// One line per instance: who, where, what its code declares, when last seen.
    pub blockers: Vec<String>,
    /// Connections that are not registered instances (or why the engine cannot show them).
    pub unknown: Vec<String>,
}

fn unknown_text(unknown: &[String]) -> String {
    if unknown.is_empty() {
        String::new()
    } else {
        format!(
            "\n  other connections (not registered instances, not waited for):\n    {}",
            unknown.join("\n    ")
        )
    }
}

fn sample_text(sample: &[String]) -> String {
    match sample {
        [] => String::new(),
        [one] => format!(": {one}"),
        many => format!(", e.g. {}", many.join("; ")),
    }
}

/// Query parameters and DSN keys that carry a secret.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "sslpassword",
    "secret",
    "token",
    "auth_token",
    "sslkey",
];

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str())
}

/// A database URL safe to print: the password of `scheme://user:secret@host/db` and every
/// secret query parameter (`?password=…`, `sslpassword`, `token`, …) replaced by `****`;
/// a libpq key-value DSN (`host=db password=secret`) likewise. Parsed with the `url`
/// crate, not by cutting strings: `@`, `:` and `/` in a password cannot confuse it.
pub fn mask_url(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url)
        && url.contains("://")
    {
        if parsed.password().is_some() {
            let _ = parsed.set_password(Some("****"));
        }
        if parsed.query().is_some() {
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_secret(&k) {
                        "****".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            parsed.query_pairs_mut().clear().extend_pairs(pairs);
        }
        return parsed.to_string().replace("%2A%2A%2A%2A", "****");
    }
    if url.contains('=') && !url.contains("://") {
        return mask_key_values(url);
    }
    url.to_string()
}

/// `host=db password='a b' user=x` → `host=db password=**** user=x`.
fn mask_key_values(dsn: &str) -> String {
    let mut out = String::new();
    let mut rest = dsn;
    while let Some(eq) = rest.find('=') {
        let (key_part, after) = rest.split_at(eq);
        let key = key_part.rsplit(char::is_whitespace).next().unwrap_or_default();
        out.push_str(key_part);
        out.push('=');
        let after = &after[1..];
        // The value: quoted (with \' escapes) or up to the next whitespace.
        let end = if let Some(quoted) = after.strip_prefix('\'') {
            let mut i = 0;
            let bytes = quoted.as_bytes();
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            (i + 2).min(after.len())
        } else {
            after.find(char::is_whitespace).unwrap_or(after.len())
        };
        if is_secret(key) {
            out.push_str("****");
        } else {
            out.push_str(&after[..end]);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_url;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:****@h:5432/db"
        );
        assert_eq!(mask_url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(mask_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(
            mask_url("sqlite:///tmp/x.db?mode=rwc"),
            "sqlite:///tmp/x.db?mode=rwc"
        );
    }

    #[test]
    fn secrets_anywhere_in_the_url_are_masked() {
        for (url, secret) in [
            ("postgres://u@h/db?password=hunter2&sslmode=require", "hunter2"),
            ("postgres://u@h/db?sslmode=require&SSLPASSWORD=hunter2", "hunter2"),
            ("mysql://root:p%40ss%3Aw0rd@h:3306/db", "p%40ss"),
            ("mysql://root:p%40ss@h/db?password=other", "other"),
            ("postgres://u:a@b@h/db", "a@b"),
        ] {
            let masked = mask_url(url);
            assert!(!masked.contains(secret), "{url} → {masked}");
            assert!(masked.contains("****"), "{url} → {masked}");
        }
        assert_eq!(
            mask_url("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=****&sslmode=require"
        );
    }

    #[test]
    fn key_value_dsns_are_masked() {
        assert_eq!(
            mask_url("host=db port=5432 password=hunter2 user=app"),
            "host=db port=5432 password=**** user=app"
        );
        assert_eq!(
            mask_url("host=db password='it\\'s secret' dbname=x"),
            "host=db password=**** dbname=x"
        );
    }
}
