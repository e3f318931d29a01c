//! One runner at a time, per database (and schema): PostgreSQL's advisory lock, MySQL's
//! `GET_LOCK`, both keyed by the database/schema so that migrators of unrelated databases
//! never wait for each other; on SQLite and on MariaDB Galera (whose `GET_LOCK` holds on
//! one node only) a lease row — renewed at every step and, by a task of its own, every
//! 15 s (a backfill outlasts the lease), and released at once when its holder's process is
//! gone. On Galera, certification lets exactly one of two concurrent claims commit. The
//! holder (`host:pid:nonce`) and since when are recorded so that a runner that has to wait
//! can say who it waits for.

use super::connection::hostname;
use crate::backend::{Backend, Key};
use crate::backfill::now_ms;
use crate::error::{Error, Result};
use std::time::{Duration, Instant};
use straddle_core::Dialect;
use straddle_core::render::ledger;

const LOCK_NAME: &str = "straddle_runner";
/// How long a SQLite lease lasts without renewal.
const LEASE_TTL: Duration = Duration::from_secs(60);

/// This process's claim on the runner lock.
pub(crate) struct RunnerLock {
    /// `host:pid:nonce`.
    pub holder: String,
    /// A lease row rather than the server's lock (SQLite, Galera).
    lease: bool,
    /// Renews the lease while the runner works (aborted on release and on drop).
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RunnerLock {
    fn drop(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
    }
}

fn bind_texts<DB: Backend>(values: &[&str]) -> Result<DB::Arguments> {
    let mut args = DB::Arguments::default();
    for v in values {
        DB::bind_key(&mut args, &Key::Text(v.to_string())).map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

impl RunnerLock {
    /// `lease`: a lease row rather than the server's lock (SQLite, Galera).
    pub fn new(lease: bool) -> Self {
        RunnerLock {
            holder: format!(
                "{}:{}:{:08x}",
                hostname(),
                std::process::id(),
                rand::random::<u32>()
            ),
            lease,
            keeper: None,
        }
    }

    /// Renew the lease every quarter of its life on a connection of its own, until
    /// released: a step may take longer than the lease (a long backfill).
    pub fn keep_alive<DB: Backend>(&mut self, url: &str, masked: &str) {
        if !self.lease || self.keeper.is_some() {
            return;
        }
        let (url, masked, holder) = (url.to_string(), masked.to_string(), self.holder.clone());
        self.keeper = Some(tokio::spawn(async move {
            let lock = RunnerLock {
                holder,
                lease: true,
                keeper: None,
            };
            let mut conn: Option<DB::Connection> = None;
            loop {
                tokio::time::sleep(LEASE_TTL / 4).await;
                if conn.is_none() {
                    conn = super::connection::open::<DB>(&url, &masked).await.ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                match lock.renew::<DB>(c).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(
                            holder = lock.holder,
                            "the runner lease was taken over; no longer renewing it"
                        );
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "could not renew the runner lease; reconnecting");
                        conn = None;
                    }
                }
            }
        }));
    }

    /// Take the lock, waiting up to `wait` for another runner; `url` (masked) names the
    /// database in messages.
    pub async fn acquire<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        url: &str,
        wait: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        let mut told = false;
        loop {
            if self.try_once::<DB>(conn).await? {
                self.record::<DB>(conn).await;
                return Ok(());
            }
            let holder = Self::holder::<DB>(conn).await;
            if started.elapsed() >= wait {
                return Err(Error::Busy {
                    url: url.to_string(),
                    waited: started.elapsed(),
                    holder,
                });
            }
            if !told {
                crate::targets::label::note!(
                    "  waiting for another straddle runner on {url} to finish{}…",
                    holder.map(|h| format!(" ({h})")).unwrap_or_default()
                );
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn try_once<DB: Backend>(&self, conn: &mut DB::Connection) -> Result<bool> {
        Ok(
            match ledger::try_lock_sql(DB::DIALECT, LOCK_NAME).filter(|_| !self.lease) {
                Some(sql) => DB::scalar_i64(conn, sql, Default::default()).await?.unwrap_or(0) == 1,
                None => {
                    // A lease row, renewed at every step and by the keeper.
                    let lease = &ledger::create_sql(DB::DIALECT)[2];
                    DB::execute(conn, lease.clone(), Default::default()).await?;
                    self.break_dead_lease::<DB>(conn).await?;
                    self.renew::<DB>(conn).await?
                }
            },
        )
    }

    /// PostgreSQL, MySQL: name the holder in the lock row (best effort: the table may not
    /// exist yet — the runner records again once it made it — or a user may not write it;
    /// the lock holds anyway).
    pub async fn record<DB: Backend>(&self, conn: &mut DB::Connection) {
        if self.lease {
            return;
        }
        let result = async {
            let mut args = bind_texts::<DB>(&[LOCK_NAME, &self.holder])?;
            DB::bind_i64(&mut args, now_ms() + LEASE_TTL.as_millis() as i64).map_err(sqlx::Error::Encode)?;
            DB::execute(conn, ledger::holder_put_sql(DB::DIALECT), args).await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "could not record the runner lock's holder");
        }
    }

    /// Who holds the lock and since when, as far as recorded.
    async fn holder<DB: Backend>(conn: &mut DB::Connection) -> Option<String> {
        let args = bind_texts::<DB>(&[LOCK_NAME]).ok()?;
        let rows = DB::texts_pairs(conn, ledger::lease_holder_sql(DB::DIALECT), args)
            .await
            .ok()?;
        let (holder, expires) = rows.into_iter().next()?;
        let since = expires - LEASE_TTL.as_millis() as i64;
        let ago = (now_ms() - since).max(0) / 1000;
        Some(format!(
            "held by {holder} since {} UTC, {ago} s ago",
            clock(since)
        ))
    }

    /// A lease held by a process of this host that no longer exists (killed) is released
    /// at once instead of after its TTL.
    async fn break_dead_lease<DB: Backend>(&self, conn: &mut DB::Connection) -> Result<()> {
        let args = bind_texts::<DB>(&[LOCK_NAME])?;
        let Some((holder, _)) = DB::texts_pairs(conn, ledger::lease_holder_sql(DB::DIALECT), args)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        let mut parts = holder.split(':');
        let (host, pid) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let gone =
            host == hostname() && !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists();
        if gone && std::path::Path::new("/proc/self").exists() {
            tracing::warn!(
                holder,
                "the previous runner's process is gone; releasing its lease"
            );
            let args = bind_texts::<DB>(&[LOCK_NAME, &holder])?;
            DB::execute(conn, ledger::lease_release_sql(DB::DIALECT), args).await?;
        }
        Ok(())
    }

    /// Take or renew the lease (false: another runner holds it); the server's lock needs
    /// no renewal.
    pub async fn renew<DB: Backend>(&self, conn: &mut DB::Connection) -> Result<bool> {
        if !self.lease {
            return Ok(true);
        }
        let expires = now_ms() + LEASE_TTL.as_millis() as i64;
        if DB::DIALECT == Dialect::Sqlite {
            let mut args = bind_texts::<DB>(&[LOCK_NAME, &self.holder])?;
            DB::bind_i64(&mut args, expires).map_err(sqlx::Error::Encode)?;
            DB::bind_i64(&mut args, now_ms()).map_err(sqlx::Error::Encode)?;
            return Ok(DB::execute(conn, ledger::lease_take_sql(), args).await? == 1);
        }
        // Galera: claim the row, then read back whose it is. A claim another node's claim
        // beat in certification fails with a deadlock error: not ours.
        let claim = async {
            let mut args = bind_texts::<DB>(&[LOCK_NAME, &self.holder])?;
            DB::bind_i64(&mut args, expires).map_err(sqlx::Error::Encode)?;
            DB::execute(conn, ledger::lease_claim_insert_sql(), args).await?;
            let mut args = bind_texts::<DB>(&[&self.holder])?;
            DB::bind_i64(&mut args, expires).map_err(sqlx::Error::Encode)?;
            DB::bind_key(&mut args, &Key::Text(LOCK_NAME.into())).map_err(sqlx::Error::Encode)?;
            DB::bind_i64(&mut args, now_ms()).map_err(sqlx::Error::Encode)?;
            DB::bind_key(&mut args, &Key::Text(self.holder.clone())).map_err(sqlx::Error::Encode)?;
            DB::execute(conn, ledger::lease_claim_update_sql(), args).await?;
            Ok::<_, Error>(())
        }
        .await;
        match claim {
            Ok(()) => {}
            Err(Error::Sql(sqlx::Error::Database(e)))
                if straddle_core::render::is_lock_timeout(DB::DIALECT, e.code().as_deref(), e.message()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        }
        let args = bind_texts::<DB>(&[LOCK_NAME])?;
        let rows = DB::texts_pairs(conn, ledger::lease_holder_sql(DB::DIALECT), args).await?;
        Ok(rows.first().is_some_and(|(h, _)| *h == self.holder))
    }

    /// Release the lock.
    pub async fn release<DB: Backend>(&mut self, conn: &mut DB::Connection) -> Result<()> {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        if let Some(sql) = ledger::unlock_sql(DB::DIALECT, LOCK_NAME).filter(|_| !self.lease) {
            DB::scalar_i64(conn, sql, Default::default()).await?;
        }
        // The holder row (the SQLite lease itself), when it is still ours.
        let args = bind_texts::<DB>(&[LOCK_NAME, &self.holder])?;
        if let Err(e) = DB::execute(conn, ledger::lease_release_sql(DB::DIALECT), args).await {
            if self.lease {
                return Err(e.into());
            }
            tracing::debug!(error = %e, "could not clear the runner lock's holder");
        }
        Ok(())
    }
}

/// `HH:MM:SS` of a UTC instant in milliseconds since the epoch.
fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
