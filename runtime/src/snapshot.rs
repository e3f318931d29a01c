//! The live schema as the catalog reports it, and what it means for a model's columns.

use std::collections::{HashMap, HashSet};
use straddle_core::model::{AddKind, Change};
use straddle_core::query::{ColumnShape, TableShape};
use straddle_core::render::sync_trigger_names;
use straddle_core::{Dialect, Model};

/// Columns (with nullability) per table, and the names of Straddle's triggers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    tables: HashMap<String, HashMap<String, bool>>,
    triggers: HashSet<String>,
}

impl Snapshot {
    pub fn from_catalog(columns: Vec<(String, String, bool)>, triggers: Vec<String>) -> Snapshot {
        let mut tables: HashMap<String, HashMap<String, bool>> = HashMap::new();
        for (table, column, nullable) in columns {
            tables.entry(table).or_default().insert(column, nullable);
        }
        Snapshot {
            tables,
            triggers: triggers.into_iter().collect(),
        }
    }

    /// `Some(nullable)` when the column exists.
    pub fn column(&self, table: &str, column: &str) -> Option<bool> {
        self.tables.get(table)?.get(column).copied()
    }

    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    pub fn has_trigger(&self, name: &str) -> bool {
        self.triggers.contains(name)
    }

    /// How each column of `model` exists right now.
    pub fn shape(&self, dialect: Dialect, model: &Model) -> TableShape {
        TableShape(
            model
                .columns
                .iter()
                .map(|c| {
                    let add = match &c.change {
                        None => return ColumnShape::Present,
                        Some(Change::Retire(_)) => return ColumnShape::Unused,
                        Some(Change::Nullable(_) | Change::DefaultChanged(_)) => return ColumnShape::Present,
                        Some(Change::Rename(r)) => {
                            return match (
                                self.column(&model.table, &c.name),
                                self.column(&model.table, &r.from),
                            ) {
                                (None, _) => ColumnShape::Absent,
                                (Some(_), Some(_)) => ColumnShape::Filling,
                                (Some(_), None) => ColumnShape::Present,
                            };
                        }
                        Some(Change::Add(add)) => add,
                    };
                    let Some(nullable) = self.column(&model.table, &c.name) else {
                        return ColumnShape::Absent;
                    };
                    match add.kind(c.nullable) {
                        AddKind::Backfilled { not_null, .. } => {
                            let syncing = sync_trigger_names(dialect, &model.table, &c.name)
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
        )
    }
}
