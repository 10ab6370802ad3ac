#!/bin/sh
# Debian's sqlite3 under LD_PRELOAD=libwheap.so, output compared with a
# plain run: a table of 200,000 rows inserted in one transaction, two
# indexes, aggregates, GROUP BY, LIKE, DISTINCT, a self join, UPDATE, DELETE,
# VACUUM and an integrity check, on a fresh database file per run.  Skips
# until libwheap exports malloc, and where sqlite3 is missing.
set -u
. "${top_srcdir:-.}/tests/preload_common.sh"
pc_require_malloc
pc_require_program sqlite3
pc_check_preload_active

cat >"$pc_tmp/work.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, v REAL, payload TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
INSERT INTO t SELECT x, 'name' || x, x % 100, x * 0.25, substr(hex(x * 7919), 1, x % 40) || x FROM c;
COMMIT;
CREATE INDEX t_grp ON t(grp, v);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v), max(length(payload)) FROM t;
SELECT grp, count(*), round(avg(v), 3) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT name FROM t WHERE name LIKE 'name1999%' ORDER BY name LIMIT 3;
SELECT count(DISTINCT payload), count(DISTINCT grp) FROM t;
SELECT a.grp, count(*), sum(b.v) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp < 3 GROUP BY a.grp;
UPDATE t SET payload = upper(payload) || '-u' WHERE grp = 7;
DELETE FROM t WHERE grp = 8;
SELECT count(*), total(length(payload)) FROM t;
SELECT group_concat(id, ',') FROM (SELECT id FROM t WHERE grp = 9 ORDER BY v DESC LIMIT 10);
VACUUM;
PRAGMA integrity_check;
SQL
pc_compare sqlite 120 sh -c 'd=$(mktemp -d "$1/db.XXXXXX") && exec sqlite3 -bail "$d/t.db" ".read $2"' \
    sh "$pc_tmp" "$pc_tmp/work.sql"
pc_done
