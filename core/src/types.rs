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
    Integer,
    Float,
    Bool,
    Text,
    /// Dates, JSON, bytes…: only through `default_sql`.
    Other,
}

pub fn literal_class(rust: &str) -> LiteralClass {
    match rust {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => LiteralClass::Integer,
        "f32" | "f64" | "Decimal" | "BigDecimal" => LiteralClass::Float,
        "bool" => LiteralClass::Bool,
        "String" => LiteralClass::Text,
        _ => LiteralClass::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_64_has_no_postgres_or_sqlite_mapping() {
        assert_eq!(sql_type(Dialect::Postgres, "u64"), None);
        assert_eq!(sql_type(Dialect::Sqlite, "u64"), None);
        assert_eq!(sql_type(Dialect::MySql, "u64"), Some("BIGINT UNSIGNED"));
    }
}
