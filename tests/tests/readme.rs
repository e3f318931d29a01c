//! The README's Rust snippets compile as written. Each ```rust block is compiled by
//! trybuild: items as they are (a `fn main` renamed, so that nothing runs), statements
//! inside an `async fn` given a pool and a `new_user`; the models the prose assumes
//! (`User`, `Order`, in an `app::models` module) come first unless the snippet defines
//! them.

use std::path::{Path, PathBuf};

fn snippets(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.trim_start() == "```rust" => current = Some(String::new()),
            Some(body) if line.trim_start() == "```" => {
                out.push(std::mem::take(body));
                current = None;
            }
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

const USER: &str = r#"
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "users")]
pub struct User {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}
"#;

const ORDER: &str = r#"
#[derive(Debug, Clone, straddle::Model)]
#[straddle(table = "orders")]
pub struct Order {
    #[straddle(primary_key)]
    pub id: i64,
    pub user_id: i64,
}
"#;

/// A compilable file for one snippet.
fn program(snippet: &str) -> String {
    let mut out = String::from("#![allow(unused, dead_code)]\n");
    // The application's models live in `app::models`, as the migrator snippet imports them.
    if !snippet.contains("struct User") {
        out.push_str(&format!(
            "mod app {{\n    pub mod models {{\n{USER}\n{ORDER}\n    }}\n}}\n"
        ));
    }
    let items = snippet.contains("fn main") || snippet.trim_start().starts_with("#[derive");
    if !items {
        out.push_str("use app::models::{Order, User};\n");
    }
    if items {
        out.push_str(&snippet.replace("fn main()", "fn snippet_main()"));
        out.push_str("\nfn main() {}\n");
    } else {
        out.push_str(
            "async fn snippet(pool: sqlx::PgPool, new_user: User) -> Result<(), Box<dyn std::error::Error>> {\n    \
             use straddle::Model;\n",
        );
        out.push_str(snippet);
        out.push_str("    Ok(())\n}\n\nfn main() {}\n");
    }
    out
}

#[test]
fn readme_snippets_compile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let snippets = snippets(&readme);
    assert!(
        snippets.len() >= 5,
        "the README's Rust snippets: {}",
        snippets.len()
    );
    let dir: PathBuf = root.join("target").join("readme-snippets");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = trybuild::TestCases::new();
    for (i, s) in snippets.iter().enumerate() {
        let path = dir.join(format!("snippet_{i}.rs"));
        std::fs::write(&path, program(s)).unwrap();
        t.pass(path);
    }
}
