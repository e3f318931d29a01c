//! Benchmarks of Straddle against the physical limit; see `BENCHMARKS.md`.
