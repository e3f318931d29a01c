//! Issue 15 — the backfill's own writes do not pay for the change's sync triggers on
//! PostgreSQL: where the table has no trigger but the change's own (no rule, no foreign
//! key over the column) and the role may, the backfill's session skips triggers
//! (`session_replication_role = replica`). Proven by the sync function's call count
//! (`track_functions`): none for the backfill's rows; one per row where a user trigger
//! exists (it must fire — an audit trigger sees every backfilled row) or the role may not
//! skip them (the backfill still completes, triggers firing).

use straddle::{Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{TestBackend, TestDb, base_table_sql, seed_sql_with};

/// Before: `points` is an `i32`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "scores", dialects(postgres))]
pub struct Score0 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub points: i32,
}

/// `points` becomes an `i64`: the backfill fills the shadow column, and the sync
/// trigger's `WHEN` holds for those writes (the shadow changed), so every backfilled row
/// would call its function.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "scores", dialects(postgres))]
pub struct Score1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(retyped(from = "i32", phase = backfill))]
    pub points: i64,
}

const ROWS: i64 = 3_000;

fn options() -> RunnerOptions {
    RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    }
}

/// The `scores` table with its rows, created on `conn` (its role owns it).
async fn create_scores(conn: &mut sqlx::PgConnection) {
    type DB = sqlx::Postgres;
    DB::exec(
        conn,
        &base_table_sql(Score0::definition(), straddle::Dialect::Postgres),
    )
    .await;
    for sql in seed_sql_with(
        straddle::Dialect::Postgres,
        "scores",
        ROWS as u64,
        &[("points", "n % 500")],
    ) {
        DB::exec(conn, &sql).await;
    }
}

/// Count calls of PL/pgSQL functions in every new session of database `db`.
async fn track_functions(conn: &mut sqlx::PgConnection, db: &str) {
    type DB = sqlx::Postgres;
    DB::exec(
        conn,
        &format!("ALTER DATABASE \"{db}\" SET track_functions = 'all'"),
    )
    .await;
}

async fn setup(t: &TestDb) {
    type DB = sqlx::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    create_scores(&mut conn).await;
    let db = DB::text_rows(&mut conn, "SELECT current_database()".into())
        .await
        .remove(0);
    track_functions(&mut conn, &db).await;
}

/// Expand then backfill as `url`'s role; the sync functions' calls meanwhile, and whether
/// every row was converted.
async fn backfill_calls(t: &TestDb, url: &str) -> i64 {
    type DB = sqlx::Postgres;
    let mut r = Runner::<DB>::connect(url, &[Score1::definition()], options())
        .await
        .unwrap();
    r.up(Some(Phase::Expand), None).await.unwrap();
    r.close().await.unwrap();
    let before = calls(t).await;
    let mut r = Runner::<DB>::connect(url, &[Score1::definition()], options())
        .await
        .unwrap();
    r.up(Some(Phase::Backfill), None).await.unwrap();
    // The session's statistics are flushed when it ends.
    r.close().await.unwrap();
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let shadow = straddle::ir::render::shadow_column(straddle::Dialect::Postgres, "scores", "points");
    let wrong = DB::text_rows(
        &mut conn,
        format!("SELECT count(*)::text FROM scores WHERE \"{shadow}\" IS DISTINCT FROM points::bigint"),
    )
    .await;
    assert_eq!(wrong, ["0"], "every row converted");
    calls(t).await - before
}

async fn calls(t: &TestDb) -> i64 {
    type DB = sqlx::Postgres;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let pool = t.pool::<DB>(1).await;
        let mut conn = pool.acquire().await.unwrap();
        let n = DB::text_rows(
            &mut conn,
            "SELECT coalesce(sum(calls), 0)::text FROM pg_stat_user_functions WHERE schemaname = 'public'"
                .into(),
        )
        .await;
        let n: i64 = n[0].parse().unwrap();
        // Settled once two reads a moment apart agree.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let again: i64 = DB::text_rows(
            &mut conn,
            "SELECT coalesce(sum(calls), 0)::text FROM pg_stat_user_functions WHERE schemaname = 'public'"
                .into(),
        )
        .await[0]
            .parse()
            .unwrap();
        if n == again {
            return n;
        }
    }
    panic!("the function statistics never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_skips_its_own_sync_trigger_postgres() {
    let Some(t) = TestDb::postgres("backfill_skips_trigger").await else {
        return;
    };
    setup(&t).await;
    let calls = backfill_calls(&t, &t.url).await;
    assert_eq!(calls, 0, "the backfill's writes called the sync function");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_trigger_still_fires_for_the_backfill_postgres() {
    type DB = sqlx::Postgres;
    let Some(t) = TestDb::postgres("backfill_user_trigger").await else {
        return;
    };
    setup(&t).await;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE scores_audit (n BIGINT NOT NULL)",
        "INSERT INTO scores_audit VALUES (0)",
        "CREATE FUNCTION scores_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         UPDATE scores_audit SET n = n + 1; RETURN NEW; END $$",
        "CREATE TRIGGER scores_audit AFTER UPDATE ON scores FOR EACH ROW EXECUTE FUNCTION scores_audit()",
    ] {
        DB::exec(&mut conn, sql).await;
    }
    let calls = backfill_calls(&t, &t.url).await;
    let audited = DB::text_rows(&mut conn, "SELECT n::text FROM scores_audit".into()).await;
    assert_eq!(
        audited,
        [ROWS.to_string()],
        "the audit trigger saw every backfilled row"
    );
    // The audit function once per row, and the sync function too (triggers fire).
    assert!(calls >= 2 * ROWS, "{calls} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_may_not_skip_triggers_fires_them_postgres() {
    type DB = sqlx::Postgres;
    let Some(t) = TestDb::postgres("backfill_plain_role").await else {
        return;
    };
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    let db = DB::text_rows(&mut conn, "SELECT current_database()".into())
        .await
        .remove(0);
    let role = format!("{db}_migrator");
    DB::exec(&mut conn, &format!("CREATE ROLE \"{role}\" LOGIN NOSUPERUSER")).await;
    DB::exec(&mut conn, &format!("GRANT ALL ON SCHEMA public TO \"{role}\"")).await;
    DB::exec(
        &mut conn,
        &format!("GRANT CREATE ON DATABASE \"{db}\" TO \"{role}\""),
    )
    .await;
    let mut url = url::Url::parse(&t.url).unwrap();
    url.set_username(&role).unwrap();
    {
        // The role owns the table (it alters it).
        let mut own = <sqlx::PgConnection as sqlx::Connection>::connect(url.as_str())
            .await
            .unwrap();
        create_scores(&mut own).await;
    }
    track_functions(&mut conn, &db).await;
    let calls = backfill_calls(&t, url.as_str()).await;
    assert!(calls >= ROWS, "{calls} calls: the triggers fired");
    drop(conn);
    pool.close().await;
    // The role goes (the database with its objects goes with the test).
    let admin = straddle_tests::pg_admin_url();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    let mut in_db = <sqlx::PgConnection as sqlx::Connection>::connect(&t.url)
        .await
        .unwrap();
    DB::exec(&mut in_db, &format!("DROP OWNED BY \"{role}\"")).await;
    drop(in_db);
    DB::exec(
        &mut admin,
        &format!("REVOKE ALL ON DATABASE \"{db}\" FROM \"{role}\""),
    )
    .await;
    DB::exec(&mut admin, &format!("DROP ROLE \"{role}\"")).await;
}
