//! Many databases (shards, tenants) migrated by one run: which they are
//! ([`file`]), how they advance together ([`advance`]), and how messages say which one
//! they are about ([`label`]).

pub mod advance;
pub mod file;
pub(crate) mod label;

pub use advance::{Advance, Move, TargetOutcome, advance, close_all, connect_all};
pub use file::{Target, load};
