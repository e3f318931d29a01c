//! MariaDB Galera: every node accepts writes, DDL runs on all nodes at once (total order
//! isolation), and a node's `GET_LOCK` is that node's alone — so the runner lock is a
//! lease row (see `runner::lock`), and the runner's session waits for the cluster before
//! it reads (`wsrep_sync_wait`), so that a migrator on one node never reads a ledger older
//! than what another node's migrator committed.
//!
//! What a node says of itself ([`NodeState`]) decides whether the runner may use it: a
//! node outside the Primary component refuses every statement (1047) or commit (1180)
//! until quorum returns, which the runner waits out as it waits out a restarting server.
//! Before each DDL step, [`Cluster::precheck`] asks every node the cluster lists: each is
//! reachable, Synced and in the Primary component, none has left since the run started,
//! and each has the same schema of the step's tables — a DDL replicated in total order
//! onto a node that differs, or while a node is away, is not the change that was planned.

use crate::backend::Backend;
use crate::error::mask_url;
use std::collections::BTreeSet;
use std::time::Duration;
use straddle_core::Dialect;

/// Whether the server is a node of a Galera cluster (`wsrep_on`).
pub(crate) async fn is_galera<DB: Backend>(conn: &mut DB::Connection) -> bool {
    DB::DIALECT == Dialect::MySql
        && matches!(
            DB::scalar_i64(
                conn,
                "SELECT CAST(@@GLOBAL.wsrep_on AS SIGNED)".into(),
                Default::default()
            )
            .await,
            Ok(Some(1))
        )
}

/// The runner session's settings on a Galera node: reads, updates, deletes and inserts
/// first wait until the node has applied everything the cluster committed before them.
pub(crate) const SESSION: &str = "SET SESSION wsrep_sync_wait = 7";

/// A node's status variables Straddle reads. (From `information_schema`, which a node
/// outside the Primary component still answers.)
const STATUS: &str = "SELECT CONCAT(VARIABLE_NAME, '=', VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS \
     WHERE VARIABLE_NAME IN ('WSREP_READY', 'WSREP_CLUSTER_STATUS', 'WSREP_LOCAL_STATE_COMMENT', \
     'WSREP_CLUSTER_SIZE', 'WSREP_INCOMING_ADDRESSES', 'WSREP_FLOW_CONTROL_PAUSED_NS', 'WSREP_LOCAL_RECV_QUEUE', \
     'WSREP_FLOW_CONTROL_SENT')";

/// What a node says of itself and of the cluster it sees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeState {
    /// `wsrep_ready`: the node accepts queries.
    pub ready: bool,
    /// `Primary`, `non-Primary` or `Disconnected`.
    pub cluster_status: String,
    /// `Synced`, `Donor/Desynced`, `Joining`, `Joined`, `Initialized`.
    pub local_state: String,
    /// Nodes in the component this node is in.
    pub cluster_size: u32,
    /// Every node's client address (`host:port`), as the nodes announce them.
    pub addresses: Vec<String>,
    /// Nanoseconds this node has been paused by flow control since it started.
    pub flow_control_paused_ns: u64,
    /// Write sets received and not yet applied.
    pub recv_queue: u64,
    /// Flow-control pause messages this node has sent since it started (it asked the
    /// cluster to wait for it).
    pub flow_control_sent: u64,
}

impl NodeState {
    /// Read the node's status.
    pub async fn read<DB: Backend>(conn: &mut DB::Connection) -> Result<NodeState, sqlx::Error> {
        Ok(Self::parse(&DB::texts(conn, STATUS.into()).await?))
    }

    fn parse(rows: &[String]) -> NodeState {
        let mut s = NodeState::default();
        for row in rows {
            let Some((name, value)) = row.split_once('=') else {
                continue;
            };
            match name.to_ascii_uppercase().as_str() {
                "WSREP_READY" => s.ready = value.eq_ignore_ascii_case("ON"),
                "WSREP_CLUSTER_STATUS" => s.cluster_status = value.to_string(),
                "WSREP_LOCAL_STATE_COMMENT" => s.local_state = value.to_string(),
                "WSREP_CLUSTER_SIZE" => s.cluster_size = value.parse().unwrap_or(0),
                "WSREP_INCOMING_ADDRESSES" => {
                    s.addresses = value
                        .split(',')
                        .map(str::trim)
                        .filter(|a| !a.is_empty())
                        .map(String::from)
                        .collect();
                    s.addresses.sort();
                }
                "WSREP_FLOW_CONTROL_PAUSED_NS" => s.flow_control_paused_ns = value.parse().unwrap_or(0),
                "WSREP_LOCAL_RECV_QUEUE" => s.recv_queue = value.parse().unwrap_or(0),
                "WSREP_FLOW_CONTROL_SENT" => s.flow_control_sent = value.parse().unwrap_or(0),
                _ => {}
            }
        }
        s
    }

    /// Why the node cannot take the runner's statements now (`None`: it can).
    pub fn unusable(&self) -> Option<String> {
        if self.ready && self.cluster_status == "Primary" && self.local_state == "Synced" {
            return None;
        }
        Some(format!(
            "it is {}, {} (wsrep_ready {})",
            if self.cluster_status.is_empty() {
                "not in a cluster"
            } else {
                &self.cluster_status
            },
            if self.local_state.is_empty() {
                "state unknown"
            } else {
                &self.local_state
            },
            if self.ready { "ON" } else { "OFF" }
        ))
    }
}

/// Does this error say the node is outside the Primary component, or not yet prepared
/// for queries (1047 `WSREP has not yet prepared node for application use`, 1180 `… Not
/// connected to Primary Component`)? Waited out like a lost connection.
pub(crate) fn is_not_primary(message: &str) -> bool {
    message.contains("WSREP has not yet prepared node")
        || message.contains("Not connected to Primary Component")
        || message.contains("WSREP is not ready")
}

/// The Galera cluster a runner works on: how to reach each node, and what it looked like
/// when the run started.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Cluster {
    /// The runner's URL (credentials and database), to reach the other nodes.
    url: String,
    /// The nodes' client addresses when the run started.
    pub at_start: Vec<String>,
    /// The longest cluster-wide stall a DDL step may cause (`None`: any).
    pub max_stall: Option<Duration>,
    /// Run DDL steps that read every row one node at a time where they can (see
    /// [`super::rsu`]).
    pub rsu: bool,
}

/// How fast a node reads and rebuilds a table under DDL, for the stall estimate: bytes of
/// data and indexes per second. Measured on the test machine (2 busy cores, MariaDB 10.11,
/// a 40 MB table): `MODIFY … NOT NULL` at 53–66 MB/s, `ADD INDEX` at 78 MB/s; the estimate
/// takes 40 MB/s, so that it errs towards refusing.
pub(crate) const REBUILD_BYTES_PER_SEC: f64 = 40e6;

/// A DDL step's estimated cluster-wide stall: the table, its bytes, the estimate.
#[derive(Debug, PartialEq)]
pub(crate) struct Stall {
    pub table: String,
    pub bytes: i64,
    pub estimate: Duration,
}

impl Cluster {
    /// The cluster of the node at `url`, as its `state` (read when the run connected)
    /// shows it; DDL may stall it up to `max_stall`, and runs node by node where it can
    /// when `rsu`.
    pub fn new(url: &str, state: NodeState, max_stall: Option<Duration>, rsu: bool) -> Cluster {
        Cluster {
            url: url.to_string(),
            at_start: state.addresses,
            max_stall,
            rsu,
        }
    }

    /// Before a DDL step that reads every row: the stall it would cause, when longer than
    /// allowed. Under total order isolation the statement runs on every node at once and
    /// every write on every node waits for it, for about the time a node takes to read and
    /// rebuild the table (its data and indexes at [`REBUILD_BYTES_PER_SEC`]).
    pub async fn stall_over_limit<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        tables: &[String],
    ) -> Result<Option<Stall>, sqlx::Error> {
        let Some(limit) = self.max_stall else {
            return Ok(None);
        };
        if tables.is_empty() {
            return Ok(None);
        }
        let names: Vec<String> = tables.iter().map(|t| DB::DIALECT.string_literal(t)).collect();
        let sql = format!(
            "SELECT TABLE_NAME, CAST(DATA_LENGTH + INDEX_LENGTH AS SIGNED) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({})",
            names.join(", ")
        );
        let largest = DB::texts_pairs(conn, sql, Default::default())
            .await?
            .into_iter()
            .max_by_key(|(_, b)| *b);
        Ok(largest.and_then(|(table, bytes)| {
            let estimate = Duration::from_secs_f64(bytes.max(0) as f64 / REBUILD_BYTES_PER_SEC);
            (estimate > limit).then_some(Stall {
                table,
                bytes,
                estimate,
            })
        }))
    }

    /// The runner's URL pointed at the node with client address `address` (`None`: an
    /// address no client can use, such as `AUTO` or `0.0.0.0:3306`).
    pub fn node_url(&self, address: &str) -> Option<String> {
        let (host, port) = address.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        if host.is_empty() || host == "0.0.0.0" || host.eq_ignore_ascii_case("AUTO") {
            return None;
        }
        let mut url = url::Url::parse(&self.url).ok()?;
        url.set_host(Some(host.trim_matches(['[', ']']))).ok()?;
        url.set_port(Some(port)).ok()?;
        Some(url.to_string())
    }

    /// Every node the cluster lists now (or listed at the start), with the URL to reach it.
    fn nodes(&self, now: &NodeState) -> Vec<(String, Option<String>)> {
        let all: BTreeSet<&String> = now.addresses.iter().chain(&self.at_start).collect();
        all.into_iter().map(|a| (a.clone(), self.node_url(a))).collect()
    }

    /// Before a DDL step on `tables`: what makes the cluster unfit for it now (nothing:
    /// go). Every node must be reachable, Synced and in the Primary component; none of the
    /// nodes there at the start may be missing; and every node must have the same columns
    /// and indexes on the tables as the runner's node (unless `compare_schema` is false: a
    /// step run one node at a time, whose nodes differ in what it changes meanwhile).
    pub async fn precheck<DB: Backend>(
        &self,
        conn: &mut DB::Connection,
        tables: &[String],
        compare_schema: bool,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let here = match NodeState::read::<DB>(conn).await {
            Ok(s) => s,
            Err(e) => return vec![format!("cannot read this node's wsrep status ({e})")],
        };
        if let Some(why) = here.unusable() {
            problems.push(format!("this node cannot take DDL: {why}"));
        }
        let gone: Vec<&String> = self
            .at_start
            .iter()
            .filter(|a| !here.addresses.contains(a))
            .collect();
        if !gone.is_empty() {
            problems.push(format!(
                "the cluster has {} nodes, {} when this run started: {} left (DDL replicated now would reach it only \
                 when it rejoins)",
                here.cluster_size,
                self.at_start.len(),
                gone.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let ours = match schema::<DB>(conn, tables).await {
            Ok(s) => s,
            Err(e) => {
                return vec![format!(
                    "cannot read this node's schema of {} ({e})",
                    tables.join(", ")
                )];
            }
        };
        for (address, url) in self.nodes(&here) {
            if gone.contains(&&address) {
                continue;
            }
            let Some(url) = url else {
                problems.push(format!(
                    "node {address}: its announced address cannot be connected to (set wsrep_node_incoming_address)"
                ));
                continue;
            };
            match node_report::<DB>(&url, tables).await {
                Err(e) => problems.push(format!("node {address}: cannot be reached ({e})")),
                Ok((state, theirs)) => {
                    if let Some(why) = state.unusable() {
                        problems.push(format!("node {address}: {why}"));
                    }
                    if let Some(diff) = difference(&ours, &theirs).filter(|_| compare_schema) {
                        problems.push(format!(
                            "node {address} has another schema than this node: {diff}"
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// A node's state and its schema of `tables`, on a connection of its own.
async fn node_report<DB: Backend>(
    url: &str,
    tables: &[String],
) -> crate::error::Result<(NodeState, BTreeSet<String>)> {
    let mut c = crate::runner::open_connection::<DB>(url, &mask_url(url)).await?;
    let state = NodeState::read::<DB>(&mut c).await?;
    let schema = schema::<DB>(&mut c, tables).await?;
    let _ = sqlx::Connection::close(c).await;
    Ok((state, schema))
}

/// The columns and indexes of `tables` in the connection's database, one line each.
async fn schema<DB: Backend>(
    conn: &mut DB::Connection,
    tables: &[String],
) -> Result<BTreeSet<String>, sqlx::Error> {
    if tables.is_empty() {
        return Ok(BTreeSet::new());
    }
    let names: Vec<String> = tables.iter().map(|t| DB::DIALECT.string_literal(t)).collect();
    let names = names.join(", ");
    let sql = format!(
        "SELECT CAST(CONCAT('column ', TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, \
         IF(IS_NULLABLE = 'YES', ' NULL', ' NOT NULL'), IFNULL(CONCAT(' DEFAULT ', COLUMN_DEFAULT), '')) AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({names}) \
         UNION ALL SELECT CAST(CONCAT('index ', TABLE_NAME, '.', INDEX_NAME, IF(NON_UNIQUE = 0, ' UNIQUE', ''), ' (', \
         GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') AS CHAR) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({names}) \
         GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE"
    );
    Ok(DB::texts(conn, sql).await?.into_iter().collect())
}

/// What one node has that the other has not, in words (`None`: the same).
fn difference(ours: &BTreeSet<String>, theirs: &BTreeSet<String>) -> Option<String> {
    let only_there: Vec<&String> = theirs.difference(ours).collect();
    let only_here: Vec<&String> = ours.difference(theirs).collect();
    if only_there.is_empty() && only_here.is_empty() {
        return None;
    }
    let list = |v: &[&String]| {
        let mut s = v
            .iter()
            .take(3)
            .map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if v.len() > 3 {
            s.push_str(&format!("; and {} more", v.len() - 3));
        }
        s
    };
    let mut parts = Vec::new();
    if !only_there.is_empty() {
        parts.push(format!("it has {}", list(&only_there)));
    }
    if !only_here.is_empty() {
        parts.push(format!("it lacks {}", list(&only_here)));
    }
    Some(parts.join(", and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_rows_are_read() {
        let s = NodeState::parse(&[
            "WSREP_READY=ON".into(),
            "WSREP_CLUSTER_STATUS=Primary".into(),
            "WSREP_LOCAL_STATE_COMMENT=Synced".into(),
            "WSREP_CLUSTER_SIZE=3".into(),
            "WSREP_INCOMING_ADDRESSES=127.0.0.1:4302,127.0.0.1:4301".into(),
            "WSREP_FLOW_CONTROL_PAUSED_NS=1500".into(),
        ]);
        assert_eq!(s.unusable(), None);
        assert_eq!(s.addresses, ["127.0.0.1:4301", "127.0.0.1:4302"]);
        assert_eq!((s.cluster_size, s.flow_control_paused_ns), (3, 1500));
        let alone = NodeState::parse(&[
            "WSREP_READY=OFF".into(),
            "WSREP_CLUSTER_STATUS=non-Primary".into(),
            "WSREP_LOCAL_STATE_COMMENT=Initialized".into(),
        ]);
        assert_eq!(
            alone.unusable().as_deref(),
            Some("it is non-Primary, Initialized (wsrep_ready OFF)")
        );
    }

    #[test]
    fn node_urls_keep_credentials_and_database() {
        let c = Cluster {
            url: "mysql://app:s3cret@db1.internal:3306/shop?ssl-mode=required".into(),
            at_start: vec![],
            max_stall: None,
            rsu: false,
        };
        assert_eq!(
            c.node_url("10.0.0.2:3307").as_deref(),
            Some("mysql://app:s3cret@10.0.0.2:3307/shop?ssl-mode=required")
        );
        assert_eq!(c.node_url("AUTO:3306"), None);
        assert_eq!(c.node_url("0.0.0.0:3306"), None);
        assert_eq!(c.node_url("nohost"), None);
    }

    #[test]
    fn schemas_differ_in_words() {
        let a: BTreeSet<String> = ["column t.a int(11) NULL".into()].into();
        let b: BTreeSet<String> = ["column t.a int(11) NULL".into(), "column t.b text NULL".into()].into();
        assert_eq!(difference(&a, &a), None);
        assert_eq!(difference(&a, &b).as_deref(), Some("it has column t.b text NULL"));
        assert_eq!(
            difference(&b, &a).as_deref(),
            Some("it lacks column t.b text NULL")
        );
    }
}
