//! The live schema as the catalog reports it, and what it means for a model's columns.

use std::collections::{HashMap, HashSet};
use straddle_core::model::{AddKind, Change};
use straddle_core::query::{ColumnShape, TableShape};
use straddle_core::render::{shadow_column, sync_trigger_names};
use straddle_core::types::same_sql_type;
use straddle_core::{Dialect, Model};

/// A column as the catalog reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LiveColumn {
    nullable: bool,
    /// The type as the catalog spells it.
    ty: String,
}

/// Columns (with nullability and type) per table, and the names of Straddle's triggers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    tables: HashMap<String, HashMap<String, LiveColumn>>,
    triggers: HashSet<String>,
}

impl Snapshot {
    /// From catalog rows of (table, column, nullable, type).
    pub fn from_catalog(columns: Vec<(String, String, bool, String)>, triggers: Vec<String>) -> Snapshot {
        let mut tables: HashMap<String, HashMap<String, LiveColumn>> = HashMap::new();
        for (table, column, nullable, ty) in columns {
            tables
                .entry(table)
                .or_default()
                .insert(column, LiveColumn { nullable, ty });
        }
        Snapshot {
            tables,
            triggers: triggers.into_iter().collect(),
        }
    }

    /// `Some(nullable)` when the column exists.
    pub fn column(&self, table: &str, column: &str) -> Option<bool> {
        Some(self.tables.get(table)?.get(column)?.nullable)
    }

    /// The column's type as the catalog spells it, when the column exists.
    pub fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        Some(&self.tables.get(table)?.get(column)?.ty)
    }

    /// Whether the table exists.
    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// Whether a trigger of that name exists.
    pub fn has_trigger(&self, name: &str) -> bool {
        self.triggers.contains(name)
    }

    /// The name `model`'s table goes by now: a renamed table's previous name while that
    /// table exists (its new name is a view until contract), else its declared name.
    pub fn table_name<'m>(&self, model: &'m Model) -> &'m str {
        let names = model.table_names();
        names
            .iter()
            .find(|n| self.has_table(n))
            .copied()
            .unwrap_or(&model.table)
    }

    /// How each column of `model` exists right now.
    pub fn shape(&self, dialect: Dialect, model: &Model) -> TableShape {
        let table = self.table_name(model);
        TableShape {
            table: table.to_string(),
            columns: model
                .columns
                .iter()
                .map(|c| {
                    let add = match &c.change {
                        None => return ColumnShape::Present,
                        Some(Change::Retire(_)) => return ColumnShape::Unused,
                        Some(Change::Nullable(_) | Change::DefaultChanged(_) | Change::CommentChanged(_)) => {
                            return ColumnShape::Present;
                        }
                        // NULLs read as the fill until the catalog says NOT NULL.
                        Some(Change::NotNull(_)) => {
                            return match self.column(table, &c.name) {
                                None => ColumnShape::Absent,
                                Some(true) => ColumnShape::Filling,
                                Some(false) => ColumnShape::Present,
                            };
                        }
                        Some(Change::Rename(r)) => {
                            return match (self.column(table, &c.name), self.column(table, &r.from)) {
                                (None, _) => ColumnShape::Absent,
                                (Some(_), Some(_)) => ColumnShape::Filling,
                                (Some(_), None) => ColumnShape::Present,
                            };
                        }
                        Some(Change::Retype(r)) if !r.uses_shadow(dialect, &c.ty) => {
                            return ColumnShape::Present;
                        }
                        Some(Change::Retype(_)) => {
                            let shadow = shadow_column(dialect, &model.table, &c.name);
                            return match (self.column_type(table, &c.name), self.column(table, &shadow)) {
                                (Some(_), Some(_)) => ColumnShape::Filling,
                                (None, Some(_)) => ColumnShape::Shadow,
                                // One column of that name: of the new type once contract ran,
                                // of the old one before expand.
                                (Some(ty), None) if same_sql_type(dialect, ty, c.ty.sql(dialect)) => {
                                    ColumnShape::Present
                                }
                                (Some(_) | None, None) => ColumnShape::Absent,
                            };
                        }
                        Some(Change::Add(add)) => add,
                    };
                    let Some(nullable) = self.column(table, &c.name) else {
                        return ColumnShape::Absent;
                    };
                    match add.kind(c.nullable) {
                        AddKind::Backfilled { not_null, .. } => {
                            let syncing = sync_trigger_names(&model.table, &c.name)
                                .iter()
                                .any(|t| self.has_trigger(t));
                            if syncing || (not_null && nullable) {
                                ColumnShape::Filling
                            } else {
                                ColumnShape::Present
                            }
                        }
                        _ => ColumnShape::Present,
                    }
                })
                .collect(),
        }
    }
}
