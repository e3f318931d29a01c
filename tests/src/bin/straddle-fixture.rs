//! A migrator binary over the test fixtures, as a user would write one; the runner
//! tests drive it as a real process (and kill it).
use straddle::Model;
use straddle_tests::models::{Counted, Normalized};

fn main() -> std::process::ExitCode {
    straddle::cli::main(&[Normalized::definition(), Counted::definition()])
}
