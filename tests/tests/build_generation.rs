//! `cargo build` generates the migrations: an application crate with
//! `straddle_build::generate()` in its build.rs, driven through three releases of its
//! model. Each build reports the pending phases; its migrator binary accepts them
//! (`generate`), checks them (`check`) and applies them on SQLite, PostgreSQL and MariaDB;
//! an illegal edit fails the build on its span; editing an unrelated file does not re-run
//! generation (timings printed with `--nocapture`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};
use straddle_tests::TestDb;
use straddle_tests::app_crate::{self, model, scaffold, workspace};

struct App {
    dir: tempfile::TempDir,
    target: PathBuf,
}

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace();
        scaffold(dir.path(), "fixture-app");
        let write = |rel: &str, text: &str| app_crate::write(dir.path(), rel, text);
        write(
            "src/main.rs",
            "mod models;\nmod other;\nuse straddle::Model;\n\n\
             fn main() -> std::process::ExitCode {\n    \
             other::hello();\n    straddle::cli::main(&[models::User::definition()], straddle::migrations!())\n}\n",
        );
        write("src/other.rs", "pub fn hello() {}\n");
        write("src/models.rs", &model("expand"));
        App {
            dir,
            target: ws.join("target").join("fixture-app"),
        }
    }

    fn set_model(&self, text: &str) {
        std::fs::write(self.dir.path().join("src/models.rs"), text).unwrap();
    }

    fn build(&self) -> (Output, Duration) {
        let started = Instant::now();
        let out = Command::new(env!("CARGO"))
            .args(["build"])
            .current_dir(self.dir.path())
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        (out, started.elapsed())
    }

    fn run(&self, url: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.target.join("debug").join("fixture-app"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL");
        if let Some(url) = url {
            cmd.env("DATABASE_URL", url);
        }
        cmd.output().unwrap()
    }

    /// When generation last ran.
    fn scanned(&self) -> SystemTime {
        let mut newest = SystemTime::UNIX_EPOCH;
        for e in std::fs::read_dir(self.target.join("debug/build"))
            .unwrap()
            .flatten()
        {
            let marker = e.path().join("out/straddle/.scanned");
            if e.file_name().to_string_lossy().starts_with("fixture-app-")
                && let Ok(m) = std::fs::metadata(&marker)
            {
                newest = newest.max(m.modified().unwrap());
            }
        }
        newest
    }
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_releases_of_a_model() {
    let app = App::new();
    let sqlite = TestDb::sqlite("app").await.unwrap();
    let pg = TestDb::postgres("app").await;
    let mysql = TestDb::mysql("app").await;
    let mut urls = vec![sqlite.url.clone()];
    urls.extend(pg.as_ref().map(|t| t.url.clone()));
    urls.extend(mysql.as_ref().map(|t| t.url.clone()));
    for url in &urls {
        seed(url).await;
    }

    for (release, phase) in ["expand", "backfill", "contract"].into_iter().enumerate() {
        app.set_model(&model(phase));
        let (out, took) = app.build();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "release {release}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "straddle: 1 pending phase: users.email_normalized ({phase})"
            )),
            "the build names the pending phase: {stderr}"
        );
        println!("release {}: cargo build {took:.1?}", release + 1);

        // The binary carries only reviewed SQL: a phase not accepted yet is refused.
        let o = app.run(Some(&urls[0]), &["up", "--quiet"]);
        assert_eq!(o.status.code(), Some(3), "refused by a safety gate");
        assert!(
            text(&o.stderr)
                .contains("is not accepted yet: run `straddle generate`, review the SQL, and rebuild"),
            "{}",
            text(&o.stderr)
        );

        // The SQL the build wrote is the SQL `generate` will accept.
        let out_dir = stderr
            .split("SQL in ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .expect("the warning names the folder");
        let rel = format!("users.email_normalized/{}-{phase}/postgres/up.sql", release + 1);
        let built = std::fs::read_to_string(Path::new(out_dir).join(&rel)).unwrap();

        // Not accepted yet: check fails; generate accepts; check passes.
        let o = app.run(None, &["check"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
        let o = app.run(None, &["generate"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains(&format!("users.email_normalized  {phase}: accepted")));
        assert!(
            text(&o.stdout).contains(&format!(
                "wrote migrations/users.email_normalized/{}-{phase}/{{mysql,postgres,sqlite}}/{{down.sql,up.sql}}",
                release + 1
            )),
            "{}",
            text(&o.stdout)
        );
        assert_eq!(
            std::fs::read_to_string(app.dir.path().join("migrations").join(&rel)).unwrap(),
            built
        );
        let o = app.run(None, &["check"]);
        assert!(o.status.success(), "{}", text(&o.stdout));

        // The new lock re-runs the build: nothing pending any more.
        let (out, _) = app.build();
        assert!(!text(&out.stderr).contains("pending"), "{}", text(&out.stderr));

        for url in &urls {
            let o = app.run(Some(url), &["up", "--quiet"]);
            assert!(o.status.success(), "{url}: {}", text(&o.stderr));
            let o = app.run(Some(url), &["status", "--json"]);
            let status: serde_json::Value = serde_json::from_str(&text(&o.stdout)).unwrap();
            assert_eq!(
                status["changes"][0]["applied"].as_array().unwrap().len(),
                release + 1,
                "{url}: {status}"
            );
        }
    }

    // Files `generate` writes while the lock stays as it is (here a dialect's files, deleted
    // and written again) reach the binary at the next build: the build script tracks
    // migrations/ (it used to keep saying "rebuild" until a source file was touched).
    let sqlite_dir = app
        .dir
        .path()
        .join("migrations/users.email_normalized/3-contract/sqlite");
    std::fs::remove_dir_all(&sqlite_dir).unwrap();
    assert!(app.build().0.status.success());
    let o = app.run(Some(&urls[0]), &["down", "--quiet"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("is not accepted yet"),
        "{}",
        text(&o.stderr)
    );
    let o = app.run(None, &["generate"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .contains("wrote migrations/users.email_normalized/3-contract/sqlite/{down.sql,up.sql}"),
        "{}",
        text(&o.stdout)
    );
    let o = app.run(Some(&urls[0]), &["down", "--quiet"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o.stderr).contains("was accepted after this binary was built: rebuild"),
        "{}",
        text(&o.stderr)
    );
    let (out, _) = app.build();
    assert!(out.status.success());
    for args in [["down", "--quiet"], ["up", "--quiet"]] {
        let o = app.run(Some(&urls[0]), &args);
        assert!(
            o.status.success(),
            "{args:?} after the rebuild: {}",
            text(&o.stderr)
        );
    }

    // A reviewed file edited by hand: the rebuilt binary refuses to run it, and check says why.
    let file = app
        .dir
        .path()
        .join("migrations/users.email_normalized/3-contract/sqlite/down.sql");
    let reviewed = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        reviewed.replace("PRAGMA foreign_keys = ON", "PRAGMA foreign_keys = OFF"),
    )
    .unwrap();
    assert!(app.build().0.status.success());
    let o = app.run(Some(&urls[0]), &["down", "--quiet"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        text(&o.stderr).contains("differs from what the models render"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(app.run(None, &["check"]).status.code(), Some(1));
    std::fs::write(&file, reviewed).unwrap();
    assert!(app.build().0.status.success());
    assert!(app.run(None, &["check"]).status.success());

    // Going back is a compile error, on the phase.
    app.set_model(&model("backfill"));
    let (out, _) = app.build();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("`users.email_normalized` goes back from contract (straddle.lock) to backfill"),
        "{stderr}"
    );
    assert!(stderr.contains("src/models.rs:7:22"), "spanned: {stderr}");
    app.set_model(&model("contract"));
    assert!(app.build().0.status.success());

    // Editing an unrelated file does not re-run generation; editing the model does.
    let before = app.scanned();
    std::fs::write(
        app.dir.path().join("src/other.rs"),
        "pub fn hello() {\n    let _ = 1;\n}\n",
    )
    .unwrap();
    let (out, unrelated) = app.build();
    assert!(out.status.success());
    assert_eq!(app.scanned(), before, "generation re-ran for an unrelated edit");
    std::fs::write(
        app.dir.path().join("src/models.rs"),
        format!("{}\n// edited\n", model("contract")),
    )
    .unwrap();
    let (out, edited) = app.build();
    assert!(out.status.success());
    assert!(
        app.scanned() > before,
        "generation did not re-run for a model edit"
    );
    println!("incremental build: unrelated file edited {unrelated:.2?}; model edited {edited:.2?}");
}

async fn seed(url: &str) {
    let sql = [
        "CREATE TABLE users (id BIGINT NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id))",
        "INSERT INTO users (id, email) VALUES (1, 'A@B.C'), (2, 'D@E.F')",
    ];
    let dialect = url.split(':').next().unwrap();
    let sql = sql.map(|s| {
        if dialect == "sqlite" {
            s.replace("BIGINT", "INTEGER")
        } else {
            s.to_string()
        }
    });
    match dialect {
        "postgres" => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            for s in sql {
                sqlx::query(sqlx::AssertSqlSafe(s)).execute(&pool).await.unwrap();
            }
        }
        "mysql" => {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            for s in sql {
                sqlx::query(sqlx::AssertSqlSafe(s)).execute(&pool).await.unwrap();
            }
        }
        _ => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            for s in sql {
                sqlx::query(sqlx::AssertSqlSafe(s)).execute(&pool).await.unwrap();
            }
        }
    }
}
