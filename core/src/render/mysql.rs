//! MySQL 8 / MariaDB 10.11 (InnoDB): DDL is not transactional, so every step is one
//! statement guarded by a catalog probe, and every ALTER states its algorithm so the
//! server refuses instead of silently copying the table.

use super::{Rendered, Target, default_sql, step};
use crate::expr::Qualifier;
use crate::plan::Op;
use crate::step::Statement;

fn column_exists(t: &Target<'_>) -> String {
    format!(
        "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = {} AND COLUMN_NAME = {}",
        t.lit(&t.model.table),
        t.lit(&t.column.name)
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
        Op::AddColumn { nullable, default } => {
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
        Op::DropColumn => vec![one(
            "drop-column",
            format!("ALTER TABLE {table} DROP COLUMN {col}, ALGORITHM=INSTANT"),
            Some(format!("SELECT 1 - LEAST(1, ({}))", column_exists(t))),
            true,
        )],
        Op::CreateSyncTrigger => {
            let expr = t.expr();
            let [ins, upd] = sync_trigger_names(t);
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
            vec![
                one(
                    "create-sync-trigger-insert",
                    format!(
                        "CREATE TRIGGER {} BEFORE INSERT ON {table} FOR EACH ROW \
                         SET NEW.{col} = COALESCE(NEW.{col}, {computed})",
                        t.q(&ins)
                    ),
                    Some(trigger_exists(t, &ins)),
                    true,
                ),
                one(
                    "create-sync-trigger-update",
                    format!(
                        "CREATE TRIGGER {} BEFORE UPDATE ON {table} FOR EACH ROW \
                         SET NEW.{col} = CASE WHEN NEW.{col} IS NULL OR (NEW.{col} <=> OLD.{col} AND ({sources_changed})) \
                         THEN {computed} ELSE NEW.{col} END",
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
        Op::Backfill => {
            let max = if t.key_is_integer() {
                "CAST(max(k) AS SIGNED)"
            } else {
                "max(k)"
            };
            vec![super::keyset_backfill(t, max, None)]
        }
        Op::EnforceNotNull => {
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
        Op::RelaxNotNull => vec![one(
            "drop-not-null",
            format!(
                "ALTER TABLE {table} MODIFY COLUMN {col} {} NULL, ALGORITHM=INPLACE, LOCK=NONE",
                t.sql_type()
            ),
            Some(column_is_nullable(t, true)),
            true,
        )],
    }
}

fn sync_trigger_names(t: &Target<'_>) -> [String; 2] {
    let names = super::sync_trigger_names(t.dialect, &t.model.table, &t.column.name);
    [names[0].clone(), names[1].clone()]
}
