//! The `straddle` command line, for a migrator binary of your own that knows your models:
//!
//! ```text
//! // src/bin/straddle.rs (or cargo-straddle.rs, to run it as `cargo straddle`)
//! fn main() -> std::process::ExitCode {
//!     straddle::cli::main(&[User::definition(), Order::definition()], straddle::migrations!())
//! }
//! ```
//!
//! `status`, `plan`, `up [--phase P]`, `backfill`, `verify`, `contract`, `down`,
//! `ledger`; human output by default, `--json` for CI. The database comes from
//! `--database-url` or `DATABASE_URL` (`postgres://…`, `mysql://…`, `sqlite://…`).

// Built without any database feature, nothing can connect: the runner half is unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

mod config;

use crate::backend::Backend;
use crate::backfill::BackfillOptions;
use crate::error::{Error, Result, mask_url};
use crate::progress::ProgressMode;
use crate::runner::{ChangeRun, Runner, RunnerOptions};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;
use std::time::Duration;
use straddle_core::{Dialect, Direction, Model, Phase};

/// Write to stdout, ignoring a closed pipe (`straddle plan | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod many;

#[derive(Parser, Debug)]
#[command(
    name = "straddle",
    version,
    about = "Apply zero-downtime schema changes phase by phase"
)]
struct Cli {
    /// Database URL (postgres://…, mysql://…, sqlite://…). Given more than once, every
    /// database gets the same phases in step: each phase everywhere before the next
    /// anywhere.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Vec<String>,
    /// A file listing the databases to migrate together (shards, tenants): one
    /// `[[target]]` per database, with `name` and `url` or `url_env`.
    #[arg(long, env = "STRADDLE_TARGETS", global = true, value_name = "FILE")]
    targets: Option<std::path::PathBuf>,
    /// With several databases: how many are worked on at once.
    #[arg(long, env = "STRADDLE_PARALLEL", global = true, default_value_t = 4)]
    parallel: usize,
    /// Print machine-readable JSON instead of text.
    #[arg(long, env = "STRADDLE_JSON", global = true)]
    json: bool,
    /// How long a DDL statement may wait for its table lock, in milliseconds.
    #[arg(long, env = "STRADDLE_LOCK_TIMEOUT_MS", global = true, default_value_t = 2000)]
    lock_timeout_ms: u64,
    /// Attempts per DDL step when its lock is not granted in time.
    #[arg(long, env = "STRADDLE_DDL_ATTEMPTS", global = true, default_value_t = 10)]
    ddl_attempts: u32,
    /// How long to wait for another runner to finish, in seconds.
    #[arg(
        long,
        env = "STRADDLE_WAIT_FOR_RUNNER_SECS",
        global = true,
        default_value_t = 60
    )]
    wait_for_runner_secs: u64,
    /// How long to wait for the database to accept connections again when the connection
    /// breaks mid-run (a server restarting), in seconds.
    #[arg(
        long,
        env = "STRADDLE_RECONNECT_WITHIN_SECS",
        global = true,
        default_value_t = 60
    )]
    reconnect_within_secs: u64,
    /// Log what the runner does (and the database driver's slow statements) on stderr;
    /// `RUST_LOG` chooses finer.
    #[arg(long, short, env = "STRADDLE_VERBOSE", global = true)]
    verbose: bool,
    /// No progress bar or progress lines.
    #[arg(long, env = "STRADDLE_QUIET", global = true)]
    quiet: bool,
    /// When live application instances run code a phase would break (contract while the
    /// previous release runs; down while code of a later phase runs): wait this long for
    /// them to be replaced or gone, with progress, before refusing (`600`, `90s`, `10m`).
    #[arg(long, env = "STRADDLE_WAIT_FOR_FLEET", global = true, default_value = "0", value_name = "DURATION", value_parser = duration_arg)]
    wait_for_fleet: Duration,
    /// Apply the phase although live instances run code it would break (recorded in the
    /// ledger, with who they were). Never read from the environment: an override is typed
    /// for the run it overrides.
    #[arg(long, global = true)]
    ignore_fleet: bool,
    /// How long a step waits for every live instance to acknowledge that it re-read the
    /// schema.
    #[arg(long, env = "STRADDLE_REFRESH_WITHIN", global = true, default_value = "30s", value_name = "DURATION", value_parser = duration_arg)]
    refresh_within: Duration,
    /// Apply a phase beyond the one the compiled models declare (never read from the
    /// environment, like --ignore-fleet).
    #[arg(long, global = true)]
    ahead_of_code: bool,
    /// Backfills wait while a standby replays more than this far behind (`1.5s`, `500ms`,
    /// `off`). PostgreSQL: every standby streaming from the primary, and each
    /// --standby-url.
    #[arg(long, env = "STRADDLE_MAX_REPLICA_LAG", global = true, default_value = "1.5s", value_name = "DURATION", value_parser = limit_arg)]
    max_replica_lag: OrOff<Duration>,
    /// Backfills wait while a standby is more than this many bytes of WAL behind.
    #[arg(
        long,
        env = "STRADDLE_MAX_REPLICA_LAG_BYTES",
        global = true,
        value_name = "BYTES"
    )]
    max_replica_lag_bytes: Option<u64>,
    /// A standby (PostgreSQL) or replica (MySQL/MariaDB, also `--replica-url`) to measure
    /// directly (repeatable): its own lag — on MySQL/MariaDB from a heartbeat row the runner
    /// writes — and one that cannot be reached holds the backfill.
    #[arg(
        long,
        visible_alias = "replica-url",
        env = "STRADDLE_STANDBY_URL",
        global = true,
        value_name = "URL"
    )]
    standby_url: Vec<String>,
    /// Backfills wait while more than this many other statements run on the server
    /// (`off` to not check).
    #[arg(long, env = "STRADDLE_MAX_LOAD", global = true, default_value = "25", value_parser = load_arg)]
    max_load: OrOff<u32>,
    /// On a Galera cluster, backfills wait while the cluster spends more than this per
    /// cent of the time paused by flow control (`off` to not check; node states are
    /// checked regardless).
    #[arg(long = "max-flow-ctl", env = "STRADDLE_MAX_FLOW_CTL", global = true, default_value = "10", value_name = "PERCENT", value_parser = percent_arg)]
    max_flow_control: OrOff<u32>,
    /// On a Galera cluster, a DDL step that reads every row of its table (a rebuild, an
    /// index build) runs on every node at once and stalls every node's writes: refused
    /// when its stall, estimated from the table's size, is longer than this (`off`: any).
    #[arg(long, env = "STRADDLE_MAX_CLUSTER_STALL", global = true, default_value = "2s", value_name = "DURATION", value_parser = limit_arg)]
    max_cluster_stall: OrOff<Duration>,
    /// On a Galera cluster, run a DDL step that reads every row one node at a time
    /// (rolling schema upgrade: the others go on meanwhile), where the nodes' two schemas
    /// accept each other's writes (a non-unique index, NOT NULL on a filled column).
    #[arg(long, env = "STRADDLE_GALERA_RSU", global = true)]
    galera_rsu: bool,
    /// A backfill held longer than this by standby lag or load stops (it resumes when run
    /// again).
    #[arg(long, env = "STRADDLE_THROTTLE_GIVE_UP", global = true, default_value = "1h", value_name = "DURATION", value_parser = duration_arg)]
    throttle_give_up: Duration,
    #[command(subcommand)]
    command: Command,
}

/// A limit, or `off` (`None`).
#[derive(Clone, Copy, Debug)]
struct OrOff<T>(Option<T>);

/// A duration, or `off`.
fn limit_arg(s: &str) -> std::result::Result<OrOff<Duration>, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(OrOff(None));
    }
    duration_arg(s).map(|d| OrOff(Some(d)))
}

/// A percentage, or `off`.
fn percent_arg(s: &str) -> std::result::Result<OrOff<u32>, String> {
    match load_arg(s)? {
        OrOff(Some(n)) if n > 100 => Err(format!("`{s}` is not a percentage (0 to 100, or `off`)")),
        other => Ok(other),
    }
}

/// A count, or `off`.
fn load_arg(s: &str) -> std::result::Result<OrOff<u32>, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(OrOff(None));
    }
    s.parse::<u32>()
        .map(|n| OrOff(Some(n)))
        .map_err(|e| format!("`{s}`: {e} (a number of statements, or `off`)"))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Each change in flight (declared phase, applied phases, backfill progress, what the
    /// next phase waits for) and the application fleet. Never waits for a running
    /// migration.
    Status { change: Option<String> },
    /// Print the SQL of every phase (no database needed with --dialect).
    Plan {
        change: Option<String>,
        #[arg(long)]
        dialect: Option<DialectArg>,
    },
    /// Apply phases up to --phase (default: the phase the code declares).
    Up {
        change: Option<String>,
        #[arg(long)]
        phase: Option<PhaseArg>,
        #[command(flatten)]
        pacing: PacingArgs,
    },
    /// Apply phases through backfill.
    Backfill {
        change: Option<String>,
        #[command(flatten)]
        pacing: PacingArgs,
    },
    /// Count rows that would violate what contract enforces.
    Verify { change: Option<String> },
    /// Apply phases through contract (verifies first, refuses on violations).
    Contract {
        change: Option<String>,
        #[command(flatten)]
        pacing: PacingArgs,
    },
    /// Revert the newest applied phase.
    Down {
        change: Option<String>,
        /// The phase to revert (must be the newest applied one).
        #[arg(long)]
        phase: Option<PhaseArg>,
        /// Allow reverting expand to drop a column that holds data.
        #[arg(long)]
        allow_data_loss: bool,
    },
    /// The ledger rows of one change.
    Ledger { change: String },
    /// Accept the phases the code declares into migrations/ and straddle.lock.
    Generate {
        #[command(flatten)]
        paths: PathArgs,
    },
    /// Fail, listing the differences, when models, straddle.lock and migrations/ disagree.
    Check {
        #[command(flatten)]
        paths: PathArgs,
    },
}

#[derive(Args, Debug)]
struct PathArgs {
    /// The lock file (default: `straddle.lock` in the project root).
    #[arg(long, env = "STRADDLE_LOCK")]
    lock: Option<std::path::PathBuf>,
    /// The migrations folder (default: `migrations` in the project root).
    #[arg(long, env = "STRADDLE_MIGRATIONS")]
    migrations: Option<std::path::PathBuf>,
}

impl PathArgs {
    /// The lock and folder: as given, else under the project root — the folder
    /// `migrations!()` embedded when it is still there, else the nearest crate (a
    /// `Cargo.toml` with a `[package]`) from the current directory upwards, as cargo
    /// finds it. Never silently the current directory of a parent folder.
    fn project(&self, embedded: Option<&crate::Migrations>) -> Result<crate::generate::Project> {
        let root = match (&self.lock, &self.migrations) {
            (Some(_), Some(_)) => std::path::PathBuf::new(),
            _ => project_root(embedded)?,
        };
        let project = crate::generate::Project::at(&root);
        Ok(crate::generate::Project {
            lock: self.lock.clone().unwrap_or(project.lock),
            migrations: self.migrations.clone().unwrap_or(project.migrations),
        })
    }
}

fn project_root(embedded: Option<&crate::Migrations>) -> Result<std::path::PathBuf> {
    if let Some(folder) = embedded.and_then(|m| m.folder())
        && let Some(root) = folder.parent()
        && root.join("Cargo.toml").is_file()
    {
        return Ok(root.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::Usage(format!("cannot read the current directory: {e}")))?;
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if text.lines().any(|l| l.trim() == "[package]") {
                return Ok(dir.to_path_buf());
            }
            return Err(Error::Usage(format!(
                "{} is a workspace manifest, not a crate: run from the crate that declares the models (where \
                 straddle.lock belongs), or give --lock and --migrations",
                manifest.display()
            )));
        }
    }
    Err(Error::Usage(format!(
        "no Cargo.toml in {} or above: run from the crate that declares the models, or give --lock and \
         --migrations",
        cwd.display()
    )))
}

#[derive(Args, Debug, Default)]
struct PacingArgs {
    /// Target duration of one backfill batch, in milliseconds (the batch size adapts).
    #[arg(long, env = "STRADDLE_BATCH_TIME_MS")]
    batch_time_ms: Option<u64>,
    /// Fixed backfill batch size (no adaptation).
    #[arg(long, env = "STRADDLE_BATCH_SIZE")]
    batch_size: Option<u64>,
    /// Upper bound on rows filled per second.
    #[arg(long, env = "STRADDLE_MAX_ROWS_PER_SEC")]
    max_rows_per_sec: Option<u64>,
    /// Pause between backfill batches, in milliseconds.
    #[arg(long, env = "STRADDLE_PAUSE_MS")]
    pause_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PhaseArg {
    Expand,
    Backfill,
    Contract,
}

impl From<PhaseArg> for Phase {
    fn from(p: PhaseArg) -> Phase {
        match p {
            PhaseArg::Expand => Phase::Expand,
            PhaseArg::Backfill => Phase::Backfill,
            PhaseArg::Contract => Phase::Contract,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DialectArg {
    Postgres,
    Mysql,
    Sqlite,
}

/// Run the CLI over `models`, applying only the reviewed SQL embedded with
/// [`crate::migrations!`]: a phase whose file is missing from the binary, or says
/// something else than the models render, is refused (and `status` says why). This is
/// the entry point a migrator binary should use:
///
/// ```text
/// fn main() -> std::process::ExitCode {
///     straddle::cli::main(&[User::definition()], straddle::migrations!())
/// }
/// ```
pub fn main(models: &[&'static Model], migrations: crate::Migrations) -> ExitCode {
    run(models, Some(migrations), process_args())
}

/// Run the CLI over `models`, applying the SQL they render **without review**: no
/// `migrations/` folder is consulted. For development databases and tests; a production
/// migrator uses [`main`].
pub fn main_from_models(models: &[&'static Model]) -> ExitCode {
    run(models, None, process_args())
}

/// The process arguments; `cargo straddle …` runs `cargo-straddle straddle …`.
fn process_args() -> Vec<String> {
    let mut args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("straddle") {
        args.remove(1);
    }
    args
}

/// Run the CLI with the given arguments (the first is the program name): with
/// `migrations`, as [`main`]; without, as [`main_from_models`].
pub fn run_with_args(
    models: &[&'static Model],
    migrations: Option<crate::Migrations>,
    args: Vec<String>,
) -> ExitCode {
    run(models, migrations, args)
}

/// The command line's definition (every verb and flag), e.g. to generate shell
/// completions or documentation.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn run(models: &[&'static Model], migrations: Option<crate::Migrations>, args: Vec<String>) -> ExitCode {
    // `.env` in the current directory or above (like sqlx-cli and diesel): variables it
    // sets are defaults — the environment wins, and flags win over both.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: cannot read .env: {e}");
        return ExitCode::from(crate::ErrorKind::Usage.exit_code());
    }
    let parsed = <Cli as clap::CommandFactory>::command()
        .try_get_matches_from(args)
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m).map(|cli| (cli, m)));
    let (mut cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match config::ProjectConfig::find(migrations.as_ref()) {
        Ok(Some(config)) => {
            if let Err(e) = config.apply_to(&mut cli, &matches) {
                eprintln!("error: {e}");
                return ExitCode::from(crate::ErrorKind::Usage.exit_code());
            }
        }
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::ErrorKind::Usage.exit_code());
        }
    }
    let default_filter = if cli.verbose {
        "warn,straddle=debug,sqlx=debug"
    } else {
        "warn"
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
        )
        // Colour codes only for a terminal: a log file or CI output gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Ctrl-C stops at the next safe point (between backfill batches or steps, or while
    // waiting); a second one quits at once (what the ledger then shows as interrupted).
    rt.spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::stop::request();
            eprintln!(
                "\nstopping at the next safe point (between backfill batches or steps); Ctrl-C again to quit at once"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("quitting: a step in progress is left as interrupted in the ledger");
                std::process::exit(130);
            }
        }
    });
    match rt.block_on(dispatch(models, migrations, &cli)) {
        Ok(code) => code,
        Err(e) => {
            let kind = e.kind();
            if cli.json {
                out!("{}", serde_json::json!({ "error": e.to_string(), "kind": kind }));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(kind.exit_code())
        }
    }
}

/// Changes in flight on models compiled into this binary that the migrator was not
/// given (a change another listed struct carries too is covered): they are neither
/// applied nor shown. Said, not refused — a binary may hold the models of another
/// database.
fn unlisted_note(listed: &[&'static Model], linked: &[&'static Model]) -> Option<String> {
    let covered: Vec<String> = listed
        .iter()
        .flat_map(|m| straddle_core::plan_model(m))
        .map(|p| p.id)
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for m in linked {
        if listed.iter().any(|l| std::ptr::eq(*l, *m)) {
            continue;
        }
        for plan in straddle_core::plan_model(m) {
            if !covered.contains(&plan.id) && !missing.iter().any(|x| x.starts_with(&format!("{} ", plan.id)))
            {
                missing.push(format!("{} ({})", plan.id, m.rust_name));
            }
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "{} on models compiled into this binary but not given to the migrator {} neither applied nor shown \
             here: {} (list the models in `straddle::cli::main`, unless they belong to another database)",
            if missing.len() == 1 { "a change" } else { "changes" },
            if missing.len() == 1 { "is" } else { "are" },
            missing.join(", "),
        )
    })
}

/// The files `generate` wrote, a line per phase folder: one file by its path, a
/// phase's files by their folder and names (`…/1-expand/{mysql,postgres,sqlite}/{down,up}.sql`).
fn written_lines(written: &[std::path::PathBuf]) -> Vec<String> {
    let mut groups: Vec<(std::path::PathBuf, Vec<(String, String)>)> = Vec::new();
    for path in written {
        let (Some(dialect_dir), Some(file)) = (path.parent(), path.file_name()) else {
            continue;
        };
        let (Some(phase_dir), Some(dialect)) = (dialect_dir.parent(), dialect_dir.file_name()) else {
            continue;
        };
        let entry = (
            dialect.to_string_lossy().into_owned(),
            file.to_string_lossy().into_owned(),
        );
        match groups.iter_mut().find(|(d, _)| d == phase_dir) {
            Some((_, files)) => files.push(entry),
            None => groups.push((phase_dir.to_path_buf(), vec![entry])),
        }
    }
    groups
        .into_iter()
        .map(|(dir, mut files)| {
            files.sort();
            if let [(dialect, file)] = files.as_slice() {
                return shown(&dir.join(dialect).join(file));
            }
            let mut dialects: Vec<&str> = files.iter().map(|(d, _)| d.as_str()).collect();
            let mut names: Vec<&str> = files.iter().map(|(_, f)| f.as_str()).collect();
            dialects.dedup();
            names.sort();
            names.dedup();
            let brace = |v: &[&str]| {
                if v.len() == 1 {
                    v[0].to_string()
                } else {
                    format!("{{{}}}", v.join(","))
                }
            };
            if dialects.len() * names.len() == files.len() {
                format!("{}/{}/{}", shown(&dir), brace(&dialects), brace(&names))
            } else {
                let each: Vec<String> = files.iter().map(|(d, f)| format!("{d}/{f}")).collect();
                format!("{}/: {}", shown(&dir), each.join(", "))
            }
        })
        .collect()
}

/// A path as the user would type it: relative to the current directory when under it.
fn shown(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

/// A duration: seconds when no unit is given (`600`), else `90s`, `10m`, `1h 30m`.
fn duration_arg(s: &str) -> std::result::Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 600, 90s, 10m)")),
    }
}

fn dialect_of(url: &str) -> Result<Dialect> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Ok(Dialect::Postgres),
        "mysql" | "mariadb" => Ok(Dialect::MySql),
        "sqlite" => Ok(Dialect::Sqlite),
        _ => Err(Error::Usage(format!(
            "cannot tell the database from {}: use a postgres://, mysql:// or sqlite:// URL",
            mask_url(url)
        ))),
    }
}

async fn dispatch(
    models: &[&'static Model],
    migrations: Option<crate::Migrations>,
    cli: &Cli,
) -> Result<ExitCode> {
    match &cli.command {
        Command::Generate { paths } => {
            let project = paths.project(migrations.as_ref())?;
            let done = crate::generate::generate(&project, models)?;
            if cli.json {
                out!("{}", serde_json::to_string_pretty(&done).expect("json"));
            } else if done.written.is_empty() && !done.lock_written {
                out!(
                    "nothing to write: {} and {} are up to date",
                    shown(&project.lock),
                    shown(&project.migrations)
                );
            } else {
                for s in &done.shipped {
                    out!("{}  {}: accepted", s.change, s.phase);
                }
                for line in written_lines(&done.written) {
                    out!("wrote {line}");
                }
                if done.lock_written {
                    out!("wrote {}", shown(&project.lock));
                }
                if !done.written.is_empty() && migrations.is_some() {
                    out!(
                        "review the SQL, commit it, and rebuild the migrator: it applies only what it embeds"
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Check { paths } => {
            let project = paths.project(migrations.as_ref())?;
            let problems = crate::generate::check(&project, models)?;
            if cli.json {
                out!(
                    "{}",
                    serde_json::json!({ "ok": problems.is_empty(), "problems": problems })
                );
            } else if problems.is_empty() {
                out!(
                    "models, {} and {} agree",
                    shown(&project.lock),
                    shown(&project.migrations)
                );
            } else {
                for p in &problems {
                    out!("{p}");
                }
            }
            return Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        _ => {}
    }
    if let Command::Plan { change, dialect } = &cli.command {
        let dialect = match (dialect, cli.database_url.first()) {
            (Some(DialectArg::Postgres), _) => Dialect::Postgres,
            (Some(DialectArg::Mysql), _) => Dialect::MySql,
            (Some(DialectArg::Sqlite), _) => Dialect::Sqlite,
            (None, Some(url)) => dialect_of(url)?,
            (None, None) => return Err(Error::Usage("give --dialect or --database-url".into())),
        };
        return plan(models, dialect, change.as_deref(), cli.json);
    }
    let targets = crate::targets::load(&cli.database_url, cli.targets.as_deref())?;
    let dialect = dialect_of(&targets[0].url)?;
    let mixed: Vec<String> = targets
        .iter()
        .filter(|t| dialect_of(&t.url).ok() != Some(dialect))
        .map(|t| format!("{} ({})", t.name, t.masked()))
        .collect();
    if !mixed.is_empty() {
        return Err(Error::Usage(format!(
            "one run migrates databases of one kind: {} is {}, but not {}",
            targets[0].name,
            dialect.key(),
            mixed.join(", ")
        )));
    }

    match dialect {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => apply::<sqlx::Postgres>(models, migrations, cli, &targets).await,
        #[cfg(feature = "mysql")]
        Dialect::MySql => apply::<sqlx::MySql>(models, migrations, cli, &targets).await,
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => apply::<sqlx::Sqlite>(models, migrations, cli, &targets).await,
        #[allow(unreachable_patterns)]
        d => {
            let _ = migrations; // used only by the compiled backends
            Err(Error::Usage(format!(
                "this binary was built without the `{}` feature of straddle",
                d.key()
            )))
        }
    }
}

fn plan(models: &[&'static Model], dialect: Dialect, only: Option<&str>, json: bool) -> Result<ExitCode> {
    if let Some(o) = only
        && !models
            .iter()
            .any(|m| straddle_core::plan_model(m).iter().any(|p| p.id == o))
    {
        return Err(Error::Usage(format!("no change `{o}` in the models")));
    }
    let (compiled, not): (Vec<&&Model>, Vec<&&Model>) = models.iter().partition(|m| m.supports(dialect));
    if compiled.is_empty() && !models.is_empty() {
        return Err(Error::Usage(format!(
            "no model is compiled for {}: nothing to plan ({} leave it out with `dialects(...)`, or the `{}` \
             feature of straddle is off)",
            dialect.key(),
            models
                .iter()
                .map(|m| m.rust_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            dialect.key()
        )));
    }
    for m in not {
        eprintln!(
            "note: model `{}` is not compiled for {} (its `dialects(...)` or the enabled features): not planned",
            m.rust_name,
            dialect.key()
        );
    }
    let mut out = Vec::new();
    for model in models.iter().filter(|m| m.supports(dialect)) {
        for plan in straddle_core::plan_model(model)
            .into_iter()
            .filter(|p| only.is_none_or(|o| o == p.id))
        {
            for phase in Phase::ALL {
                for direction in [Direction::Up, Direction::Down] {
                    let steps = straddle_core::render::render_phase(dialect, model, &plan, phase, direction);
                    out.push((plan.id.clone(), plan.summary.clone(), phase, direction, steps));
                }
            }
        }
    }
    if json {
        let v: Vec<_> = out
            .iter()
            .map(|(id, _, phase, dir, steps)| {
                serde_json::json!({
                    "change": id, "phase": phase, "direction": dir,
                    "steps": steps.iter().map(|s| serde_json::json!({
                        "name": s.name, "transactional": s.transactional, "checksum": s.checksum(), "sql": s.to_string(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        let mut last = String::new();
        for (id, summary, phase, dir, steps) in out {
            if id != last {
                out!("\n# {id}: {summary} ({dialect})");
                last = id;
            }
            out!(
                "\n## {phase} {}{}",
                dir.key(),
                if steps.is_empty() { ": nothing to do" } else { "" }
            );
            for s in steps {
                out_raw!("{s}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn options(cli: &Cli, pacing: Option<&PacingArgs>, allow_data_loss: bool) -> RunnerOptions {
    let signals = crate::SignalOptions {
        max_replica_lag: cli.max_replica_lag.0,
        max_replica_lag_bytes: cli.max_replica_lag_bytes,
        standby_urls: cli.standby_url.clone(),
        max_load: cli.max_load.0,
        max_flow_control: cli.max_flow_control.0,
        give_up_after: cli.throttle_give_up,
    };
    let p = pacing.map(|p| BackfillOptions {
        batch_time: p.batch_time_ms.map(Duration::from_millis),
        max_rows_per_sec: p.max_rows_per_sec,
        pause: p.pause_ms.map(Duration::from_millis),
        fixed_batch: p.batch_size,
        signals: signals.clone(),
        ..Default::default()
    });
    RunnerOptions {
        lock_timeout: Duration::from_millis(cli.lock_timeout_ms),
        ddl_attempts: cli.ddl_attempts,
        wait_for_runner: Duration::from_secs(cli.wait_for_runner_secs),
        backfill: p.unwrap_or(BackfillOptions {
            signals,
            ..Default::default()
        }),
        allow_data_loss,
        progress: if cli.quiet || cli.json {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
        migrations: None,
        // Looking never waits for a running migration, nor needs to write.
        read_only: matches!(
            cli.command,
            Command::Status { .. } | Command::Ledger { .. } | Command::Verify { .. }
        ),
        reconnect_within: Duration::from_secs(cli.reconnect_within_secs),
        max_cluster_stall: cli.max_cluster_stall.0,
        galera_rsu: cli.galera_rsu,
        fleet: crate::fleet::FleetOptions {
            wait_for: cli.wait_for_fleet,
            ignore: cli.ignore_fleet,
            refresh_within: cli.refresh_within,
            ahead_of_code: cli.ahead_of_code,
        },
    }
}

async fn apply<DB: Backend>(
    models: &[&'static Model],
    migrations: Option<crate::Migrations>,
    cli: &Cli,
    targets: &[crate::targets::Target],
) -> Result<ExitCode> {
    let (pacing, allow) = match &cli.command {
        Command::Up { pacing, .. } | Command::Backfill { pacing, .. } | Command::Contract { pacing, .. } => {
            (Some(pacing), false)
        }
        Command::Down { allow_data_loss, .. } => (None, *allow_data_loss),
        _ => (None, false),
    };
    let options = RunnerOptions {
        migrations,
        ..options(cli, pacing, allow)
    };
    // Said once connected: a database that cannot be reached is the first thing to say.
    let note = unlisted_note(models, &crate::linked_models()).map(|n| format!("note: {n}"));
    if targets.len() > 1 {
        return many::run::<DB>(models, options, cli, targets, note).await;
    }
    let mut runner = Runner::<DB>::connect(&targets[0].url, models, options).await?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let result = run_command(&mut runner, cli).await;
    let closed = runner.close().await;
    let code = result?;
    closed?;
    Ok(code)
}

/// The read-only commands (status, verify, ledger) on one database: with `--json`, the
/// value to print (the caller prints it, or gathers several databases' into one);
/// otherwise printed here.
async fn look<DB: Backend>(
    runner: &mut Runner<DB>,
    cli: &Cli,
) -> Result<(Option<serde_json::Value>, ExitCode)> {
    let json = cli.json;
    match &cli.command {
        Command::Status { change } => {
            let status = runner.status(change.as_deref()).await?;
            let fleet = runner.fleet().await?;
            let code = if status.iter().any(|s| s.problem.is_some()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
            if json {
                return Ok((
                    Some(serde_json::json!({ "changes": status, "fleet": fleet })),
                    code,
                ));
            }
            print_status(&status, &fleet);
            Ok((None, code))
        }
        Command::Verify { change } => {
            // Changes with nothing to count say why, rather than printing nothing.
            let (checks, unchecked) = runner.verify_explained(change.as_deref()).await?;
            let code = if checks.iter().any(|v| v.violations > 0) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
            if json {
                let skipped: Vec<_> = unchecked
                    .iter()
                    .map(|(c, why)| serde_json::json!({ "change": c, "skipped": why }))
                    .collect();
                return Ok((
                    Some(serde_json::json!({ "checked": checks, "not_checked": skipped })),
                    code,
                ));
            } else {
                for v in &checks {
                    let rows = if v.violations == 1 { "row" } else { "rows" };
                    if v.violations == 0 {
                        out!("{}: 0 rows where {}: contract can run", v.change, v.rule);
                    } else {
                        out!(
                            "{}: {} {rows} where {} (keys {}{}): contract refuses until none is left",
                            v.change,
                            v.violations,
                            v.rule,
                            v.sample.join("; "),
                            if (v.sample.len() as i64) < v.violations {
                                "; …"
                            } else {
                                ""
                            }
                        );
                    }
                }
                for (c, why) in &unchecked {
                    out!("{c}: {why}");
                }
            }
            Ok((None, code))
        }
        Command::Ledger { change } => {
            let rows = runner.ledger(change).await?;
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "phase": r.phase, "direction": r.direction, "step": r.step,
                            "checksum": r.checksum, "status": r.status, "rows_touched": r.rows_touched,
                            "started_at_ms": r.started_at_ms, "finished_at_ms": r.finished_at_ms,
                            "duration_ms": r.duration_ms, "attempts": r.attempts, "applied_by": r.applied_by,
                            "error": r.error,
                        })
                    })
                    .collect();
                return Ok((Some(serde_json::Value::Array(v)), ExitCode::SUCCESS));
            } else if rows.is_empty() {
                out!("{change}: no ledger rows: nothing of it has been applied");
            } else {
                for r in rows {
                    let at = std::time::UNIX_EPOCH + Duration::from_millis(r.started_at_ms.max(0) as u64);
                    out!(
                        "{:>5}  {}  {:<8} {:<4} {:<40} {:<10} {:>9}  rows {:>9}{}  by {}{}",
                        r.id,
                        humantime::format_rfc3339_seconds(at),
                        r.phase,
                        r.direction,
                        if r.step.is_empty() {
                            "(phase completed)"
                        } else {
                            &r.step
                        },
                        r.status,
                        format!("{:.1?}", Duration::from_millis(r.duration_ms.max(0) as u64)),
                        r.rows_touched,
                        if r.attempts > 1 {
                            format!("  attempts {}", r.attempts)
                        } else {
                            String::new()
                        },
                        r.applied_by,
                        r.error
                            .as_deref()
                            .map(|e| format!("\n       {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok((None, ExitCode::SUCCESS))
        }
        _ => unreachable!("only the read-only commands"),
    }
}

async fn run_command<DB: Backend>(runner: &mut Runner<DB>, cli: &Cli) -> Result<ExitCode> {
    let json = cli.json;
    let runs = match &cli.command {
        Command::Plan { .. } | Command::Generate { .. } | Command::Check { .. } => {
            unreachable!("handled without a connection")
        }
        Command::Status { .. } | Command::Verify { .. } | Command::Ledger { .. } => {
            let (value, code) = look(runner, cli).await?;
            if let Some(value) = value {
                out!("{}", serde_json::to_string_pretty(&value).expect("json"));
            }
            return Ok(code);
        }
        Command::Up { change, phase, .. } => runner.up(phase.map(Phase::from), change.as_deref()).await,
        Command::Backfill { change, .. } => runner.up(Some(Phase::Backfill), change.as_deref()).await,
        Command::Contract { change, .. } => runner.up(Some(Phase::Contract), change.as_deref()).await,
        Command::Down { change, phase, .. } => runner.down(phase.map(Phase::from), change.as_deref()).await,
    };
    match runs {
        Ok(runs) => {
            print_runs(&runs, json);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            // A run of several phases that stops part-way says what it did before.
            let done: Vec<ChangeRun> = runner
                .runs_so_far()
                .iter()
                .filter(|r| r.outcome == "applied")
                .cloned()
                .collect();
            if done.is_empty() {
                return Err(e);
            }
            if json {
                out!(
                    "{}",
                    serde_json::json!({ "error": e.to_string(), "kind": e.kind(), "applied": done })
                );
            } else {
                print_runs(&done, false);
                eprintln!("error: {e}");
                let list: Vec<String> = done
                    .iter()
                    .map(|r| format!("{} {} {}", r.change, r.phase, r.direction.key()))
                    .collect();
                eprintln!(
                    "stopped after {}: {} applied and {} so; run again once the cause is fixed to go on",
                    list.join(", "),
                    if done.len() == 1 { "it was" } else { "they were" },
                    if done.len() == 1 { "stays" } else { "stay" },
                );
            }
            Ok(ExitCode::from(e.kind().exit_code()))
        }
    }
}

fn print_status(status: &[crate::ChangeStatus], fleet: &crate::FleetStatus) {
    if status.is_empty() {
        out!("no change in flight");
    }
    for s in status {
        let applied: Vec<&str> = s.applied.iter().map(|p| p.key()).collect();
        out!(
            "{}  {}\n  code declares {}; applied: {}{}{}{}{}{}",
            s.change,
            s.summary,
            s.declared_phase,
            if applied.is_empty() {
                "nothing".to_string()
            } else {
                applied.join(", ")
            },
            s.interrupted
                .map(|p| format!("; {p} interrupted (re-run to resume)"))
                .unwrap_or_default(),
            s.backfilled_rows
                .map(|n| format!("; {n} rows backfilled"))
                .unwrap_or_default(),
            s.violations
                .filter(|n| *n > 0)
                .map(|n| format!(
                    "; {n} {} contract would refuse (see `straddle verify`)",
                    if n == 1 { "row" } else { "rows" }
                ))
                .unwrap_or_default(),
            s.last_failure
                .as_ref()
                .map(|f| {
                    let after = if f.contains("` refused: ") {
                        "a refused step changed nothing; running again resumes after the steps done"
                    } else {
                        "running again resumes after the steps done"
                    };
                    format!("\n  last run: {f}\n  ({after})")
                })
                .unwrap_or_default(),
            s.problem
                .as_ref()
                .map(|p| format!("\n  PROBLEM: {p}"))
                .unwrap_or_default(),
        );
        match (s.next_phase, s.waits_for.is_empty()) {
            (None, _) => {}
            (Some(next), true) => out!("  next: {next} can run now"),
            (Some(next), false) => {
                out!("  next: {next} waits for:");
                for w in &s.waits_for {
                    out!("    - {w}");
                }
            }
        }
    }
    out!(
        "\nfleet: {} live {}{}",
        fleet.live.len(),
        if fleet.live.len() == 1 {
            "instance"
        } else {
            "instances"
        },
        if fleet.expired.is_empty() {
            String::new()
        } else {
            format!(" ({} expired)", fleet.expired.len())
        }
    );
    // One line per release: the instances that run it, and what its code declares.
    let mut releases: Vec<(&str, Vec<&crate::Instance>)> = Vec::new();
    for i in &fleet.live {
        match releases.iter_mut().find(|(r, _)| *r == i.release) {
            Some((_, list)) => list.push(i),
            None => releases.push((&i.release, vec![i])),
        }
    }
    for (release, instances) in releases {
        let first = instances[0];
        let declares: Vec<String> = first
            .declares
            .iter()
            .map(|(c, p)| format!("{c} at {p}"))
            .collect();
        out!(
            "  release {release} ({}): {} {} — declares {}",
            first.application,
            instances.len(),
            if instances.len() == 1 {
                "instance"
            } else {
                "instances"
            },
            if declares.is_empty() {
                "no change in flight".to_string()
            } else {
                declares.join(", ")
            }
        );
        for i in instances {
            out!("    {}", i.describe());
        }
    }
    if !fleet.unknown.is_empty() {
        out!("  other connections (not registered instances):");
        for u in &fleet.unknown {
            out!("    {}", u.describe());
        }
    }
    if let Some(note) = &fleet.unknown_note {
        out!("  {note}");
    }
}

fn print_runs(runs: &[ChangeRun], json: bool) {
    if json {
        out!("{}", serde_json::to_string_pretty(runs).expect("json"));
        return;
    }
    if runs.is_empty() {
        out!("no change in flight");
    }
    for r in runs {
        let mut details = Vec::new();
        if !r.report.applied.is_empty() {
            details.push(format!("steps {}", r.report.applied.join(", ")));
        }
        if !r.report.skipped.is_empty() {
            details.push(format!("already done {}", r.report.skipped.join(", ")));
        }
        if let Some(b) = &r.report.backfill {
            details.push(format!(
                "{} rows in {} {}, {:.1}s{}",
                b.rows,
                b.batches,
                if b.batches == 1 { "batch" } else { "batches" },
                b.elapsed_ms as f64 / 1000.0,
                if b.resumed_rows > 0 {
                    format!(" (resumed after {})", b.resumed_rows)
                } else {
                    String::new()
                }
            ));
        }
        if r.report.retries > 0 {
            details.push(format!("{} lock-timeout retries", r.report.retries));
        }
        out!(
            "{}  {} {}: {}{}",
            r.change,
            r.phase,
            r.direction.key(),
            r.outcome,
            if details.is_empty() {
                String::new()
            } else {
                format!(" ({})", details.join("; "))
            }
        );
    }
}
