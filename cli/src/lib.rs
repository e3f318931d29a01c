#![warn(missing_docs)]
//! `straddle` and `cargo straddle`: the installable command.
//!
//! A project's migrator is a binary of its own (`straddle::cli::main(&[…models…],
//! straddle::migrations!())`) because only it knows the project's models. This command
//! finds that binary with `cargo metadata`, has cargo build it when it is out of date, and
//! runs it with the arguments given — so nobody writes or remembers a binary path:
//!
//! ```text
//! cargo install straddle-cli          # or: cargo install --path cli
//! cargo straddle status               # or: straddle status
//! straddle completions bash > ~/.local/share/bash-completion/completions/straddle
//! ```
//!
//! The migrator is, in the package holding the current directory (else any workspace
//! member): the binary named in `[package.metadata.straddle] migrator = "…"`, else a
//! binary target named `straddle` or `cargo-straddle`. `--package` and `--migrator`
//! choose; `--release` builds it in release mode.

mod find;

use std::ffi::OsString;
use std::process::{Command, ExitCode};

/// Options of this command, given before the migrator's own arguments.
#[derive(Debug, Default, PartialEq)]
struct Options {
    package: Option<String>,
    migrator: Option<String>,
    release: bool,
}

/// Exit code for a project in which no migrator can be found or run (a usage error, as
/// the migrator's own).
const USAGE: u8 = 2;

/// Run the command with the process arguments.
pub fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Run as a cargo subcommand, cargo passes the subcommand's name first.
    if args.first().is_some_and(|a| a == "straddle") {
        args.remove(0);
    }
    let (options, rest) = match split_options(args) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    if rest.first().is_some_and(|a| a == "completions") {
        return completions(&rest[1..]);
    }
    let migrator = match find::migrator(&options) {
        Ok(m) => m,
        Err(e) => {
            // Outside a project, help is still ours to give.
            if rest.is_empty() || rest.iter().any(|a| a == "--help" || a == "-h") {
                let _ = command().print_help();
                println!();
            }
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--quiet", "--manifest-path"])
        .arg(&migrator.manifest_path)
        .args(["--bin", &migrator.bin]);
    if options.release {
        cmd.arg("--release");
    }
    cmd.arg("--").args(&rest);
    match cmd.status() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            // Killed by a signal: say so, and fail.
            None => {
                eprintln!("error: the migrator {} was stopped by a signal", migrator.bin);
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: cannot run cargo to build and run the migrator: {e}");
            ExitCode::FAILURE
        }
    }
}

/// This command's own options, before the migrator's arguments.
fn split_options(args: Vec<OsString>) -> Result<(Options, Vec<OsString>), String> {
    let mut options = Options::default();
    let mut it = args.into_iter().peekable();
    while let Some(arg) = it.peek().and_then(|a| a.to_str()).map(str::to_string) {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        match flag.as_str() {
            "--release" if inline.is_none() => {
                it.next();
                options.release = true;
            }
            "--package" | "-p" | "--migrator" => {
                it.next();
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .and_then(|v| v.into_string().ok())
                        .ok_or_else(|| format!("{flag} needs a value"))?,
                };
                if flag == "--migrator" {
                    options.migrator = Some(value);
                } else {
                    options.package = Some(value);
                }
            }
            _ => break,
        }
    }
    Ok((options, it.collect()))
}

/// The whole command line, for help and completions: the migrator's commands (from the
/// `straddle` crate's definition) and this command's own options.
fn command() -> clap::Command {
    straddle::cli::command()
        .name("straddle")
        .bin_name("straddle")
        .about(
            "Zero-downtime schema changes: runs your project's migrator (found with `cargo metadata`, built \
             when out of date) with these arguments",
        )
        .arg(
            clap::Arg::new("package")
                .long("package")
                .short('p')
                .value_name("PACKAGE")
                .help("The package whose migrator to run (default: the one holding the current directory)"),
        )
        .arg(
            clap::Arg::new("migrator")
                .long("migrator")
                .value_name("BIN")
                .help("The migrator binary (default: [package.metadata.straddle] migrator, else `straddle`)"),
        )
        .arg(
            clap::Arg::new("release")
                .long("release")
                .action(clap::ArgAction::SetTrue)
                .help("Build the migrator in release mode"),
        )
        .subcommand(
            clap::Command::new("completions")
                .about("Print a completion script for a shell")
                .arg(
                    clap::Arg::new("shell")
                        .required(true)
                        .value_parser(clap::value_parser!(clap_complete::Shell)),
                ),
        )
}

fn completions(args: &[OsString]) -> ExitCode {
    let mut cmd = command();
    let matches = cmd
        .clone()
        .no_binary_name(true)
        .try_get_matches_from(std::iter::once(OsString::from("completions")).chain(args.iter().cloned()));
    let shell = match matches {
        Ok(m) => m
            .subcommand_matches("completions")
            .and_then(|s| s.get_one::<clap_complete::Shell>("shell").copied()),
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(USAGE);
        }
    };
    let Some(shell) = shell else {
        eprintln!("error: name a shell: bash, zsh, fish, powershell or elvish");
        return ExitCode::from(USAGE);
    };
    clap_complete::generate(shell, &mut cmd, "straddle", &mut std::io::stdout());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> (Options, Vec<String>) {
        let (o, rest) = split_options(args.iter().map(OsString::from).collect()).unwrap();
        (o, rest.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    #[test]
    fn own_options_come_first_and_the_rest_is_forwarded() {
        let (o, rest) = split(&[
            "--release",
            "-p",
            "app",
            "--migrator=migrate",
            "up",
            "--phase",
            "expand",
        ]);
        assert_eq!(
            o,
            Options {
                package: Some("app".into()),
                migrator: Some("migrate".into()),
                release: true
            }
        );
        assert_eq!(rest, ["up", "--phase", "expand"]);
        // The migrator's own flags are not taken, wherever they are.
        let (o, rest) = split(&["status", "--release"]);
        assert_eq!(o, Options::default());
        assert_eq!(rest, ["status", "--release"]);
        assert!(split_options(vec!["--package".into()]).is_err());
    }

    #[test]
    fn completions_cover_the_migrators_commands() {
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut command(), "straddle", &mut out);
        let script = String::from_utf8(out).unwrap();
        for verb in ["status", "contract", "generate", "--wait-for-fleet", "--migrator"] {
            assert!(script.contains(verb), "{verb} missing from the bash completions");
        }
    }
}
