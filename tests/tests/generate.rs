//! `straddle generate` / `straddle check` through one change's releases, in a temporary
//! project: files written per change, phase and dialect; the lock following the code;
//! released files append-only; every disagreement listed.

use std::process::Command;
use straddle::generate::{Project, Shipped, check, generate};
use straddle::{Model, Phase, ir};
use straddle_tests::models::{
    Normalized, NormalizedContract, NormalizedEdited, NormalizedExpand, NormalizedSettled,
};

const CHANGE: &str = "users.email_normalized";

fn shipped(phases: &[Phase]) -> Vec<Shipped> {
    phases
        .iter()
        .map(|p| Shipped {
            change: CHANGE.into(),
            phase: *p,
        })
        .collect()
}

fn files(project: &Project) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![project.migrations.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(
                    e.path()
                        .strip_prefix(&project.migrations)
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_change_through_its_releases() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::at(dir.path());

    // Release 1: expand.
    let v1 = [NormalizedExpand::definition()];
    assert_eq!(
        check(&project, &v1).unwrap(),
        vec![format!(
            "{} is missing: run `straddle generate`",
            project.lock.display()
        )]
    );
    assert_eq!(
        generate(&project, &v1).unwrap().shipped,
        shipped(&[Phase::Expand])
    );
    assert_eq!(
        files(&project),
        [
            "mysql/down.sql",
            "mysql/up.sql",
            "postgres/down.sql",
            "postgres/up.sql",
            "sqlite/down.sql",
            "sqlite/up.sql"
        ]
        .map(|f| format!("{CHANGE}/1-expand/{f}"))
    );
    assert_eq!(check(&project, &v1).unwrap(), Vec::<String>::new());
    let lock = std::fs::read_to_string(&project.lock).unwrap();
    assert!(
        lock.contains("[tables.users.columns.email_normalized]\ntype = \"String\"\nphase = \"expand\""),
        "{lock}"
    );
    assert_eq!(
        generate(&project, &v1).unwrap().shipped,
        vec![],
        "nothing pending the second time"
    );

    // The files are the plan the runner applies: the same steps and checksums.
    let up =
        std::fs::read_to_string(project.migrations.join(CHANGE).join("1-expand/postgres/up.sql")).unwrap();
    let model = NormalizedExpand::definition();
    let plan = &ir::plan_model(model)[0];
    for step in ir::render::render_phase(
        straddle::Dialect::Postgres,
        model,
        plan,
        Phase::Expand,
        straddle::Direction::Up,
    ) {
        assert!(
            up.contains(&step.to_string()) && up.contains(&step.checksum()),
            "{up}"
        );
    }

    // Release 2: backfill. Until generated, check lists the difference.
    let v2 = [Normalized::definition()];
    assert_eq!(
        check(&project, &v2).unwrap(),
        vec![format!(
            "{CHANGE}: the lock has phase expand, the code declares phase backfill: run `straddle generate`"
        )]
    );
    assert_eq!(
        generate(&project, &v2).unwrap().shipped,
        shipped(&[Phase::Backfill])
    );
    assert_eq!(check(&project, &v2).unwrap(), Vec::<String>::new());

    // Someone edits the released backfill expression: check names the files, generate refuses.
    let edited = [NormalizedEdited::definition()];
    let problems = check(&project, &edited).unwrap();
    assert!(
        !problems.is_empty()
            && problems
                .iter()
                .all(|p| p.contains("differs from what the models render")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("1-expand/postgres/up.sql")));
    let err = generate(&project, &edited).unwrap_err().to_string();
    assert!(err.contains("released migrations are append-only"), "{err}");
    // It says where they differ, and both ways forward (it cannot know which side moved).
    assert!(
        err.contains("the file has `") && err.contains("restore it") && err.contains("revert that change"),
        "{err}"
    );

    // Someone edits a released file by hand.
    let file = project.migrations.join(CHANGE).join("2-backfill/mysql/up.sql");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("lower(", "upper(")).unwrap();
    let problems = check(&project, &v2).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!(
            "{}: differs from what the models render (line ",
            file.display()
        )) && problems[0].contains("upper(")
            && problems[0].contains("edited after release, or a model changed a released phase"),
        "{problems:?}"
    );
    std::fs::write(&file, original).unwrap();

    // Release 3: contract; release 4: the column is an ordinary one.
    let v3 = [NormalizedContract::definition()];
    assert_eq!(
        generate(&project, &v3).unwrap().shipped,
        shipped(&[Phase::Contract])
    );
    assert_eq!(check(&project, &v3).unwrap(), Vec::<String>::new());
    assert_eq!(files(&project).len(), 18);
    let v4 = [NormalizedSettled::definition()];
    assert_eq!(
        check(&project, &v4).unwrap(),
        vec![format!(
            "{CHANGE}: the lock has phase contract, the code declares no change: run `straddle generate`"
        )]
    );
    assert_eq!(generate(&project, &v4).unwrap().shipped, vec![]);
    assert_eq!(check(&project, &v4).unwrap(), Vec::<String>::new());
    assert!(
        !std::fs::read_to_string(&project.lock)
            .unwrap()
            .contains("phase =")
    );
}

#[test]
fn a_fresh_project_ships_every_declared_phase_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::at(dir.path());
    assert_eq!(
        generate(&project, &[Normalized::definition()]).unwrap().shipped,
        shipped(&[Phase::Expand, Phase::Backfill])
    );
}

#[test]
fn the_command_line_generates_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let run_in = |cwd: &std::path::Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
            .args(args)
            .current_dir(cwd)
            .output()
            .unwrap()
    };
    let out = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // Not in a crate: refused (usage), nothing written where it happens to run.
    let o = run_in(dir.path(), &["generate"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("no Cargo.toml in") && err(&o).contains("--lock"),
        "{}",
        err(&o)
    );
    assert!(!dir.path().join("straddle.lock").exists());

    // A workspace whose crate is app/: run from the workspace root, refused; run from
    // app/src, the crate root is found like cargo finds it.
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\"]\n",
    )
    .unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("is a workspace manifest"), "{}", err(&o));
    let src = app.join("src");
    let o = run_in(&src, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("straddle.lock is missing"), "{}", out(&o));
    let o = run_in(&src, &["generate"]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains("users.email_normalized  expand: accepted"),
        "{text}"
    );
    assert!(text.contains("users.status  expand: accepted"), "{text}");
    // A line per phase folder written (four), and the lock.
    let listed: Vec<&str> = text.lines().filter(|l| l.starts_with("wrote ")).collect();
    assert_eq!(listed.len(), 5, "{text}");
    assert!(
        listed.iter().any(|l| l.ends_with(
            "app/migrations/users.email_normalized/2-backfill/{mysql,postgres,sqlite}/{down.sql,up.sql}"
        )),
        "{text}"
    );
    assert_eq!(files(&Project::at(&app)).len(), 4 * 6);
    assert!(app.join("straddle.lock").exists() && app.join("migrations").is_dir());
    assert!(!src.join("straddle.lock").exists() && !src.join("migrations").exists());

    let o = run_in(&app, &["check", "--json"]);
    assert!(o.status.success());
    assert_eq!(out(&o).trim(), r#"{"ok":true,"problems":[]}"#);
    let o = run_in(&app, &["generate"]);
    assert!(out(&o).starts_with("nothing to write"), "{}", out(&o));

    // A file missing with the lock unchanged: check names it; generate writes it back and
    // says so (it used to print "nothing pending").
    std::fs::remove_file(app.join("migrations/users.status/1-expand/sqlite/down.sql")).unwrap();
    let o = run_in(&app, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("users.status/1-expand/sqlite/down.sql: missing"));
    let o = run_in(&app, &["generate"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        out(&o).trim(),
        "wrote migrations/users.status/1-expand/sqlite/down.sql"
    );

    // A released file edited by hand: generate refuses (exit 3: a safety gate), naming it.
    let file = app.join("migrations/users.status/1-expand/postgres/up.sql");
    let reviewed = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("-- edited\n{reviewed}")).unwrap();
    let o = run_in(&app, &["generate"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(
        err(&o).contains("1-expand/postgres/up.sql was released"),
        "{}",
        err(&o)
    );
    let o = run_in(&app, &["generate", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).unwrap();
    assert_eq!(v["kind"], "refused", "{v}");
}
