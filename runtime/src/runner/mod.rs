//! The runner: applies phases against a live database, one runner at a time, recording
//! every step in the ledger (`_straddle_migrations`).
//!
//! - An applied step is never re-run: running again is a no-op. A phase interrupted
//!   half-way resumes after its last recorded step; a non-transactional step that ran
//!   but was not recorded is recognized by its skip probe.
//! - A step whose SQL changed after it was applied is refused (checksum mismatch).
//! - DDL waits for its lock at most the lock timeout, and is retried with jittered
//!   exponential backoff, so a long transaction never queues the application's
//!   statements behind the DDL for longer than the lock timeout.
//! - Backfills checkpoint in each batch's transaction and resume from it.
//! - Contract asserts first (no NULL left) and refuses with the count and sample keys.
//! - `down` reverts the newest applied phase, refusing to drop a column that holds data
//!   unless told to.

mod connection;
mod history;
mod ledger;
mod lock;

use crate::apply::{self, LedgerEntry, LedgerRecord, PhaseReport, StepContext};
use crate::backend::{Backend, Key, LedgerRow};
use crate::backfill::{BackfillOptions, Pacing, now_ms};
use crate::error::{Error, Result, mask_url};
use crate::fleet;
use crate::progress::{Progress, ProgressMode};
pub(crate) use connection::hostname;
pub(crate) use connection::is_connection_lost;
pub(crate) use connection::open as open_connection;
use history::{History, checksum_of};
use lock::RunnerLock;
use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle_core::model::{AddKind, Change};
use straddle_core::plan::ChangePlan;
use straddle_core::render::{self, ledger as ledger_sql};
use straddle_core::step::Direction;
use straddle_core::{Model, Phase};

/// How the runner behaves; see the CLI flags for each.
#[derive(Clone, Debug)]
pub struct RunnerOptions {
    /// How long a DDL statement may wait for its lock (default 2 s).
    pub lock_timeout: Duration,
    /// Attempts per DDL step when its lock is not granted in time (default 10).
    pub ddl_attempts: u32,
    /// How long to wait for another runner to finish (default 60 s).
    pub wait_for_runner: Duration,
    /// How the backfill paces itself.
    pub backfill: BackfillOptions,
    /// Let `down` drop a column that holds data.
    pub allow_data_loss: bool,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// The reviewed migrations embedded in the binary: when given, a phase is applied
    /// only if its file is there and matches what would run.
    pub migrations: Option<crate::Migrations>,
    /// Only look (status, ledger, verify): no runner lock taken — a running migration is
    /// never waited for — no table created, nothing applied.
    pub read_only: bool,
    /// How long to wait for the database to accept connections again when the
    /// connection breaks mid-run (a server restarting), before giving up (default 60 s).
    pub reconnect_within: Duration,
    /// Fleet gating: waiting for, or overriding, live instances a phase would break;
    /// acknowledged schema refreshes; phases ahead of the code.
    pub fleet: crate::fleet::FleetOptions,
    /// On a Galera cluster, the longest a DDL step that reads every row of its table may
    /// stall every node's writes, estimated from the table's size before it runs
    /// (default 2 s; `None`: no limit).
    pub max_cluster_stall: Option<Duration>,
    /// On a Galera cluster, run a DDL step that reads every row one node at a time
    /// (rolling schema upgrade) where the nodes' two schemas accept each other's writes.
    pub galera_rsu: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            lock_timeout: Duration::from_secs(2),
            ddl_attempts: 10,
            wait_for_runner: Duration::from_secs(60),
            backfill: BackfillOptions::default(),
            allow_data_loss: false,
            progress: ProgressMode::Auto,
            migrations: None,
            read_only: false,
            reconnect_within: Duration::from_secs(60),
            fleet: crate::fleet::FleetOptions::default(),
            max_cluster_stall: Some(Duration::from_secs(2)),
            galera_rsu: false,
        }
    }
}

/// A change in flight, with its plan.
struct Tracked {
    model: &'static Model,
    plan: ChangePlan,
}

/// What one command did to one change.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChangeRun {
    /// The change.
    pub change: String,
    /// The phase.
    pub phase: Phase,
    /// Up or down.
    pub direction: Direction,
    /// `applied`, `already applied`, `nothing to revert`, or why it was held back.
    pub outcome: String,
    /// What the phase did.
    pub report: PhaseReport,
}

/// The state of one change.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChangeStatus {
    /// The change.
    pub change: String,
    /// What the change does, in words.
    pub summary: String,
    /// The phase the compiled code declares.
    pub declared_phase: Phase,
    /// Phases applied to this database, in order.
    pub applied: Vec<Phase>,
    /// A phase started but not finished (a run was killed or lost its connection).
    pub interrupted: Option<Phase>,
    /// How the last run ended when it was refused or failed: phase, direction, step and
    /// the error (a refusal changed nothing; run again once its cause is fixed).
    pub last_failure: Option<String>,
    /// Rows the backfill has filled so far (from its checkpoint).
    pub backfilled_rows: Option<u64>,
    /// Rows that would violate the constraint contract enforces (None: not applicable yet).
    pub violations: Option<i64>,
    /// A checksum mismatch, if any applied step changed since; a phase applied ahead of
    /// the code.
    pub problem: Option<String>,
    /// The phase `up`/`contract` would apply next (None: every phase is applied).
    pub next_phase: Option<Phase>,
    /// What holds the next phase back: the code not declaring it yet, live instances
    /// whose code it would break.
    pub waits_for: Vec<String>,
}

/// The application instances registered in this database, and other connections.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FleetStatus {
    /// Live instances, oldest first.
    pub live: Vec<fleet::Instance>,
    /// Instances that stopped sending heartbeats (killed) and no longer count.
    pub expired: Vec<fleet::Instance>,
    /// Connections that are not registered instances.
    pub unknown: Vec<fleet::UnknownClient>,
    /// Why other connections cannot be shown, where they cannot.
    pub unknown_note: Option<String>,
}

/// The result of `verify` for one change: how many rows contract would refuse.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Verification {
    /// The change.
    pub change: String,
    /// Rows that violate `rule`.
    pub violations: i64,
    /// Keys of some of them.
    pub sample: Vec<String>,
    /// What a violating row is, in words (`email_normalized is NULL`).
    pub rule: String,
}

/// Applies the phases of the models' changes to one database, keeping the ledger (see the module docs).
pub struct Runner<DB: Backend> {
    /// Masked, for messages.
    url: String,
    /// As given, to reconnect.
    connect_url: String,
    conn: DB::Connection,
    changes: Vec<Tracked>,
    options: RunnerOptions,
    lock: RunnerLock,
    /// Whether the ledger tables exist (a read-only runner does not create them).
    ledger: ledger::Ledger,
    /// The phases the current `up`/`down` has run so far (see [`Runner::runs_so_far`]).
    runs: Vec<ChangeRun>,
    /// The Galera cluster, when the database is one (its nodes as the run started).
    galera: Option<crate::cluster::galera::Cluster>,
}

impl<DB: Backend> Runner<DB> {
    /// Connect, take the runner lock (waiting up to `wait_for_runner` for another runner),
    /// and make sure the ledger tables exist and are Straddle's. Read-only: no lock, no
    /// table created.
    pub async fn connect(url: &str, models: &[&'static Model], options: RunnerOptions) -> Result<Self> {
        let conflicts = straddle_core::consistency::conflicts(models);
        if !conflicts.is_empty() {
            return Err(Error::Usage(format!(
                "the models contradict each other:\n  {}",
                conflicts.join("\n  ")
            )));
        }
        let masked = mask_url(url);
        let (conn, node) = connection::open_on_cluster::<DB>(url, &masked).await?;
        let galera = node.map(|state| {
            crate::cluster::galera::Cluster::new(url, state, options.max_cluster_stall, options.galera_rsu)
        });
        let changes = models
            .iter()
            .filter(|m| m.supports(DB::DIALECT))
            .flat_map(|m| {
                straddle_core::plan_model(m)
                    .into_iter()
                    .map(move |plan| Tracked { model: m, plan })
            })
            .collect();
        let mut runner = Runner {
            url: masked,
            connect_url: url.to_string(),
            conn,
            changes,
            options,
            // Where the server's lock does not exclude across the cluster: a lease row.
            lock: RunnerLock::new(DB::DIALECT == straddle_core::Dialect::Sqlite || galera.is_some()),
            ledger: ledger::Ledger::Absent,
            runs: Vec::new(),
            galera,
        };
        if !runner.options.read_only {
            runner
                .lock
                .acquire::<DB>(&mut runner.conn, &runner.url, runner.options.wait_for_runner)
                .await?;
        }
        runner.ledger = ledger::prepare::<DB>(&mut runner.conn, runner.options.read_only).await?;
        if !runner.options.read_only {
            runner.lock.record::<DB>(&mut runner.conn).await;
            runner.lock.keep_alive::<DB>(&runner.connect_url, &runner.url);
        }
        Ok(runner)
    }

    /// After the connection broke: connect again (waiting, within `reconnect_within`, for a
    /// server that is restarting), take the runner lock again (another runner may have
    /// started meanwhile: then wait for it), and carry on.
    async fn reconnect(&mut self) -> Result<()> {
        self.conn =
            connection::reopen::<DB>(&self.connect_url, &self.url, self.options.reconnect_within).await?;
        self.lock
            .acquire::<DB>(&mut self.conn, &self.url, self.options.wait_for_runner)
            .await?;
        self.lock.keep_alive::<DB>(&self.connect_url, &self.url);
        Ok(())
    }

    /// Run a phase; when the connection breaks, reconnect and resume it from the ledger
    /// (every step is recorded in its own transaction or guarded by its probe, so what
    /// completed is never redone), a bounded number of times.
    async fn run_phase_resuming(
        &mut self,
        i: usize,
        phase: Phase,
        direction: Direction,
    ) -> Result<PhaseReport> {
        // Each attempt reconnects within `reconnect_within`: a bound on restarts, not time.
        const ATTEMPTS: u32 = 4;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let id = self.changes[i].plan.id.clone();
            let result = match self.history(&id).await {
                Ok(history) => self.run_phase(i, phase, direction, &history).await,
                Err(e) => Err(e),
            };
            match result {
                Err(e) if attempt < ATTEMPTS && is_connection_lost(&e) => {
                    let delay =
                        crate::retry::backoff(attempt, Duration::from_millis(500), Duration::from_secs(10));
                    crate::targets::label::note!(
                        "  {id} {phase}: the connection to {} broke ({e}); reconnecting in {delay:.1?} to resume \
                         (attempt {attempt}/{ATTEMPTS})",
                        self.url
                    );
                    tokio::time::sleep(delay).await;
                    // A failed reconnect counts as an attempt; the last one's error is reported.
                    if let Err(e) = self.reconnect().await
                        && attempt + 1 >= ATTEMPTS
                    {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    /// Change ids this runner knows, in declaration order.
    /// After `up` or `down` returned an error: the phases it applied before it (they stay
    /// applied), to say what a multi-phase run did before it stopped.
    pub fn runs_so_far(&self) -> &[ChangeRun] {
        &self.runs
    }

    /// The ids of the changes this runner knows (`table.column`, …).
    pub fn change_ids(&self) -> Vec<String> {
        self.changes.iter().map(|c| c.plan.id.clone()).collect()
    }

    /// Release the runner lock and close the connection.
    pub async fn close(mut self) -> Result<()> {
        if !self.options.read_only {
            self.lock.release::<DB>(&mut self.conn).await?;
        }
        self.conn.close().await?;
        Ok(())
    }

    /// Refuse what a read-only runner cannot do.
    fn writable(&self) -> Result<()> {
        if self.options.read_only {
            return Err(Error::Usage(
                "this runner only reads (status, ledger, verify): nothing is applied".into(),
            ));
        }
        Ok(())
    }

    fn selected(&self, only: Option<&str>) -> Result<Vec<usize>> {
        let picked: Vec<usize> = (0..self.changes.len())
            .filter(|&i| only.is_none_or(|o| self.changes[i].plan.id == o))
            .collect();
        if let (Some(o), true) = (only, picked.is_empty()) {
            return Err(Error::Usage(format!(
                "no change `{o}` is in flight; known changes: {}",
                self.change_ids().join(", ")
            )));
        }
        Ok(picked)
    }

    async fn history(&mut self, change: &str) -> Result<History> {
        if self.ledger == ledger::Ledger::Absent {
            return Ok(History(Vec::new()));
        }
        let mut args = DB::Arguments::default();
        DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
        Ok(History(
            DB::ledger_rows(&mut self.conn, ledger_sql::history_sql(DB::DIALECT), args).await?,
        ))
    }

    /// Refuse a rollout of an object out of order: any run of it while this database has
    /// the object's next rollout applied (an older release's runner must not touch what a
    /// newer one changed since: going down reverts the newest rollout first), and applying
    /// it before the previous rollout completed here (its contract applied). A previous
    /// rollout with no ledger rows here is no obstacle: the database got that schema by
    /// other means, and the catalog checks before each step still hold.
    async fn check_rollout_order(&mut self, i: usize, direction: Direction) -> Result<()> {
        let plan = self.changes[i].plan.clone();
        let what = format!(
            "{} `{}` of table `{}`",
            plan.subject.kind(),
            plan.subject.name(),
            plan.table
        );
        let next = plan.rollout_key(plan.rollout + 1);
        let later = self.history(&next).await?;
        if let Some(phase) = later.newest_applied() {
            return Err(Error::RolloutOrder {
                change: plan.id.clone(),
                message: format!(
                    "this is rollout {} of the {what}, but this database has its rollout {} (`{next}`) applied \
                     through {phase}: a newer release changed it since, and an older rollout never runs under a \
                     newer one — revert `{next}` first, with the release that declares it",
                    plan.rollout,
                    plan.rollout + 1
                ),
            });
        }
        if direction == Direction::Up && plan.rollout > 1 {
            let previous = plan.rollout_key(plan.rollout - 1);
            let earlier = self.history(&previous).await?;
            if !earlier.0.is_empty() && !earlier.applied(Phase::Contract) {
                let stands = earlier
                    .newest_applied()
                    .map_or("reverted".to_string(), |p| format!("applied through {p}"));
                return Err(Error::RolloutOrder {
                    change: plan.id.clone(),
                    message: format!(
                        "this is rollout {} of the {what}, but its rollout {} (`{previous}`) has not completed in this \
                         database ({stands}): run it through contract first, with the release that declares it",
                        plan.rollout,
                        plan.rollout - 1
                    ),
                });
            }
        }
        Ok(())
    }

    /// Refuse a change that is not the one the ledger completed under its key: a different
    /// change of the object, declared as if that completed change were still in flight (a
    /// lock that does not record the completion). Told apart from an edit (its steps keep
    /// their names) and from lost or forged rows (the steps that did run are this change's):
    /// an applied phase ran a step this change does not render, or no applied phase ran
    /// any step while this change renders some.
    /// `rendered`: each phase's steps going up, in phase order.
    fn check_same_change(
        &self,
        t: &Tracked,
        history: &History,
        rendered: &[Vec<straddle_core::Step>],
    ) -> Result<()> {
        if !history.applied(Phase::Contract) {
            return Ok(());
        }
        let (mut ran, mut renders, mut foreign) = (Vec::new(), Vec::new(), false);
        for (phase, steps) in Phase::ALL.into_iter().zip(rendered) {
            let run = history.applying_run(phase);
            foreign |= run.iter().any(|(n, _)| !steps.iter().any(|s| s.name == *n));
            ran.extend(run.into_iter().map(|(n, _)| format!("{phase} `{n}`")));
            renders.extend(steps.iter().map(|s| format!("{phase} `{}`", s.name)));
        }
        let nothing_ran_but_renders = ran.is_empty() && !renders.is_empty();
        if !foreign && !nothing_ran_but_renders {
            return Ok(());
        }
        let list = |l: Vec<String>| {
            if l.is_empty() {
                "none".to_string()
            } else {
                l.join(", ")
            }
        };
        Err(Error::RolloutOrder {
            change: t.plan.id.clone(),
            message: format!(
                "the ledger has a completed change of this {} under `{}` (it ran {}), and the code declares another \
                 one as the same rollout (it renders {}): {} does not record that the earlier change completed — \
                 generate the lock with the release that removed its declaration (`straddle generate`), or list it \
                 under `[tables.{}.completed]` so that this one becomes rollout 2",
                t.plan.subject.kind(),
                t.plan.id,
                list(ran),
                list(renders),
                straddle_core::lock::FILE_NAME,
                t.plan.table
            ),
        })
    }

    /// Refuse when a step of an applied phase renders differently from what was applied.
    /// Refuse, too, a phase marked applied whose completion row does not match its steps
    /// (a row copied from elsewhere) or whose run does not record every one of them.
    fn check_checksums(&self, t: &Tracked, history: &History) -> Result<()> {
        let rendered: Vec<Vec<straddle_core::Step>> = Phase::ALL
            .into_iter()
            .map(|phase| render::render_phase(DB::DIALECT, t.model, &t.plan, phase, Direction::Up))
            .collect();
        self.check_same_change(t, history, &rendered)?;
        for phase in Phase::ALL.into_iter().filter(|p| history.applied(*p)) {
            let steps = &rendered[phase as usize];
            let run = history.applying_run(phase);
            let tampered = |problem: String| Error::LedgerDisagrees {
                change: t.plan.id.clone(),
                phase,
                problems: vec![problem],
            };
            // A step that changed since it ran is the most specific thing to say: first.
            for (step, recorded) in run.iter().cloned() {
                let now = steps.iter().find(|s| s.name == step);
                if !now.is_some_and(|s| s.accepts(&recorded)) {
                    return Err(Error::ChecksumMismatch {
                        change: t.plan.id.clone(),
                        phase,
                        step,
                        recorded,
                        current: now.map_or_else(|| "(no such step)".into(), |s| s.checksum()),
                    });
                }
            }
            if let Some(missing) = steps.iter().find(|s| !run.iter().any(|(n, _)| *n == s.name)) {
                return Err(tampered(format!(
                    "no step `{}` was recorded in the run that completed it",
                    missing.name
                )));
            }
            // Over the checksums the run recorded (an earlier release's, where accepted).
            let all: String = steps
                .iter()
                .map(|s| {
                    run.iter()
                        .find(|(n, _)| *n == s.name)
                        .map_or_else(|| s.checksum(), |(_, c)| c.clone())
                })
                .collect::<Vec<_>>()
                .join(",");
            if history.completion(phase).map(|r| r.checksum.as_str()) != Some(checksum_of(&all).as_str()) {
                return Err(tampered(
                    "its completion row's checksum is not that of its steps (a row written by something else)".into(),
                ));
            }
        }
        Ok(())
    }

    /// Refuse when the catalog is not as the phases the ledger says are applied leave it:
    /// every object their steps create or alter there as planned, every object they drop
    /// gone (a ledger row without the change it records — copied, forged, or of a database
    /// restored from an older backup — must not make `up` answer "already applied").
    async fn check_applied_state(&mut self, i: usize, history: &History) -> Result<()> {
        let t = &self.changes[i];
        let applied: Vec<Phase> = Phase::ALL.into_iter().filter(|p| history.applied(*p)).collect();
        let Some(&newest) = applied.last() else {
            return Ok(());
        };
        // The net effect on each object, in the order the phases applied them.
        let mut net: Vec<straddle_core::catalog::Expect> = Vec::new();
        for phase in &applied {
            for step in render::render_phase(DB::DIALECT, t.model, &t.plan, *phase, Direction::Up) {
                for e in step.expects {
                    net.retain(|n| n.object.key() != e.object.key());
                    net.push(e);
                }
            }
        }
        let id = t.plan.id.clone();
        let problems = crate::catalog::differences::<DB>(&mut self.conn, &net).await?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::LedgerDisagrees {
                change: id,
                phase: newest,
                problems,
            })
        }
    }

    /// Apply every phase up to `target` (default: the phase the code declares) of each
    /// selected change. A phase beyond the one the code declares is refused for a named
    /// change and, when every change is asked for, held back and reported (unless
    /// `fleet.ahead_of_code`).
    pub async fn up(&mut self, target: Option<Phase>, only: Option<&str>) -> Result<Vec<ChangeRun>> {
        self.up_capped(target, only, None).await
    }

    /// [`Runner::up`], applying nothing beyond `cap`: many databases advance one phase at a
    /// time, each phase everywhere before the next anywhere.
    pub async fn up_capped(
        &mut self,
        target: Option<Phase>,
        only: Option<&str>,
        cap: Option<Phase>,
    ) -> Result<Vec<ChangeRun>> {
        self.writable()?;
        self.runs.clear();
        for i in self.selected(only)? {
            let id = self.changes[i].plan.id.clone();
            self.check_rollout_order(i, Direction::Up).await?;
            let history = self.history(&id).await?;
            self.check_checksums(&self.changes[i], &history)?;
            self.check_applied_state(i, &history).await?;
            let declared = self.changes[i].plan.declared_phase;
            let goal = goal_of(target, declared, cap);
            for phase in goal.through() {
                if history.applied(phase) {
                    if phase == goal {
                        self.runs.push(ChangeRun {
                            change: id.clone(),
                            phase,
                            direction: Direction::Up,
                            outcome: "already applied".into(),
                            report: PhaseReport::default(),
                        });
                    }
                    continue;
                }
                if phase > declared && !self.options.fleet.ahead_of_code {
                    if only.is_some() {
                        return Err(Error::AheadOfCode {
                            change: id,
                            phase,
                            declared,
                        });
                    }
                    // Asked for every change: the others go on; this one is reported.
                    self.runs.push(ChangeRun {
                        change: id.clone(),
                        phase,
                        direction: Direction::Up,
                        outcome: format!(
                            "held back: the code declares {declared} (--ahead-of-code to force)"
                        ),
                        report: PhaseReport::default(),
                    });
                    break;
                }
                self.fleet_gate(i, phase, Direction::Up).await?;
                let report = self.run_phase_resuming(i, phase, Direction::Up).await?;
                self.runs.push(ChangeRun {
                    change: id.clone(),
                    phase,
                    direction: Direction::Up,
                    outcome: "applied".into(),
                    report,
                });
            }
        }
        Ok(std::mem::take(&mut self.runs))
    }

    /// Pass (or wait for, or refuse on) the fleet gate of every phase
    /// [`Runner::up_capped`] would apply, applying nothing: many databases check every
    /// gate before any of them starts the phase.
    pub async fn gate_up(
        &mut self,
        target: Option<Phase>,
        only: Option<&str>,
        cap: Option<Phase>,
    ) -> Result<()> {
        self.writable()?;
        for i in self.selected(only)? {
            let history = self.history(&self.changes[i].plan.id.clone()).await?;
            let declared = self.changes[i].plan.declared_phase;
            let ahead = self.options.fleet.ahead_of_code;
            for phase in goal_of(target, declared, cap).through() {
                if history.applied(phase) {
                    continue;
                }
                if phase > declared && !ahead {
                    break;
                }
                self.fleet_gate(i, phase, Direction::Up).await?;
            }
        }
        Ok(())
    }

    /// Pass (or wait for, or refuse on) the fleet gate of every phase [`Runner::down`]
    /// would revert, reverting nothing.
    pub async fn gate_down(&mut self, only: Option<&str>) -> Result<()> {
        self.writable()?;
        for i in self.selected(only)?.into_iter().rev() {
            let history = self.history(&self.changes[i].plan.id.clone()).await?;
            if let Some(newest) = history.newest_applied() {
                self.fleet_gate(i, newest, Direction::Down).await?;
            }
        }
        Ok(())
    }

    /// Revert the newest applied phase of each selected change (`phase`, when given,
    /// must be that phase).
    pub async fn down(&mut self, phase: Option<Phase>, only: Option<&str>) -> Result<Vec<ChangeRun>> {
        self.writable()?;
        self.runs.clear();
        // Newest first: a table's indexes and columns before the table itself.
        for i in self.selected(only)?.into_iter().rev() {
            let id = self.changes[i].plan.id.clone();
            self.check_rollout_order(i, Direction::Down).await?;
            let history = self.history(&id).await?;
            self.check_checksums(&self.changes[i], &history)?;
            self.check_applied_state(i, &history).await?;
            let Some(newest) = history.newest_applied() else {
                self.runs.push(ChangeRun {
                    change: id,
                    phase: phase.unwrap_or(Phase::Expand),
                    direction: Direction::Down,
                    outcome: "nothing to revert".into(),
                    report: PhaseReport::default(),
                });
                continue;
            };
            if let Some(p) = phase.filter(|p| !history.applied(*p)) {
                return Err(Error::Usage(format!(
                    "{id}: {p} is not applied, so there is nothing of it to revert (the newest applied phase is \
                     {newest})"
                )));
            }
            if let Some(p) = phase.filter(|p| *p != newest) {
                return Err(Error::Usage(format!(
                    "{id}: {p} cannot be reverted while {newest} is applied: revert {newest} first"
                )));
            }
            if newest == Phase::Expand {
                self.guard_data_loss(i).await?;
            }
            self.fleet_gate(i, newest, Direction::Down).await?;
            let report = self.run_phase_resuming(i, newest, Direction::Down).await?;
            if matches!(newest, Phase::Expand | Phase::Backfill) {
                // The column the checkpoints counted rows of is gone or to be refilled
                // (keys carry the incarnation, so a stale one would be ignored anyway).
                let mut args = DB::Arguments::default();
                DB::bind_key(&mut args, &Key::Text(format!("{id}#"))).map_err(sqlx::Error::Encode)?;
                DB::execute(
                    &mut self.conn,
                    ledger_sql::checkpoint_clear_sql(DB::DIALECT),
                    args,
                )
                .await?;
            }
            self.runs.push(ChangeRun {
                change: id,
                phase: newest,
                direction: Direction::Down,
                outcome: "applied".into(),
                report,
            });
        }
        Ok(std::mem::take(&mut self.runs))
    }

    /// Refuse (or, with `--wait-for-fleet`, wait) while a live instance runs code that
    /// applying `phase` in `direction` would break; with `--ignore-fleet`, go on and record
    /// the override in the ledger.
    async fn fleet_gate(&mut self, i: usize, phase: Phase, direction: Direction) -> Result<()> {
        let (model, plan) = (self.changes[i].model, self.changes[i].plan.clone());
        let Some(requirement) = straddle_core::fleet::requirement(model, &plan, phase, direction) else {
            return Ok(());
        };
        let started = Instant::now();
        let mut told: Option<Instant> = None;
        loop {
            crate::stop::check(|| format!("while {} {phase} waited for the fleet", plan.id))?;
            let instances = fleet::registry::list::<DB>(&mut self.conn).await?;
            let blockers = fleet::gate::blockers(&instances, model, &plan, &requirement, DB::DIALECT);
            if blockers.is_empty() {
                if told.is_some() {
                    crate::targets::label::note!("  {} {phase}: the fleet is ready", plan.id);
                }
                return Ok(());
            }
            if self.options.fleet.ignore {
                let note = format!(
                    "--ignore-fleet: {} {} while {}",
                    phase,
                    direction.key(),
                    blockers.join("; ")
                );
                crate::targets::label::note!(
                    "  {} {phase} {}: {note} (recorded in the ledger)",
                    plan.id,
                    direction.key()
                );
                LedgerRecord {
                    note: Some(note),
                    ..LedgerRecord::untouched(
                        &plan.id,
                        (phase, direction),
                        "fleet-gate",
                        "-",
                        "overridden",
                        &self.lock.holder,
                    )
                }
                .insert::<DB>(&mut self.conn)
                .await?;
                return Ok(());
            }
            if started.elapsed() >= self.options.fleet.wait_for {
                let live: Vec<&fleet::Instance> = instances.iter().filter(|i| i.live).collect();
                let unknown = fleet::clients::unknown::<DB>(&mut self.conn, &live).await?;
                return Err(Error::FleetNotReady(Box::new(crate::error::FleetRefusal {
                    change: plan.id.clone(),
                    phase,
                    direction: direction.key(),
                    why: requirement.why,
                    wants: requirement.wants(),
                    blockers,
                    unknown: fleet::clients::lines(&unknown),
                })));
            }
            if told.is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
                && self.options.progress != ProgressMode::Off
            {
                crate::targets::label::note!(
                    "  {} {phase} {}: waiting for the fleet ({:.0?} of {:?}): {} ({})",
                    plan.id,
                    direction.key(),
                    started.elapsed(),
                    self.options.fleet.wait_for,
                    blockers.join("; "),
                    requirement.wants()
                );
                told = Some(Instant::now());
            }
            if !self.options.read_only && !self.lock.renew::<DB>(&mut self.conn).await? {
                return Err(Error::Busy {
                    url: self.url.clone(),
                    waited: Duration::ZERO,
                    holder: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Reverting the expand of an added column drops it: refuse while it holds values,
    /// unless allowed. (A rename's new column is a copy: the old one keeps the values.)
    async fn guard_data_loss(&mut self, i: usize) -> Result<()> {
        let t = &self.changes[i];
        let Some(column) = t.plan.column().map(str::to_string) else {
            return Ok(()); // an index holds no data
        };
        let added = matches!(
            t.model.column(&column).and_then(|c| c.change.as_ref()),
            Some(Change::Add(_))
        );
        if self.options.allow_data_loss || !added {
            return Ok(());
        }
        let d = DB::DIALECT;
        let count_sql = format!(
            "SELECT count(*) FROM {} WHERE {} IS NOT NULL",
            d.quote(&t.model.table),
            d.quote(&column)
        );
        let id = t.plan.id.clone();
        let count = match DB::scalar_i64(&mut self.conn, count_sql, Default::default()).await {
            Ok(n) => n.unwrap_or(0),
            // The column is already gone (e.g. reverted by hand): nothing to lose.
            Err(sqlx::Error::Database(e))
                if render::is_undefined_column(d, e.code().as_deref(), e.message()) =>
            {
                0
            }
            Err(e) => return Err(e.into()),
        };
        if count > 0 {
            return Err(Error::Refused {
                change: id,
                phase: Phase::Expand,
                step: "drop-column".into(),
                message: format!(
                    "reverting expand drops `{column}`, which holds values the previous schema cannot keep; \
                     pass --allow-data-loss to drop them"
                ),
                count,
                sample: Vec::new(),
            });
        }
        Ok(())
    }

    /// With embedded migrations: why `phase` may not run (its reviewed file is missing or
    /// says something else than what would run). Where the folder the binary was built
    /// from is still there, a file on disk that the binary lacks means: rebuild.
    fn unreviewed(&self, i: usize, phase: Phase, direction: Direction) -> Option<String> {
        let reviewed = self.options.migrations.as_ref()?;
        let (model, plan) = (self.changes[i].model, &self.changes[i].plan);
        let path = straddle_core::migrations::file_path(plan, phase, DB::DIALECT, direction);
        let key = path.to_string_lossy().replace('\\', "/");
        let rendered = straddle_core::migrations::file_text(model, plan, phase, DB::DIALECT, direction);
        let embedded = reviewed.get(&key);
        if embedded == Some(rendered.as_str()) {
            return None;
        }
        // Only when the binary disagrees: is the folder it was built from ahead of it?
        let disk_is_ahead = reviewed
            .folder()
            .and_then(|folder| std::fs::read_to_string(folder.join(&path)).ok())
            .is_some_and(|disk| disk == rendered);
        const REBUILD: &str = "rebuild (with `straddle_build::generate()` in build.rs, cargo rebuilds it whenever \
                               migrations/ changes)";
        Some(match (embedded, disk_is_ahead) {
            (None, true) => format!("migrations/{key} was accepted after this binary was built: {REBUILD}"),
            (None, false) => format!(
                "migrations/{key} is not accepted yet: run `straddle generate`, review the SQL, and rebuild"
            ),
            (Some(_), true) => format!("migrations/{key} changed after this binary was built: {REBUILD}"),
            (Some(_), false) => format!(
                "migrations/{key} in this binary differs from what the models render: the reviewed SQL and the \
                 code disagree (run `straddle check`)"
            ),
        })
    }

    async fn run_phase(
        &mut self,
        i: usize,
        phase: Phase,
        direction: Direction,
        history: &History,
    ) -> Result<PhaseReport> {
        let (model, plan) = (self.changes[i].model, self.changes[i].plan.clone());
        if let Some(problem) = self.unreviewed(i, phase, direction) {
            return Err(Error::NotReviewed {
                change: plan.id.clone(),
                phase,
                direction: direction.key(),
                problem,
            });
        }
        let steps = render::render_phase(DB::DIALECT, model, &plan, phase, direction);
        let done = history.recorded_since_marker(phase, direction);
        let throttle = model
            .column(plan.column().unwrap_or_default())
            .and_then(|c| c.change.as_ref())
            .map(Change::throttle)
            .unwrap_or_default();
        let checkpoint = history.checkpoint_key(&plan.id);
        let mut ctx = StepContext {
            change: &plan.id,
            phase,
            lock_timeout: self.options.lock_timeout,
            attempts: self.options.ddl_attempts.max(1),
            pacing: Pacing::new(&self.options.backfill, &throttle, self.options.lock_timeout),
            // Only the forward backfill checkpoints: a reverse copy (a rename's contract
            // going down) touches only rows still NULL, so it resumes by re-scanning keys.
            checkpoint: (direction == Direction::Up).then_some(checkpoint.as_str()),
            progress: Progress::new(self.options.progress),
            app_refresh: apply::AppRefresh::Acknowledged {
                within: self.options.fleet.refresh_within,
            },
            tables: model.table_names().iter().map(|t| t.to_string()).collect(),
            cluster: self.galera.clone(),
            own_triggers: plan
                .column()
                .map(|c| straddle_core::render::sync_trigger_names(&plan.table, c).to_vec())
                .unwrap_or_default(),
        };
        let applied_by = self.lock.holder.clone();
        let entry = LedgerEntry {
            direction,
            applied_by: &applied_by,
        };
        let mut report = PhaseReport::default();
        let started = (now_ms(), Instant::now());
        // Before anything changes: no object this phase creates is in the way, no object it
        // drops belongs to another table.
        let pending: Vec<&straddle_core::Step> =
            steps.iter().filter(|s| !done.contains_key(&s.name)).collect();
        if let Err(e) = crate::catalog::precheck::<DB>(&mut self.conn, &plan.id, phase, &pending).await {
            let step = match &e {
                Error::Conflict { step, .. } => step.clone(),
                _ => String::new(),
            };
            let checksum = steps
                .iter()
                .find(|s| s.name == step)
                .map(|s| s.checksum())
                .unwrap_or_default();
            self.record_failure(
                &plan.id,
                phase,
                direction,
                &step,
                &checksum,
                &e,
                (now_ms(), Instant::now()),
            )
            .await;
            return Err(e);
        }
        for step in &steps {
            crate::stop::check(|| format!("before {} {phase} step `{}`", plan.id, step.name))?;
            if !self.lock.renew::<DB>(&mut self.conn).await? {
                return Err(Error::Busy {
                    url: self.url.clone(),
                    waited: Duration::ZERO,
                    holder: None,
                });
            }
            let checksum = step.checksum();
            if let Some(recorded) = done.get(&step.name) {
                if !step.accepts(recorded) {
                    return Err(Error::ChecksumMismatch {
                        change: plan.id.clone(),
                        phase,
                        step: step.name.clone(),
                        recorded: recorded.clone(),
                        current: checksum,
                    });
                }
                report.skipped.push(step.name.clone());
                continue;
            }
            if apply::already_applied::<DB>(&mut self.conn, &plan.id, phase, step).await? {
                self.mark(&plan.id, phase, direction, &step.name, &checksum, "skipped")
                    .await?;
                report.skipped.push(step.name.clone());
                continue;
            }
            if !step.transactional {
                // Outside a transaction a run can die half-way: log that it began, so the
                // ledger shows every run, including one that was killed.
                self.mark(&plan.id, phase, direction, &step.name, &checksum, "started")
                    .await?;
            }
            let began = (now_ms(), Instant::now());
            let outcome = match apply::run_step::<DB>(&mut self.conn, step, &mut ctx, Some(&entry)).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.record_failure(&plan.id, phase, direction, &step.name, &checksum, &e, began)
                        .await;
                    return Err(e);
                }
            };
            report.applied_step(step, outcome);
        }
        // A step an earlier release ran counts with the checksum it was recorded with.
        let all: String = steps
            .iter()
            .map(|s| done.get(&s.name).cloned().unwrap_or_else(|| s.checksum()))
            .collect::<Vec<_>>()
            .join(",");
        LedgerRecord {
            change: &plan.id,
            phase,
            direction,
            step: "",
            checksum: &checksum_of(&all),
            status: "completed",
            started_ms: started.0,
            took: started.1.elapsed(),
            rows: report.rows_backfilled,
            attempts: 1,
            applied_by: &self.lock.holder,
            note: None,
        }
        .insert::<DB>(&mut self.conn)
        .await?;
        Ok(report)
    }

    /// A ledger row for a step that failed or was refused, with the error: the ledger
    /// shows every run, and `status` tells a refusal or a failure from a run that was
    /// killed (a `started` row with nothing after it). Best effort: the connection may be
    /// what failed, and the error being returned matters more.
    #[allow(clippy::too_many_arguments)]
    async fn record_failure(
        &mut self,
        change: &str,
        phase: Phase,
        direction: Direction,
        step: &str,
        checksum: &str,
        error: &Error,
        began: (i64, Instant),
    ) {
        let status = match error.kind() {
            crate::ErrorKind::Refused => "refused",
            crate::ErrorKind::Stopped => "stopped",
            _ => "failed",
        };
        let record = LedgerRecord {
            started_ms: began.0,
            took: began.1.elapsed(),
            note: Some(error.to_string()),
            ..LedgerRecord::untouched(
                change,
                (phase, direction),
                step,
                checksum,
                status,
                &self.lock.holder,
            )
        };
        if let Err(e) = record.insert::<DB>(&mut self.conn).await {
            tracing::debug!("could not record the failure of {change} {phase} {step}: {e}");
        }
    }

    /// A ledger row for a step that touched nothing (found applied, or just begun).
    async fn mark(
        &mut self,
        change: &str,
        phase: Phase,
        direction: Direction,
        step: &str,
        checksum: &str,
        status: &str,
    ) -> Result<()> {
        LedgerRecord::untouched(
            change,
            (phase, direction),
            step,
            checksum,
            status,
            &self.lock.holder,
        )
        .insert::<DB>(&mut self.conn)
        .await
    }

    /// Count the rows that would violate what contract enforces, per selected change
    /// that has been expanded and not contracted yet (once contracted, the database
    /// enforces it, and a rename's or a type change's old column is gone).
    pub async fn verify(&mut self, only: Option<&str>) -> Result<Vec<Verification>> {
        Ok(self.verify_explained(only).await?.0)
    }

    /// [`Runner::verify`], with each selected change it did not check and why.
    pub async fn verify_explained(
        &mut self,
        only: Option<&str>,
    ) -> Result<(Vec<Verification>, Vec<(String, &'static str)>)> {
        let (mut out, mut skipped) = (Vec::new(), Vec::new());
        for i in self.selected(only)? {
            let id = self.changes[i].plan.id.clone();
            let history = self.history(&id).await?;
            if history.applied(Phase::Contract) {
                skipped.push((
                    id,
                    "contract is applied: the database enforces it, nothing left to verify",
                ));
                continue;
            }
            if !history.applied(Phase::Expand) {
                skipped.push((id, "expand is not applied yet: nothing to verify"));
                continue;
            }
            let t = &self.changes[i];
            let Some((straddle_core::Statement::Assert { sql, sample, .. }, rule)) =
                render::verification(DB::DIALECT, t.model, &t.plan)
            else {
                skipped.push((id, "its contract has no condition on rows to verify"));
                continue;
            };
            let violations = DB::scalar_i64(&mut self.conn, sql, Default::default())
                .await?
                .unwrap_or(0);
            let sample = match (violations, sample) {
                (1.., Some(q)) => DB::texts(&mut self.conn, q).await?,
                _ => Vec::new(),
            };
            out.push(Verification {
                change: id,
                violations,
                sample,
                rule,
            });
        }
        Ok((out, skipped))
    }

    /// The registered application instances and the other connections.
    pub async fn fleet(&mut self) -> Result<FleetStatus> {
        let (live, expired): (Vec<fleet::Instance>, Vec<fleet::Instance>) =
            fleet::registry::list::<DB>(&mut self.conn)
                .await?
                .into_iter()
                .partition(|i| i.live);
        let unknown = fleet::clients::unknown::<DB>(&mut self.conn, &live.iter().collect::<Vec<_>>()).await?;
        let (unknown, unknown_note) = match unknown {
            Ok(clients) => (clients, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        Ok(FleetStatus {
            live,
            expired,
            unknown,
            unknown_note,
        })
    }

    /// The state of each selected change.
    pub async fn status(&mut self, only: Option<&str>) -> Result<Vec<ChangeStatus>> {
        let mut out = Vec::new();
        let instances = fleet::registry::list::<DB>(&mut self.conn).await?;
        for i in self.selected(only)? {
            let id = self.changes[i].plan.id.clone();
            let history = self.history(&id).await?;
            let declared = self.changes[i].plan.declared_phase;
            let ahead = Phase::ALL
                .into_iter()
                .filter(|p| *p > declared && history.applied(*p))
                .map(|p| {
                    format!(
                        "{p} is applied but the code declares {declared}: the code runs on a schema ahead of it (deploy \
                         the release that declares {p}, or revert {p})"
                    )
                });
            let problem = match self.check_checksums(&self.changes[i], &history) {
                Err(e) => Some(e.to_string()),
                Ok(()) => self
                    .check_applied_state(i, &history)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            }
            .into_iter()
            .chain(ahead)
            .reduce(|a, b| format!("{a}; {b}"));
            let applied: Vec<Phase> = Phase::ALL.into_iter().filter(|p| history.applied(*p)).collect();
            let next_phase = Phase::ALL.into_iter().find(|p| !history.applied(*p));
            let mut waits_for = Vec::new();
            if let Some(next) = next_phase {
                if next > declared {
                    waits_for.push(format!("the code to declare {next} (it declares {declared})"));
                } else if let Some(problem) = self.unreviewed(i, next, Direction::Up) {
                    waits_for.push(problem);
                }
                // An object in the way refuses the phase before it changes anything: say
                // so now (the check only reads the catalog).
                let t = &self.changes[i];
                let steps = render::render_phase(DB::DIALECT, t.model, &t.plan, next, Direction::Up);
                let done = history.recorded_since_marker(next, Direction::Up);
                let pending: Vec<&straddle_core::Step> =
                    steps.iter().filter(|s| !done.contains_key(&s.name)).collect();
                if let Err(Error::Conflict { step, problems, .. }) =
                    crate::catalog::precheck::<DB>(&mut self.conn, &id, next, &pending).await
                {
                    waits_for.push(format!("step `{step}`: {}", problems.join("; ")));
                }
                if let Some(req) = straddle_core::fleet::requirement(t.model, &t.plan, next, Direction::Up) {
                    for b in fleet::gate::blockers(&instances, t.model, &t.plan, &req, DB::DIALECT) {
                        waits_for.push(format!("{b} — to be replaced by {}", req.wants()));
                    }
                }
            }
            let interrupted = Phase::ALL
                .into_iter()
                .find(|p| !history.applied(*p) && history.started_since_marker(*p));
            let mut args = DB::Arguments::default();
            DB::bind_key(&mut args, &Key::Text(history.checkpoint_key(&id))).map_err(sqlx::Error::Encode)?;
            let checkpoint = match self.ledger {
                ledger::Ledger::Present => {
                    DB::checkpoint(&mut self.conn, ledger_sql::checkpoint_get_sql(DB::DIALECT), args).await?
                }
                ledger::Ledger::Absent => None,
            };
            let violations = self.verify(Some(&id)).await?.first().map(|v| v.violations);
            let t = &self.changes[i];
            let column = t.plan.column().and_then(|c| t.model.column(c));
            let backfills = column.is_some_and(|c| match &c.change {
                Some(Change::Add(a)) => matches!(a.kind(c.nullable), AddKind::Backfilled { .. }),
                Some(Change::Rename(_) | Change::Retype(_) | Change::NotNull(_)) => true,
                _ => false,
            });
            out.push(ChangeStatus {
                change: id,
                summary: t.plan.summary.clone(),
                declared_phase: t.plan.declared_phase,
                applied,
                interrupted,
                last_failure: history.last_failure().map(|r| {
                    format!(
                        "{} {} step `{}` {}: {}",
                        r.phase,
                        r.direction,
                        r.step,
                        r.status,
                        r.error.as_deref().unwrap_or("")
                    )
                }),
                backfilled_rows: if backfills {
                    Some(checkpoint.map(|(_, n)| n.max(0) as u64).unwrap_or(0))
                } else {
                    None
                },
                violations,
                problem,
                next_phase,
                waits_for,
            });
        }
        Ok(out)
    }

    /// The raw ledger of a change, oldest first.
    pub async fn ledger(&mut self, change: &str) -> Result<Vec<LedgerRow>> {
        let rows = self.history(change).await?.0;
        if rows.is_empty() && !self.changes.iter().any(|t| t.plan.id == change) {
            return Err(Error::Usage(format!(
                "no change `{change}` in the code or in the ledger; changes in the code: {}",
                self.change_ids().join(", ")
            )));
        }
        Ok(rows)
    }
}

/// The phase `up` brings a change to: the one asked for, else the one the code declares,
/// never beyond `cap`.
fn goal_of(target: Option<Phase>, declared: Phase, cap: Option<Phase>) -> Phase {
    let goal = target.unwrap_or(declared);
    cap.map_or(goal, |c| goal.min(c))
}
