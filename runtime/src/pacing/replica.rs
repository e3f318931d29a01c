//! MySQL/MariaDB replica lag (`--replica-url`), from a heartbeat row: the runner writes the
//! time (its own clock, in microseconds) into `_straddle_heartbeat` on the primary when it
//! reads its signals, and reads on each replica the newest time the replica has applied.
//! The replica is behind by at least the age of the first heartbeat it has not applied —
//! so the figure needs no clock agreement between servers (pt-heartbeat's and gh-ost's
//! need the replica's clock to match the primary's) and is sub-second: it is off by at most
//! the time between two readings (200 ms while a backfill runs). `Seconds_Behind_Master`
//! counts whole seconds and reads 0 when the replication thread is idle, whatever it has
//! missed. A replica that cannot be reached or read holds the backfill (it fails closed).

use super::SignalOptions;
use crate::backend::Backend;
use crate::error::{Result, mask_url};
use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use straddle_core::Dialect;

/// The heartbeat table, on the primary (and, replicated, on every replica).
const TABLE: &str = "_straddle_heartbeat";

pub(super) struct Replicas<DB: Backend> {
    /// `--replica-url`s: (URL, masked URL, open connection).
    direct: Vec<(String, String, Option<DB::Connection>)>,
    /// Heartbeats written and not yet applied by every replica, oldest first: (microseconds
    /// written, when).
    written: VecDeque<(i64, Instant)>,
    table_ready: bool,
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl<DB: Backend> Replicas<DB> {
    pub fn new(options: &SignalOptions) -> Self {
        Replicas {
            direct: match DB::DIALECT {
                Dialect::MySql => options
                    .standby_urls
                    .iter()
                    .map(|u| (u.clone(), mask_url(u), None))
                    .collect(),
                _ => Vec::new(),
            },
            written: VecDeque::new(),
            table_ready: false,
        }
    }

    fn checked(&self, options: &SignalOptions) -> bool {
        !self.direct.is_empty() && options.max_replica_lag.is_some()
    }

    /// Write a heartbeat on the primary.
    async fn beat(&mut self, conn: &mut DB::Connection) -> Result<()> {
        if !self.table_ready {
            let q = DB::DIALECT.quote(TABLE);
            DB::execute(
                conn,
                format!("CREATE TABLE IF NOT EXISTS {q} (id INT PRIMARY KEY, micros BIGINT NOT NULL)"),
                Default::default(),
            )
            .await?;
            self.table_ready = true;
        }
        let micros = now_micros();
        DB::execute(
            conn,
            format!(
                "INSERT INTO {} (id, micros) VALUES (1, {micros}) ON DUPLICATE KEY UPDATE micros = VALUES(micros)",
                DB::DIALECT.quote(TABLE)
            ),
            Default::default(),
        )
        .await?;
        self.written.push_back((micros, Instant::now()));
        Ok(())
    }

    /// How far each replica is behind: (masked URL, its lag, or why it cannot be read).
    async fn lags(&mut self) -> Vec<(String, std::result::Result<Duration, String>)> {
        let sql = format!("SELECT micros FROM {} WHERE id = 1", DB::DIALECT.quote(TABLE));
        let mut lags = Vec::new();
        let mut oldest_applied = i64::MAX;
        for (url, masked, conn) in &mut self.direct {
            if conn.is_none() {
                match crate::runner::open_connection::<DB>(url, masked).await {
                    Ok(c) => *conn = Some(c),
                    Err(e) => {
                        lags.push((masked.clone(), Err(format!("cannot be reached ({e})"))));
                        oldest_applied = i64::MIN;
                        continue;
                    }
                }
            }
            let c = conn.as_mut().expect("opened above");
            let applied = match DB::scalar_i64(c, sql.clone(), Default::default()).await {
                Ok(Some(m)) => m,
                Ok(None) => i64::MIN,
                Err(e) => {
                    lags.push((masked.clone(), Err(format!("its heartbeat cannot be read ({e})"))));
                    *conn = None;
                    oldest_applied = i64::MIN;
                    continue;
                }
            };
            oldest_applied = oldest_applied.min(applied);
            // Behind by the age of the first heartbeat it has not applied.
            let lag = self
                .written
                .iter()
                .find(|(m, _)| *m > applied)
                .map(|(_, at)| at.elapsed())
                .unwrap_or_default();
            lags.push((masked.clone(), Ok(lag)));
        }
        // What every replica has applied is not needed again.
        while self.written.len() > 1 && self.written.front().is_some_and(|(m, _)| *m <= oldest_applied) {
            self.written.pop_front();
        }
        lags
    }

    /// Why the backfill should wait for a replica (nothing: none lags).
    pub async fn read(&mut self, conn: &mut DB::Connection, options: &SignalOptions) -> Result<Vec<String>> {
        if !self.checked(options) {
            return Ok(Vec::new());
        }
        let max = options.max_replica_lag.unwrap_or_default();
        if let Err(e) = super::lost_or(self.beat(conn).await)? {
            return Ok(vec![format!(
                "replica lag: cannot write the heartbeat on the primary ({e})"
            )]);
        }
        Ok(self
            .lags()
            .await
            .into_iter()
            .filter_map(|(replica, lag)| match lag {
                Ok(lag) if lag > max => Some(format!(
                    "replica lag: the replica {replica} is {} behind (the limit is {}, --max-replica-lag)",
                    super::lag_text(lag),
                    super::lag_text(max)
                )),
                Ok(_) => None,
                Err(why) => Some(format!("replica lag: the replica {replica} {why}")),
            })
            .collect())
    }
}

/// After a step: hold until every `--replica-url` has applied it (a heartbeat written after
/// it), so that the next step never runs ahead of a replica. Bounded by `give_up_after`.
pub(crate) async fn wait_applied<DB: Backend>(
    conn: &mut DB::Connection,
    options: &SignalOptions,
    what: &str,
) -> Result<()> {
    let mut replicas = Replicas::<DB>::new(options);
    if !replicas.checked(options) {
        return Ok(());
    }
    replicas.beat(conn).await?;
    let mut wait = super::CatchUp::new(
        options,
        what,
        ("waiting for replicas to apply it", "while replicas applied it"),
    );
    loop {
        let behind = replicas
            .lags()
            .await
            .into_iter()
            .filter_map(|(replica, lag)| match lag {
                Ok(lag) if lag.is_zero() => None,
                Ok(lag) => Some(format!(
                    "the replica {replica} has not applied it ({lag:.1?} so far)"
                )),
                Err(why) => Some(format!("the replica {replica} {why}")),
            })
            .collect();
        if wait.done(behind).await? {
            return Ok(());
        }
    }
}
