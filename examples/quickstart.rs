//! Straddle quickstart, on embedded SQLite (no server needed):
//!
//!     cargo run --example quickstart
//!
//! A `users` table exists with rows written by the previous release. This release adds
//! `email_normalized TEXT NOT NULL`, filled from `lower(email)`. The example prints the
//! phased plan, then has the runner apply expand → backfill → contract one at a time,
//! and at each step shows the generated query code reading and writing correctly —
//! while "old" code that knows nothing of the new column keeps inserting rows too. Before
//! contract, the runner refuses while this release (its code declares backfill) runs;
//! the next release, whose code declares contract, replaces it, and contract runs.

use sqlx::sqlite::SqlitePoolOptions;
use straddle::{BackfillOptions, Db, Direction, Model, Phase, ProgressMode, Runner, RunnerOptions};

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
        format!("{:>2}  {:<22} {}", self.id, self.email, self.email_normalized)
    }
}

impl Line for UserNext {
    fn line(&self) -> String {
        format!("{:>2}  {:<22} {}", self.id, self.email, self.email_normalized)
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

async fn show<M>(db: &Db<sqlx::Sqlite>, title: &str) -> Result<(), Box<dyn std::error::Error>>
where
    M: Model + Line + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    db.refresh().await?;
    println!("\n== {title}");
    println!("   shape:  {:?}", db.shape::<M>()?.columns);
    println!("   select: {}", db.select_sql::<M>()?);
    for u in db.fetch_all::<M>().await? {
        println!("   {}", u.line());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("quickstart.db").display());
    let pool = SqlitePoolOptions::new().max_connections(2).connect(&url).await?;
    sqlx::query("CREATE TABLE users (id INTEGER NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id))")
        .execute(&pool)
        .await?;
    // This release's code: it registers in the fleet registry (with what it declares).
    let db = Db::builder(pool.clone())
        .model::<User>()
        .application("quickstart")
        .build()
        .await?;
    for (id, email) in [
        (1, "Ada@Example.COM"),
        (2, "Grace@Navy.MIL"),
        (3, "Linus@Kernel.ORG"),
    ] {
        old_app_insert(&db, id, email).await?;
    }

    println!("The plan for {} (SQLite):", User::definition().table);
    for change in User::plan() {
        println!(
            "\n# {}: {} — code declares phase `{}`",
            change.id, change.summary, change.declared_phase
        );
        for phase in Phase::ALL {
            for direction in [Direction::Up, Direction::Down] {
                let steps = straddle::phase_steps(
                    User::definition(),
                    change.subject.name(),
                    phase,
                    direction,
                    straddle::Dialect::Sqlite,
                )?;
                println!(
                    "\n## {phase} {}{}",
                    direction.key(),
                    if steps.is_empty() { ": nothing to do" } else { "" }
                );
                for step in steps {
                    print!("{step}");
                }
            }
        }
    }

    show::<User>(&db, "before expand: the column does not exist; reads compute it").await?;
    db.insert(&User {
        id: 4,
        email: "Alan@Bletchley.UK".into(),
        email_normalized: "alan@bletchley.uk".into(),
    })
    .await?;
    show::<User>(
        &db,
        "new code inserted row 4 (the column is absent, so it was not written)",
    )
    .await?;

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
    println!("\napplied expand: {:?}", runs[0].report.applied);
    old_app_insert(&db, 5, "Barbara@MIT.EDU").await?;
    db.insert(&User {
        id: 6,
        email: "Edsger@TUE.NL".into(),
        email_normalized: "edsger@tue.nl".into(),
    })
    .await?;
    show::<User>(
        &db,
        "after expand: old rows NULL (read through COALESCE), old app's row 5 filled by the trigger, new app's row 6 dual-written",
    )
    .await?;

    let runs = runner.up(Some(Phase::Backfill), None).await?;
    let filled = runs.iter().map(|r| r.report.rows_backfilled).sum::<u64>();
    println!("\nbackfilled {filled} rows in batches of 2");
    show::<User>(&db, "after backfill").await?;
    for v in runner.verify(None).await? {
        println!("\nverify {}: {} rows violate NOT NULL", v.change, v.violations);
    }

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
        let first = e.to_string();
        println!(
            "\ncontract while this release runs: {}",
            first.lines().take(2).collect::<Vec<_>>().join("\n  ")
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
    println!("\napplied contract: {:?}", runs[0].report.applied);
    let mut u = db.find::<UserNext, _>(2_i64).await?.expect("row 2");
    u.email_normalized = "grace.hopper@navy.mil".into();
    db.update(&u).await?;
    show::<UserNext>(
        &db,
        "after contract: the plain column, NOT NULL enforced; row 2 updated by new code",
    )
    .await?;

    let notnull: i64 = sqlx::query_scalar(
        "SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'email_normalized'",
    )
    .fetch_one(db.pool())
    .await?;
    println!("\ncatalog: users.email_normalized NOT NULL = {}", notnull == 1);
    println!("\nledger of users.email_normalized:");
    for row in runner.ledger("users.email_normalized").await? {
        let step = if row.step.is_empty() {
            "(phase completed)"
        } else {
            &row.step
        };
        println!(
            "  {:<8} {:<4} {:<36} {:<9} rows {}",
            row.phase, row.direction, step, row.status, row.rows_touched
        );
    }
    let again = runner.up(Some(Phase::Contract), None).await?;
    println!("\nrunning contract again: {}", again[0].outcome);
    runner.close().await?;
    db.close().await;
    Ok(())
}
