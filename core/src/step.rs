//! Executable steps: what a renderer produces and a runner applies.

use crate::catalog::Expect;
use crate::naming::comment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
/// Which way a phase runs.
pub enum Direction {
    /// Applying it.
    Up,
    /// Reverting it.
    Down,
}

impl Direction {
    /// Its key: `up` or `down`.
    pub fn key(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One unit the runner applies and logs. Its statements run on one connection, inside
/// one transaction when `transactional` (otherwise one by one, each guarded so that a
/// half-applied step can be re-run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Stable, human-readable name, unique within its phase (e.g. `add-column`).
    pub name: String,
    /// Whether the step runs in one transaction.
    pub transactional: bool,
    /// Whether the statements take a lock that the runner must bound with a lock timeout.
    pub ddl: bool,
    /// Its statements, in order.
    pub statements: Vec<Statement>,
    /// Every object the step creates, alters or drops, with its table and what it must
    /// look like (see [`crate::catalog`]). Before it runs, an object it would create that
    /// exists as something else refuses the step; when every object is already as the
    /// step leaves it, the step is skipped as applied (this makes non-idempotent DDL, e.g.
    /// MySQL `ADD COLUMN`, safe to re-run); after it runs, every object must be so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expects: Vec<Expect>,
    /// The strongest lock the step takes on its table, where the engine's lock modes are
    /// documented (PostgreSQL). Shown in the plan; the test suite holds it to `pg_locks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<TableLock>,
    /// Whether its DDL reads every row of the table while it runs (MySQL: a rebuild, or an
    /// index build). Online on one server, but on a Galera cluster DDL runs on every node
    /// at once in total order, and every write on every node waits until it ends: the
    /// runner estimates that stall from the table's size first. Not part of the checksum.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scans_table: bool,
    /// Checksums the step had as earlier Straddle releases rendered it, where a release
    /// changed how it is written without changing what it does (e.g. an assertion that
    /// now lets through what the step has learnt to keep): a ledger row recording one of
    /// them is this step, not an edit. Not part of the checksum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legacy_checksums: Vec<String>,
}

/// PostgreSQL table lock modes a step may take, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableLock {
    /// `ACCESS SHARE`.
    AccessShare,
    /// `ROW EXCLUSIVE`.
    RowExclusive,
    /// `SHARE UPDATE EXCLUSIVE`.
    ShareUpdateExclusive,
    /// `SHARE ROW EXCLUSIVE`.
    ShareRowExclusive,
    /// `ACCESS EXCLUSIVE`.
    AccessExclusive,
}

impl TableLock {
    /// As `pg_locks.mode` names it.
    pub fn pg_mode(self) -> &'static str {
        match self {
            TableLock::AccessShare => "AccessShareLock",
            TableLock::RowExclusive => "RowExclusiveLock",
            TableLock::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            TableLock::ShareRowExclusive => "ShareRowExclusiveLock",
            TableLock::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// As the documentation names it.
    pub fn sql_name(self) -> &'static str {
        match self {
            TableLock::AccessShare => "ACCESS SHARE (reads and writes go on)",
            TableLock::RowExclusive => "ROW EXCLUSIVE (reads and writes go on)",
            TableLock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE (reads and writes go on)",
            TableLock::ShareRowExclusive => "SHARE ROW EXCLUSIVE, briefly (writes wait)",
            TableLock::AccessExclusive => {
                "ACCESS EXCLUSIVE, briefly (metadata only; bounded by the lock timeout)"
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// One statement of a step.
pub enum Statement {
    /// Run it.
    Execute(String),
    /// A count query that must return 0; otherwise the step stops with `message`, the
    /// count and, when `sample` is given, the keys of a few offending rows (a query
    /// returning text), before anything after it runs.
    Assert {
        /// A query counting the offending rows.
        sql: String,
        /// What a violation means, in words (shown when it refuses).
        message: String,
        /// A query for the keys of some offending rows.
        sample: Option<String>,
    },
    /// Fill a column in keyset-ordered batches; see [`Backfill`].
    Backfill(Box<Backfill>),
    /// Run `sql` only when the count query `probe` returns more than zero (e.g. drop an
    /// INVALID index left by an interrupted build, and only then).
    When {
        /// The count query.
        probe: String,
        /// The statement.
        sql: String,
    },
    /// Wait until every app instance has re-read the schema: twice the runtime's maximum
    /// snapshot staleness.
    AwaitAppRefresh,
    /// Rebuild a SQLite table with one column's NOT NULL or default changed, from the
    /// table as it is when the step runs; see [`crate::render::sqlite_rebuild`].
    Rebuild(TableRebuild),
    /// Read the table's whole definition from the catalog (see
    /// [`crate::render::table_definition`]) and keep it in the ledger, under the change.
    Capture {
        /// The table.
        table: String,
    },
    /// Re-create a table from the definition kept by [`Statement::Capture`] under the
    /// change; from `fallback` (the model's) when none was kept.
    Restore(TableRestore),
    /// SQL written when the step runs, from the live definition of a column (what the
    /// model cannot know: its collation, comment, default as the engine stores it); see
    /// [`crate::render::live`].
    Live(LiveSql),
}

/// A table re-created as it was captured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableRestore {
    /// The table.
    pub table: String,
    /// The statements used when no definition was captured.
    pub fallback: Vec<String>,
}

/// A statement built from the live catalog when it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LiveSql {
    /// MySQL `MODIFY COLUMN` with NOT NULL set to `not_null`, restating everything else of
    /// the column as it is (type, character set, collation, default, `ON UPDATE`,
    /// comment): MySQL replaces the whole definition.
    MySqlModify {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Whether it must end NOT NULL.
        not_null: bool,
    },
    /// MySQL `MODIFY COLUMN` giving the column `comment` (`None`: none), restating the
    /// rest of its definition as it is (NOT NULL included).
    MySqlComment {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The comment it gets.
        comment: Option<String>,
    },
    /// Give `to` the default `from` has, converted by `convert` (an expression over the
    /// column's name; `from`'s default takes its place), and on PostgreSQL its comment.
    /// On SQLite, where a default changes only by rebuilding the table, the rebuild runs
    /// only when `from` has a default.
    CarryDefault {
        /// The dialect.
        dialect: crate::dialect::Dialect,
        /// The table.
        table: String,
        /// The column converted from.
        from: String,
        /// The column converted to.
        to: String,
        /// The conversion expression.
        convert: crate::expr::SqlExpr,
    },
    /// PostgreSQL: `ALTER COLUMN … TYPE` keeping the column's collation (left out, the
    /// new type's default collation would replace it).
    AlterType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its type.
        sql_type: String,
    },
}

/// What a SQLite table rebuild changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableRebuild {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The column's NOT NULL afterwards, when the rebuild changes it.
    pub not_null: Option<bool>,
    /// The column's default (SQL text) afterwards, when the rebuild changes it
    /// (`Some(None)` removes it).
    pub default: Option<Option<String>>,
}

/// The SQL of a batched backfill. Each batch: find the batch's upper key
/// (`upper_key_sql`, binds: last key, batch size; `first_upper_key_sql` for the first
/// batch, binds: batch size), then one ranged UPDATE (`update_sql`, binds: lower key
/// exclusive, upper key inclusive; `first_update_sql` for the first batch, binds: upper
/// key). Only rows still NULL are touched, so re-running is harmless.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The key column.
    pub key: String,
    /// Integer keys are bound and read as `i64`, others as text.
    pub key_is_integer: bool,
    /// The first batch's upper key.
    pub first_upper_key_sql: String,
    /// The next batch's upper key, after the last one.
    pub upper_key_sql: String,
    /// The first batch's update.
    pub first_update_sql: String,
    /// The next batches' update.
    pub update_sql: String,
    /// Rows still to fill.
    pub remaining_sql: String,
    /// After the last batch: rows the backfill should have filled and did not (the
    /// column NULL where its value is not), counted — none may be left — and sampled by
    /// key.
    #[serde(default)]
    pub missed_sql: String,
    #[serde(default)]
    /// Keys of some rows the backfill left behind.
    pub missed_sample_sql: String,
    /// Where the engine can do a whole batch in one statement — upper key, ranged UPDATE
    /// and checkpoint upsert, atomically (PostgreSQL, data-modifying CTEs) — the first-
    /// and next-batch forms. Binds: [last key (next only)], batch size, change id, rows
    /// done before, now (ms). Returns (upper key, rows filled).
    #[serde(default)]
    pub one_statement: Option<[String; 2]>,
    /// A composite primary key's columns, in order (empty for a single-column key, which
    /// `key` names). Then the upper-key queries return the batch's last key as a JSON
    /// array (kept as is in the checkpoint), and each key bound is its values in order —
    /// or, with `expanded_binds`, in the order of the expanded comparison `k1 > ? OR (k1
    /// = ? AND k2 > ?) …` (MySQL/MariaDB, whose optimizer does not range-scan a row
    /// comparison): `k1`, `k1, k2`, `k1, k2, k3`, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_columns: Vec<String>,
    /// See `key_columns`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expanded_binds: bool,
    /// What rows `missed_sql` counts mean, when not a column left NULL where it has a value
    /// (a constraint's fix that does not satisfy it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_message: Option<String>,
}

impl Step {
    /// Whether a ledger row with checksum `recorded` ran this step: its checksum, or one of
    /// its [`Step::legacy_checksums`].
    pub fn accepts(&self, recorded: &str) -> bool {
        recorded == self.checksum() || self.legacy_checksums.iter().any(|c| c == recorded)
    }

    /// SHA-256 over everything that determines what the step does. Stable across
    /// releases as long as the rendered SQL is; a changed checksum for an applied step
    /// means the migration was edited after it ran.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        h.update(if self.transactional { b"tx\n" } else { b"nt\n" });
        for e in &self.expects {
            h.update(b"expect\n");
            h.update(serde_json::to_string(e).expect("serializes").as_bytes());
            h.update(b"\n");
        }
        for st in &self.statements {
            h.update(st.to_string().as_bytes());
            h.update(b"\n;\n");
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Execute(sql) => write!(f, "{sql};"),
            Statement::Assert { sql, message, .. } => {
                write!(f, "{}\n{sql};", comment(&format!("assert zero: {message}")))
            }
            Statement::Backfill(b) => write!(
                f,
                "{}\n-- first batch upper key:\n{};\n-- next batch upper key:\n{};\n\
                 -- first batch:\n{};\n-- next batch:\n{};\n\
                 -- then, asserted zero (rows left behind):\n{};",
                comment(&format!(
                    "backfill {}.{} in batches by {}, repeated until no rows remain:",
                    b.table, b.column, b.key
                )),
                b.first_upper_key_sql,
                b.upper_key_sql,
                b.first_update_sql,
                b.update_sql,
                b.missed_sql
            ),
            Statement::When { probe, sql } => {
                write!(
                    f,
                    "-- only when this counts more than zero:\n{}\n{sql};",
                    comment(&format!("  {probe}"))
                )
            }
            Statement::AwaitAppRefresh => write!(
                f,
                "-- wait until every app instance has re-read the schema (twice its maximum snapshot staleness)"
            ),
            Statement::Live(live) => f.write_str(&crate::render::live::describe(live)),
            Statement::Capture { table } => f.write_str(&comment(&format!(
                "keep the definition of {table} (columns, defaults and their sequences, constraints, indexes, \
                 comments, triggers) in {}, to re-create it as it is if this is reverted",
                crate::render::ledger::DEFINITIONS
            ))),
            Statement::Restore(r) => {
                writeln!(
                    f,
                    "{}",
                    comment(&format!(
                        "re-create {} as it was kept in {} when it was dropped; if nothing was kept:",
                        r.table,
                        crate::render::ledger::DEFINITIONS
                    ))
                )?;
                let fallback: Vec<String> = r.fallback.iter().map(|s| format!("{s};")).collect();
                f.write_str(&fallback.join("\n"))
            }
            Statement::Rebuild(r) => {
                let change = match (&r.not_null, &r.default) {
                    (Some(true), _) => "NOT NULL".to_string(),
                    (Some(false), _) => "nullable".to_string(),
                    (None, Some(Some(d))) => format!("DEFAULT {d}"),
                    (None, Some(None)) => "no default".to_string(),
                    (None, None) => "unchanged".to_string(),
                };
                let temp = crate::render::sqlite_rebuild::temp_name(&r.table);
                let text = format!(
                    "rebuild {table} with {column} {change}, from the table as it is when this runs:\n\
                     its columns:\n  {columns};\nits indexes and triggers:\n  {dependents};\n\
                     then CREATE TABLE {temp} (the same columns, {column} {change}); INSERT INTO {temp} SELECT …;\n\
                     DROP TABLE {table}; ALTER TABLE {temp} RENAME TO {table}; the indexes and triggers again.",
                    table = r.table,
                    column = r.column,
                    columns = crate::render::sqlite_rebuild::columns_sql(&r.table),
                    dependents = crate::render::sqlite_rebuild::dependents_sql(&r.table),
                );
                f.write_str(&comment(&text))
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "-- step {} ({})",
            self.name,
            if self.transactional {
                "in one transaction"
            } else {
                "outside a transaction"
            }
        )?;
        if let Some(lock) = self.lock {
            writeln!(f, "-- locks the table at most: {}", lock.sql_name())?;
        }
        if !self.expects.is_empty() {
            writeln!(
                f,
                "-- checked against the catalog (skipped when all hold, refused when a name is something else's):"
            )?;
            for e in &self.expects {
                writeln!(f, "{}", comment(&format!("  {e}")))?;
            }
        }
        for st in &self.statements {
            writeln!(f, "{st}")?;
        }
        Ok(())
    }
}
