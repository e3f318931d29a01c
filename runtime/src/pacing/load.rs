//! Server load: how many other statements are running right now.

use crate::backend::Backend;
use crate::error::Result;
use straddle_core::Dialect;

/// Why the backfill should wait for the load to drop, if it should. A load that cannot be
/// read holds it too.
pub(super) async fn read<DB: Backend>(conn: &mut DB::Connection, max: u32) -> Result<Option<String>> {
    let running = match DB::DIALECT {
        Dialect::Postgres => DB::scalar_i64(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend' \
             AND pid <> pg_backend_pid()"
                .into(),
            Default::default(),
        )
        .await
        .map(|n| n.unwrap_or(0)),
        // Counts this session's own statement.
        Dialect::MySql => DB::column_text(conn, "SHOW GLOBAL STATUS LIKE 'Threads_running'".into(), 1)
            .await
            .map(|v| v.and_then(|v| v.parse::<i64>().ok()).unwrap_or(1) - 1),
        // One process, one writer: nothing to measure.
        Dialect::Sqlite => return Ok(None),
    };
    Ok(match super::lost_or(running)? {
        Ok(n) if n > i64::from(max) => Some(format!(
            "load: {n} other statements running (the limit is {max}, --max-load)"
        )),
        Ok(_) => None,
        Err(e) => Some(format!("load: cannot read the server's load ({e})")),
    })
}
