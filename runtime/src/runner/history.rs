//! A change's ledger rows and what they say: which phases are applied, what an
//! interrupted run recorded, the run that applied a phase, where a backfill keeps its
//! checkpoint.

use crate::backend::LedgerRow;
use std::collections::HashMap;
use straddle_core::Phase;
use straddle_core::step::Direction;

/// A change's ledger rows, oldest first. Rows with an empty step mark a completed phase.
pub(crate) struct History(pub(crate) Vec<LedgerRow>);

impl History {
    pub(crate) fn markers(&self, phase: Phase) -> impl Iterator<Item = &LedgerRow> {
        self.0
            .iter()
            .filter(move |r| r.step.is_empty() && r.phase == phase.key())
    }

    pub(crate) fn applied(&self, phase: Phase) -> bool {
        self.markers(phase).last().is_some_and(|r| r.direction == "up")
    }

    /// The newest phase applied, if any.
    pub(crate) fn newest_applied(&self) -> Option<Phase> {
        Phase::ALL.into_iter().rev().find(|p| self.applied(*p))
    }

    /// Steps recorded for `phase`/`direction` since its last completion marker (either
    /// direction): the progress of an interrupted run.
    pub(crate) fn recorded_since_marker(
        &self,
        phase: Phase,
        direction: Direction,
    ) -> HashMap<String, String> {
        let after = self.markers(phase).last().map(|r| r.id).unwrap_or(i64::MIN);
        self.0
            .iter()
            .filter(|r| {
                r.id > after && r.phase == phase.key() && r.direction == direction.key() && r.is_done_step()
            })
            .map(|r| (r.step.clone(), r.checksum.clone()))
            .collect()
    }

    /// Where a backfill of this change keeps its checkpoint: the change and the incarnation
    /// of its column — the ledger row of the newest expand that created it. A checkpoint
    /// belongs to one incarnation: once expand is reverted and applied again, the column is
    /// new and empty, and a checkpoint of the old one would skip its rows.
    pub(crate) fn checkpoint_key(&self, change: &str) -> String {
        let incarnation = self
            .markers(Phase::Expand)
            .filter(|r| r.direction == "up")
            .last()
            .map(|r| r.id)
            .unwrap_or(0);
        format!("{change}#{incarnation}")
    }

    /// A run of `phase` (up) since its last completion marker stopped without a word:
    /// killed, or its connection lost, between or inside steps. A run that ended in a
    /// recorded refusal or failure is not "interrupted": [`History::last_failure`] says
    /// what stopped it (running again resumes after the steps it did).
    pub(crate) fn started_since_marker(&self, phase: Phase) -> bool {
        let after = self.markers(phase).last().map(|r| r.id).unwrap_or(i64::MIN);
        let run: Vec<&LedgerRow> = self
            .0
            .iter()
            .filter(|r| {
                r.id > after
                    && r.phase == phase.key()
                    && r.direction == "up"
                    && !r.step.is_empty()
                    && r.status != "overridden"
            })
            .collect();
        run.last().is_some_and(|r| !r.ended_badly())
    }

    /// The newest row, when it records a refusal or a failure: how the last run ended.
    pub(crate) fn last_failure(&self) -> Option<&LedgerRow> {
        self.0.last().filter(|r| r.ended_badly())
    }

    /// The row that marks `phase` applied (the newest completion, when it was up).
    pub(crate) fn completion(&self, phase: Phase) -> Option<&LedgerRow> {
        self.markers(phase).last().filter(|r| r.direction == "up")
    }

    /// For an applied phase: the steps (and checksums) of the run that applied it.
    pub(crate) fn applying_run(&self, phase: Phase) -> Vec<(String, String)> {
        let markers: Vec<&LedgerRow> = self.markers(phase).collect();
        let Some(last) = markers.last() else {
            return Vec::new();
        };
        let before = markers.iter().rev().nth(1).map(|r| r.id).unwrap_or(i64::MIN);
        self.0
            .iter()
            .filter(|r| {
                r.id > before
                    && r.id < last.id
                    && r.phase == phase.key()
                    && r.direction == "up"
                    && r.is_done_step()
            })
            .map(|r| (r.step.clone(), r.checksum.clone()))
            .collect()
    }
}

/// Checksum of a phase: over its steps' checksums.
pub(crate) fn checksum_of(text: &str) -> String {
    let step = straddle_core::Step {
        name: String::new(),
        transactional: false,
        ddl: false,
        statements: vec![straddle_core::Statement::Execute(text.to_string())],
        expects: Vec::new(),
        lock: None,
        scans_table: false,
        legacy_checksums: Vec::new(),
    };
    step.checksum()
}
