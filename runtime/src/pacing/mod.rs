//! Pacing signals: what, besides its own batch-time target, makes a backfill wait between
//! batches — PostgreSQL standby replay lag ([`standby`]), MySQL/MariaDB replica lag
//! ([`replica`]), Galera flow control ([`galera`]) and server load ([`load`]). A signal over
//! its limit holds the backfill until it clears; a signal that cannot be read holds it
//! too (it fails closed, naming the node and why), because a lag nobody can measure is
//! not known to be small. A hold longer than `give_up_after` stops the backfill with that
//! reason; it resumes from its checkpoint when run again.

mod galera;
mod load;
pub(crate) mod replica;
pub(crate) mod standby;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::targets::label::note;
use std::time::{Duration, Instant};

/// The limits the signals are held to; see the command line's flags.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalOptions {
    /// Hold while a standby replays more than this far behind (default 1.5 s, as gh-ost;
    /// `None`: standbys are not checked).
    pub max_replica_lag: Option<Duration>,
    /// Hold while a standby is more than this many bytes of WAL behind (default: no
    /// limit in bytes).
    pub max_replica_lag_bytes: Option<u64>,
    /// Standbys and replicas to measure directly, each holding the backfill when it cannot
    /// be reached. PostgreSQL hot standbys: replay lag read on the standby itself, besides
    /// what the primary reports of the standbys streaming from it. MySQL/MariaDB replicas:
    /// lag from a heartbeat row (see [`replica`]).
    pub standby_urls: Vec<String>,
    /// Hold while more than this many other statements run on the server at once
    /// (PostgreSQL: active client backends; MySQL/MariaDB: `Threads_running`; default 25,
    /// as pt-online-schema-change's `--max-load`; `None`: not checked).
    pub max_load: Option<u32>,
    /// On a Galera cluster: hold while the cluster spends more than this per cent of the
    /// time paused by flow control (default 10; `None`: not checked — node states still
    /// are).
    pub max_flow_control: Option<u32>,
    /// Stop the backfill when a hold lasts longer than this (default 1 h).
    pub give_up_after: Duration,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions {
            max_replica_lag: Some(Duration::from_millis(1500)),
            max_replica_lag_bytes: None,
            standby_urls: Vec::new(),
            max_load: Some(25),
            max_flow_control: Some(10),
            give_up_after: Duration::from_secs(3600),
        }
    }
}

/// A result of a query a signal reads: the error of a broken connection is returned (the
/// runner reconnects and resumes); any other is given back to be said as a hold reason.
pub(super) fn lost_or<T, E: Into<Error>>(r: std::result::Result<T, E>) -> Result<Result<T>> {
    match r.map_err(Into::into) {
        Err(e) if crate::runner::is_connection_lost(&e) => Err(e),
        other => Ok(other),
    }
}

/// After a step: the wait until nobody is behind it any more (standbys that have not
/// replayed it, replicas that have not applied it), so that neither the next step nor the
/// application reading from them runs ahead. The caller reads who is behind and hands it
/// to [`CatchUp::done`], which says now and then that the step is `waiting` for them,
/// gives up after `give_up_after`, and stops when asked (saying it stopped `during` the
/// wait).
pub(super) struct CatchUp<'a> {
    give_up_after: Duration,
    what: &'a str,
    waiting: &'a str,
    during: &'a str,
    started: Instant,
    told: Option<Instant>,
}

impl<'a> CatchUp<'a> {
    pub fn new(options: &SignalOptions, what: &'a str, (waiting, during): (&'a str, &'a str)) -> Self {
        CatchUp {
            give_up_after: options.give_up_after,
            what,
            waiting,
            during,
            started: Instant::now(),
            told: None,
        }
    }

    /// Whether nobody is `behind` (one line each); otherwise wait a little before the
    /// next reading.
    pub async fn done(&mut self, behind: Vec<String>) -> Result<bool> {
        if behind.is_empty() {
            return Ok(true);
        }
        let (what, waiting) = (self.what, self.waiting);
        if self.started.elapsed() >= self.give_up_after {
            return Err(Error::Throttled {
                what: what.to_string(),
                waited: self.started.elapsed(),
                why: format!("{waiting}: {}", behind.join("; ")),
            });
        }
        if self.told.is_none_or(|t| t.elapsed() >= TELL_EVERY)
            && self.started.elapsed() >= Duration::from_secs(1)
        {
            note!("  {what}: {waiting}: {}", behind.join("; "));
            self.told = Some(Instant::now());
        }
        crate::stop::check(|| format!("after {what}, {}", self.during))?;
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(false)
    }
}

/// A lag, as a person reads it: milliseconds under 10 s, seconds above.
pub(crate) fn lag_text(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 10_000 => format!("{ms} ms"),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}

/// How often a held backfill reads its signals again.
const POLL: Duration = Duration::from_millis(250);
/// How often a running backfill reads its signals (not after every batch: three catalog
/// reads per 50 ms batch would cost the backfill a few per cent).
const READ_EVERY: Duration = Duration::from_millis(200);
/// How often a held backfill says why it waits.
const TELL_EVERY: Duration = Duration::from_secs(5);

/// The signals of one backfill run, with what they remember between readings (standby
/// connections, replay positions).
pub(crate) struct Signals<DB: Backend> {
    options: SignalOptions,
    /// What is held, for messages (`the backfill of users.email`).
    what: String,
    standbys: standby::Standbys<DB>,
    replicas: replica::Replicas<DB>,
    /// The Galera cluster's flow control and node states, when the database is one.
    flow_control: Option<galera::FlowControl<DB>>,
    /// Time spent held, and each distinct reason (its first words) in order.
    pub held: Duration,
    pub reasons: Vec<String>,
    last_read: Option<Instant>,
}

impl<DB: Backend> Signals<DB> {
    pub fn new(
        options: &SignalOptions,
        cluster: Option<crate::cluster::galera::Cluster>,
        what: String,
    ) -> Self {
        Signals {
            options: options.clone(),
            what,
            standbys: standby::Standbys::new(options),
            replicas: replica::Replicas::new(options),
            flow_control: cluster.map(galera::FlowControl::new),
            held: Duration::ZERO,
            reasons: Vec::new(),
            last_read: None,
        }
    }

    /// Why the backfill should wait now (nothing: go on).
    async fn read(&mut self, conn: &mut DB::Connection) -> Result<Vec<String>> {
        let mut why = self.standbys.read(conn, &self.options).await?;
        why.extend(self.replicas.read(conn, &self.options).await?);
        if let Some(flow_control) = &mut self.flow_control {
            why.extend(
                flow_control
                    .read(self.options.max_flow_control.unwrap_or(100))
                    .await,
            );
        }
        if let Some(max) = self.options.max_load
            && let Some(reason) = load::read::<DB>(conn, max).await?
        {
            why.push(reason);
        }
        Ok(why)
    }

    /// Between batches: return at once when every signal is clear; otherwise wait until
    /// they are, saying why now and then, and stop when asked to or after `give_up_after`.
    pub async fn hold_while_needed(&mut self, conn: &mut DB::Connection) -> Result<()> {
        if self.last_read.is_some_and(|t| t.elapsed() < READ_EVERY) {
            return Ok(());
        }
        self.last_read = Some(Instant::now());
        let mut why = self.read(conn).await?;
        if why.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut told: Option<Instant> = None;
        while !why.is_empty() {
            for w in &why {
                let kind = w.split(':').next().unwrap_or(w).to_string();
                if !self.reasons.contains(&kind) {
                    self.reasons.push(kind);
                }
            }
            if told.is_none_or(|t| t.elapsed() >= TELL_EVERY) {
                let so_far = match started.elapsed() {
                    d if d < TELL_EVERY => String::new(),
                    d => format!(" ({:.0?} so far)", d),
                };
                note!("  {}: throttled{so_far}: {}", self.what, why.join("; "));
                told = Some(Instant::now());
            }
            if started.elapsed() >= self.options.give_up_after {
                self.held += started.elapsed();
                return Err(Error::Throttled {
                    what: self.what.clone(),
                    waited: started.elapsed(),
                    why: why.join("; "),
                });
            }
            crate::stop::check(|| format!("while {} was throttled", self.what))?;
            tokio::time::sleep(POLL).await;
            why = self.read(conn).await?;
        }
        self.held += started.elapsed();
        note!(
            "  {}: resumed after {:.1?} throttled",
            self.what,
            started.elapsed()
        );
        Ok(())
    }
}
