//! An application instance for the fleet tests: one release of the `users` code, writing
//! and reading its own rows through `straddle::Db` until its stdin closes (a clean
//! shutdown: it deregisters) or it is killed. It prints `ready <instance id>` once
//! registered and, on a clean shutdown, writes a report: operations, failed statements,
//! and the value it last wrote to each row it owns.
//!
//! ```text
//! fleet-app <url> <release> <application> <first id> <report file> [heartbeat ms] [missed] [poll ms] [pause ms]
//! ```
//! Releases: `before`, `expand`, `backfill`, `contract`, `settled` (the `email_normalized`
//! rollout), `renamed` (`email` → `email_address`, at contract).

use sqlx::{Database, Encode, FromRow, Type};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use straddle::{Backend, BindFields, Db, Model, RegistryOptions};
use straddle_tests::models::{
    EmailRenamed, Normalized, NormalizedContract, NormalizedExpand, NormalizedSettled, UsersBefore,
};

/// How a release's row carries the value under test.
trait Release: Model + Clone + Send + Sync + Unpin {
    fn make(id: i64, value: &str) -> Self;
    fn value(&self) -> String;
}

impl Release for UsersBefore {
    fn make(id: i64, value: &str) -> Self {
        UsersBefore {
            id,
            email: value.into(),
        }
    }
    fn value(&self) -> String {
        self.email.clone()
    }
}

macro_rules! normalized {
    ($($t:ty),*) => {$(
        impl Release for $t {
            fn make(id: i64, value: &str) -> Self {
                Self { id, email: value.into(), email_normalized: value.to_lowercase() }
            }
            fn value(&self) -> String {
                self.email.clone()
            }
        }
    )*};
}
normalized!(
    NormalizedExpand,
    Normalized,
    NormalizedContract,
    NormalizedSettled
);

impl Release for EmailRenamed {
    fn make(id: i64, value: &str) -> Self {
        EmailRenamed {
            id,
            email_address: value.into(),
        }
    }
    fn value(&self) -> String {
        self.email_address.clone()
    }
}

struct Args {
    url: String,
    release: String,
    application: String,
    first_id: i64,
    report: String,
    registry: RegistryOptions,
    pause: Duration,
}

fn args() -> Args {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| a.get(i).map(|s| s.parse().expect("a number")).unwrap_or(default);
    Args {
        url: a[0].clone(),
        release: a[1].clone(),
        application: a[2].clone(),
        first_id: a[3].parse().expect("first id"),
        report: a[4].clone(),
        registry: RegistryOptions {
            application: Some(a[2].clone()),
            heartbeat_every: Duration::from_millis(num(5, 5000)),
            missed_heartbeats: num(6, 6) as u32,
            poll_every: Duration::from_millis(num(7, 1000)),
        },
        pause: Duration::from_millis(num(8, 5)),
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let scheme = args.url.split(':').next().unwrap_or_default().to_string();
    match scheme.as_str() {
        "postgres" => by_release::<sqlx::Postgres>(args).await,
        "mysql" => by_release::<sqlx::MySql>(args).await,
        "sqlite" => by_release::<sqlx::Sqlite>(args).await,
        other => panic!("unknown database {other}"),
    }
}

async fn by_release<DB: Backend>(args: Args)
where
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    UsersBefore: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    NormalizedExpand: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    Normalized: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    NormalizedContract: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    NormalizedSettled: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
    EmailRenamed: for<'r> FromRow<'r, DB::Row> + BindFields<DB>,
{
    match args.release.as_str() {
        "before" => run::<DB, UsersBefore>(args).await,
        "expand" => run::<DB, NormalizedExpand>(args).await,
        "backfill" => run::<DB, Normalized>(args).await,
        "contract" => run::<DB, NormalizedContract>(args).await,
        "settled" => run::<DB, NormalizedSettled>(args).await,
        "renamed" => run::<DB, EmailRenamed>(args).await,
        other => panic!("unknown release {other}"),
    }
}

async fn run<DB: Backend, M>(args: Args)
where
    M: Release + BindFields<DB> + for<'r> FromRow<'r, DB::Row>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    <DB as Database>::Connection: Send,
{
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(4)
        .connect(&args.url)
        .await
        .expect("connect");
    let db = Db::builder(pool)
        .model::<M>()
        .registry(args.registry.clone())
        .build()
        .await
        .expect("Db");
    println!("ready {}", db.instance_id().unwrap_or("unregistered"));
    std::io::stdout().flush().unwrap();

    // Stdin closing is the signal to shut down cleanly.
    let stopping = Arc::new(AtomicBool::new(false));
    {
        let stopping = stopping.clone();
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stopping.store(true, Ordering::Relaxed);
        });
    }

    let mut ops = 0u64;
    let mut failures: Vec<String> = Vec::new();
    let mut failure_count = 0u64;
    let mut rows: BTreeMap<i64, String> = BTreeMap::new();
    let mut next_id = args.first_id;
    let mut n = 0u64;
    let mut fail = |what: String, failures: &mut Vec<String>| {
        failure_count += 1;
        if failures.len() < 20 {
            failures.push(what);
        }
    };
    while !stopping.load(Ordering::Relaxed) {
        n += 1;
        let value = format!("{}-{n}@EXAMPLE.ORG", args.application.to_uppercase());
        // Insert every fourth operation, else update one of its own rows; then read it back.
        let (id, result) = if n % 4 == 1 || rows.is_empty() {
            let id = next_id;
            next_id += 1;
            (id, db.insert(&M::make(id, &value)).await)
        } else {
            let id = *rows.keys().nth((n as usize * 7) % rows.len()).unwrap();
            (id, db.update(&M::make(id, &value)).await)
        };
        ops += 1;
        match result {
            Ok(_) => {
                rows.insert(id, value.clone());
            }
            Err(e) => fail(format!("write {id}: {e}"), &mut failures),
        }
        if let Some(expected) = rows.get(&id).cloned() {
            ops += 1;
            match db.find::<M, _>(id).await {
                Ok(Some(row)) if row.value() == expected => {}
                Ok(Some(row)) => fail(
                    format!("read {id}: {} instead of {expected}", row.value()),
                    &mut failures,
                ),
                Ok(None) => fail(format!("read {id}: gone"), &mut failures),
                Err(e) => fail(format!("read {id}: {e}"), &mut failures),
            }
        }
        // A seeded row nobody writes: its value never changes.
        let seeded = (n as i64 % 50) + 1;
        ops += 1;
        match db.find::<M, _>(seeded).await {
            Ok(Some(row)) if row.value() == straddle_tests::seeded_email(seeded) => {}
            Ok(other) => fail(
                format!("read seeded {seeded}: {:?}", other.map(|r| r.value())),
                &mut failures,
            ),
            Err(e) => fail(format!("read seeded {seeded}: {e}"), &mut failures),
        }
        tokio::time::sleep(args.pause).await;
    }
    db.close().await;
    let report = serde_json::json!({
        "ops": ops,
        "failure_count": failure_count,
        "failures": failures,
        "rows": rows,
    });
    std::fs::write(&args.report, report.to_string()).expect("report");
}
