#!/usr/bin/env bash
# What a row trigger costs a bare `UPDATE` that fills a column of 1,000,000 rows, when the
# trigger has nothing to do — the floor under any backfill while a sync trigger is
# installed. Each variant on a freshly loaded table, twice, interleaved.
#
#   bench/trigger_floor.sh postgres    # PG: none / BEFORE UPDATE WHEN false / AFTER UPDATE WHEN false
#   bench/trigger_floor.sh mariadb     # MariaDB: none / trivial trigger / Straddle's body
#
# Servers as in the tests: postgres@127.0.0.1:5432, root@127.0.0.1:3306 (database `test`).
set -euo pipefail
ROWS=${ROWS:-1000000}
case "${1:-postgres}" in
postgres)
  psql -h 127.0.0.1 -U postgres -q -c 'CREATE OR REPLACE FUNCTION straddle_floor_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$'
  W='WHEN (NEW.n IS NULL OR (NEW.n IS NOT DISTINCT FROM OLD.n AND (NEW.email IS DISTINCT FROM OLD.email)))'
  run() {
    psql -h 127.0.0.1 -U postgres -q <<SQL 2>&1 | grep Time | sed "s/^/$1: /"
DROP TABLE IF EXISTS straddle_floor; CREATE TABLE straddle_floor (id BIGINT PRIMARY KEY, email TEXT NOT NULL, n TEXT);
INSERT INTO straddle_floor SELECT g, 'User' || g || '@Example.COM', NULL FROM generate_series(1, $ROWS) g;
VACUUM (FREEZE, ANALYZE) straddle_floor; CHECKPOINT;
$2
\timing on
UPDATE straddle_floor SET n = lower(email);
SQL
  }
  for _ in 1 2; do
    run "no trigger" ""
    run "BEFORE UPDATE, WHEN false" "CREATE TRIGGER b BEFORE UPDATE ON straddle_floor FOR EACH ROW $W EXECUTE FUNCTION straddle_floor_f();"
    run "AFTER UPDATE, WHEN false" "CREATE TRIGGER a AFTER UPDATE ON straddle_floor FOR EACH ROW $W EXECUTE FUNCTION straddle_floor_f();"
  done
  psql -h 127.0.0.1 -U postgres -q -c 'DROP TABLE straddle_floor; DROP FUNCTION straddle_floor_f()'
  ;;
mariadb | mysql)
  run() {
    mysql -h 127.0.0.1 -u root -N test <<SQL | sed "s/^/$1: /"
DROP TABLE IF EXISTS straddle_floor;
CREATE TABLE straddle_floor (id BIGINT PRIMARY KEY, email TEXT NOT NULL, n TEXT);
INSERT INTO straddle_floor SELECT seq, CONCAT('User', seq, '@Example.COM'), NULL FROM seq_1_to_$ROWS;
DELIMITER //
$2
//
DELIMITER ;
SET @t = NOW(6); UPDATE straddle_floor SET n = lower(email);
SELECT CONCAT(TIMESTAMPDIFF(MICROSECOND, @t, NOW(6)) / 1000, ' ms');
DROP TABLE straddle_floor;
SQL
  }
  for _ in 1 2; do
    run "no trigger" "DO 0"
    run "trivial BEFORE UPDATE trigger" "CREATE TRIGGER straddle_floor_t BEFORE UPDATE ON straddle_floor FOR EACH ROW SET @x = 1"
    run "Straddle's update trigger" "CREATE TRIGGER straddle_floor_t BEFORE UPDATE ON straddle_floor FOR EACH ROW BEGIN IF NEW.n IS NULL OR (NEW.n <=> OLD.n AND (NOT (NEW.email <=> OLD.email))) THEN BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET NEW.n = NULL; SET NEW.n = lower(NEW.email); END; END IF; END"
  done
  ;;
*) echo "usage: $0 postgres|mariadb" >&2; exit 2 ;;
esac
