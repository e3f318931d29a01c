//! Straddle quickstart, on embedded SQLite (no server needed):
//!
//!     cargo run --example quickstart
//!
//! A `users` table holds rows written by the previous release. This release adds
//! `email_normalized TEXT NOT NULL`, filled from `lower(email)`. The runner applies
//! expand → backfill → contract one at a time; at each step the generated code reads and
//! writes correctly — while the previous release, which knows nothing of the new column,
//! keeps inserting rows. Contract is refused while a release whose code declares backfill
//! runs, and applied once the next release (declaring contract) has replaced it. Last,
//! the same change through the command line, as you would run it in your app.

use sqlx::sqlite::SqlitePoolOptions;
use straddle::{BackfillOptions, ColumnShape, Db, Model, Phase, ProgressMode, Runner, RunnerOptions};

#[derive(Debug, straddle::Model)]
#[straddle(table = "users")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    /// Rolling out: existing rows are filled from `email`.
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    pub email_normalized: String,
}

/// The next release: the same table, its code declaring contract.
#[derive(Debug, straddle::Model)]
#[straddle(table = "users")]
pub struct UserNext {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = contract, backfill = "lower(email)"))]
    pub email_normalized: String,
}

/// A row as the example prints it.
trait Line {
    fn line(&self) -> String;
}

impl Line for User {
    fn line(&self) -> String {
        format!("{:>2}  {:<20} {}", self.id, self.email, self.email_normalized)
    }
}

impl Line for UserNext {
    fn line(&self) -> String {
        format!("{:>2}  {:<20} {}", self.id, self.email, self.email_normalized)
    }
}

/// What the previous release does: it knows nothing of `email_normalized`.
async fn old_app_insert(db: &Db<sqlx::Sqlite>, id: i64, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO users (id, email) VALUES (?, ?)")
        .bind(id)
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// How the generated code sees `email_normalized` now, and every row as it reads it.
async fn show<M>(db: &Db<sqlx::Sqlite>, title: &str) -> Result<(), Box<dyn std::error::Error>>
where
    M: Model + Line + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    db.refresh().await?;
    let shape = db.shape::<M>()?;
    let seen = match shape.columns[2] {
        ColumnShape::Absent => "not in the table: read as lower(email), not written",
        ColumnShape::Filling => {
            "in the table, being filled: read as COALESCE(email_normalized, lower(email))"
        }
        ColumnShape::Present => "a plain column",
        _ => "other",
    };
    println!("\n== {title}\n   email_normalized is {seen}");
    for u in db.fetch_all::<M>().await? {
        println!("   {}", u.line());
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    tokio::runtime::Runtime::new()?.block_on(rollout(dir.path()))?;
    // The command line runs its own runtime: outside this one.
    cli_flow(dir.path())
}

/// The rollout through the library, release by release.
async fn rollout(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("quickstart.db").display());
    let pool = SqlitePoolOptions::new().max_connections(2).connect(&url).await?;
    sqlx::query("CREATE TABLE users (id INTEGER NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id))")
        .execute(&pool)
        .await?;
    // This release's code; it registers in the fleet registry with what it declares.
    let db = Db::builder(pool.clone())
        .model::<User>()
        .application("quickstart")
        .build()
        .await?;
    for (id, email) in [(1, "Ada@Example.COM"), (2, "Grace@Navy.MIL")] {
        old_app_insert(&db, id, email).await?;
    }

    for change in User::plan() {
        println!(
            "{}: {} — this release's code declares {}",
            change.id, change.summary, change.declared_phase
        );
    }
    show::<User>(&db, "before expand").await?;

    // The runner: ledger, runner lock, lock timeouts, checkpointed backfill.
    let options = RunnerOptions {
        backfill: BackfillOptions {
            fixed_batch: Some(2),
            ..Default::default()
        },
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut runner = Runner::<sqlx::Sqlite>::connect(&url, &[User::definition()], options.clone()).await?;
    let runs = runner.up(Some(Phase::Expand), None).await?;
    println!("\nexpand applied: {}", runs[0].report.applied.join(", "));
    old_app_insert(&db, 3, "Barbara@MIT.EDU").await?;
    db.insert(&User {
        id: 4,
        email: "Edsger@TUE.NL".into(),
        email_normalized: "edsger@tue.nl".into(),
    })
    .await?;
    show::<User>(
        &db,
        "after expand: the previous release inserted row 3 (the trigger filled it), this one row 4",
    )
    .await?;

    let runs = runner.up(Some(Phase::Backfill), None).await?;
    println!(
        "\nbackfill applied: {} rows in batches of 2",
        runs[0].report.rows_backfilled
    );

    // Contract with this release still running: the runner refuses, naming it.
    runner.close().await?;
    let ahead = RunnerOptions {
        fleet: straddle::FleetOptions {
            ahead_of_code: true,
            ..Default::default()
        },
        ..options.clone()
    };
    let mut runner = Runner::<sqlx::Sqlite>::connect(&url, &[User::definition()], ahead).await?;
    if let Err(e) = runner.up(Some(Phase::Contract), None).await {
        let text = e.to_string();
        println!(
            "\ncontract while this release runs: {}",
            text.lines().take(2).collect::<Vec<_>>().join("\n  ")
        );
    }
    runner.close().await?;

    // The next release replaces this one (this instance deregisters as it stops).
    db.deregister().await;
    let db = Db::builder(pool)
        .model::<UserNext>()
        .application("quickstart")
        .build()
        .await?;
    let mut runner = Runner::<sqlx::Sqlite>::connect(&url, &[UserNext::definition()], options).await?;
    let runs = runner.up(None, None).await?;
    println!(
        "\nthe next release runs; contract applied: {}",
        runs[0].report.applied.join(", ")
    );
    show::<UserNext>(&db, "after contract: NOT NULL is enforced").await?;
    runner.close().await?;
    db.close().await;
    Ok(())
}

/// The same change in your app, through the command line: `straddle generate` accepts the
/// phases into `migrations/` (review and commit them), `straddle up` applies only what
/// was accepted, `straddle status` says where things stand. Run here in-process on a
/// fresh SQLite database; in your app the command is `straddle …` (see the README).
fn cli_flow(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let project = dir.join("app");
    std::fs::create_dir_all(&project)?;
    let url = format!("sqlite://{}?mode=rwc", project.join("app.db").display());
    tokio::runtime::Runtime::new()?.block_on(async {
        let pool = SqlitePoolOptions::new().connect(&url).await?;
        sqlx::query("CREATE TABLE users (id INTEGER NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id))")
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO users VALUES (1, 'Ada@Example.COM'), (2, 'Grace@Navy.MIL')")
            .execute(&pool)
            .await?;
        pool.close().await;
        Ok::<_, sqlx::Error>(())
    })?;

    println!("\n== in your app: build.rs runs `straddle_build::generate()`, your migrator is");
    println!("   `straddle::cli::main(&[User::definition()], straddle::migrations!())`, and then:");
    // As from your crate's folder (your app's crate root holds straddle.lock and migrations/).
    std::env::set_current_dir(&project)?;
    let migrations = project.join("migrations");
    let paths = ["--lock", "straddle.lock", "--migrations", "migrations"].map(str::to_string);
    let straddle = |args: &[&str], reviewed: Option<straddle::Migrations>| {
        println!("\n$ straddle {}", args.join(" "));
        let argv = std::iter::once("straddle".to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .chain(["--database-url".to_string(), url.clone(), "--quiet".to_string()])
            .collect();
        straddle::cli::run_with_args(&[User::definition()], reviewed, argv)
    };
    let run = |args: &[&str]| {
        let argv = std::iter::once("straddle".to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .chain(paths.iter().cloned())
            .collect();
        println!("\n$ straddle {}", args.join(" "));
        straddle::cli::run_with_args(&[User::definition()], None, argv)
    };
    run(&["generate"]);
    // What `straddle::migrations!()` embeds when your migrator is built after `generate`.
    let reviewed = straddle::Migrations::new(embed(&migrations)?);
    straddle(&["up"], Some(reviewed));
    straddle(&["status"], Some(reviewed));
    Ok(())
}

/// The files under `migrations/`, as `straddle::migrations!()` would embed them.
fn embed(folder: &std::path::Path) -> std::io::Result<&'static [(&'static str, &'static str)]> {
    let mut files = Vec::new();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let key = path
                    .strip_prefix(folder)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path)?;
                files.push((
                    &*Box::leak(key.into_boxed_str()),
                    &*Box::leak(text.into_boxed_str()),
                ));
            }
        }
    }
    Ok(Box::leak(files.into_boxed_slice()))
}
