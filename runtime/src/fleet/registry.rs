//! The registry's rows as read back, and the schema generation counter. A row is written
//! by whoever can reach the database: what it says is checked before it is believed (a
//! row whose declarations cannot be read blocks like a previous release would).

use crate::backend::{Backend, RegistryRow};
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use straddle_core::render::{self, fleet as sql};
use straddle_core::{Model, Phase};

/// One registered application instance (a running [`crate::Db`]).
#[derive(Clone, Debug, Serialize)]
pub struct Instance {
    /// The instance's id.
    pub id: String,
    /// The application name it registered with.
    pub application: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// The address the server sees it connect from.
    pub client_addr: String,
    /// Its connections' `application_name` (PostgreSQL).
    pub client_tag: String,
    /// A digest of its models' declarations: instances of one build share it.
    pub release: String,
    /// What its code declares, per change.
    pub declares: BTreeMap<String, Phase>,
    /// How long ago (server clock) it started, and last sent a heartbeat.
    pub started_ms_ago: i64,
    /// Milliseconds since its last heartbeat.
    pub last_seen_ms_ago: i64,
    /// How often it sends a heartbeat, in milliseconds.
    pub heartbeat_every_ms: i64,
    /// Without a heartbeat for this long, it counts as gone.
    pub expires_after_ms: i64,
    /// Whether it counts: not expired.
    pub live: bool,
    /// The newest schema generation it has re-read.
    pub generation_seen: i64,
    /// Its models, or why they cannot be read.
    #[serde(skip)]
    pub(crate) models: std::result::Result<Vec<Model>, String>,
}

impl Instance {
    fn from_row(r: RegistryRow) -> Instance {
        let models = serde_json::from_str::<Vec<Model>>(&r.models).map_err(|e| {
            format!("its registered models cannot be read ({e}): written by another Straddle version?")
        });
        let declares = match &models {
            Ok(m) => straddle_core::fleet::declares(m),
            Err(_) => serde_json::from_str(&r.declares).unwrap_or_default(),
        };
        let age = r.now_ms - r.heartbeat_ms;
        Instance {
            live: age <= r.expires_after_ms,
            id: r.id,
            application: r.application,
            host: r.host,
            pid: r.pid,
            client_addr: r.client_addr,
            client_tag: r.client_tag,
            release: r.release_id,
            declares,
            started_ms_ago: r.now_ms - r.started_ms,
            last_seen_ms_ago: age,
            heartbeat_every_ms: r.heartbeat_every_ms,
            expires_after_ms: r.expires_after_ms,
            generation_seen: r.generation_seen,
            models,
        }
    }

    /// `billing on web-3 (pid 4242, release 1a2b3c4d5e), last seen 1.2 s ago`.
    pub fn describe(&self) -> String {
        format!(
            "{} on {} (pid {}, release {}), last seen {:.1} s ago",
            self.application,
            self.host,
            self.pid,
            self.release,
            self.last_seen_ms_ago.max(0) as f64 / 1000.0
        )
    }

    /// Whether its code maps any of `tables` (an instance whose models cannot be read is
    /// taken to map every table).
    pub(crate) fn maps_any(&self, tables: &[&str]) -> bool {
        match &self.models {
            Ok(models) => models
                .iter()
                .any(|m| m.table_names().iter().any(|n| tables.contains(n))),
            Err(_) => true,
        }
    }

    /// When it will count as gone, if it sends no heartbeat before.
    pub fn expires_in(&self) -> Duration {
        Duration::from_millis((self.expires_after_ms - self.last_seen_ms_ago).max(0) as u64)
    }
}

/// A connection to the database that is not a registered instance's (as far as the
/// engine can tell).
#[derive(Clone, Debug, Serialize)]
pub struct UnknownClient {
    /// `application_name` (PostgreSQL; empty elsewhere).
    pub application_name: String,
    /// Where the connections come from.
    pub address: String,
    /// The database user they log in as.
    pub user: String,
    /// How many connections.
    pub connections: u32,
    /// Registered instances connect from that address too (MySQL cannot tell their
    /// connections apart from others there).
    pub registered_there: u32,
}

impl UnknownClient {
    /// One line naming the client, for messages.
    pub fn describe(&self) -> String {
        let name = if self.application_name.is_empty() {
            String::new()
        } else {
            format!("`{}` ", self.application_name)
        };
        let there = if self.registered_there > 0 {
            format!(
                " (where {} registered {}: MySQL shows no application name to tell them apart)",
                self.registered_there,
                if self.registered_there == 1 {
                    "instance runs"
                } else {
                    "instances run"
                }
            )
        } else {
            String::new()
        };
        format!(
            "{name}{} {} from {} as {}{there}",
            self.connections,
            if self.connections == 1 {
                "connection"
            } else {
                "connections"
            },
            self.address,
            self.user
        )
    }
}

fn absent(e: &sqlx::Error, dialect: straddle_core::Dialect) -> bool {
    matches!(e, sqlx::Error::Database(db) if render::is_undefined_table(dialect, db.code().as_deref(), db.message()))
}

/// Every registered instance, live or expired (none when no instance ever registered).
pub(crate) async fn list<DB: Backend>(conn: &mut DB::Connection) -> Result<Vec<Instance>> {
    match DB::registry_rows(conn, sql::list_sql(DB::DIALECT)).await {
        Ok(rows) => Ok(rows.into_iter().map(Instance::from_row).collect()),
        Err(e) if absent(&e, DB::DIALECT) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// The current schema generation (0 before the first bump).
pub(crate) async fn generation<DB: Backend>(conn: &mut DB::Connection) -> Result<i64, sqlx::Error> {
    match DB::scalar_i64(conn, sql::generation_sql(DB::DIALECT), Default::default()).await {
        Ok(g) => Ok(g.unwrap_or(0)),
        Err(e) if absent(&e, DB::DIALECT) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Move the generation on; the new one.
pub(crate) async fn bump<DB: Backend>(conn: &mut DB::Connection) -> Result<i64> {
    create::<DB>(conn).await?;
    DB::execute(conn, sql::bump_generation_sql(DB::DIALECT), Default::default()).await?;
    Ok(generation::<DB>(conn).await?)
}

/// Create the registry tables when missing. Two processes creating them at once may
/// collide in the catalog (PostgreSQL): the loser finds them there on its second try.
pub(crate) async fn create<DB: Backend>(conn: &mut DB::Connection) -> Result<(), sqlx::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut result = Ok(());
        for s in sql::create_sql(DB::DIALECT) {
            result = DB::execute(conn, s, Default::default()).await.map(|_| ());
            if result.is_err() {
                break;
            }
        }
        match result {
            Err(sqlx::Error::Database(e))
                if attempt < 3 && matches!(e.code().as_deref(), Some("23505" | "42P07")) =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}
