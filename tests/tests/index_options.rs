//! Issue 11 — index options: a partial unique index (`predicate`, PostgreSQL and SQLite),
//! an index method (`using`), a covering index (`include`), operator classes (`opclass`) and
//! storage parameters (`with`) on PostgreSQL, built the
//! usual way (concurrently on PostgreSQL) through the ledger. The partial unique index is
//! built over rows that repeat outside its predicate — the duplicate check counts only the
//! rows it covers — and then refuses a second active job of one owner.

use straddle::{Dialect, Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{TestBackend, TestDb, per_dialect};

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "jobs",
    dialects(postgres),
    index(name = "jobs_active_owner", on(owner_id), unique, predicate = "state = 'active'", phase = contract),
    index(name = "jobs_state_hash", on(state), using = "hash", phase = contract),
    index(name = "jobs_owner_cover", on(owner_id), include(state), phase = contract),
    index(
        name = "jobs_state_prefix",
        on(owner_id, state),
        opclass(state = "text_pattern_ops"),
        with = "fillfactor = 70, deduplicate_items = off",
        phase = contract
    ),
    index(name = "jobs_id_brin", on(id), using = "brin", with = "pages_per_range = 16, autosummarize = on", phase = contract)
)]
pub struct Job {
    #[straddle(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "jobs",
    dialects(sqlite),
    index(name = "jobs_active_owner", on(owner_id), unique, predicate = "state = 'active'", phase = contract)
)]
pub struct JobLite {
    #[straddle(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    pub state: String,
}

per_dialect!(partial_and_other_indexes: postgres, sqlite);

async fn partial_and_other_indexes<DB: TestBackend>(t: &TestDb) {
    let pg = DB::DIALECT == Dialect::Postgres;
    let pool = t.pool::<DB>(1).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE jobs (id BIGINT PRIMARY KEY, owner_id BIGINT NOT NULL, state TEXT NOT NULL)",
        // Owner 1 has many finished jobs and one active; owner 2 two finished ones.
        "INSERT INTO jobs (id, owner_id, state) VALUES (1, 1, 'done'), (2, 1, 'done'), (3, 1, 'active'), \
         (4, 2, 'done'), (5, 2, 'done')",
    ] {
        DB::exec(&mut conn, sql).await;
    }
    let model = if pg {
        Job::definition()
    } else {
        JobLite::definition()
    };
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &[model], options).await.unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    let listing = if pg {
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'jobs'::regclass \
         AND NOT indisprimary ORDER BY 1"
    } else {
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND sql IS NOT NULL ORDER BY 1"
    };
    let built = DB::text_rows(&mut conn, listing.to_string()).await;
    if pg {
        assert_eq!(
            built,
            [
                "CREATE INDEX jobs_id_brin ON public.jobs USING brin (id) WITH (pages_per_range='16', autosummarize='on')",
                "CREATE INDEX jobs_owner_cover ON public.jobs USING btree (owner_id) INCLUDE (state)",
                "CREATE INDEX jobs_state_hash ON public.jobs USING hash (state)",
                "CREATE INDEX jobs_state_prefix ON public.jobs USING btree (owner_id, state text_pattern_ops) WITH \
                 (fillfactor='70', deduplicate_items=off)",
                "CREATE UNIQUE INDEX jobs_active_owner ON public.jobs USING btree (owner_id) WHERE (state = 'active'::text)",
            ]
        );
    } else {
        assert_eq!(
            built,
            ["CREATE UNIQUE INDEX `jobs_active_owner` ON `jobs` (`owner_id`) WHERE (`state` = 'active')"]
        );
    }
    // A second active job of owner 1 is refused; another finished one is not.
    let insert =
        |id: i64, state: &str| format!("INSERT INTO jobs (id, owner_id, state) VALUES ({id}, 1, '{state}')");
    assert!(
        DB::execute(&mut conn, insert(6, "active"), Default::default())
            .await
            .is_err()
    );
    DB::exec(&mut conn, &insert(7, "done")).await;
    // Down (dropped) and up again (built again, the same).
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    assert!(DB::text_rows(&mut conn, listing.to_string()).await.is_empty());
    r.up(Some(Phase::Contract), None).await.unwrap();
    assert_eq!(DB::text_rows(&mut conn, listing.to_string()).await, built);
    r.close().await.unwrap();

    // Where the rows it covers repeat, the partial unique index is refused before it is
    // built, naming the values.
    r = Runner::<DB>::connect(
        &t.url,
        &[model],
        RunnerOptions {
            progress: ProgressMode::Off,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for _ in Phase::ALL {
        r.down(None, None).await.unwrap();
    }
    DB::exec(&mut conn, &insert(8, "active")).await;
    let err = r.up(Some(Phase::Contract), None).await.unwrap_err();
    assert!(matches!(err, straddle::Error::Refused { .. }), "{err}");
    assert!(
        DB::text_rows(&mut conn, listing.to_string()).await.is_empty(),
        "a refused build left an index"
    );
    r.close().await.unwrap();
}
