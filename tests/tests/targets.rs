//! Many databases advanced by one run (shards, tenants), on PostgreSQL, MariaDB and
//! SQLite: a database that cannot be reached stops the run before anything changes
//! anywhere; every database finishes a phase before any starts the next; one that fails
//! stops the others at the phase boundary, `status` shows each, and running again
//! completes them all. The fleet gate of every database passes before any applies the
//! phase it guards.

use std::process::{Command, Output};
use straddle::{Model, Phase, ProgressMode, RunnerOptions, targets};
use straddle_tests::fleet::{App, Beat};
use straddle_tests::models::{Normalized, NormalizedContract, UsersBefore};
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect, seed_sql};

const APP: &str = env!("CARGO_BIN_EXE_fleet-app");
const ROWS: u64 = 200;
const SHARDS: usize = 4;

per_dialect!(shards_stop_together_at_the_phase_boundary);
per_dialect!(every_fleet_gate_passes_before_any_database_contracts);

fn straddle(args: &[&str], urls: &[String]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"));
    cmd.args(args).env_remove("DATABASE_URL");
    for u in urls {
        cmd.args(["--database-url", u]);
    }
    cmd.output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// `t` and three more databases like it, each with the previous release's `users`, seeded.
async fn shards<DB: TestBackend>(t: &TestDb, base: &straddle::ir::Model) -> Vec<TestDb> {
    let mut more = Vec::new();
    for n in 1..SHARDS {
        let tag = format!("shard{n}");
        more.push(
            match DB::DIALECT {
                straddle::Dialect::Postgres => TestDb::postgres(&tag).await,
                straddle::Dialect::MySql => TestDb::mysql(&tag).await,
                straddle::Dialect::Sqlite => TestDb::sqlite(&tag).await,
            }
            .expect("the server the first database is on"),
        );
    }
    for db in std::iter::once(t).chain(more.iter()) {
        let pool = db.pool::<DB>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        DB::exec(&mut conn, &base_table_sql(base, DB::DIALECT)).await;
        for sql in seed_sql(DB::DIALECT, "users", ROWS) {
            DB::exec(&mut conn, &sql).await;
        }
    }
    more
}

async fn count<DB: TestBackend>(db: &TestDb, sql: &str) -> i64 {
    let pool = db.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::scalar_i64(&mut conn, sql.to_string(), Default::default())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or(0)
}

async fn has_column<DB: TestBackend>(db: &TestDb, column: &str) -> bool {
    let pool = db.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::catalog(&mut conn, "users")
        .await
        .iter()
        .any(|l| l.starts_with(&format!("column {column} ")))
}

async fn shards_stop_together_at_the_phase_boundary<DB: TestBackend>(t: &TestDb) {
    let more = shards::<DB>(t, Normalized::definition()).await;
    let all: Vec<&TestDb> = std::iter::once(t).chain(more.iter()).collect();
    let urls: Vec<String> = all.iter().map(|d| d.url.clone()).collect();

    // A database that cannot be reached stops the run before anything is applied
    // anywhere, naming it.
    let mut unreachable = urls.clone();
    unreachable[2] = match DB::DIALECT {
        straddle::Dialect::Sqlite => "sqlite:///nonexistent-straddle-dir/shard.db".to_string(),
        _ => format!("{}_missing", urls[2].split('?').next().unwrap()),
    };
    let o = straddle(&["up", "--json"], &unreachable);
    let refused = json(&o);
    assert_eq!(o.status.code(), Some(5), "{refused:#}");
    assert!(
        refused["error"].as_str().unwrap().contains("cannot connect to"),
        "{refused:#}"
    );
    for (n, db) in all.iter().enumerate() {
        assert!(
            !has_column::<DB>(db, "email_normalized").await,
            "shard {n} was changed"
        );
    }

    // A leftover of an earlier attempt on the third database is in expand's way: that
    // database refuses; the others finish expand and start nothing after it.
    let pool = all[2].pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, "ALTER TABLE users ADD COLUMN email_normalized INTEGER").await;
    let o = straddle(&["up", "--json"], &urls);
    let done = json(&o);
    assert_eq!(o.status.code(), Some(3), "{done:#}");
    let targets = done["targets"].as_array().unwrap_or_else(|| panic!("{done:#}"));
    assert_eq!(targets.len(), SHARDS);
    let error = targets[2]["error"].as_str().unwrap_or_else(|| panic!("{done:#}"));
    assert!(error.contains("email_normalized"), "{done:#}");
    for (n, target) in targets.iter().enumerate().filter(|(n, _)| *n != 2) {
        assert!(target["error"].is_null(), "shard {n}: {done:#}");
        let phases: Vec<(&str, &str)> = target["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["phase"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
            .collect();
        assert!(phases.contains(&("expand", "applied")), "shard {n}: {phases:?}");
        assert!(
            !phases.iter().any(|(p, _)| *p == "backfill"),
            "shard {n}: {phases:?}"
        );
    }
    assert_eq!(done["held_before"], "backfill", "{done:#}");
    assert_eq!(done["completed"], serde_json::json!([]), "{done:#}");
    // The others expanded and stopped there: the column is everywhere but the third
    // database, and no existing row has been filled anywhere.
    for (n, db) in all.iter().enumerate() {
        assert!(has_column::<DB>(db, "email_normalized").await, "shard {n}");
        if n != 2 {
            let unfilled = count::<DB>(db, "SELECT count(*) FROM users WHERE email_normalized IS NULL").await;
            assert_eq!(unfilled, ROWS as i64, "shard {n}: backfill started");
        }
    }

    // Status shows every database, the failed one with what holds it (databases listed
    // in a targets file this time, one URL read from the environment).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shards.toml");
    let mut listing = String::new();
    for (n, u) in urls.iter().enumerate() {
        if n == 3 {
            listing.push_str(&format!(
                "[[target]]\nname = \"shard-{n}\"\nurl_env = \"SHARD_URL\"\n"
            ));
        } else {
            listing.push_str(&format!("[[target]]\nname = \"shard-{n}\"\nurl = \"{u}\"\n"));
        }
    }
    std::fs::write(&file, listing).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args(["status", "--json", "--targets"])
        .arg(&file)
        .env_remove("DATABASE_URL")
        .env("SHARD_URL", &urls[3])
        .output()
        .unwrap();
    let status = json(&o);
    let targets = status["targets"].as_array().unwrap();
    assert_eq!(targets.len(), SHARDS, "{status:#}");
    for (n, target) in targets.iter().enumerate() {
        assert_eq!(target["target"], format!("shard-{n}"));
        let change = &target["report"]["changes"][0];
        assert_eq!(change["change"], "users.email_normalized");
        if n == 2 {
            assert_eq!(change["applied"], serde_json::json!([]), "{status:#}");
            assert!(
                change["waits_for"][0]
                    .as_str()
                    .unwrap()
                    .contains("email_normalized"),
                "{status:#}"
            );
        } else {
            assert_eq!(change["applied"], serde_json::json!(["expand"]), "{status:#}");
            assert_eq!(change["next_phase"], "backfill", "{status:#}");
        }
    }
    let o = straddle(&["status"], &urls);
    let text = String::from_utf8_lossy(&o.stdout);
    for db in &all {
        assert!(
            text.contains(&format!("({})", straddle::mask_url(&db.url))),
            "every database has its heading: {text}"
        );
    }

    // The leftover goes; running again completes every database.
    DB::exec(&mut conn, "ALTER TABLE users DROP COLUMN email_normalized").await;
    drop(conn);
    let o = straddle(&["up", "--json"], &urls);
    let done = json(&o);
    assert!(o.status.success(), "{done:#}");
    assert_eq!(
        done["completed"],
        serde_json::json!(["expand", "backfill"]),
        "{done:#}"
    );
    assert!(done["held_before"].is_null(), "{done:#}");
    for (n, db) in all.iter().enumerate() {
        let wrong = count::<DB>(
            db,
            "SELECT count(*) FROM users WHERE email_normalized IS NULL OR email_normalized <> lower(email)",
        )
        .await;
        assert_eq!(wrong, 0, "shard {n}");
    }
    let o = straddle(&["up"], &urls);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("4 databases: expand, backfill done on every one"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// `up` on every database of `list`, two at a time.
async fn up_everywhere<DB: TestBackend>(
    list: &[targets::Target],
    models: &[&'static straddle::ir::Model],
    options: &RunnerOptions,
) -> targets::Advance {
    let mut runners = targets::connect_all::<DB>(list, models, options, 2)
        .await
        .unwrap();
    let done = targets::advance(
        list,
        &mut runners,
        targets::Move::Up {
            target: None,
            only: None,
        },
        2,
    )
    .await;
    targets::close_all(runners).await;
    done
}

async fn every_fleet_gate_passes_before_any_database_contracts<DB: TestBackend>(t: &TestDb) {
    let more = shards::<DB>(t, UsersBefore::definition()).await;
    let all: Vec<&TestDb> = std::iter::once(t).chain(more.iter()).collect();
    let list: Vec<targets::Target> = all
        .iter()
        .enumerate()
        .map(|(n, d)| targets::Target {
            name: format!("shard-{n}"),
            url: d.url.clone(),
        })
        .collect();
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let models = [NormalizedContract::definition()];
    // The previous release still runs against the second database only.
    let old = App::start(APP, &all[1].url, "before", "old", 500_000, Beat::QUICK);

    let done = up_everywhere::<DB>(&list, &models, &options).await;
    assert_eq!(done.completed, [Phase::Expand, Phase::Backfill], "{done:#?}");
    assert_eq!(done.held_before, Some(Phase::Contract), "{done:#?}");
    let failed: Vec<&str> = done.failed().map(|t| t.target.as_str()).collect();
    assert_eq!(failed, ["shard-1"], "{done:#?}");
    assert!(
        done.targets[1].error.as_deref().unwrap().contains("old on "),
        "{done:#?}"
    );
    // No database contracted: every one still accepts the previous release's NULLs.
    for (n, target) in done.targets.iter().enumerate() {
        assert!(
            !target.runs.iter().any(|r| r.phase == Phase::Contract),
            "shard {n} contracted: {:?}",
            target.runs
        );
    }
    for (n, db) in all.iter().enumerate() {
        let pool = db.pool::<DB>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        let catalog = DB::catalog(&mut conn, "users").await;
        let column = catalog
            .iter()
            .find(|l| l.starts_with("column email_normalized "))
            .unwrap_or_else(|| panic!("shard {n}: {catalog:?}"));
        assert!(!column.contains("NOT NULL"), "shard {n} contracted: {column}");
    }

    // The previous release leaves; contract runs everywhere.
    let report = old.stop();
    assert_eq!(report.failure_count, 0, "{report:?}");
    let done = up_everywhere::<DB>(&list, &models, &options).await;
    assert_eq!(done.failed().count(), 0, "{done:#?}");
    assert_eq!(
        done.completed,
        [Phase::Expand, Phase::Backfill, Phase::Contract],
        "{done:#?}"
    );
}
