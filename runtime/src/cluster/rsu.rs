//! Rolling schema upgrade on Galera (`--galera-rsu`): a DDL step that reads every row runs
//! on one node at a time instead of on every node at once. In `RSU` mode a node leaves the
//! cluster's flow (desynced), applies the DDL to itself alone while the others go on, and
//! catches up on what it missed; the cluster's writes never wait for the rebuild, only that
//! node's own writes to the table may.
//!
//! Only where the nodes' two schemas accept each other's row events — for the time some
//! nodes have the change and others not — can a step run so ([`incompatible`]): a
//! non-unique index (rows are the same either way), and NOT NULL on a column every write
//! already fills (contract's assertion found no NULL, and the sync trigger fills every
//! write). A unique index (a node without it accepts a duplicate a node with it cannot
//! apply) or a column made nullable again (the nodes with NOT NULL cannot apply a NULL)
//! would stop the nodes that cannot apply, so those run on every node at once.
//!
//! The step is recorded once every node has it, each node's catalog checked; run again
//! after an interruption, a node that already has it is skipped.

use super::galera::{Cluster, NodeState};
use crate::apply::StepContext;
use crate::backend::Backend;
use crate::error::{Error, Result, mask_url};
use std::time::{Duration, Instant};
use straddle_core::catalog::{Effect, State};
use straddle_core::step::{LiveSql, Statement, Step};

/// How long a node may take to catch up with the cluster after its DDL.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(600);

/// Why the step cannot run node by node (`None`: it can).
pub(crate) fn incompatible(step: &Step) -> Option<&'static str> {
    for statement in &step.statements {
        match statement {
            Statement::Live(LiveSql::MySqlModify { not_null: false, .. }) => {
                return Some(
                    "a node still NOT NULL cannot apply a NULL written on a node already without it",
                );
            }
            Statement::Live(LiveSql::MySqlModify { not_null: true, .. }) => {}
            Statement::Execute(_) | Statement::When { .. } | Statement::Assert { .. } => {}
            _ => return Some("it is not one DDL statement a node can apply alone"),
        }
    }
    for expect in &step.expects {
        if let Effect::Create(State::Index { unique: true, .. }) = &expect.effect {
            return Some(
                "a node without the unique index accepts a duplicate that the nodes with it cannot apply",
            );
        }
    }
    None
}

/// Run the step's statements on each node in turn in RSU mode, each node waited for until
/// it is Synced again, and check every node's catalog against the step.
pub(crate) async fn node_by_node<DB: Backend>(
    cluster: &Cluster,
    runner_conn: &mut DB::Connection,
    step: &Step,
    ctx: &mut StepContext<'_>,
) -> Result<u64> {
    let here = NodeState::read::<DB>(runner_conn).await?;
    let mut rows = 0;
    for address in &here.addresses {
        let Some(url) = cluster.node_url(address) else {
            return Err(Error::ClusterNotReady {
                change: ctx.change.to_string(),
                phase: ctx.phase,
                step: step.name.clone(),
                problems: vec![format!(
                    "node {address}: its announced address cannot be connected to"
                )],
            });
        };
        let mut conn = crate::runner::open_connection::<DB>(&url, &mask_url(&url)).await?;
        if crate::apply::already_applied::<DB>(&mut conn, ctx.change, ctx.phase, step).await? {
            crate::targets::label::note!(
                "  {} {}: step {} on node {address}: already there",
                ctx.change,
                ctx.phase,
                step.name
            );
            continue;
        }
        let started = Instant::now();
        let osu = |method: &str| format!("SET SESSION wsrep_OSU_method = '{method}'");
        DB::execute(&mut conn, osu("RSU"), Default::default()).await?;
        let result = crate::apply::run_alone::<DB>(&mut conn, step, ctx).await;
        // The session goes back to total order before anything else runs on it.
        DB::execute(&mut conn, osu("TOI"), Default::default()).await?;
        rows += result?.0;
        crate::catalog::postcheck::<DB>(&mut conn, ctx.change, ctx.phase, step).await?;
        let applied = started.elapsed();
        caught_up::<DB>(&mut conn, address).await?;
        crate::targets::label::note!(
            "  {} {}: step {} on node {address} alone (RSU): {applied:.1?}, Synced again after {:.1?}",
            ctx.change,
            ctx.phase,
            step.name,
            started.elapsed()
        );
        let _ = sqlx::Connection::close(conn).await;
    }
    Ok(rows)
}

/// Wait until the node is Synced in the Primary component again.
async fn caught_up<DB: Backend>(conn: &mut DB::Connection, address: &str) -> Result<()> {
    let started = Instant::now();
    loop {
        let state = NodeState::read::<DB>(conn).await?;
        let Some(why) = state.unusable() else {
            return Ok(());
        };
        if started.elapsed() > CATCH_UP_WITHIN {
            return Err(Error::NodeNotReady {
                url: address.to_string(),
                why: format!("{why}, {CATCH_UP_WITHIN:?} after its rolling schema upgrade"),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use straddle_core::catalog::{Expect, Object};

    fn step(statement: Statement, expects: Vec<Expect>) -> Step {
        Step {
            name: "s".into(),
            transactional: false,
            ddl: true,
            statements: vec![statement],
            expects,
            lock: None,
            scans_table: true,
            legacy_checksums: Vec::new(),
        }
    }

    fn modify(not_null: bool) -> Statement {
        Statement::Live(LiveSql::MySqlModify {
            table: "t".into(),
            column: "c".into(),
            not_null,
        })
    }

    fn index(unique: bool) -> Vec<Expect> {
        vec![Expect {
            object: Object::Index {
                table: "t".into(),
                name: "i".into(),
            },
            effect: Effect::Create(State::Index {
                columns: vec!["c".into()],
                unique,
                partial: false,
            }),
        }]
    }

    #[test]
    fn only_changes_both_schemas_accept_run_node_by_node() {
        assert_eq!(incompatible(&step(modify(true), vec![])), None);
        assert!(
            incompatible(&step(modify(false), vec![]))
                .unwrap()
                .contains("cannot apply a NULL")
        );
        let add = || Statement::Execute("ALTER TABLE t ADD INDEX i (c), ALGORITHM=INPLACE, LOCK=NONE".into());
        assert_eq!(incompatible(&step(add(), index(false))), None);
        assert!(
            incompatible(&step(add(), index(true)))
                .unwrap()
                .contains("duplicate")
        );
    }
}
