//! Rust type → column type, per dialect.
//!
//! Follows what sqlx can encode and decode for each engine: a type sqlx cannot bind on
//! an engine (e.g. `u64` on PostgreSQL or SQLite) has no mapping there, and the derive
//! reports it at compile time. `sql_type = "…"` overrides the mapping (trusted input).

use crate::dialect::Dialect;

/// The column type for a Rust type named by the last segment of its path (`String`,
/// `i64`, `DateTime`, `Uuid`, …) and, for `Vec`, its element.
pub fn sql_type(dialect: Dialect, rust: &str) -> Option<&'static str> {
    use Dialect::*;
    let t = match (dialect, rust) {
        (Postgres, "i16") => "SMALLINT",
        (Postgres, "i32") => "INTEGER",
        (Postgres, "i64") => "BIGINT",
        (Postgres, "f32") => "REAL",
        (Postgres, "f64") => "DOUBLE PRECISION",
        (Postgres, "bool") => "BOOLEAN",
        (Postgres, "String") => "TEXT",
        (Postgres, "Vec<u8>") => "BYTEA",
        (Postgres, "Uuid") => "UUID",
        (Postgres, "DateTime") => "TIMESTAMPTZ",
        (Postgres, "NaiveDateTime" | "PrimitiveDateTime") => "TIMESTAMP",
        (Postgres, "OffsetDateTime") => "TIMESTAMPTZ",
        (Postgres, "NaiveDate" | "Date") => "DATE",
        (Postgres, "Decimal" | "BigDecimal") => "NUMERIC",
        (Postgres, "JsonValue" | "Value") => "JSONB",

        (MySql, "i8") => "TINYINT",
        (MySql, "i16") => "SMALLINT",
        (MySql, "i32") => "INT",
        (MySql, "i64") => "BIGINT",
        (MySql, "u8") => "TINYINT UNSIGNED",
        (MySql, "u16") => "SMALLINT UNSIGNED",
        (MySql, "u32") => "INT UNSIGNED",
        (MySql, "u64") => "BIGINT UNSIGNED",
        (MySql, "f32") => "FLOAT",
        (MySql, "f64") => "DOUBLE",
        (MySql, "bool") => "BOOLEAN",
        (MySql, "String") => "TEXT",
        (MySql, "Vec<u8>") => "BLOB",
        (MySql, "Uuid") => "BINARY(16)",
        (MySql, "DateTime" | "OffsetDateTime") => "TIMESTAMP(6)",
        (MySql, "NaiveDateTime" | "PrimitiveDateTime") => "DATETIME(6)",
        (MySql, "NaiveDate" | "Date") => "DATE",
        (MySql, "Decimal" | "BigDecimal") => "DECIMAL(65, 30)",
        (MySql, "JsonValue" | "Value") => "JSON",

        (Sqlite, "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32") => "INTEGER",
        (Sqlite, "f32" | "f64") => "REAL",
        (Sqlite, "bool") => "BOOLEAN",
        (Sqlite, "String") => "TEXT",
        (Sqlite, "Vec<u8>" | "Uuid") => "BLOB",
        (Sqlite, "DateTime" | "NaiveDateTime" | "OffsetDateTime" | "PrimitiveDateTime") => "DATETIME",
        (Sqlite, "NaiveDate" | "Date") => "DATE",
        (Sqlite, "JsonValue" | "Value") => "TEXT",
        _ => return None,
    };
    Some(t)
}

/// What kind of literal a column of this Rust type accepts as `default = …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiteralClass {
    /// An integer literal.
    Integer,
    /// A floating-point literal.
    Float,
    /// A boolean literal.
    Bool,
    /// A string literal.
    Text,
    /// Dates, JSON, bytes…: only through `default_sql`.
    Other,
}

/// The kind of literal a Rust type takes as a default.
pub fn literal_class(rust: &str) -> LiteralClass {
    match rust {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => LiteralClass::Integer,
        "f32" | "f64" | "Decimal" | "BigDecimal" => LiteralClass::Float,
        "bool" => LiteralClass::Bool,
        "String" => LiteralClass::Text,
        _ => LiteralClass::Other,
    }
}

/// A column type as the engine's catalog spells it, so that a type Straddle declared and
/// the type the catalog reports for the column compare equal: PostgreSQL's
/// `format_type` names (`bigint`, `character varying(20)`), MySQL's `COLUMN_TYPE`
/// without integer display widths, SQLite's declared type as written (case aside).
pub fn canonical_type(dialect: Dialect, sql: &str) -> String {
    let mut t = sql
        .trim()
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (from, to) in [(" (", "("), ("( ", "("), (" )", ")"), (", ", ","), (" ,", ",")] {
        while t.contains(from) {
            t = t.replace(from, to);
        }
    }
    let (base, args) = match t.find('(') {
        Some(i) => (t[..i].to_string(), t[i..].to_string()),
        None => (t.clone(), String::new()),
    };
    // `int(10) unsigned`: the arguments end at `)`; what follows is kept.
    let (args, rest) = match args.find(')') {
        Some(i) => (args[..=i].to_string(), args[i + 1..].to_string()),
        None => (args, String::new()),
    };
    match dialect {
        Dialect::Postgres => {
            let base = match base.as_str() {
                "int" | "int4" | "integer" => "integer",
                "int8" | "bigint" => "bigint",
                "int2" | "smallint" => "smallint",
                "float4" | "real" => "real",
                "float8" | "double precision" => "double precision",
                "bool" | "boolean" => "boolean",
                "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
                "timestamp" | "timestamp without time zone" => "timestamp without time zone",
                "decimal" | "numeric" => "numeric",
                "varchar" | "character varying" => "character varying",
                "char" | "character" | "bpchar" => "character",
                other => other,
            };
            format!("{base}{args}{rest}")
        }
        Dialect::MySql => {
            let integer = matches!(
                base.as_str(),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "bool" | "boolean"
            );
            let base = match base.as_str() {
                "integer" => "int",
                "bool" | "boolean" => "tinyint",
                "double precision" | "real" => "double",
                "dec" | "numeric" => "decimal",
                // MariaDB stores JSON as LONGTEXT (with a check).
                "json" => "longtext",
                other => other,
            };
            if integer {
                format!("{base}{rest}")
            } else {
                format!("{base}{args}{rest}")
            }
        }
        Dialect::Sqlite => format!("{base}{args}{rest}"),
    }
}

/// Whether two column types are stored alike on `dialect` (see [`canonical_type`]).
pub fn same_sql_type(dialect: Dialect, a: &str, b: &str) -> bool {
    canonical_type(dialect, a) == canonical_type(dialect, b)
}

/// Whether changing a column from `from` to `to` is binary-coercible on `dialect`: no
/// table rewrite and no row checked (RULES.md, PostgreSQL facts). Only PostgreSQL is
/// trusted with this: MySQL copies the table for most type changes, and its in-place
/// VARCHAR extension depends on the column's character set; SQLite would rebuild.
pub fn widens_in_place(dialect: Dialect, from: &str, to: &str) -> bool {
    if dialect != Dialect::Postgres {
        return false;
    }
    let (from, to) = (canonical_type(dialect, from), canonical_type(dialect, to));
    let args = |t: &str, base: &str| -> Option<Vec<u32>> {
        let rest = t.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(Vec::new());
        }
        rest.strip_prefix('(')?
            .strip_suffix(')')?
            .split(',')
            .map(|n| n.trim().parse().ok())
            .collect()
    };
    let varchar = |t: &str| args(t, "character varying");
    let numeric = |t: &str| args(t, "numeric");
    match (varchar(&from), varchar(&to), numeric(&from), numeric(&to)) {
        // VARCHAR(n) → VARCHAR(m ≥ n), → VARCHAR, → TEXT.
        (Some(f), Some(t), _, _) => match (f.as_slice(), t.as_slice()) {
            ([n], [m]) => m >= n,
            (_, []) => true,
            _ => false,
        },
        (Some(_), None, _, _) => to == "text",
        // NUMERIC(p, s) → NUMERIC(p' ≥ p, s), → NUMERIC.
        (_, _, Some(f), Some(t)) => match (f.as_slice(), t.as_slice()) {
            (_, []) => true,
            ([p, s], [p2, s2]) => p2 >= p && s2 == s,
            ([p], [p2]) => p2 >= p,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_coercible_widenings_are_recognized_on_postgres_only() {
        use Dialect::*;
        for (from, to, in_place) in [
            ("VARCHAR(20)", "VARCHAR(80)", true),
            ("VARCHAR(80)", "VARCHAR(20)", false),
            ("VARCHAR(20)", "TEXT", true),
            ("TEXT", "VARCHAR(20)", false),
            ("NUMERIC(10, 2)", "NUMERIC(12, 2)", true),
            ("NUMERIC(10, 2)", "NUMERIC(12, 3)", false),
            ("NUMERIC(10, 2)", "NUMERIC", true),
            ("INTEGER", "BIGINT", false),
        ] {
            assert_eq!(widens_in_place(Postgres, from, to), in_place, "{from} → {to}");
        }
        assert!(!widens_in_place(MySql, "VARCHAR(20)", "VARCHAR(80)"));
    }

    #[test]
    fn catalog_spellings_compare_equal_to_declared_types() {
        use Dialect::*;
        for (d, declared, catalog) in [
            (Postgres, "BIGINT", "bigint"),
            (Postgres, "INTEGER", "integer"),
            (Postgres, "DOUBLE PRECISION", "double precision"),
            (Postgres, "TIMESTAMPTZ", "timestamp with time zone"),
            (Postgres, "VARCHAR(20)", "character varying(20)"),
            (Postgres, "NUMERIC(12, 2)", "numeric(12,2)"),
            (MySql, "INT", "int(11)"),
            (MySql, "BIGINT", "bigint(20)"),
            (MySql, "BOOLEAN", "tinyint(1)"),
            (MySql, "INT UNSIGNED", "int(10) unsigned"),
            (MySql, "DECIMAL(65, 30)", "decimal(65,30)"),
            (MySql, "JSON", "longtext"),
            (MySql, "VARCHAR(255)", "varchar(255)"),
            (Sqlite, "INTEGER", "integer"),
        ] {
            assert!(
                same_sql_type(d, declared, catalog),
                "{d}: {declared} vs {catalog}"
            );
        }
        for (d, a, b) in [
            (Postgres, "INTEGER", "bigint"),
            (Postgres, "VARCHAR(20)", "character varying(30)"),
            (MySql, "INT", "bigint(20)"),
            (MySql, "INT", "int(10) unsigned"),
            (MySql, "DOUBLE", "float"),
            (Sqlite, "INTEGER", "REAL"),
        ] {
            assert!(!same_sql_type(d, a, b), "{d}: {a} vs {b}");
        }
    }

    #[test]
    fn unsigned_64_has_no_postgres_or_sqlite_mapping() {
        assert_eq!(sql_type(Dialect::Postgres, "u64"), None);
        assert_eq!(sql_type(Dialect::Sqlite, "u64"), None);
        assert_eq!(sql_type(Dialect::MySql, "u64"), Some("BIGINT UNSIGNED"));
    }
}
