//! What the derive costs at compile time: the same 200 structs compiled with
//! `#[derive(straddle::Model)]` and with `#[derive(sqlx::FromRow)]` (the baseline: the
//! derive most of them would carry anyway, and which Straddle's also implements).
//!
//!     cargo run --release --example derive_cost -- [MODELS] [ROUNDS]
//!
//! Two throwaway crates are generated side by side, sharing one target directory, so the
//! dependencies are built once. Each round rebuilds both crates from scratch (their own
//! code only: `cargo clean -p`, no incremental cache), interleaved; the median wall time
//! of each is reported, and their ratio, with the CPU time (user + system) of the build,
//! the steadier figure on a busy machine. A tenth of the straddle models carry a change in
//! flight (a backfilled column), as a real code base would.
//!
//! `DERIVE_COST_TARGET=/some/dir` keeps the target directory between runs (the
//! dependencies are then built once, not on every run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let target = std::env::var_os("DERIVE_COST_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("target"));
    let straddle_crate = write_crate(dir.path(), "with-straddle", &ws, &models(count, true));
    let fromrow_crate = write_crate(dir.path(), "with-fromrow", &ws, &models(count, false));

    // Dependencies, once.
    for krate in [&straddle_crate, &fromrow_crate] {
        build(krate, &target);
    }
    let (mut s, mut f) = (Vec::new(), Vec::new());
    let (mut s_cpu, mut f_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first: neither always gets the warmer cache.
        let order: [(&PathBuf, &str); 2] = if round % 2 == 0 {
            [
                (&straddle_crate, "with-straddle"),
                (&fromrow_crate, "with-fromrow"),
            ]
        } else {
            [
                (&fromrow_crate, "with-fromrow"),
                (&straddle_crate, "with-straddle"),
            ]
        };
        for (krate, name) in order {
            clean(krate, name, &target);
            let cpu_before = children_cpu();
            let took = build(krate, &target);
            let cpu = children_cpu() - cpu_before;
            if name == "with-straddle" {
                s.push(took);
                s_cpu.push(cpu);
            } else {
                f.push(took);
                f_cpu.push(cpu);
            }
        }
        println!(
            "round {}: straddle::Model {:.2?} (cpu {:.2?}), sqlx::FromRow {:.2?} (cpu {:.2?})",
            round + 1,
            s.last().unwrap(),
            s_cpu.last().unwrap(),
            f.last().unwrap(),
            f_cpu.last().unwrap()
        );
    }
    // Each round's two builds ran back to back: the median of their ratios is the steadier
    // figure when the machine's speed drifts between rounds.
    let mut paired: Vec<f64> = s_cpu
        .iter()
        .zip(&f_cpu)
        .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
        .collect();
    paired.sort_by(f64::total_cmp);
    let paired = paired[paired.len() / 2];
    let (ms, mf) = (median(&mut s), median(&mut f));
    let (cs, cf) = (median(&mut s_cpu), median(&mut f_cpu));
    println!(
        "\n{count} models, {rounds} rounds, medians: #[derive(straddle::Model)] {ms:.2?}, #[derive(sqlx::FromRow)] \
         {mf:.2?} — ratio {:.2}; CPU {cs:.2?} vs {cf:.2?} — ratio {:.2}; median of the rounds' CPU ratios {paired:.2}",
        ms.as_secs_f64() / mf.as_secs_f64(),
        cs.as_secs_f64() / cf.as_secs_f64()
    );
}

/// CPU time (user + system) of every finished child process and its waited-for
/// descendants (cargo and the rustc it ran).
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given and nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time =
        |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn write_crate(root: &Path, name: &str, ws: &Path, models: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n\
             [dependencies]\nstraddle = {{ path = \"{ws}/runtime\", features = [\"sqlite\", \"postgres\"] }}\n\
             sqlx = {{ version = \"0.9\", default-features = false, features = [\"runtime-tokio\", \"derive\", \
             \"sqlite\", \"postgres\"] }}\n",
            ws = ws.display()
        ),
    )
    .unwrap();
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), models).unwrap();
    dir
}

/// The same `n` structs, deriving `straddle::Model` (with its attributes) or
/// `sqlx::FromRow`.
fn models(n: usize, straddle: bool) -> String {
    let attr = |a: &'static str| if straddle { a } else { "" };
    let derive = if straddle {
        "straddle::Model"
    } else {
        "sqlx::FromRow"
    };
    let mut out = String::from("#![allow(dead_code)]\n");
    for i in 0..n {
        let table = if straddle {
            format!("#[straddle(table = \"t{i}\")]\n")
        } else {
            String::new()
        };
        let change = if i % 10 == 0 {
            format!(
                "{}    pub email_normalized: String,\n",
                attr("    #[straddle(added(phase = backfill, backfill = \"lower(email)\"))]\n")
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "#[derive(Debug, Clone, {derive})]\n{table}pub struct M{i} {{\n{}    pub id: i64,\n    pub email: String,\n    \
             pub name: Option<String>,\n    pub count: i32,\n    pub active: bool,\n{change}}}\n\n",
            attr("    #[straddle(primary_key)]\n")
        ));
    }
    out
}

fn cargo(krate: &Path, target: &Path) -> Command {
    // The cargo running this (under rustup, its proxy sets the toolchain for every rustc it
    // starts), else the one on the PATH.
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(krate)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS");
    c
}

fn build(krate: &Path, target: &Path) -> Duration {
    let started = Instant::now();
    let out = cargo(krate, target).args(["build", "--quiet"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn clean(krate: &Path, name: &str, target: &Path) {
    let out = cargo(krate, target)
        .args(["clean", "--quiet", "-p", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
