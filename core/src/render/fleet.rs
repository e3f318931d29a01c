//! The fleet registry, per dialect: `_straddle_instances` (one row per running `Db`: who
//! it is, what its code declares, its last heartbeat, the newest schema generation it has
//! re-read) and `_straddle_generation` (a counter the runner bumps when every instance
//! must re-read the schema). Times are the database server's, in milliseconds since the
//! epoch, so that clocks of application hosts never matter.

use crate::dialect::Dialect;

/// The fleet registry's table.
pub const INSTANCES: &str = "_straddle_instances";
/// The schema generation's table.
pub const GENERATION: &str = "_straddle_generation";

/// The registry's columns, in the order [`register_sql`] binds them after `id`.
pub const INSTANCE_COLUMNS: [&str; 14] = [
    "id",
    "application",
    "host",
    "pid",
    "client_addr",
    "client_tag",
    "release_id",
    "declares",
    "models",
    "started_ms",
    "heartbeat_ms",
    "heartbeat_every_ms",
    "expires_after_ms",
    "generation_seen",
];

/// The columns each registry table must have (a table of that name with others is not
/// Straddle's).
pub fn expected_columns() -> [(&'static str, &'static [&'static str]); 2] {
    [
        (INSTANCES, &INSTANCE_COLUMNS),
        (GENERATION, &["id", "generation"]),
    ]
}

/// The server's clock, in milliseconds since the epoch.
pub fn now_ms(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "(extract(epoch from clock_timestamp()) * 1000)::bigint",
        Dialect::MySql => "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000 AS SIGNED)",
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// `CREATE TABLE IF NOT EXISTS` for both registry tables.
pub fn create_sql(dialect: Dialect) -> Vec<String> {
    let q = |s: &str| dialect.quote(s);
    let (key, text, long) = match dialect {
        Dialect::Postgres | Dialect::Sqlite => ("TEXT", "TEXT", "TEXT"),
        Dialect::MySql => ("VARCHAR(64)", "VARCHAR(255)", "MEDIUMTEXT"),
    };
    let columns = [
        format!("{} {key} NOT NULL PRIMARY KEY", q("id")),
        format!("{} {text} NOT NULL", q("application")),
        format!("{} {text} NOT NULL", q("host")),
        format!("{} BIGINT NOT NULL", q("pid")),
        format!("{} {text} NOT NULL", q("client_addr")),
        format!("{} {text} NOT NULL", q("client_tag")),
        format!("{} {text} NOT NULL", q("release_id")),
        format!("{} {long} NOT NULL", q("declares")),
        format!("{} {long} NOT NULL", q("models")),
        format!("{} BIGINT NOT NULL", q("started_ms")),
        format!("{} BIGINT NOT NULL", q("heartbeat_ms")),
        format!("{} BIGINT NOT NULL", q("heartbeat_every_ms")),
        format!("{} BIGINT NOT NULL", q("expires_after_ms")),
        format!("{} BIGINT NOT NULL", q("generation_seen")),
    ];
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            q(INSTANCES),
            columns.join(", ")
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({} INTEGER NOT NULL PRIMARY KEY, {} BIGINT NOT NULL)",
            q(GENERATION),
            q("id"),
            q("generation")
        ),
    ]
}

/// The address the server sees the connection come from: what `pg_stat_activity` / the
/// processlist show of it.
fn client_addr_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "COALESCE(host(inet_client_addr()), 'local')",
        Dialect::MySql => "SUBSTRING_INDEX(SUBSTRING_INDEX(USER(), '@', -1), ':', 1)",
        Dialect::Sqlite => "'local'",
    }
}

/// Register an instance; binds: id, application, host, pid, client_tag, release_id,
/// declares, models, heartbeat_every_ms, expires_after_ms, generation_seen.
pub fn register_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let p = |n| dialect.placeholder(n);
    let now = now_ms(dialect);
    let addr = client_addr_sql(dialect);
    format!(
        "INSERT INTO {} ({}) VALUES ({}, {}, {}, {}, {addr}, {}, {}, {}, {}, {now}, {now}, {}, {}, {})",
        q(INSTANCES),
        INSTANCE_COLUMNS
            .iter()
            .map(|c| q(c))
            .collect::<Vec<_>>()
            .join(", "),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
        p(9),
        p(10),
        p(11),
    )
}

/// Name this session for others to see (PostgreSQL's `application_name`); binds: the name.
pub fn tag_session_sql(dialect: Dialect) -> Option<&'static str> {
    match dialect {
        Dialect::Postgres => Some("SELECT set_config('application_name', $1, false)"),
        Dialect::MySql | Dialect::Sqlite => None,
    }
}

/// A heartbeat, acknowledging a generation at the same time; binds: generation_seen, id.
/// Affects no row when the instance's row is gone (expired and purged): register again.
pub fn heartbeat_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let greatest = match dialect {
        Dialect::Sqlite => "max",
        Dialect::Postgres | Dialect::MySql => "GREATEST",
    };
    format!(
        "UPDATE {} SET {hb} = {}, {gs} = {greatest}({gs}, {}) WHERE {} = {}",
        q(INSTANCES),
        now_ms(dialect),
        dialect.placeholder(1),
        q("id"),
        dialect.placeholder(2),
        hb = q("heartbeat_ms"),
        gs = q("generation_seen"),
    )
}

/// Remove an instance's row; binds: id.
pub fn deregister_sql(dialect: Dialect) -> String {
    format!(
        "DELETE FROM {} WHERE {} = {}",
        dialect.quote(INSTANCES),
        dialect.quote("id"),
        dialect.placeholder(1)
    )
}

/// Remove rows whose instance stopped heart-beating more than `grace_ms` after it
/// expired; binds: grace_ms.
pub fn purge_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    format!(
        "DELETE FROM {} WHERE {} - {} > {} + {}",
        q(INSTANCES),
        now_ms(dialect),
        q("heartbeat_ms"),
        q("expires_after_ms"),
        dialect.placeholder(1)
    )
}

/// Every registered instance, with the server's clock as a last column `now_ms`.
pub fn list_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    format!(
        "SELECT {}, {} AS {} FROM {} ORDER BY {}",
        INSTANCE_COLUMNS
            .iter()
            .map(|c| q(c))
            .collect::<Vec<_>>()
            .join(", "),
        now_ms(dialect),
        q("now_ms"),
        q(INSTANCES),
        q("started_ms"),
    )
}

/// The current schema generation (no row: 0).
pub fn generation_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} = 1",
        dialect.quote("generation"),
        dialect.quote(GENERATION),
        dialect.quote("id")
    )
}

/// Move the schema generation on by one (read it back with [`generation_sql`]).
pub fn bump_generation_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let (t, id, g) = (q(GENERATION), q("id"), q("generation"));
    match dialect {
        Dialect::MySql => {
            format!("INSERT INTO {t} ({id}, {g}) VALUES (1, 1) ON DUPLICATE KEY UPDATE {g} = {g} + 1")
        }
        Dialect::Postgres | Dialect::Sqlite => {
            format!(
                "INSERT INTO {t} ({id}, {g}) VALUES (1, 1) ON CONFLICT ({id}) DO UPDATE SET {g} = {t}.{g} + 1"
            )
        }
    }
}

/// Connections to this database other than this one (PostgreSQL, MySQL): one row each,
/// `application_name` (PostgreSQL; MySQL: empty), client address, user, and how long it
/// has been connected in seconds. `None` where the engine cannot show other connections
/// (SQLite).
pub fn other_connections_sql(dialect: Dialect) -> Option<String> {
    match dialect {
        Dialect::Postgres => Some(
            "SELECT COALESCE(application_name, '')::text, COALESCE(host(client_addr), 'local')::text, \
             COALESCE(usename::text, ''), \
             CAST(COALESCE(extract(epoch from (clock_timestamp() - backend_start)), 0) AS BIGINT) \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'"
                .into(),
        ),
        Dialect::MySql => Some(
            "SELECT '', SUBSTRING_INDEX(HOST, ':', 1), USER, CAST(TIME AS SIGNED) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'"
                .into(),
        ),
        Dialect::Sqlite => None,
    }
}
