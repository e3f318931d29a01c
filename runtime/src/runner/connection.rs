//! The runner's connection: opened with the session settings Straddle's SQL relies on,
//! re-opened after it breaks — waiting, within a bound, for a server that is restarting —
//! and what counts as a broken connection rather than a failed statement.

use crate::backend::Backend;
use crate::error::{Error, Result};
use sqlx::Connection;
use std::time::{Duration, Instant};
use straddle_core::Dialect;

/// Open a connection; `masked` names it in errors.
pub(crate) async fn open<DB: Backend>(url: &str, masked: &str) -> Result<DB::Connection> {
    Ok(open_on_cluster::<DB>(url, masked).await?.0)
}

/// [`open`], with the node's state when the server is a Galera node (read setting up the
/// session: a node that cannot take statements is refused as not open yet).
pub(crate) async fn open_on_cluster<DB: Backend>(
    url: &str,
    masked: &str,
) -> Result<(DB::Connection, Option<crate::cluster::galera::NodeState>)> {
    let connect_error = |source| Error::Connect {
        url: masked.to_string(),
        source,
    };
    let options: <DB::Connection as sqlx::Connection>::Options = url.parse().map_err(connect_error)?;
    // The runner's DDL and backfill batches are long by design (a MODIFY of a big table
    // takes seconds): sqlx's "slow statement" warning is noise here, so it goes to debug
    // (`--verbose`) instead.
    let options =
        sqlx::ConnectOptions::log_slow_statements(options, log::LevelFilter::Debug, Duration::from_secs(1));
    let mut conn = DB::Connection::connect_with(&options)
        .await
        .map_err(connect_error)?;
    // Straddle writes string literals (identifiers in catalog lookups) the way a default
    // session reads them: on MySQL with backslashes escaped, on PostgreSQL with backslashes
    // as plain characters — a server configured otherwise would read them otherwise.
    // On PostgreSQL the session is named, so that `status` does not count it (nor another
    // runner's) among the application's connections.
    let session: Vec<String> = match DB::DIALECT {
        Dialect::MySql => {
            vec!["SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')".into()]
        }
        Dialect::Postgres => vec![
            "SET standard_conforming_strings = on".into(),
            format!("SET application_name = '{}'", crate::fleet::clients::RUNNER_TAG),
        ],
        Dialect::Sqlite => vec![],
    };
    for sql in session {
        DB::execute(&mut conn, sql, Default::default()).await?;
    }
    let mut node = None;
    if crate::cluster::galera::is_galera::<DB>(&mut conn).await {
        // A node outside the Primary component (or still joining) answers its status but
        // refuses the runner's statements: say so, and let `reopen` wait for it.
        let state = crate::cluster::galera::NodeState::read::<DB>(&mut conn).await?;
        if let Some(why) = state.unusable() {
            let _ = conn.close().await;
            return Err(Error::NodeNotReady {
                url: masked.to_string(),
                why,
            });
        }
        DB::execute(
            &mut conn,
            crate::cluster::galera::SESSION.into(),
            Default::default(),
        )
        .await?;
        node = Some(state);
    }
    Ok((conn, node))
}

/// Open a connection again after the previous one broke, trying until `within` has passed
/// (a server restarting refuses connections, or answers "starting up", for a while).
pub(crate) async fn reopen<DB: Backend>(url: &str, masked: &str, within: Duration) -> Result<DB::Connection> {
    let started = Instant::now();
    let mut attempt = 0;
    let mut told = Instant::now();
    loop {
        attempt += 1;
        match open::<DB>(url, masked).await {
            Ok(conn) => return Ok(conn),
            Err(e) if started.elapsed() < within && is_transient_connect_error(&e) => {
                if told.elapsed() >= Duration::from_secs(5) || attempt == 1 {
                    let why = match &e {
                        Error::NodeNotReady { why, .. } => format!("a Galera node: {why}"),
                        e => e.to_string(),
                    };
                    crate::targets::label::note!(
                        "  waiting for {masked} to accept connections again ({why}; {:.0?} of {within:?})",
                        started.elapsed()
                    );
                    told = Instant::now();
                }
                let delay =
                    crate::retry::backoff(attempt, Duration::from_millis(250), Duration::from_secs(2));
                tokio::time::sleep(delay.min(within.saturating_sub(started.elapsed()))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A connection that could not be opened for now: refused, reset, or a server starting
/// up or shutting down — not a wrong password or a missing database.
fn is_transient_connect_error(e: &Error) -> bool {
    match e {
        Error::Connect { source, .. } => match source {
            sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::PoolTimedOut => true,
            sqlx::Error::Database(db) => is_lost_code(db.as_ref()),
            _ => false,
        },
        // A Galera node that lost quorum, or is rejoining, comes back by itself.
        Error::NodeNotReady { .. } => true,
        other => is_connection_lost(other),
    }
}

fn is_lost_code(db: &dyn sqlx::error::DatabaseError) -> bool {
    let message = db.message();
    let code = db.code();
    let code = code.as_deref().unwrap_or_default();
    // 57P01-03: admin shutdown, crash shutdown, cannot connect now ("starting up");
    // class 08: connection exception (MySQL's "shutdown in progress" is 08S01).
    matches!(code, "57P01" | "57P02" | "57P03")
        || code.starts_with("08")
        || message.contains("server has gone away")
        || message.contains("Lost connection")
        || message.contains("shutdown in progress")
        || message.contains("the database system is")
        // A Galera node outside the Primary component (1047 is 08S01 already; 1180 on
        // commit is HY000): the runner waits for quorum as for a restarting server.
        || crate::cluster::galera::is_not_primary(message)
}

/// The error means the connection is gone (closed, reset, the server terminated the
/// session or is shutting down), not that a statement was wrong.
pub(crate) fn is_connection_lost(e: &Error) -> bool {
    match e {
        Error::Sql(sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed) => true,
        Error::Sql(sqlx::Error::Database(db)) => is_lost_code(db.as_ref()),
        _ => false,
    }
}

/// This machine's name, for the ledger and the runner lock.
pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
