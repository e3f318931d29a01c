#![warn(missing_docs)]
//! Straddle's core: everything that turns a model declaration into phased SQL.
//!
//! The stages are separate modules, in the order they run:
//!
//! 1. [`syntax`] (feature `syntax`): parse a `#[derive(Model)]` struct into the [`model`]
//!    IR, accumulating every error with its span ([`syntax::ctxt`]), then validate it
//!    against the safety rules ([`syntax::check`]).
//! 2. [`plan`]: turn each declared change into dialect-independent operations per phase
//!    (expand → backfill → contract), with their reverse.
//! 3. [`render`]: turn operations into executable [`step::Step`]s for one [`Dialect`].
//!    All SQL text Straddle produces — DDL, backfill batches, catalog probes and the
//!    schema-tolerant query SQL ([`query`]) — is written by the dialect modules there.
//!
//! The IR is plain serde data: the derive validates it at compile time and embeds it in
//! the binary, so applications plan and render at run time without `syn` or `sqlparser`.

pub mod catalog;
pub mod consistency;
pub mod dialect;
pub mod expr;
pub mod fleet;
pub mod lock;
pub mod migrations;
pub mod model;
pub mod naming;
pub mod plan;
pub mod query;
pub mod render;
pub mod step;
pub mod types;

#[cfg(feature = "syntax")]
pub mod syntax;

pub use dialect::Dialect;
pub use model::{Change, Column, Model, Phase};
pub use plan::{ChangePlan, PhasePlan, plan_model};
pub use step::{Direction, Statement, Step};
