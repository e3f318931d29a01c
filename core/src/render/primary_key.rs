//! `index(..., primary_key)`: a primary key given to a table the database has without one,
//! on the model's key columns, without a long lock.
//!
//! - **PostgreSQL**: key columns that are nullable in the catalog are made NOT NULL the
//!   way `not_null` does it (a `CHECK (… IS NOT NULL) NOT VALID`, validated under SHARE
//!   UPDATE EXCLUSIVE, then `SET NOT NULL`, which the validated check spares a scan);
//!   the unique index is built `CONCURRENTLY`; `ADD PRIMARY KEY USING INDEX` attaches it
//!   (a brief ACCESS EXCLUSIVE, no scan, no second build). Going down drops the
//!   constraint and its index.
//! - **MySQL/MariaDB**: `ADD PRIMARY KEY … ALGORITHM=INPLACE, LOCK=NONE` (InnoDB rebuilds
//!   the table as the new clustered index, reads and writes going on; the key columns
//!   become NOT NULL with it). Going down, InnoDB can drop a primary key only by copying
//!   the table (`ALGORITHM=COPY, LOCK=SHARED`: reads go on, writes wait for the copy).
//! - **SQLite** cannot add a primary key to an existing table without rebuilding it; a
//!   unique index on the key is what it builds for a non-INTEGER one, so the unique
//!   index is the key there.
//!
//! Everywhere, before anything changes: no row may have a NULL in the key, no two rows
//! the same key (refused with sample keys), and the table must have no primary key yet.
//! Going down leaves the key columns NOT NULL (no release writes NULL there: a key field
//! cannot be `Option`).

use super::{IndexTarget, Rendered, alter, create, drop, step};
use crate::catalog::{ConstraintKind, Object, State};
use crate::dialect::Dialect;
use crate::plan::Op;
use crate::step::Statement;

/// The steps of `op` (`CreateIndex` / `DropIndex`) on a primary key's index.
pub(super) fn render(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    let lone = |step| Rendered {
        step,
        combinable: false,
    };
    match (t.dialect, op) {
        (Dialect::Postgres, Op::CreateIndex) => {
            let mut build = super::postgres::render_index(t, op);
            build[0].step.statements.insert(0, no_other_key(t));
            let mut attach = step("add-primary-key", true, true);
            attach.statements.push(no_other_key(t));
            attach.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}",
                t.table(),
                t.name(),
                t.name()
            )));
            attach.expects.push(create(constraint(t), key_state()));
            let mut out = vec![lone(postgres_not_null(t))];
            out.extend(build);
            out.push(lone(attach));
            out
        }
        (Dialect::Postgres, Op::DropIndex) => {
            // The constraint owns the index: dropping it drops both (a brief lock).
            let mut detach = step("drop-primary-key", true, true);
            detach.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                t.table(),
                t.name()
            )));
            detach.expects.push(drop(constraint(t)));
            let mut out = vec![lone(detach)];
            out.extend(super::postgres::render_index(t, op));
            out
        }
        (Dialect::MySql, Op::CreateIndex) => {
            let mut s = step("add-primary-key", false, true);
            s.scans_table = true;
            s.statements.push(no_null_keys(t));
            s.statements.extend(t.no_duplicates());
            s.statements.push(no_other_key(t));
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} ADD PRIMARY KEY {}, ALGORITHM=INPLACE, LOCK=NONE",
                t.table(),
                t.columns()
            )));
            s.expects.push(create(mysql_primary(t), t.state()));
            vec![lone(s)]
        }
        (Dialect::MySql, Op::DropIndex) => {
            // InnoDB drops a primary key (without adding another) only by copying the table.
            let mut s = step("drop-primary-key", false, true);
            s.scans_table = true;
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} DROP PRIMARY KEY, ALGORITHM=COPY, LOCK=SHARED",
                t.table()
            )));
            s.expects.push(drop(mysql_primary(t)));
            vec![lone(s)]
        }
        (Dialect::Sqlite, Op::CreateIndex) => {
            let mut out = super::sqlite::render_index(t, op);
            let statements = &mut out[0].step.statements;
            statements.insert(0, no_other_key(t));
            statements.insert(0, no_null_keys(t));
            out
        }
        (Dialect::Sqlite, Op::DropIndex) => super::sqlite::render_index(t, op),
        _ => unreachable!("a primary key's index is only added (and dropped going down)"),
    }
}

/// The primary key constraint (PostgreSQL: named as the index it is made from).
fn constraint(t: &IndexTarget<'_>) -> Object {
    Object::Constraint {
        table: t.model.table.clone(),
        name: t.index.name.clone(),
    }
}

fn key_state() -> State {
    State::Constraint {
        kind: ConstraintKind::PrimaryKey,
        validated: None,
    }
}

/// MySQL/MariaDB's primary key is the index named `PRIMARY`, whatever the declaration
/// calls it.
fn mysql_primary(t: &IndexTarget<'_>) -> Object {
    t.object_named("PRIMARY")
}

/// Refuses while a row has a NULL in the key (it would have no key).
fn no_null_keys(t: &IndexTarget<'_>) -> Statement {
    let nulls: Vec<String> = t
        .index
        .columns
        .iter()
        .map(|c| format!("{} IS NULL", t.q(c)))
        .collect();
    Statement::Assert {
        sql: format!("SELECT count(*) FROM {} WHERE {}", t.table(), nulls.join(" OR ")),
        message: format!(
            "the primary key ({}) cannot be added to {}: rows have NULL there — nothing was changed; give them a key \
             and run again",
            t.index.columns.join(", "),
            t.model.table
        ),
        sample: None,
    }
}

/// Refuses while the table has a primary key (other than the one this change adds, on
/// PostgreSQL where it has a name): a table has one.
fn no_other_key(t: &IndexTarget<'_>) -> Statement {
    let table = t.lit(&t.model.table);
    let (sql, sample) = match t.dialect {
        Dialect::Postgres => {
            let from = format!(
                "FROM pg_constraint o JOIN pg_class c ON c.oid = o.conrelid \
                 WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = {table} AND o.contype = 'p' \
                 AND o.conname <> {}",
                t.lit(&t.index.name)
            );
            (
                format!("SELECT count(*) {from}"),
                format!("SELECT o.conname::text {from}"),
            )
        }
        Dialect::MySql => {
            let from = format!(
                "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {table} \
                 AND INDEX_NAME = 'PRIMARY'"
            );
            (
                format!("SELECT count(*) {from}"),
                format!("SELECT CAST(COLUMN_NAME AS CHAR) {from} ORDER BY SEQ_IN_INDEX"),
            )
        }
        Dialect::Sqlite => {
            let from = format!("FROM pragma_table_info({table}) WHERE pk > 0");
            (
                format!("SELECT count(*) {from}"),
                format!("SELECT name {from} ORDER BY pk"),
            )
        }
    };
    Statement::Assert {
        sql,
        message: format!(
            "{} has a primary key already, and a table has one: `primary_key` adds one to a table that has none — \
             nothing was changed",
            t.model.table
        ),
        sample: Some(sample),
    }
}

/// PostgreSQL: each key column nullable in the catalog made NOT NULL without a long lock
/// (as `not_null` does: a NOT VALID check, validated, lets `SET NOT NULL` skip its scan).
/// Outside a transaction, statement by statement, each guarded by what the catalog holds,
/// so a retry resumes where an attempt stopped.
fn postgres_not_null(t: &IndexTarget<'_>) -> crate::step::Step {
    let mut s = step("key-not-null", false, true);
    // Every refusal before the first change.
    s.statements.push(no_null_keys(t));
    s.statements.extend(t.no_duplicates());
    s.statements.push(no_other_key(t));
    let relation = t.lit(&t.table());
    for column in &t.index.columns {
        let col = t.q(column);
        let check = crate::naming::object_name("pknn", &[&t.model.table, column]);
        let nullable = format!(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = {relation}::regclass AND attname = {} \
             AND NOT attnotnull",
            t.lit(column)
        );
        let the_check = format!(
            "FROM pg_constraint WHERE conrelid = {relation}::regclass AND conname = {}",
            t.lit(&check)
        );
        let check_is = |extra: &str| format!("SELECT count(*) {the_check}{extra}");
        let q_check = t.q(&check);
        s.statements.push(Statement::When {
            probe: format!("{nullable} AND NOT EXISTS (SELECT 1 {the_check})"),
            sql: format!(
                "ALTER TABLE {} ADD CONSTRAINT {q_check} CHECK ({col} IS NOT NULL) NOT VALID",
                t.table()
            ),
        });
        s.statements.push(Statement::When {
            probe: check_is(" AND NOT convalidated"),
            sql: format!("ALTER TABLE {} VALIDATE CONSTRAINT {q_check}", t.table()),
        });
        s.statements.push(Statement::When {
            probe: nullable,
            sql: format!("ALTER TABLE {} ALTER COLUMN {col} SET NOT NULL", t.table()),
        });
        s.statements.push(Statement::When {
            probe: check_is(""),
            sql: format!("ALTER TABLE {} DROP CONSTRAINT {q_check}", t.table()),
        });
        let ty = t
            .model
            .column(column)
            .map(|c| c.ty.sql(t.dialect).to_string())
            .unwrap_or_default();
        s.expects.push(alter(
            Object::Column {
                table: t.model.table.clone(),
                column: column.clone(),
            },
            State::Column {
                sql_type: ty,
                nullable: Some(false),
                default: None,
            },
        ));
    }
    s
}
