//! PostgreSQL 12+: transactional DDL, `NOT VALID` constraints, plpgsql triggers.

use super::{IndexTarget, Rendered, Target, alter, create, default_sql, drop, step};
use crate::catalog::{ConstraintKind, Object, State};
use crate::expr::Qualifier;
use crate::model::{Change, Check, DefaultValue, ForeignKey, Model};
use crate::plan::Op;
use crate::step::{Statement, TableLock};

pub(super) fn render(t: &Target<'_>, op: &Op) -> Vec<Rendered> {
    match op {
        Op::AddColumn {
            nullable, default, ..
        } => {
            let mut def = format!("{} {}", t.col(), t.sql_type());
            if !nullable {
                def.push_str(" NOT NULL");
            }
            if let Some(d) = default {
                def.push_str(&format!(" DEFAULT {}", default_sql(t.dialect, d)));
            }
            // A constant or stable default and no NOT NULL-without-default: metadata only.
            let mut s = step("add-column", true, true);
            if let Some(DefaultValue::Sql(expr)) = default {
                s.statements.extend(not_volatile(expr, &t.column.name));
            }
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {def}",
                t.table()
            )));
            s.expects = t.added_column(*nullable, default.as_ref());
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::DropColumn(_) => {
            let mut s = step("drop-column", true, true);
            s.statements.push(Statement::Execute(format!(
                "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
                t.table(),
                t.col()
            )));
            s.expects.push(drop(t.column_object()));
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::CreateSyncTrigger => {
            let col = t.col();
            match t.change {
                Change::Rename(_) => return vec![sync_trigger(t, rename_sync_body(t))],
                Change::Retype(_) => return vec![sync_trigger(t, retype_sync_body(t))],
                _ => {}
            }
            // Which rows get it computed — written by code that does not know the column,
            // or with its sources changed and it left as it was — is the triggers' `WHEN`
            // (`sync_when`): the function runs only for them.
            let computed = t.fill_expr().render(t.dialect, Qualifier::Row("NEW"));
            let body = guarded(
                &format!("NEW.{col} := {computed};"),
                &format!("NEW.{col} := NULL;"),
                2,
            );
            vec![sync_trigger(t, body)]
        }
        Op::DropSyncTrigger => {
            let name = t.object_name("sync");
            let q_name = t.q(&name);
            // Trigger first, then the function: `DROP FUNCTION … CASCADE` would take the
            // table's ACCESS EXCLUSIVE lock implicitly.
            let mut s = step("drop-sync-trigger", true, true);
            for trigger in t.sync_trigger_names() {
                s.statements.push(Statement::Execute(format!(
                    "DROP TRIGGER IF EXISTS {} ON {}",
                    t.q(&trigger),
                    t.table()
                )));
                s.expects.push(drop(trigger_object(t, &trigger)));
            }
            s.statements
                .push(Statement::Execute(format!("DROP FUNCTION IF EXISTS {q_name}()")));
            s.expects.push(drop(function_object(t, &name)));
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::Backfill(_) => {
            let max = super::upper_key_max(t.dialect, t.key_is_integer());
            let (key, table, col) = (t.q(&t.key().name), t.table(), t.col());
            let expr = t.fill_expr().render(t.dialect, Qualifier::None);
            let one = |next| one_statement_batch(t, &key, &table, &col, &expr, max, next);
            // A composite key's batches are not one statement (see `keyset_backfill`).
            let one_statement = (t.model.primary_key().len() == 1).then(|| [one(false), one(true)]);
            vec![super::keyset_backfill(t, one_statement)]
        }
        // BEFORE triggers fill a column a stale writer omits before constraints are checked.
        Op::AwaitAppRefresh => vec![],
        Op::AssertSynced => vec![super::verify_synced(t)],
        Op::AwaitSchemaRefresh => vec![super::await_app_refresh()],
        // Metadata only: a brief ACCESS EXCLUSIVE, no rewrite (the shadow already holds
        // the converted values).
        Op::Swap | Op::Unswap => vec![super::swap_step(t, op)],
        Op::CarryDefault(_) => vec![super::carry_default(t)],
        Op::SetDefault(lit) => vec![alter_column(
            t,
            "set-default",
            &format!("SET DEFAULT {}", lit.render(t.dialect)),
        )],
        Op::DropDefault => vec![alter_column(t, "drop-default", "DROP DEFAULT")],
        Op::SetComment(comment) => {
            let mut s = step("set-comment", true, true);
            s.statements.push(Statement::Execute(format!(
                "COMMENT ON COLUMN {}.{} IS {}",
                t.table(),
                t.col(),
                comment
                    .as_deref()
                    .map_or("NULL".to_string(), |c| t.dialect.string_literal(c))
            )));
            vec![Rendered {
                step: s,
                combinable: true,
            }]
        }
        Op::EnforceNotNull(_) => {
            let table = t.table();
            let col = t.col();
            let check = t.object_name("nn");
            let q_check = t.q(&check);
            let constraint = Object::Constraint {
                table: t.model.table.clone(),
                name: check.clone(),
            };
            let check_state = |validated| State::Constraint {
                kind: ConstraintKind::Check,
                validated,
            };
            let mut verify = step("verify-no-nulls", false, false);
            verify.statements.push(super::no_nulls_left(t));
            // NOT VALID: brief ACCESS EXCLUSIVE, no scan; checks new writes from now on.
            let mut add_check = step("add-not-null-check", true, true);
            add_check.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {q_check} CHECK ({col} IS NOT NULL) NOT VALID"
            )));
            add_check
                .expects
                .push(create(constraint.clone(), check_state(None)));
            // Own transaction: the scan runs under SHARE UPDATE EXCLUSIVE, DML continues.
            let mut validate = step("validate-not-null-check", true, true);
            validate.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} VALIDATE CONSTRAINT {q_check}"
            )));
            validate
                .expects
                .push(alter(constraint.clone(), check_state(Some(true))));
            // PostgreSQL 12+ skips the scan given the validated check.
            let mut set = step("set-not-null", true, true);
            set.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL"
            )));
            set.expects.push(alter(t.column_object(), t.column_state(false)));
            let mut drop_check = step("drop-not-null-check", true, true);
            drop_check.statements.push(Statement::Execute(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {q_check}"
            )));
            drop_check.expects.push(drop(constraint));
            vec![
                Rendered {
                    step: verify,
                    combinable: false,
                },
                Rendered {
                    step: add_check,
                    combinable: false,
                },
                Rendered {
                    step: validate,
                    combinable: false,
                },
                Rendered {
                    step: set,
                    combinable: true,
                },
                Rendered {
                    step: drop_check,
                    combinable: true,
                },
            ]
        }
        Op::RelaxNotNull(_) => {
            let mut r = alter_column(t, "drop-not-null", "DROP NOT NULL");
            r.step
                .expects
                .push(alter(t.column_object(), t.column_state(true)));
            vec![r]
        }
        Op::CreateIndex
        | Op::DropIndex
        | Op::RenameIndex
        | Op::UnrenameIndex
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
        | Op::CreateFixTrigger
        | Op::DropFixTrigger
        | Op::FixViolations
        | Op::RunSql
        | Op::RevertSql
        | Op::RenameConstraint
        | Op::UnrenameConstraint
        | Op::RenameTable
        | Op::UnrenameTable => {
            unreachable!("index, constraint and table operations have their own renderers")
        }
    }
}

/// The assertion, before a column is added with an expression default, that no function
/// the expression calls is volatile on this server (a volatile default rewrites the table
/// under ACCESS EXCLUSIVE): checked at compile time against the functions Straddle knows,
/// and here against the server's own catalog — a function of that name anywhere on the
/// search path counts.
fn not_volatile(expr: &crate::expr::SqlExpr, column: &str) -> Option<Statement> {
    if expr.functions.is_empty() {
        return None;
    }
    let d = crate::dialect::Dialect::Postgres;
    let names = expr
        .functions
        .iter()
        .map(|f| d.string_literal(f.rsplit('.').next().unwrap_or(f)))
        .collect::<Vec<_>>()
        .join(", ");
    let volatile = format!(
        "FROM pg_proc p WHERE p.provolatile = 'v' AND p.proname IN ({names}) \
         AND p.pronamespace::regnamespace::text = ANY (current_schemas(true)::text[])"
    );
    Some(Statement::Assert {
        sql: format!("SELECT count(*) {volatile}"),
        message: format!(
            "the default of {column} calls a volatile function: adding the column would rewrite the table under \
             ACCESS EXCLUSIVE — nothing was changed; fill it with a backfill instead"
        ),
        sample: Some(format!(
            "SELECT DISTINCT p.pronamespace::regnamespace::text || '.' || p.proname {volatile} ORDER BY 1"
        )),
    })
}

/// A constraint added the PostgreSQL way (`kind`: `check`, `foreign-key`): the rows
/// asserted first (`verify`, with sample keys), then `<definition> NOT VALID` (a brief
/// lock, no scan) and `VALIDATE` in its own transaction (SHARE UPDATE EXCLUSIVE: reads
/// and writes go on during the scan); going down, dropped.
fn not_valid_constraint(
    model: &Model,
    name: &str,
    kind: &str,
    definition: &str,
    verify: Statement,
    op: &Op,
) -> Vec<Rendered> {
    let d = crate::dialect::Dialect::Postgres;
    let (table, q_name) = (d.quote(&model.table), d.quote(name));
    let object = Object::Constraint {
        table: model.table.clone(),
        name: name.to_string(),
    };
    let constraint_kind = if kind == "check" {
        ConstraintKind::Check
    } else {
        ConstraintKind::ForeignKey
    };
    let state = |validated| State::Constraint {
        kind: constraint_kind,
        validated,
    };
    let one = |n: String, sql: String, expect| {
        let mut s = step(&n, true, true);
        s.statements.push(Statement::Execute(sql));
        s.expects.push(expect);
        s
    };
    let steps = match op {
        Op::AddCheck | Op::AddForeignKey => {
            let mut verify_step = step(&format!("verify-{kind}"), false, false);
            verify_step.statements.push(verify);
            let add = one(
                format!("add-{kind}"),
                format!("ALTER TABLE {table} ADD CONSTRAINT {q_name} {definition} NOT VALID"),
                create(object.clone(), state(None)),
            );
            let validate = one(
                format!("validate-{kind}"),
                format!("ALTER TABLE {table} VALIDATE CONSTRAINT {q_name}"),
                alter(object, state(Some(true))),
            );
            vec![verify_step, add, validate]
        }
        Op::DropCheck | Op::DropForeignKey => vec![one(
            format!("drop-{kind}"),
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {q_name}"),
            drop(object),
        )],
        _ => unreachable!("only constraint operations act on a constraint"),
    };
    steps
        .into_iter()
        .map(|step| Rendered {
            step,
            combinable: false,
        })
        .collect()
}

/// Check constraints: rows violating it are reported by key before anything changes.
pub(super) fn render_check(model: &Model, check: &Check, op: &Op) -> Vec<Rendered> {
    if matches!(op, Op::CreateFixTrigger | Op::DropFixTrigger | Op::FixViolations) {
        let rule = super::constraint_fix::Rule::Check(check);
        return super::constraint_fix::render(crate::dialect::Dialect::Postgres, model, &rule, op);
    }
    if let Some(from) = &check.renamed_from {
        return rename_constraint(model, ConstraintKind::Check, from, &check.name, op);
    }
    let d = crate::dialect::Dialect::Postgres;
    let table = d.quote(&model.table);
    let expr = check.expr.render(d, Qualifier::None);
    let keys = super::key_columns(d, model, "");
    let verify = Statement::Assert {
        sql: format!("SELECT count(*) FROM {table} WHERE NOT {expr}"),
        message: format!(
            "rows of {} violate CHECK {} ({}): nothing was changed; fix them and run again",
            model.table, check.name, check.expr.text
        ),
        sample: Some(format!(
            "SELECT {} AS straddle_key FROM {table} WHERE NOT {expr} ORDER BY {} LIMIT 5",
            super::key_text(d, &keys),
            keys.join(", ")
        )),
    };
    not_valid_constraint(model, &check.name, "check", &format!("CHECK {expr}"), verify, op)
}

/// Foreign keys: orphans reported by key before anything changes. `NOT VALID` takes SHARE
/// ROW EXCLUSIVE on both tables briefly; `VALIDATE` ROW SHARE on the parent.
pub(super) fn render_foreign_key(model: &Model, fk: &ForeignKey, op: &Op) -> Vec<Rendered> {
    if let Some(from) = &fk.renamed_from {
        return rename_constraint(model, ConstraintKind::ForeignKey, from, &fk.name, op);
    }
    let d = crate::dialect::Dialect::Postgres;
    let list = |cols: &[String]| cols.iter().map(|c| d.quote(c)).collect::<Vec<_>>().join(", ");
    let definition = format!(
        "FOREIGN KEY ({}) REFERENCES {} ({}){}",
        list(&fk.columns),
        d.quote(&fk.parent),
        list(&fk.parent_columns),
        fk.options_sql()
    );
    let verify = super::no_orphans(d, model, fk);
    not_valid_constraint(model, &fk.name, "foreign-key", &definition, verify, op)
}

/// A CHECK or foreign key renamed (`RenameConstraint`: `from` → `name`; going back the
/// other way): `RENAME CONSTRAINT`, metadata only, under a brief ACCESS EXCLUSIVE lock
/// bounded by the lock timeout. The step expects the old name gone and the new one a
/// constraint of that kind: skipped when so, refused when the new name is something
/// else's.
fn rename_constraint(model: &Model, kind: ConstraintKind, from: &str, name: &str, op: &Op) -> Vec<Rendered> {
    let d = crate::dialect::Dialect::Postgres;
    let (old, new, step_name) = match op {
        Op::RenameConstraint => (from, name, "rename-constraint"),
        Op::UnrenameConstraint => (name, from, "unrename-constraint"),
        _ => unreachable!("a renamed constraint is only renamed"),
    };
    let object = |n: &str| Object::Constraint {
        table: model.table.clone(),
        name: n.to_string(),
    };
    let mut s = step(step_name, true, true);
    s.statements.push(Statement::Execute(format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        d.quote(&model.table),
        d.quote(old),
        d.quote(new)
    )));
    s.expects = vec![
        drop(object(old)),
        create(
            object(new),
            State::Constraint {
                kind,
                validated: None,
            },
        ),
    ];
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}

/// Indexes: built and dropped CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go
/// on), outside a transaction, which the engine requires. Index names are the schema's:
/// one of another table, or a table or view of that name, refuses the step (see
/// [`crate::catalog`]) — it is never counted as built nor dropped.
pub(super) fn render_index(t: &IndexTarget<'_>, op: &Op) -> Vec<Rendered> {
    let invalid = format!(
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = {} AND c.relnamespace = current_schema()::regnamespace \
         AND i.indrelid = {}::regclass AND NOT i.indisvalid",
        t.lit(&t.index.name),
        t.lit(&t.table())
    );
    let constraint = Object::Constraint {
        table: t.model.table.clone(),
        name: t.index.name.clone(),
    };
    let unique_constraint = State::Constraint {
        kind: ConstraintKind::Unique,
        validated: None,
    };
    let s = match op {
        Op::CreateIndex => {
            let mut s = step("create-index", false, true);
            s.statements.extend(t.no_duplicates());
            // An interrupted or failed build of this index leaves it INVALID, which IF NOT
            // EXISTS would keep: drop it first, and only then.
            s.statements.push(Statement::When {
                probe: invalid.clone(),
                sql: format!("DROP INDEX CONCURRENTLY IF EXISTS {}", t.name()),
            });
            s.statements.push(Statement::Execute(format!(
                "CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {} {}",
                t.unique(),
                t.name(),
                t.table(),
                t.definition()
            )));
            s.statements.push(Statement::Assert {
                sql: invalid,
                message: format!(
                    "index {} is INVALID: its build failed (a duplicate written meanwhile, a cancelled build); run \
                     up again to drop and rebuild it",
                    t.index.name
                ),
                sample: None,
            });
            s.expects.push(create(t.object(), t.state()));
            if t.index.constraint {
                // The built index becomes the constraint: a brief lock, no second build.
                let mut c = step("add-unique-constraint", true, true);
                c.statements.push(Statement::Execute(format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
                    t.table(),
                    t.name(),
                    t.name()
                )));
                c.expects.push(create(constraint, unique_constraint));
                return vec![
                    Rendered {
                        step: s,
                        combinable: false,
                    },
                    Rendered {
                        step: c,
                        combinable: false,
                    },
                ];
            }
            s
        }
        Op::DropIndex => {
            let mut s = step("drop-index", false, true);
            s.statements.push(Statement::Execute(format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}",
                t.name()
            )));
            s.expects.push(drop(t.object()));
            if t.index.constraint {
                // The constraint owns the index: dropping it drops the index (brief lock).
                let mut c = step("drop-unique-constraint", true, true);
                c.statements.push(Statement::Execute(format!(
                    "ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}",
                    t.table(),
                    t.name()
                )));
                c.expects.push(drop(constraint));
                return vec![
                    Rendered {
                        step: c,
                        combinable: false,
                    },
                    Rendered {
                        step: s,
                        combinable: false,
                    },
                ];
            }
            s
        }
        Op::RenameIndex | Op::UnrenameIndex => {
            let (old, new) = t.renaming(op);
            let mut s = step(t.rename_step(op), true, true);
            // A UNIQUE constraint's index goes by the constraint's name: renaming the
            // constraint renames both.
            s.statements.push(Statement::Execute(if t.index.constraint {
                format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                    t.table(),
                    t.q(&old),
                    t.q(&new)
                )
            } else {
                format!("ALTER INDEX {} RENAME TO {}", t.q(&old), t.q(&new))
            }));
            s.expects.extend(t.renamed(op));
            if t.index.constraint {
                let named = |name: &str| Object::Constraint {
                    table: t.model.table.clone(),
                    name: name.to_string(),
                };
                s.expects.push(drop(named(&old)));
                s.expects.push(create(named(&new), unique_constraint.clone()));
            }
            s
        }
        _ => unreachable!("only index operations act on an index"),
    };
    vec![Rendered {
        step: s,
        combinable: false,
    }]
}

/// The strongest lock a step takes on its table, read from the statements it emits (what
/// the plan claims, and what the test suite holds the step to in `pg_locks` while it
/// runs): DDL that only changes the catalog takes ACCESS EXCLUSIVE for a moment (under
/// the lock timeout); `VALIDATE`, `ANALYZE` and concurrent index builds SHARE UPDATE
/// EXCLUSIVE; a foreign key added `NOT VALID` or a trigger created SHARE ROW EXCLUSIVE;
/// batched writes ROW EXCLUSIVE; reads and views ACCESS SHARE.
pub(super) fn claimed_lock(step: &crate::step::Step) -> TableLock {
    let of_sql = |sql: &str| -> TableLock {
        let upper = sql.trim_start().to_ascii_uppercase();
        let starts = |p: &str| upper.starts_with(p);
        if starts("SELECT") {
            TableLock::AccessShare
        } else if starts("UPDATE") || starts("WITH") || starts("INSERT") || starts("DELETE") {
            TableLock::RowExclusive
        } else if starts("CREATE INDEX CONCURRENTLY")
            || starts("CREATE UNIQUE INDEX CONCURRENTLY")
            || starts("DROP INDEX CONCURRENTLY")
            || starts("ANALYZE")
            || starts("COMMENT ON")
            || (starts("ALTER TABLE") && upper.contains(" VALIDATE CONSTRAINT "))
        {
            TableLock::ShareUpdateExclusive
        } else if starts("CREATE TRIGGER") || (starts("ALTER TABLE") && upper.contains(" FOREIGN KEY ")) {
            TableLock::ShareRowExclusive
        } else if starts("CREATE OR REPLACE FUNCTION")
            || starts("DROP FUNCTION")
            || starts("CREATE OR REPLACE VIEW")
            || starts("CREATE VIEW")
            || starts("DROP VIEW")
            || starts("SET ")
            || starts("RESET ")
        {
            // No lock on the table itself: a function, or a view over it.
            TableLock::AccessShare
        } else {
            // ALTER TABLE, DROP TRIGGER, CREATE/DROP TABLE: catalog changes, briefly.
            TableLock::AccessExclusive
        }
    };
    step.statements
        .iter()
        .map(|st| match st {
            Statement::Execute(sql) | Statement::When { sql, .. } => of_sql(sql),
            Statement::Backfill(_) => TableLock::RowExclusive,
            Statement::Assert { .. } | Statement::AwaitAppRefresh => TableLock::AccessShare,
            Statement::Capture { .. } => TableLock::AccessShare,
            Statement::Rebuild(_) | Statement::Live(_) | Statement::Restore(_) => TableLock::AccessExclusive,
        })
        .max()
        .unwrap_or(TableLock::AccessShare)
}

/// `ALTER TABLE … ALTER COLUMN … <action>`: metadata only, combinable.
fn alter_column(t: &Target<'_>, name: &str, action: &str) -> Rendered {
    let mut s = step(name, true, true);
    s.statements.push(Statement::Execute(format!(
        "ALTER TABLE {} ALTER COLUMN {} {action}",
        t.table(),
        t.col()
    )));
    Rendered {
        step: s,
        combinable: true,
    }
}

/// The trigger of a change's sync trigger function (the same name).
fn trigger_object(t: &Target<'_>, name: &str) -> Object {
    Object::Trigger {
        table: t.model.table.clone(),
        name: name.to_string(),
    }
}

/// A change's sync trigger function.
fn function_object(t: &Target<'_>, name: &str) -> Object {
    Object::Function {
        table: t.model.table.clone(),
        name: name.to_string(),
    }
}

/// `statement` run so that a data error in it (division by zero, a value that does not
/// convert) runs `otherwise` instead of failing the write: the previous release's writes
/// must never start failing because of a rollout. The row is left for `verify` and
/// contract to report. Indented by `indent` spaces.
fn guarded(statement: &str, otherwise: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}BEGIN\n{pad}  {statement}\n{pad}EXCEPTION WHEN data_exception THEN\n{pad}  {otherwise}\n{pad}END;\n"
    )
}

/// The trigger function with `body` (plpgsql statements run before `RETURN NEW`), and
/// the BEFORE INSERT and BEFORE UPDATE triggers running it when there is work for it
/// ([`super::sync_when`]). The body is dollar-quoted with a tag
/// that does not occur in it, so no identifier or expression can end it.
fn sync_trigger(t: &Target<'_>, body: String) -> Rendered {
    let name = t.object_name("sync");
    let q_name = t.q(&name);
    let source = format!("\nBEGIN\n{body}  RETURN NEW;\nEND\n");
    let tag = crate::naming::dollar_tag(&source);
    let function = format!(
        "CREATE OR REPLACE FUNCTION {q_name}() RETURNS trigger LANGUAGE plpgsql AS {tag}{source}{tag}"
    );
    let mut s = step("create-sync-trigger", true, true);
    s.statements.push(Statement::Execute(function));
    s.expects = vec![create(
        function_object(t, &name),
        State::Function { body: source },
    )];
    // One trigger per event, each run only `WHEN` it has work to do: an INSERT trigger's
    // condition cannot read OLD, and outside the conditions the function is not entered.
    for ((trigger, event), when) in t
        .sync_trigger_names()
        .iter()
        .zip(["INSERT", "UPDATE"])
        .zip(super::sync_when(t))
    {
        let q_trigger = t.q(trigger);
        s.statements.push(Statement::Execute(format!(
            "DROP TRIGGER IF EXISTS {q_trigger} ON {}",
            t.table()
        )));
        s.statements.push(Statement::Execute(format!(
            "CREATE TRIGGER {q_trigger} BEFORE {event} ON {} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {q_name}()",
            t.table()
        )));
        s.expects.push(create(
            trigger_object(t, trigger),
            State::Trigger {
                definition: name.clone(),
            },
        ));
    }
    Rendered {
        step: s,
        combinable: true,
    }
}

/// A rename's two-way copy: whichever column a writer set, the other follows.
fn rename_sync_body(t: &Target<'_>) -> String {
    let (new, old) = (t.q(&t.column.name), t.q(&t.other_name()));
    // The previous version writes the old column, this one writes both: keep them equal.
    format!(
        "\x20 IF TG_OP = 'INSERT' THEN\n\
         \x20   IF NEW.{new} IS NULL THEN\n\
         \x20     NEW.{new} := NEW.{old};\n\
         \x20   ELSIF NEW.{old} IS NULL THEN\n\
         \x20     NEW.{old} := NEW.{new};\n\
         \x20   END IF;\n\
         \x20 ELSIF NEW.{new} IS DISTINCT FROM OLD.{new} THEN\n\
         \x20   NEW.{old} := NEW.{new};\n\
         \x20 ELSIF NEW.{old} IS DISTINCT FROM OLD.{old} THEN\n\
         \x20   NEW.{new} := NEW.{old};\n\
         \x20 END IF;\n"
    )
}

/// A binary-coercible type change (see [`crate::types::widens_in_place`]): one brief
/// ALTER, no rewrite, then ANALYZE (the column's statistics are reset by the ALTER).
pub(super) fn alter_type_in_place(t: &Target<'_>) -> Vec<Rendered> {
    let mut alter = step("alter-column-type", true, true);
    alter
        .statements
        .push(Statement::Live(crate::step::LiveSql::AlterType {
            table: t.model.table.clone(),
            column: t.name(),
            sql_type: t.sql_type().to_string(),
        }));
    alter.expects.push(alter_expect(t));
    let mut analyze = step("analyze", false, false);
    analyze
        .statements
        .push(Statement::Execute(format!("ANALYZE {} ({})", t.table(), t.col())));
    [alter, analyze]
        .into_iter()
        .map(|step| Rendered {
            step,
            combinable: false,
        })
        .collect()
}

/// The column after an in-place type change.
fn alter_expect(t: &Target<'_>) -> crate::catalog::Expect {
    alter(t.column_object(), t.column_state(t.column.nullable))
}

/// A type change's two-way conversion: whichever column a writer set, the other gets it
/// converted (`up` into the new type, `down` back into the old).
fn retype_sync_body(t: &Target<'_>) -> String {
    let [new, old, up, down] = t.retype_sync("NEW");
    // The previous version writes the old column, this one the new as well: convert
    // whichever was written (a value that does not convert leaves the other NULL, for
    // `verify` and contract to report).
    let to_new = guarded(&format!("NEW.{new} := {up};"), &format!("NEW.{new} := NULL;"), 6);
    let to_old = guarded(
        &format!("NEW.{old} := {down};"),
        &format!("NEW.{old} := NULL;"),
        6,
    );
    format!(
        "\x20 IF TG_OP = 'INSERT' THEN\n\
         \x20   IF NEW.{new} IS NULL THEN\n{to_new}\
         \x20   ELSIF NEW.{old} IS NULL THEN\n{to_old}\
         \x20   END IF;\n\
         \x20 ELSIF NEW.{new} IS DISTINCT FROM OLD.{new} THEN\n{}\
         \x20 ELSIF NEW.{old} IS DISTINCT FROM OLD.{old} THEN\n{}\
         \x20 END IF;\n",
        converted_unless_matching(&new, &up, &old, &down),
        converted_unless_matching(&old, &down, &new, &up),
    )
}

/// `NEW.{to} := {convert}` after a write of `written`, unless `written` already holds
/// what `to` converts to (`{back}`) — the backfill's own writes, which must not rewrite
/// the other release's value through a conversion that does not round-trip. A data error
/// checking or converting falls back to converting, then to NULL (see [`guarded`]); the
/// nested block costs only on that path.
fn converted_unless_matching(written: &str, back: &str, to: &str, convert: &str) -> String {
    let fallback = guarded(
        &format!("NEW.{to} := {convert};"),
        &format!("NEW.{to} := NULL;"),
        6,
    );
    format!(
        "\x20   BEGIN\n\
         \x20     IF NEW.{written} IS DISTINCT FROM ({back}) THEN\n\
         \x20       NEW.{to} := {convert};\n\
         \x20     END IF;\n\
         \x20   EXCEPTION WHEN data_exception THEN\n{fallback}\
         \x20   END;\n"
    )
}

/// A whole backfill batch as one statement: the upper key of the next `$n` keys, the
/// ranged UPDATE of the rows still NULL up to it, and the checkpoint, atomically.
fn one_statement_batch(
    t: &Target<'_>,
    key: &str,
    table: &str,
    col: &str,
    expr: &str,
    max: &str,
    next: bool,
) -> String {
    let (after, p) = if next {
        (format!("WHERE {key} > $1 "), 2)
    } else {
        (String::new(), 1)
    };
    let lower = if next {
        format!("{key} > $1 AND ")
    } else {
        String::new()
    };
    let (size, change, done, now) = (p, p + 1, p + 2, p + 3);
    let cp = t.q(super::ledger::CHECKPOINTS);
    let [c_id, c_key, c_done, c_at] = ["change_id", "last_key", "rows_done", "updated_at_ms"].map(|c| t.q(c));
    format!(
        "WITH bounds AS (SELECT {max} AS upper FROM (SELECT {key} AS k FROM {table} {after}ORDER BY {key} LIMIT ${size}) AS batch), \
         filled AS (UPDATE {table} SET {col} = {expr} WHERE {lower}{key} <= (SELECT upper FROM bounds) AND {col} IS NULL RETURNING 1), \
         progress AS (INSERT INTO {cp} ({c_id}, {c_key}, {c_done}, {c_at}) \
         SELECT ${change}, CAST(upper AS TEXT), ${done} + (SELECT count(*) FROM filled), ${now} FROM bounds WHERE upper IS NOT NULL \
         ON CONFLICT ({c_id}) DO UPDATE SET {c_key} = excluded.{c_key}, {c_done} = excluded.{c_done}, {c_at} = excluded.{c_at}) \
         SELECT upper, (SELECT count(*) FROM filled) FROM bounds"
    )
}
