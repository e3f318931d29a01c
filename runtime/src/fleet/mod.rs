//! Fleet gating: every running [`crate::Db`] registers itself, with what its code
//! declares, in `_straddle_instances` and keeps a heartbeat there; the runner reads the
//! registry before a phase that would break code still running (contract, and every
//! `down`), and — instead of sleeping — waits for every instance to acknowledge a schema
//! re-read where a step needs it.
//!
//! - `registry`: the rows, as read back (shared by both sides).
//! - `instance`: the application side — registration, heartbeat, acknowledgements.
//! - `gate`: the runner side — who blocks a phase, waiting for the fleet, refreshes.
//! - `clients`: connections that are not registered instances.

pub(crate) mod clients;
pub(crate) mod gate;
pub(crate) mod instance;
pub(crate) mod registry;

pub use gate::FleetOptions;
pub use instance::RegistryOptions;
pub use registry::{Instance, UnknownClient};
