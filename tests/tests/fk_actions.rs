//! Issue 11 — foreign key options: `on_delete`, `on_update` (PostgreSQL and MariaDB) and
//! `deferrable` / `initially_deferred` (PostgreSQL), added the safe way (orphans refused,
//! `NOT VALID` → `VALIDATE`; on MariaDB in place after Straddle's own orphan check), and
//! then doing what they say against the real servers: a deleted author leaves its books
//! with no author (`set null`), a changed author key follows into its books (`cascade`), a
//! deleted book takes its reviews (`cascade`), and a deferred key is checked at commit.

use straddle::{Model, Phase, ProgressMode, Runner, RunnerOptions};
use straddle_tests::{TestBackend, TestDb};

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "books",
    dialects(postgres, mysql),
    foreign_key(
        name = "books_author",
        on(author_id),
        references = "authors(id)",
        on_delete = "set null",
        on_update = "cascade",
        mysql_unvalidated = true,
        phase = contract
    )
)]
pub struct Book {
    #[straddle(primary_key)]
    pub id: i64,
    pub author_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "reviews",
    dialects(postgres, mysql),
    foreign_key(
        name = "reviews_book",
        on(book_id),
        references = "books(id)",
        on_delete = "cascade",
        mysql_unvalidated = true,
        phase = contract
    )
)]
pub struct Review {
    #[straddle(primary_key)]
    pub id: i64,
    pub book_id: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "chapters",
    dialects(postgres),
    foreign_key(name = "chapters_book", on(book_id), references = "books(id)", initially_deferred, phase = contract)
)]
pub struct Chapter {
    #[straddle(primary_key)]
    pub id: i64,
    pub book_id: i64,
}

async fn count<DB: TestBackend>(conn: &mut DB::Connection, sql: &str) -> i64 {
    DB::text_rows(conn, format!("SELECT CAST(({sql}) AS CHAR(20))")).await[0]
        .trim()
        .parse()
        .unwrap()
}

async fn actions<DB: TestBackend>(t: &TestDb) {
    let pg = DB::DIALECT == straddle::Dialect::Postgres;
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    for sql in [
        "CREATE TABLE authors (id BIGINT PRIMARY KEY)",
        "CREATE TABLE books (id BIGINT PRIMARY KEY, author_id BIGINT NULL)",
        "CREATE TABLE reviews (id BIGINT PRIMARY KEY, book_id BIGINT NOT NULL)",
        "CREATE TABLE chapters (id BIGINT PRIMARY KEY, book_id BIGINT NOT NULL)",
        "INSERT INTO authors (id) VALUES (1), (2), (3)",
        "INSERT INTO books (id, author_id) VALUES (10, 1), (11, 1), (20, 2), (30, 3)",
        "INSERT INTO reviews (id, book_id) VALUES (100, 10), (101, 20), (102, 20), (103, 30)",
    ] {
        DB::exec(&mut conn, sql).await;
    }
    let mut models: Vec<&'static straddle::ir::Model> = vec![Book::definition(), Review::definition()];
    if pg {
        models.push(Chapter::definition());
    }
    let options = RunnerOptions {
        progress: ProgressMode::Off,
        ..Default::default()
    };
    let mut r = Runner::<DB>::connect(&t.url, &models, options).await.unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    // Down (the keys dropped) and up again: the options come back with them.
    r.down(Some(Phase::Contract), None).await.unwrap();
    r.up(Some(Phase::Contract), None).await.unwrap();
    r.close().await.unwrap();

    if pg {
        let defs = DB::text_rows(
            &mut conn,
            "SELECT conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' ORDER BY conname"
                .into(),
        )
        .await;
        assert_eq!(
            defs,
            [
                "books_author: FOREIGN KEY (author_id) REFERENCES authors(id) ON UPDATE CASCADE ON DELETE SET NULL",
                "chapters_book: FOREIGN KEY (book_id) REFERENCES books(id) DEFERRABLE INITIALLY DEFERRED",
                "reviews_book: FOREIGN KEY (book_id) REFERENCES books(id) ON DELETE CASCADE",
            ]
        );
    } else {
        let rules = DB::text_rows(
            &mut conn,
            "SELECT CAST(CONCAT(CONSTRAINT_NAME, ': ', UPDATE_RULE, '/', DELETE_RULE) AS CHAR) FROM \
             information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY CONSTRAINT_NAME"
                .into(),
        )
        .await;
        assert_eq!(
            rules,
            ["books_author: CASCADE/SET NULL", "reviews_book: RESTRICT/CASCADE"]
        );
    }

    // ON DELETE SET NULL: author 1's books stay, without an author.
    DB::exec(&mut conn, "DELETE FROM authors WHERE id = 1").await;
    assert_eq!(
        count::<DB>(&mut conn, "SELECT count(*) FROM books WHERE author_id IS NULL").await,
        2
    );
    // ON UPDATE CASCADE: author 3's key follows into its book.
    DB::exec(&mut conn, "UPDATE authors SET id = 303 WHERE id = 3").await;
    assert_eq!(
        count::<DB>(&mut conn, "SELECT author_id FROM books WHERE id = 30").await,
        303
    );
    // ON DELETE CASCADE: book 20 takes its two reviews.
    DB::exec(&mut conn, "DELETE FROM books WHERE id = 20").await;
    assert_eq!(count::<DB>(&mut conn, "SELECT count(*) FROM reviews").await, 2);
    // Still a foreign key: an orphan is refused.
    let orphan = "INSERT INTO reviews (id, book_id) VALUES (900, 999)".to_string();
    assert!(DB::execute(&mut conn, orphan, Default::default()).await.is_err());

    if pg {
        // INITIALLY DEFERRED: a chapter may come before its book within a transaction;
        // without the book, the commit fails.
        for sql in [
            "BEGIN",
            "INSERT INTO chapters (id, book_id) VALUES (1, 40)",
            "INSERT INTO books (id) VALUES (40)",
            "COMMIT",
            "BEGIN",
            "INSERT INTO chapters (id, book_id) VALUES (2, 41)",
        ] {
            DB::exec(&mut conn, sql).await;
        }
        let commit = DB::execute(&mut conn, "COMMIT".into(), Default::default()).await;
        assert!(commit.is_err(), "a chapter without its book committed");
        assert_eq!(count::<DB>(&mut conn, "SELECT count(*) FROM chapters").await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(t) = TestDb::postgres("fk_actions").await {
        actions::<sqlx::Postgres>(&t).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    if let Some(t) = TestDb::mysql("fk_actions").await {
        actions::<sqlx::MySql>(&t).await;
    }
}
