//! The application side of the fleet: a [`crate::Db`] registers itself (who it is, its
//! models' declarations, the schema generation it has read), then a background task —
//! off the request path — polls the schema generation (a one-row read, every second by
//! default), re-reads the schema and acknowledges when it moves, and sends a heartbeat
//! (a one-row write, every five seconds by default). Dropping the last clone of the `Db`
//! (or [`crate::Db::close`]) deregisters it; a killed process stops heart-beating and
//! expires after `missed_heartbeats` intervals.

use super::registry;
use crate::backend::Backend;
use crate::db::SnapshotCell;
use sqlx::Pool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use straddle_core::Model;
use straddle_core::render::fleet as sql;
use tokio::sync::watch;

/// How a [`crate::Db`] takes part in the fleet registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// The application's name in `status` and refusals (default: `STRADDLE_APPLICATION`,
    /// else the executable's name).
    pub application: Option<String>,
    /// How often it writes its heartbeat (default 5 s: 12 writes a minute).
    pub heartbeat_every: Duration,
    /// After this many heartbeats missed, it counts as gone (default 6: 30 s).
    pub missed_heartbeats: u32,
    /// How often it reads the schema generation, i.e. how soon it acknowledges a schema
    /// change the runner waits on (default 1 s).
    pub poll_every: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            application: None,
            heartbeat_every: Duration::from_secs(5),
            missed_heartbeats: 6,
            poll_every: Duration::from_secs(1),
        }
    }
}

/// Who this instance is, as registered.
struct Identity {
    id: String,
    application: String,
    host: String,
    pid: i64,
    /// The name its connections carry (PostgreSQL).
    tag: String,
    release: String,
    declares: String,
    models: String,
    heartbeat_every: Duration,
    expires_after: Duration,
}

/// A running registration: dropped with the last clone of its `Db`, which stops the
/// background task (it then deregisters).
pub(crate) struct Registration {
    pub(crate) id: String,
    pub(crate) release: String,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Registration {
    /// Stop the background task and wait (briefly) for it to deregister.
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().expect("registration lock").take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn application_name(options: &RegistryOptions) -> String {
    options
        .application
        .clone()
        .or_else(|| std::env::var("STRADDLE_APPLICATION").ok())
        .or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "app".into())
}

/// The generation to register with: read *before* the snapshot is taken, so that the
/// snapshot is at least as new as what the instance acknowledges.
pub(crate) async fn generation_before_probe<DB: Backend>(pool: &Pool<DB>) -> i64 {
    match pool.acquire().await {
        Ok(mut conn) => registry::generation::<DB>(&mut conn).await.unwrap_or(0),
        Err(_) => 0,
    }
}

/// Register and start the background task.
pub(crate) async fn start<DB: Backend>(
    pool: Pool<DB>,
    cell: SnapshotCell,
    models: &[&'static Model],
    options: &RegistryOptions,
    generation: i64,
) -> Arc<Registration> {
    let owned: Vec<Model> = models.iter().map(|m| (*m).clone()).collect();
    let (models_json, release) = straddle_core::fleet::release(models);
    let declares =
        serde_json::to_string(&straddle_core::fleet::declares(&owned)).expect("declarations serialize");
    let application = application_name(options);
    let identity = Identity {
        id: format!("{:016x}", rand::random::<u64>()),
        host: crate::runner::hostname(),
        pid: std::process::id() as i64,
        tag: DB::tag_pool(&pool, &application),
        release: release.clone(),
        declares,
        models: models_json,
        heartbeat_every: options.heartbeat_every.max(Duration::from_millis(50)),
        expires_after: options.heartbeat_every * options.missed_heartbeats.max(2),
        application: application.clone(),
    };
    let registered = match register::<DB>(&pool, &identity, generation).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                error = %e,
                "this instance could not register in the fleet registry ({}): the runner cannot see it until it does \
                 (retried with every heartbeat)",
                sql::INSTANCES
            );
            false
        }
    };
    let (stop, stopped) = watch::channel(false);
    let id = identity.id.clone();
    let task = tokio::spawn(run::<DB>(
        pool,
        cell,
        identity,
        options.poll_every,
        generation,
        registered,
        stopped,
    ));
    Arc::new(Registration {
        id,
        release,
        stop,
        task: Mutex::new(Some(task)),
    })
}

/// Insert the instance's row (creating the registry where it is missing).
async fn register<DB: Backend>(pool: &Pool<DB>, who: &Identity, generation: i64) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // The connection may predate the pool's new name: give it the name too.
    if let Some(tag_sql) = sql::tag_session_sql(DB::DIALECT) {
        let mut args = DB::Arguments::default();
        DB::bind_key(&mut args, &crate::Key::Text(who.tag.clone())).map_err(sqlx::Error::Encode)?;
        DB::execute(&mut conn, tag_sql.to_string(), args).await?;
    }
    let insert = |generation: i64| {
        let mut args = DB::Arguments::default();
        let mut text = |s: &str| DB::bind_key(&mut args, &crate::Key::Text(s.to_string()));
        text(&who.id)?;
        text(&who.application)?;
        text(&who.host)?;
        DB::bind_i64(&mut args, who.pid)?;
        let mut text = |s: &str| DB::bind_key(&mut args, &crate::Key::Text(s.to_string()));
        text(&who.tag)?;
        text(&who.release)?;
        text(&who.declares)?;
        text(&who.models)?;
        DB::bind_i64(&mut args, who.heartbeat_every.as_millis() as i64)?;
        DB::bind_i64(&mut args, who.expires_after.as_millis() as i64)?;
        DB::bind_i64(&mut args, generation)?;
        Ok::<_, sqlx::error::BoxDynError>(args)
    };
    let args = insert(generation).map_err(sqlx::Error::Encode)?;
    match DB::execute(&mut conn, sql::register_sql(DB::DIALECT), args).await {
        Ok(_) => {}
        Err(sqlx::Error::Database(e))
            if straddle_core::render::is_undefined_table(DB::DIALECT, e.code().as_deref(), e.message()) =>
        {
            registry::create::<DB>(&mut conn).await?;
            let args = insert(generation).map_err(sqlx::Error::Encode)?;
            DB::execute(&mut conn, sql::register_sql(DB::DIALECT), args).await?;
        }
        // Registered before (a heartbeat found no row only because nothing changed in it).
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {}
        Err(e) => return Err(e),
    }
    // Keep the registry small: rows of instances gone for over an hour.
    let mut args = DB::Arguments::default();
    DB::bind_i64(&mut args, 3_600_000).map_err(sqlx::Error::Encode)?;
    let _ = DB::execute(&mut conn, sql::purge_sql(DB::DIALECT), args).await;
    Ok(())
}

/// One heartbeat (acknowledging `seen`); whether the row was there.
async fn heartbeat<DB: Backend>(pool: &Pool<DB>, id: &str, seen: i64) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut args = DB::Arguments::default();
    DB::bind_i64(&mut args, seen).map_err(sqlx::Error::Encode)?;
    DB::bind_key(&mut args, &crate::Key::Text(id.to_string())).map_err(sqlx::Error::Encode)?;
    Ok(DB::execute(&mut conn, sql::heartbeat_sql(DB::DIALECT), args).await? > 0)
}

async fn deregister<DB: Backend>(pool: &Pool<DB>, id: &str) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let mut args = DB::Arguments::default();
    DB::bind_key(&mut args, &crate::Key::Text(id.to_string())).map_err(sqlx::Error::Encode)?;
    DB::execute(&mut conn, sql::deregister_sql(DB::DIALECT), args).await?;
    Ok(())
}

/// The background task: poll, re-read and acknowledge, heartbeat; deregister when told
/// to stop.
async fn run<DB: Backend>(
    pool: Pool<DB>,
    cell: SnapshotCell,
    who: Identity,
    poll_every: Duration,
    mut seen: i64,
    mut registered: bool,
    mut stopped: watch::Receiver<bool>,
) {
    let tick_every = poll_every.min(who.heartbeat_every).max(Duration::from_millis(10));
    let (mut last_beat, mut last_poll) = (Instant::now(), Instant::now());
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            _ = tokio::time::sleep(tick_every) => {}
        }
        let tick = async {
            if !registered {
                // Retried at the heartbeat's pace, not the poll's.
                if last_beat.elapsed() + Duration::from_millis(5) < who.heartbeat_every {
                    return Ok(());
                }
                last_beat = Instant::now();
                let g = generation_before_probe::<DB>(&pool).await;
                crate::db::reprobe::<DB>(&pool, &cell).await?;
                register::<DB>(&pool, &who, g).await?;
                (registered, seen, last_beat, last_poll) = (true, g, Instant::now(), Instant::now());
                return Ok(());
            }
            let mut moved = false;
            if last_poll.elapsed() + Duration::from_millis(5) >= poll_every {
                last_poll = Instant::now();
                let g = {
                    let mut conn = pool.acquire().await?;
                    registry::generation::<DB>(&mut conn).await?
                };
                if g > seen {
                    crate::db::reprobe::<DB>(&pool, &cell).await?;
                    seen = g;
                    moved = true;
                }
            }
            if moved || last_beat.elapsed() + Duration::from_millis(5) >= who.heartbeat_every {
                // No row: purged after expiring (a long pause) — register again next tick.
                registered = heartbeat::<DB>(&pool, &who.id, seen).await?;
                last_beat = Instant::now();
            }
            Ok::<(), sqlx::Error>(())
        };
        match tick.await {
            Ok(()) => failing = false,
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, instance = who.id, "fleet registry heartbeat failed (retrying)");
                }
                failing = true;
            }
        }
    }
    if let Err(e) = deregister::<DB>(&pool, &who.id).await {
        tracing::debug!(error = %e, instance = who.id, "could not deregister (the row expires)");
    }
}
