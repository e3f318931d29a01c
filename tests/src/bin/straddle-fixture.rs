//! A migrator binary over the test fixtures, as a user would write one; the runner
//! tests drive it as a real process (and kill it). It applies what the models render,
//! unreviewed (`main_from_models`): the reviewed path is `build_generation`'s.
use straddle::Model;
use straddle_tests::models::{Awkward, Counted, Flagged, Normalized};

fn main() -> std::process::ExitCode {
    // `STRADDLE_FIXTURE=postgres-only`: models compiled for PostgreSQL alone.
    if std::env::var("STRADDLE_FIXTURE").as_deref() == Ok("postgres-only") {
        return straddle::cli::main_from_models(&[Awkward::definition(), Flagged::definition()]);
    }
    straddle::cli::main_from_models(&[Normalized::definition(), Counted::definition()])
}
