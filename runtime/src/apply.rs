//! Step execution, shared by the direct path ([`apply_phase`]) and the [`crate::Runner`]:
//! skip probes, DDL under a lock timeout with jittered retries, assertions, backfills,
//! and — for the runner — the ledger row written in the step's own transaction.

use crate::backend::{Backend, Key};
use crate::backfill::{self, BackfillOptions, BackfillReport, Checkpoint, Pacing};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressMode};
use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle_core::render::{self, ledger, sqlite_rebuild};
use straddle_core::step::{Direction, LiveSql, Statement, Step, TableRebuild};
use straddle_core::{Model, Phase};

/// Options of the direct path.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// How long a DDL statement may wait for its table lock before failing.
    pub lock_timeout: Duration,
    /// Rows per backfill batch (fixed).
    pub batch_size: u64,
    /// How a step that needs every app instance to have re-read the schema waits for it.
    pub app_refresh: AppRefresh,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            lock_timeout: Duration::from_secs(2),
            batch_size: 1000,
            app_refresh: AppRefresh::default(),
        }
    }
}

/// How a step waits until every application instance has re-read the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppRefresh {
    /// Move the schema generation on, and wait until every live registered instance whose
    /// code maps the table has acknowledged it — refused, naming the laggards, after this
    /// long.
    Acknowledged {
        /// How long to wait for the last acknowledgement.
        within: Duration,
    },
    /// Sleep this long (an instance that does not register is not waited for otherwise;
    /// zero when none runs).
    Sleep(Duration),
}

impl Default for AppRefresh {
    fn default() -> Self {
        AppRefresh::Acknowledged {
            within: Duration::from_secs(30),
        }
    }
}

/// What applying a phase did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhaseReport {
    /// Steps applied by this run.
    pub applied: Vec<String>,
    /// Steps found already done (recorded, or the catalog as they leave it).
    pub skipped: Vec<String>,
    /// Rows the backfill filled in this run.
    pub rows_backfilled: u64,
    /// Attempts beyond the first, over all steps (lock timeouts retried).
    pub retries: u32,
    /// The backfill's figures, when the phase had one.
    pub backfill: Option<BackfillReport>,
}

impl PhaseReport {
    /// Account for a step that ran.
    pub(crate) fn applied_step(&mut self, step: &Step, outcome: StepOutcome) {
        self.rows_backfilled += outcome.rows;
        self.retries += outcome.attempts - 1;
        self.backfill = self.backfill.take().or(outcome.backfill);
        self.applied.push(step.name.clone());
    }
}

/// The steps of one phase of the change on `column`.
pub fn phase_steps(
    model: &Model,
    column: &str,
    phase: Phase,
    direction: Direction,
    dialect: straddle_core::Dialect,
) -> Result<Vec<Step>> {
    let plan = straddle_core::plan_model(model)
        .into_iter()
        .find(|p| p.subject.name() == column)
        .ok_or_else(|| Error::UnknownChange {
            model: model.rust_name.clone(),
            column: column.to_string(),
        })?;
    Ok(render::render_phase(dialect, model, &plan, phase, direction))
}

/// Apply `phase` of the change on `column` in `direction`, on one connection, without a
/// ledger: every step's skip probe decides whether it runs.
pub async fn apply_phase<DB: Backend>(
    conn: &mut DB::Connection,
    model: &Model,
    column: &str,
    phase: Phase,
    direction: Direction,
    options: &ApplyOptions,
) -> Result<PhaseReport> {
    let steps = phase_steps(model, column, phase, direction, DB::DIALECT)?;
    let change = format!("{}.{column}", model.table);
    let throttle = model
        .column(column)
        .and_then(|c| c.change.as_ref())
        .map(straddle_core::Change::throttle);
    let run = BackfillOptions {
        fixed_batch: Some(options.batch_size),
        ..Default::default()
    };
    let mut ctx = StepContext {
        change: &change,
        phase,
        lock_timeout: options.lock_timeout,
        attempts: 10,
        pacing: Pacing::new(&run, &throttle.unwrap_or_default(), options.lock_timeout),
        checkpoint: None,
        progress: Progress::new(ProgressMode::Off),
        app_refresh: options.app_refresh,
        tables: model.table_names().iter().map(|t| t.to_string()).collect(),
        cluster: None,
        own_triggers: Vec::new(),
    };
    let mut report = PhaseReport::default();
    crate::catalog::precheck::<DB>(conn, &change, phase, &steps.iter().collect::<Vec<_>>()).await?;
    for step in &steps {
        if already_applied::<DB>(conn, &change, phase, step).await? {
            report.skipped.push(step.name.clone());
            continue;
        }
        let outcome = run_step::<DB>(conn, step, &mut ctx, None).await?;
        report.applied_step(step, outcome);
    }
    Ok(report)
}

/// Whether every object the step touches is already as it leaves it (refusing when one
/// is in the way).
pub(crate) async fn already_applied<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    phase: Phase,
    step: &Step,
) -> Result<bool> {
    match crate::catalog::step_state::<DB>(conn, step).await? {
        crate::catalog::StepState::Done => Ok(true),
        crate::catalog::StepState::Pending => Ok(false),
        crate::catalog::StepState::Conflict(problems) => Err(Error::Conflict {
            change: change.to_string(),
            phase,
            step: step.name.clone(),
            problems,
        }),
    }
}

pub(crate) struct StepContext<'a> {
    pub change: &'a str,
    pub phase: Phase,
    pub lock_timeout: Duration,
    /// Attempts per DDL step when the lock is not granted in time.
    pub attempts: u32,
    pub pacing: Pacing,
    pub checkpoint: Option<&'a str>,
    pub progress: Progress,
    /// How to wait for every app instance to re-read the schema.
    pub app_refresh: AppRefresh,
    /// The change's table, by every name it has during the change.
    pub tables: Vec<String>,
    /// The Galera cluster the runner works on: checked before each DDL step, and its flow
    /// control and nodes hold a backfill.
    pub cluster: Option<crate::cluster::galera::Cluster>,
    /// The change's own sync triggers, which its backfill may skip (see
    /// [`backfill::run`]).
    pub own_triggers: Vec<String>,
}

/// The ledger row to write for a step, in its transaction when it has one.
pub(crate) struct LedgerEntry<'a> {
    pub direction: Direction,
    pub applied_by: &'a str,
}

pub(crate) struct StepOutcome {
    pub rows: u64,
    pub attempts: u32,
    pub backfill: Option<BackfillReport>,
}

/// Run a step, retrying with jittered backoff while its DDL times out on the lock (or, on
/// PostgreSQL, while sessions on a standby hold its table: see [`standby_readers`]).
pub(crate) async fn run_step<DB: Backend>(
    conn: &mut DB::Connection,
    step: &Step,
    ctx: &mut StepContext<'_>,
    ledger_entry: Option<&LedgerEntry<'_>>,
) -> Result<StepOutcome> {
    let started_ms = backfill::now_ms();
    let started = Instant::now();
    if let Some(cluster) = ctx
        .cluster
        .as_ref()
        .filter(|_| step.scans_table && !rsu(step, ctx))
        && let Some(stall) = cluster.stall_over_limit::<DB>(conn, &ctx.tables).await?
    {
        return Err(Error::ClusterStall(Box::new(crate::error::ClusterStall {
            change: ctx.change.to_string(),
            phase: ctx.phase,
            step: step.name.clone(),
            table: stall.table,
            bytes: stall.bytes,
            estimate: stall.estimate,
            limit: cluster.max_stall.unwrap_or_default(),
            node_by_node: match crate::cluster::rsu::incompatible(step) {
                None => "or run it one node at a time with --galera-rsu".into(),
                Some(why) => format!("it cannot run one node at a time (--galera-rsu): {why}"),
            },
        })));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        tracing::info!(change = ctx.change, phase = %ctx.phase, step = step.name, attempt, "applying");
        // Why this attempt did not go through, when another may.
        let retrying = match blocked::<DB>(conn, step, ctx).await {
            Some(blocked) if attempt >= ctx.attempts => return Err(blocked.refusal(step, ctx)),
            // Like a lock the primary would not grant in time: wait and try again.
            Some(blocked) => blocked.waits_for(),
            None => match run_once::<DB>(
                conn,
                step,
                ctx,
                ledger_entry.map(|e| (e, attempt, started_ms, started)),
            )
            .await
            {
                Ok((rows, backfill)) => {
                    // The next step (and the application reading from standbys) never
                    // runs ahead of a standby.
                    let what = format!("{} {} step `{}`", ctx.change, ctx.phase, step.name);
                    crate::pacing::standby::wait_replayed::<DB>(conn, &ctx.pacing.signals, &what).await?;
                    crate::pacing::replica::wait_applied::<DB>(conn, &ctx.pacing.signals, &what).await?;
                    return Ok(StepOutcome {
                        rows,
                        attempts: attempt,
                        backfill,
                    });
                }
                Err(Error::Sql(sqlx::Error::Database(e)))
                    if step.ddl && render::is_lock_timeout(DB::DIALECT, e.code().as_deref(), e.message()) =>
                {
                    if attempt >= ctx.attempts {
                        return Err(Error::LockNotGranted {
                            change: ctx.change.to_string(),
                            phase: ctx.phase,
                            step: step.name.clone(),
                            table: ctx
                                .tables
                                .first()
                                .map_or_else(|| "its table".to_string(), |t| format!("`{t}`")),
                            lock_timeout: ctx.lock_timeout,
                            attempts: attempt,
                            cause: e.message().to_string(),
                        });
                    }
                    tracing::warn!(
                        change = ctx.change, phase = %ctx.phase, step = step.name, attempt, error = %e,
                        "lock not granted within the lock timeout; retrying"
                    );
                    format!("could not get its lock within {:?}", ctx.lock_timeout)
                }
                Err(e) => return Err(e),
            },
        };
        let delay = crate::retry::backoff(attempt, Duration::from_millis(200), Duration::from_secs(10));
        crate::targets::label::note!(
            "  {} {}: step {} {retrying} (attempt {attempt}/{}); retrying in {delay:.1?}",
            ctx.change,
            ctx.phase,
            step.name,
            ctx.attempts
        );
        tokio::time::sleep(delay).await;
    }
}

/// What keeps a step from running now, though it may run later.
enum Blocked {
    /// Sessions on a PostgreSQL standby hold locks on the step's table.
    StandbyReaders { standby: String, sessions: Vec<String> },
    /// A Galera node is not fit for the step's DDL.
    Cluster(Vec<String>),
}

impl Blocked {
    fn waits_for(&self) -> String {
        match self {
            Blocked::StandbyReaders { standby, sessions } => {
                format!(
                    "waits for sessions on the standby {standby} to end ({})",
                    sessions.join("; ")
                )
            }
            Blocked::Cluster(problems) => format!("waits for the Galera cluster ({})", problems.join("; ")),
        }
    }

    /// The refusal once the step's attempts are spent.
    fn refusal(self, step: &Step, ctx: &StepContext<'_>) -> Error {
        let (change, phase, step) = (ctx.change.to_string(), ctx.phase, step.name.clone());
        match self {
            Blocked::StandbyReaders { standby, sessions } => Error::StandbyReaders {
                change,
                phase,
                step,
                table: ctx.tables.join(" / "),
                standby,
                sessions,
            },
            Blocked::Cluster(problems) => Error::ClusterNotReady {
                change,
                phase,
                step,
                problems,
            },
        }
    }
}

/// Whether the step runs one Galera node at a time (see [`crate::cluster::rsu`]).
fn rsu(step: &Step, ctx: &StepContext<'_>) -> bool {
    step.scans_table
        && ctx.cluster.as_ref().is_some_and(|c| c.rsu)
        && crate::cluster::rsu::incompatible(step).is_none()
}

/// Whether the step must wait: on a Galera cluster, a DDL step waits until every node is
/// fit for it ([`crate::cluster::galera::Cluster::precheck`]); on PostgreSQL, a step taking
/// an `ACCESS EXCLUSIVE` lock waits for standby sessions on its table.
async fn blocked<DB: Backend>(
    conn: &mut DB::Connection,
    step: &Step,
    ctx: &StepContext<'_>,
) -> Option<Blocked> {
    if let Some(cluster) = ctx.cluster.as_ref().filter(|_| step.ddl) {
        // Run one node at a time, the nodes may differ in what the step changes meanwhile.
        let problems = cluster.precheck::<DB>(conn, &ctx.tables, !rsu(step, ctx)).await;
        if !problems.is_empty() {
            return Some(Blocked::Cluster(problems));
        }
    }
    standby_readers::<DB>(step, ctx)
        .await
        .map(|(standby, sessions)| Blocked::StandbyReaders { standby, sessions })
}

/// Before a step that takes an `ACCESS EXCLUSIVE` lock on PostgreSQL: the first
/// `--standby-url` (masked) with sessions holding locks on its table, and those sessions
/// — waited for up to the lock timeout, as the primary's own lock is. The standby would
/// replay the lock only once they end, every read of the table there queued behind it.
/// `None`: none, or nothing to check.
async fn standby_readers<DB: Backend>(step: &Step, ctx: &StepContext<'_>) -> Option<(String, Vec<String>)> {
    let signals = &ctx.pacing.signals;
    if DB::DIALECT != straddle_core::Dialect::Postgres
        || step.lock != Some(straddle_core::step::TableLock::AccessExclusive)
        || signals.max_replica_lag.is_none()
    {
        return None;
    }
    for url in &signals.standby_urls {
        let masked = crate::error::mask_url(url);
        let sessions =
            crate::pacing::standby::readers_within::<DB>(url, &masked, &ctx.tables, ctx.lock_timeout).await;
        if !sessions.is_empty() {
            return Some((masked, sessions));
        }
    }
    None
}

type Ledgered<'a, 'b> = Option<(&'a LedgerEntry<'b>, u32, i64, Instant)>;

async fn run_once<DB: Backend>(
    conn: &mut DB::Connection,
    step: &Step,
    ctx: &mut StepContext<'_>,
    ledger_entry: Ledgered<'_, '_>,
) -> Result<(u64, Option<BackfillReport>)> {
    if step.transactional {
        let (set, _) = lock_timeout_sql::<DB>(step, ctx);
        let mut tx = match render::begin_sql(DB::DIALECT, step.ddl) {
            Some(begin) => conn.begin_with(begin).await?,
            None => conn.begin().await?,
        };
        let result = async {
            for sql in set {
                DB::execute(&mut tx, sql, Default::default()).await?;
            }
            let (rows, report) = run_statements::<DB>(&mut tx, step, ctx).await?;
            // In the transaction: a step that did not do what it claims is rolled back, and
            // never recorded.
            crate::catalog::postcheck::<DB>(&mut tx, ctx.change, ctx.phase, step).await?;
            if let Some(entry) = ledger_entry {
                record::<DB>(&mut tx, ctx, step, entry, rows).await?;
            }
            Ok::<_, Error>((rows, report))
        }
        .await;
        finish::<DB, _>(tx, result).await
    } else {
        let (rows, report) = match ctx.cluster.clone().filter(|_| rsu(step, ctx)) {
            Some(cluster) => (
                crate::cluster::rsu::node_by_node::<DB>(&cluster, conn, step, ctx).await?,
                None,
            ),
            None => run_alone::<DB>(conn, step, ctx).await?,
        };
        crate::catalog::postcheck::<DB>(conn, ctx.change, ctx.phase, step).await?;
        if let Some(entry) = ledger_entry {
            record::<DB>(conn, ctx, step, entry, rows).await?;
        }
        Ok((rows, report))
    }
}

/// The statements bounding a step's lock waits, and those undoing them (none for a step
/// that takes no lock worth bounding).
fn lock_timeout_sql<DB: Backend>(step: &Step, ctx: &StepContext<'_>) -> (Vec<String>, Vec<String>) {
    match step.ddl {
        true => render::lock_timeout_sql(
            DB::DIALECT,
            ctx.lock_timeout.as_millis() as u64,
            step.transactional,
        ),
        false => (vec![], vec![]),
    }
}

/// A step outside a transaction: its statements under the lock timeout, which is reset
/// afterwards whatever they did.
pub(crate) async fn run_alone<DB: Backend>(
    conn: &mut DB::Connection,
    step: &Step,
    ctx: &mut StepContext<'_>,
) -> Result<(u64, Option<BackfillReport>)> {
    let (set, reset) = lock_timeout_sql::<DB>(step, ctx);
    for sql in set {
        DB::execute(conn, sql, Default::default()).await?;
    }
    let result = run_statements::<DB>(conn, step, ctx).await;
    for sql in reset {
        DB::execute(conn, sql, Default::default()).await?;
    }
    result
}

/// Commit on success; on failure roll back now — sqlx only queues a dropped
/// transaction's rollback until the connection is used again, and the locks the failed
/// statements took would be held until then.
pub(crate) async fn finish<DB: Backend, T>(tx: sqlx::Transaction<'_, DB>, result: Result<T>) -> Result<T> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

async fn record<DB: Backend>(
    conn: &mut DB::Connection,
    ctx: &StepContext<'_>,
    step: &Step,
    (entry, attempts, started_ms, started): (&LedgerEntry<'_>, u32, i64, Instant),
    rows: u64,
) -> Result<()> {
    LedgerRecord {
        change: ctx.change,
        phase: ctx.phase,
        direction: entry.direction,
        step: &step.name,
        checksum: &step.checksum(),
        status: "applied",
        started_ms,
        took: started.elapsed(),
        rows,
        attempts,
        applied_by: entry.applied_by,
        note: None,
    }
    .insert::<DB>(conn)
    .await
}

/// One ledger row to write.
pub(crate) struct LedgerRecord<'a> {
    pub change: &'a str,
    pub phase: Phase,
    pub direction: Direction,
    /// Empty for a phase-completion row.
    pub step: &'a str,
    pub checksum: &'a str,
    /// `started`, `applied`, `skipped` or `completed`.
    pub status: &'a str,
    pub started_ms: i64,
    pub took: Duration,
    pub rows: u64,
    pub attempts: u32,
    pub applied_by: &'a str,
    /// Kept in the row's `error` column: what went wrong, or what an override overrode.
    pub note: Option<String>,
}

impl<'a> LedgerRecord<'a> {
    /// A row for a step that touched nothing — found applied, just begun, overridden —
    /// stamped now: no duration, no rows, one attempt, no note.
    pub(crate) fn untouched(
        change: &'a str,
        (phase, direction): (Phase, Direction),
        step: &'a str,
        checksum: &'a str,
        status: &'a str,
        applied_by: &'a str,
    ) -> Self {
        LedgerRecord {
            change,
            phase,
            direction,
            step,
            checksum,
            status,
            started_ms: backfill::now_ms(),
            took: Duration::ZERO,
            rows: 0,
            attempts: 1,
            applied_by,
            note: None,
        }
    }

    pub(crate) async fn insert<DB: Backend>(&self, conn: &mut DB::Connection) -> Result<()> {
        let mut args = DB::Arguments::default();
        let text = |args: &mut DB::Arguments, s: &str| {
            DB::bind_key(args, &Key::Text(s.to_string())).map_err(sqlx::Error::Encode)
        };
        let int = |args: &mut DB::Arguments, i: i64| DB::bind_i64(args, i).map_err(sqlx::Error::Encode);
        let took = self.took.as_millis() as i64;
        for t in [
            self.change,
            self.phase.key(),
            self.direction.key(),
            self.step,
            self.checksum,
            self.status,
        ] {
            text(&mut args, t)?;
        }
        for i in [
            self.started_ms,
            self.started_ms + took,
            took,
            self.rows as i64,
            self.attempts as i64,
        ] {
            int(&mut args, i)?;
        }
        text(&mut args, self.applied_by)?;
        DB::bind_optional_text(&mut args, self.note.clone()).map_err(sqlx::Error::Encode)?;
        DB::execute(conn, ledger::insert_sql(DB::DIALECT), args).await?;
        Ok(())
    }
}

async fn run_statements<DB: Backend>(
    conn: &mut DB::Connection,
    step: &Step,
    ctx: &mut StepContext<'_>,
) -> Result<(u64, Option<BackfillReport>)> {
    let mut rows = 0;
    let mut report = None;
    for statement in &step.statements {
        match statement {
            Statement::Execute(sql) => {
                DB::execute(conn, sql.clone(), Default::default()).await?;
            }
            Statement::Assert { sql, message, sample } => {
                let count = DB::scalar_i64(conn, sql.clone(), Default::default())
                    .await?
                    .unwrap_or(0);
                if count != 0 {
                    let sample = match sample {
                        Some(q) => DB::texts(conn, q.clone()).await.unwrap_or_default(),
                        None => Vec::new(),
                    };
                    return Err(Error::Refused {
                        change: ctx.change.to_string(),
                        phase: ctx.phase,
                        step: step.name.clone(),
                        message: message.clone(),
                        count,
                        sample,
                    });
                }
            }
            Statement::Rebuild(r) => rebuild_table::<DB>(conn, r).await?,
            Statement::Live(live) => {
                for sql in live_statements::<DB>(conn, live).await? {
                    DB::execute(conn, sql, Default::default()).await?;
                }
            }
            Statement::Capture { table } => capture_table::<DB>(conn, ctx.change, table).await?,
            Statement::Restore(r) => {
                for sql in restore_table::<DB>(conn, ctx.change, r).await? {
                    DB::execute(conn, sql, Default::default()).await?;
                }
            }
            Statement::When { probe, sql } => {
                if DB::scalar_i64(conn, probe.clone(), Default::default())
                    .await?
                    .unwrap_or(0)
                    > 0
                {
                    DB::execute(conn, sql.clone(), Default::default()).await?;
                }
            }
            Statement::AwaitAppRefresh => match ctx.app_refresh {
                AppRefresh::Sleep(d) => tokio::time::sleep(d).await,
                AppRefresh::Acknowledged { within } => {
                    let tables: Vec<&str> = ctx.tables.iter().map(String::as_str).collect();
                    let mode = ctx.progress.mode();
                    if let Err((generation, laggards)) =
                        crate::fleet::gate::await_refresh::<DB>(conn, &tables, within, mode).await?
                    {
                        return Err(Error::FleetLagging {
                            change: ctx.change.to_string(),
                            phase: ctx.phase,
                            step: step.name.clone(),
                            generation,
                            laggards,
                            waited: within,
                        });
                    }
                }
            },
            Statement::Backfill(b) => {
                let r = backfill::run::<DB>(
                    conn,
                    b,
                    &ctx.pacing,
                    ctx.cluster.as_ref(),
                    Checkpoint(ctx.checkpoint),
                    &ctx.own_triggers,
                    &mut ctx.progress,
                )
                .await?;
                rows += r.rows;
                report = Some(r);
            }
        }
    }
    Ok((rows, report))
}

/// Keep `table`'s definition (see `render::table_definition`) under `change`.
async fn capture_table<DB: Backend>(conn: &mut DB::Connection, change: &str, table: &str) -> Result<()> {
    use render::table_definition::{Capture, capture, mysql_show_trigger};
    let statements = match capture(DB::DIALECT, table) {
        Capture::Statements(sql) => {
            let mut out = DB::texts(conn, sql).await?;
            let counters = render::table_definition::SQLITE_HAS_SEQUENCES;
            if DB::DIALECT == straddle_core::Dialect::Sqlite
                && !out.is_empty()
                && DB::scalar_i64(conn, counters.into(), Default::default()).await? == Some(1)
            {
                out.extend(DB::texts(conn, render::table_definition::sqlite_sequence(table)).await?);
            }
            out
        }
        Capture::MySql { show_table, triggers } => {
            let mut out = Vec::new();
            match DB::column_text(conn, show_table, 1).await {
                Ok(Some(create)) => out.push(create),
                // Already dropped (a run that died after the drop): nothing to keep.
                Ok(None) => return Ok(()),
                Err(sqlx::Error::Database(e))
                    if render::is_undefined_table(DB::DIALECT, e.code().as_deref(), e.message()) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
            for trigger in DB::texts(conn, triggers).await? {
                if let Some(sql) = DB::column_text(conn, mysql_show_trigger(&trigger), 2).await? {
                    out.push(sql);
                }
            }
            out
        }
    };
    if statements.is_empty() {
        return Ok(()); // gone already
    }
    DB::execute(
        conn,
        ledger::definitions_create_sql(DB::DIALECT),
        Default::default(),
    )
    .await?;
    let mut args = DB::Arguments::default();
    DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
    DB::bind_key(
        &mut args,
        &Key::Text(serde_json::to_string(&statements).expect("serializes")),
    )
    .map_err(sqlx::Error::Encode)?;
    DB::bind_i64(&mut args, backfill::now_ms()).map_err(sqlx::Error::Encode)?;
    DB::execute(conn, ledger::definition_put_sql(DB::DIALECT), args).await?;
    Ok(())
}

/// The statements re-creating a table: as kept under `change`, else the model's.
async fn restore_table<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    r: &straddle_core::step::TableRestore,
) -> Result<Vec<String>> {
    DB::execute(
        conn,
        ledger::definitions_create_sql(DB::DIALECT),
        Default::default(),
    )
    .await?;
    let mut args = DB::Arguments::default();
    DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
    let kept = DB::scalar_text(conn, ledger::definition_get_sql(DB::DIALECT), args).await?;
    match kept {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| Error::Schema(format!("the definition kept for {} is unreadable: {e}", r.table))),
        None => Ok(r.fallback.clone()),
    }
}

/// A statement written from the live definition of its column.
async fn live_statements<DB: Backend>(conn: &mut DB::Connection, live: &LiveSql) -> Result<Vec<String>> {
    use render::live::{CarriedDefault, carried_default, converted, mysql_set_default, mysql_value_sql};
    let (table, column) = render::live::subject(live);
    let json = DB::texts(conn, render::live::definition_query(DB::DIALECT, live))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Schema(format!("{table} has no column {column}")))?;
    let def: render::live::ColumnDefinition = serde_json::from_str(&json).map_err(|e| {
        Error::Schema(format!(
            "reading the definition of {table}.{column}: {e} ({json})"
        ))
    })?;
    match live {
        LiveSql::CarryDefault {
            dialect: straddle_core::Dialect::MySql,
            table,
            from,
            to,
            convert,
        } => Ok(match carried_default(DB::DIALECT, &def) {
            CarriedDefault::None => Vec::new(),
            // The engine converts the value, as it converts every value the trigger copies.
            CarriedDefault::Constant(v) => {
                match DB::scalar_text(conn, mysql_value_sql(convert, &v), Default::default()).await? {
                    Some(value) => vec![mysql_set_default(table, to, &DB::DIALECT.string_literal(&value))],
                    None => Vec::new(),
                }
            }
            CarriedDefault::Expression(e) if convert.text.starts_with("the engine's conversion") => {
                vec![mysql_set_default(table, to, &e)]
            }
            CarriedDefault::Expression(e) => {
                return Err(Error::Schema(format!(
                    "{table}.{from} has the expression default {e}, which Straddle cannot convert with `{}`: set the \
                     default of {to} by hand, then run again",
                    convert.text
                )));
            }
        }),
        LiveSql::CarryDefault {
            dialect: straddle_core::Dialect::Sqlite,
            table,
            to,
            convert,
            ..
        } => {
            let (CarriedDefault::Constant(v) | CarriedDefault::Expression(v)) =
                carried_default(DB::DIALECT, &def)
            else {
                return Ok(Vec::new());
            };
            let create = DB::texts(conn, sqlite_rebuild::create_table_sql(table))
                .await?
                .join(" ");
            let clauses = sqlite_rebuild::unreproducible_clauses(&create);
            if !clauses.is_empty() {
                return Err(Error::Schema(format!(
                    "SQLite can give {table}.{to} the default of the column it replaces only by rebuilding the \
                     table, and its definition has clauses a rebuild would lose ({}): set the default by hand, then \
                     run again",
                    clauses.join(", ")
                )));
            }
            let r = TableRebuild {
                table: table.clone(),
                column: to.clone(),
                not_null: None,
                default: Some(Some(format!("({})", converted(DB::DIALECT, convert, &v)))),
            };
            rebuild_statements::<DB>(conn, &r).await
        }
        _ => render::live::statements(live, &def).map_err(Error::Schema),
    }
}

/// SQLite's table rebuild: read the live columns and the indexes' and triggers' SQL, then
/// run the statements rebuilt from them (inside the step's transaction).
async fn rebuild_table<DB: Backend>(conn: &mut DB::Connection, r: &TableRebuild) -> Result<()> {
    for sql in rebuild_statements::<DB>(conn, r).await? {
        DB::execute(conn, sql, Default::default()).await?;
    }
    Ok(())
}

/// The statements of a SQLite rebuild, from the table as it is now.
async fn rebuild_statements<DB: Backend>(conn: &mut DB::Connection, r: &TableRebuild) -> Result<Vec<String>> {
    let live = DB::texts(conn, sqlite_rebuild::columns_sql(&r.table))
        .await?
        .iter()
        .map(|json| serde_json::from_str::<sqlite_rebuild::LiveColumn>(json))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Schema(format!("reading the columns of {}: {e}", r.table)))?;
    let uniques = DB::texts(conn, sqlite_rebuild::uniques_sql(&r.table))
        .await?
        .iter()
        .map(|json| serde_json::from_str::<Vec<String>>(json))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Schema(format!("reading the UNIQUE constraints of {}: {e}", r.table)))?;
    let dependents = DB::texts(conn, sqlite_rebuild::dependents_sql(&r.table)).await?;
    sqlite_rebuild::statements(r, &live, &uniques, &dependents).map_err(Error::Schema)
}
