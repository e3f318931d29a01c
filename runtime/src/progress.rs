//! Backfill progress: an indicatif bar (rows, rows/s, ETA) on a terminal, a plain log
//! line every few seconds otherwise, or nothing.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
/// How the runner shows a running phase.
pub enum ProgressMode {
    /// A bar on a terminal, log lines otherwise.
    #[default]
    Auto,
    /// A line now and then (for logs and CI).
    Log,
    /// Nothing.
    Off,
}

pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    start_done: u64,
    started: Instant,
    last_log: Instant,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new(mode: ProgressMode) -> Progress {
        Progress {
            mode,
            bar: None,
            label: String::new(),
            total: 0,
            start_done: 0,
            started: Instant::now(),
            last_log: Instant::now(),
        }
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    pub fn start(&mut self, label: &str, done: u64, total: u64) {
        self.label = label.to_string();
        self.total = total;
        self.start_done = done;
        self.started = Instant::now();
        self.last_log = Instant::now();
        if self.mode == ProgressMode::Auto
            && std::io::stderr().is_terminal()
            && !crate::targets::label::is_scoped()
        {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "  {msg}  {wide_bar}  {percent:>3}%  {human_pos}/{human_len}  {rate}  ETA {eta}",
                )
                .expect("valid template")
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.0} rows/s", state.per_sec());
                    },
                ),
            );
            bar.set_message(label.to_string());
            bar.set_position(done);
            self.bar = Some(bar);
        } else if self.mode != ProgressMode::Off {
            crate::targets::label::note!("  {label}: backfilling {} rows{}", total - done, resumed(done));
        }
    }

    pub fn set(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done.min(self.total.max(done)));
            if done > self.total {
                bar.set_length(done);
            }
        } else if self.mode != ProgressMode::Off && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            crate::targets::label::note!(
                "  {}: {done}/{} rows, {:.0} rows/s",
                self.label,
                self.total,
                self.rate(done)
            );
        }
    }

    pub fn finish(&mut self, done: u64) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.mode != ProgressMode::Off {
            crate::targets::label::note!(
                "  {}: {} rows filled in {:.1?} ({:.0} rows/s){}",
                self.label,
                done - self.start_done,
                self.started.elapsed(),
                self.rate(done),
                resumed(self.start_done)
            );
        }
    }

    fn rate(&self, done: u64) -> f64 {
        (done - self.start_done) as f64 / self.started.elapsed().as_secs_f64().max(1e-3)
    }
}

fn resumed(done: u64) -> String {
    if done > 0 {
        format!(", resumed after {done} rows")
    } else {
        String::new()
    }
}
