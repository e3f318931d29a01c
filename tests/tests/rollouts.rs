//! Issue 11 — rollouts have an identity: the same column and the same index changed again
//! in a later release, against the real servers.
//!
//! `events.level` is retyped (i32 → i64) and the index `events_email` added in one release
//! (`tests/rollouts/events-1.lock`); once that contract completed, a later release
//! (`events-2.lock`, which records the completed rollouts) gives `level` a default and
//! drops the index. The second rollout has ledger rows of its own (`events.level~2`):
//! it applies, reverts (only itself) and applies again; the first rollout's runner is
//! refused while the second is applied, and the second is refused before the first
//! completed. After every step the table's catalog equals a hand-written reference.

use straddle::{Error, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{
    TestBackend, TestDb, assert_matches_reference, base_table_sql, final_table_sql, per_dialect,
    seed_sql_with,
};

/// The release before: `level` an `i32`, no index.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "events")]
pub struct Event {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    pub level: i32,
}

/// Rollout 1 of both objects, at contract.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "events",
    lock = "rollouts/events-1.lock",
    index(name = "events_email", on(email), phase = contract)
)]
pub struct EventRetyped {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    #[straddle(retyped(from = "i32", phase = contract))]
    pub level: i64,
}

/// Rollout 2 of both objects, at contract: the same column and index changed again.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "events",
    lock = "rollouts/events-2.lock",
    dropped_index(name = "events_email", on(email), phase = contract)
)]
pub struct EventDefaulted {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    #[straddle(default_changed(to = 5, phase = contract))]
    pub level: i64,
}

/// [`EventDefaulted`] built on a lock that does not record the completed rollouts (one
/// written before locks did): its changes take themselves for their objects' first.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "events",
    lock = "rollouts/events-2-unrecorded.lock",
    dropped_index(name = "events_email", on(email), phase = contract)
)]
pub struct EventDefaultedUnrecorded {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    #[straddle(default_changed(to = 5, phase = contract))]
    pub level: i64,
}

/// A column `tag` added to `posts` …
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "posts")]
pub struct PostTagged {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub title: String,
    #[straddle(added(phase = expand))]
    pub tag: Option<String>,
}

/// … and, in a narrower struct mapping the same table, an index named `tag`: both
/// changes' ledger key is `posts.tag`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "posts", index(name = "tag", on(title), phase = expand))]
pub struct PostTitles {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub title: String,
}

/// A UNIQUE constraint added (rollout 1, at contract) …
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "events",
    lock = "rollouts/events-unique-1.lock",
    index(name = "events_email_key", on(email), unique, constraint, phase = contract)
)]
pub struct EventUnique {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    pub level: i32,
}

/// … and dropped again (rollout 2, at contract).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "events",
    lock = "rollouts/events-unique-2.lock",
    dropped_index(name = "events_email_key", on(email), unique, constraint, phase = contract)
)]
pub struct EventUniqueDropped {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    pub level: i32,
}

per_dialect!(a_column_and_an_index_change_again_in_a_later_rollout);
per_dialect!(a_unique_constraint_added_then_dropped);
per_dialect!(an_older_rollout_never_runs_under_a_newer_one);

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

async fn runner<DB: TestBackend>(t: &TestDb, model: &'static straddle::ir::Model) -> Runner<DB> {
    Runner::<DB>::connect(&t.url, &[model], options()).await.unwrap()
}

async fn seeded<DB: TestBackend>(t: &TestDb) -> sqlx::Pool<DB> {
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(&mut conn, &base_table_sql(Event::definition(), DB::DIALECT)).await;
    for sql in seed_sql_with(DB::DIALECT, "events", 2_000, &[("level", "n % 7")]) {
        DB::exec(&mut conn, &sql).await;
    }
    pool
}

/// What the hand-written reference has on `email`.
#[derive(Clone, Copy, PartialEq)]
enum OnEmail {
    Nothing,
    /// `events_email`.
    Index,
    /// `events_email_key`: a UNIQUE constraint (PostgreSQL), a unique index elsewhere.
    UniqueConstraint,
}

/// The catalog of `events` against the table `model` settles into, written by hand
/// under another name.
async fn assert_settled<DB: TestBackend>(
    pool: &sqlx::Pool<DB>,
    model: &straddle::ir::Model,
    on: OnEmail,
    when: &str,
) {
    let q = |s: &str| DB::DIALECT.quote(s);
    let (r, e) = (q("events_ref"), q("email"));
    let extra = match (on, DB::DIALECT) {
        (OnEmail::Nothing, _) => None,
        (OnEmail::Index, _) => Some(format!("CREATE INDEX {} ON {r} ({e})", q("events_ref_email"))),
        (OnEmail::UniqueConstraint, straddle::Dialect::Postgres) => Some(format!(
            "ALTER TABLE {r} ADD CONSTRAINT {} UNIQUE ({e})",
            q("events_ref_email_key")
        )),
        (OnEmail::UniqueConstraint, _) => Some(format!(
            "CREATE UNIQUE INDEX {} ON {r} ({e})",
            q("events_ref_email_key")
        )),
    };
    let reference: Vec<String> = std::iter::once(final_table_sql(model, DB::DIALECT, "events_ref"))
        .chain(extra)
        .collect();
    let mut conn = pool.acquire().await.unwrap();
    assert_matches_reference::<DB>(&mut conn, "events", "events_ref", &reference, when).await;
}

async fn up_through_contract<DB: TestBackend>(t: &TestDb, model: &'static straddle::ir::Model) {
    let mut r = runner::<DB>(t, model).await;
    r.up(Some(Phase::Contract), None)
        .await
        .unwrap_or_else(|e| panic!("{} up: {e}", model.rust_name));
    r.close().await.unwrap();
}

async fn down_completely<DB: TestBackend>(t: &TestDb, model: &'static straddle::ir::Model) {
    let mut r = runner::<DB>(t, model).await;
    for _ in Phase::ALL {
        r.down(None, None)
            .await
            .unwrap_or_else(|e| panic!("{} down: {e}", model.rust_name));
    }
    r.close().await.unwrap();
}

async fn a_column_and_an_index_change_again_in_a_later_rollout<DB: TestBackend>(t: &TestDb) {
    let (first, second) = (EventRetyped::definition(), EventDefaulted::definition());
    // The derive read each rollout's number from its lock.
    let ids = |m| {
        straddle::ir::plan_model(m)
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(first), ["events.level", "events.events_email"]);
    assert_eq!(ids(second), ["events.level~2", "events.events_email~2"]);

    let pool = seeded::<DB>(t).await;
    up_through_contract::<DB>(t, first).await;
    assert_settled(&pool, first, OnEmail::Index, "rollout 1 applied").await;

    // Rollout 2 of the same column and index: applied, reverted, applied again.
    up_through_contract::<DB>(t, second).await;
    assert_settled(&pool, second, OnEmail::Nothing, "rollout 2 applied").await;
    down_completely::<DB>(t, second).await;
    assert_settled(
        &pool,
        first,
        OnEmail::Index,
        "rollout 2 reverted (rollout 1 stays)",
    )
    .await;
    up_through_contract::<DB>(t, second).await;
    assert_settled(&pool, second, OnEmail::Nothing, "rollout 2 applied again").await;

    // Its ledger rows are its own: rollout 1's stay as they were, completed.
    let mut conn = pool.acquire().await.unwrap();
    let q = |s: &str| DB::DIALECT.quote(s);
    let keys = DB::text_rows(
        &mut conn,
        format!(
            "SELECT DISTINCT {c} FROM {l} ORDER BY {c}",
            c = q("change_id"),
            l = q("_straddle_migrations")
        ),
    )
    .await;
    assert_eq!(
        keys,
        [
            "events.events_email",
            "events.events_email~2",
            "events.level",
            "events.level~2"
        ]
    );
    // A writer that omits `level` gets the new default; every seeded row is there.
    DB::exec(
        &mut conn,
        &format!(
            "INSERT INTO {} ({}, {}) VALUES (9000000, 'x')",
            q("events"),
            q("id"),
            q("email")
        ),
    )
    .await;
    let level = DB::text_rows(
        &mut conn,
        format!(
            "SELECT CAST({} AS CHAR(8)) FROM {} WHERE {} = 9000000",
            q("level"),
            q("events"),
            q("id")
        ),
    )
    .await;
    assert_eq!(level.iter().map(|l| l.trim()).collect::<Vec<_>>(), ["5"]);
    let rows = DB::text_rows(
        &mut conn,
        format!("SELECT CAST(COUNT(*) AS CHAR(12)) FROM {}", q("events")),
    )
    .await;
    assert_eq!(rows.iter().map(|l| l.trim()).collect::<Vec<_>>(), ["2001"]);
}

/// The UNIQUE constraint (PostgreSQL; a unique index elsewhere) comes and goes: rollout 2
/// drops the constraint, which takes its index with it, and going down restores both.
/// (The reference is the table without it, the constraint added by hand.)
async fn a_unique_constraint_added_then_dropped<DB: TestBackend>(t: &TestDb) {
    let (first, second) = (EventUnique::definition(), EventUniqueDropped::definition());
    assert_eq!(
        straddle::ir::plan_model(second)
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        ["events.events_email_key~2"]
    );
    let pool = seeded::<DB>(t).await;
    up_through_contract::<DB>(t, first).await;
    assert_settled(&pool, second, OnEmail::UniqueConstraint, "the constraint added").await;
    up_through_contract::<DB>(t, second).await;
    assert_settled(&pool, second, OnEmail::Nothing, "the constraint dropped").await;
    // A duplicate is accepted now.
    let mut conn = pool.acquire().await.unwrap();
    let q = |s: &str| DB::DIALECT.quote(s);
    DB::exec(
        &mut conn,
        &format!(
            "INSERT INTO {} ({}, {}, {}) VALUES (9000001, 'User1@Example.COM', 1)",
            q("events"),
            q("id"),
            q("email"),
            q("level")
        ),
    )
    .await;
    DB::exec(
        &mut conn,
        &format!("DELETE FROM {} WHERE {} = 9000001", q("events"), q("id")),
    )
    .await;
    drop(conn);
    down_completely::<DB>(t, second).await;
    assert_settled(&pool, second, OnEmail::UniqueConstraint, "the drop reverted").await;
    up_through_contract::<DB>(t, second).await;
    assert_settled(&pool, second, OnEmail::Nothing, "the constraint dropped again").await;
}

async fn an_older_rollout_never_runs_under_a_newer_one<DB: TestBackend>(t: &TestDb) {
    let (first, second) = (EventRetyped::definition(), EventDefaulted::definition());
    let pool = seeded::<DB>(t).await;

    // Rollout 1 only through backfill: rollout 2 is refused, nothing changes.
    let mut r = runner::<DB>(t, first).await;
    r.up(Some(Phase::Backfill), None).await.unwrap();
    r.close().await.unwrap();
    let before = {
        let mut conn = pool.acquire().await.unwrap();
        DB::catalog(&mut conn, "events").await
    };
    let mut r = runner::<DB>(t, second).await;
    match r.up(Some(Phase::Contract), None).await {
        Err(e @ Error::RolloutOrder { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("events.level~2")
                    && text.contains("rollout 1 (`events.level`) has not completed")
                    && text.contains("applied through backfill"),
                "{text}"
            );
        }
        other => panic!("rollout 2 before rollout 1 completed: {other:?}"),
    }
    r.close().await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        DB::catalog(&mut conn, "events").await,
        before,
        "a refused rollout changed the table"
    );
    drop(conn);

    // Rollout 1 completed, rollout 2 applied: the first release's runner cannot revert
    // (or re-run) its rollout under the second.
    up_through_contract::<DB>(t, first).await;
    up_through_contract::<DB>(t, second).await;
    let mut r = runner::<DB>(t, first).await;
    for attempt in ["down", "up"] {
        let result = match attempt {
            "down" => r.down(None, None).await,
            _ => r.up(None, None).await,
        };
        match result {
            Err(e @ Error::RolloutOrder { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("rollout 2 (`events.level~2`) applied through contract")
                        || text.contains("rollout 2 (`events.events_email~2`) applied through contract"),
                    "{text}"
                );
                assert_eq!(e.kind(), straddle::ErrorKind::Refused);
            }
            other => panic!("rollout 1 {attempt} under rollout 2: {other:?}"),
        }
    }
    r.close().await.unwrap();
    assert_settled(&pool, second, OnEmail::Nothing, "after the refusals").await;

    // A later change that takes itself for the first rollout (its lock does not record the
    // completed one) finds another change's rows under its key: refused, saying why.
    down_completely::<DB>(t, second).await;
    let unrecorded = EventDefaultedUnrecorded::definition();
    assert!(unrecorded.rollouts.is_empty());
    let mut r = runner::<DB>(t, unrecorded).await;
    match r.up(None, None).await {
        Err(e @ Error::RolloutOrder { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("does not record that the") && text.contains("[tables.events.completed]"),
                "{text}"
            );
        }
        other => panic!("an unrecorded rollout 2: {other:?}"),
    }
    r.close().await.unwrap();
    assert_settled(
        &pool,
        first,
        OnEmail::Index,
        "after the unrecorded rollout was refused",
    )
    .await;
}

/// Two changes whose ledger keys are equal would read each other's rows as their own:
/// refused before the runner connects, naming both.
#[tokio::test]
async fn changes_sharing_a_ledger_key_are_refused() {
    let models = [PostTagged::definition(), PostTitles::definition()];
    let conflicts = straddle::ir::consistency::conflicts(&models);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let text = &conflicts[0];
    assert!(
        text.contains("the column `tag` of table `posts` (in `PostTagged`)")
            && text.contains("the index `tag` of table `posts` (in `PostTitles`)")
            && text.contains("ledger key `posts.tag`"),
        "{text}"
    );
    // Not even a connection: the URL is never opened.
    match Runner::<sqlx::Sqlite>::connect("sqlite:///nonexistent/dir/x.db", &models, options()).await {
        Err(e @ Error::Usage(_)) => assert!(e.to_string().contains("ledger key `posts.tag`"), "{e}"),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("connected"),
    }
    // One of them alone is fine.
    assert!(straddle::ir::consistency::conflicts(&models[..1]).is_empty());
}

/// The locks chain the way `straddle generate` writes them: the contract of rollout 1
/// shipped, then a release without its declarations records it completed, and the next
/// change of each object is its rollout 2 — the numbers the derive read from
/// `events-2.lock`.
#[test]
fn the_lock_records_completed_rollouts() {
    use straddle::ir::lock::LockFile;
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |f: &str| {
        LockFile::read(&std::path::Path::new(root).join("rollouts").join(f))
            .unwrap()
            .unwrap()
    };
    let (one, two) = (read("events-1.lock"), read("events-2.lock"));
    // Rollout 1 ships its contract.
    let shipped = one.with_models(&[EventRetyped::definition()]);
    assert_eq!(
        shipped.tables["events"].columns["level"].phase,
        Some(Phase::Contract)
    );
    assert_eq!(shipped.rollouts(EventRetyped::definition()), []);
    // The next release declares the second changes (at expand): their rollout 2.
    let mut next = EventDefaulted::definition().clone();
    next.rollouts.clear();
    for c in &mut next.columns {
        if let Some(straddle::ir::model::Change::DefaultChanged(d)) = &mut c.change {
            d.phase = Phase::Expand;
        }
    }
    for i in &mut next.indexes {
        i.phase = Phase::Expand;
    }
    assert_eq!(shipped.rollouts(&next), EventDefaulted::definition().rollouts);
    let after = shipped.with_models(&[&next]);
    assert_eq!(after.tables["events"].completed, two.tables["events"].completed);
    assert_eq!(after.rollouts(&next), EventDefaulted::definition().rollouts);
    // A release that only drops the settled declarations records them too.
    let plain = Event::definition().clone();
    let mut plain = plain;
    plain.columns[2].ty = EventRetyped::definition().columns[2].ty.clone();
    let settled = shipped.with_models(&[&plain]);
    assert_eq!(settled.tables["events"].completed, two.tables["events"].completed);
    assert!(settled.tables["events"].indexes.is_empty());
    assert_eq!(settled.tables["events"].columns["level"].phase, None);
    let text = settled.render();
    assert_eq!(LockFile::parse(&text).unwrap(), settled, "{text}");
}
