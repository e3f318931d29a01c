//! The runner's own tables (`_straddle_migrations`, checkpoints, the lock row, kept table
//! definitions): created when missing — or, for a database user without the privilege,
//! explained — and checked to be Straddle's before anything is read from them.

use crate::backend::Backend;
use crate::error::{Error, Result};
use straddle_core::Dialect;
use straddle_core::catalog::{Found, Object, probe_sql};
use straddle_core::render::ledger;

/// Whether the ledger tables are there to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ledger {
    Present,
    /// Not created (a read-only look at a database no runner has written to).
    Absent,
}

/// The columns `table` has, or `None` when there is no such table.
async fn columns<DB: Backend>(conn: &mut DB::Connection, table: &str) -> Result<Option<Vec<String>>> {
    let object = Object::Table { name: table.into() };
    let rows = DB::texts(conn, probe_sql(DB::DIALECT, &object)).await?;
    let found: Vec<Found> = rows.iter().filter_map(|r| serde_json::from_str(r).ok()).collect();
    Ok(found.into_iter().find(|f| f.kind == "table").map(|f| {
        f.columns
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.name)
            .collect()
    }))
}

/// Make sure the ledger tables exist (unless `read_only`) and are Straddle's.
pub(crate) async fn prepare<DB: Backend>(conn: &mut DB::Connection, read_only: bool) -> Result<Ledger> {
    if !read_only {
        let fleet = straddle_core::render::fleet::create_sql(DB::DIALECT);
        for sql in ledger::create_sql(DB::DIALECT).into_iter().chain(fleet) {
            if let Err(e) = DB::execute(conn, sql, Default::default()).await {
                return Err(match &e {
                    sqlx::Error::Database(db)
                        if is_permission_denied(DB::DIALECT, db.code().as_deref(), db.message()) =>
                    {
                        Error::Privilege(format!(
                            "the database user cannot create Straddle's ledger tables ({}): {}; {} — or have a user \
                             that can run `straddle up` once (the tables are created, nothing else changes)",
                            ledger::LEDGER,
                            db.message(),
                            grant_hint(DB::DIALECT)
                        ))
                    }
                    _ => e.into(),
                });
            }
        }
    }
    let mut present = true;
    let fleet = straddle_core::render::fleet::expected_columns();
    for (table, expected) in ledger::expected_columns().into_iter().chain(fleet) {
        use straddle_core::render::fleet::{GENERATION, INSTANCES};
        let is_ledger = ![INSTANCES, GENERATION].contains(&table);
        match columns::<DB>(conn, table).await? {
            None => present &= !is_ledger,
            Some(have) => {
                let missing: Vec<&&str> = expected
                    .iter()
                    .filter(|c| !have.iter().any(|h| h == **c))
                    .collect();
                if !missing.is_empty() {
                    return Err(Error::Schema(format!(
                        "a table named {table} exists but is not Straddle's: it has columns ({}), and lacks ({}) — \
                         rename it, or run Straddle against another database or schema",
                        have.join(", "),
                        missing
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    }
    Ok(if present { Ledger::Present } else { Ledger::Absent })
}

fn is_permission_denied(dialect: Dialect, code: Option<&str>, message: &str) -> bool {
    match dialect {
        // insufficient_privilege
        Dialect::Postgres => code == Some("42501"),
        // 1142 "CREATE command denied", 1044 "Access denied … to database" (42000, which
        // syntax errors share).
        Dialect::MySql => code == Some("42000") && message.contains("denied"),
        // SQLITE_READONLY, SQLITE_AUTH.
        Dialect::Sqlite => matches!(code, Some("8" | "23")),
    }
}

fn grant_hint(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "grant it with `GRANT CREATE ON SCHEMA <schema> TO <user>`",
        Dialect::MySql => {
            "grant it with `GRANT CREATE, INSERT, UPDATE, DELETE, SELECT ON <database>.* TO <user>`"
        }
        Dialect::Sqlite => "the database file or its folder is not writable",
    }
}
