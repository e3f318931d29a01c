//! Connections to the database that are not registered instances: reported (never
//! waited for — nothing says what their code needs) in refusals and in `status`.

use super::registry::{Instance, UnknownClient};
use crate::backend::Backend;
use crate::error::Result;
use std::collections::BTreeMap;
use straddle_core::Dialect;
use straddle_core::render::fleet as sql;

/// The `application_name` of the runner's own connections (PostgreSQL).
pub(crate) const RUNNER_TAG: &str = "straddle runner";

/// Other connections to this database, grouped by name, address and user; `Err` with the
/// reason where the engine cannot show them.
pub(crate) async fn unknown<DB: Backend>(
    conn: &mut DB::Connection,
    live: &[&Instance],
) -> Result<std::result::Result<Vec<UnknownClient>, String>> {
    let Some(query) = sql::other_connections_sql(DB::DIALECT) else {
        return Ok(Err(
            "SQLite cannot show other processes' connections: only registered instances are known".into(),
        ));
    };
    let rows: Vec<(String, String, String, i64)> = match DB::text3_int_rows(conn, query).await {
        Ok(rows) => rows,
        // A user without the privilege to see others' sessions sees only its own.
        Err(e) => return Ok(Err(format!("other connections cannot be listed: {e}"))),
    };
    let mut groups: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    for (name, address, user, _) in rows {
        let registered = match DB::DIALECT {
            Dialect::Postgres => {
                name.starts_with(RUNNER_TAG)
                    || live
                        .iter()
                        .any(|i| !i.client_tag.is_empty() && i.client_tag == name)
            }
            _ => false,
        };
        if !registered {
            *groups.entry((name, address, user)).or_default() += 1;
        }
    }
    Ok(Ok(groups
        .into_iter()
        .map(|((application_name, address, user), connections)| UnknownClient {
            registered_there: match DB::DIALECT {
                Dialect::MySql => live.iter().filter(|i| i.client_addr == address).count() as u32,
                _ => 0,
            },
            application_name,
            address,
            user,
            connections,
        })
        .collect()))
}

/// One line per group, or the reason the engine cannot show them.
pub(crate) fn lines(found: &std::result::Result<Vec<UnknownClient>, String>) -> Vec<String> {
    match found {
        Ok(clients) => clients.iter().map(UnknownClient::describe).collect(),
        Err(why) => vec![why.clone()],
    }
}
