//! The few primitives Straddle needs from each engine, implemented once per sqlx
//! database type; everything else is generic over [`Backend`].

use crate::snapshot::Snapshot;
use futures::future::BoxFuture;
use sqlx::{Database, FromRow};
use straddle_core::Dialect;

/// A backfill key value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    /// An integer key.
    Int(i64),
    /// A text key.
    Text(String),
    /// A composite key's values, in key order (bound one after the other).
    Tuple(Vec<Key>),
}

impl Key {
    /// A composite key from its JSON array (as the upper-key queries and the checkpoint
    /// hold it): integers as `Int`, strings as `Text`.
    pub fn from_json(text: &str) -> Option<Key> {
        let values: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
        values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::Number(n) => n.as_i64().map(Key::Int),
                serde_json::Value::String(s) => Some(Key::Text(s)),
                _ => None,
            })
            .collect::<Option<Vec<Key>>>()
            .map(Key::Tuple)
    }

    /// As text: the value, or a composite key's JSON array.
    pub fn text(&self) -> String {
        match self {
            Key::Int(i) => i.to_string(),
            Key::Text(s) => s.clone(),
            Key::Tuple(values) => serde_json::Value::Array(
                values
                    .iter()
                    .map(|k| match k {
                        Key::Int(i) => serde_json::Value::from(*i),
                        other => serde_json::Value::from(other.text()),
                    })
                    .collect(),
            )
            .to_string(),
        }
    }
}

/// A backfill checkpoint: (last key, rows done).
pub type CheckpointRow = (Option<String>, i64);

/// One row of the ledger, as read back.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerRow {
    /// The row's id (ledger order).
    pub id: i64,
    /// `expand`, `backfill` or `contract`.
    pub phase: String,
    /// `up` or `down`.
    pub direction: String,
    /// The step; empty for the row that marks the phase completed.
    pub step: String,
    /// The step's checksum (the phase's, on a completion row).
    pub checksum: String,
    /// `started`, `applied`, `skipped`, `completed`, `refused`, `failed`, `stopped` or `overridden`.
    pub status: String,
    /// Rows the step touched (a backfill's rows).
    pub rows_touched: i64,
    /// When the step began, in milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// When it ended, in milliseconds since the Unix epoch.
    pub finished_at_ms: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// Attempts (a step retried after lock timeouts).
    pub attempts: i64,
    /// Who ran it: `host:pid`.
    pub applied_by: String,
    /// What went wrong (a refused or failed step), or what an override overrode.
    pub error: Option<String>,
}

impl LedgerRow {
    /// A step that finished (applied, or found already applied).
    pub fn is_done_step(&self) -> bool {
        !self.step.is_empty() && (self.status == "applied" || self.status == "skipped")
    }

    /// A step that was refused, failed or stopped on request (see `error`).
    pub fn ended_badly(&self) -> bool {
        self.status == "refused" || self.status == "failed" || self.status == "stopped"
    }
}

/// A fleet registry row, as stored (see `fleet::registry::Instance`).
#[doc(hidden)]
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RegistryRow {
    pub id: String,
    pub application: String,
    pub host: String,
    pub pid: i64,
    pub client_addr: String,
    pub client_tag: String,
    pub release_id: String,
    pub declares: String,
    pub models: String,
    pub started_ms: i64,
    pub heartbeat_ms: i64,
    pub heartbeat_every_ms: i64,
    pub expires_after_ms: i64,
    pub generation_seen: i64,
    pub now_ms: i64,
}

/// A row of three texts and an integer.
pub type Text3Int = (String, String, String, i64);

/// A database engine Straddle can run against.
pub trait Backend: Database + Sized {
    /// The SQL dialect of this database.
    const DIALECT: Dialect;

    /// Run a statement; rows affected.
    fn execute<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Run a query and decode every row as `M`.
    fn fetch_all<'a, M>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Vec<M>, sqlx::Error>>
    where
        M: for<'r> FromRow<'r, Self::Row> + Send + Unpin + 'a;

    /// First column of the first row, as an integer (`None` for no row or NULL).
    fn scalar_i64<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Option<i64>, sqlx::Error>>;

    /// First column of the first row, as text.
    fn scalar_text<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Option<String>, sqlx::Error>>;

    /// A checkpoint row: (last_key, rows_done).
    fn checkpoint<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Option<CheckpointRow>, sqlx::Error>>;

    /// A one-statement backfill batch's result: (upper key, rows filled).
    fn batch_row<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
        integer_key: bool,
    ) -> BoxFuture<'a, Result<(Option<Key>, i64), sqlx::Error>>;

    /// Ledger rows (see `render::ledger::history_sql`).
    fn ledger_rows<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Vec<LedgerRow>, sqlx::Error>>;

    /// Fleet registry rows (see `render::fleet::list_sql`).
    fn registry_rows<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
    ) -> BoxFuture<'a, Result<Vec<RegistryRow>, sqlx::Error>>;

    /// Rows of (text, text, text, integer).
    fn text3_int_rows<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
    ) -> BoxFuture<'a, Result<Vec<Text3Int>, sqlx::Error>>;

    /// Text values of the first column.
    fn texts<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
    ) -> BoxFuture<'a, Result<Vec<String>, sqlx::Error>>;

    /// Forget the connection's prepared statements.
    fn forget_statements<'a>(conn: &'a mut Self::Connection) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Rows of (text, integer).
    fn texts_pairs<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        args: Self::Arguments,
    ) -> BoxFuture<'a, Result<Vec<(String, i64)>, sqlx::Error>>;

    /// Column `index` of the first row, as text (`SHOW CREATE …`).
    fn column_text<'a>(
        conn: &'a mut Self::Connection,
        sql: String,
        index: usize,
    ) -> BoxFuture<'a, Result<Option<String>, sqlx::Error>>;

    /// Bind a key value.
    fn bind_key(args: &mut Self::Arguments, key: &Key) -> Result<(), sqlx::error::BoxDynError>;

    /// Bind an integer.
    fn bind_i64(args: &mut Self::Arguments, value: i64) -> Result<(), sqlx::error::BoxDynError>;

    /// Bind an optional text value.
    fn bind_optional_text(
        args: &mut Self::Arguments,
        value: Option<String>,
    ) -> Result<(), sqlx::error::BoxDynError>;

    /// Name the pool's future connections after the application where the engine shows
    /// a connection's name to others (PostgreSQL `application_name`, unless the pool
    /// already sets one), so that `status` tells registered instances from other clients.
    /// Returns the name its connections carry (empty where the engine shows none).
    fn tag_pool(pool: &sqlx::Pool<Self>, application: &str) -> String;

    /// Read the live schema (columns, Straddle's triggers) from the catalog.
    fn probe<'a>(conn: &'a mut Self::Connection) -> BoxFuture<'a, Result<Snapshot, sqlx::Error>>;
}

#[allow(unused_macros)]
macro_rules! backend {
    ($db:ty, $dialect:expr, $tag:expr) => {
        impl Backend for $db {
            const DIALECT: Dialect = $dialect;

            fn execute<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
                Box::pin(async move {
                    Ok(sqlx::query_with(sqlx::AssertSqlSafe(sql), args)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected())
                })
            }

            fn fetch_all<'a, M>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Vec<M>, sqlx::Error>>
            where
                M: for<'r> FromRow<'r, Self::Row> + Send + Unpin + 'a,
            {
                Box::pin(async move {
                    sqlx::query_as_with::<_, M, _>(sqlx::AssertSqlSafe(sql), args)
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn scalar_i64<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Option<i64>, sqlx::Error>> {
                Box::pin(async move {
                    let v: Option<Option<i64>> = sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), args)
                        .fetch_optional(&mut *conn)
                        .await?;
                    Ok(v.flatten())
                })
            }

            fn scalar_text<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Option<String>, sqlx::Error>> {
                Box::pin(async move {
                    let v: Option<Option<String>> = sqlx::query_scalar_with(sqlx::AssertSqlSafe(sql), args)
                        .fetch_optional(&mut *conn)
                        .await?;
                    Ok(v.flatten())
                })
            }

            fn checkpoint<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Option<CheckpointRow>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as_with(sqlx::AssertSqlSafe(sql), args)
                        .fetch_optional(&mut *conn)
                        .await
                })
            }

            fn batch_row<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
                integer_key: bool,
            ) -> BoxFuture<'a, Result<(Option<Key>, i64), sqlx::Error>> {
                Box::pin(async move {
                    let query = sqlx::AssertSqlSafe(sql);
                    Ok(if integer_key {
                        let (k, n): (Option<i64>, i64) = sqlx::query_as_with(query, args)
                            .fetch_one(&mut *conn)
                            .await?;
                        (k.map(Key::Int), n)
                    } else {
                        let (k, n): (Option<String>, i64) = sqlx::query_as_with(query, args)
                            .fetch_one(&mut *conn)
                            .await?;
                        (k.map(Key::Text), n)
                    })
                })
            }

            fn ledger_rows<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Vec<LedgerRow>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as_with(sqlx::AssertSqlSafe(sql), args)
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn registry_rows<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
            ) -> BoxFuture<'a, Result<Vec<RegistryRow>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn text3_int_rows<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
            ) -> BoxFuture<'a, Result<Vec<Text3Int>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn texts<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
            ) -> BoxFuture<'a, Result<Vec<String>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn forget_statements<'a>(
                conn: &'a mut Self::Connection,
            ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
                Box::pin(async move {
                    use sqlx::Connection as _;
                    conn.clear_cached_statements().await
                })
            }

            fn texts_pairs<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                args: Self::Arguments,
            ) -> BoxFuture<'a, Result<Vec<(String, i64)>, sqlx::Error>> {
                Box::pin(async move {
                    sqlx::query_as_with(sqlx::AssertSqlSafe(sql), args)
                        .fetch_all(&mut *conn)
                        .await
                })
            }

            fn column_text<'a>(
                conn: &'a mut Self::Connection,
                sql: String,
                index: usize,
            ) -> BoxFuture<'a, Result<Option<String>, sqlx::Error>> {
                Box::pin(async move {
                    use sqlx::Row as _;
                    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_optional(&mut *conn)
                        .await?;
                    row.map(|r| r.try_get::<String, usize>(index)).transpose()
                })
            }

            fn bind_key(args: &mut Self::Arguments, key: &Key) -> Result<(), sqlx::error::BoxDynError> {
                use sqlx::Arguments as _;
                match key {
                    Key::Int(i) => args.add(*i),
                    Key::Text(s) => args.add(s.clone()),
                    Key::Tuple(values) => values.iter().try_for_each(|k| Self::bind_key(args, k)),
                }
            }

            fn bind_i64(args: &mut Self::Arguments, value: i64) -> Result<(), sqlx::error::BoxDynError> {
                use sqlx::Arguments as _;
                args.add(value)
            }

            fn bind_optional_text(
                args: &mut Self::Arguments,
                value: Option<String>,
            ) -> Result<(), sqlx::error::BoxDynError> {
                use sqlx::Arguments as _;
                args.add(value)
            }

            fn tag_pool(pool: &sqlx::Pool<Self>, application: &str) -> String {
                $tag(pool, application)
            }

            fn probe<'a>(conn: &'a mut Self::Connection) -> BoxFuture<'a, Result<Snapshot, sqlx::Error>> {
                Box::pin(async move {
                    let columns: Vec<(String, String, bool, String)> =
                        sqlx::query_as(straddle_core::render::catalog_columns_sql($dialect))
                            .fetch_all(&mut *conn)
                            .await?;
                    let triggers: Vec<String> =
                        sqlx::query_scalar(straddle_core::render::catalog_triggers_sql($dialect))
                            .fetch_all(&mut *conn)
                            .await?;
                    Ok(Snapshot::from_catalog(columns, triggers))
                })
            }
        }
    };
}

/// The `application_name` a registered instance's connections carry: `straddle:<name>`,
/// within PostgreSQL's 63 bytes.
#[cfg(feature = "postgres")]
fn postgres_tag(application: &str) -> String {
    let mut tag = format!("straddle:{application}");
    while tag.len() > 63 {
        tag.pop();
    }
    tag
}

#[cfg(feature = "postgres")]
fn tag_postgres(pool: &sqlx::Pool<sqlx::Postgres>, application: &str) -> String {
    let options = pool.connect_options();
    match options.get_application_name() {
        Some(name) => name.to_string(),
        None => {
            let tag = postgres_tag(application);
            pool.set_connect_options((*options).clone().application_name(&tag));
            tag
        }
    }
}

/// Nothing to tag: the engine shows no connection names (MySQL), or no other
/// connections at all (SQLite).
#[allow(dead_code)]
fn tag_nothing<DB: sqlx::Database>(_: &sqlx::Pool<DB>, _: &str) -> String {
    String::new()
}

#[cfg(feature = "postgres")]
backend!(sqlx::Postgres, Dialect::Postgres, tag_postgres);
#[cfg(feature = "mysql")]
backend!(sqlx::MySql, Dialect::MySql, tag_nothing);
#[cfg(feature = "sqlite")]
backend!(sqlx::Sqlite, Dialect::Sqlite, tag_nothing);
