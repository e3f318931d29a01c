//! MySQL 8 / MariaDB 10.11 (InnoDB): DDL is not transactional, so every step is one
//! statement guarded by a catalog probe, and every ALTER states its algorithm so the
//! server refuses instead of silently copying the table.

use super::{IndexTarget, Rendered, Target, default_sql, step};
use crate::expr::Qualifier;
use crate::model::{Change, ForeignKey, Model};
use crate::plan::Op;
use crate::step::Statement;

fn column_exists(t: &Target<'_>) -> String {
    format!(
        "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = {} AND COLUMN_NAME = {}",
        t.lit(&t.model.table),
        t.lit(&t.name())
    )
}

fn trigger_exists(t: &Target<'_>, name: &str) -> String {
    format!(
        "SELECT count(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
         AND TRIGGER_NAME = {}",
        t.lit(name)
    )
}

fn column_is_nullable(t: &Target<'_>, nullable: bool) -> String {
    format!(
        "{} AND IS_NULLABLE = '{}'",
        column_exists(t),
        if nullable { "YES" } else { "NO" }
    )
}

pub(super) fn render(t: &Target<'_>, op: &Op) -> Vec<Rendered> {
    let table = t.table();
    let col = t.col();
    let one = |name: &str, sql: String, skip_if: Option<String>, ddl: bool| {
        let mut s = step(name, false, ddl);
        s.statements.push(Statement::Execute(sql));
        s.skip_if = skip_if;
        Rendered {
            step: s,
            combinable: false,
        }
    };
    match op {
        Op::AddColumn {
            nullable, default, ..
        } => {
            let mut def = format!("{col} {}", t.sql_type());
            def.push_str(if *nullable { " NULL" } else { " NOT NULL" });
            if let Some(d) = default {
                def.push_str(&format!(" DEFAULT {}", default_sql(t.dialect, d)));
            }
            vec![one(
                "add-column",
                format!("ALTER TABLE {table} ADD COLUMN {def}, ALGORITHM=INSTANT"),
                Some(column_exists(t)),
                true,
            )]
        }
        Op::DropColumn(_) => vec![one(
            "drop-column",
            format!("ALTER TABLE {table} DROP COLUMN {col}, ALGORITHM=INSTANT"),
            Some(format!("SELECT 1 - LEAST(1, ({}))", column_exists(t))),
            true,
        )],
        Op::CreateSyncTrigger => {
            let [ins, upd] = sync_trigger_names(t);
            let (insert_body, update_body) = match t.change {
                Change::Rename(_) => rename_sync_bodies(t),
                Change::Retype(_) => retype_sync_bodies(t),
                _ => computed_sync_bodies(t),
            };
            vec![
                one(
                    "create-sync-trigger-insert",
                    format!(
                        "CREATE TRIGGER {} BEFORE INSERT ON {table} FOR EACH ROW {insert_body}",
                        t.q(&ins)
                    ),
                    Some(trigger_exists(t, &ins)),
                    true,
                ),
                one(
                    "create-sync-trigger-update",
                    format!(
                        "CREATE TRIGGER {} BEFORE UPDATE ON {table} FOR EACH ROW {update_body}",
                        t.q(&upd)
                    ),
                    Some(trigger_exists(t, &upd)),
                    true,
                ),
            ]
        }
        Op::DropSyncTrigger => {
            let [ins, upd] = sync_trigger_names(t);
            vec![
                one(
                    "drop-sync-trigger-insert",
                    format!("DROP TRIGGER IF EXISTS {}", t.q(&ins)),
                    None,
                    true,
                ),
                one(
                    "drop-sync-trigger-update",
                    format!("DROP TRIGGER IF EXISTS {}", t.q(&upd)),
                    None,
                    true,
                ),
            ]
        }
        Op::Backfill(_) => {
            let max = if t.key_is_integer() {
                "CAST(max(k) AS SIGNED)"
            } else {
                "max(k)"
            };
            vec![super::keyset_backfill(t, max, None)]
        }
        // BEFORE triggers fill a column a stale writer omits before constraints are checked.
        Op::AwaitAppRefresh => vec![],
        Op::AssertSynced => vec![super::verify_synced(t)],
        Op::AwaitSchemaRefresh => vec![super::await_app_refresh()],
        // INSTANT on MariaDB 10.5+ / MySQL 8.0.29+: metadata only, one atomic statement.
        Op::SwapShadow | Op::UnswapShadow => vec![super::swap_step(t, op)],
        // Metadata only (INSTANT) on MySQL 8 and MariaDB.
        Op::SetDefault(lit) => vec![one(
            "set-default",
            format!(
                "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {}, ALGORITHM=INSTANT",
                lit.render(t.dialect)
            ),
            None,
            true,
        )],
        Op::DropDefault => vec![one(
            "drop-default",
            format!("ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT, ALGORITHM=INSTANT"),
            None,
            true,
        )],
        Op::EnforceNotNull(_) => {
            let mut verify = step("verify-no-nulls", false, false);
            verify.statements.push(super::no_nulls_left(t));
            // No NOT VALID on MySQL: an in-place rebuild that keeps DML running. The sync
            // trigger is still installed, so no NULL can arrive meanwhile.
            vec![
                Rendered {
                    step: verify,
                    combinable: false,
                },
                one(
                    "set-not-null",
                    format!(
                        "ALTER TABLE {table} MODIFY COLUMN {col} {} NOT NULL, ALGORITHM=INPLACE, LOCK=NONE",
                        t.sql_type()
                    ),
                    Some(column_is_nullable(t, false)),
                    true,
                ),
            ]
        }
        Op::RelaxNotNull(_) => vec![one(
            "drop-not-null",
            format!(
                "ALTER TABLE {table} MODIFY COLUMN {col} {} NULL, ALGORITHM=INPLACE, LOCK=NONE",
                t.sql_type()
            ),
            Some(column_is_nullable(t, true)),
            true,
        )],
        Op::CreateIndex
        | Op::DropIndex
        | Op::AddCheck
        | Op::DropCheck
        | Op::CreateForeignKeyIndex
        | Op::DropForeignKeyIndex
        | Op::AddForeignKey
        | Op::DropForeignKey
        | Op::CreateTable
        | Op::DropTable
        | Op::RetireTable
        | Op::CreateRenameView
        | Op::DropRenameView
        | Op::RenameTable
        | Op::UnrenameTable => {
            unreachable!("index, constraint and table operations have their own renderers")
        }
    }
}

/// Trigger bodies (insert, update) filling an added column from its expression.
fn computed_sync_bodies(t: &Target<'_>) -> (String, String) {
    let col = t.col();
    let expr = t.fill_expr();
    let computed = expr.render(t.dialect, Qualifier::Row("NEW"));
    let sources_changed = if expr.sources.is_empty() {
        "FALSE".to_string()
    } else {
        expr.sources
            .iter()
            .map(|s| format!("NOT (NEW.{0} <=> OLD.{0})", t.q(s)))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    (
        format!("SET NEW.{col} = COALESCE(NEW.{col}, {computed})"),
        format!(
            "SET NEW.{col} = CASE WHEN NEW.{col} IS NULL OR (NEW.{col} <=> OLD.{col} AND ({sources_changed})) \
             THEN {computed} ELSE NEW.{col} END"
        ),
    )
}

/// Trigger bodies (insert, update) of a rename's two-way copy: whichever column a
/// writer set, the other follows. Assignments run left to right.
fn rename_sync_bodies(t: &Target<'_>) -> (String, String) {
    let (new, old) = (t.q(&t.column.name), t.q(&t.other_name()));
    (
        format!("SET NEW.{new} = COALESCE(NEW.{new}, NEW.{old}), NEW.{old} = COALESCE(NEW.{old}, NEW.{new})"),
        format!(
            "SET NEW.{old} = CASE WHEN NOT (NEW.{new} <=> OLD.{new}) THEN NEW.{new} ELSE NEW.{old} END, \
             NEW.{new} = CASE WHEN (NEW.{new} <=> OLD.{new}) AND NOT (NEW.{old} <=> OLD.{old}) THEN NEW.{old} \
             ELSE NEW.{new} END"
        ),
    )
}

/// Trigger bodies (insert, update) of a type change's two-way conversion: whichever
/// column a writer set, the other gets it converted. Assignments run left to right.
fn retype_sync_bodies(t: &Target<'_>) -> (String, String) {
    let [new, old, up, down] = t.retype_sync("NEW");
    (
        format!("SET NEW.{new} = COALESCE(NEW.{new}, {up}), NEW.{old} = COALESCE(NEW.{old}, {down})"),
        format!(
            "SET NEW.{old} = CASE WHEN NOT (NEW.{new} <=> OLD.{new}) THEN {down} ELSE NEW.{old} END, \
             NEW.{new} = CASE WHEN (NEW.{new} <=> OLD.{new}) AND NOT (NEW.{old} <=> OLD.{old}) THEN {up} \
             ELSE NEW.{new} END"
        ),
    )
}

/// Foreign keys (declared `mysql_unvalidated`): there is no NOT VALID, and validating
/// copies the table, so Straddle asserts no orphans itself and adds the constraint in
/// place with the server's validation off for that one statement.
pub(super) fn render_foreign_key(model: &Model, fk: &ForeignKey, op: &Op) -> Vec<Rendered> {
    let d = crate::dialect::Dialect::MySql;
    let (table, name) = (d.quote(&model.table), d.quote(&fk.name));
    let list = |cols: &[String]| cols.iter().map(|c| d.quote(c)).collect::<Vec<_>>().join(", ");
    let exists = format!(
        "SELECT count(*) FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
         AND TABLE_NAME = {} AND CONSTRAINT_NAME = {} AND CONSTRAINT_TYPE = 'FOREIGN KEY'",
        d.string_literal(&model.table),
        d.string_literal(&fk.name)
    );
    let steps = match op {
        Op::AddForeignKey => {
            let mut verify = step("verify-foreign-key", false, false);
            verify.statements.push(super::no_orphans(d, model, fk));
            let mut add = step("add-foreign-key", false, true);
            add.statements.extend([
                Statement::Execute("SET SESSION foreign_key_checks = 0".into()),
                Statement::Execute(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({}) REFERENCES {} ({}), \
                     ALGORITHM=INPLACE, LOCK=NONE",
                    list(&fk.columns),
                    d.quote(&fk.parent),
                    list(&fk.parent_columns)
                )),
                Statement::Execute("SET SESSION foreign_key_checks = 1".into()),
            ]);
            add.skip_if = Some(exists);
            vec![verify, add]
        }
        Op::DropForeignKey => {
            let mut s = step("drop-foreign-key", false, true);
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} DROP FOREIGN KEY {name}, ALGORITHM=INPLACE, LOCK=NONE"
            )));
            s.skip_if = Some(format!("SELECT 1 - LEAST(1, ({exists}))"));
            vec![s]
        }
        _ => unreachable!("only foreign-key operations act on a foreign key"),
    };
    steps
        .into_iter()
        .map(|step| Rendered {
            step,
            combinable: false,
        })
        .collect()
}

/// Indexes: `ALGORITHM=INPLACE, LOCK=NONE` (reads and writes go on), guarded by a probe.
pub(super) fn render_index(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    let exists = format!(
        "SELECT count(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = {} AND INDEX_NAME = {}",
        t.lit(&t.model.table),
        t.lit(&t.index.name)
    );
    let (mut s, sql, skip_if) = match op {
        Op::CreateIndex => {
            let mut s = step("create-index", false, true);
            s.statements.extend(t.no_duplicates());
            (
                s,
                format!(
                    "ALTER TABLE {} ADD {}INDEX {} {}, ALGORITHM=INPLACE, LOCK=NONE",
                    t.table(),
                    t.unique(),
                    t.name(),
                    t.columns()
                ),
                exists,
            )
        }
        Op::DropIndex => (
            step("drop-index", false, true),
            format!(
                "ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE",
                t.table(),
                t.name()
            ),
            format!("SELECT 1 - LEAST(1, ({exists}))"),
        ),
        _ => unreachable!("only index operations act on an index"),
    };
    s.statements.push(Statement::Execute(sql));
    s.skip_if = Some(skip_if);
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}

fn sync_trigger_names(t: &Target<'_>) -> [String; 2] {
    let names = super::sync_trigger_names(t.dialect, &t.model.table, &t.column.name);
    [names[0].clone(), names[1].clone()]
}
