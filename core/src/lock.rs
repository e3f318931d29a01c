//! `straddle.lock`: what has shipped. Written by `straddle generate`, committed, read by
//! the derive (history checks) and by `straddle check`.
//!
//! ```toml
//! version = 1
//!
//! [tables.users]
//! model = "User"
//!
//! [tables.users.columns.id]
//! type = "i64"
//! primary_key = true
//!
//! [tables.users.columns.email_normalized]
//! type = "String"
//! phase = "backfill"      # the change's shipped phase; absent once it is an ordinary column
//! change = "added"        # what the change is: added, renamed (with `from`), retired
//!
//! [tables.users.columns.email_address]
//! type = "String"
//! phase = "expand"
//! change = "renamed"
//! from = "email"
//!
//! [tables.users.columns.points]
//! type = "i64"
//! phase = "expand"
//! change = "retyped"
//! from = "i32"             # the previous Rust type
//! ```

use crate::model::{ChangeKind, Model, Phase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The lock file's name, at the crate root.
pub const FILE_NAME: &str = "straddle.lock";
/// The lock format's version: 2 records the column types declared with `sql_type`
/// (version 1 locks are read too: their columns' declared types are unknown, so changes to
/// them are not checked until `straddle generate` rewrites the lock).
pub const VERSION: u32 = 2;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// `straddle.lock`: what has shipped, per table.
pub struct LockFile {
    /// The format's version.
    pub version: u32,
    #[serde(default)]
    /// Every table's shipped history, by name.
    pub tables: BTreeMap<String, LockedTable>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// A table's shipped history.
pub struct LockedTable {
    /// The Rust struct, for messages.
    pub model: String,
    /// The shipped phase of the table's own creation (`created`), if Straddle created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Phase>,
    /// The shipped phase of the table's retirement (`retired`), if it is being retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<Phase>,
    /// The shipped phase of the table's rename (`renamed`), if it was renamed; with the
    /// name it had before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed: Option<Phase>,
    /// The name it was renamed from, while the rename is in flight or shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Its columns as shipped, by name.
    #[serde(default)]
    pub columns: BTreeMap<String, LockedColumn>,
    /// Indexes added or dropped through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indexes: BTreeMap<String, LockedIndex>,
    /// Check constraints added through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checks: BTreeMap<String, LockedCheck>,
    /// Foreign keys added through Straddle, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub foreign_keys: BTreeMap<String, LockedForeignKey>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A foreign key as shipped.
pub struct LockedForeignKey {
    /// `FOREIGN KEY (a) REFERENCES parent(id)`.
    pub definition: String,
    /// The phase the code ships it in.
    pub phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A CHECK constraint as shipped.
pub struct LockedCheck {
    /// The expression as written.
    pub expr: String,
    /// The phase the code ships it in.
    pub phase: Phase,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// An index as shipped.
pub struct LockedIndex {
    /// The columns, in order.
    pub columns: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Whether it is unique.
    pub unique: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// With `constraint`: the unique index becomes a UNIQUE constraint.
    pub constraint: bool,
    /// The phase the code ships it in.
    pub phase: Phase,
    /// `added` or `dropped`.
    pub change: ChangeKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
/// A column as shipped.
pub struct LockedColumn {
    /// The field's Rust type as written (`Option<…>` for nullable columns).
    #[serde(rename = "type")]
    pub rust_type: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Part of the primary key.
    pub primary_key: bool,
    /// The shipped phase of the column's change; absent for an ordinary column (one that
    /// existed before Straddle, or whose `added(...)` was removed after contract shipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The column types declared with `sql_type`, per dialect, where they differ from the
    /// Rust type's default mapping (absent: the defaults — in a version 2 lock).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sql_type: BTreeMap<String, String>,
    /// What the change is (`added` when absent and a phase is given: locks written
    /// before renames and retirements existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeKind>,
    /// A rename's previous column name; a type change's previous Rust type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// A column's types declared with `sql_type`, per dialect key, where they differ from the
/// default mapping of its Rust type (compared as the engine reads them).
pub fn declared_sql_types(c: &crate::model::Column) -> BTreeMap<String, String> {
    c.ty.sql
        .iter()
        .filter(|(d, sql)| {
            crate::types::sql_type(**d, &c.ty.rust)
                .is_none_or(|default| !crate::types::same_sql_type(**d, default, sql))
        })
        .map(|(d, sql)| (d.key().to_string(), sql.clone()))
        .collect()
}

impl LockedColumn {
    /// The change in flight or last shipped, with its shipped phase.
    pub fn shipped(&self) -> Option<(ChangeKind, Phase)> {
        self.phase.map(|p| (self.change.unwrap_or(ChangeKind::Added), p))
    }
}

#[derive(Debug)]
/// Why the lock cannot be read.
pub enum LockError {
    /// It cannot be read from disk.
    Io(std::io::Error),
    /// It is not valid TOML of the expected shape.
    Parse(String),
    /// It was written by a newer format version.
    Version(u32),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Io(e) => write!(f, "cannot read {FILE_NAME}: {e}"),
            LockError::Parse(e) => write!(f, "{FILE_NAME} is malformed: {e}"),
            LockError::Version(v) => write!(
                f,
                "{FILE_NAME} has version {v}; this straddle reads versions 1 to {VERSION} (a newer straddle wrote it)"
            ),
        }
    }
}

impl std::error::Error for LockError {}

impl LockFile {
    /// The lock at `path`; `Ok(None)` when there is none (a fresh project).
    pub fn read(path: &Path) -> Result<Option<LockFile>, LockError> {
        match std::fs::read_to_string(path) {
            Ok(text) => LockFile::parse(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LockError::Io(e)),
        }
    }

    /// Parse a lock's text.
    pub fn parse(text: &str) -> Result<LockFile, LockError> {
        let lock: LockFile = toml::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        if !(1..=VERSION).contains(&lock.version) {
            return Err(LockError::Version(lock.version));
        }
        Ok(lock)
    }

    /// The lock's text, as written to disk.
    pub fn render(&self) -> String {
        format!(
            "# Written by `straddle generate`: what has shipped. Commit it; do not edit it by hand.\n{}",
            toml::to_string_pretty(self).expect("the lock always serializes")
        )
    }

    /// The lock after shipping `models` as declared: each of their tables is replaced by
    /// what the models (all of them that map it) declare.
    pub fn with_models(&self, models: &[&Model]) -> LockFile {
        let mut next = self.clone();
        next.version = VERSION;
        for model in models {
            // A renamed table is recorded under its new name from its first release on.
            if let Some(r) = &model.renamed {
                next.tables.remove(&r.from);
            }
            next.tables
                .insert(model.table.clone(), LockedTable::of(models, &model.table));
        }
        next
    }
}

impl LockedTable {
    /// What the models that map `table` declare of it, together.
    pub fn of(models: &[&Model], table: &str) -> LockedTable {
        let mapping: Vec<&&Model> = models.iter().filter(|m| m.table == table).collect();
        LockedTable {
            model: mapping
                .iter()
                .map(|m| m.rust_name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            created: mapping.iter().find_map(|m| m.created),
            retired: mapping.iter().find_map(|m| m.retired),
            renamed: mapping.iter().find_map(|m| m.renamed.as_ref().map(|r| r.phase)),
            renamed_from: mapping
                .iter()
                .find_map(|m| m.renamed.as_ref().map(|r| r.from.clone())),
            columns: mapping
                .iter()
                .flat_map(|m| &m.columns)
                .map(|c| {
                    let rust_type = if c.nullable {
                        format!("Option<{}>", c.ty.rust)
                    } else {
                        c.ty.rust.clone()
                    };
                    let change = c.change.as_ref();
                    (
                        c.name.clone(),
                        LockedColumn {
                            rust_type,
                            sql_type: declared_sql_types(c),
                            primary_key: c.primary_key,
                            phase: change.map(|ch| ch.phase()),
                            change: change.map(|ch| ch.kind()),
                            from: change.and_then(|ch| ch.from_key()).map(str::to_string),
                        },
                    )
                })
                .collect(),
            indexes: mapping
                .iter()
                .flat_map(|m| &m.indexes)
                .map(|i| {
                    (
                        i.name.clone(),
                        LockedIndex {
                            columns: i.columns.clone(),
                            unique: i.unique,
                            constraint: i.constraint,
                            phase: i.phase,
                            change: i.kind(),
                        },
                    )
                })
                .collect(),
            checks: mapping
                .iter()
                .flat_map(|m| &m.checks)
                .map(|c| {
                    (
                        c.name.clone(),
                        LockedCheck {
                            expr: c.expr.text.clone(),
                            phase: c.phase,
                        },
                    )
                })
                .collect(),
            foreign_keys: mapping
                .iter()
                .flat_map(|m| &m.foreign_keys)
                .map(|f| {
                    (
                        f.name.clone(),
                        LockedForeignKey {
                            definition: f.definition(),
                            phase: f.phase,
                        },
                    )
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_locks_are_read_and_declared_types_round_trip() {
        let v1 = "version = 1\n\n[tables.t]\nmodel = \"T\"\n\n[tables.t.columns.id]\ntype = \"i64\"\nprimary_key = true\n";
        let lock = LockFile::parse(v1).unwrap();
        assert_eq!(lock.version, 1);
        assert!(lock.tables["t"].columns["id"].sql_type.is_empty());
        assert!(matches!(
            LockFile::parse("version = 3\n"),
            Err(LockError::Version(3))
        ));
        let mut next = lock.clone();
        next.version = VERSION;
        next.tables
            .get_mut("t")
            .unwrap()
            .columns
            .get_mut("id")
            .unwrap()
            .sql_type = BTreeMap::from([("postgres".to_string(), "BIGINT".to_string())]);
        let text = next.render();
        assert!(text.contains("version = 2"), "{text}");
        assert_eq!(LockFile::parse(&text).unwrap(), next);
    }

    #[test]
    fn round_trips_and_rejects_other_versions() {
        let mut lock = LockFile {
            version: VERSION,
            tables: BTreeMap::new(),
        };
        let mut t = LockedTable {
            model: "User".into(),
            created: None,
            retired: None,
            columns: BTreeMap::new(),
            indexes: BTreeMap::new(),
            checks: BTreeMap::new(),
            foreign_keys: BTreeMap::new(),
            ..LockedTable::default()
        };
        t.columns.insert(
            "id".into(),
            LockedColumn {
                rust_type: "i64".into(),
                sql_type: BTreeMap::new(),
                primary_key: true,
                phase: None,
                change: None,
                from: None,
            },
        );
        t.columns.insert(
            "n".into(),
            LockedColumn {
                rust_type: "String".into(),
                sql_type: BTreeMap::new(),
                primary_key: false,
                phase: Some(Phase::Backfill),
                change: Some(ChangeKind::Renamed),
                from: Some("m".into()),
            },
        );
        lock.tables.insert("users".into(), t);
        let text = lock.render();
        assert!(
            text.contains(
                "[tables.users.columns.n]\ntype = \"String\"\nphase = \"backfill\"\nchange = \"renamed\"\nfrom = \"m\""
            ),
            "{text}"
        );
        assert_eq!(LockFile::parse(&text).unwrap(), lock);
        assert!(matches!(
            LockFile::parse("version = 3"),
            Err(LockError::Version(3))
        ));
        assert!(matches!(LockFile::parse("version = "), Err(LockError::Parse(_))));
    }
}
