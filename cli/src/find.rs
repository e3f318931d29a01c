//! Finding the project's migrator binary with `cargo metadata`.

use crate::Options;
use std::path::{Path, PathBuf};

/// The binary to run, and the manifest of its package.
#[derive(Debug)]
pub struct Migrator {
    pub manifest_path: PathBuf,
    pub bin: String,
}

/// Binary names taken as the migrator when the package does not name one.
const CONVENTIONAL: [&str; 2] = ["straddle", "cargo-straddle"];

pub fn migrator(options: &Options) -> Result<Migrator, String> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    if let Some(cargo) = std::env::var_os("CARGO") {
        cmd.cargo_path(cargo);
    }
    let meta = cmd
        .no_deps()
        .exec()
        .map_err(|e| format!("not in a cargo project, or `cargo metadata` failed: {e}"))?;
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| format!("cannot read the current directory: {e}"))?;
    let members: Vec<&cargo_metadata::Package> = meta.workspace_packages();

    let candidates: Vec<&cargo_metadata::Package> = match &options.package {
        Some(name) => {
            let found: Vec<_> = members
                .iter()
                .copied()
                .filter(|p| p.name.as_str() == name)
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "no package `{name}` in this workspace; its packages: {}",
                    names(&members)
                ));
            }
            found
        }
        None => {
            // The package holding the current directory (the deepest), else every member.
            let holding = members
                .iter()
                .copied()
                .filter(|p| {
                    package_dir(p)
                        .and_then(|d| d.canonicalize().ok())
                        .is_some_and(|d| cwd.starts_with(d))
                })
                .max_by_key(|p| p.manifest_path.as_str().len());
            match holding {
                Some(p) if !migrators(p, options).is_empty() => vec![p],
                _ => members.clone(),
            }
        }
    };
    let found: Vec<(&cargo_metadata::Package, String)> = candidates
        .iter()
        .flat_map(|p| migrators(p, options).into_iter().map(move |b| (*p, b)))
        .collect();
    match found.as_slice() {
        [(package, bin)] => Ok(Migrator {
            manifest_path: package.manifest_path.clone().into_std_path_buf(),
            bin: bin.clone(),
        }),
        [] => Err(match &options.migrator {
            Some(bin) => format!("no binary `{bin}` in {}", names(&candidates)),
            None => format!(
                "no migrator in {}: add a binary `src/bin/straddle.rs` with\n\n    fn main() -> \
                 std::process::ExitCode {{\n        straddle::cli::main(&[User::definition()], \
                 straddle::migrations!())\n    }}\n\nor name yours in Cargo.toml: [package.metadata.straddle] \
                 migrator = \"<bin>\"",
                names(&candidates)
            ),
        }),
        many => Err(format!(
            "several migrators: {}; choose one with --package or --migrator",
            many.iter()
                .map(|(p, b)| format!("{}/{b}", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The migrator binaries of a package: the one asked for, else the one its metadata
/// names, else those with a conventional name.
fn migrators(package: &cargo_metadata::Package, options: &Options) -> Vec<String> {
    let bins: Vec<&str> = package
        .targets
        .iter()
        .filter(|t| t.is_bin())
        .map(|t| t.name.as_str())
        .collect();
    let named = options.migrator.clone().or_else(|| {
        package.metadata["straddle"]["migrator"]
            .as_str()
            .map(str::to_string)
    });
    match named {
        Some(name) => bins
            .into_iter()
            .filter(|b| *b == name)
            .map(str::to_string)
            .collect(),
        None => bins
            .into_iter()
            .filter(|b| CONVENTIONAL.contains(b))
            .map(str::to_string)
            .collect(),
    }
}

fn package_dir(p: &cargo_metadata::Package) -> Option<&Path> {
    p.manifest_path.parent().map(|d| d.as_std_path())
}

fn names(packages: &[&cargo_metadata::Package]) -> String {
    packages
        .iter()
        .map(|p| format!("`{}`", p.name))
        .collect::<Vec<_>>()
        .join(", ")
}
