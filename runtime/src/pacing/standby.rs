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

use super::SignalOptions;
use crate::backend::Backend;
use crate::error::mask_url;
use std::collections::HashMap;
use std::time::Instant;
use straddle_core::Dialect;

/// One standby the primary reports: (name, state, replay lag ms, bytes behind, replay LSN).
const PRIMARY_VIEW: &str = "SELECT concat_ws('|', coalesce(nullif(application_name, ''), 'walreceiver'), \
     coalesce(host(client_addr), 'local'), coalesce(state, '?'), \
     coalesce((extract(epoch FROM replay_lag) * 1000)::bigint, 0), \
     coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, -1), coalesce(replay_lsn::text, '?')) \
     FROM pg_stat_replication";

/// Physical slots no standby is connected to: (name, bytes of WAL they keep).
const IDLE_SLOTS: &str = "SELECT slot_name || '|' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, 0) \
     FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active";

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
    pub async fn read(&mut self, conn: &mut DB::Connection, options: &SignalOptions) -> Vec<String> {
        if DB::DIALECT != Dialect::Postgres
            || options.max_replica_lag.is_none() && options.max_replica_lag_bytes.is_none()
        {
            return Vec::new();
        }
        let max_ms = options.max_replica_lag.map(|d| d.as_millis() as i64);
        let max_bytes = options.max_replica_lag_bytes.map(|b| b as i64);
        let mut why = Vec::new();
        match DB::texts(conn, PRIMARY_VIEW.into()).await {
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
                            "replica lag: {who} replays {:.1} s behind (the limit is {:.1} s, --max-replica-lag; \
                             {} behind)",
                            lag_ms as f64 / 1000.0,
                            max as f64 / 1000.0,
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
        match DB::texts(conn, IDLE_SLOTS.into()).await {
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
                            "replica lag: the standby {masked} replays {:.1} s behind (the limit is {:.1} s, \
                             --max-replica-lag)",
                            ms as f64 / 1000.0,
                            max as f64 / 1000.0
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
        why
    }
}

fn bytes(n: i64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} kB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}
