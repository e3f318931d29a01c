//! The `straddle` command line, for a migrator binary of your own that knows your models:
//!
//! ```text
//! // src/bin/straddle.rs (or cargo-straddle.rs, to run it as `cargo straddle`)
//! fn main() -> std::process::ExitCode {
//!     straddle::cli::main(&[User::definition(), Order::definition()])
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

#[derive(Parser, Debug)]
#[command(
    name = "straddle",
    version,
    about = "Apply zero-downtime schema changes phase by phase"
)]
struct Cli {
    /// Database URL (postgres://…, mysql://…, sqlite://…).
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// How long a DDL statement may wait for its table lock, in milliseconds.
    #[arg(long, global = true, default_value_t = 2000)]
    lock_timeout_ms: u64,
    /// Attempts per DDL step when its lock is not granted in time.
    #[arg(long, global = true, default_value_t = 10)]
    ddl_attempts: u32,
    /// How long to wait for another runner to finish, in seconds.
    #[arg(long, global = true, default_value_t = 60)]
    wait_for_runner_secs: u64,
    /// How long to wait for the database to accept connections again when the connection
    /// breaks mid-run (a server restarting), in seconds.
    #[arg(long, global = true, default_value_t = 60)]
    reconnect_within_secs: u64,
    /// No progress bar or progress lines.
    #[arg(long, global = true)]
    quiet: bool,
    /// When live application instances run code a phase would break (contract while the
    /// previous release runs; down while code of a later phase runs): wait this long for
    /// them to be replaced or gone, with progress, before refusing (`600`, `90s`, `10m`).
    #[arg(long, global = true, default_value = "0", value_name = "DURATION", value_parser = duration_arg)]
    wait_for_fleet: Duration,
    /// Apply the phase although live instances run code it would break (recorded in the
    /// ledger, with who they were).
    #[arg(long, global = true)]
    ignore_fleet: bool,
    /// How long a step waits for every live instance to acknowledge that it re-read the
    /// schema.
    #[arg(long, global = true, default_value = "30s", value_name = "DURATION", value_parser = duration_arg)]
    refresh_within: Duration,
    /// Apply a phase beyond the one the compiled models declare.
    #[arg(long, global = true)]
    ahead_of_code: bool,
    #[command(subcommand)]
    command: Command,
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
    /// The lock file.
    #[arg(long, default_value = "straddle.lock")]
    lock: std::path::PathBuf,
    /// The migrations folder.
    #[arg(long, default_value = "migrations")]
    migrations: std::path::PathBuf,
}

impl PathArgs {
    fn project(&self) -> crate::generate::Project {
        crate::generate::Project {
            lock: self.lock.clone(),
            migrations: self.migrations.clone(),
        }
    }
}

#[derive(Args, Debug, Default)]
struct PacingArgs {
    /// Target duration of one backfill batch, in milliseconds (the batch size adapts).
    #[arg(long)]
    batch_time_ms: Option<u64>,
    /// Fixed backfill batch size (no adaptation).
    #[arg(long)]
    batch_size: Option<u64>,
    /// Upper bound on rows filled per second.
    #[arg(long)]
    max_rows_per_sec: Option<u64>,
    /// Pause between backfill batches, in milliseconds.
    #[arg(long)]
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

/// Run the CLI over `models`, applying only the reviewed migrations embedded with
/// [`crate::migrations!`].
pub fn main_with_migrations(models: &[&'static Model], migrations: crate::Migrations) -> ExitCode {
    run(models, Some(migrations), process_args())
}

/// Run the CLI over `models` with the process arguments.
pub fn main(models: &[&'static Model]) -> ExitCode {
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

/// Run the CLI over `models` with the given arguments (the first is the program name).
pub fn run_with_args(models: &[&'static Model], args: Vec<String>) -> ExitCode {
    run(models, None, args)
}

fn run(models: &[&'static Model], migrations: Option<crate::Migrations>, args: Vec<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(dispatch(models, migrations, &cli)) {
        Ok(code) => code,
        Err(e) => {
            if cli.json {
                out!("{}", serde_json::json!({ "error": e.to_string() }));
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
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
            let project = paths.project();
            let shipped =
                crate::generate::generate(&project, models).map_err(|e| Error::Usage(e.to_string()))?;
            if cli.json {
                out!("{}", serde_json::to_string_pretty(&shipped).expect("json"));
            } else if shipped.is_empty() {
                out!(
                    "nothing pending: {} and {} are up to date",
                    paths.lock.display(),
                    paths.migrations.display()
                );
            } else {
                for s in &shipped {
                    out!(
                        "{}  {}: written to {}",
                        s.change,
                        s.phase,
                        paths.migrations.join(&s.change).display()
                    );
                }
                out!("updated {}", paths.lock.display());
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Check { paths } => {
            let project = paths.project();
            let problems =
                crate::generate::check(&project, models).map_err(|e| Error::Usage(e.to_string()))?;
            if cli.json {
                out!(
                    "{}",
                    serde_json::json!({ "ok": problems.is_empty(), "problems": problems })
                );
            } else if problems.is_empty() {
                out!(
                    "models, {} and {} agree",
                    paths.lock.display(),
                    paths.migrations.display()
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
        let dialect = match (dialect, &cli.database_url) {
            (Some(DialectArg::Postgres), _) => Dialect::Postgres,
            (Some(DialectArg::Mysql), _) => Dialect::MySql,
            (Some(DialectArg::Sqlite), _) => Dialect::Sqlite,
            (None, Some(url)) => dialect_of(url)?,
            (None, None) => return Err(Error::Usage("give --dialect or --database-url".into())),
        };
        return plan(models, dialect, change.as_deref(), cli.json);
    }
    let url = cli
        .database_url
        .clone()
        .ok_or_else(|| Error::Usage("no database: pass --database-url or set DATABASE_URL".into()))?;
    match dialect_of(&url)? {
        #[cfg(feature = "postgres")]
        Dialect::Postgres => apply::<sqlx::Postgres>(models, migrations, cli, &url).await,
        #[cfg(feature = "mysql")]
        Dialect::MySql => apply::<sqlx::MySql>(models, migrations, cli, &url).await,
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => apply::<sqlx::Sqlite>(models, migrations, cli, &url).await,
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
    let p = pacing.map(|p| BackfillOptions {
        batch_time: p.batch_time_ms.map(Duration::from_millis),
        max_rows_per_sec: p.max_rows_per_sec,
        pause: p.pause_ms.map(Duration::from_millis),
        fixed_batch: p.batch_size,
        ..Default::default()
    });
    RunnerOptions {
        lock_timeout: Duration::from_millis(cli.lock_timeout_ms),
        ddl_attempts: cli.ddl_attempts,
        wait_for_runner: Duration::from_secs(cli.wait_for_runner_secs),
        backfill: p.unwrap_or_default(),
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
    url: &str,
) -> Result<ExitCode> {
    let (pacing, allow) = match &cli.command {
        Command::Up { pacing, .. } | Command::Backfill { pacing, .. } | Command::Contract { pacing, .. } => {
            (Some(pacing), false)
        }
        Command::Down { allow_data_loss, .. } => (None, *allow_data_loss),
        _ => (None, false),
    };
    let mut runner = Runner::<DB>::connect(
        url,
        models,
        RunnerOptions {
            migrations,
            ..options(cli, pacing, allow)
        },
    )
    .await?;
    let result = command(&mut runner, cli).await;
    let closed = runner.close().await;
    let code = result?;
    closed?;
    Ok(code)
}

async fn command<DB: Backend>(runner: &mut Runner<DB>, cli: &Cli) -> Result<ExitCode> {
    let json = cli.json;
    let runs = match &cli.command {
        Command::Plan { .. } | Command::Generate { .. } | Command::Check { .. } => {
            unreachable!("handled without a connection")
        }
        Command::Status { change } => {
            let status = runner.status(change.as_deref()).await?;
            let fleet = runner.fleet().await?;
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "changes": status, "fleet": fleet }))
                        .expect("json")
                );
            } else {
                print_status(&status, &fleet);
            }
            return Ok(if status.iter().any(|s| s.problem.is_some()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        Command::Verify { change } => {
            let checks = runner.verify(change.as_deref()).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&checks).expect("json"));
            }
            for v in checks.iter().filter(|_| !json) {
                if v.violations == 0 {
                    out!("{}: 0 rows violate NOT NULL", v.change);
                } else {
                    out!(
                        "{}: {} rows violate NOT NULL, e.g. keys {}",
                        v.change,
                        v.violations,
                        v.sample.join("; ")
                    );
                }
            }
            return Ok(if checks.iter().any(|v| v.violations > 0) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
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
                            "finished_at_ms": r.finished_at_ms, "applied_by": r.applied_by,
                        })
                    })
                    .collect();
                out!("{}", serde_json::to_string_pretty(&v).expect("json"));
            } else {
                for r in rows {
                    out!(
                        "{:>5}  {:<8} {:<4} {:<40} {:<9} rows {:>9}  by {}",
                        r.id,
                        r.phase,
                        r.direction,
                        if r.step.is_empty() {
                            "(phase completed)"
                        } else {
                            &r.step
                        },
                        r.status,
                        r.rows_touched,
                        r.applied_by
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Up { change, phase, .. } => runner.up(phase.map(Phase::from), change.as_deref()).await?,
        Command::Backfill { change, .. } => runner.up(Some(Phase::Backfill), change.as_deref()).await?,
        Command::Contract { change, .. } => runner.up(Some(Phase::Contract), change.as_deref()).await?,
        Command::Down { change, phase, .. } => runner.down(phase.map(Phase::from), change.as_deref()).await?,
    };
    print_runs(&runs, json);
    Ok(ExitCode::SUCCESS)
}

fn print_status(status: &[crate::ChangeStatus], fleet: &crate::FleetStatus) {
    if status.is_empty() {
        out!("no change in flight");
    }
    for s in status {
        let applied: Vec<&str> = s.applied.iter().map(|p| p.key()).collect();
        out!(
            "{}  {}\n  code declares {}; applied: {}{}{}{}{}",
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
                .map(|n| format!("; {n} rows still violate NOT NULL"))
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
                "{} rows in {} batches, {:.1}s{}",
                b.rows,
                b.batches,
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
