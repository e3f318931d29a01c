//! [`Db`]: a plain sqlx pool plus the schema snapshot that the generated query code
//! adapts to. Reads and writes are correct whichever shape the database has during a
//! rollout. The snapshot is re-probed on [`Db::refresh`], when an error may come from a
//! stale snapshot (an undefined column or table, a NOT NULL column a write omitted; the
//! statement is then retried with SQL for the fresh shape), and — while a model has a
//! change in flight — when it is older than the allowed staleness.
//!
//! A `Db` also registers itself in the fleet registry (see [`crate::fleet`]): the runner
//! then knows which code is running before it contracts, and waits for this instance to
//! re-read the schema where a step needs it. [`Db::builder`] says which models and
//! application name it registers with, or turns it off.

use crate::backend::Backend;
use crate::error::Result;
use crate::snapshot::Snapshot;
use crate::{BindFields, Model};
use sqlx::{Encode, FromRow, Pool, Type};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use straddle_core::query::{self, BoundSql, TableShape};

/// How old the snapshot may get, while a model it serves has a change in flight, before
/// the next query re-probes the catalog. Bounds how long this process keeps writing as
/// if expand had not run after it did (such writes omit the new column, and the sync
/// trigger fills it from the backfill expression).
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(1);

/// When the snapshot was taken, and the snapshot; shared by a `Db`'s clones and its
/// registration's background task.
pub(crate) type SnapshotCell = Arc<RwLock<(Instant, Arc<Snapshot>)>>;

/// Re-read the schema into `cell`.
pub(crate) async fn reprobe<DB: Backend>(pool: &Pool<DB>, cell: &SnapshotCell) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let fresh = DB::probe(&mut conn).await?;
    *cell.write().expect("snapshot lock poisoned") = (Instant::now(), Arc::new(fresh));
    Ok(())
}

/// A pool and its schema snapshot. Cheap to clone; clones share the snapshot and the
/// fleet registration (dropping the last clone deregisters).
pub struct Db<DB: Backend> {
    pool: Pool<DB>,
    snapshot: SnapshotCell,
    /// Held while re-probing for staleness, so concurrent queries do not all probe.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    max_staleness: Option<Duration>,
    registration: Option<Arc<crate::fleet::instance::Registration>>,
}

impl<DB: Backend> Clone for Db<DB> {
    fn clone(&self) -> Self {
        Db {
            pool: self.pool.clone(),
            snapshot: self.snapshot.clone(),
            refreshing: self.refreshing.clone(),
            max_staleness: self.max_staleness,
            registration: self.registration.clone(),
        }
    }
}

/// Builds a [`Db`]: which models its code uses, how it registers in the fleet.
pub struct DbBuilder<DB: Backend> {
    pool: Pool<DB>,
    models: Option<Vec<&'static straddle_core::Model>>,
    registry: Option<crate::fleet::RegistryOptions>,
    max_staleness: Option<Duration>,
}

impl<DB: Backend> DbBuilder<DB> {
    /// Register with this model's declaration (call once per model the code uses). Without
    /// any, every model compiled into the binary is registered.
    pub fn model<M: Model>(mut self) -> Self {
        self.models.get_or_insert_with(Vec::new).push(M::definition());
        self
    }

    /// Register with these models' declarations.
    pub fn models(mut self, models: &[&'static straddle_core::Model]) -> Self {
        self.models.get_or_insert_with(Vec::new).extend_from_slice(models);
        self
    }

    /// The application's name in `status` and in the runner's refusals (default:
    /// `STRADDLE_APPLICATION`, else the executable's name).
    pub fn application(mut self, name: impl Into<String>) -> Self {
        if let Some(r) = self.registry.as_mut() {
            r.application = Some(name.into());
        }
        self
    }

    /// How this instance keeps its registration (heartbeat, expiry, generation polling).
    pub fn registry(mut self, options: crate::fleet::RegistryOptions) -> Self {
        let application = self.registry.as_ref().and_then(|r| r.application.clone());
        self.registry = Some(crate::fleet::RegistryOptions {
            application: options.application.or(application),
            ..options
        });
        self
    }

    /// Do not register: the runner cannot see this instance, so it does not wait for it
    /// before contract nor for its schema re-reads — use it only for processes that run
    /// no application code during a rollout (tools, one-off scripts).
    pub fn without_registry(mut self) -> Self {
        self.registry = None;
        self
    }

    /// How old the snapshot may get while a change is in flight (`None`: only explicit
    /// [`Db::refresh`] calls, undefined-column errors and acknowledged refreshes re-probe).
    pub fn max_staleness(mut self, max: Option<Duration>) -> Self {
        self.max_staleness = max;
        self
    }

    /// Probe the schema and register.
    pub async fn build(self) -> Result<Db<DB>> {
        let mut db = Db {
            pool: self.pool,
            snapshot: Arc::new(RwLock::new((Instant::now(), Arc::new(Snapshot::default())))),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
            max_staleness: self.max_staleness,
            registration: None,
        };
        let Some(options) = self.registry else {
            db.refresh().await?;
            return Ok(db);
        };
        let mut models = self.models.unwrap_or_else(crate::linked_models);
        models.retain(|m| m.supports(DB::DIALECT));
        let generation = crate::fleet::instance::generation_before_probe(&db.pool).await;
        db.refresh().await?;
        db.registration = Some(
            crate::fleet::instance::start(
                db.pool.clone(),
                db.snapshot.clone(),
                &models,
                &options,
                generation,
            )
            .await,
        );
        Ok(db)
    }
}

impl<DB: Backend> Db<DB> {
    /// Wrap a pool, probing the schema once, and register in the fleet with every model
    /// compiled into the binary (see [`Db::builder`] to choose).
    pub async fn new(pool: Pool<DB>) -> Result<Self> {
        Self::builder(pool).build().await
    }

    /// A `Db` with a choice of models, application name, registry options.
    pub fn builder(pool: Pool<DB>) -> DbBuilder<DB> {
        DbBuilder {
            pool,
            models: None,
            registry: Some(crate::fleet::RegistryOptions::default()),
            max_staleness: Some(DEFAULT_MAX_STALENESS),
        }
    }

    /// Deregister from the fleet (at once: the runner need not wait for this instance to
    /// expire) and close the pool — for every clone of this `Db`.
    pub async fn close(self) {
        self.deregister().await;
        self.pool.close().await;
    }

    /// Deregister from the fleet and stop the heartbeat, leaving the pool open (for a pool
    /// shared with other code) — for every clone of this `Db`.
    pub async fn deregister(&self) {
        if let Some(r) = &self.registration {
            r.stop().await;
        }
    }

    /// This instance's id in the fleet registry (`None`: not registered).
    pub fn instance_id(&self) -> Option<&str> {
        self.registration.as_ref().map(|r| r.id.as_str())
    }

    /// The digest of the models it registered with (instances of one build share it).
    pub fn release(&self) -> Option<&str> {
        self.registration.as_ref().map(|r| r.release.as_str())
    }

    /// How old the snapshot may get while a change is in flight (`None`: only explicit
    /// [`Db::refresh`] calls and undefined-column errors re-probe).
    pub fn with_max_staleness(mut self, max: Option<Duration>) -> Self {
        self.max_staleness = max;
        self
    }

    /// The pool, for queries of your own.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Re-read the schema from the catalog.
    pub async fn refresh(&self) -> Result<()> {
        Ok(reprobe::<DB>(&self.pool, &self.snapshot).await?)
    }

    /// The schema snapshot the generated code reads by now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("snapshot lock poisoned").1.clone()
    }

    /// The snapshot to query `model` with: the current one, re-probed first when it is
    /// older than allowed and `model` declares a change (even one that looks settled: a
    /// phase may be reverted). One caller re-probes; the others go on with the snapshot
    /// they have.
    async fn current_snapshot(&self, model: &straddle_core::Model) -> Result<Arc<Snapshot>> {
        let (taken, snapshot) = self.snapshot.read().expect("snapshot lock poisoned").clone();
        let stale = self.max_staleness.is_some_and(|max| taken.elapsed() > max);
        if stale
            && model.has_changes()
            && let Ok(_guard) = self.refreshing.try_lock()
        {
            self.refresh().await?;
            return Ok(self.snapshot());
        }
        Ok(snapshot)
    }

    /// How `M`'s table exists right now, per column.
    pub fn shape<M: Model>(&self) -> Result<TableShape> {
        let model = crate::definition_for::<M>(DB::DIALECT)?;
        Ok(self.snapshot().shape(DB::DIALECT, model))
    }

    /// `SELECT <schema-tolerant list> FROM <table>` for `M`: append your own `WHERE …`
    /// and decode with `sqlx::query_as::<_, M>`.
    pub fn select_sql<M: Model>(&self) -> Result<String> {
        let model = crate::definition_for::<M>(DB::DIALECT)?;
        Ok(query::select(DB::DIALECT, model, &self.shape::<M>()?))
    }

    /// Every row of `M`'s table.
    pub async fn fetch_all<M>(&self) -> Result<Vec<M>>
    where
        M: Model + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        self.retrying::<M, _, _>(
            |_| Ok(Vec::new()),
            |shape, model| {
                let sql = query::select(DB::DIALECT, model, shape);
                async move { self.fetch::<M>(sql, || Ok(DB::Arguments::default())).await }
            },
        )
        .await
    }

    /// The row with this (single-column) primary key; a composite key's row:
    /// [`Db::find_by_key`].
    pub async fn find<M, K>(&self, key: K) -> Result<Option<M>>
    where
        M: Model + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
        K: for<'q> Encode<'q, DB> + Type<DB> + Clone + Send,
    {
        self.find_by_key::<M, _>((key,)).await
    }

    /// The row with this primary key, given as a tuple of its columns' values in the order
    /// the model declares its key fields: `db.find_by_key::<LineItem, _>((order_id, sku))`.
    /// A tuple of another length than the key is a usage error naming the key.
    pub async fn find_by_key<M, K>(&self, key: K) -> Result<Option<M>>
    where
        M: Model + for<'r> FromRow<'r, DB::Row> + Send + Unpin,
        K: crate::KeyTuple<DB>,
    {
        let model = crate::definition_for::<M>(DB::DIALECT)?;
        let columns: Vec<&str> = model.primary_key().iter().map(|c| c.field.as_str()).collect();
        if columns.len() != K::LEN {
            return Err(crate::Error::Usage(format!(
                "`{}`'s primary key is ({}): find its rows by {} value{}{}, not {}",
                model.rust_name,
                columns.join(", "),
                columns.len(),
                if columns.len() == 1 { "" } else { "s" },
                if columns.len() == 1 {
                    String::new()
                } else {
                    format!(
                        " with `find_by_key::<{}, _>(({}))`",
                        model.rust_name,
                        columns.join(", ")
                    )
                },
                K::LEN
            )));
        }
        self.retrying::<M, _, _>(
            |_| Ok(None),
            |shape, model| {
                let BoundSql { sql, .. } = query::select_by_key(DB::DIALECT, model, shape);
                let key = key.clone();
                async move {
                    let args = || {
                        let mut args = DB::Arguments::default();
                        key.bind(&mut args).map_err(sqlx::Error::Encode)?;
                        Ok(args)
                    };
                    Ok(self.fetch::<M>(sql, args).await?.into_iter().next())
                }
            },
        )
        .await
    }

    /// Insert `row`, writing every column that exists (dual-write).
    pub async fn insert<M>(&self, row: &M) -> Result<u64>
    where
        M: Model + BindFields<DB> + Sync,
    {
        self.write(row, query::insert).await
    }

    /// Insert `row` into a table whose key the database generates (`identity` on the key
    /// field; the row's own key value is not written), returning the key it gave.
    /// `RETURNING`: PostgreSQL, SQLite 3.35+, MariaDB 10.5+.
    pub async fn insert_returning_key<M>(&self, row: &M) -> Result<i64>
    where
        M: Model + BindFields<DB> + Sync,
    {
        let model = crate::definition_for::<M>(DB::DIALECT)?;
        if !model.primary_key().iter().any(|k| k.identity) {
            return Err(crate::Error::Usage(format!(
                "`{}`'s key is not generated by the database (no `identity` on it): insert it with `insert`",
                model.rust_name
            )));
        }
        self.retrying::<M, _, _>(not_created, |shape, model| {
            let BoundSql { sql, binds } = query::insert_returning_key(DB::DIALECT, model, shape);
            async move {
                let key = self.scalar(sql, || bind_fields(row, &binds)).await?;
                key.ok_or_else(|| sqlx::Error::Protocol("INSERT … RETURNING returned no key".into()))
            }
        })
        .await
    }

    /// Update `row` by primary key, writing every column that exists.
    pub async fn update<M>(&self, row: &M) -> Result<u64>
    where
        M: Model + BindFields<DB> + Sync,
    {
        self.write(row, query::update).await
    }

    /// Delete `row` by primary key.
    pub async fn delete<M>(&self, row: &M) -> Result<u64>
    where
        M: Model + BindFields<DB> + Sync,
    {
        self.write(row, query::delete).await
    }

    async fn write<M>(
        &self,
        row: &M,
        render: fn(straddle_core::Dialect, &straddle_core::Model, &TableShape) -> BoundSql,
    ) -> Result<u64>
    where
        M: Model + BindFields<DB> + Sync,
    {
        self.retrying::<M, _, _>(not_created, |shape, model| {
            let BoundSql { sql, binds } = render(DB::DIALECT, model, shape);
            async move { self.execute(sql, || bind_fields(row, &binds)).await }
        })
        .await
    }

    /// `sql` on a pooled connection, its rows decoded as `M` (see [`Db::execute`]).
    async fn fetch<M>(
        &self,
        sql: String,
        args: impl Fn() -> Result<DB::Arguments, sqlx::Error>,
    ) -> Result<Vec<M>, sqlx::Error>
    where
        M: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        crate::retry::lost_statement(|| async {
            let mut conn = self.pool.acquire().await?;
            match DB::fetch_all::<M>(&mut conn, sql.clone(), args()?).await {
                Err(sqlx::Error::Database(e)) if is_stale_plan(e.as_ref()) => {
                    DB::forget_statements(&mut conn).await?;
                    DB::fetch_all::<M>(&mut conn, sql.clone(), args()?).await
                }
                other => other,
            }
        })
        .await
    }

    /// `sql` run on a pooled connection (as [`Db::execute`]); its first column's integer.
    async fn scalar(
        &self,
        sql: String,
        args: impl Fn() -> Result<DB::Arguments, sqlx::Error>,
    ) -> Result<Option<i64>, sqlx::Error> {
        crate::retry::lost_statement(|| async {
            let mut conn = self.pool.acquire().await?;
            match DB::scalar_i64(&mut conn, sql.clone(), args()?).await {
                Err(sqlx::Error::Database(e)) if is_stale_plan(e.as_ref()) => {
                    DB::forget_statements(&mut conn).await?;
                    DB::scalar_i64(&mut conn, sql.clone(), args()?).await
                }
                other => other,
            }
        })
        .await
    }

    /// `sql` run on a pooled connection; rows affected. PostgreSQL refuses a prepared
    /// statement whose result columns changed type since it was prepared ("cached plan
    /// must not change result type": a column widened in place), and sqlx would reuse it
    /// on that connection for ever: the connection's statements are forgotten and the
    /// statement runs once more, prepared anew, on the same connection. A statement that
    /// lost a deadlock or a Galera certification conflict, or met a Galera node outside
    /// the Primary component, did nothing and runs again ([`crate::retry::lost_statement`]).
    async fn execute(
        &self,
        sql: String,
        args: impl Fn() -> Result<DB::Arguments, sqlx::Error>,
    ) -> Result<u64, sqlx::Error> {
        crate::retry::lost_statement(|| async {
            let mut conn = self.pool.acquire().await?;
            match DB::execute(&mut conn, sql.clone(), args()?).await {
                Err(sqlx::Error::Database(e)) if is_stale_plan(e.as_ref()) => {
                    DB::forget_statements(&mut conn).await?;
                    DB::execute(&mut conn, sql.clone(), args()?).await
                }
                other => other,
            }
        })
        .await
    }

    /// Run `op` with SQL for the current shape; on an error a stale snapshot may cause
    /// (see [`schema_may_have_moved`]), refresh the snapshot and run it again with SQL for
    /// the new shape — a few times, as two
    /// changes of one table may land one after the other during a single write. A
    /// retired table is refused; a table `created` in this rollout that is not there yet
    /// gets `absent` instead (reads find nothing, writes are refused).
    async fn retrying<M, T, F>(
        &self,
        absent: impl FnOnce(&straddle_core::Model) -> Result<T>,
        op: impl Fn(&TableShape, &'static straddle_core::Model) -> F,
    ) -> Result<T>
    where
        M: Model,
        F: Future<Output = Result<T, sqlx::Error>>,
    {
        const ATTEMPTS: usize = 4;
        let model = crate::definition_for::<M>(DB::DIALECT)?;
        if model.retired.is_some() {
            return Err(crate::Error::Usage(format!(
                "table `{}` is retired in this release (`{}`): the code no longer reads or writes it",
                model.table, model.rust_name
            )));
        }
        let snapshot = self.current_snapshot(model).await?;
        if model.created.is_some() && !snapshot.has_table(&model.table) {
            return absent(model);
        }
        let mut shape = snapshot.shape(DB::DIALECT, model);
        for _ in 1..ATTEMPTS {
            match op(&shape, model).await {
                Err(sqlx::Error::Database(e)) if schema_may_have_moved::<DB>(model, e.as_ref()) => {
                    tracing::debug!(error = %e, table = %model.table, "schema changed under the snapshot; re-probing");
                    self.refresh().await?;
                    let fresh = self.snapshot().shape(DB::DIALECT, model);
                    // A NOT NULL violation under an unchanged shape is the caller's own.
                    let not_null = straddle_core::render::is_not_null_violation(
                        DB::DIALECT,
                        e.code().as_deref(),
                        e.message(),
                    );
                    if not_null && fresh == shape {
                        return Err(sqlx::Error::Database(e).into());
                    }
                    shape = fresh;
                }
                other => return Ok(other?),
            }
        }
        Ok(op(&shape, model).await?)
    }
}

/// A write to a table `created` in this rollout before its expand ran.
fn not_created<T>(model: &straddle_core::Model) -> Result<T> {
    Err(crate::Error::Usage(format!(
        "table `{}` does not exist yet: it is created by the expand phase of its `created` change, which must run \
         before this release writes to it",
        model.table
    )))
}

/// "cached plan must not change result type" (PostgreSQL, SQLSTATE 0A000).
fn is_stale_plan(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code().as_deref() == Some("0A000") && e.message().contains("cached plan must not change result type")
}

/// Whether an error may come from a snapshot older than the schema: an undefined column;
/// for a renamed table, an undefined table; for a model with changes in flight, a NOT
/// NULL column left empty (a column that just became required again).
fn schema_may_have_moved<DB: Backend>(
    model: &straddle_core::Model,
    e: &dyn sqlx::error::DatabaseError,
) -> bool {
    use straddle_core::render::{is_not_null_violation, is_undefined_column, is_undefined_table};
    let (code, message) = (e.code(), e.message());
    let code = code.as_deref();
    is_undefined_column(DB::DIALECT, code, message)
        || is_stale_plan(e)
        || (model.renamed.is_some() && is_undefined_table(DB::DIALECT, code, message))
        || (model.has_changes() && is_not_null_violation(DB::DIALECT, code, message))
}

fn bind_fields<DB: Backend, M: BindFields<DB>>(
    row: &M,
    binds: &[usize],
) -> Result<DB::Arguments, sqlx::Error> {
    let mut args = DB::Arguments::default();
    for &i in binds {
        row.bind_field(i, &mut args).map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}
