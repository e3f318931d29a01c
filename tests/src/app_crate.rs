//! A throwaway application crate, as a user writes one: `straddle` and `straddle-build`
//! by path from this workspace, `straddle_build::generate()` in its build.rs, and a
//! `users` model whose `email_normalized` is declared at a given phase. Used by the tests
//! that build such a crate with cargo (`build_generation`, `install`).

use std::path::{Path, PathBuf};

/// This workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `users` model, its `email_normalized` column declared at `phase`.
pub fn model(phase: &str) -> String {
    format!(
        r#"#[derive(Debug, straddle::Model)]
#[straddle(table = "users")]
pub struct User {{
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = {phase}, backfill = "lower(email)"))]
    pub email_normalized: String,
}}
"#
    )
}

/// Write `rel` under `dir`, creating its folders.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A crate named `name` in `dir`: its Cargo.toml (all three dialects, so that every such
/// crate shares one build of the dependencies), this workspace's Cargo.lock, and the
/// build.rs that generates the migrations. Its sources are the caller's.
pub fn scaffold(dir: &Path, name: &str) {
    let ws = workspace();
    write(
        dir,
        "Cargo.toml",
        &format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
straddle = {{ path = "{ws}/runtime", features = ["postgres", "mysql", "sqlite"] }}

[build-dependencies]
straddle-build = {{ path = "{ws}/build" }}
"#,
            ws = ws.display()
        ),
    );
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    write(
        dir,
        "build.rs",
        "fn main() {\n    straddle_build::generate();\n}\n",
    );
}
