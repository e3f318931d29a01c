//! Schema-tolerant query SQL: the dual-read select list and dual-write insert/update,
//! for whichever shape the live database has for each changing column.

use crate::dialect::Dialect;
use crate::expr::{Qualifier, SqlExpr};
use crate::model::{AddKind, Change, Column, Model, RetypeColumn};
use crate::render::{default_sql, shadow_column};

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
    /// A type change's new column alone, still under its shadow name: between the two
    /// steps that drop the old column and rename the shadow (or going back).
    Shadow,
}

/// How a model's table exists right now: the name it goes by and the shape of every
/// column, in field order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableShape {
    /// The table's name now: a renamed table keeps its previous name until contract.
    pub table: String,
    /// Every column's shape, in field order.
    pub columns: Vec<ColumnShape>,
}

impl TableShape {
    fn of(&self, index: usize) -> ColumnShape {
        self.columns[index]
    }
}

/// A query and the struct fields (by index) to bind, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundSql {
    /// The SQL.
    pub sql: String,
    /// The model's fields to bind, by index, in order.
    pub binds: Vec<usize>,
}

/// The value a column reads as while it is absent or not yet filled (unused, for a
/// retired column).
fn fallback(dialect: Dialect, column: &Column) -> Option<String> {
    let add = match &column.change {
        None => return None,
        Some(Change::Rename(r)) => return Some(dialect.quote(&r.from)),
        Some(Change::Retire(_)) => return Some(typed(dialect, "NULL", column)),
        Some(Change::Nullable(_) | Change::DefaultChanged(_) | Change::CommentChanged(_)) => return None,
        Some(Change::NotNull(n)) => {
            return Some(typed(dialect, &n.fill.render(dialect, Qualifier::None), column));
        }
        // Read through `retyped_read`.
        Some(Change::Retype(_)) => return None,
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
/// sqlx checks the type when decoding: cast to the column's type. (A type change's
/// conversion also needs it on MySQL, whose COALESCE of a number and a text is a text.)
fn typed(dialect: Dialect, value: &str, column: &Column) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST({value} AS {})", column.ty.sql(dialect)),
        Dialect::MySql if matches!(column.change, Some(Change::Retype(_))) => {
            match mysql_cast_target(column.ty.sql(dialect)) {
                Some(target) => format!("CAST({value} AS {target})"),
                None => value.to_string(),
            }
        }
        Dialect::MySql | Dialect::Sqlite => value.to_string(),
    }
}

/// What MySQL's CAST, which knows few types, can produce for a column type, so that sqlx
/// decodes the value as the column's own type.
fn mysql_cast_target(sql: &str) -> Option<String> {
    let t = crate::types::canonical_type(Dialect::MySql, sql);
    let (base, args) = t.split_at(t.find('(').unwrap_or(t.len()));
    let unsigned = t.ends_with(" unsigned");
    let target = match base.trim_end_matches(" unsigned") {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" if unsigned => "UNSIGNED".to_string(),
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => "SIGNED".to_string(),
        "double" => "DOUBLE".to_string(),
        "float" => "FLOAT".to_string(),
        "decimal" => format!("DECIMAL{}", args.to_ascii_uppercase()),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => "CHAR".to_string(),
        "date" => "DATE".to_string(),
        "datetime" | "timestamp" => format!("DATETIME{args}"),
        "binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob" => "BINARY".to_string(),
        _ => return None,
    };
    Some(target)
}

/// A type change's column, read: converted from the old column before expand, the
/// shadow where it is filled and converted otherwise, the shadow alone mid-contract.
fn retyped_read(
    dialect: Dialect,
    table: &str,
    column: &Column,
    r: &RetypeColumn,
    shape: ColumnShape,
) -> String {
    let shadow = dialect.quote(&shadow_column(dialect, table, &column.name));
    let converted = || typed(dialect, &r.up.render(dialect, Qualifier::None), column);
    match shape {
        ColumnShape::Absent => converted(),
        ColumnShape::Filling => typed(dialect, &format!("COALESCE({shadow}, {})", converted()), column),
        ColumnShape::Shadow => shadow,
        ColumnShape::Present | ColumnShape::Unused => dialect.quote(&column.name),
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
            let value = match (shape.of(i), fallback(dialect, c), &c.change) {
                (shape, _, Some(Change::Retype(r))) => retyped_read(dialect, &model.table, c, r, shape),
                (shape, fallback, _) => read(shape, fallback, col),
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

/// An ordinary or added column, read: its fallback while absent, filled from the fallback
/// while it fills.
fn read(shape: ColumnShape, fallback: Option<String>, col: String) -> String {
    match (shape, fallback) {
        (ColumnShape::Absent | ColumnShape::Unused, Some(fb)) => fb,
        (ColumnShape::Filling, Some(fb)) if fb != "NULL" => format!("COALESCE({col}, {fb})"),
        _ => col,
    }
}

/// `SELECT <list> FROM <table>`; append a WHERE clause of your own.
pub fn select(dialect: Dialect, model: &Model, shape: &TableShape) -> String {
    format!(
        "SELECT {} FROM {}",
        select_list(dialect, model, shape),
        dialect.quote(&shape.table)
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

/// Where a write of field `i` goes: the column if it exists; a rename's old column while
/// it exists (both while both do); a type change's old column (the value converted back
/// with `down`) while it exists, its shadow while that exists; none for a retired column
/// or an added one not there yet (the sync trigger fills it once it exists). Each target
/// is a column and, where the value is converted on its way, the conversion.
fn written<'m>(
    dialect: Dialect,
    model: &'m Model,
    shape: &TableShape,
    i: usize,
) -> Vec<(String, Option<&'m SqlExpr>)> {
    let c = &model.columns[i];
    let plain = |name: &str| (name.to_string(), None);
    if let Some(Change::Retype(r)) = &c.change {
        let shadow = || plain(&shadow_column(dialect, &model.table, &c.name));
        let old = || (c.name.clone(), Some(&r.down));
        return match shape.of(i) {
            ColumnShape::Absent => vec![old()],
            ColumnShape::Filling => vec![shadow(), old()],
            ColumnShape::Shadow => vec![shadow()],
            ColumnShape::Present | ColumnShape::Unused => vec![plain(&c.name)],
        };
    }
    match (shape.of(i), c.change.as_ref().and_then(|ch| ch.renamed_from())) {
        (ColumnShape::Unused, _) => vec![],
        (ColumnShape::Absent, Some(from)) => vec![plain(from)],
        (ColumnShape::Filling, Some(from)) => vec![plain(&c.name), plain(from)],
        (ColumnShape::Absent, None) => vec![],
        _ => vec![plain(&c.name)],
    }
}

/// The targets of every field in `fields`, placeholders numbered from 1: (quoted column,
/// value SQL, field index). A converted value reads the placeholder, typed as the new
/// column's value (PostgreSQL infers a parameter's type from its context, which a
/// conversion may leave open), where the conversion reads the column.
fn targets(
    dialect: Dialect,
    model: &Model,
    shape: &TableShape,
    fields: impl Iterator<Item = usize>,
) -> Vec<(String, String, usize)> {
    fields
        .flat_map(|i| {
            written(dialect, model, shape, i)
                .into_iter()
                .map(move |(col, conversion)| (col, conversion, i))
        })
        .enumerate()
        .map(|(n, (col, conversion, i))| {
            let p = dialect.placeholder(n + 1);
            let value = match conversion {
                None => p,
                Some(expr) => {
                    let typed = match dialect {
                        Dialect::Postgres => format!("CAST({p} AS {})", model.columns[i].ty.sql(dialect)),
                        Dialect::MySql | Dialect::Sqlite => p,
                    };
                    expr.render_with(dialect, |_| typed.clone())
                }
            };
            (dialect.quote(&col), value, i)
        })
        .collect()
}

/// Insert every field to the columns that exist for it (dual-write).
pub fn insert(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    // An identity key is the database's to give.
    let fields = (0..model.columns.len()).filter(|&i| !model.columns[i].identity);
    let t = targets(dialect, model, shape, fields);
    let cols = t
        .iter()
        .map(|(c, _, _)| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let values = t
        .iter()
        .map(|(_, v, _)| v.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    BoundSql {
        sql: format!(
            "INSERT INTO {} ({cols}) VALUES ({values})",
            dialect.quote(&shape.table)
        ),
        binds: t.iter().map(|(_, _, i)| *i).collect(),
    }
}

/// [`insert`], returning the key the database gave (`RETURNING`: PostgreSQL, SQLite 3.35+,
/// MariaDB 10.5+).
pub fn insert_returning_key(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let mut bound = insert(dialect, model, shape);
    let key: Vec<String> = model
        .primary_key()
        .iter()
        .map(|k| dialect.quote(&k.name))
        .collect();
    bound.sql.push_str(&format!(" RETURNING {}", key.join(", ")));
    bound
}

/// Update every non-key field to the columns that exist for it, by primary key.
pub fn update(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let fields = (0..model.columns.len()).filter(|&i| !model.columns[i].primary_key);
    let t = targets(dialect, model, shape, fields);
    let sets = t
        .iter()
        .map(|(c, v, _)| format!("{c} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut binds: Vec<usize> = t.iter().map(|(_, _, i)| *i).collect();
    let (pred, key_binds) = key_predicate(dialect, model, binds.len() + 1);
    binds.extend(key_binds);
    BoundSql {
        sql: format!("UPDATE {} SET {sets} WHERE {pred}", dialect.quote(&shape.table)),
        binds,
    }
}

/// Delete by primary key.
pub fn delete(dialect: Dialect, model: &Model, shape: &TableShape) -> BoundSql {
    let (pred, binds) = key_predicate(dialect, model, 1);
    BoundSql {
        sql: format!("DELETE FROM {} WHERE {pred}", dialect.quote(&shape.table)),
        binds,
    }
}
