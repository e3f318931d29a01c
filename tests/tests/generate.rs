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
    assert_eq!(generate(&project, &v1).unwrap(), shipped(&[Phase::Expand]));
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
        generate(&project, &v1).unwrap(),
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
    assert_eq!(generate(&project, &v2).unwrap(), shipped(&[Phase::Backfill]));
    assert_eq!(check(&project, &v2).unwrap(), Vec::<String>::new());

    // Someone edits the released backfill expression: check names the files, generate refuses.
    let edited = [NormalizedEdited::definition()];
    let problems = check(&project, &edited).unwrap();
    assert!(
        !problems.is_empty()
            && problems
                .iter()
                .all(|p| p.contains("differs from what the model renders")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("1-expand/postgres/up.sql")));
    let err = generate(&project, &edited).unwrap_err().to_string();
    assert!(err.contains("released migrations are append-only"), "{err}");

    // Someone edits a released file by hand.
    let file = project.migrations.join(CHANGE).join("2-backfill/mysql/up.sql");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, original.replace("lower(", "upper(")).unwrap();
    assert_eq!(
        check(&project, &v2).unwrap(),
        vec![format!(
            "{}: differs from what the model renders (edited after release?)",
            file.display()
        )]
    );
    std::fs::write(&file, original).unwrap();

    // Release 3: contract; release 4: the column is an ordinary one.
    let v3 = [NormalizedContract::definition()];
    assert_eq!(generate(&project, &v3).unwrap(), shipped(&[Phase::Contract]));
    assert_eq!(check(&project, &v3).unwrap(), Vec::<String>::new());
    assert_eq!(files(&project).len(), 18);
    let v4 = [NormalizedSettled::definition()];
    assert_eq!(
        check(&project, &v4).unwrap(),
        vec![format!(
            "{CHANGE}: the lock has phase contract, the code declares no change: run `straddle generate`"
        )]
    );
    assert_eq!(generate(&project, &v4).unwrap(), vec![]);
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
        generate(&project, &[Normalized::definition()]).unwrap(),
        shipped(&[Phase::Expand, Phase::Backfill])
    );
}

#[test]
fn the_command_line_generates_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_straddle-fixture"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let o = run(&["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("straddle.lock is missing"));
    let o = run(&["generate"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("users.email_normalized  expand: written to migrations/users.email_normalized"),
        "{out}"
    );
    assert!(out.contains("users.status  expand"), "{out}");
    let o = run(&["check", "--json"]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        r#"{"ok":true,"problems":[]}"#
    );
    std::fs::remove_file(
        dir.path()
            .join("migrations/users.status/1-expand/sqlite/down.sql"),
    )
    .unwrap();
    let o = run(&["check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("users.status/1-expand/sqlite/down.sql: missing"));
}
