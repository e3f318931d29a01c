#!/usr/bin/env bash
# A private MariaDB primary and an asynchronous replica of it on 127.0.0.1, from the
# installed MariaDB, for the replica-lag tests: `mariadb-replica.sh start DIR PRIMARY_PORT
# REPLICA_PORT` (returns once the replica replicates), `mariadb-replica.sh stop DIR`.
# The servers run as the `mysql` OS user when started as root.
set -euo pipefail

as_mysql() { if [ "$(id -u)" = 0 ]; then runuser -u mysql -- "$@"; else "$@"; fi; }
client() { mariadb -h 127.0.0.1 -P "$1" -u root --connect-timeout=2 "${@:2}"; }

server() { # dir, name, port, server id
  local d="$1/$2"
  # Each server its own tmpdir: a starting mariadbd removes every `#sql` file in its
  # tmpdir, so two servers bootstrapping at once over a shared /tmp delete each other's
  # temporary tables ("Unknown table 'mysql.tmp_user_sys'").
  mkdir -p "$d/tmp"
  cat >"$d/my.cnf" <<CNF
[mariadbd]
datadir=$d/data
tmpdir=$d/tmp
socket=$d/mysqld.sock
pid-file=$d/mysqld.pid
log-error=$d/error.log
port=$3
bind-address=127.0.0.1
skip-name-resolve
server-id=$4
log-bin=$d/binlog
binlog_format=ROW
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
CNF
  [ "$(id -u)" = 0 ] && chown -R mysql:mysql "$1"
  if ! as_mysql mariadb-install-db --defaults-file="$d/my.cnf" --auth-root-authentication-method=normal \
    --skip-test-db >"$d/install.log" 2>&1; then
    echo "error: mariadb-install-db failed for the $2 on port $3:" >&2
    cat "$d/install.log" >&2
    tail -n 20 "$d/error.log" >&2 2>/dev/null || true
    return 1
  fi
  as_mysql /usr/sbin/mariadbd --defaults-file="$d/my.cnf" >>"$d/console.log" 2>&1 &
  for _ in $(seq 1 120); do
    if client "$3" -e "SELECT 1" >/dev/null 2>&1 || mariadb -S "$d/mysqld.sock" -u root -e "SELECT 1" >/dev/null 2>&1; then
      break
    fi
    sleep 0.25
  done
  mariadb -S "$d/mysqld.sock" -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
    GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; RESET MASTER;"
}

start() { # dir, primary port, replica port
  mkdir -p "$1"
  server "$1" primary "$2" 1
  server "$1" replica "$3" 2
  client "$3" -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$2, MASTER_USER='root', \
    MASTER_USE_GTID=slave_pos; START SLAVE;"
  for _ in $(seq 1 80); do
    if client "$3" -e "SHOW SLAVE STATUS\G" 2>/dev/null | grep -q "Slave_SQL_Running: Yes"; then
      echo "mariadb: primary on $2, replica on $3"
      return 0
    fi
    sleep 0.25
  done
  echo "error: the replica did not start replicating" >&2
  client "$3" -e "SHOW SLAVE STATUS\G" >&2 || true
  return 1
}

stop() { # dir
  for n in replica primary; do
    local pid="$1/$n/mysqld.pid"
    [ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null || true
  done
  rm -rf "$1"
}

case "${1:-}" in
  start) start "${2:?dir}" "${3:?primary port}" "${4:?replica port}" ;;
  stop) stop "${2:?dir}" ;;
  *) echo "usage: $0 start DIR PRIMARY_PORT REPLICA_PORT | stop DIR" >&2; exit 2 ;;
esac
