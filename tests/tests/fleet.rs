//! Fleet gating with real application processes (`fleet-app`, each a `straddle::Db` that
//! registers itself) on PostgreSQL, MariaDB and SQLite: contract refuses while the
//! previous release runs and names it; `--wait-for-fleet` waits; a clean exit unblocks at
//! once, a killed instance only once it expires; `--ignore-fleet` is recorded (and shows
//! why the gate exists); acknowledged schema refreshes wait for a slow instance and name a
//! stuck one; a whole rollout under traffic run by an operator who only follows `status`.

use std::time::{Duration, Instant};
use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::fleet::{App, Beat, Report};
use straddle_tests::models::{EmailRenamed, Normalized, NormalizedContract, NormalizedExpand, UsersBefore};
use straddle_tests::{TestBackend, TestDb, base_table_sql, per_dialect, seed_sql};

const APP: &str = env!("CARGO_BIN_EXE_fleet-app");
const SEEDED: u64 = 200;

per_dialect!(contract_waits_for_the_previous_release);
per_dialect!(phases_never_run_ahead_of_the_code);
per_dialect!(refresh_is_acknowledged);
per_dialect!(a_rollout_following_status);
per_dialect!(status_watches_a_running_backfill);

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

fn waiting(secs: u64) -> RunnerOptions {
    let mut o = options();
    o.fleet.wait_for = Duration::from_secs(secs);
    o
}

/// `users` as the release before every rollout here, seeded.
async fn seeded<DB: TestBackend>(t: &TestDb) -> sqlx::Pool<DB> {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(UsersBefore::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", SEEDED) {
        DB::exec(&mut conn, &sql).await;
    }
    pool
}

fn start(t: &TestDb, release: &str, application: &str, first_id: i64) -> App {
    App::start(APP, &t.url, release, application, first_id, Beat::QUICK)
}

fn assert_clean(report: &Report) {
    assert!(report.ops > 20, "{} barely ran: {report:?}", report.application);
    assert_eq!(
        report.failure_count, 0,
        "{} saw failed statements: {:?}",
        report.application, report.failures
    );
}

/// Every row an instance wrote reads as the value it last wrote (in `value_column`), and
/// no row is missing or extra — but those of a killed instance, which wrote ids from
/// `killed` on and could not report them.
async fn assert_values<DB: TestBackend>(
    pool: &sqlx::Pool<DB>,
    reports: &[&Report],
    value_column: &str,
    killed: Option<i64>,
) {
    let mut conn = pool.acquire().await.unwrap();
    let d = DB::DIALECT;
    for r in reports {
        for (id, value) in &r.rows {
            let got = DB::text_rows(
                &mut conn,
                format!("SELECT {} FROM users WHERE id = {id}", d.quote(value_column)),
            )
            .await;
            assert_eq!(got, vec![value.clone()], "{}: row {id}", r.application);
        }
    }
    let unreported = killed
        .map(|k| format!(" WHERE id NOT BETWEEN {k} AND {}", k + 99_999))
        .unwrap_or_default();
    let rows = DB::text_rows(
        &mut conn,
        format!("SELECT CAST(count(*) AS CHAR(20)) FROM users{unreported}"),
    )
    .await;
    let written: usize = reports.iter().map(|r| r.rows.len()).sum();
    assert_eq!(
        rows[0].trim().parse::<usize>().unwrap(),
        SEEDED as usize + written,
        "no row lost"
    );
}

/// Rows (with ids below `below`) whose `email_normalized` is not `lower(email)`.
async fn not_normalized<DB: TestBackend>(pool: &sqlx::Pool<DB>, below: i64) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    let n = DB::text_rows(
        &mut conn,
        format!(
            "SELECT CAST(count(*) AS CHAR(20)) FROM users WHERE id < {below} AND \
             (email_normalized IS NULL OR email_normalized <> lower(email))"
        ),
    )
    .await;
    n[0].trim().parse().unwrap()
}

fn refusal(e: Error) -> (Vec<String>, String) {
    let text = e.to_string();
    match e {
        Error::FleetNotReady(refusal) => (refusal.blockers, text),
        other => panic!("expected a fleet refusal, got {other}"),
    }
}

/// Contract refuses while the previous release runs, naming each instance; waiting, a
/// clean exit unblocks at once and a killed instance only once it expired; an override
/// is recorded, and the previous release's writes then fail — which is what the gate
/// prevents.
async fn contract_waits_for_the_previous_release<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t).await;
    let new = start(t, "contract", "new-release", 100_000);
    let old_a = start(t, "before", "old-a", 200_000);
    let model = NormalizedContract::definition();

    // Expand and backfill run beside the previous release; contract refuses, naming it.
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    let (blockers, text) = refusal(r.up(None, None).await.unwrap_err());
    assert_eq!(blockers.len(), 1, "{text}");
    assert!(
        blockers[0].contains("old-a on ") && blockers[0].contains(&format!("pid {}", old_a.pid)),
        "{text}"
    );
    assert!(blockers[0].contains("its code predates the change"), "{text}");
    assert!(
        text.contains("--wait-for-fleet") && text.contains("--ignore-fleet"),
        "{text}"
    );
    let status = r.status(None).await.unwrap();
    assert_eq!(status[0].applied, [Phase::Expand, Phase::Backfill]);
    assert_eq!(status[0].next_phase, Some(Phase::Contract));
    assert!(status[0].waits_for[0].contains("old-a"), "{status:?}");
    let fleet = r.fleet().await.unwrap();
    assert_eq!(fleet.live.len(), 2, "{fleet:?}");
    r.close().await.unwrap();

    // Waiting: the previous release exits cleanly → contract runs at once.
    let url = t.url.clone();
    let waiter = tokio::spawn(async move {
        let mut r = Runner::<DB>::connect(&url, &[model], waiting(30)).await.unwrap();
        let runs = r.up(None, None).await;
        r.close().await.unwrap();
        (runs, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!waiter.is_finished(), "contract ran while old-a was live");
    let exited = Instant::now();
    let old_a = old_a.stop();
    let (runs, done) = waiter.await.unwrap();
    let runs = runs.unwrap();
    assert_eq!(runs.last().unwrap().phase, Phase::Contract, "{runs:?}");
    let after_exit = done - exited;
    assert!(
        after_exit < Duration::from_millis(1500),
        "contract ran {after_exit:?} after old-a exited"
    );
    assert_clean(&old_a);

    // Back to backfill, and a previous-release instance that gets killed: contract waits
    // until it has expired (2 s without a heartbeat), not less.
    // Going back waits for code past the change to be rolled back first.
    let past = start(t, "settled", "past", 250_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    let (blockers, text) = refusal(r.down(Some(Phase::Contract), None).await.unwrap_err());
    assert_eq!(blockers.len(), 1, "{text}");
    assert!(
        blockers[0].contains("past on ") && blockers[0].contains("is past the change"),
        "{text}"
    );
    let past = past.stop();
    r.down(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
    assert_clean(&past);
    let old_b = start(t, "before", "old-b", 300_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    old_b.kill();
    let mut r = Runner::<DB>::connect(&t.url, &[model], waiting(30))
        .await
        .unwrap();
    let status = r.status(None).await.unwrap();
    assert!(
        status[0].waits_for.iter().any(|w| w.contains("old-b")),
        "a killed instance counts until it expires: {status:?}"
    );
    r.up(None, None).await.unwrap();
    let waited = killed.elapsed();
    let expiry = Duration::from_millis(Beat::QUICK.heartbeat_ms * Beat::QUICK.missed as u64);
    let beat = Duration::from_millis(Beat::QUICK.heartbeat_ms);
    assert!(
        waited >= expiry - beat && waited < expiry + Duration::from_secs(3),
        "contract ran {waited:?} after the kill; the instance expires {expiry:?} after its last heartbeat"
    );
    // New-release's heartbeat may have waited on the contract's lock (SQLite: the whole
    // database) on a busy machine: it is live again within a few beats.
    let mut fleet = r.fleet().await.unwrap();
    for _ in 0..20 {
        if fleet.live.len() == 1 {
            break;
        }
        tokio::time::sleep(beat).await;
        fleet = r.fleet().await.unwrap();
    }
    assert_eq!(fleet.live.len(), 1, "only new-release is live: {fleet:?}");
    assert_eq!(fleet.live[0].application, "new-release", "{fleet:?}");
    assert_eq!(fleet.expired.len(), 1, "{fleet:?}");
    r.close().await.unwrap();

    // An override is recorded with whom it overrode; the previous release's inserts then
    // fail on the NOT NULL the gate was protecting.
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.down(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
    let old_c = start(t, "before", "old-c", 400_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut forced = options();
    forced.fleet.ignore = true;
    let mut r = Runner::<DB>::connect(&t.url, &[model], forced).await.unwrap();
    r.up(None, None).await.unwrap();
    let ledger = r.ledger("users.email_normalized").await.unwrap();
    let overridden: Vec<_> = ledger.iter().filter(|l| l.status == "overridden").collect();
    assert_eq!(overridden.len(), 1, "{ledger:?}");
    assert_eq!(overridden[0].step, "fleet-gate");
    let status = r.status(None).await.unwrap();
    assert_eq!(status[0].applied.last(), Some(&Phase::Contract));
    assert_eq!(
        status[0].interrupted, None,
        "an override is not an interrupted run"
    );
    r.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let old_c = old_c.stop();
    // Its inserts failed on NOT NULL, and its updates (without the trigger) left
    // `email_normalized` stale on its rows.
    assert!(
        old_c.failure_count > 0 && old_c.failures.iter().all(|f| f.starts_with("write")),
        "the previous release kept writing after contract: its inserts must have failed: {old_c:?}"
    );
    assert!(
        not_normalized(&pool, i64::MAX).await > 0,
        "its updates went stale"
    );

    let new = new.stop();
    assert_clean(&new);
    assert_values(&pool, &[&new, &old_a, &past, &old_c], "email", Some(300_000)).await;
    assert_eq!(
        not_normalized(&pool, 400_000).await,
        0,
        "every row but old-c's is right"
    );
}

/// `contract` with code that declares backfill is refused (the first report:
/// it used to apply all three phases); the CLI says how to force it, and `status`
/// flags a phase applied ahead of the code.
async fn phases_never_run_ahead_of_the_code<DB: TestBackend>(t: &TestDb) {
    let _pool = seeded::<DB>(t).await;
    let mut r = Runner::<DB>::connect(&t.url, &[NormalizedExpand::definition()], options())
        .await
        .unwrap();
    let e = r
        .up(Some(Phase::Contract), Some("users.email_normalized"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::AheadOfCode {
                phase: Phase::Backfill,
                declared: Phase::Expand,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--ahead-of-code"), "{e}");
    // Every change asked for: this one is held back and said so.
    let runs = r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].phase, Phase::Backfill);
    assert!(
        runs[0].outcome.starts_with("held back: the code declares expand"),
        "{runs:?}"
    );
    let status = r.status(None).await.unwrap();
    assert_eq!(
        status[0].applied,
        [Phase::Expand],
        "expand, which the code declares, ran"
    );
    assert!(
        status[0].waits_for[0].contains("the code to declare backfill"),
        "{status:?}"
    );
    r.close().await.unwrap();

    // Forced through contract, then looked at with the code that declares backfill.
    let mut forced = options();
    forced.fleet.ahead_of_code = true;
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], forced)
        .await
        .unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();
    let mut r = Runner::<DB>::connect(&t.url, &[Normalized::definition()], options())
        .await
        .unwrap();
    let status = r.status(None).await.unwrap();
    let problem = status[0].problem.clone().unwrap_or_default();
    assert!(
        problem.contains("contract is applied but the code declares backfill"),
        "{status:?}"
    );
    r.close().await.unwrap();

    // The CLI (the fixture migrator's code declares backfill).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args([
            "contract",
            "users.email_normalized",
            "--quiet",
            "--database-url",
            &t.url,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "contract is applied already: {stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
        .args(["status", "--database-url", &t.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "status flags it: {stdout}");
    assert!(
        stdout.contains("PROBLEM: contract is applied but the code declares backfill"),
        "{stdout}"
    );
}

/// A rename's contract makes every instance re-read the schema before the column names
/// swap: it waits for a slow instance's acknowledgement, refuses naming a stuck one (and
/// stops there), and both releases' traffic sees no failure.
async fn refresh_is_acknowledged<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t).await;
    let model = EmailRenamed::definition();
    let fast = start(t, "renamed", "fast", 100_000);
    let stuck = App::start(
        APP,
        &t.url,
        "renamed",
        "stuck",
        200_000,
        Beat {
            poll_ms: 60_000,
            ..Beat::QUICK
        },
    );
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.up(Some(Phase::Backfill), None).await.unwrap();
    r.close().await.unwrap();

    let mut impatient = options();
    impatient.fleet.refresh_within = Duration::from_secs(2);
    let mut r = Runner::<DB>::connect(&t.url, &[model], impatient).await.unwrap();
    let e = r.up(None, None).await.unwrap_err();
    let Error::FleetLagging { laggards, step, .. } = &e else {
        panic!("expected laggards, got {e}");
    };
    assert_eq!(step, "await-app-refresh", "{e}");
    assert_eq!(laggards.len(), 1, "the fast instance acknowledged: {e}");
    assert!(
        laggards[0].contains("stuck on ") && laggards[0].contains(&format!("pid {}", stuck.pid)),
        "{e}"
    );
    let status = r.status(None).await.unwrap();
    assert!(!status[0].applied.contains(&Phase::Contract), "{status:?}");
    // Not "interrupted": the run ended on a recorded refusal, which status names.
    assert_eq!(status[0].interrupted, None, "{status:?}");
    assert!(
        status[0]
            .last_failure
            .as_deref()
            .is_some_and(|f| f.starts_with("contract up step `await-app-refresh` refused: ")),
        "{status:?}"
    );
    r.close().await.unwrap();

    // The stuck one replaced by a slow one (reads the generation every 2 s): contract
    // waits for it.
    let stuck = stuck.stop();
    let slow = App::start(
        APP,
        &t.url,
        "renamed",
        "slow",
        300_000,
        Beat {
            poll_ms: 2_000,
            ..Beat::QUICK
        },
    );
    let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
    r.up(None, None).await.unwrap();
    // At the moment contract returns, every live instance has re-read the schema.
    let fleet = r.fleet().await.unwrap();
    let generation = fleet.live.iter().map(|i| i.generation_seen).max().unwrap();
    assert!(generation > 0);
    for i in &fleet.live {
        assert_eq!(
            i.generation_seen, generation,
            "{} had not re-read the schema",
            i.application
        );
    }
    r.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (fast, slow) = (fast.stop(), slow.stop());
    for report in [&fast, &slow, &stuck] {
        assert_clean(report);
    }
    assert_values(&pool, &[&fast, &slow, &stuck], "email_address", None).await;
}

/// A whole rollout under traffic — releases deployed one instance at a time, the operator
/// running a phase only when `status` says it can run: no failed statement in any
/// release, every value right. (Without the gate, contract under the previous release
/// failed thousands of its inserts; see the override above.)
async fn a_rollout_following_status<DB: TestBackend>(t: &TestDb) {
    let pool = seeded::<DB>(t).await;
    let mut running: Vec<App> = vec![
        start(t, "before", "v0-a", 100_000),
        start(t, "before", "v0-b", 110_000),
    ];
    let mut reports: Vec<Report> = Vec::new();
    let releases: [(&str, &'static straddle::ir::Model); 3] = [
        ("expand", NormalizedExpand::definition()),
        ("backfill", Normalized::definition()),
        ("contract", NormalizedContract::definition()),
    ];
    let mut next_id = 200_000;
    for (release, model) in releases {
        // Rolling deploy: one new instance up, one old one down, twice.
        for k in 0..2 {
            running.push(start(t, release, &format!("{release}-{k}"), next_id));
            next_id += 100_000;
            tokio::time::sleep(Duration::from_millis(400)).await;
            if k == 0 && release == "contract" {
                // Half-way through the deploy, `status` says contract waits for the rest.
                let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
                let s = r.status(None).await.unwrap();
                assert_eq!(s[0].next_phase, Some(Phase::Contract));
                assert_eq!(s[0].waits_for.len(), 2, "both backfill instances: {s:?}");
                assert!(
                    s[0].waits_for.iter().all(|w| w.contains("declares backfill")),
                    "{s:?}"
                );
                r.close().await.unwrap();
            }
            reports.push(running.remove(0).stop());
        }
        // The operator: apply what status says can run; stop when the code must move first.
        let mut r = Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = r.status(None).await.unwrap().remove(0);
            assert!(s.problem.is_none(), "{s:?}");
            match s.next_phase {
                Some(next) if next <= s.declared_phase && s.waits_for.is_empty() => {
                    r.up(Some(next), None).await.unwrap();
                }
                Some(next) if next <= s.declared_phase => {
                    assert!(Instant::now() < deadline, "{release}: still waiting: {s:?}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => break,
            }
        }
        let s = r.status(None).await.unwrap().remove(0);
        assert_eq!(s.applied.last(), Some(&model_phase(release)), "{s:?}");
        r.close().await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for app in running.drain(..) {
        reports.push(app.stop());
    }
    for report in &reports {
        assert_clean(report);
    }
    assert_values(&pool, &reports.iter().collect::<Vec<_>>(), "email", None).await;
    assert_eq!(not_normalized(&pool, i64::MAX).await, 0);
}

fn model_phase(release: &str) -> Phase {
    Phase::from_key(release).unwrap()
}

/// `status` from a second terminal while a backfill runs: it does not wait for the
/// runner, and shows the backfill's progress as it goes.
async fn status_watches_a_running_backfill<DB: TestBackend>(t: &TestDb) {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(UsersBefore::definition(), DB::DIALECT)).await;
    for sql in seed_sql(DB::DIALECT, "users", 3000) {
        DB::exec(&mut conn, &sql).await;
    }
    drop(conn);
    let fixture = env!("CARGO_BIN_EXE_straddle-fixture");
    let mut backfill = std::process::Command::new(fixture)
        .args([
            "backfill",
            "users.email_normalized",
            "--max-rows-per-sec",
            "1000",
            "--batch-size",
            "100",
            "--quiet",
            "--database-url",
            &t.url,
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = || {
        let started = Instant::now();
        let out = std::process::Command::new(fixture)
            .args([
                "status",
                "users.email_normalized",
                "--json",
                "--database-url",
                &t.url,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["changes"][0]["backfilled_rows"].as_u64().unwrap(),
            started.elapsed(),
        )
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (first, took_first) = status();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (second, took_second) = status();
    assert!(backfill.wait().unwrap().success());
    let (last, _) = status();
    for took in [took_first, took_second] {
        assert!(
            took < Duration::from_secs(2),
            "status took {took:?}: it must not wait for the runner"
        );
    }
    assert!(
        0 < first && first < second && second < 3000,
        "live progress: {first} then {second} rows"
    );
    assert_eq!(last, 3000);
}
