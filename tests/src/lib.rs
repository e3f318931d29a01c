//! Support for Straddle's integration tests: a throwaway database per test on the real
//! servers (dropped afterwards, also when the test panics), and catalog readers that
//! describe a table's schema as comparable text.
//!
//! Servers: `STRADDLE_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and `STRADDLE_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`). When one is
//! unreachable, its tests fail under `CI=true`; elsewhere they print a loud notice that
//! they did not run.

use futures::future::BoxFuture;
use sqlx::pool::PoolOptions;
use sqlx::{Connection, Pool};
use std::time::Duration;
use straddle::{Backend, Dialect, ir};

/// A test module `$scenario` with one test per engine (`postgres`, `mysql`, `sqlite`, or
/// those listed), each running `$scenario::<DB>(&TestDb)` on a database of its own.
#[macro_export]
macro_rules! per_dialect {
    ($scenario:ident) => {
        $crate::per_dialect!($scenario: postgres, mysql, sqlite);
    };
    ($scenario:ident: $($engine:ident),+) => {
        mod $scenario {
            $($crate::per_dialect!(@one $scenario $engine);)+
        }
    };
    (@one $scenario:ident postgres) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn postgres() {
            if let Some(t) = $crate::TestDb::postgres(stringify!($scenario)).await {
                super::$scenario::<sqlx::Postgres>(&t).await
            }
        }
    };
    (@one $scenario:ident mysql) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn mysql() {
            if let Some(t) = $crate::TestDb::mysql(stringify!($scenario)).await {
                super::$scenario::<sqlx::MySql>(&t).await
            }
        }
    };
    (@one $scenario:ident sqlite) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sqlite() {
            if let Some(t) = $crate::TestDb::sqlite(stringify!($scenario)).await {
                super::$scenario::<sqlx::Sqlite>(&t).await
            }
        }
    };
}

pub mod app_crate;
pub mod catalog;
pub mod cluster;
pub mod fleet;
pub mod models;
pub mod releases;
pub mod rollout;

pub fn pg_admin_url() -> String {
    std::env::var("STRADDLE_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn mysql_admin_url() -> String {
    std::env::var("STRADDLE_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A database created for one test and dropped when this guard is dropped.
pub struct TestDb {
    pub dialect: Dialect,
    pub url: String,
    name: String,
    admin_url: String,
    _dir: Option<tempfile::TempDir>,
}

fn unique_name(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "straddle_{}_{:08x}",
        &tag[..tag.len().min(30)],
        rand::random::<u32>()
    )
}

fn unreachable(what: &str, url: &str, err: &dyn std::fmt::Display) -> Option<TestDb> {
    not_run(what, &straddle::mask_url(url), err);
    None
}

/// A test cannot run because `what` (at `at`) is not there: a failure under `CI=true`;
/// elsewhere a loud notice that its assertions did not run.
pub fn not_run(what: &str, at: &str, err: &dyn std::fmt::Display) {
    let url = at;
    if under_ci() {
        panic!("{what} at {url} is unreachable under CI=true: {err}");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and
    // this must be seen.
    let notice = format!(
        "\n********************************************************************\n\
         NOT RUN: {what} at {url} is unreachable ({err}).\n\
         The assertions of this test did NOT run. Start the server (see README).\n\
         ********************************************************************\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let cut = base.rfind('/').expect("database URL has a path");
    format!("{}/{name}{query}", &base[..cut])
}

impl TestDb {
    /// A fresh PostgreSQL database, or `None` (loudly) when the server is down outside CI.
    pub async fn postgres(tag: &str) -> Option<TestDb> {
        let admin_url = pg_admin_url();
        let mut admin = match connect_admin::<sqlx::Postgres>(&admin_url).await {
            Ok(c) => c,
            Err(e) => return unreachable("PostgreSQL", &admin_url, &e),
        };
        let name = unique_name(tag);
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create database");
        Some(TestDb {
            dialect: Dialect::Postgres,
            url: replace_database(&admin_url, &name),
            name,
            admin_url,
            _dir: None,
        })
    }

    /// A fresh MySQL/MariaDB database, or `None` (loudly) when the server is down outside CI.
    pub async fn mysql(tag: &str) -> Option<TestDb> {
        let admin_url = mysql_admin_url();
        let mut admin = match connect_admin::<sqlx::MySql>(&admin_url).await {
            Ok(c) => c,
            Err(e) => return unreachable("MySQL/MariaDB", &admin_url, &e),
        };
        let name = unique_name(tag);
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .execute(&mut admin)
            .await
            .expect("create database");
        Some(TestDb {
            dialect: Dialect::MySql,
            url: replace_database(&admin_url, &name),
            name,
            admin_url,
            _dir: None,
        })
    }

    /// A fresh SQLite database file in a temporary directory.
    pub async fn sqlite(tag: &str) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        let name = unique_name(tag);
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("{name}.db")).display()
        );
        Some(TestDb {
            dialect: Dialect::Sqlite,
            url,
            name,
            admin_url: String::new(),
            _dir: Some(dir),
        })
    }

    pub async fn pool<DB: Backend>(&self, max: u32) -> Pool<DB> {
        assert_eq!(DB::DIALECT, self.dialect);
        PoolOptions::<DB>::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", straddle::mask_url(&self.url)))
    }
}

async fn connect_admin<DB: sqlx::Database>(url: &str) -> Result<DB::Connection, sqlx::Error> {
    match tokio::time::timeout(Duration::from_secs(5), DB::Connection::connect(url)).await {
        Ok(r) => r,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (dialect, name, admin_url) = (self.dialect, self.name.clone(), self.admin_url.clone());
        if dialect == Dialect::Sqlite {
            return; // the temp dir goes with `_dir`
        }
        // Drop runs inside the test's runtime (maybe while panicking): use a thread with
        // its own runtime, and wait for it so the database is gone when the test ends.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let result = match dialect {
                    Dialect::Postgres => match connect_admin::<sqlx::Postgres>(&admin_url).await {
                        Ok(mut c) => sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await
                        .map(|_| ()),
                        Err(e) => Err(e),
                    },
                    Dialect::MySql => match connect_admin::<sqlx::MySql>(&admin_url).await {
                        Ok(mut c) => {
                            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                                .execute(&mut c)
                                .await
                                .map(|_| ())
                        }
                        Err(e) => Err(e),
                    },
                    Dialect::Sqlite => Ok(()),
                };
                if let Err(e) = result {
                    eprintln!("warning: could not drop test database {name}: {e}");
                }
            })
        });
        let _ = done.join();
    }
}

/// Engine-specific helpers the scenarios need, beyond what the runtime exposes.
pub trait TestBackend: Backend {
    /// Text rows of a query whose single column is text; panics with the SQL on error.
    fn text_rows<'a>(conn: &'a mut Self::Connection, sql: String) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            Self::texts(conn, sql.clone())
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    /// The table's schema as sorted, comparable lines (the table's own name replaced by
    /// `<table>`, so two tables can be compared).
    fn catalog<'a>(conn: &'a mut Self::Connection, table: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut lines = Vec::new();
            for sql in catalog::queries(Self::DIALECT, table) {
                lines.extend(
                    Self::text_rows(conn, sql)
                        .await
                        .into_iter()
                        .map(|l| l.replace(table, "<table>")),
                );
            }
            lines.sort();
            lines
        })
    }

    /// Objects Straddle may leave behind anywhere in the database (triggers, functions,
    /// constraints, rebuild tables).
    fn leftovers<'a>(conn: &'a mut Self::Connection) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move { Self::text_rows(conn, catalog::leftovers(Self::DIALECT).to_string()).await })
    }

    /// Whether a base table of that name exists.
    fn has_table<'a>(conn: &'a mut Self::Connection, table: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let lit = Self::DIALECT.string_literal(table);
            let sql = match Self::DIALECT {
                Dialect::Postgres => format!(
                    "SELECT count(*)::text FROM pg_class WHERE relname = {lit} AND relkind IN ('r', 'p') \
                     AND relnamespace = current_schema()::regnamespace"
                ),
                Dialect::MySql => format!(
                    "SELECT CAST(count(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                     AND TABLE_NAME = {lit} AND TABLE_TYPE = 'BASE TABLE'"
                ),
                Dialect::Sqlite => {
                    format!(
                        "SELECT CAST(count(*) AS TEXT) FROM sqlite_master WHERE type = 'table' AND name = {lit}"
                    )
                }
            };
            Self::text_rows(conn, sql).await[0] == "1"
        })
    }

    fn exec<'a>(conn: &'a mut Self::Connection, sql: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            Self::execute(conn, sql.to_string(), Default::default())
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }
}

impl TestBackend for sqlx::Postgres {}
impl TestBackend for sqlx::MySql {}
impl TestBackend for sqlx::Sqlite {}

/// The report of the backfill among the phases a run applied (panics when none ran).
pub fn backfill_report(runs: &[straddle::ChangeRun]) -> straddle::BackfillReport {
    runs.iter()
        .find_map(|r| r.report.backfill.clone())
        .unwrap_or_else(|| panic!("no backfill ran: {runs:?}"))
}

/// The backfill's report in the output of a `--json` run of the command line (of the first
/// phase that ran one), e.g. `{"rows": …, "throttled_ms": …, "throttled_by": […]}`.
pub fn json_backfill_report(stdout: &[u8]) -> serde_json::Value {
    let runs: serde_json::Value =
        serde_json::from_slice(stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(stdout)));
    runs.as_array()
        .into_iter()
        .flatten()
        .find(|r| r["report"]["backfill"].is_object())
        .map(|r| r["report"]["backfill"].clone())
        .unwrap_or_else(|| panic!("no backfill ran: {runs:#}"))
}

/// [`base_table_sql`] for `users` and [`seed_sql`]'s `rows` rows in it: one script
/// (statements separated by `;`, for `raw_sql`).
pub fn seeded_users_sql(model: &ir::Model, dialect: Dialect, rows: u64) -> String {
    std::iter::once(base_table_sql(model, dialect))
        .chain(seed_sql(dialect, "users", rows))
        .collect::<Vec<_>>()
        .join(";\n")
}

/// `CREATE TABLE` for the model's columns that exist before its changes (the previous
/// release's schema), with the model's own column types.
pub fn base_table_sql(model: &ir::Model, dialect: Dialect) -> String {
    table_sql(model, dialect, &model.table, false)
}

/// Assert that `table`'s catalog equals that of the reference table the hand-written
/// statements `reference` create as `reference_table` (dropped again afterwards; the
/// catalog lines name either table `<table>`), and that nothing of Straddle's is left.
/// `when` names the moment in the messages.
pub async fn assert_matches_reference<DB: TestBackend>(
    conn: &mut DB::Connection,
    table: &str,
    reference_table: &str,
    reference: &[String],
    when: &str,
) {
    for sql in reference {
        DB::exec(conn, sql).await;
    }
    let expected = DB::catalog(conn, reference_table).await;
    DB::exec(
        conn,
        &format!("DROP TABLE {}", DB::DIALECT.quote(reference_table)),
    )
    .await;
    assert_eq!(
        DB::catalog(conn, table).await,
        expected,
        "{when}: {table} is not the reference"
    );
    let leftovers = DB::leftovers(conn).await;
    assert!(leftovers.is_empty(), "{when}: leftovers {leftovers:?}");
}

/// `CREATE TABLE` for the schema the model describes once every change has settled,
/// written by hand — the reference a migrated table must match.
pub fn final_table_sql(model: &ir::Model, dialect: Dialect, table: &str) -> String {
    table_sql(model, dialect, table, true)
}

fn table_sql(model: &ir::Model, dialect: Dialect, table: &str, settled: bool) -> String {
    use ir::model::{Change, DefaultValue};
    let mut defs: Vec<String> = model
        .columns
        .iter()
        .filter_map(|c| {
            // (name, NOT NULL, default) of the column before the change, or once settled.
            let (name, not_null, default) = match (&c.change, settled) {
                (None, _) => (c.name.as_str(), !c.nullable, None),
                (Some(Change::Add(_)), false) | (Some(Change::Retire(_)), true) => return None,
                (Some(Change::Add(add)), true) => (
                    c.name.as_str(),
                    !c.nullable,
                    add.default.as_ref().map(|d| match d {
                        DefaultValue::Literal(l) => l.render(dialect),
                        DefaultValue::Sql(e) => e.render(dialect, ir::expr::Qualifier::None),
                    }),
                ),
                (Some(Change::Rename(r)), false) => (r.from.as_str(), !c.nullable, None),
                (Some(Change::Rename(_)), true) => (c.name.as_str(), !c.nullable, None),
                (Some(Change::Retire(r)), false) => (c.name.as_str(), r.default.is_some(), None),
                (Some(Change::Nullable(_)), false) => (c.name.as_str(), true, None),
                (Some(Change::Nullable(_)), true) => (c.name.as_str(), false, None),
                (Some(Change::NotNull(_)), false) => (c.name.as_str(), false, None),
                (Some(Change::NotNull(_)), true) => (c.name.as_str(), true, None),
                (Some(Change::Retype(_) | Change::CommentChanged(_)), _) => {
                    (c.name.as_str(), !c.nullable, None)
                }
                (Some(Change::DefaultChanged(d)), settled) => (
                    c.name.as_str(),
                    !c.nullable,
                    if settled { &d.to } else { &d.from }
                        .as_ref()
                        .map(|l| l.render(dialect)),
                ),
            };
            // A type change's column has its previous type before the change.
            let ty = match (&c.change, settled) {
                (Some(Change::Retype(r)), false) => r.from.sql(dialect),
                _ => c.ty.sql(dialect),
            };
            let mut d = format!("{} {ty}", dialect.quote(name));
            if not_null {
                d.push_str(" NOT NULL");
            } else if dialect == Dialect::MySql {
                d.push_str(" NULL");
            }
            if let Some(default) = default {
                d.push_str(&format!(" DEFAULT {default}"));
            }
            Some(d)
        })
        .collect();
    let keys: Vec<String> = model
        .primary_key()
        .iter()
        .map(|k| dialect.quote(&k.name))
        .collect();
    defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    if settled {
        // Named after the reference table the way the model's are after its table, so that
        // the catalogs (which show the table's name replaced) compare equal.
        defs.extend(model.checks.iter().map(|c| {
            format!(
                "CONSTRAINT {} CHECK {}",
                dialect.quote(&c.name.replace(&model.table, table)),
                c.expr.render(dialect, ir::expr::Qualifier::None)
            )
        }));
        let list = |cols: &[String]| {
            cols.iter()
                .map(|c| dialect.quote(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        defs.extend(
            model
                .indexes
                .iter()
                .filter(|i| i.constraint && !i.dropped)
                .map(|i| {
                    format!(
                        "CONSTRAINT {} UNIQUE ({})",
                        dialect.quote(&i.name.replace(&model.table, table)),
                        list(&i.columns)
                    )
                }),
        );
        defs.extend(model.foreign_keys.iter().map(|f| {
            format!(
                "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
                dialect.quote(&f.name.replace(&model.table, table)),
                list(&f.columns),
                dialect.quote(&f.parent),
                list(&f.parent_columns)
            )
        }));
    }
    format!("CREATE TABLE {} ({})", dialect.quote(table), defs.join(", "))
}

/// The email `seed_sql` gives row `i`.
pub fn seeded_email(i: i64) -> String {
    format!("User{i}@Example.COM")
}

/// `INSERT`s of `n` rows `(id, email)` with ids 1..=n and mixed-case emails (see
/// [`seeded_email`]), in chunks
/// (MariaDB stops recursive CTEs at 1000 iterations by default).
pub fn seed_sql(dialect: Dialect, table: &str, n: u64) -> Vec<String> {
    seed_sql_with(dialect, table, n, &[])
}

/// [`seed_sql`] with more columns, each given as (column, SQL expression over `n`, the
/// row number).
pub fn seed_sql_with(dialect: Dialect, table: &str, n: u64, extra: &[(&str, &str)]) -> Vec<String> {
    let t = dialect.quote(table);
    let (cols, exprs): (String, String) = extra
        .iter()
        .map(|(c, e)| (format!(", {}", dialect.quote(c)), format!(", {e}")))
        .unzip();
    (0..n.div_ceil(1000))
        .map(|chunk| {
            let (first, last) = (chunk * 1000 + 1, ((chunk + 1) * 1000).min(n));
            format!(
                "INSERT INTO {t} ({id}, {email}{cols}) WITH RECURSIVE seq(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM seq WHERE n < {last}) \
                 SELECT n, CONCAT('User', n, '@Example.COM'){exprs} FROM seq",
                id = dialect.quote("id"),
                email = dialect.quote("email"),
            )
        })
        .collect()
}
