//! Errors the runtime reports.

use straddle_core::{Dialect, Phase};

#[derive(Debug, thiserror::Error)]
/// Everything the runtime can report, each with what to do about it.
pub enum Error {
    /// The database could not be reached; `url` has its password masked.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, its secrets masked.
        url: String,
        /// Why.
        source: sqlx::Error,
    },

    /// A Galera node that cannot take statements now: outside the Primary component (the
    /// cluster lost quorum, or this node was cut off) or not yet Synced after joining.
    #[error(
        "{url} is a Galera node that cannot take statements now: {why} — it takes them again once it is back in \
         the Primary component and Synced"
    )]
    NodeNotReady {
        /// The node's URL, its secrets masked.
        url: String,
        /// Its state, in words.
        why: String,
    },

    /// Before a DDL step on a Galera cluster, a node was not fit for it (unreachable, not
    /// Synced, gone since the run started, or with another schema of the table): the DDL
    /// replicates to every node at once, so it waits for all of them.
    #[error(
        "{change} {phase} step `{step}` refused before it ran: the Galera cluster is not ready for DDL: {}; nothing \
         was changed — run again once every node is back, Synced, with the same schema",
        .problems.join("; ")
    )]
    ClusterNotReady {
        /// The change.
        change: String,
        /// The phase.
        phase: Phase,
        /// The step.
        step: String,
        /// What is wrong, node by node.
        problems: Vec<String>,
    },

    /// A DDL step that reads every row would stall a Galera cluster's writes longer than
    /// allowed: under total order isolation it runs on every node at once.
    #[error(transparent)]
    ClusterStall(Box<ClusterStall>),

    /// A backfill was held by its pacing signals (standby lag, load), or a step waited
    /// for standbys to replay it, longer than it may wait. What is done stays done;
    /// running again resumes.
    #[error(
        "{what} was held for {waited:.0?}, longer than it may wait (--throttle-give-up): {why} — what is done stays \
         done; run again to resume"
    )]
    Throttled {
        /// What was held (the backfill of a column, a step).
        what: String,
        /// How long it waited.
        waited: std::time::Duration,
        /// The signals that held it.
        why: String,
    },

    /// A step that takes an `ACCESS EXCLUSIVE` lock would stall a standby's reads of its
    /// table: sessions there hold locks on it, and did not end within the lock timeout.
    #[error(
        "{change} {phase} step `{step}` refused before it ran: it takes an ACCESS EXCLUSIVE lock on {table}, which the \
         standby {standby} replays only once these sessions end, every read of {table} there waiting behind it \
         meanwhile (up to max_standby_streaming_delay): {}; run again once they end",
        .sessions.join("; ")
    )]
    StandbyReaders {
        /// The change.
        change: String,
        /// The phase.
        phase: Phase,
        /// The step.
        step: String,
        /// The table.
        table: String,
        /// The standby, its URL masked.
        standby: String,
        /// The sessions holding locks there.
        sessions: Vec<String>,
    },

    /// One of several databases a run drives failed: which, and why.
    #[error("{target}: {source}")]
    Target {
        /// The database's name.
        target: String,
        /// What happened there.
        source: Box<Error>,
    },

    /// A statement failed: the server's message and code, with a hint where one helps —
    /// not the driver's wrapping (nor the server's own source line).
    #[error("{}", describe_sql(.0))]
    Sql(#[from] sqlx::Error),

    /// A plan's assertion found rows it must not (e.g. NULLs left before contract).
    #[error(
        "{change} {phase} step `{step}` refused: {message} ({count} {}{})",
        offending(*.count, .message),
        sample_text(.sample)
    )]
    Refused {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// What the assertion found, in words.
        message: String,
        /// How many rows offend.
        count: i64,
        /// Keys of some of them.
        sample: Vec<String>,
    },

    /// A backfill's expression failed for one row (found by narrowing the failing batch
    /// down to it). The rows before it are filled; the run resumes there.
    #[error(
        "the backfill of {table}.{column} stops at the row with key {key}: {cause} — the rows before it are \
         filled; fix that row (or the expression) and run again to resume"
    )]
    BackfillRow {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The row's key.
        key: String,
        /// The database's error for that row.
        cause: String,
    },

    /// An object a step creates or drops is in the way, or not what the plan expects:
    /// refused before the phase changed anything.
    #[error(
        "{change} {phase} step `{step}` refused before anything changed: {}",
        .problems.join("; ")
    )]
    Conflict {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// Each difference, in words.
        problems: Vec<String>,
    },

    /// A step ran but the catalog does not show what it should have done.
    #[error(
        "{change} {phase} step `{step}` ran but the catalog does not show what it does: expected it to {}",
        .problems.join("; ")
    )]
    NotAsPlanned {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// Each difference, in words.
        problems: Vec<String>,
    },

    /// The ledger says a phase is applied, but its rows or the catalog say otherwise.
    #[error(
        "the ledger says {change} is applied through {phase}, but {}: refused — the ledger and the database \
         disagree (inspect with `straddle ledger {change}`)",
        .problems.join("; ")
    )]
    LedgerDisagrees {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// Each difference, in words.
        problems: Vec<String>,
    },

    /// A rollout run out of order: an older one of an object under a newer one, or a new
    /// one before the previous one completed in this database.
    #[error("{change}: {message}")]
    RolloutOrder {
        /// The change (`table.column~2`, …).
        change: String,
        /// What is out of order and what to do, in words.
        message: String,
    },

    /// A DDL step's lock was not granted within the lock timeout on any attempt: each
    /// attempt gave up (the application did not wait on it) and nothing of the step was
    /// applied.
    #[error(
        "{change} {phase} step `{step}`: its lock on {table} was not granted within {lock_timeout:?} in {attempts} \
         attempts, so nothing of it was applied ({cause}). A session holds a conflicting lock on the table — a \
         long transaction or query (PostgreSQL: pg_stat_activity and pg_locks; MySQL/MariaDB: SHOW PROCESSLIST). \
         Run again once it has ended, or give the step more time (--lock-timeout-ms, --ddl-attempts)"
    )]
    LockNotGranted {
        /// The change.
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// The table the step locks, quoted for reading (`users`).
        table: String,
        /// The lock timeout of each attempt.
        lock_timeout: std::time::Duration,
        /// Attempts made.
        attempts: u32,
        /// The server's message for the last attempt.
        cause: String,
    },

    /// An applied step's SQL changed since it ran.
    #[error(
        "{change} {phase} step `{step}` was applied with checksum {recorded} but now renders as {current}: \
         released migrations must not change (revert the edit, or roll the change back with `down` first)"
    )]
    ChecksumMismatch {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// The checksum the ledger recorded.
        recorded: String,
        /// The checksum the step renders now.
        current: String,
    },

    /// The binary's embedded migrations do not have, or do not match, a phase to apply.
    #[error("{change} {phase} {direction}: {problem}")]
    NotReviewed {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// `up` or `down`.
        direction: &'static str,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// Another runner holds the lock.
    #[error(
        "another straddle runner is applying migrations on {url}{} (waited {} s); try again when it is done",
        .holder.as_ref().map(|h| format!(": {h}")).unwrap_or_default(),
        .waited.as_secs_f64().round()
    )]
    Busy {
        /// The database URL, its secrets masked.
        url: String,
        /// How long the runner waited.
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
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The step, by name.
        step: String,
        /// The schema generation the laggards have not read.
        generation: i64,
        /// The instances that did not acknowledge it, described.
        laggards: Vec<String>,
        /// How long the runner waited.
        waited: std::time::Duration,
    },

    /// A phase beyond the one the compiled code declares.
    #[error(
        "{change}: the code declares {declared}, so {phase} would run ahead of it — the code that runs during \
         {phase} must declare it (ship that release first, then run this); pass --ahead-of-code to do it anyway"
    )]
    AheadOfCode {
        /// The change (`table.column`, or the table, index, constraint).
        change: String,
        /// The phase.
        phase: Phase,
        /// The phase the compiled code declares.
        declared: Phase,
    },

    /// The database user lacks a privilege Straddle needs.
    #[error("{0}")]
    Privilege(String),

    /// A model is not compiled for the database's dialect.
    #[error("model `{model}` is not compiled for {dialect}: enable the `{}` feature or add it to `dialects(...)`", dialect.key())]
    DialectNotCompiled {
        /// The model.
        model: String,
        /// The database's dialect.
        dialect: Dialect,
    },

    /// A column named as a change has none.
    #[error("model `{model}` has no change on column `{column}`")]
    UnknownChange {
        /// The model.
        model: String,
        /// The column named.
        column: String,
    },

    #[error("{0}")]
    /// The command or its arguments cannot be carried out as given.
    Usage(String),

    /// A stop was requested (Ctrl-C): the run stopped at a safe point.
    #[error(
        "stopped {at} (Ctrl-C): what was done stays done — a backfill keeps its checkpoint — and running again \
         resumes here"
    )]
    Stopped {
        /// Where the run stopped.
        at: String,
    },

    /// `generate`/`check`: the lock or the migrations folder cannot be read or written,
    /// or a released file would change.
    #[error(transparent)]
    Project(#[from] crate::generate::GenerateError),

    /// The live schema is not what a step needs (e.g. a column a rebuild changes is gone).
    #[error("the database schema does not allow this step: {0}")]
    Schema(String),
}

/// The runtime's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is: the command line's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Something failed while running (a statement, a backfill row, the catalog after a
    /// step): exit code 1.
    Failed,
    /// The command or its arguments cannot be carried out as given: exit code 2.
    Usage,
    /// A safety gate refused before changing anything (rows that violate, an object in the
    /// way, the ledger, unreviewed SQL, the fleet, a phase ahead of the code): exit code 3.
    Refused,
    /// Another runner holds the lock: exit code 4 — try again later.
    Busy,
    /// The database cannot be reached: exit code 5.
    Connection,
    /// Stopped on request (Ctrl-C) at a safe point: exit code 130, as for SIGINT.
    Stopped,
}

impl ErrorKind {
    /// The process exit code the command line uses for it.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Failed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Refused => 3,
            ErrorKind::Busy => 4,
            ErrorKind::Connection => 5,
            ErrorKind::Stopped => 130,
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use crate::generate::GenerateError;
        match self {
            Error::Target { source, .. } => source.kind(),
            Error::Connect { .. } | Error::NodeNotReady { .. } => ErrorKind::Connection,
            Error::Throttled { .. } => ErrorKind::Failed,
            Error::StandbyReaders { .. } | Error::ClusterNotReady { .. } | Error::ClusterStall(_) => {
                ErrorKind::Refused
            }
            Error::Sql(e) if connection_lost(e) => ErrorKind::Connection,
            Error::Busy { .. } => ErrorKind::Busy,
            Error::Stopped { .. } => ErrorKind::Stopped,
            Error::Refused { .. }
            | Error::Conflict { .. }
            | Error::LedgerDisagrees { .. }
            | Error::ChecksumMismatch { .. }
            | Error::RolloutOrder { .. }
            | Error::NotReviewed { .. }
            | Error::FleetNotReady(_)
            | Error::FleetLagging { .. }
            | Error::AheadOfCode { .. }
            | Error::Schema(_)
            | Error::Project(GenerateError::Released { .. }) => ErrorKind::Refused,
            Error::Usage(_)
            | Error::UnknownChange { .. }
            | Error::DialectNotCompiled { .. }
            | Error::Project(GenerateError::Lock(_)) => ErrorKind::Usage,
            Error::Sql(_)
            | Error::LockNotGranted { .. }
            | Error::BackfillRow { .. }
            | Error::NotAsPlanned { .. }
            | Error::Privilege(_)
            | Error::Project(GenerateError::Io { .. }) => ErrorKind::Failed,
        }
    }
}

/// A database error as a person reads it: the server's message, its code, and a hint for
/// the errors people meet when they point Straddle at a database.
pub fn describe_sql(e: &sqlx::Error) -> String {
    let sqlx::Error::Database(db) = e else {
        return e.to_string();
    };
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let message = db.message();
    let hint = match code.as_str() {
        // PostgreSQL undefined_table / MySQL ER_NO_SUCH_TABLE; SQLite says it in words.
        "42P01" | "1146" => {
            Some("the table is not in this database: is the URL the right database (and schema)?")
        }
        _ if message.starts_with("no such table") => {
            Some("the table is not in this database: is the URL the right database file?")
        }
        "42501" | "1142" | "1044" | "1045" => Some(
            "the database user lacks a privilege: the runner needs to create, alter and drop objects on the \
             tables it changes, and to create its ledger tables",
        ),
        "55P03" | "1205" => {
            Some("a lock was not granted in time: another transaction holds the table; run again")
        }
        "57014" => Some("the statement was cancelled (a statement_timeout or an administrator)"),
        "53100" | "1114" => Some("the server is out of disk space"),
        _ => None,
    };
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    };
    match hint {
        Some(h) => format!("the database refused a statement: {message}{code}\n  hint: {h}"),
        None => format!("the database refused a statement: {message}{code}"),
    }
}

/// An error that says the connection is gone or cannot be had, rather than a statement
/// failing.
fn connection_lost(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    )
}

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
    /// The change (`table.column`, or the table, index, constraint).
    pub change: String,
    /// The phase.
    pub phase: Phase,
    /// `up` or `down`.
    pub direction: &'static str,
    /// Why the phase needs the fleet ready.
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

/// What a refusal counted: rows, or — for a unique index that cannot be built — values
/// that repeat (its sample shows the values, not keys).
fn offending(count: i64, message: &str) -> &'static str {
    match (message.contains("cannot be built: values of"), count == 1) {
        (true, true) => "repeated value",
        (true, false) => "repeated values",
        (false, true) => "offending row",
        (false, false) => "offending rows",
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

/// What [`Error::ClusterStall`] refused: the step, its table and the estimate.
#[derive(Debug, thiserror::Error)]
#[error(
    "{change} {phase} step `{step}` refused before it ran: on a Galera cluster its DDL runs on every node at once and \
     reads every row of {table} ({} MB of data and indexes), about {estimate:.1?} during which every write on every \
     node waits — longer than --max-cluster-stall {limit:?}; run it at a quiet time with a larger \
     --max-cluster-stall (or `off`), {node_by_node}",
    .bytes / 1_000_000
)]
pub struct ClusterStall {
    /// The change.
    pub change: String,
    /// The phase.
    pub phase: Phase,
    /// The step.
    pub step: String,
    /// The table.
    pub table: String,
    /// Its data and indexes, in bytes.
    pub bytes: i64,
    /// The estimated stall.
    pub estimate: std::time::Duration,
    /// The limit.
    pub limit: std::time::Duration,
    /// Whether it can run one node at a time instead, in words.
    pub node_by_node: String,
}
