//! Catalog queries, one text line per column / constraint / trigger / index.

use straddle::Dialect;

/// Queries returning one text column describing `table`.
pub fn queries(dialect: Dialect, table: &str) -> Vec<String> {
    let lit = dialect.string_literal(table);
    // `::regclass` parses a (possibly quoted) name, not a bare string.
    let reg = dialect.string_literal(&dialect.quote(table));
    match dialect {
        Dialect::Postgres => vec![
            format!(
                "SELECT concat_ws(' ', 'column', a.attname, format_type(a.atttypid, a.atttypmod), \
                 CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END, 'default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')) \
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = {reg}::regclass AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            format!(
                "SELECT concat_ws(' ', 'constraint', conname, contype, CASE WHEN convalidated THEN 'valid' ELSE 'NOT VALID' END, \
                 pg_get_constraintdef(oid)) FROM pg_constraint WHERE conrelid = {reg}::regclass"
            ),
            format!(
                "SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = {reg}::regclass AND NOT tgisinternal"
            ),
            format!(
                "SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = {reg}::regclass"
            ),
        ],
        Dialect::MySql => vec![
            format!(
                "SELECT CAST(CONCAT_WS(' ', 'column', COLUMN_NAME, COLUMN_TYPE, IF(IS_NULLABLE = 'YES', 'NULL', 'NOT NULL'), \
                 CONCAT('default=', COALESCE(COLUMN_DEFAULT, '-')), EXTRA) AS CHAR) \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {lit}"
            ),
            format!(
                "SELECT CAST(CONCAT_WS(' ', 'constraint', CONSTRAINT_NAME, CONSTRAINT_TYPE) AS CHAR) \
                 FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {lit}"
            ),
            format!(
                "SELECT CAST(CONCAT('trigger ', TRIGGER_NAME) AS CHAR) FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = {lit}"
            ),
            format!(
                "SELECT CAST(CONCAT_WS(' ', 'index', INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE) AS CHAR) \
                 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {lit}"
            ),
        ],
        Dialect::Sqlite => vec![
            format!(
                "SELECT 'column ' || name || ' ' || type || ' ' || CASE WHEN \"notnull\" THEN 'NOT NULL' ELSE 'NULL' END \
                 || ' default=' || coalesce(dflt_value, '-') || ' pk=' || pk FROM pragma_table_info({lit})"
            ),
            format!(
                "SELECT type || ' ' || name FROM sqlite_master WHERE tbl_name = {lit} AND type IN ('trigger', 'index')"
            ),
        ],
    }
}

/// One query listing Straddle-owned objects left anywhere in the database: triggers,
/// functions, constraints, tables of a rebuild — not the runner's own bookkeeping
/// (`_straddle_migrations` and its siblings, which stay).
pub fn leftovers(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'straddle%' \
             UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'straddle%' \
             UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE conname LIKE 'straddle%' \
             UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'straddle%'"
        }
        Dialect::MySql => {
            "SELECT CAST(CONCAT('trigger ', TRIGGER_NAME) AS CHAR) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'straddle%' \
             UNION ALL SELECT CAST(CONCAT('table ', TABLE_NAME) AS CHAR) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'straddle%'"
        }
        Dialect::Sqlite => "SELECT type || ' ' || name FROM sqlite_master WHERE name LIKE 'straddle%'",
    }
}
