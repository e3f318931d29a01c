//! Galera flow control: a node that cannot apply write sets as fast as the cluster commits
//! them asks every node to pause (flow control), and while it does, every write on every
//! node waits — the application's included. A backfill is the bulk writer that causes it,
//! so it holds while the cluster spends more than `--max-flow-ctl` per cent of the time
//! paused (as pt-online-schema-change's `--max-flow-ctl`), read on every node the cluster
//! lists; the node with the longest receive queue is named as the one falling behind. A
//! node that cannot be reached, or is not Synced in the Primary component, holds the
//! backfill too (it fails closed).

use crate::backend::Backend;
use crate::cluster::galera::{Cluster, NodeState};
use crate::error::mask_url;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Flow control is measured over windows at least this long (a 200 ms window with one
/// 30 ms pause would read as 15 %).
const WINDOW: Duration = Duration::from_secs(1);

pub(super) struct FlowControl<DB: Backend> {
    cluster: Cluster,
    nodes: BTreeMap<String, Node<DB>>,
}

struct Node<DB: Backend> {
    conn: Option<DB::Connection>,
    /// Paused nanoseconds and when they were read, at the start of the current window.
    window_start: Option<(u64, Instant)>,
    /// The share of the last complete window spent paused, in per cent.
    paused_percent: f64,
    /// Pause messages this node had sent at the last reading, and when it last sent one:
    /// it is the node falling behind. (A node counts a message when it sends it, the
    /// cluster its paused time when the pause ends — often in a later window — so the
    /// sender is remembered for [`SENDER_MEMORY`], not per window.)
    sent: Option<u64>,
    last_sent_at: Option<Instant>,
}

/// How long a node that asked the cluster to pause is named as the cause.
const SENDER_MEMORY: Duration = Duration::from_secs(30);

impl<DB: Backend> FlowControl<DB> {
    pub fn new(cluster: Cluster) -> Self {
        FlowControl {
            cluster,
            nodes: BTreeMap::new(),
        }
    }

    /// Why the backfill should wait for the cluster (nothing: go on). The nodes measured
    /// are those there at the start and every node a reachable node lists; one that
    /// cannot be reached holds the backfill while the cluster still lists it, and not once
    /// it has left the cluster (the DDL before the next step waits for it: see
    /// `Cluster::precheck`).
    pub async fn read(&mut self, max_percent: u32) -> Vec<String> {
        let mut why = Vec::new();
        let mut measured = Vec::new();
        let mut unreachable = Vec::new();
        let mut listed: Vec<String> = Vec::new();
        let mut queue: Vec<String> = self.cluster.at_start.clone();
        queue.extend(
            self.nodes
                .keys()
                .filter(|a| !self.cluster.at_start.contains(a))
                .cloned(),
        );
        let mut i = 0;
        while i < queue.len() {
            let address = queue[i].clone();
            i += 1;
            let Some(url) = self.cluster.node_url(&address) else {
                unreachable.push((
                    address,
                    "its announced address cannot be connected to".to_string(),
                ));
                continue;
            };
            let node = self.nodes.entry(address.clone()).or_insert(Node {
                conn: None,
                window_start: None,
                paused_percent: 0.0,
                sent: None,
                last_sent_at: None,
            });
            match node.state(&url).await {
                Err(e) => unreachable.push((address, e.to_string())),
                Ok(state) => {
                    if let Some(unfit) = state.unusable() {
                        why.push(format!("galera: node {address}: {unfit}"));
                    }
                    for a in &state.addresses {
                        if !queue.contains(a) {
                            queue.push(a.clone());
                        }
                        if !listed.contains(a) {
                            listed.push(a.clone());
                        }
                    }
                    let asked = node.last_sent_at.is_some_and(|t| t.elapsed() < SENDER_MEMORY);
                    measured.push((address, state.recv_queue, node.paused_percent, asked));
                }
            }
        }
        for (address, e) in unreachable {
            if listed.is_empty() || listed.contains(&address) {
                why.push(format!("galera: node {address} cannot be measured ({e})"));
            }
        }
        let paused = measured.iter().map(|s| s.2).fold(0.0, f64::max);
        if paused > f64::from(max_percent) {
            // Who asked for the pauses; else who has the longest queue now.
            let senders: Vec<String> = measured
                .iter()
                .filter(|m| m.3)
                .map(|(a, queue, ..)| {
                    format!("node {a} asked for them (its receive queue: {queue} write sets now)")
                })
                .collect();
            let slowest = match senders.is_empty() {
                false => senders.join(", "),
                true => measured
                    .iter()
                    .max_by_key(|m| m.1)
                    .map(|(a, queue, ..)| {
                        format!("the longest receive queue is node {a}'s, {queue} write sets")
                    })
                    .unwrap_or_default(),
            };
            why.push(format!(
                "flow control: the cluster was paused {paused:.0}% of the last second (the limit is {max_percent}%, \
                 --max-flow-ctl); {slowest}"
            ));
        }
        why
    }
}

impl<DB: Backend> Node<DB> {
    /// The node's state, on a connection kept between readings; the paused share updated
    /// at the end of each window.
    async fn state(&mut self, url: &str) -> crate::error::Result<NodeState> {
        if self.conn.is_none() {
            let mut conn = crate::runner::open_connection::<DB>(url, &mask_url(url)).await?;
            // Measure now: not after the node has caught up, as the runner's reads do.
            DB::execute(
                &mut conn,
                "SET SESSION wsrep_sync_wait = 0".into(),
                Default::default(),
            )
            .await?;
            self.conn = Some(conn);
        }
        let conn = self.conn.as_mut().expect("opened");
        let state = match NodeState::read::<DB>(conn).await {
            Ok(s) => s,
            Err(e) => {
                // Open a fresh connection next time.
                self.conn = None;
                self.window_start = None;
                return Err(e.into());
            }
        };
        let now = Instant::now();
        if self.sent.is_some_and(|before| state.flow_control_sent > before) {
            self.last_sent_at = Some(now);
        }
        self.sent = Some(state.flow_control_sent);
        match self.window_start {
            Some((ns, at)) if now.duration_since(at) >= WINDOW => {
                let paused = state.flow_control_paused_ns.saturating_sub(ns) as f64;
                self.paused_percent = 100.0 * paused / now.duration_since(at).as_nanos() as f64;
                self.window_start = Some((state.flow_control_paused_ns, now));
            }
            Some(_) => {}
            None => self.window_start = Some((state.flow_control_paused_ns, now)),
        }
        Ok(state)
    }
}
