//! Renaming a table. Through the window the table keeps its previous name — the previous
//! release reads and writes it untouched — and a view under the new name, updatable,
//! serves this release's own SQL (the generated code uses the table under whichever
//! name it has). At contract, the previous release gone, the view is dropped and the
//! table renamed in one step: one transaction on PostgreSQL and SQLite, one atomic
//! `RENAME TABLE` swapping the view out on MySQL, so the new name never goes missing.
//!
//! Views: PostgreSQL and MySQL make a single-table `SELECT *` view updatable by
//! themselves; SQLite views are read-only, so `INSTEAD OF` triggers pass writes on (for
//! the model's columns; SQLite does not count rows changed through them, which is why
//! going back waits for every app instance to use the table again before the view
//! returns).

use super::{Rendered, alter, create, drop, step, table_state};
use crate::catalog::{Expect, Object, State};
use crate::dialect::Dialect;
use crate::model::Model;
use crate::naming::object_name;
use crate::plan::Op;
use crate::step::Statement;

pub(super) fn render(dialect: Dialect, model: &Model, op: &Op) -> Vec<Rendered> {
    let rename = model
        .renamed
        .as_ref()
        .expect("the planner renames only a renamed table");
    let (old, new) = (dialect.quote(&rename.from), dialect.quote(&model.table));
    // MySQL DDL commits implicitly: each step stands alone there.
    let transactional = dialect != Dialect::MySql;
    let table = |name: &str| Object::Table {
        name: name.to_string(),
    };
    let view = |name: &str| Object::View {
        name: name.to_string(),
    };
    let columns = table_state(dialect, model);
    let one = |name: &str, statements: Vec<String>, expects: Vec<Expect>| {
        let mut s = step(name, transactional, true);
        s.statements
            .extend(statements.into_iter().map(Statement::Execute));
        s.expects = expects;
        Rendered {
            step: s,
            combinable: false,
        }
    };
    // At expand the new name must be free (`create`); going back from contract it is the
    // name the table just gave up (`alter`: it becomes the view again).
    let view_step = |expect: fn(Object, State) -> Expect| {
        let mut expects = vec![expect(view(&model.table), State::View)];
        expects.extend(view_triggers(dialect, model).into_iter().map(|(name, sql)| {
            create(
                Object::Trigger {
                    table: model.table.clone(),
                    name,
                },
                State::Trigger { definition: sql },
            )
        }));
        one("create-rename-view", create_view(dialect, model), expects)
    };
    match (op, dialect) {
        (Op::CreateRenameView, _) => vec![view_step(create)],
        (Op::DropRenameView, _) => vec![one(
            "drop-rename-view",
            vec![format!("DROP VIEW IF EXISTS {new}")],
            vec![drop(view(&model.table))],
        )],
        (Op::RenameTable, Dialect::MySql) => {
            // The view is renamed out of the way in the same statement: atomic.
            let parked_name = object_name("renamed", &[&rename.from, &model.table]);
            let parked = dialect.quote(&parked_name);
            vec![
                one(
                    "rename-table",
                    vec![format!("RENAME TABLE {new} TO {parked}, {old} TO {new}")],
                    vec![
                        drop(table(&rename.from)),
                        alter(table(&model.table), columns.clone()),
                    ],
                ),
                one(
                    "drop-rename-view",
                    vec![format!("DROP VIEW IF EXISTS {parked}")],
                    vec![drop(view(&parked_name))],
                ),
            ]
        }
        (Op::RenameTable, _) => {
            // The view goes, and on SQLite its INSTEAD OF triggers with it.
            let mut expects = vec![drop(table(&rename.from)), alter(table(&model.table), columns)];
            expects.extend(view_triggers(dialect, model).into_iter().map(|(name, _)| {
                drop(Object::Trigger {
                    table: model.table.clone(),
                    name,
                })
            }));
            vec![one(
                "rename-table",
                vec![
                    format!("DROP VIEW IF EXISTS {new}"),
                    format!("ALTER TABLE {old} RENAME TO {new}"),
                ],
                expects,
            )]
        }
        (Op::UnrenameTable, Dialect::MySql) => vec![
            one(
                "unrename-table",
                vec![format!("RENAME TABLE {new} TO {old}")],
                vec![alter(table(&rename.from), columns)],
            ),
            view_step(alter),
        ],
        // Writes through a SQLite view report no row changed: every instance must use the
        // table under its previous name again before the view is back.
        (Op::UnrenameTable, Dialect::Sqlite) => vec![
            one(
                "unrename-table",
                vec![format!("ALTER TABLE {new} RENAME TO {old}")],
                vec![alter(table(&rename.from), columns)],
            ),
            super::await_app_refresh(),
            view_step(alter),
        ],
        (Op::UnrenameTable, _) => {
            let mut sql = vec![format!("ALTER TABLE {new} RENAME TO {old}")];
            sql.extend(create_view(dialect, model));
            vec![one(
                "unrename-table",
                sql,
                vec![
                    alter(table(&rename.from), columns),
                    alter(view(&model.table), State::View),
                ],
            )]
        }
        _ => unreachable!("only a table rename's operations are rendered here"),
    }
}

/// The view under the new name (re-runnable), and on SQLite its `INSTEAD OF` triggers.
fn create_view(dialect: Dialect, model: &Model) -> Vec<String> {
    let rename = model.renamed.as_ref().expect("a renamed table");
    let q = |s: &str| dialect.quote(s);
    let (old, new) = (q(&rename.from), q(&model.table));
    match dialect {
        Dialect::Postgres | Dialect::MySql => {
            vec![format!("CREATE OR REPLACE VIEW {new} AS SELECT * FROM {old}")]
        }
        Dialect::Sqlite => std::iter::once(format!("CREATE VIEW IF NOT EXISTS {new} AS SELECT * FROM {old}"))
            .chain(
                view_triggers(dialect, model)
                    .into_iter()
                    .map(|(_, sql)| sql.replacen("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1)),
            )
            .collect(),
    }
}

/// SQLite: the view's `INSTEAD OF` triggers (name, `CREATE TRIGGER` as SQLite stores it),
/// passing writes through the view on to the table; none elsewhere.
fn view_triggers(dialect: Dialect, model: &Model) -> Vec<(String, String)> {
    if dialect != Dialect::Sqlite {
        return Vec::new();
    }
    let rename = model.renamed.as_ref().expect("a renamed table");
    let q = |s: &str| dialect.quote(s);
    let (old, new) = (q(&rename.from), q(&model.table));
    let cols: Vec<String> = model.columns.iter().map(|c| q(&c.name)).collect();
    let values: Vec<String> = cols.iter().map(|c| format!("NEW.{c}")).collect();
    let sets: Vec<String> = cols.iter().map(|c| format!("{c} = NEW.{c}")).collect();
    let key: Vec<String> = model
        .primary_key()
        .iter()
        .map(|k| format!("{0} = OLD.{0}", q(&k.name)))
        .collect();
    let key = key.join(" AND ");
    let name = |what: &str| object_name(what, &[&model.table]);
    vec![
        (
            name("view_ins"),
            format!(
                "CREATE TRIGGER {} INSTEAD OF INSERT ON {new} BEGIN INSERT INTO {old} ({}) VALUES ({}); END",
                q(&name("view_ins")),
                cols.join(", "),
                values.join(", ")
            ),
        ),
        (
            name("view_upd"),
            format!(
                "CREATE TRIGGER {} INSTEAD OF UPDATE ON {new} BEGIN UPDATE {old} SET {} WHERE {key}; END",
                q(&name("view_upd")),
                sets.join(", ")
            ),
        ),
        (
            name("view_del"),
            format!(
                "CREATE TRIGGER {} INSTEAD OF DELETE ON {new} BEGIN DELETE FROM {old} WHERE {key}; END",
                q(&name("view_del"))
            ),
        ),
    ]
}
