//! `straddle.toml`: per-project defaults for the command line's settings.
//!
//! ```toml
//! # straddle.toml, beside Cargo.toml
//! lock_timeout_ms = 500
//! wait_for_fleet = "10m"
//! max_rows_per_sec = 20000
//! targets = "shards.toml"   # the databases to migrate together (see `--targets`)
//! parallel = 8
//! max_replica_lag = "1s"     # or "off"; also max_replica_lag_bytes, max_load, max_flow_ctl,
//!                             # max_cluster_stall, galera_rsu, throttle_give_up
//! ```
//!
//! A setting there is used when neither its flag nor its `STRADDLE_…` variable is given
//! (flags win over the environment, the environment over the file). The safety overrides
//! (`--ignore-fleet`, `--ahead-of-code`, `--allow-data-loss`) cannot be set there. An
//! unknown key or a malformed file is an error, not ignored.

use super::{Cli, Command, duration_arg};
use clap::parser::ValueSource;
use std::path::{Path, PathBuf};

/// The file's name.
pub const FILE_NAME: &str = "straddle.toml";

/// What `straddle.toml` may set.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectConfig {
    lock_timeout_ms: Option<u64>,
    ddl_attempts: Option<u32>,
    wait_for_runner_secs: Option<u64>,
    reconnect_within_secs: Option<u64>,
    wait_for_fleet: Option<String>,
    refresh_within: Option<String>,
    batch_time_ms: Option<u64>,
    batch_size: Option<u64>,
    max_rows_per_sec: Option<u64>,
    pause_ms: Option<u64>,
    /// The targets file, relative to `straddle.toml`.
    targets: Option<PathBuf>,
    parallel: Option<usize>,
    max_replica_lag: Option<String>,
    max_replica_lag_bytes: Option<u64>,
    max_load: Option<toml::Value>,
    max_flow_ctl: Option<toml::Value>,
    max_cluster_stall: Option<String>,
    galera_rsu: Option<bool>,
    throttle_give_up: Option<String>,
    #[serde(skip)]
    path: PathBuf,
}

impl ProjectConfig {
    /// The project's `straddle.toml`: at the root of the crate the migrator embeds
    /// `migrations/` from, else in the current directory or the nearest one above it
    /// (stopping at the first crate root).
    pub(crate) fn find(embedded: Option<&crate::Migrations>) -> Result<Option<ProjectConfig>, String> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(root) = embedded.and_then(|m| m.folder()).and_then(Path::parent) {
            candidates.push(root.join(FILE_NAME));
        }
        if let Ok(cwd) = std::env::current_dir() {
            for dir in cwd.ancestors() {
                candidates.push(dir.join(FILE_NAME));
                if dir.join("Cargo.toml").is_file() {
                    break;
                }
            }
        }
        let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
            return Ok(None);
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut config: ProjectConfig =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        config.path = path;
        Ok(Some(config))
    }

    /// Fill the settings the command line left at their defaults.
    pub(crate) fn apply_to(&self, cli: &mut Cli, matches: &clap::ArgMatches) -> Result<(), String> {
        let defaulted = |id: &str| matches.value_source(id) == Some(ValueSource::DefaultValue);
        let duration = |key: &str, text: &str| {
            duration_arg(text).map_err(|e| format!("{}: `{key}`: {e}", self.path.display()))
        };
        if let Some(v) = self.lock_timeout_ms.filter(|_| defaulted("lock_timeout_ms")) {
            cli.lock_timeout_ms = v;
        }
        if let Some(v) = self.ddl_attempts.filter(|_| defaulted("ddl_attempts")) {
            cli.ddl_attempts = v;
        }
        if let Some(v) = self
            .wait_for_runner_secs
            .filter(|_| defaulted("wait_for_runner_secs"))
        {
            cli.wait_for_runner_secs = v;
        }
        if let Some(v) = self
            .reconnect_within_secs
            .filter(|_| defaulted("reconnect_within_secs"))
        {
            cli.reconnect_within_secs = v;
        }
        if let Some(v) = self
            .wait_for_fleet
            .as_deref()
            .filter(|_| defaulted("wait_for_fleet"))
        {
            cli.wait_for_fleet = duration("wait_for_fleet", v)?;
        }
        if let Some(v) = self
            .refresh_within
            .as_deref()
            .filter(|_| defaulted("refresh_within"))
        {
            cli.refresh_within = duration("refresh_within", v)?;
        }
        if let Some(v) = self.parallel.filter(|_| defaulted("parallel")) {
            cli.parallel = v;
        }
        if let Some(v) = self
            .max_replica_lag
            .as_deref()
            .filter(|_| defaulted("max_replica_lag"))
        {
            cli.max_replica_lag = super::limit_arg(v)
                .map_err(|e| format!("{}: `max_replica_lag`: {e}", self.path.display()))?;
        }
        if cli.max_replica_lag_bytes.is_none() {
            cli.max_replica_lag_bytes = self.max_replica_lag_bytes;
        }
        if let Some(v) = self.max_load.as_ref().filter(|_| defaulted("max_load")) {
            cli.max_load = super::load_arg(&count_or_off(v))
                .map_err(|e| format!("{}: `max_load`: {e}", self.path.display()))?;
        }
        if let Some(v) = self
            .max_flow_ctl
            .as_ref()
            .filter(|_| defaulted("max_flow_control"))
        {
            cli.max_flow_control = super::percent_arg(&count_or_off(v))
                .map_err(|e| format!("{}: `max_flow_ctl`: {e}", self.path.display()))?;
        }
        if let Some(v) = self.galera_rsu.filter(|_| defaulted("galera_rsu")) {
            cli.galera_rsu = v;
        }
        if let Some(v) = self
            .max_cluster_stall
            .as_deref()
            .filter(|_| defaulted("max_cluster_stall"))
        {
            cli.max_cluster_stall = super::limit_arg(v)
                .map_err(|e| format!("{}: `max_cluster_stall`: {e}", self.path.display()))?;
        }
        if let Some(v) = self
            .throttle_give_up
            .as_deref()
            .filter(|_| defaulted("throttle_give_up"))
        {
            cli.throttle_give_up = duration("throttle_give_up", v)?;
        }
        // Databases named on the command line or in the environment replace the file's.
        if cli.targets.is_none()
            && cli.database_url.is_empty()
            && let Some(file) = &self.targets
        {
            cli.targets = Some(self.path.parent().unwrap_or(Path::new(".")).join(file));
        }
        // Pacing has no default of its own: a flag or variable left unset is `None`.
        if let Command::Up { pacing, .. }
        | Command::Backfill { pacing, .. }
        | Command::Contract { pacing, .. } = &mut cli.command
        {
            pacing.batch_time_ms = pacing.batch_time_ms.or(self.batch_time_ms);
            pacing.batch_size = pacing.batch_size.or(self.batch_size);
            pacing.max_rows_per_sec = pacing.max_rows_per_sec.or(self.max_rows_per_sec);
            pacing.pause_ms = pacing.pause_ms.or(self.pause_ms);
        }
        Ok(())
    }
}

/// A setting given as a number or as `"off"`, as the flag's text.
fn count_or_off(v: &toml::Value) -> String {
    match v {
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
