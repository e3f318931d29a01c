#![warn(missing_docs)]
//! `cargo build` generates the migrations. In your `build.rs`:
//!
//! ```text
//! fn main() {
//!     straddle_build::generate();
//! }
//! ```
//!
//! It parses the model structs in `src/` with the same parser the derive uses, diffs
//! them against `straddle.lock`, and writes the SQL of every pending phase, per dialect,
//! under `$OUT_DIR/straddle/` — surfaced by a `cargo:warning` naming the changes and the
//! path. Accept it with `straddle generate`. Only files that declare models, the lock and
//! the `migrations/` folder are tracked (`rerun-if-changed`), so editing anything else
//! does not re-run it (until the first `straddle generate` writes the lock, every build
//! re-runs it). Tracking `migrations/` also rebuilds a binary that embeds it with
//! `straddle::migrations!()` whenever `straddle generate` adds or changes a file there.
//! A model added to a file that declared none is found at the next re-run. It never
//! fails the build: a broken declaration is the derive's to report, on its span.

use std::path::{Path, PathBuf};
use straddle_core::lock::LockFile;
use straddle_core::{Dialect, Model, Phase};

/// What a scan found and wrote.
#[derive(Debug, Default)]
pub struct Report {
    /// The models found.
    pub models: Vec<Model>,
    /// Phases this release ships that the lock does not have yet.
    pub pending: Vec<(String, Phase)>,
    /// Where their SQL was written.
    pub out_dir: Option<PathBuf>,
    /// Files whose change must re-run generation.
    pub tracked: Vec<PathBuf>,
    /// Problems that did not stop the scan (unreadable files, a malformed lock).
    pub notes: Vec<String>,
}

/// Configuration of the generator; [`generate`] uses the defaults.
#[derive(Clone, Debug)]
pub struct Generator {
    root: PathBuf,
    sources: Vec<PathBuf>,
    lock: PathBuf,
    migrations: PathBuf,
    dialects: Vec<Dialect>,
    out_dir: Option<PathBuf>,
}

/// Run the generator with the defaults, from `build.rs`.
pub fn generate() {
    Generator::from_env().run();
}

impl Generator {
    /// Sources `src/`, lock `straddle.lock`, relative to `CARGO_MANIFEST_DIR`; output in
    /// `$OUT_DIR/straddle`; the dialects the `straddle` crate was built with.
    pub fn from_env() -> Generator {
        let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
        let dialects = std::env::var("DEP_STRADDLE_DIALECTS")
            .ok()
            .map(|d| d.split(',').filter_map(Dialect::from_key).collect())
            .unwrap_or_else(|| Dialect::ALL.to_vec());
        Generator {
            sources: vec![root.join("src")],
            lock: root.join(straddle_core::lock::FILE_NAME),
            migrations: root.join("migrations"),
            root,
            dialects,
            out_dir: std::env::var("OUT_DIR")
                .ok()
                .map(|d| PathBuf::from(d).join("straddle")),
        }
    }

    /// Scan these source folders instead of `src/` (relative to the crate root).
    pub fn sources<P: AsRef<Path>>(mut self, dirs: impl IntoIterator<Item = P>) -> Self {
        self.sources = dirs.into_iter().map(|d| self.root.join(d)).collect();
        self
    }

    /// The lock file (relative to the crate root).
    pub fn lock(mut self, path: impl AsRef<Path>) -> Self {
        self.lock = self.root.join(path);
        self
    }

    /// The reviewed migrations folder, tracked so that a binary embedding it is rebuilt
    /// when it changes (relative to the crate root; default `migrations`).
    pub fn migrations(mut self, path: impl AsRef<Path>) -> Self {
        self.migrations = self.root.join(path);
        self
    }

    /// Generate for these dialects (default: those the `straddle` crate was built with).
    pub fn dialects(mut self, dialects: &[Dialect]) -> Self {
        self.dialects = dialects.to_vec();
        self
    }

    /// Write the pending SQL here (default: `$OUT_DIR/straddle`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Scan, write, and print the `cargo:` lines.
    pub fn run(self) -> Report {
        let report = self.scan();
        for path in &report.tracked {
            println!("cargo:rerun-if-changed={}", path.display());
        }
        for note in &report.notes {
            println!("cargo:warning=straddle: {note}");
        }
        if !report.pending.is_empty() {
            let list: Vec<String> = report.pending.iter().map(|(c, p)| format!("{c} ({p})")).collect();
            println!(
                "cargo:warning=straddle: {} pending phase{}: {} — SQL in {}; accept with `straddle generate`",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                list.join(", "),
                report
                    .out_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            );
        }
        report
    }

    /// Scan the sources and write the pending SQL; prints nothing.
    pub fn scan(&self) -> Report {
        let mut report = Report::default();
        let lock = match LockFile::read(&self.lock) {
            Ok(lock) => lock,
            Err(e) => {
                report.notes.push(e.to_string());
                None
            }
        };
        // Tracked even while missing: cargo treats a missing path as changed, so a project
        // that has not run `straddle generate` yet re-runs generation on every build, and
        // the first lock it writes is picked up.
        report.tracked.push(self.lock.clone());
        // A folder is scanned whole by cargo: a file `straddle generate` adds (a new
        // dialect's, with the lock unchanged) re-runs this script, which rebuilds the crate
        // and so re-expands `straddle::migrations!()` with it.
        report.tracked.push(self.migrations.clone());
        for dir in &self.sources {
            for file in rust_files(dir) {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    report.notes.push(format!("cannot read {}", file.display()));
                    continue;
                };
                if !text.contains("Model") {
                    continue;
                }
                let Ok(parsed) = syn::parse_file(&text) else {
                    continue;
                }; // rustc reports it
                // Tracked when it declares a model, valid or not: a declaration being fixed
                // must re-run generation.
                if collect_models(&parsed.items, &self.dialects, lock.as_ref(), &mut report.models) {
                    report.tracked.push(file);
                }
            }
        }
        let refs: Vec<&Model> = report.models.iter().collect();
        report.pending = straddle_core::migrations::pending(&refs, &lock.clone().unwrap_or_default());
        if let Some(out) = &self.out_dir {
            let _ = std::fs::remove_dir_all(out);
            let _ = std::fs::create_dir_all(out);
            // Written on every scan: its modification time tells when generation last ran.
            let summary: Vec<String> = report.pending.iter().map(|(c, p)| format!("{c} {p}\n")).collect();
            let _ = std::fs::write(out.join(".scanned"), summary.concat());
            let pending = &report.pending;
            let files = straddle_core::migrations::files(&refs, |_, c, p| {
                pending.iter().any(|(pc, pp)| *pc == c.id && *pp == p)
            });
            for (rel, text) in files {
                let path = out.join(rel);
                let written = std::fs::create_dir_all(path.parent().expect("file in a folder"))
                    .and_then(|()| std::fs::write(&path, text));
                if let Err(e) = written {
                    report.notes.push(format!("cannot write {}: {e}", path.display()));
                }
            }
            report.out_dir = Some(out.clone());
        }
        report
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Collect the structs deriving `Model` (as `straddle::Model` or `Model`), in inline
/// modules too, that parse and validate (invalid ones are the derive's to report).
/// Returns whether any model is declared at all.
fn collect_models(
    items: &[syn::Item],
    dialects: &[Dialect],
    lock: Option<&LockFile>,
    out: &mut Vec<Model>,
) -> bool {
    let mut declared = false;
    for item in items {
        match item {
            syn::Item::Struct(s) if derives_model(&s.attrs) => {
                declared = true;
                let input = syn::DeriveInput::from(s.clone());
                if let Ok(model) = straddle_core::syntax::parse_model(&input, dialects, lock) {
                    out.push(model);
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    declared |= collect_models(items, dialects, lock, out);
                }
            }
            _ => {}
        }
    }
    declared
}

fn derives_model(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
        let mut found = false;
        let _ = a.parse_nested_meta(|m| {
            found |= m.path.segments.last().is_some_and(|s| s.ident == "Model");
            Ok(())
        });
        found
    })
}
