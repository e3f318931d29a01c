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
    seeded_with(t, 300).await;
}

async fn seeded_with(t: &TestDb, rows: u64) {
    let pool = t.pool::<sqlx::Sqlite>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    sqlx::Sqlite::exec(
        &mut conn,
        &base_table_sql(Normalized::definition(), straddle::Dialect::Sqlite),
    )
    .await;
    for sql in seed_sql(straddle::Dialect::Sqlite, "users", rows) {
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
    // The fixture links every test model but lists two: the others' changes would be
    // neither applied nor shown, and the migrator says so.
    assert!(
        stderr(&o).contains("not given to the migrator")
            && stderr(&o).contains("labels.labels_tag_idx (Label)"),
        "{}",
        stderr(&o)
    );
    // Changes a listed model carries too are covered (NormalizedContract's is
    // users.email_normalized, which Normalized gives).
    assert!(!stderr(&o).contains("(NormalizedContract)"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("users.email_address (EmailRenamed)"),
        "{}",
        stderr(&o)
    );
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
    assert_eq!(v["checked"][0]["violations"], 0);
    assert_eq!(v["checked"][0]["rule"], "email_normalized is NULL", "{v}");
    assert_eq!(
        v["not_checked"][0]["skipped"], "expand is not applied yet: nothing to verify",
        "{v}"
    );
    let o = straddle(url, &["verify"]);
    assert_eq!(
        stdout(&o).lines().next(),
        Some("users.email_normalized: 0 rows where email_normalized is NULL: contract can run")
    );

    // A change with no ledger rows says so; a change neither in the code nor in the ledger
    // is a usage error.
    let o = straddle(url, &["ledger", "users.status"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        "users.status: no ledger rows: nothing of it has been applied"
    );
    let o = straddle(url, &["ledger", "users.nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no change `users.nope` in the code or in the ledger"),
        "{}",
        stderr(&o)
    );

    // Reverting a phase that was never applied says so (it used to talk about expand).
    let o = straddle(url, &["down", "users.login_count", "--phase", "backfill"]);
    assert!(o.status.success(), "nothing applied: nothing to revert");
    let o = straddle(url, &["down", "users.email_normalized", "--phase", "contract"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "users.email_normalized: contract is not applied, so there is nothing of it to revert (the newest \
             applied phase is backfill)"
        ),
        "{}",
        stderr(&o)
    );

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
    for name in straddle::ir::render::sync_trigger_names("users", "email_normalized") {
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
        stdout(&o).lines().next(),
        Some(
            "users.email_normalized: 1 row where email_normalized is NULL (keys 42): contract refuses until none \
             is left"
        )
    );
    let o = straddle(url, &["contract", "users.email_normalized", "--ahead-of-code"]);
    assert_eq!(o.status.code(), Some(3), "refused by a safety gate");
    assert!(
        stderr(&o).contains("refused") && stderr(&o).contains("(1 offending row: 42)"),
        "{}",
        stderr(&o)
    );
    // A refusal is not an interrupted run: status says what refused it.
    let o = straddle(url, &["status", "--json", "users.email_normalized"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        status["changes"][0]["interrupted"],
        serde_json::Value::Null,
        "{status}"
    );
    let o = straddle(url, &["status", "users.email_normalized"]);
    assert!(!stdout(&o).contains("interrupted"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("last run: contract up step `") && stdout(&o).contains("` refused: "),
        "{}",
        stdout(&o)
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
        statuses.contains(&"completed") && statuses.contains(&"applied") && statuses.contains(&"refused"),
        "{statuses:?}"
    );
    // Times, durations, attempts and the error of the refused step.
    let refused = ledger
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "refused")
        .unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("1 offending row: 42"),
        "{refused}"
    );
    assert!(
        refused["started_at_ms"].as_i64().unwrap() > 1_700_000_000_000,
        "{refused}"
    );
    assert_eq!(refused["attempts"], 1);
    let o = straddle(url, &["ledger", "users.email_normalized"]);
    let text = stdout(&o);
    assert!(
        text.lines()
            .any(|l| l.contains(" refused ") && l.contains("Z  contract up"))
            && text.contains("1 offending row: 42"),
        "{text}"
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
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim(), "error: give --dialect or --database-url");
    let o = straddle(None, &["plan", "--dialect", "mysql", "users.nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).trim(), "error: no change `users.nope` in the models");

    // Models not compiled for the dialect: said, not an empty plan with exit 0.
    let o = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args(["plan", "--dialect", "mysql"])
        .env("STRADDLE_FIXTURE", "postgres-only")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with(
            "error: no model is compiled for mysql: nothing to plan (Awkward, Flagged leave it out"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unreachable_database_and_unknown_changes_are_clear_errors() {
    let o = straddle(Some("postgres://app:s3cret@127.0.0.1:1/prod"), &["status"]);
    assert_eq!(o.status.code(), Some(5), "a connection failure exits 5");
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
    assert_eq!(v["kind"], "connection");

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
    assert_eq!(o.status.code(), Some(2));
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

/// `.env` is read like sqlx-cli and diesel read it (the environment wins over it); every
/// setting flag also comes from a `STRADDLE_…` variable — but not the safety overrides.
#[tokio::test]
async fn settings_from_dotenv_and_the_environment() {
    let t = TestDb::sqlite("cli_env").await.unwrap();
    seeded(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"));
        cmd.args(args).current_dir(dir.path()).env_remove("DATABASE_URL");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={}\n", t.url)).unwrap();
    let o = run(&[], &["status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("users.email_normalized"), "{}", stdout(&o));
    // The environment overrides .env; flags override both.
    let o = run(&[("DATABASE_URL", "postgres://u:pw@127.0.0.1:1/x")], &["status"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let o = run(
        &[("DATABASE_URL", "postgres://u:pw@127.0.0.1:1/x")],
        &["status", "--database-url", &t.url],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&[("STRADDLE_JSON", "true")], &["status"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["changes"][0]["change"], "users.email_normalized");
    let o = run(&[("STRADDLE_LOCK_TIMEOUT_MS", "soon")], &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--lock-timeout-ms"), "{}", stderr(&o));
    // An override is not taken from the environment.
    let o = run(
        &[("STRADDLE_AHEAD_OF_CODE", "true")],
        &["contract", "users.email_normalized"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ahead-of-code"), "{}", stderr(&o));
    // A malformed .env is an error, not ignored.
    std::fs::write(dir.path().join(".env"), "DATABASE_URL='unterminated\n").unwrap();
    let o = run(&[], &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: cannot read .env"),
        "{}",
        stderr(&o)
    );
}

/// A run of several phases that stops part-way says which phases it applied before the
/// error (they stay applied), in text and in `--json`, and exits with the error's code.
#[tokio::test]
async fn a_run_stopped_part_way_says_what_it_applied() {
    let t = TestDb::sqlite("cli_partial").await.unwrap();
    seeded(&t).await;
    // A leftover `login_count` of another type: that change's expand is refused.
    {
        let pool = t.pool::<sqlx::Sqlite>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        sqlx::Sqlite::exec(&mut conn, "ALTER TABLE users ADD COLUMN login_count TEXT").await;
    }
    let o = straddle(Some(&t.url), &["up", "--quiet"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        stdout(&o)
            .lines()
            .map(|l| l.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "users.email_normalized  expand up",
            "users.email_normalized  backfill up"
        ],
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("users.login_count expand step `add-column` refused before anything changed"),
        "{err}"
    );
    assert!(
        err.contains(
            "stopped after users.email_normalized expand up, users.email_normalized backfill up: they were applied \
             and stay so"
        ),
        "{err}"
    );
    let o = straddle(Some(&t.url), &["up", "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["kind"], "refused", "{v}");
    // Already applied phases are not "applied" again by this run: nothing to list.
    assert_eq!(v.get("applied"), None, "{v}");
    // The refusal is in the ledger, and status says the phase cannot run as things are
    // (it used to say "expand can run now").
    let o = straddle(Some(&t.url), &["ledger", "users.login_count", "--json"]);
    let ledger: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(ledger[0]["status"], "refused", "{ledger}");
    assert_eq!(ledger[0]["step"], "add-column", "{ledger}");
    let o = straddle(Some(&t.url), &["status", "users.login_count"]);
    let text = stdout(&o);
    assert!(!text.contains("expand can run now"), "{text}");
    assert!(
        text.contains("next: expand waits for:")
            && text.contains("step `add-column`: column users.login_count exists"),
        "{text}"
    );
    assert!(
        text.contains("last run: expand up step `add-column` refused"),
        "{text}"
    );
}

/// Ctrl-C stops a backfill between batches: exit 130, the checkpoint kept, `status` says
/// where it stopped, and running again resumes there.
#[tokio::test]
async fn ctrl_c_stops_between_batches_and_the_run_resumes() {
    let t = TestDb::sqlite("cli_stop").await.unwrap();
    seeded_with(&t, 20_000).await;
    let child = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args([
            "up",
            "users.email_normalized",
            "--batch-size",
            "200",
            "--max-rows-per-sec",
            "4000",
        ])
        .env("DATABASE_URL", &t.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2_000));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("stopping at the next safe point"), "{err}");
    assert!(
        err.contains("stopped between backfill batches of users.email_normalized, after "),
        "{err}"
    );
    assert!(
        err.contains("stopped after users.email_normalized expand up"),
        "the expand it applied is named: {err}"
    );

    let o = straddle(Some(&t.url), &["status", "--json", "users.email_normalized"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let filled = v["changes"][0]["backfilled_rows"].as_u64().unwrap();
    assert!(filled > 0 && filled < 20_000, "{v}");
    assert!(
        v["changes"][0]["last_failure"]
            .as_str()
            .is_some_and(|f| f.contains("backfill up step `backfill` stopped")),
        "{v}"
    );
    let o = straddle(Some(&t.url), &["up", "users.email_normalized", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("(resumed after {filled})")),
        "{}",
        stdout(&o)
    );
}

/// A database error reads as the server's message and code with a hint — not the
/// driver's wrapping or the server's own source line ("at line 433").
#[tokio::test]
async fn database_errors_without_driver_noise() {
    let Some(t) = TestDb::postgres("cli_noise").await else {
        return;
    };
    let o = straddle(Some(&t.url), &["up", "users.email_normalized", "--ahead-of-code"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("the database refused a statement: relation \"users\" does not exist (42P01)"),
        "{err}"
    );
    assert!(err.contains("hint: the table is not in this database"), "{err}");
    assert!(
        !err.contains(" at line ") && !err.contains("error returned from database"),
        "{err}"
    );
}

/// `straddle.toml` gives per-project defaults: used when neither a flag nor its variable
/// says otherwise; an unknown key is an error naming it.
#[tokio::test]
async fn project_defaults_from_straddle_toml() {
    let t = TestDb::sqlite("cli_toml").await.unwrap();
    seeded(&t).await;
    let dir = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_straddle-fixture"));
        cmd.args(args).current_dir(dir.path()).env("DATABASE_URL", &t.url);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let batches = |o: &std::process::Output| {
        let runs: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
        runs.as_array().unwrap()[1]["report"]["backfill"]["batches"]
            .as_u64()
            .unwrap()
    };
    let down = |o: &std::process::Output| assert!(o.status.success(), "{}", stderr(o));
    std::fs::write(
        dir.path().join("straddle.toml"),
        "batch_size = 100\nlock_timeout_ms = 500\n",
    )
    .unwrap();
    let o = run(&[], &["up", "users.email_normalized", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(batches(&o), 3, "300 rows in batches of 100, from straddle.toml");
    down(&run(&[], &["down", "users.email_normalized"]));
    down(&run(
        &[],
        &["down", "users.email_normalized", "--allow-data-loss"],
    ));
    // A flag wins over the file, and so does the environment.
    let o = run(
        &[],
        &["up", "users.email_normalized", "--json", "--batch-size", "300"],
    );
    assert_eq!(batches(&o), 1, "{}", stdout(&o));
    down(&run(&[], &["down", "users.email_normalized"]));
    down(&run(
        &[],
        &["down", "users.email_normalized", "--allow-data-loss"],
    ));
    let o = run(
        &[("STRADDLE_BATCH_SIZE", "150")],
        &["up", "users.email_normalized", "--json"],
    );
    assert_eq!(batches(&o), 2, "{}", stdout(&o));

    std::fs::write(dir.path().join("straddle.toml"), "lock_timeout = 500\n").unwrap();
    let o = run(&[], &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("straddle.toml: unknown field `lock_timeout`"),
        "{}",
        stderr(&o)
    );
    std::fs::write(dir.path().join("straddle.toml"), "wait_for_fleet = \"soon\"\n").unwrap();
    let o = run(&[], &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("`wait_for_fleet`"), "{}", stderr(&o));
    std::fs::write(dir.path().join("straddle.toml"), "max_load = \"lots\"\n").unwrap();
    let o = run(&[], &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`max_load`: `lots`") && stderr(&o).contains("or `off`"),
        "{}",
        stderr(&o)
    );
}
