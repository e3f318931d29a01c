//! Application instances as real processes (`fleet-app`), for the fleet tests: started
//! per release, stopped cleanly (stdin closed: they deregister and report) or killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// How an instance keeps its registration (milliseconds).
#[derive(Clone, Copy, Debug)]
pub struct Beat {
    pub heartbeat_ms: u64,
    pub missed: u32,
    pub poll_ms: u64,
}

impl Beat {
    /// Fast enough for tests: a heartbeat every 500 ms, gone after 2 s, polling every 200 ms.
    pub const QUICK: Beat = Beat {
        heartbeat_ms: 500,
        missed: 4,
        poll_ms: 200,
    };
}

/// A running instance.
pub struct App {
    pub application: String,
    pub instance: String,
    pub pid: u32,
    child: Child,
    report: PathBuf,
    _dir: tempfile::TempDir,
}

/// What an instance did, reported when it stopped cleanly.
#[derive(Debug)]
pub struct Report {
    pub application: String,
    pub ops: u64,
    pub failure_count: u64,
    pub failures: Vec<String>,
    /// The value it last wrote to each row it owns.
    pub rows: BTreeMap<i64, String>,
}

impl App {
    /// Start one instance of `release` (`bin`: the `fleet-app` executable, which only a test
    /// target can name) writing rows from `first_id` on; returns once it has registered.
    pub fn start(bin: &str, url: &str, release: &str, application: &str, first_id: i64, beat: Beat) -> App {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let mut child = Command::new(bin)
            .args([
                url,
                release,
                application,
                &first_id.to_string(),
                report.to_str().unwrap(),
                &beat.heartbeat_ms.to_string(),
                &beat.missed.to_string(),
                &beat.poll_ms.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fleet-app");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let instance = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("{application} did not start: {line:?}"))
            .to_string();
        assert_ne!(instance, "unregistered", "{application} could not register");
        App {
            application: application.to_string(),
            instance,
            pid: child.id(),
            child,
            report,
            _dir: dir,
        }
    }

    /// Shut it down cleanly (it deregisters) and read its report.
    pub fn stop(mut self) -> Report {
        drop(self.child.stdin.take());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", self.application);
        let text = std::fs::read_to_string(&self.report).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        Report {
            application: self.application.clone(),
            ops: v["ops"].as_u64().unwrap(),
            failure_count: v["failure_count"].as_u64().unwrap(),
            failures: v["failures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect(),
            rows: v["rows"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_str().unwrap().to_string()))
                .collect(),
        }
    }

    /// SIGKILL: no deregistration, no report.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
