#![warn(missing_docs)]
//! # Straddle: zero-downtime schema changes declared on your models
//!
//! Declare each column of a table on a struct, and for a column that is changing, the
//! rollout phase the code ships in. Straddle derives the phased migration SQL for
//! PostgreSQL, MySQL/MariaDB and SQLite, and query code that reads and writes correctly
//! whichever schema the database has during the rollout.
//!
//! ```text
//! #[derive(straddle::Model)]
//! #[straddle(table = "users")]
//! pub struct User {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub email: String,
//!     /// Rolling out: existing rows filled from `email`.
//!     #[straddle(added(phase = backfill, backfill = "lower(email)"))]
//!     pub email_normalized: String,
//! }
//! ```
//!
//! ## Attributes
//!
//! On the struct:
//! - `table = "name"` (required): the table.
//! - `dialects(postgres, mysql, sqlite)`: compile for fewer databases than the enabled
//!   features (e.g. to use a PostgreSQL-only `default_sql`).
//!
//! On a field (each field is a column; `Option<T>` is a nullable column):
//! - `primary_key`: part of the primary key (required on at least one field).
//! - `column = "name"`: the column's name when it differs from the field's.
//! - `sql_type = "TYPE"` or `sql_type(postgres = "…", mysql = "…", sqlite = "…")`: the
//!   column type when the default mapping does not fit (trusted input).
//! - `added(phase = expand | backfill | contract, …)`: the column is new in this
//!   rollout, and the code ships in that phase. How existing rows get a value:
//!   - nothing (the field must be `Option<T>`): existing rows are NULL;
//!   - `default = <literal>`: a constant, metadata-only on PostgreSQL 11+ and INSTANT on
//!     MySQL 8 / MariaDB;
//!   - `default_sql = "<expr>"`: a non-volatile SQL default (PostgreSQL only);
//!   - `backfill = "<expr>"`: computed from the row's other columns. Expand adds the
//!     column nullable with a trigger that fills it for rows the previous app version
//!     writes; backfill fills existing rows in keyset batches; contract enforces NOT
//!     NULL without a long lock and drops the trigger.
//!
//! SQL expressions (`backfill`, `default_sql`, `sql_type`) are **trusted input**: they
//! are spliced into generated SQL. They are parsed at compile time to catch syntax
//! errors, unknown columns and volatile defaults, not sanitized.
//!
//! ## Query code
//!
//! [`Db`] wraps a sqlx pool with a snapshot of the live schema; `fetch_all`, `find`,
//! `insert`, `update`, `delete` and `select_sql` produce SQL for the shape each changing
//! column has right now: absent (reads its fallback: the backfill expression or
//! default), filling (`COALESCE(column, fallback)`), or settled (the column).

mod apply;
/// The attribute grammar, by example (compiled by `cargo test`).
pub mod attributes;
mod backend;
mod backfill;
mod catalog;
pub mod cli;
mod cluster;
mod db;
mod error;
mod fields;
pub mod fleet;
pub mod generate;
mod key_value;
mod pacing;
mod progress;
mod retry;
mod runner;
mod snapshot;
pub mod stop;
pub mod targets;

pub use apply::{AppRefresh, ApplyOptions, PhaseReport, apply_phase, phase_steps};
pub use backend::{Backend, Key, LedgerRow};
pub use backfill::{BackfillOptions, BackfillReport, DEFAULT_BATCH_TIME};
pub use db::{DEFAULT_MAX_STALENESS, Db, DbBuilder};
pub use error::{ClusterStall, Error, ErrorKind, FleetRefusal, Result, mask_url};
pub use fields::{BindFields, Fields};
pub use fleet::{FleetOptions, Instance, RegistryOptions, UnknownClient};
pub use key_value::KeyTuple;
pub use pacing::SignalOptions;
pub use progress::ProgressMode;
pub use runner::{ChangeRun, ChangeStatus, FleetStatus, Runner, RunnerOptions, Verification};
pub use snapshot::Snapshot;
pub use sqlx;
pub use straddle_core as ir;
pub use straddle_core::query::{ColumnShape, TableShape};
pub use straddle_core::{Dialect, Direction, Phase, Step};
pub use straddle_macros::{Model, migrations};

/// The reviewed migration files, embedded in the binary by [`migrations!`]. A runner given
/// them applies a phase only when its file is there and says exactly what the runner is
/// about to execute.
#[derive(Clone, Copy, Debug)]
pub struct Migrations {
    files: &'static [(&'static str, &'static str)],
    /// Where the folder was when the binary was built (`None`: not known).
    folder: Option<&'static str>,
}

impl Migrations {
    /// Files by their path under the folder, without knowing the folder.
    pub const fn new(files: &'static [(&'static str, &'static str)]) -> Migrations {
        Migrations { files, folder: None }
    }

    /// Files embedded from `folder` (an absolute path at build time): what
    /// [`migrations!`] expands to. The folder lets `straddle generate` and `check` find
    /// the project from anywhere, and a refusal say when a file on disk is newer than the
    /// binary.
    pub const fn embedded(
        folder: &'static str,
        files: &'static [(&'static str, &'static str)],
    ) -> Migrations {
        Migrations {
            files,
            folder: Some(folder),
        }
    }

    /// A file by its path under `migrations/` (`users.email_normalized/1-expand/postgres/up.sql`).
    pub fn get(&self, path: &str) -> Option<&'static str> {
        self.files.iter().find(|(p, _)| *p == path).map(|(_, text)| *text)
    }

    /// The folder the files were embedded from, when the binary was built.
    pub fn folder(&self) -> Option<&'static std::path::Path> {
        self.folder.map(std::path::Path::new)
    }

    /// How many files are embedded.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is embedded (no phase has been accepted with `straddle generate`).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// A table model: implemented by `#[derive(straddle::Model)]`.
pub trait Model: Sized + Send + Unpin + 'static {
    /// The validated declaration, as compiled.
    fn definition() -> &'static ir::Model;

    /// Every change in flight on this model, planned.
    fn plan() -> Vec<ir::ChangePlan> {
        ir::plan_model(Self::definition())
    }
}

/// The model's definition, checked to be compiled for `dialect`.
pub(crate) fn definition_for<M: Model>(dialect: Dialect) -> Result<&'static ir::Model> {
    let model = M::definition();
    if model.supports(dialect) {
        Ok(model)
    } else {
        Err(Error::DialectNotCompiled {
            model: model.rust_name.clone(),
            dialect,
        })
    }
}

/// Every model compiled into the binary (registered by the derive).
pub fn linked_models() -> Vec<&'static ir::Model> {
    let mut models: Vec<&'static ir::Model> = inventory::iter::<__private::ModelEntry>
        .into_iter()
        .map(|e| e.0.get())
        .collect();
    models.sort_by(|a, b| (&a.table, &a.rust_name).cmp(&(&b.table, &b.rust_name)));
    models
}

#[doc(hidden)]
pub mod __private {
    pub use inventory;

    /// A model compiled into the binary (the derive submits one per struct): its
    /// definition's static, so no function per model is compiled for the registry.
    pub struct ModelEntry(pub &'static LazyModel);
    inventory::collect!(ModelEntry);

    pub use crate::fields::{BindRefs, Col, DecodeFields};

    /// A model's definition, embedded as JSON by the derive and decoded on first use.
    /// One non-generic type for every model: no closure per model to type-check and
    /// compile, as `LazyLock::new(|| …)` would be.
    pub struct LazyModel {
        json: &'static str,
        model: std::sync::OnceLock<crate::ir::Model>,
    }

    impl LazyModel {
        pub const fn new(json: &'static str) -> LazyModel {
            LazyModel {
                json,
                model: std::sync::OnceLock::new(),
            }
        }

        pub fn get(&'static self) -> &'static crate::ir::Model {
            self.model.get_or_init(|| {
                crate::ir::Model::from_json(self.json).expect("the derive embeds a valid model")
            })
        }
    }
}
