//! The `straddle` command line, run as a process (the fixture migrator binary): output,
//! `--json`, exit codes and error messages.

use std::process::{Command, Output};
use straddle::Model;
use straddle_tests::models::Normalized;
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql};

fn straddle(url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"));
    cmd.args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn seeded(t: &TestDb) {
    let pool = t.pool::<sqlx::Sqlite>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::Sqlite::exec(
        &mut conn,
        &base_table_sql(Normalized::definition(), straddle::Dialect::Sqlite),
    )
    .await;
    for sql in seed_sql(straddle::Dialect::Sqlite, "users", 300) {
        sqlx::Sqlite::exec(&mut conn, &sql).await;
    }
}

#[tokio::test]
async fn a_rollout_through_the_command_line() {
    let t = TestDb::sqlite("cli").await.unwrap();
    seeded(&t).await;
    let url = Some(t.url.as_str());

    let o = straddle(url, &["status", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let status: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let status = &status["changes"];
    let ids: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["change"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["users.email_normalized", "users.login_count", "users.status"]
    );
    assert_eq!(status[0]["applied"], serde_json::json!([]));
    assert_eq!(status[0]["declared_phase"], "backfill");

    let o = straddle(url, &["up", "users.email_normalized", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o)
            .lines()
            .map(|l| l.split(':').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        [
            "users.email_normalized  expand up",
            "users.email_normalized  backfill up"
        ]
    );
    assert!(stdout(&o).contains("300 rows in"), "{}", stdout(&o));

    let o = straddle(url, &["verify", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["violations"], 0);

    // NULLs appear behind the runner's back (its triggers out of the way for a moment,
    // then put back as they were): verify and contract fail, naming keys.
    let pool = t.pool::<sqlx::Sqlite>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let triggers = sqlx::Sqlite::text_rows(
        &mut conn,
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'users'".into(),
    )
    .await;
    assert_eq!(triggers.len(), 2);
    for name in
        straddle::ir::render::sync_trigger_names(straddle::Dialect::Sqlite, "users", "email_normalized")
    {
        sqlx::Sqlite::exec(&mut conn, &format!("DROP TRIGGER `{name}`")).await;
    }
    sqlx::Sqlite::exec(
        &mut conn,
        "UPDATE users SET email_normalized = NULL WHERE id = 42",
    )
    .await;
    for sql in &triggers {
        sqlx::Sqlite::exec(&mut conn, sql).await;
    }
    drop(conn);
    let o = straddle(url, &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).trim(),
        "users.email_normalized: 1 rows violate NOT NULL, e.g. keys 42"
    );
    let o = straddle(url, &["contract", "users.email_normalized", "--ahead-of-code"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("refused") && stderr(&o).contains("(1 offending row: 42)"),
        "{}",
        stderr(&o)
    );

    let o = straddle(url, &["ledger", "users.email_normalized", "--json"]);
    let ledger: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let statuses: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"completed") && statuses.contains(&"applied"),
        "{statuses:?}"
    );
}

#[test]
fn plan_needs_no_database() {
    let o = straddle(None, &["plan", "--dialect", "mysql", "users.email_normalized"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .contains("ALTER TABLE `users` ADD COLUMN `email_normalized` TEXT NULL, ALGORITHM=INSTANT;")
    );
    let o = straddle(None, &["plan"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim(), "error: give --dialect or --database-url");
}

#[test]
fn unreachable_database_and_unknown_changes_are_clear_errors() {
    let o = straddle(Some("postgres://app:s3cret@127.0.0.1:1/prod"), &["status"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: cannot connect to postgres://app:****@127.0.0.1:1/prod: "),
        "{err}"
    );
    assert!(!err.contains("s3cret"));

    let o = straddle(
        Some("postgres://app:s3cret@127.0.0.1:1/prod"),
        &["status", "--json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["error"].as_str().unwrap().contains("app:****@"));

    let o = straddle(Some("oracle://x"), &["status"]);
    assert!(
        stderr(&o).contains("use a postgres://, mysql:// or sqlite:// URL"),
        "{}",
        stderr(&o)
    );
    let o = straddle(None, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}

#[tokio::test]
async fn unknown_change_names_the_known_ones() {
    let t = TestDb::sqlite("cli_unknown").await.unwrap();
    seeded(&t).await;
    let o = straddle(Some(&t.url), &["up", "users.nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no change `users.nope` is in flight; known changes: users.email_normalized"),
        "{}",
        stderr(&o)
    );
}

/// Installed as `cargo-straddle`, cargo runs it as `cargo-straddle straddle …`.
#[test]
fn runs_as_a_cargo_subcommand() {
    let direct = straddle(None, &["plan", "--dialect", "sqlite"]);
    let via_cargo = straddle(None, &["straddle", "plan", "--dialect", "sqlite"]);
    assert!(via_cargo.status.success(), "{}", stderr(&via_cargo));
    assert_eq!(stdout(&via_cargo), stdout(&direct));
}

#[tokio::test]
async fn run_commands_report_json() {
    let t = TestDb::sqlite("cli_json").await.unwrap();
    seeded(&t).await;
    let o = straddle(
        Some(&t.url),
        &["up", "users.email_normalized", "--json", "--batch-size", "100"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let runs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(runs[0]["phase"], "expand");
    assert_eq!(runs[1]["phase"], "backfill");
    assert_eq!(runs[1]["outcome"], "applied");
    assert_eq!(runs[1]["report"]["rows_backfilled"], 300);
    assert_eq!(runs[1]["report"]["backfill"]["batches"], 3);
    let o = straddle(Some(&t.url), &["down", "users.email_normalized", "--json"]);
    let runs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        (runs[0]["phase"].as_str(), runs[0]["direction"].as_str()),
        (Some("backfill"), Some("down"))
    );
}
