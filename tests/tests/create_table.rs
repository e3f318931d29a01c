//! A table new in this rollout (`created(...)`), on PostgreSQL, MariaDB and SQLite:
//! before expand the generated code reads nothing and refuses to write, saying why;
//! readers keep running while expand creates the table; afterwards the table equals a
//! hand-written one; reverting expand refuses while the table holds rows (nothing lost)
//! and drops it once empty.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use straddle::{ApplyOptions, BindFields, Db, Direction, Model, Phase};
use straddle_tests::models::Note;
use straddle_tests::{TestBackend, TestDb, final_table_sql};

async fn create<DB: TestBackend>(t: &TestDb)
where
    Note: for<'r> sqlx::FromRow<'r, DB::Row> + BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(4).await;
    let db = Db::new(pool.clone()).await.unwrap();
    let note = Note {
        id: 1,
        body: "first".into(),
        tag: None,
    };
    // Before expand: nothing to read, a clear refusal to write.
    assert_eq!(db.fetch_all::<Note>().await.unwrap(), vec![]);
    assert_eq!(db.find::<Note, _>(1).await.unwrap(), None);
    let refused = db.insert(&note).await.unwrap_err().to_string();
    assert!(
        refused.contains("does not exist yet") && refused.contains("expand"),
        "{refused}"
    );

    // Readers keep running while expand creates the table.
    let (reading, reads, failures) = (AtomicBool::new(true), AtomicU64::new(0), AtomicU64::new(0));
    let reader = async {
        while reading.load(Ordering::Relaxed) {
            match db.fetch_all::<Note>().await {
                Ok(_) => reads.fetch_add(1, Ordering::Relaxed),
                Err(_) => failures.fetch_add(1, Ordering::Relaxed),
            };
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let options = ApplyOptions::default();
    let migrate = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut conn = pool.acquire().await.unwrap();
        straddle::apply_phase::<DB>(
            &mut conn,
            Note::definition(),
            "notes",
            Phase::Expand,
            Direction::Up,
            &options,
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await; // past the snapshot's staleness
        reading.store(false, Ordering::Relaxed);
    };
    tokio::join!(reader, migrate);
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "a read failed while the table was created"
    );
    assert!(reads.load(Ordering::Relaxed) > 10);

    db.insert(&note).await.unwrap();
    assert_eq!(db.find::<Note, _>(1).await.unwrap(), Some(note.clone()));

    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &final_table_sql(Note::definition(), DB::DIALECT, "reference"),
    )
    .await;
    assert_eq!(
        DB::catalog(&mut conn, "notes").await,
        DB::catalog(&mut conn, "reference").await
    );

    // Reverting expand: refused while rows exist, then the table goes.
    let down = straddle::apply_phase::<DB>(
        &mut conn,
        Note::definition(),
        "notes",
        Phase::Expand,
        Direction::Down,
        &options,
    )
    .await;
    match down.unwrap_err() {
        straddle::Error::Refused { count, step, .. } => assert_eq!((count, step.as_str()), (1, "drop-table")),
        other => panic!("expected a refusal, got {other}"),
    }
    assert_eq!(
        db.fetch_all::<Note>().await.unwrap(),
        vec![note.clone()],
        "nothing lost"
    );
    db.delete(&note).await.unwrap();
    straddle::apply_phase::<DB>(
        &mut conn,
        Note::definition(),
        "notes",
        Phase::Expand,
        Direction::Down,
        &options,
    )
    .await
    .unwrap();
    db.refresh().await.unwrap();
    assert!(!db.snapshot().has_table("notes"));
    assert_eq!(DB::leftovers(&mut conn).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("create_table").await {
        create::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("create_table").await {
        create::<sqlx::MySql>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(t) = TestDb::sqlite("create_table").await {
        create::<sqlx::Sqlite>(&t).await;
    }
}
