//! Standby replay lag (PostgreSQL streaming replication), read two ways:
//!
//! - On the primary, for every standby streaming from it (`pg_stat_replication`): bytes of
//!   WAL not yet replayed, and the replay lag the primary measured. That lag stops growing
//!   while a standby's replay is stuck (it is measured only when the replay position
//!   moves), so a standby behind whose replay position has not moved is counted as lagging
//!   by the time it has not moved. A physical replication slot without a connected standby
//!   holds the backfill too: its standby is expected, and nobody measures it.
//! - On each `--standby-url`: how long ago the last replayed transaction committed, while
//!   WAL received is not replayed yet. An unreachable standby holds the backfill.

use super::{SignalOptions, lost_or};
use crate::backend::Backend;
use crate::error::mask_url;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use straddle_core::Dialect;

/// One standby the primary reports: (name, state, replay lag ms, bytes behind, replay LSN).
const PRIMARY_VIEW: &str = "SELECT concat_ws('|', coalesce(nullif(application_name, ''), 'walreceiver'), \
     coalesce(host(client_addr), 'local'), coalesce(state, '?'), \
     coalesce((extract(epoch FROM replay_lag) * 1000)::bigint, 0), \
     coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, -1), coalesce(replay_lsn::text, '?')) \
     FROM pg_stat_replication";

/// Physical replication slots no standby is connected to.
const IDLE_SLOTS_FROM: &str = "FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active";

/// On a standby: milliseconds behind (0 when everything received is replayed), or NULL
/// when the server is not a standby.
const STANDBY_VIEW: &str = "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL \
     WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
     ELSE coalesce((extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0) END";

pub(super) struct Standbys<DB: Backend> {
    /// `--standby-url`s: (URL, masked URL, open connection).
    direct: Vec<(String, String, Option<DB::Connection>)>,
    /// Per standby the primary reports: the replay position last seen and since when it
    /// has not moved.
    positions: HashMap<String, (String, Instant)>,
}

impl<DB: Backend> Standbys<DB> {
    pub fn new(options: &SignalOptions) -> Self {
        Standbys {
            direct: options
                .standby_urls
                .iter()
                .map(|u| (u.clone(), mask_url(u), None))
                .collect(),
            positions: HashMap::new(),
        }
    }

    /// Why the backfill should wait for a standby (nothing: none lags).
    pub async fn read(
        &mut self,
        conn: &mut DB::Connection,
        options: &SignalOptions,
    ) -> crate::error::Result<Vec<String>> {
        if DB::DIALECT != Dialect::Postgres
            || options.max_replica_lag.is_none() && options.max_replica_lag_bytes.is_none()
        {
            return Ok(Vec::new());
        }
        let max_ms = options.max_replica_lag.map(|d| d.as_millis() as i64);
        let max_bytes = options.max_replica_lag_bytes.map(|b| b as i64);
        let mut why = Vec::new();
        match lost_or(DB::texts(conn, PRIMARY_VIEW.into()).await)? {
            Err(e) => why.push(format!("replica lag: cannot read pg_stat_replication ({e})")),
            Ok(rows) => {
                let mut seen = Vec::new();
                for row in rows {
                    let f: Vec<&str> = row.split('|').collect();
                    let [name, host, state, lag_ms, behind, lsn] = f[..] else {
                        continue;
                    };
                    let who = format!("standby {name} at {host}");
                    seen.push(who.clone());
                    let (lag_ms, behind) = (
                        lag_ms.parse::<i64>().unwrap_or(0),
                        behind.parse::<i64>().unwrap_or(-1),
                    );
                    if state != "streaming" {
                        why.push(format!("replica lag: {who} is {state}, not streaming"));
                        continue;
                    }
                    if behind < 0 {
                        why.push(format!(
                            "replica lag: {who}'s replay position cannot be read (grant pg_monitor to the migrator's \
                             role)"
                        ));
                        continue;
                    }
                    // A replay position that has not moved while WAL waits: stuck that long.
                    let now = Instant::now();
                    let since = match self.positions.get(&who) {
                        Some((last, since)) if last == lsn && behind > 0 => *since,
                        _ => now,
                    };
                    self.positions.insert(who.clone(), (lsn.to_string(), since));
                    // Nothing left to replay: no lag, whatever the primary last measured (its
                    // figure is not updated until more WAL is replayed).
                    let lag_ms = if behind == 0 {
                        0
                    } else {
                        lag_ms.max(now.duration_since(since).as_millis() as i64)
                    };
                    if let Some(max) = max_ms.filter(|m| lag_ms > *m) {
                        why.push(format!(
                            "replica lag: {who} replays {} behind (the limit is {}, --max-replica-lag; {} behind)",
                            super::lag_text(Duration::from_millis(lag_ms as u64)),
                            super::lag_text(Duration::from_millis(max as u64)),
                            bytes(behind)
                        ));
                    } else if let Some(max) = max_bytes.filter(|m| behind > *m) {
                        why.push(format!(
                            "replica lag: {who} is {} of WAL behind (the limit is {}, --max-replica-lag-bytes)",
                            bytes(behind),
                            bytes(max)
                        ));
                    }
                }
                self.positions.retain(|k, _| seen.contains(k));
            }
        }
        let idle_slots = format!(
            "SELECT slot_name || '|' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0) \
             {IDLE_SLOTS_FROM}"
        );
        match lost_or(DB::texts(conn, idle_slots).await)? {
            Err(e) => why.push(format!("replica lag: cannot read pg_replication_slots ({e})")),
            Ok(rows) => {
                for row in rows {
                    let (slot, kept) = row.rsplit_once('|').unwrap_or((&row, "0"));
                    why.push(format!(
                        "replica lag: replication slot `{slot}` has no standby connected (it keeps {} of WAL): its \
                         standby's lag cannot be measured — reconnect it, drop the slot if that standby is gone, or \
                         pass --max-replica-lag off",
                        bytes(kept.parse().unwrap_or(0))
                    ));
                }
            }
        }
        for (url, masked, conn) in &mut self.direct {
            if conn.is_none() {
                match crate::runner::open_connection::<DB>(url, masked).await {
                    Ok(c) => *conn = Some(c),
                    Err(e) => {
                        why.push(format!("replica lag: cannot reach the standby {masked} ({e})"));
                        continue;
                    }
                }
            }
            let c = conn.as_mut().expect("opened above");
            match DB::scalar_i64(c, STANDBY_VIEW.into(), Default::default()).await {
                Ok(Some(ms)) => {
                    if let Some(max) = max_ms.filter(|m| ms > *m) {
                        why.push(format!(
                            "replica lag: the standby {masked} replays {} behind (the limit is {}, --max-replica-lag)",
                            super::lag_text(Duration::from_millis(ms as u64)),
                            super::lag_text(Duration::from_millis(max as u64))
                        ));
                    }
                }
                Ok(None) => why.push(format!(
                    "replica lag: {masked} is not a standby (pg_is_in_recovery() is false): is --standby-url right?"
                )),
                Err(e) => {
                    why.push(format!("replica lag: cannot read the standby {masked} ({e})"));
                    // Reconnect on the next reading.
                    *conn = None;
                }
            }
        }
        Ok(why)
    }
}

fn bytes(n: i64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// Sessions on the standby at `url` that hold a lock on one of `tables`, once `within` has
/// passed without them all ending (a standby replays a primary's `ACCESS EXCLUSIVE` lock
/// only once they end — or, after `max_standby_streaming_delay`, cancels them — and every
/// read of the table there waits behind the replay meanwhile). A standby that cannot be
/// asked answers with why: unknown is not clear.
pub(crate) async fn readers_within<DB: Backend>(
    url: &str,
    masked: &str,
    tables: &[String],
    within: Duration,
) -> Vec<String> {
    let mut conn = match crate::runner::open_connection::<DB>(url, masked).await {
        Ok(c) => c,
        Err(e) => return vec![format!("cannot reach the standby {masked} ({e})")],
    };
    let names: Vec<String> = tables.iter().map(|t| DB::DIALECT.string_literal(t)).collect();
    let sql = format!(
        "SELECT DISTINCT format('pid %s, transaction open %s s: %s', a.pid, \
         coalesce(extract(epoch FROM now() - a.xact_start)::bigint, 0), left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80)) \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'relation' AND l.granted AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND l.relation IN (SELECT c.oid FROM pg_class c WHERE c.relname IN ({}) \
         AND c.relnamespace = current_schema()::regnamespace)",
        names.join(", ")
    );
    let until = Instant::now() + within;
    let found = loop {
        let sessions = DB::texts(&mut conn, sql.clone())
            .await
            .unwrap_or_else(|e| vec![format!("cannot read the standby {masked}'s sessions ({e})")]);
        if sessions.is_empty() || Instant::now() >= until {
            break sessions;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = sqlx::Connection::close(conn).await;
    found
}

/// Standbys that have not replayed the primary's WAL up to `lsn` (or cannot be seen to):
/// why, one line each.
async fn behind<DB: Backend>(conn: &mut DB::Connection, lsn: &str) -> crate::error::Result<Vec<String>> {
    let lsn = DB::DIALECT.string_literal(lsn);
    let sql = format!(
        "SELECT concat_ws(' ', 'standby', coalesce(nullif(application_name, ''), 'walreceiver'), 'at', \
         coalesce(host(client_addr), 'local'), 'has replayed to', coalesce(replay_lsn::text, '(unknown)'), '(' || state || ')') \
         FROM pg_stat_replication WHERE replay_lsn IS NULL OR replay_lsn < {lsn}::pg_lsn \
         UNION ALL SELECT 'replication slot `' || slot_name || '` has no standby connected' {IDLE_SLOTS_FROM}"
    );
    Ok(match lost_or(DB::texts(conn, sql).await)? {
        Ok(rows) => rows,
        Err(e) => vec![format!("cannot read pg_stat_replication ({e})")],
    })
}

/// After a step: hold until every standby has replayed it, so that the next step (and the
/// application, reading from standbys) never runs ahead of a standby. Bounded by
/// `give_up_after`; nothing to do where standby lag is not checked.
pub(crate) async fn wait_replayed<DB: Backend>(
    conn: &mut DB::Connection,
    options: &SignalOptions,
    what: &str,
) -> crate::error::Result<()> {
    if DB::DIALECT != Dialect::Postgres || options.max_replica_lag.is_none() {
        return Ok(());
    }
    let Some(lsn) = DB::scalar_text(
        conn,
        "SELECT pg_current_wal_lsn()::text".into(),
        Default::default(),
    )
    .await?
    else {
        return Ok(());
    };
    let mut wait = super::CatchUp::new(
        options,
        what,
        ("waiting for standbys to replay it", "while standbys replayed it"),
    );
    while !wait.done(behind::<DB>(conn, &lsn).await?).await? {}
    Ok(())
}
