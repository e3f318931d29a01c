// A field whose type the database cannot encode or decode: the error names the model and
// the database where it is written, and the field types where it is read.

/// Not a column type.
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub cents: i64,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "invoices")]
pub struct Invoice {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type = "BIGINT")]
    pub total: Money,
}

async fn write(db: &straddle::Db<sqlx::Postgres>, invoice: &Invoice) {
    db.insert(invoice).await.unwrap();
}

async fn read(db: &straddle::Db<sqlx::Postgres>) -> Option<Invoice> {
    db.find::<Invoice, _>(1_i64).await.unwrap()
}

fn main() {
    let _ = (write, read);
}
