#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on 127.0.0.1 for the cluster tests, from the installed
# MariaDB and Debian's galera-4: `galera.sh start` (idempotent: a running cluster is
# left as it is), `galera.sh stop`, `galera.sh status`; for the fault tests `galera.sh kill N`
# (SIGKILL node N, as a crash), `galera.sh restart N` (it rejoins the running cluster) and
# `galera.sh heal` (every node joined again and Synced, after a fault test).
#
# Node N (1..3) listens on 127.0.0.1:$((BASE_PORT + N)) for clients, with its data in
# $GALERA_DIR/nodeN. The nodes run as the `mysql` OS user (as root the joiners' rsync state
# transfer fails). The first node bootstraps the cluster; the others join one at a time
# until each is Synced.
set -euo pipefail

DIR=${GALERA_DIR:-/tmp/straddle-galera}
BASE_PORT=${GALERA_BASE_PORT:-4300}
GCOMM_BASE=${GALERA_GCOMM_BASE:-4560}
PROVIDER=${GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}
[ -e "$PROVIDER" ] || PROVIDER=/usr/lib/libgalera_smm.so
NODES=3

port() { echo $((BASE_PORT + $1)); }
gcomm_port() { echo $((GCOMM_BASE + $1 * 10)); }
client() { mariadb -h 127.0.0.1 -P "$(port "$1")" -u root --connect-timeout=2 "${@:2}"; }
as_mysql() { if [ "$(id -u)" = 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi; }

state() { # node → wsrep_local_state_comment, or nothing when down
  client "$1" -N -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | awk '{print $2}'
}

cluster_address() {
  local peers=()
  for n in $(seq 1 $NODES); do peers+=("127.0.0.1:$(gcomm_port "$n")"); done
  (IFS=,; echo "gcomm://${peers[*]}")
}

write_config() { # node
  local n=$1 d="$DIR/node$1"
  # Its own tmpdir: a starting mariadbd removes every `#sql` file in its tmpdir, the
  # temporary tables of any other server sharing /tmp included.
  mkdir -p "$d/tmp"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
tmpdir=$d/tmp
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$(port "$n")
bind-address=127.0.0.1
skip-name-resolve
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=straddle_test
wsrep_cluster_address=$(cluster_address)
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gcomm_port "$n")
wsrep_node_incoming_address=127.0.0.1:$(port "$n")
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(($(gcomm_port "$n") + 1));gcache.size=64M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(($(gcomm_port "$n") + 2))
CNF
}

start_node() { # node, extra args
  local n=$1 d="$DIR/node$1"
  as_mysql /usr/sbin/mariadbd --defaults-file="$d/my.cnf" "${@:2}" >>"$d/console.log" 2>&1 &
}

wait_synced() { # node
  for _ in $(seq 1 120); do
    if [ "$(state "$1")" = Synced ]; then return 0; fi
    sleep 0.5
  done
  echo "error: Galera node $1 did not reach Synced; its log: $DIR/node$1/error.log" >&2
  tail -n 30 "$DIR/node$1/error.log" >&2 || true
  return 1
}

start() {
  if [ "$(state 1)" = Synced ] && [ "$(state 2)" = Synced ] && [ "$(state 3)" = Synced ]; then
    echo "galera: already running on ports $(port 1)-$(port $NODES)"
    return 0
  fi
  stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  mkdir -p "$DIR"
  for n in $(seq 1 $NODES); do
    mkdir -p "$DIR/node$n"
    write_config "$n"
  done
  chown -R mysql:mysql "$DIR" 2>/dev/null || true
  as_mysql mariadb-install-db --defaults-file="$DIR/node1/my.cnf" --auth-root-authentication-method=normal \
    --skip-test-db >"$DIR/node1/install.log" 2>&1
  start_node 1 --wsrep-new-cluster
  wait_synced 1
  client 1 -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" 2>/dev/null || true
  for n in $(seq 2 $NODES); do
    mkdir -p "$DIR/node$n/data"
    chown -R mysql:mysql "$DIR/node$n" 2>/dev/null || true
    start_node "$n"
    wait_synced "$n"
  done
  echo "galera: $NODES nodes Synced on ports $(port 1)-$(port $NODES)"
}

stop() {
  for n in $(seq $NODES -1 1); do
    local pid="$DIR/node$n/mysqld.pid"
    if [ -f "$pid" ]; then
      kill "$(cat "$pid")" 2>/dev/null || true
    fi
  done
  for _ in $(seq 1 60); do
    if ! pgrep -f "mariadbd --defaults-file=$DIR/" >/dev/null; then return 0; fi
    sleep 0.5
  done
  pkill -9 -f "mariadbd --defaults-file=$DIR/" || true
}

kill_node() { # node: SIGKILL, as a crash
  local pid="$DIR/node$1/mysqld.pid"
  [ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null || true
  for _ in $(seq 1 40); do
    if [ -z "$(state "$1")" ]; then return 0; fi
    sleep 0.25
  done
}

restart_node() { # node: start it again, joining the running cluster (IST), until Synced
  if [ "$(state "$1")" = Synced ]; then return 0; fi
  rm -f "$DIR/node$1/mysqld.pid"
  start_node "$1"
  wait_synced "$1"
}

heal() { # after a fault test: every node joined again and Synced
  for n in $(seq 1 $NODES); do
    if [ -n "$(state "$n")" ]; then
      client "$n" -e "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'" 2>/dev/null || true
    fi
  done
  for n in $(seq 1 $NODES); do restart_node "$n"; done
}

status() {
  for n in $(seq 1 $NODES); do
    echo "node$n 127.0.0.1:$(port "$n") $(state "$n" || true)"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  kill) kill_node "${2:?node}" ;;
  restart) restart_node "${2:?node}" ;;
  heal) heal ;;
  *) echo "usage: $0 start|stop|status|kill N|restart N|heal" >&2; exit 2 ;;
esac
