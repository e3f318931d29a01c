//! Private database servers a test may stop, kill and restart without disturbing the
//! shared ones: a PostgreSQL instance from the installed binaries, in a temporary data
//! directory, on a free port of 127.0.0.1, and a hot standby streaming from one. (Run as the `postgres` OS user when the test
//! runs as root: PostgreSQL refuses to run as root.)

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL server of the test's own.
pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The installed PostgreSQL binaries' folder (the newest version).
fn binaries() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

impl PrivatePostgres {
    /// Create and start one; `None` (loudly, or a failure under `CI=true`) when the
    /// binaries are not installed.
    pub fn start() -> Option<PrivatePostgres> {
        let Some(bin) = binaries() else {
            crate::not_run(
                "a private PostgreSQL",
                "/usr/lib/postgresql/*/bin",
                &"initdb not found",
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!("straddle-pg-{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
            bin,
        };
        pg.own_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.start_again();
        Some(pg)
    }

    /// A hot standby of `primary`, streaming from it through replication slot `slot`
    /// (`pg_basebackup -R -X stream -C -S`), started and accepting read-only connections.
    pub fn standby_of(primary: &PrivatePostgres, slot: &str) -> PrivatePostgres {
        let dir = std::env::temp_dir().join(format!("straddle-pg-{:08x}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
            bin: primary.bin.clone(),
        };
        pg.own_dir();
        pg.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
                "-D",
                &pg.data(),
                "-R",
                "-X",
                "stream",
                "-C",
                "-S",
                slot,
                "--no-sync",
            ],
        );
        pg.start_again();
        pg
    }

    /// Give the data directory to `postgres` when the test runs as root.
    fn own_dir(&self) {
        if as_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.dir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown the data directory to postgres");
        }
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Run one of the binaries (as `postgres` when root), asserting it succeeds.
    fn run(&self, tool: &str, args: &[&str]) {
        let path = self.bin.join(tool);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd.args(args).current_dir(Path::new("/tmp")).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start it (again), waiting until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stop it: `immediate` is a crash (no checkpoint; recovery on the next start).
    pub fn stop(&self, mode: &str) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", mode, "-w", "stop"]);
    }

    /// A URL to database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let data = self.data();
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "stop"])
            .current_dir("/tmp")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The 3-node MariaDB Galera cluster of `tests/cluster/galera.sh`, shared by every test
/// (started once, left running; each test works in a database of its own, dropped after).
pub struct Galera {
    /// A database of this test's, on every node.
    pub database: String,
}

/// Client port of Galera node `n` (1..=3).
pub fn galera_port(n: u8) -> u16 {
    4300 + u16::from(n)
}

impl Galera {
    /// Start the cluster when it is not running (about 15 s) and create a database for
    /// the test; `None` (loudly, or a failure under `CI=true`) when it cannot start.
    pub async fn start(tag: &str) -> Option<Galera> {
        static START: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);
        let started = {
            let mut s = START.lock().unwrap();
            s.get_or_insert_with(|| {
                let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster/galera.sh");
                let out = Command::new(script)
                    .arg("start")
                    .output()
                    .map_err(|e| e.to_string())?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ))
                }
            })
            .clone()
        };
        if let Err(e) = started {
            crate::not_run("a MariaDB Galera cluster", "tests/cluster/galera.sh", &e);
            return None;
        }
        let database = format!("straddle_{tag}_{:08x}", rand::random::<u32>());
        let g = Galera { database };
        let mut c = <sqlx::MySqlConnection as sqlx::Connection>::connect(&g.node_url(1, "mysql"))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{}`", g.database)))
            .execute(&mut c)
            .await
            .unwrap();
        Some(g)
    }

    /// A URL to database `db` on node `n`.
    pub fn node_url(&self, n: u8, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", galera_port(n))
    }

    /// A URL to the test's database on node `n`.
    pub fn url(&self, n: u8) -> String {
        self.node_url(n, &self.database)
    }

    fn script(args: &[&str]) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster/galera.sh");
        let out = Command::new(script).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "galera.sh {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// SIGKILL node `n`, as a crash (blocking: call it from `spawn_blocking`).
    pub fn kill(n: u8) {
        Self::script(&["kill", &n.to_string()]);
    }

    /// Start node `n` again; it rejoins the cluster, and this returns once it is Synced
    /// (blocking).
    pub fn restart(n: u8) {
        Self::script(&["restart", &n.to_string()]);
    }

    /// Every node joined again and Synced, whatever a fault test left (blocking).
    pub fn heal() {
        Self::script(&["heal"]);
    }

    /// Run `sql` (one or more statements) in the test's database on node `n`.
    pub async fn exec(&self, n: u8, sql: &str) {
        let mut c = <sqlx::MySqlConnection as sqlx::Connection>::connect(&self.url(n))
            .await
            .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Cut node `n` off the others (`gmcast.isolate`), or join it again: cut off, it leaves
    /// the Primary component and refuses statements until it is back.
    pub async fn isolate(n: u8, isolated: bool) {
        let mut c = <sqlx::MySqlConnection as sqlx::Connection>::connect(&format!(
            "mysql://root@127.0.0.1:{}/mysql",
            galera_port(n)
        ))
        .await
        .unwrap();
        let sql = format!(
            "SET GLOBAL wsrep_provider_options = 'gmcast.isolate={}'",
            u8::from(isolated)
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .unwrap();
    }

    /// Wait until every node is Synced in the Primary component (at most 60 s).
    pub async fn wait_synced(&self) {
        let started = std::time::Instant::now();
        loop {
            let mut synced = 0;
            for n in 1..=3 {
                if let Ok(mut c) =
                    <sqlx::MySqlConnection as sqlx::Connection>::connect(&self.node_url(n, "mysql")).await
                {
                    let s: Option<String> = sqlx::query_scalar(
                        "SELECT CONCAT(s.VARIABLE_VALUE, '/', p.VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS s, \
                         information_schema.GLOBAL_STATUS p WHERE s.VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT' \
                         AND p.VARIABLE_NAME = 'WSREP_CLUSTER_STATUS'",
                    )
                    .fetch_optional(&mut c)
                    .await
                    .ok()
                    .flatten();
                    if s.as_deref() == Some("Synced/Primary") {
                        synced += 1;
                    }
                }
            }
            if synced == 3 {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the Galera cluster did not settle"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
}

/// Heals the cluster when dropped ([`Galera::heal`]), also when a fault test panics.
pub struct Healing;

impl Drop for Healing {
    fn drop(&mut self) {
        Galera::heal();
    }
}

impl Drop for Galera {
    fn drop(&mut self) {
        let (url, db) = (self.node_url(1, "mysql"), self.database.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{db}`")))
                        .execute(&mut c)
                        .await;
                }
            })
        })
        .join();
    }
}

/// A MariaDB primary with an asynchronous replica of its own (binary log, GTID), from the
/// installed MariaDB, on free ports (`tests/cluster/mariadb-replica.sh`); stopped and
/// removed when dropped.
pub struct PrivateMariaDbReplica {
    pub primary_port: u16,
    pub replica_port: u16,
    dir: PathBuf,
}

impl PrivateMariaDbReplica {
    /// Start both, the replica replicating (about 5 s); `None` (loudly, or a failure under
    /// `CI=true`) when they cannot start.
    pub fn start() -> Option<PrivateMariaDbReplica> {
        let dir = std::env::temp_dir().join(format!("straddle-mariadb-{:08x}", rand::random::<u32>()));
        let pair = PrivateMariaDbReplica {
            primary_port: free_port(),
            replica_port: free_port(),
            dir,
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster/mariadb-replica.sh");
        let out = Command::new(script)
            .arg("start")
            .arg(&pair.dir)
            .args([pair.primary_port.to_string(), pair.replica_port.to_string()])
            .output();
        match out {
            Ok(o) if o.status.success() => Some(pair),
            Ok(o) => {
                let why = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                crate::not_run("a MariaDB primary and replica", script, &why);
                None
            }
            Err(e) => {
                crate::not_run("a MariaDB primary and replica", script, &e);
                None
            }
        }
    }

    /// A URL to database `db` on the primary.
    pub fn primary_url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.primary_port)
    }

    /// A URL to database `db` on the replica.
    pub fn replica_url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.replica_port)
    }
}

impl Drop for PrivateMariaDbReplica {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster/mariadb-replica.sh");
        let _ = Command::new(script).arg("stop").arg(&self.dir).output();
    }
}
