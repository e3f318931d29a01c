//! A model of more than twelve fields: the derive hands its fields to the runtime as
//! nested tuples of references (at most twelve to a tuple), and every field must still be
//! bound to its own column, in declaration order, on every engine. Each field holds a
//! value no other field holds, so a field bound to another's column shows as a changed
//! row read back.

use straddle::{Db, Model};
use straddle_tests::{TestBackend, TestDb};

/// 29 columns: the key and 28 of five types (three levels of nesting would start at 145).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "wide_rows")]
pub struct WideRow {
    #[straddle(primary_key)]
    pub id: i64,
    pub c1: String,
    pub c2: Option<String>,
    pub c3: bool,
    pub c4: i32,
    pub c5: i64,
    pub c6: String,
    pub c7: Option<String>,
    pub c8: bool,
    pub c9: i32,
    pub c10: i64,
    pub c11: String,
    pub c12: Option<String>,
    pub c13: bool,
    pub c14: i32,
    pub c15: i64,
    pub c16: String,
    pub c17: Option<String>,
    pub c18: bool,
    pub c19: i32,
    pub c20: i64,
    pub c21: String,
    pub c22: Option<String>,
    pub c23: bool,
    pub c24: i32,
    pub c25: i64,
    pub c26: String,
    pub c27: Option<String>,
    pub c28: bool,
}

fn first(id: i64) -> WideRow {
    WideRow {
        id,
        c1: "1-1".to_string(),
        c2: None,
        c3: false,
        c4: 100 + 4,
        c5: id * 1_000 + 5,
        c6: "1-6".to_string(),
        c7: Some("1-7".to_string()),
        c8: true,
        c9: 100 + 9,
        c10: id * 1_000 + 10,
        c11: "1-11".to_string(),
        c12: None,
        c13: false,
        c14: 100 + 14,
        c15: id * 1_000 + 15,
        c16: "1-16".to_string(),
        c17: Some("1-17".to_string()),
        c18: true,
        c19: 100 + 19,
        c20: id * 1_000 + 20,
        c21: "1-21".to_string(),
        c22: None,
        c23: false,
        c24: 100 + 24,
        c25: id * 1_000 + 25,
        c26: "1-26".to_string(),
        c27: Some("1-27".to_string()),
        c28: true,
    }
}

fn second(id: i64) -> WideRow {
    WideRow {
        id,
        c1: "2-1".to_string(),
        c2: Some("2-2".to_string()),
        c3: true,
        c4: 200 + 4,
        c5: 2_000 + 5,
        c6: "2-6".to_string(),
        c7: None,
        c8: false,
        c9: 200 + 9,
        c10: 2_000 + 10,
        c11: "2-11".to_string(),
        c12: Some("2-12".to_string()),
        c13: true,
        c14: 200 + 14,
        c15: 2_000 + 15,
        c16: "2-16".to_string(),
        c17: None,
        c18: false,
        c19: 200 + 19,
        c20: 2_000 + 20,
        c21: "2-21".to_string(),
        c22: Some("2-22".to_string()),
        c23: true,
        c24: 200 + 24,
        c25: 2_000 + 25,
        c26: "2-26".to_string(),
        c27: None,
        c28: false,
    }
}

async fn wide_model<DB: TestBackend>(t: &TestDb)
where
    WideRow: for<'r> sqlx::FromRow<'r, DB::Row> + straddle::BindFields<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let pool = t.pool::<DB>(2).await;
    let mut conn = pool.acquire().await.unwrap();
    DB::exec(
        &mut conn,
        &straddle_tests::base_table_sql(WideRow::definition(), DB::DIALECT),
    )
    .await;
    drop(conn);
    let db = Db::new(pool).await.unwrap();
    for id in 1..=3 {
        db.insert(&first(id)).await.unwrap();
    }
    for id in 1..=3 {
        assert_eq!(
            db.find::<WideRow, _>(id).await.unwrap(),
            Some(first(id)),
            "row {id} as inserted"
        );
    }
    assert_eq!(db.update(&second(2)).await.unwrap(), 1);
    assert_eq!(
        db.find::<WideRow, _>(2).await.unwrap(),
        Some(second(2)),
        "row 2 as updated"
    );
    assert_eq!(
        db.find::<WideRow, _>(3).await.unwrap(),
        Some(first(3)),
        "row 3 untouched"
    );
    assert_eq!(db.delete(&second(2)).await.unwrap(), 1);
    assert_eq!(db.fetch_all::<WideRow>().await.unwrap().len(), 2);
}

straddle_tests::per_dialect!(wide_model);
