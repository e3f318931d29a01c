//! The backfill engine: keyset batches by primary key, never OFFSET. Each batch finds its
//! upper key first (an index-only range read), then runs one ranged UPDATE of the rows
//! still NULL, in its own short transaction with its own lock and statement timeouts —
//! together with the checkpoint (last key, rows done), so a killed run resumes exactly
//! where it stopped. The batch size adapts to a target batch duration; a rows/s cap and
//! a pause between batches pace it.

use crate::backend::{Backend, Key};
use crate::error::{Error, Result};
use crate::pacing::{SignalOptions, Signals};
use crate::progress::Progress;
use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle_core::model::Throttle;
use straddle_core::render::{self, ledger};
use straddle_core::step::Backfill;

/// How a backfill runs. Unset values come from the model's `added(...)` attributes, then
/// from the defaults.
#[derive(Clone, Debug, Default)]
pub struct BackfillOptions {
    /// Target duration of one batch (default 50 ms): short enough that a row lock held by
    /// the batch never stalls the application for long.
    pub batch_time: Option<Duration>,
    /// Upper bound on rows filled per second.
    pub max_rows_per_sec: Option<u64>,
    /// Pause between batches.
    pub pause: Option<Duration>,
    /// Rows in the first batch (default 1000); later batches adapt.
    pub initial_batch: Option<u64>,
    /// Fixed batch size: no adaptation (for benchmarks and tests).
    pub fixed_batch: Option<u64>,
    /// Statement timeout of one batch (default 30 s).
    pub statement_timeout: Option<Duration>,
    /// What holds the backfill between batches: standby lag, server load.
    pub signals: SignalOptions,
}

/// The default target duration of one batch (the batch size adapts to it).
pub const DEFAULT_BATCH_TIME: Duration = Duration::from_millis(50);
const MIN_BATCH: u64 = 10;
const MAX_BATCH: u64 = 200_000;
const BATCH_ATTEMPTS: u32 = 8;

/// Effective pacing: run options over model attributes over defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Pacing {
    pub batch_time: Duration,
    pub max_rows_per_sec: Option<u64>,
    pub pause: Duration,
    pub initial_batch: u64,
    pub fixed_batch: Option<u64>,
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    pub signals: SignalOptions,
}

impl Pacing {
    pub fn new(run: &BackfillOptions, model: &Throttle, lock_timeout: Duration) -> Pacing {
        Pacing {
            batch_time: run
                .batch_time
                .or(model.batch_time_ms.map(Duration::from_millis))
                .unwrap_or(DEFAULT_BATCH_TIME),
            max_rows_per_sec: run.max_rows_per_sec.or(model.max_rows_per_sec),
            pause: run
                .pause
                .or(model.pause_ms.map(Duration::from_millis))
                .unwrap_or_default(),
            initial_batch: run
                .fixed_batch
                .or(run.initial_batch)
                .unwrap_or(1000)
                .clamp(1, MAX_BATCH),
            fixed_batch: run.fixed_batch,
            statement_timeout: run.statement_timeout.unwrap_or(Duration::from_secs(30)),
            lock_timeout,
            signals: SignalOptions {
                max_replica_lag: stricter(
                    run.signals.max_replica_lag,
                    model.max_replica_lag_ms.map(Duration::from_millis),
                ),
                max_load: stricter(
                    run.signals.max_load,
                    model.max_load.map(|n| n.min(u64::from(u32::MAX)) as u32),
                ),
                ..run.signals.clone()
            },
        }
    }
}

/// A signal's limit where the run and the model may each set one: the lower — a model
/// declares what its table's backfill must not exceed, and a run does not loosen it (a
/// run's `off` leaves the model's).
fn stricter<T: Ord>(run: Option<T>, model: Option<T>) -> Option<T> {
    match (run, model) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Where a backfill keeps its checkpoint: `Some(change_id)` in the ledger's checkpoint
/// table, `None` for no checkpoint (the direct `apply_phase` path).
pub struct Checkpoint<'a>(pub Option<&'a str>);

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
/// What a backfill did.
pub struct BackfillReport {
    /// Rows this run filled.
    pub rows: u64,
    /// Batches run.
    pub batches: u64,
    /// Rows filled by earlier, interrupted runs (resumed from their checkpoint).
    pub resumed_rows: u64,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
    /// Batches retried after a lock or statement timeout.
    pub retried_batches: u64,
    /// Milliseconds the backfill waited for its pacing signals (standby lag, load).
    pub throttled_ms: u64,
    /// What made it wait, in the order first seen (`replica lag`, `load`).
    pub throttled_by: Vec<String>,
}

/// `key` as `b`'s range comparisons bind it: its values in order, or for a composite key
/// compared by expansion (MySQL/MariaDB) `k1`, `k1, k2`, `k1, k2, k3`, … (see
/// [`Backfill::key_columns`]).
fn bound(b: &Backfill, key: &Key) -> Key {
    match key {
        Key::Tuple(values) if b.expanded_binds => Key::Tuple(
            (1..=values.len())
                .flat_map(|n| values[..n].iter().cloned())
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Fill `b`'s column in keyset batches, from the checkpoint's key when there is one.
///
/// `own_triggers` are the change's sync triggers: on PostgreSQL, where they are the only
/// triggers of the table (no rule, no foreign key over the column), the session skips
/// them (`session_replication_role = replica`, where the role may set it) — their `WHEN`
/// is false for every row the backfill writes, and evaluating it per row costs ~12 % of
/// the UPDATE. Other sessions' writes fire them as ever.
#[allow(clippy::too_many_arguments)]
pub async fn run<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    pacing: &Pacing,
    cluster: Option<&crate::cluster::galera::Cluster>,
    checkpoint: Checkpoint<'_>,
    own_triggers: &[String],
    progress: &mut Progress,
) -> Result<BackfillReport> {
    let started = Instant::now();
    let mut report = BackfillReport::default();
    let (last, done) = match checkpoint.0 {
        Some(change) => load_checkpoint::<DB>(conn, change, b).await?,
        None => (None, 0),
    };
    report.resumed_rows = done;
    let remaining = DB::scalar_i64(conn, b.remaining_sql.clone(), Default::default())
        .await?
        .unwrap_or(0);
    progress.start(
        &format!("{}.{}", b.table, b.column),
        done,
        done + remaining.max(0) as u64,
    );

    let one_statement = b.one_statement.as_ref().zip(checkpoint.0);
    let (setup, mut reset) = match one_statement {
        Some(_) => ledger::backfill_session_sql(
            DB::DIALECT,
            pacing.lock_timeout.as_millis() as u64,
            pacing.statement_timeout.as_millis() as u64,
        ),
        None => (vec![], vec![]),
    };
    for sql in setup {
        DB::execute(conn, sql, Default::default()).await?;
    }
    if one_statement.is_some() && DB::DIALECT == straddle_core::Dialect::Postgres && !own_triggers.is_empty()
    {
        let others = ledger::triggers_skippable_sql(&b.table, &b.column, own_triggers);
        let [skip, back] = ledger::SKIP_TRIGGERS_SQL;
        if DB::scalar_i64(conn, others, Default::default())
            .await
            .ok()
            .flatten()
            == Some(0)
        {
            match DB::execute(conn, skip.to_string(), Default::default()).await {
                Ok(_) => reset.push(back.to_string()),
                Err(e) => tracing::debug!(error = %e, "the backfill's session fires the sync triggers"),
            }
        }
    }
    let result = fill::<DB>(
        conn,
        b,
        pacing,
        cluster,
        checkpoint,
        one_statement,
        progress,
        &mut report,
        last,
        done,
    )
    .await;
    // The session's settings go back whatever happened (the connection is the runner's);
    // the batches' own error, if any, is the one to report.
    let mut reset_result = Ok(());
    for sql in reset {
        if let Err(e) = DB::execute(conn, sql, Default::default()).await {
            reset_result = Err(e);
        }
    }
    let done = result?;
    reset_result?;
    let left = missed::<DB>(conn, b).await?;
    if left > 0 {
        let sample = DB::texts(conn, b.missed_sample_sql.clone())
            .await
            .unwrap_or_default();
        let what = b.missed_message.as_deref().unwrap_or(
            "still have it NULL where it has a value (e.g. keys {keys}): something else writes NULL into it",
        );
        return Err(Error::Schema(format!(
            "the backfill of {}.{} finished but {left} rows {}",
            b.table,
            b.column,
            what.replace("{keys}", &sample.join(", "))
        )));
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    progress.finish(done);
    Ok(report)
}

/// The batches, and one more pass from the first key if a row was left behind.
#[allow(clippy::too_many_arguments)]
async fn fill<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    pacing: &Pacing,
    cluster: Option<&crate::cluster::galera::Cluster>,
    checkpoint: Checkpoint<'_>,
    one_statement: Option<(&[String; 2], &str)>,
    progress: &mut Progress,
    report: &mut BackfillReport,
    last: Option<Key>,
    done: u64,
) -> Result<u64> {
    let mut signals = Signals::<DB>::new(
        &pacing.signals,
        cluster.cloned(),
        format!("the backfill of {}.{}", b.table, b.column),
    );
    let mut result = batches::<DB>(
        conn,
        b,
        pacing,
        checkpoint.0,
        one_statement,
        progress,
        report,
        &mut signals,
        last,
        done,
    )
    .await;
    // Nothing may be left behind. A row can be only where the run did not look: before a
    // checkpoint that was not this column's. One more pass from the first key fills it.
    if let Ok(done) = result
        && missed::<DB>(conn, b).await? > 0
    {
        tracing::warn!(
            table = b.table,
            column = b.column,
            "rows left unfilled; scanning again from the first key"
        );
        result = batches::<DB>(
            conn,
            b,
            pacing,
            checkpoint.0,
            one_statement,
            progress,
            report,
            &mut signals,
            None,
            done,
        )
        .await;
    }
    report.throttled_ms = signals.held.as_millis() as u64;
    report.throttled_by = std::mem::take(&mut signals.reasons);
    result
}

/// Rows the backfill should have filled and did not.
async fn missed<DB: Backend>(conn: &mut DB::Connection, b: &Backfill) -> Result<i64> {
    if b.missed_sql.is_empty() {
        return Ok(0);
    }
    Ok(DB::scalar_i64(conn, b.missed_sql.clone(), Default::default())
        .await?
        .unwrap_or(0))
}

/// The batch loop; returns the rows done in all (this run and resumed ones).
#[allow(clippy::too_many_arguments)]
async fn batches<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    pacing: &Pacing,
    checkpoint: Option<&str>,
    one_statement: Option<(&[String; 2], &str)>,
    progress: &mut Progress,
    report: &mut BackfillReport,
    signals: &mut Signals<DB>,
    mut last: Option<Key>,
    mut done: u64,
) -> Result<u64> {
    let started = Instant::now();
    let mut batch = pacing.initial_batch;
    loop {
        let batch_started = Instant::now();
        let mut attempt = 0;
        let step = loop {
            attempt += 1;
            let result = match one_statement {
                Some((sql, change)) => {
                    batch_in_one_statement::<DB>(conn, b, sql, change, last.as_ref(), batch, done).await
                }
                None => match upper_key::<DB>(conn, b, last.as_ref(), batch).await {
                    Ok(Some(upper)) => {
                        fill_batch::<DB>(conn, b, pacing, last.as_ref(), &upper, checkpoint, done)
                            .await
                            .map(|rows| Some((upper, rows)))
                    }
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(step) => break step,
                // A statement that fails for a row of the batch (the expression divides by
                // zero, a value does not convert): find that row and name its key.
                Err(Error::Sql(sqlx::Error::Database(e)))
                    if !render::is_lock_timeout(DB::DIALECT, e.code().as_deref(), e.message())
                        && e.code().as_deref() != Some("57014") =>
                {
                    let cause = e.message().to_string();
                    match row_by_row::<DB>(
                        conn,
                        b,
                        pacing,
                        checkpoint,
                        one_statement,
                        last.clone(),
                        batch,
                        done,
                    )
                    .await?
                    {
                        RowByRow::Failed(key) => {
                            return Err(Error::BackfillRow {
                                table: b.table.clone(),
                                column: b.column.clone(),
                                key: key.text(),
                                cause,
                            });
                        }
                        // Every row went through one by one: the batch failed for another
                        // reason, which has passed; go on after them.
                        RowByRow::Passed(Some((upper, rows))) => break Some((upper, rows)),
                        RowByRow::Passed(None) => break None,
                    }
                }
                Err(Error::Sql(sqlx::Error::Database(e)))
                    if attempt < BATCH_ATTEMPTS
                        && (render::is_lock_timeout(DB::DIALECT, e.code().as_deref(), e.message())
                            || e.code().as_deref() == Some("57014")) =>
                {
                    // A lock held by the application, or the statement timeout: the batch
                    // rolled back; back off and retry it, smaller.
                    report.retried_batches += 1;
                    batch = (batch / 2).max(MIN_BATCH);
                    tracing::warn!(table = b.table, attempt, error = %e, "backfill batch timed out; retrying");
                    let delay =
                        crate::retry::backoff(attempt, Duration::from_millis(50), Duration::from_secs(5));
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        };
        let Some((upper, rows)) = step else { break };
        done += rows;
        report.rows += rows;
        report.batches += 1;
        last = Some(upper);
        progress.set(done);
        crate::stop::check(|| {
            format!(
                "between backfill batches of {}.{}, after {done} rows",
                b.table, b.column
            )
        })?;

        let took = batch_started.elapsed();
        if pacing.fixed_batch.is_none() {
            batch = adapt(batch, took, pacing.batch_time);
        }
        let mut wait = pacing.pause;
        if let Some(cap) = pacing.max_rows_per_sec {
            let due = Duration::from_secs_f64(report.rows as f64 / cap as f64);
            wait = wait.max(due.saturating_sub(started.elapsed()));
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        // Outside the batch's own time: a hold is not the batch being slow.
        signals.hold_while_needed(conn).await?;
    }
    Ok(done)
}

enum RowByRow {
    /// The row that fails, by key.
    Failed(Key),
    /// No row failed: the last key filled and the rows filled (`None`: no row left).
    Passed(Option<(Key, u64)>),
}

/// After a batch failed: the same keys one row at a time (each with its checkpoint), up
/// to the batch's size, to find the row that fails.
#[allow(clippy::too_many_arguments)]
async fn row_by_row<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    pacing: &Pacing,
    checkpoint: Option<&str>,
    one_statement: Option<(&[String; 2], &str)>,
    mut last: Option<Key>,
    batch: u64,
    mut done: u64,
) -> Result<RowByRow> {
    let mut filled = 0;
    let mut upper_seen = None;
    for _ in 0..batch {
        let Some(upper) = upper_key::<DB>(conn, b, last.as_ref(), 1).await? else {
            break;
        };
        let result = match one_statement {
            Some((sql, change)) => batch_in_one_statement::<DB>(conn, b, sql, change, last.as_ref(), 1, done)
                .await
                .map(|r| r.map(|(_, rows)| rows).unwrap_or(0)),
            None => fill_batch::<DB>(conn, b, pacing, last.as_ref(), &upper, checkpoint, done).await,
        };
        match result {
            Ok(rows) => {
                done += rows;
                filled += rows;
                last = Some(upper.clone());
                upper_seen = Some(upper);
            }
            Err(Error::Sql(sqlx::Error::Database(_))) => return Ok(RowByRow::Failed(upper)),
            Err(e) => return Err(e),
        }
    }
    Ok(RowByRow::Passed(upper_seen.map(|k| (k, filled))))
}

/// One batch, one autocommitted statement (upper key, UPDATE, checkpoint).
async fn batch_in_one_statement<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    [first, next]: &[String; 2],
    change: &str,
    last: Option<&Key>,
    batch: u64,
    done: u64,
) -> Result<Option<(Key, u64)>> {
    let mut args = DB::Arguments::default();
    let sql = match last {
        None => first.clone(),
        Some(k) => {
            DB::bind_key(&mut args, k).map_err(sqlx::Error::Encode)?;
            next.clone()
        }
    };
    DB::bind_i64(&mut args, batch as i64).map_err(sqlx::Error::Encode)?;
    DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
    DB::bind_i64(&mut args, done as i64).map_err(sqlx::Error::Encode)?;
    DB::bind_i64(&mut args, now_ms()).map_err(sqlx::Error::Encode)?;
    let (upper, rows) = DB::batch_row(conn, sql, args, b.key_is_integer).await?;
    Ok(upper.map(|k| (k, rows.max(0) as u64)))
}

/// Next batch size: scaled toward the target duration, at most doubling or halving.
fn adapt(batch: u64, took: Duration, target: Duration) -> u64 {
    let ratio = target.as_secs_f64() / took.as_secs_f64().max(1e-4);
    let next = (batch as f64 * ratio.clamp(0.5, 2.0)).round() as u64;
    next.clamp(MIN_BATCH, MAX_BATCH)
}

async fn load_checkpoint<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    b: &Backfill,
) -> Result<(Option<Key>, u64)> {
    let mut args = DB::Arguments::default();
    DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
    let row = DB::checkpoint(conn, ledger::checkpoint_get_sql(DB::DIALECT), args).await?;
    Ok(match row {
        Some((key, done)) => {
            let key = match key {
                // A composite key's checkpoint is its JSON array; one that does not read
                // as one is not this backfill's: start from the first key.
                Some(k) if !b.key_columns.is_empty() => Key::from_json(&k),
                Some(k) if b.key_is_integer => Some(k.parse().map(Key::Int).unwrap_or(Key::Text(k))),
                Some(k) => Some(Key::Text(k)),
                None => None,
            };
            (key, done.max(0) as u64)
        }
        None => (None, 0),
    })
}

async fn upper_key<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    last: Option<&Key>,
    batch: u64,
) -> Result<Option<Key>> {
    let mut args = DB::Arguments::default();
    let sql = match last {
        None => b.first_upper_key_sql.clone(),
        Some(k) => {
            DB::bind_key(&mut args, &bound(b, k)).map_err(sqlx::Error::Encode)?;
            b.upper_key_sql.clone()
        }
    };
    DB::bind_i64(&mut args, batch as i64).map_err(sqlx::Error::Encode)?;
    Ok(if !b.key_columns.is_empty() {
        match DB::scalar_text(conn, sql, args).await? {
            None => None,
            Some(json) => Some(Key::from_json(&json).ok_or_else(|| {
                Error::Schema(format!(
                    "the backfill of {}.{} read the key {json}, which is not a list of integers and strings",
                    b.table, b.column
                ))
            })?),
        }
    } else if b.key_is_integer {
        DB::scalar_i64(conn, sql, args).await?.map(Key::Int)
    } else {
        DB::scalar_text(conn, sql, args).await?.map(Key::Text)
    })
}

async fn fill_batch<DB: Backend>(
    conn: &mut DB::Connection,
    b: &Backfill,
    pacing: &Pacing,
    last: Option<&Key>,
    upper: &Key,
    checkpoint: Option<&str>,
    done: u64,
) -> Result<u64> {
    let mut tx = conn.begin().await?;
    let result = async {
        for sql in ledger::batch_timeouts_sql(
            DB::DIALECT,
            pacing.lock_timeout.as_millis() as u64,
            pacing.statement_timeout.as_millis() as u64,
        ) {
            DB::execute(&mut tx, sql, Default::default()).await?;
        }
        let mut args = DB::Arguments::default();
        let sql = match last {
            None => b.first_update_sql.clone(),
            Some(k) => {
                DB::bind_key(&mut args, &bound(b, k)).map_err(sqlx::Error::Encode)?;
                b.update_sql.clone()
            }
        };
        DB::bind_key(&mut args, &bound(b, upper)).map_err(sqlx::Error::Encode)?;
        let rows = DB::execute(&mut tx, sql, args).await?;
        if let Some(change) = checkpoint {
            let mut args = DB::Arguments::default();
            DB::bind_key(&mut args, &Key::Text(change.to_string())).map_err(sqlx::Error::Encode)?;
            DB::bind_key(&mut args, &Key::Text(upper.text())).map_err(sqlx::Error::Encode)?;
            DB::bind_i64(&mut args, (done + rows) as i64).map_err(sqlx::Error::Encode)?;
            DB::bind_i64(&mut args, now_ms()).map_err(sqlx::Error::Encode)?;
            DB::execute(&mut tx, ledger::checkpoint_put_sql(DB::DIALECT), args).await?;
        }
        Ok::<_, Error>(rows)
    }
    .await;
    crate::apply::finish::<DB, _>(tx, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_moves_toward_the_target_within_bounds() {
        let target = Duration::from_millis(50);
        assert_eq!(adapt(1000, Duration::from_millis(25), target), 2000);
        assert_eq!(
            adapt(1000, Duration::from_millis(10), target),
            2000,
            "at most doubles"
        );
        assert_eq!(
            adapt(1000, Duration::from_millis(500), target),
            500,
            "at most halves"
        );
        assert_eq!(adapt(MAX_BATCH, Duration::from_millis(1), target), MAX_BATCH);
        assert_eq!(adapt(MIN_BATCH, Duration::from_secs(9), target), MIN_BATCH);
    }

    #[test]
    fn signal_limits_are_the_stricter_of_run_and_model() {
        let model = Throttle {
            max_replica_lag_ms: Some(300),
            max_load: Some(40),
            ..Default::default()
        };
        // The defaults (1.5 s, 25) against the model's: the lower of each.
        let p = Pacing::new(&BackfillOptions::default(), &model, Duration::from_secs(1));
        assert_eq!(p.signals.max_replica_lag, Some(Duration::from_millis(300)));
        assert_eq!(p.signals.max_load, Some(25));
        // A run's `off` does not loosen the model's limit.
        let off = BackfillOptions {
            signals: SignalOptions {
                max_replica_lag: None,
                max_load: None,
                ..Default::default()
            },
            ..Default::default()
        };
        let p = Pacing::new(&off, &model, Duration::from_secs(1));
        assert_eq!(p.signals.max_replica_lag, Some(Duration::from_millis(300)));
        assert_eq!(p.signals.max_load, Some(40));
        let p = Pacing::new(&off, &Throttle::default(), Duration::from_secs(1));
        assert_eq!((p.signals.max_replica_lag, p.signals.max_load), (None, None));
    }

    #[test]
    fn run_options_override_model_attributes_which_override_defaults() {
        let model = Throttle {
            max_rows_per_sec: Some(500),
            pause_ms: Some(7),
            batch_time_ms: Some(100),
            ..Default::default()
        };
        let run = BackfillOptions {
            max_rows_per_sec: Some(900),
            ..Default::default()
        };
        let p = Pacing::new(&run, &model, Duration::from_secs(1));
        assert_eq!(p.max_rows_per_sec, Some(900));
        assert_eq!(p.pause, Duration::from_millis(7));
        assert_eq!(p.batch_time, Duration::from_millis(100));
        let p = Pacing::new(
            &BackfillOptions::default(),
            &Throttle::default(),
            Duration::from_secs(1),
        );
        assert_eq!(
            (p.batch_time, p.pause, p.initial_batch),
            (DEFAULT_BATCH_TIME, Duration::ZERO, 1000)
        );
    }
}
