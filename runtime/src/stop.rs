//! Stopping a run at the next safe point: between backfill batches, between steps, or
//! while waiting (for the fleet, for another runner). The command line requests it on
//! Ctrl-C; a library user may call [`request`] from its own signal handling.
//!
//! A run stopped this way keeps what it did: the backfill's checkpoint is at its last
//! batch, the ledger shows the phase begun, and running again resumes there.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ask every run in this process to stop at its next safe point.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Error::Stopped)` when a stop was requested, saying where the run stopped.
pub(crate) fn check(at: impl FnOnce() -> String) -> crate::Result<()> {
    if requested() {
        return Err(crate::Error::Stopped { at: at() });
    }
    Ok(())
}
