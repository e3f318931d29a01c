//! Which databases a run applies to: `--database-url` given once or more, or a targets file.
//!
//! ```toml
//! # targets.toml: one [[target]] per database; a URL from the environment keeps
//! # passwords out of the file.
//! [[target]]
//! name = "eu-1"
//! url = "postgres://migrator@eu-1.db.internal/app"
//!
//! [[target]]
//! name = "us-1"
//! url_env = "US1_DATABASE_URL"
//! ```

use crate::error::{Error, Result, mask_url};
use std::path::Path;

/// One database of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// How messages and `status` name it.
    pub name: String,
    /// The URL, as given (secrets included: never print it, print [`Target::masked`]).
    pub url: String,
}

impl Target {
    /// The URL with its secrets masked.
    pub fn masked(&self) -> String {
        mask_url(&self.url)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    target: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    url: Option<String>,
    url_env: Option<String>,
}

/// The databases of a run: the URLs given (each named by its host and database), then
/// the targets file's. Refused, listing every problem: no database at all, a name or a
/// database given twice, an entry with no URL or both kinds, an unset variable.
pub fn load(urls: &[String], file: Option<&Path>) -> Result<Vec<Target>> {
    let mut targets: Vec<Target> = urls
        .iter()
        .map(|u| Target {
            name: short_name(u),
            url: u.clone(),
        })
        .collect();
    let mut problems = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read the targets file {}: {e}", path.display())))?;
        let parsed: TargetsFile = toml::from_str(&text)
            .map_err(|e| Error::Usage(format!("the targets file {} is not valid: {e}", path.display())))?;
        for (n, e) in parsed.target.into_iter().enumerate() {
            let at = format!("{} target {} (`{}`)", path.display(), n + 1, e.name);
            let url = match (e.url, e.url_env) {
                (Some(u), None) => u,
                (None, Some(var)) => match std::env::var(&var) {
                    Ok(u) if !u.is_empty() => u,
                    _ => {
                        problems.push(format!("{at}: the variable {var} is not set"));
                        continue;
                    }
                },
                (Some(_), Some(_)) => {
                    problems.push(format!("{at}: give `url` or `url_env`, not both"));
                    continue;
                }
                (None, None) => {
                    problems.push(format!("{at}: no `url` nor `url_env`"));
                    continue;
                }
            };
            targets.push(Target { name: e.name, url });
        }
    }
    for (i, t) in targets.iter().enumerate() {
        if t.name.trim().is_empty() {
            problems.push(format!("a target has an empty name ({})", t.masked()));
        }
        if let Some(first) = targets[..i]
            .iter()
            .find(|o| o.name == t.name && !t.name.trim().is_empty())
        {
            problems.push(format!(
                "two targets are named `{}` ({} and {}): names must tell them apart",
                t.name,
                first.masked(),
                t.masked()
            ));
        }
        if let Some(first) = targets[..i].iter().find(|o| same_database(&o.url, &t.url)) {
            problems.push(format!(
                "`{}` and `{}` are the same database ({}): it would be migrated twice",
                first.name,
                t.name,
                t.masked()
            ));
        }
    }
    if targets.is_empty() && problems.is_empty() {
        problems.push(
            "no database: pass --database-url (once per database), --targets FILE, or set DATABASE_URL"
                .into(),
        );
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Usage(problems.join("\n  ")))
    }
}

/// `host:port/database` (or the file as given, for SQLite): how a URL given on the
/// command line is named in messages.
fn short_name(u: &str) -> String {
    if let Some(file) = sqlite_file(u) {
        return file;
    }
    match url::Url::parse(u) {
        Ok(p) => format!(
            "{}{}{}",
            p.host_str().unwrap_or("localhost"),
            p.port().map(|n| format!(":{n}")).unwrap_or_default(),
            p.path()
        ),
        Err(_) => mask_url(u),
    }
}

/// The file a SQLite URL names (`sqlite://a.db`, `sqlite:///tmp/a.db?mode=rwc`,
/// `sqlite:a.db`), as written.
fn sqlite_file(u: &str) -> Option<String> {
    let rest = u.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(rest.split('?').next().unwrap_or(rest).to_string())
}

/// Whether two URLs name one database: same scheme, host, port and database (or the same
/// SQLite file), whoever connects and whatever the options.
fn same_database(a: &str, b: &str) -> bool {
    if let (Some(a), Some(b)) = (sqlite_file(a), sqlite_file(b)) {
        let canonical = |f: &str| std::fs::canonicalize(f).unwrap_or_else(|_| f.into());
        return canonical(&a) == canonical(&b);
    }
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            let key = |u: &url::Url| {
                let scheme = u
                    .scheme()
                    .replace("postgresql", "postgres")
                    .replace("mariadb", "mysql");
                let default_port = match scheme.as_str() {
                    "postgres" => Some(5432),
                    "mysql" => Some(3306),
                    _ => None,
                };
                (
                    u.host_str()
                        .map(|h| h.to_ascii_lowercase().replace("localhost", "127.0.0.1")),
                    u.port().or(default_port),
                    u.path().trim_end_matches('/').to_string(),
                    scheme,
                )
            };
            key(&a) == key(&b)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_named_by_host_and_database_and_duplicates_are_refused() {
        let t = load(
            &[
                "postgres://u:secret@db1:5433/app".into(),
                "mysql://root@db2/app".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(t[0].name, "db1:5433/app");
        assert_eq!(t[1].name, "db2/app");
        let t = load(
            &["sqlite://a.db".into(), "sqlite:///tmp/b.db?mode=rwc".into()],
            None,
        )
        .unwrap();
        assert_eq!((t[0].name.as_str(), t[1].name.as_str()), ("a.db", "/tmp/b.db"));
        let e = load(&["sqlite://a.db".into(), "sqlite:a.db?mode=ro".into()], None).unwrap_err();
        assert!(e.to_string().contains("are the same database"), "{e}");
        let e = load(
            &[
                "postgres://a:x@localhost:5432/app".into(),
                "postgresql://b@127.0.0.1/app?sslmode=disable".into(),
            ],
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("are the same database"), "{e}");
        assert!(!e.contains(":x@"), "secrets are masked: {e}");
    }

    #[test]
    fn a_targets_file_reads_urls_from_the_environment_and_reports_every_problem() {
        let dir = std::env::temp_dir().join(format!("straddle-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("targets.toml");
        // SAFETY: only this test reads or writes these variables.
        unsafe { std::env::set_var("STRADDLE_TEST_SHARD_B", "postgres://h/b") };
        std::fs::write(
            &path,
            "[[target]]\nname = \"a\"\nurl = \"postgres://h/a\"\n\
             [[target]]\nname = \"b\"\nurl_env = \"STRADDLE_TEST_SHARD_B\"\n",
        )
        .unwrap();
        let t = load(&[], Some(&path)).unwrap();
        assert_eq!(
            t.iter()
                .map(|t| (t.name.as_str(), t.url.as_str()))
                .collect::<Vec<_>>(),
            [("a", "postgres://h/a"), ("b", "postgres://h/b")]
        );
        std::fs::write(
            &path,
            "[[target]]\nname = \"a\"\n\
             [[target]]\nname = \"a\"\nurl_env = \"STRADDLE_TEST_UNSET_VARIABLE\"\n\
             [[target]]\nname = \"c\"\nurl = \"postgres://h/c\"\nurl_env = \"X\"\n",
        )
        .unwrap();
        let e = load(&[], Some(&path)).unwrap_err().to_string();
        for expected in [
            "target 1 (`a`): no `url` nor `url_env`",
            "target 2 (`a`): the variable STRADDLE_TEST_UNSET_VARIABLE is not set",
            "target 3 (`c`): give `url` or `url_env`, not both",
        ] {
            assert!(e.contains(expected), "{expected}: {e}");
        }
        std::fs::write(&path, "[[target]]\nname = \"a\"\nuri = \"postgres://h/a\"\n").unwrap();
        let e = load(&[], Some(&path)).unwrap_err().to_string();
        assert!(e.contains("unknown field `uri`"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
