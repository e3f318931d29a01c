//! How many rows the next backfill batch takes.
//!
//! A batch's time is a per-batch part — round trips, the commit, and on a busy machine
//! the wait for a CPU at each of them — plus a per-row part, the work that holds row
//! locks and competes with the application. The batch size aims the per-row part at the
//! target batch time. Sizing on the whole time instead (as before) shrinks batches when
//! the per-batch part grows, which raises the share of per-batch work, which slows
//! batches further: on a saturated machine the batches shrank ~5× while the work
//! available to them fell far less.
//!
//! The two parts are told apart by the batches themselves: sizes alternate 15 % above and
//! below the nominal size, and the slope of time over size across the recent batches (a
//! least-squares fit) is the per-row cost. Where the fit cannot be trusted (too little
//! spread in sizes, a slope ≤ 0, a negative per-batch part), the whole time per row is
//! taken, as before. And a batch that took more than four target times is sized on its
//! whole time too, whatever the cause: no batch is let grow past holding its row locks
//! that long.

use std::collections::VecDeque;
use std::time::Duration;

pub(crate) const MIN_BATCH: u64 = 10;
pub(crate) const MAX_BATCH: u64 = 200_000;
/// Batches the fit looks back over.
const WINDOW: usize = 8;
/// Sizes alternate this far above and below the nominal size.
const DITHER: f64 = 0.15;
/// A batch that took more than this many target times is sized on its whole time.
const LONGEST: f64 = 4.0;

#[derive(Debug)]
pub(crate) struct Sizer {
    target: Duration,
    nominal: u64,
    fixed: Option<u64>,
    recent: VecDeque<(u64, f64)>,
    turn: u64,
}

impl Sizer {
    /// `fixed`: every batch that size, no adaptation.
    pub(crate) fn new(initial: u64, target: Duration, fixed: Option<u64>) -> Sizer {
        Sizer {
            target,
            nominal: initial.clamp(MIN_BATCH, MAX_BATCH),
            fixed,
            recent: VecDeque::with_capacity(WINDOW + 1),
            turn: 0,
        }
    }

    /// The size of the next batch.
    pub(crate) fn next(&mut self) -> u64 {
        if let Some(fixed) = self.fixed {
            return fixed;
        }
        self.turn += 1;
        let factor = if self.turn.is_multiple_of(2) {
            1.0 + DITHER
        } else {
            1.0 - DITHER
        };
        ((self.nominal as f64 * factor).round() as u64).clamp(MIN_BATCH, MAX_BATCH)
    }

    /// A batch of `size` rows took `took`: aim the next ones at the target.
    pub(crate) fn record(&mut self, size: u64, took: Duration) {
        if self.fixed.is_some() || size == 0 {
            return;
        }
        self.recent.push_back((size, took.as_secs_f64().max(1e-5)));
        if self.recent.len() > WINDOW {
            self.recent.pop_front();
        }
        let want = self.target.as_secs_f64() / self.per_row();
        let now = self.nominal as f64;
        self.nominal = (want.clamp(now / 2.0, now * 2.0).round() as u64).clamp(MIN_BATCH, MAX_BATCH);
    }

    /// A batch timed out (a lock held by the application, the statement timeout): halve,
    /// and forget the fit — the times before say nothing about what is in the way now.
    pub(crate) fn shrink(&mut self) {
        self.nominal = (self.nominal / 2).max(MIN_BATCH);
        self.recent.clear();
    }

    /// Seconds of work per row.
    fn per_row(&self) -> f64 {
        let &(size, took) = self.recent.back().expect("a batch was recorded");
        let average = took / size as f64;
        if took > self.target.as_secs_f64() * LONGEST {
            return average;
        }
        self.slope().map_or(average, |slope| slope.min(average))
    }

    /// Least-squares slope of time over size across the recent batches, when the sizes
    /// spread enough to tell it and the fit has a non-negative per-batch part.
    fn slope(&self) -> Option<f64> {
        let n = self.recent.len();
        if n < 4 {
            return None;
        }
        let (min, max) = self
            .recent
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), &(s, _)| (lo.min(s), hi.max(s)));
        if (max as f64) < min as f64 * (1.0 + DITHER) {
            return None;
        }
        let nf = n as f64;
        let mean_x = self.recent.iter().map(|&(s, _)| s as f64).sum::<f64>() / nf;
        let mean_y = self.recent.iter().map(|&(_, t)| t).sum::<f64>() / nf;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for &(s, t) in &self.recent {
            let dx = s as f64 - mean_x;
            sxy += dx * (t - mean_y);
            sxx += dx * dx;
        }
        let slope = sxy / sxx;
        let intercept = mean_y - slope * mean_x;
        (slope > 0.0 && intercept >= 0.0).then_some(slope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run `batches` batches whose time is `per_batch + per_row × size`; the last
    /// nominal size.
    fn settle(sizer: &mut Sizer, per_batch: f64, per_row: f64, batches: usize) -> u64 {
        for _ in 0..batches {
            let size = sizer.next();
            sizer.record(size, Duration::from_secs_f64(per_batch + per_row * size as f64));
        }
        sizer.nominal
    }

    const TARGET: Duration = Duration::from_millis(50);

    #[test]
    fn the_work_per_row_sets_the_size() {
        // 10 µs a row, nothing per batch: 5,000 rows make 50 ms.
        let size = settle(&mut Sizer::new(1000, TARGET, None), 0.0, 10e-6, 40);
        assert!((4500..=5500).contains(&size), "{size}");
    }

    #[test]
    fn a_per_batch_cost_does_not_shrink_the_batches() {
        // 40 ms per batch (round trips on a busy machine) and 10 µs a row: sized on the
        // whole time the batches would settle near 1,000 rows; on the work, near 5,000.
        let size = settle(&mut Sizer::new(1000, TARGET, None), 0.040, 10e-6, 60);
        assert!((4500..=5500).contains(&size), "{size}");
    }

    #[test]
    fn slower_work_shrinks_the_batches_in_proportion() {
        let mut sizer = Sizer::new(1000, TARGET, None);
        let before = settle(&mut sizer, 0.005, 10e-6, 40);
        // The workload takes half the CPU: each row costs twice as much.
        let after = settle(&mut sizer, 0.005, 20e-6, 40);
        let ratio = before as f64 / after as f64;
        assert!((1.8..=2.2).contains(&ratio), "{before} -> {after}");
    }

    #[test]
    fn a_batch_far_past_the_target_shrinks_whatever_the_cause() {
        // A per-batch part of 1 s: every batch is past four target times, so sizes go
        // down as before rather than growing to amortize it.
        let size = settle(&mut Sizer::new(1000, TARGET, None), 1.0, 10e-6, 20);
        assert_eq!(size, MIN_BATCH);
    }

    #[test]
    fn sizes_alternate_around_the_nominal_and_stay_in_bounds() {
        let mut sizer = Sizer::new(1000, TARGET, None);
        assert_eq!((sizer.next(), sizer.next()), (850, 1150));
        let mut big = Sizer::new(MAX_BATCH, TARGET, None);
        assert!((0..4).all(|_| big.next() <= MAX_BATCH));
        let mut fixed = Sizer::new(1000, TARGET, Some(777));
        fixed.record(777, Duration::from_secs(9));
        assert_eq!(fixed.next(), 777);
    }

    #[test]
    fn each_batch_moves_the_size_at_most_twofold_within_bounds() {
        let mut fast = Sizer::new(1000, TARGET, None);
        fast.record(1000, Duration::from_millis(1));
        assert_eq!(fast.nominal, 2000, "at most doubles");
        let mut slow = Sizer::new(1000, TARGET, None);
        slow.record(1000, Duration::from_millis(500));
        assert_eq!(slow.nominal, 500, "at most halves");
        let mut top = Sizer::new(MAX_BATCH, TARGET, None);
        top.record(MAX_BATCH, Duration::from_millis(1));
        assert_eq!(top.nominal, MAX_BATCH);
        let mut bottom = Sizer::new(MIN_BATCH, TARGET, None);
        bottom.record(MIN_BATCH, Duration::from_secs(9));
        assert_eq!(bottom.nominal, MIN_BATCH);
    }

    #[test]
    fn a_timeout_halves_and_forgets() {
        let mut sizer = Sizer::new(1000, TARGET, None);
        settle(&mut sizer, 0.0, 10e-6, 10);
        let before = sizer.nominal;
        sizer.shrink();
        assert_eq!(sizer.nominal, before / 2);
        assert!(sizer.recent.is_empty());
    }
}
