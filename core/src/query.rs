//! Schema-tolerant query SQL: the dual-read select list and dual-write insert/update,
//! for whichever shape the live database has for each changing column.

use crate::dialect::Dialect;
use crate::expr::Qualifier;
use crate::model::{AddKind, Change, Column, Model};
use crate::render::default_sql;

/// How a column of the model currently exists in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ColumnShape {
    /// Not there yet (expand has not run) or already gone.
    Absent,
    /// There, but rows may not be filled yet: between expand and contract of a
    /// backfilled column.
    Filling,
    /// There and settled.
    Present,
    /// Retired: this release neither reads nor writes it, whatever the database has.
    Unused,
}

/// The shape of every column of a model, in field order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableShape(pub Vec<ColumnShape>);

impl TableShape {
    fn of(&self, index: usize) -> ColumnShape {
        self.0[index]
    }
}

/// A query and the struct fields (by index) to bind, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundSql {
    pub sql: String,
    pub binds: Vec<usize>,
}

/// The value a column reads as while it is absent or not yet filled (unused, for a
/// retired column).
fn fallback(dialect: Dialect, column: &Column) -> Option<String> {
    let add = match &column.change {
        None => return None,
        Some(Change::Rename(r)) => return Some(dialect.quote(&r.from)),
        Some(Change::Retire(_)) => return Some(typed(dialect, "NULL", column)),
        Some(Change::Nullable(_) | Change::DefaultChanged(_)) => return None,
        Some(Change::Add(add)) => add,
    };
    let value = match add.kind(column.nullable) {
        AddKind::Backfilled { expr, .. } => expr.render(dialect, Qualifier::None),
        AddKind::NotNullDefault { default } => default_sql(dialect, default),
        AddKind::Nullable { default: Some(d) } => default_sql(dialect, d),
        AddKind::Nullable { default: None } => return Some("NULL".to_string()),
    };
    Some(typed(dialect, &value, column))
}

/// PostgreSQL types literals and expressions strictly (`0` is INTEGER, not BIGINT) and
/// sqlx checks the type when decoding: cast to the column's type.
fn typed(dialect: Dialect, value: &str, column: &Column) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST({value} AS {})", column.ty.sql(dialect)),
        Dialect::MySql | Dialect::Sqlite => value.to_string(),
    }
}

/// The select list: one item per field, aliased to the field name.
pub fn select_list(dialect: Dialect, model: &Model, shape: &TableShape) -> String {
    model
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let col = dialect.quote(&c.name);
            let alias = dialect.quote(&c.field);
            let value = match (shape.of(i), fallback(dialect, c)) {
                (ColumnShape::Absent | ColumnShape::Unused, Some(fb)) => fb,
                (ColumnShape::Filling, Some(fb)) if fb != "NULL" => {
                    format!("COALESCE({col}, {fb})")
                }
                _ => col,
            };
            if value == dialect.quote(&c.field) {
                value
            } else {
                format!("{value} AS {alias}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SELECT <list> FROM <table>`; append a WHERE clause of your own.
pub fn select(dialect: Dialect, model: &Model, shape: &TableShape) -> String {
    format!(
        "SELECT {} FROM {}",
        select_list(dialect, model, shape),
        dialect.quote(&model.table)
    )
}

fn key_predicate(dialect: Dialect, model: &Model, first_placeholder: usize) -> (String, Vec<usize>) {
    let mut binds = Vec::new();
    let pred = model
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.primary_key)
        .enumerate()
        .map(|(n, (i, c))| {
            binds.push(i);
            format!(
                "{} = {}",
                dialect.quote(&c.name),
                dialect.placeholder(first_placeholder + n)
            )
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    (pred, binds)
}

/// Select one row by primary key; binds the key fields.
pub fn select_by_key(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let (pred, binds) = key_predicate(dialect, model, 1);
    BoundSql {
        sql: format!("{} WHERE {pred}", select(dialect, model, shape)),
        binds,
    }
}

/// The columns a write of field `i` goes to: the column if it exists; a rename's old
/// column while it exists (both while both do); none for a retired column or an added
/// one not there yet (the sync trigger fills it once it exists).
fn written<'m>(model: &'m Model, shape: &TableShape, i: usize) -> Vec<&'m str> {
    let c = &model.columns[i];
    match (shape.of(i), c.change.as_ref().and_then(|ch| ch.renamed_from())) {
        (ColumnShape::Unused, _) => vec![],
        (ColumnShape::Absent, Some(from)) => vec![from],
        (ColumnShape::Filling, Some(from)) => vec![&c.name, from],
        (ColumnShape::Absent, None) => vec![],
        _ => vec![&c.name],
    }
}

/// Insert every field to the columns that exist for it (dual-write).
pub fn insert(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let (binds, names): (Vec<usize>, Vec<&str>) = (0..model.columns.len())
        .flat_map(|i| written(model, shape, i).into_iter().map(move |n| (i, n)))
        .unzip();
    let cols = names
        .iter()
        .map(|n| dialect.quote(n))
        .collect::<Vec<_>>()
        .join(", ");
    let values = (1..=binds.len())
        .map(|n| dialect.placeholder(n))
        .collect::<Vec<_>>()
        .join(", ");
    BoundSql {
        sql: format!(
            "INSERT INTO {} ({cols}) VALUES ({values})",
            dialect.quote(&model.table)
        ),
        binds,
    }
}

/// Update every non-key field to the columns that exist for it, by primary key.
pub fn update(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let (mut binds, names): (Vec<usize>, Vec<&str>) = (0..model.columns.len())
        .filter(|&i| !model.columns[i].primary_key)
        .flat_map(|i| written(model, shape, i).into_iter().map(move |n| (i, n)))
        .unzip();
    let sets = names
        .iter()
        .enumerate()
        .map(|(n, name)| format!("{} = {}", dialect.quote(name), dialect.placeholder(n + 1)))
        .collect::<Vec<_>>()
        .join(", ");
    let (pred, key_binds) = key_predicate(dialect, model, binds.len() + 1);
    binds.extend(key_binds);
    BoundSql {
        sql: format!("UPDATE {} SET {sets} WHERE {pred}", dialect.quote(&model.table)),
        binds,
    }
}

/// Delete by primary key.
pub fn delete(dialect: Dialect, model: &Model) -> BoundSql {
    let (pred, binds) = key_predicate(dialect, model, 1);
    BoundSql {
        sql: format!("DELETE FROM {} WHERE {pred}", dialect.quote(&model.table)),
        binds,
    }
}
