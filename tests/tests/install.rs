//! The installed command, as a new user meets it: `cargo install --path cli` into a
//! temporary root, then a fresh crate driven through two releases with `cargo straddle …`
//! and `straddle …` — the command finds the crate's migrator, builds it when it is out of
//! date and forwards the verbs; settings come from `.env`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use straddle_tests::TestDb;
use straddle_tests::app_crate::{self, model, scaffold, workspace};

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

struct Fresh {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Shared with `build_generation`'s fixture: the dependencies are built once.
    target: PathBuf,
}

impl Fresh {
    fn write(&self, rel: &str, body: &str) {
        app_crate::write(self.dir.path(), rel, body);
    }

    /// Run `cargo straddle …` (`via_cargo`) or `straddle …` in `cwd`, with the installed
    /// binaries first on the PATH.
    fn run(&self, via_cargo: bool, cwd: &Path, args: &[&str]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = if via_cargo {
            let mut c = Command::new(env!("CARGO"));
            c.arg("straddle");
            c
        } else {
            Command::new(self.bin.join("straddle"))
        };
        cmd.args(args)
            .current_dir(cwd)
            .env("PATH", path)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("DATABASE_URL")
            .env_remove("RUSTFLAGS")
            // Set by `cargo test` for this process; the installed command must find cargo
            // on its own, as it would in a shell.
            .env_remove("CARGO");
        cmd.output().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_command_drives_a_fresh_crate() {
    let ws = workspace();
    let root = tempfile::tempdir().unwrap();
    let install = Command::new(env!("CARGO"))
        .args(["install", "--quiet", "--debug", "--locked", "--path"])
        .arg(ws.join("cli"))
        .arg("--root")
        .arg(root.path())
        .env("CARGO_TARGET_DIR", ws.join("target").join("install"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "cargo install: {}",
        text(&install.stderr)
    );
    let bin = root.path().join("bin");
    for name in ["straddle", "cargo-straddle"] {
        assert!(bin.join(name).is_file(), "{name} installed");
    }

    let app = Fresh {
        dir: tempfile::tempdir().unwrap(),
        bin,
        target: ws.join("target").join("fixture-app"),
    };
    scaffold(app.dir.path(), "fresh-app");
    app.write("src/lib.rs", "pub mod models;\n");
    app.write("src/models.rs", &model("expand"));
    app.write(
        "src/bin/straddle.rs",
        "use straddle::Model;\nuse fresh_app::models::User;\n\n\
         fn main() -> std::process::ExitCode {\n    \
         straddle::cli::main(&[User::definition()], straddle::migrations!())\n}\n",
    );
    let db = TestDb::sqlite("fresh").await.unwrap();
    {
        let pool = db.pool::<sqlx::Sqlite>(1).await;
        for sql in [
            "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email TEXT NOT NULL)",
            "INSERT INTO users (id, email) VALUES (1, 'A@B.C'), (2, 'D@E.F')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
    }
    app.write(".env", &format!("DATABASE_URL={}\n", db.url));
    let here = app.dir.path().to_path_buf();
    let src = here.join("src");

    // Release 1 (expand), from a subfolder: found, built, refused until reviewed.
    let o = app.run(true, &src, &["up", "--quiet"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("is not accepted yet"),
        "{}",
        text(&o.stderr)
    );
    let o = app.run(true, &src, &["generate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("users.email_normalized  expand: accepted"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        here.join("migrations/users.email_normalized/1-expand/sqlite/up.sql")
            .is_file()
    );
    assert!(here.join("straddle.lock").is_file() && !src.join("straddle.lock").exists());
    // Rebuilt with the accepted files, then applied.
    let o = app.run(true, &src, &["up", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = app.run(false, &here, &["status", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let status: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(
        status["changes"][0]["applied"],
        serde_json::json!(["expand"]),
        "{status}"
    );

    // Release 2 (backfill): the same three commands.
    app.write("src/models.rs", &model("backfill"));
    let o = app.run(false, &here, &["up", "--quiet"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let o = app.run(false, &here, &["generate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = app.run(false, &here, &["up", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = app.run(true, &here, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
    assert_eq!(
        status["changes"][0]["applied"],
        serde_json::json!(["expand", "backfill"]),
        "{status}"
    );
    assert_eq!(status["changes"][0]["backfilled_rows"], 2);

    // Completions name the migrator's verbs; outside a project the command says so.
    let o = app.run(false, &here, &["completions", "bash"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("contract"));
    let elsewhere = tempfile::tempdir().unwrap();
    let o = app.run(false, elsewhere.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("not in a cargo project"),
        "{}",
        text(&o.stderr)
    );
}
