//! MariaDB Galera: every node accepts writes, DDL runs on all nodes at once (total order
//! isolation), and a node's `GET_LOCK` is that node's alone — so the runner lock is a
//! lease row (see `runner::lock`), and the runner's session waits for the cluster before
//! it reads (`wsrep_sync_wait`), so that a migrator on one node never reads a ledger older
//! than what another node's migrator committed.

use crate::backend::Backend;
use straddle_core::Dialect;

/// Whether the server is a node of a Galera cluster (`wsrep_on`).
pub(crate) async fn is_galera<DB: Backend>(conn: &mut DB::Connection) -> bool {
    DB::DIALECT == Dialect::MySql
        && matches!(
            DB::scalar_i64(
                conn,
                "SELECT CAST(@@GLOBAL.wsrep_on AS SIGNED)".into(),
                Default::default()
            )
            .await,
            Ok(Some(1))
        )
}

/// The runner session's settings on a Galera node: reads, updates, deletes and inserts
/// first wait until the node has applied everything the cluster committed before them.
pub(crate) const SESSION: &str = "SET SESSION wsrep_sync_wait = 7";
