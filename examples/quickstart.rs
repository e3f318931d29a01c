//! Straddle quickstart, on embedded SQLite (no server needed):
//!
//!     cargo run --example quickstart
//!
//! A `users` table exists with rows written by the previous release. This release adds
//! `email_normalized TEXT NOT NULL`, filled from `lower(email)`. The example prints the
//! phased plan, then applies expand → backfill → contract one at a time, and at each
//! step shows the generated query code reading and writing correctly — while "old" code
//! that knows nothing of the new column keeps inserting rows too.

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use straddle::{ApplyOptions, Db, Direction, Model, Phase};

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

/// What the previous release does: it knows nothing of `email_normalized`.
async fn old_app_insert(db: &Db<sqlx::Sqlite>, id: i64, email: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO users (id, email) VALUES (?, ?)")
        .bind(id)
        .bind(email)
        .execute(db.pool())
        .await?;
    Ok(())
}

async fn show(db: &Db<sqlx::Sqlite>, title: &str) -> Result<(), Box<dyn std::error::Error>> {
    db.refresh().await?;
    println!("\n== {title}");
    println!("   shape:  {:?}", db.shape::<User>()?.0);
    println!("   select: {}", db.select_sql::<User>()?);
    for u in db.fetch_all::<User>().await? {
        println!("   {:>2}  {:<22} {}", u.id, u.email, u.email_normalized);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = SqliteConnectOptions::new().in_memory(true);
    // One connection: an in-memory SQLite database lives as long as its connection.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::query("CREATE TABLE users (id INTEGER NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id))")
        .execute(&pool)
        .await?;
    let db = Db::new(pool).await?;
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
                    &change.column,
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

    show(&db, "before expand: the column does not exist; reads compute it").await?;
    db.insert(&User {
        id: 4,
        email: "Alan@Bletchley.UK".into(),
        email_normalized: "alan@bletchley.uk".into(),
    })
    .await?;
    show(
        &db,
        "new code inserted row 4 (the column is absent, so it was not written)",
    )
    .await?;

    let mut conn = db.pool().acquire().await?;
    let opts = ApplyOptions {
        batch_size: 2,
        ..ApplyOptions::default()
    };
    let report = straddle::apply_phase::<sqlx::Sqlite>(
        &mut conn,
        User::definition(),
        "email_normalized",
        Phase::Expand,
        Direction::Up,
        &opts,
    )
    .await?;
    drop(conn);
    println!("\napplied expand: {:?}", report.applied);
    old_app_insert(&db, 5, "Barbara@MIT.EDU").await?;
    db.insert(&User {
        id: 6,
        email: "Edsger@TUE.NL".into(),
        email_normalized: "edsger@tue.nl".into(),
    })
    .await?;
    show(&db, "after expand: old rows NULL (read through COALESCE), old app's row 5 filled by the trigger, new app's row 6 dual-written").await?;

    let mut conn = db.pool().acquire().await?;
    let report = straddle::apply_phase::<sqlx::Sqlite>(
        &mut conn,
        User::definition(),
        "email_normalized",
        Phase::Backfill,
        Direction::Up,
        &opts,
    )
    .await?;
    drop(conn);
    println!(
        "\nbackfilled {} rows in batches of {}",
        report.rows_backfilled, opts.batch_size
    );
    show(&db, "after backfill").await?;

    let mut conn = db.pool().acquire().await?;
    let report = straddle::apply_phase::<sqlx::Sqlite>(
        &mut conn,
        User::definition(),
        "email_normalized",
        Phase::Contract,
        Direction::Up,
        &opts,
    )
    .await?;
    drop(conn);
    println!("\napplied contract: {:?}", report.applied);
    let mut u = db.find::<User, _>(2_i64).await?.expect("row 2");
    u.email_normalized = "grace.hopper@navy.mil".into();
    db.update(&u).await?;
    show(
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
    Ok(())
}
