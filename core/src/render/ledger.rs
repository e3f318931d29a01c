//! The ledger (`_straddle_migrations`), the backfill checkpoints (`_straddle_backfill`)
//! and, on SQLite, the runner lease (`_straddle_lock`), per dialect.

use crate::dialect::Dialect;

/// The ledger's table.
pub const LEDGER: &str = "_straddle_migrations";
/// The backfill checkpoints' table.
pub const CHECKPOINTS: &str = "_straddle_backfill";
/// The runner lease's table (SQLite).
pub const LEASE: &str = "_straddle_lock";
/// Definitions of dropped tables, kept to re-create them (see
/// [`super::table_definition`]).
pub const DEFINITIONS: &str = "_straddle_definitions";

/// `CREATE TABLE IF NOT EXISTS` statements for the runner's own tables.
pub fn create_sql(dialect: Dialect) -> Vec<String> {
    let q = |s: &str| dialect.quote(s);
    let (id, text, key_text) = match dialect {
        Dialect::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT", "TEXT"),
        Dialect::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "TEXT", "VARCHAR(255)"),
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "TEXT", "TEXT"),
    };
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({} {id}, {} {key_text} NOT NULL, {} {key_text} NOT NULL, \
             {} {key_text} NOT NULL, {} {key_text} NOT NULL, {} {text} NOT NULL, {} {key_text} NOT NULL, \
             {} BIGINT NOT NULL, {} BIGINT NOT NULL, {} BIGINT NOT NULL, {} BIGINT NOT NULL, {} INTEGER NOT NULL, \
             {} {text} NOT NULL, {} {text})",
            q(LEDGER),
            q("id"),
            q("change_id"),
            q("phase"),
            q("direction"),
            q("step"),
            q("checksum"),
            q("status"),
            q("started_at_ms"),
            q("finished_at_ms"),
            q("duration_ms"),
            q("rows_touched"),
            q("attempts"),
            q("applied_by"),
            q("error"),
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({} {key_text} NOT NULL PRIMARY KEY, {} {text}, {} BIGINT NOT NULL, \
             {} BIGINT NOT NULL)",
            q(CHECKPOINTS),
            q("change_id"),
            q("last_key"),
            q("rows_done"),
            q("updated_at_ms"),
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {} ({} {key_text} NOT NULL PRIMARY KEY, {} {text} NOT NULL, {} BIGINT NOT NULL)",
            q(LEASE),
            q("name"),
            q("holder"),
            q("expires_at_ms"),
        ),
        definitions_create_sql(dialect),
    ]
}

/// `CREATE TABLE IF NOT EXISTS` for the kept definitions of dropped tables.
pub fn definitions_create_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let (key_text, text) = match dialect {
        Dialect::MySql => ("VARCHAR(255)", "LONGTEXT"),
        Dialect::Postgres | Dialect::Sqlite => ("TEXT", "TEXT"),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({} {key_text} NOT NULL PRIMARY KEY, {} {text} NOT NULL, {} BIGINT NOT NULL)",
        q(DEFINITIONS),
        q("change_id"),
        q("statements"),
        q("captured_at_ms"),
    )
}

/// Keep a definition (a JSON array of statements); binds: change_id, statements,
/// captured_at_ms.
pub fn definition_put_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let p = |n| dialect.placeholder(n);
    let cols = format!("{}, {}, {}", q("change_id"), q("statements"), q("captured_at_ms"));
    let values = format!("{}, {}, {}", p(1), p(2), p(3));
    match dialect {
        Dialect::Postgres | Dialect::Sqlite => format!(
            "INSERT INTO {} ({cols}) VALUES ({values}) ON CONFLICT ({}) DO UPDATE SET {s} = excluded.{s}, \
             {c} = excluded.{c}",
            q(DEFINITIONS),
            q("change_id"),
            s = q("statements"),
            c = q("captured_at_ms"),
        ),
        Dialect::MySql => format!(
            "INSERT INTO {} ({cols}) VALUES ({values}) ON DUPLICATE KEY UPDATE {s} = VALUES({s}), {c} = VALUES({c})",
            q(DEFINITIONS),
            s = q("statements"),
            c = q("captured_at_ms"),
        ),
    }
}

/// A kept definition; binds: change_id.
pub fn definition_get_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} = {}",
        dialect.quote("statements"),
        dialect.quote(DEFINITIONS),
        dialect.quote("change_id"),
        dialect.placeholder(1)
    )
}

/// Insert one ledger row; binds, in order: change_id, phase, direction, step, checksum,
/// status, started_at_ms, finished_at_ms, duration_ms, rows_touched, attempts,
/// applied_by, error.
pub fn insert_sql(dialect: Dialect) -> String {
    let cols = &LEDGER_COLUMNS[1..];
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        dialect.quote(LEDGER),
        cols.iter()
            .map(|c| dialect.quote(c))
            .collect::<Vec<_>>()
            .join(", "),
        (1..=cols.len())
            .map(|n| dialect.placeholder(n))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Every ledger row of a change, oldest first; binds: change_id. Columns: id, phase,
/// direction, step, checksum, status, rows_touched, started_at_ms, finished_at_ms,
/// duration_ms, attempts (as a 64-bit integer), applied_by, error.
pub fn history_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let attempts = match dialect {
        Dialect::MySql => format!("CAST({} AS SIGNED)", q("attempts")),
        Dialect::Postgres | Dialect::Sqlite => format!("CAST({} AS BIGINT)", q("attempts")),
    };
    let columns = [
        "id",
        "phase",
        "direction",
        "step",
        "checksum",
        "status",
        "rows_touched",
        "started_at_ms",
        "finished_at_ms",
        "duration_ms",
    ]
    .map(q)
    .join(", ");
    format!(
        "SELECT {columns}, {attempts} AS {}, {}, {} FROM {} WHERE {} = {} ORDER BY {}",
        q("attempts"),
        q("applied_by"),
        q("error"),
        q(LEDGER),
        q("change_id"),
        dialect.placeholder(1),
        q("id")
    )
}

/// The checkpoint of a backfill; binds: change_id. Columns: last_key, rows_done.
pub fn checkpoint_get_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    format!(
        "SELECT {}, {} FROM {} WHERE {} = {}",
        q("last_key"),
        q("rows_done"),
        q(CHECKPOINTS),
        q("change_id"),
        dialect.placeholder(1)
    )
}

/// Record a checkpoint (in the batch's own transaction); binds: change_id, last_key,
/// rows_done, updated_at_ms.
pub fn checkpoint_put_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let p = |n| dialect.placeholder(n);
    let cols = format!(
        "{}, {}, {}, {}",
        q("change_id"),
        q("last_key"),
        q("rows_done"),
        q("updated_at_ms")
    );
    let values = format!("{}, {}, {}, {}", p(1), p(2), p(3), p(4));
    match dialect {
        Dialect::Postgres | Dialect::Sqlite => format!(
            "INSERT INTO {} ({cols}) VALUES ({values}) ON CONFLICT ({}) DO UPDATE SET {lk} = excluded.{lk}, \
             {rd} = excluded.{rd}, {ua} = excluded.{ua}",
            q(CHECKPOINTS),
            q("change_id"),
            lk = q("last_key"),
            rd = q("rows_done"),
            ua = q("updated_at_ms"),
        ),
        Dialect::MySql => format!(
            "INSERT INTO {} ({cols}) VALUES ({values}) ON DUPLICATE KEY UPDATE {lk} = VALUES({lk}), \
             {rd} = VALUES({rd}), {ua} = VALUES({ua})",
            q(CHECKPOINTS),
            lk = q("last_key"),
            rd = q("rows_done"),
            ua = q("updated_at_ms"),
        ),
    }
}

/// Forget every checkpoint whose key starts with a prefix (a change's, `table.column#`:
/// every incarnation of its column); binds: the prefix. Compared by prefix, not `LIKE`,
/// so that `_` and `%` in names match only themselves.
pub fn checkpoint_clear_sql(dialect: Dialect) -> String {
    let c = dialect.quote("change_id");
    let starts = match dialect {
        Dialect::Postgres => format!("strpos({c}, $1) = 1"),
        Dialect::MySql => format!("LOCATE(BINARY ?, {c}) = 1"),
        Dialect::Sqlite => format!("instr({c}, ?1) = 1"),
    };
    format!("DELETE FROM {} WHERE {starts}", dialect.quote(CHECKPOINTS))
}

/// Take the SQLite lease if free or expired; binds: name, holder, expires_at_ms, now_ms.
/// Affects one row when taken.
pub fn lease_take_sql() -> String {
    let d = Dialect::Sqlite;
    let q = |s: &str| d.quote(s);
    format!(
        "INSERT INTO {t} ({n}, {h}, {e}) VALUES (?1, ?2, ?3) ON CONFLICT ({n}) DO UPDATE SET {h} = excluded.{h}, \
         {e} = excluded.{e} WHERE {t}.{e} < ?4 OR {t}.{h} = excluded.{h}",
        t = q(LEASE),
        n = q("name"),
        h = q("holder"),
        e = q("expires_at_ms"),
    )
}

/// Claim the runner lease where the server's own lock does not exclude across the
/// cluster (MariaDB Galera), first half: create it when nobody holds it; binds: name,
/// holder, expires_at_ms. (Galera's certification lets one of two concurrent claims of
/// the row commit; the other fails with a deadlock error.)
pub fn lease_claim_insert_sql() -> String {
    let d = Dialect::MySql;
    format!(
        "INSERT IGNORE INTO {} ({}, {}, {}) VALUES (?, ?, ?)",
        d.quote(LEASE),
        d.quote("name"),
        d.quote("holder"),
        d.quote("expires_at_ms"),
    )
}

/// Second half: take the lease over when it expired, or renew it when it is ours; binds:
/// holder, expires_at_ms, name, now_ms, holder. Whether it is ours is then read back.
pub fn lease_claim_update_sql() -> String {
    let q = |s: &str| Dialect::MySql.quote(s);
    format!(
        "UPDATE {} SET {h} = ?, {e} = ? WHERE {} = ? AND ({e} < ? OR {h} = ?)",
        q(LEASE),
        q("name"),
        h = q("holder"),
        e = q("expires_at_ms"),
    )
}

/// Record who holds the runner lock (PostgreSQL, MySQL: the lock itself is the server's;
/// this row only names its holder to a runner that has to wait); binds: name, holder,
/// expires_at_ms.
pub fn holder_put_sql(dialect: Dialect) -> String {
    let q = |s: &str| dialect.quote(s);
    let p = |n| dialect.placeholder(n);
    let (t, n, h, e) = (q(LEASE), q("name"), q("holder"), q("expires_at_ms"));
    match dialect {
        Dialect::MySql => format!(
            "INSERT INTO {t} ({n}, {h}, {e}) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE {h} = VALUES({h}), {e} = VALUES({e})"
        ),
        Dialect::Postgres | Dialect::Sqlite => format!(
            "INSERT INTO {t} ({n}, {h}, {e}) VALUES ({}, {}, {}) ON CONFLICT ({n}) DO UPDATE SET {h} = excluded.{h}, \
             {e} = excluded.{e}",
            p(1),
            p(2),
            p(3)
        ),
    }
}

/// The recorded lock holder (`host:pid:nonce`) and its lease's expiry; binds: name.
pub fn lease_holder_sql(dialect: Dialect) -> String {
    format!(
        "SELECT {}, {} FROM {} WHERE {} = {}",
        dialect.quote("holder"),
        dialect.quote("expires_at_ms"),
        dialect.quote(LEASE),
        dialect.quote("name"),
        dialect.placeholder(1)
    )
}

/// Release the SQLite lease; binds: name, holder.
pub fn lease_release_sql(dialect: Dialect) -> String {
    format!(
        "DELETE FROM {} WHERE {} = {} AND {} = {}",
        dialect.quote(LEASE),
        dialect.quote("name"),
        dialect.placeholder(1),
        dialect.quote("holder"),
        dialect.placeholder(2)
    )
}

/// The runner lock's key: one per database (MySQL's `GET_LOCK` names are the server's)
/// and per schema (PostgreSQL's advisory locks are the database's), so that migrators of
/// unrelated databases or schemas never wait for each other.
fn lock_key(dialect: Dialect, name: &str) -> String {
    let lit = dialect.string_literal(name);
    match dialect {
        Dialect::Postgres => format!("hashtextextended({lit} || ':' || current_schema(), 0)"),
        // At most 64 characters: the name, then a digest of the database's.
        Dialect::MySql => format!("CONCAT({lit}, ':', SHA1(DATABASE()))"),
        Dialect::Sqlite => lit,
    }
}

/// Acquire the runner lock without waiting (one attempt); returns 1 when acquired.
pub fn try_lock_sql(dialect: Dialect, name: &str) -> Option<String> {
    let key = lock_key(dialect, name);
    match dialect {
        Dialect::Postgres => Some(format!(
            "SELECT CAST(CASE WHEN pg_try_advisory_lock({key}) THEN 1 ELSE 0 END AS BIGINT)"
        )),
        Dialect::MySql => Some(format!("SELECT COALESCE(GET_LOCK({key}, 0), 0)")),
        Dialect::Sqlite => None,
    }
}

/// Release the runner lock `name`, where the engine has one to release.
pub fn unlock_sql(dialect: Dialect, name: &str) -> Option<String> {
    let key = lock_key(dialect, name);
    match dialect {
        Dialect::Postgres => Some(format!(
            "SELECT CAST(CASE WHEN pg_advisory_unlock({key}) THEN 1 ELSE 0 END AS BIGINT)"
        )),
        Dialect::MySql => Some(format!("SELECT COALESCE(RELEASE_LOCK({key}), 0)")),
        Dialect::Sqlite => None,
    }
}

/// The ledger's columns, in order (`id` generated).
const LEDGER_COLUMNS: [&str; 14] = [
    "id",
    "change_id",
    "phase",
    "direction",
    "step",
    "checksum",
    "status",
    "started_at_ms",
    "finished_at_ms",
    "duration_ms",
    "rows_touched",
    "attempts",
    "applied_by",
    "error",
];

/// The columns each of the runner's own tables must have (a table of that name with
/// others is not Straddle's).
pub fn expected_columns() -> [(&'static str, &'static [&'static str]); 4] {
    [
        (LEDGER, &LEDGER_COLUMNS),
        (
            CHECKPOINTS,
            &["change_id", "last_key", "rows_done", "updated_at_ms"],
        ),
        (LEASE, &["name", "holder", "expires_at_ms"]),
        (DEFINITIONS, &["change_id", "statements", "captured_at_ms"]),
    ]
}

/// Statements bounding one backfill batch's transaction.
pub fn batch_timeouts_sql(dialect: Dialect, lock_timeout_ms: u64, statement_timeout_ms: u64) -> Vec<String> {
    match dialect {
        Dialect::Postgres => vec![
            format!("SET LOCAL lock_timeout = '{lock_timeout_ms}ms'"),
            format!("SET LOCAL statement_timeout = '{statement_timeout_ms}ms'"),
        ],
        Dialect::MySql => vec![format!(
            "SET SESSION innodb_lock_wait_timeout = {}",
            lock_timeout_ms.div_ceil(1000).max(1)
        )],
        Dialect::Sqlite => vec![],
    }
}

/// PostgreSQL: a count of what on `table` would behave differently were the backfill's
/// session to skip triggers and rules (`session_replication_role = replica`) while it
/// fills `column`: a trigger that is not one of `own` (the change's sync triggers, whose
/// `WHEN` is false for the backfill's own writes anyway), a rule, a foreign key over the
/// column. Zero means skipping them changes nothing but the cost of firing them.
pub fn triggers_skippable_sql(table: &str, column: &str, own: &[String]) -> String {
    let d = Dialect::Postgres;
    let reg = format!("{}::regclass", d.string_literal(&d.quote(table)));
    let own = if own.is_empty() {
        "''".to_string()
    } else {
        own.iter()
            .map(|n| d.string_literal(n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let attnum = format!(
        "(SELECT attnum FROM pg_attribute WHERE attrelid = {reg} AND attname = {})",
        d.string_literal(column)
    );
    format!(
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = {reg} AND NOT tgisinternal AND tgname NOT IN ({own})) \
         + (SELECT count(*) FROM pg_rewrite WHERE ev_class = {reg} AND rulename <> '_RETURN') \
         + (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND ((conrelid = {reg} AND {attnum} = ANY (conkey)) \
            OR (confrelid = {reg} AND {attnum} = ANY (confkey))))"
    )
}

/// PostgreSQL: the backfill session skips triggers and rules (see
/// [`triggers_skippable_sql`]); and back. Setting it needs a superuser (or a role
/// granted it): where refused, triggers fire as usual.
pub const SKIP_TRIGGERS_SQL: [&str; 2] = [
    "SET session_replication_role = replica",
    "RESET session_replication_role",
];

/// Session settings for a backfill that runs one autocommitted statement per batch, and
/// their reset. `synchronous_commit = off` is safe here: each batch commits with its own
/// checkpoint, so a crash loses at most the last batches *and* their checkpoints, and the
/// resumed run redoes exactly those.
pub fn backfill_session_sql(
    dialect: Dialect,
    lock_timeout_ms: u64,
    statement_timeout_ms: u64,
) -> (Vec<String>, Vec<String>) {
    match dialect {
        Dialect::Postgres => (
            vec![format!(
                "SELECT set_config('lock_timeout', '{lock_timeout_ms}ms', false), \
                 set_config('statement_timeout', '{statement_timeout_ms}ms', false), \
                 set_config('synchronous_commit', 'off', false)"
            )],
            vec![
                "RESET lock_timeout".into(),
                "RESET statement_timeout".into(),
                "RESET synchronous_commit".into(),
            ],
        ),
        Dialect::MySql | Dialect::Sqlite => (vec![], vec![]),
    }
}
