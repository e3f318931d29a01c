//! Apply one phase of one change: its steps in order, each guarded by its skip probe,
//! DDL under a lock timeout, assertions checked, backfills run in keyset batches.
//!
//! This is the direct path (no ledger); `Runner` adds the ledger, the advisory lock and
//! retries on top of the same step execution.

use crate::backend::{Backend, Key};
use crate::error::{Error, Result};
use sqlx::Connection;
use std::time::Duration;
use straddle_core::step::{Backfill, Direction, Statement, Step};
use straddle_core::{Model, Phase, render};

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// How long a DDL statement may wait for its table lock before failing.
    pub lock_timeout: Duration,
    /// Rows per backfill batch.
    pub batch_size: u64,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            lock_timeout: Duration::from_secs(2),
            batch_size: 1000,
        }
    }
}

/// What applying a phase did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhaseReport {
    pub applied: Vec<String>,
    pub skipped: Vec<String>,
    pub rows_backfilled: u64,
}

/// The steps of one phase of the change on `column`, for this backend.
pub fn phase_steps(
    model: &Model,
    column: &str,
    phase: Phase,
    direction: Direction,
    dialect: straddle_core::Dialect,
) -> Result<Vec<Step>> {
    let plan = straddle_core::plan_model(model)
        .into_iter()
        .find(|p| p.column == column)
        .ok_or_else(|| Error::UnknownChange {
            model: model.rust_name.clone(),
            column: column.to_string(),
        })?;
    Ok(render::render_phase(dialect, model, &plan, phase, direction))
}

/// Apply `phase` of the change on `column` in `direction`, on one connection.
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
    let mut report = PhaseReport::default();
    for step in &steps {
        if let Some(probe) = &step.skip_if
            && DB::scalar_i64(conn, probe.clone(), Default::default())
                .await?
                .unwrap_or(0)
                > 0
        {
            tracing::info!(change, %phase, step = step.name, "already applied; skipped");
            report.skipped.push(step.name.clone());
            continue;
        }
        tracing::info!(change, %phase, step = step.name, direction = direction.key(), "applying");
        report.rows_backfilled += run_step::<DB>(conn, &change, phase, step, options).await?;
        report.applied.push(step.name.clone());
    }
    Ok(report)
}

async fn run_step<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    phase: Phase,
    step: &Step,
    options: &ApplyOptions,
) -> Result<u64> {
    let timeout_ms = u64::try_from(options.lock_timeout.as_millis()).unwrap_or(u64::MAX);
    let (set, reset) = if step.ddl {
        render::lock_timeout_sql(DB::DIALECT, timeout_ms, step.transactional)
    } else {
        (vec![], vec![])
    };
    if step.transactional {
        let mut tx = conn.begin().await?;
        for sql in set {
            DB::execute(&mut tx, sql, Default::default()).await?;
        }
        let rows = run_statements::<DB>(&mut tx, change, phase, step, options).await?;
        tx.commit().await?;
        Ok(rows)
    } else {
        for sql in set {
            DB::execute(conn, sql, Default::default()).await?;
        }
        let result = run_statements::<DB>(conn, change, phase, step, options).await;
        for sql in reset {
            DB::execute(conn, sql, Default::default()).await?;
        }
        result
    }
}

async fn run_statements<DB: Backend>(
    conn: &mut DB::Connection,
    change: &str,
    phase: Phase,
    step: &Step,
    options: &ApplyOptions,
) -> Result<u64> {
    let mut rows = 0;
    for statement in &step.statements {
        match statement {
            Statement::Execute(sql) => {
                DB::execute(conn, sql.clone(), Default::default()).await?;
            }
            Statement::Assert { sql, message } => {
                let count = DB::scalar_i64(conn, sql.clone(), Default::default())
                    .await?
                    .unwrap_or(0);
                if count != 0 {
                    return Err(Error::Refused {
                        change: change.to_string(),
                        phase: phase.to_string(),
                        step: step.name.clone(),
                        message: message.clone(),
                        count,
                    });
                }
            }
            Statement::Backfill(b) => rows += backfill::<DB>(conn, b, options.batch_size).await?,
        }
    }
    Ok(rows)
}

/// Fill the column in keyset batches, each UPDATE its own implicit transaction.
async fn backfill<DB: Backend>(conn: &mut DB::Connection, b: &Backfill, batch_size: u64) -> Result<u64> {
    let batch = i64::try_from(batch_size.max(1)).unwrap_or(i64::MAX);
    let mut last: Option<Key> = None;
    let mut rows = 0;
    loop {
        let mut args = DB::Arguments::default();
        let sql = match &last {
            None => b.first_upper_key_sql.clone(),
            Some(k) => {
                DB::bind_key(&mut args, k).map_err(sqlx::Error::Encode)?;
                b.upper_key_sql.clone()
            }
        };
        DB::bind_i64(&mut args, batch).map_err(sqlx::Error::Encode)?;
        let upper = if b.key_is_integer {
            DB::scalar_i64(conn, sql, args).await?.map(Key::Int)
        } else {
            DB::scalar_text(conn, sql, args).await?.map(Key::Text)
        };
        let Some(upper) = upper else { break };
        let mut args = DB::Arguments::default();
        let sql = match &last {
            None => b.first_update_sql.clone(),
            Some(k) => {
                DB::bind_key(&mut args, k).map_err(sqlx::Error::Encode)?;
                b.update_sql.clone()
            }
        };
        DB::bind_key(&mut args, &upper).map_err(sqlx::Error::Encode)?;
        rows += DB::execute(conn, sql, args).await?;
        last = Some(upper);
    }
    Ok(rows)
}
