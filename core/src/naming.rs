//! Names and text Straddle puts into SQL: the names of the objects it creates, the
//! identifiers a declaration may use, and how free text (messages, user expressions)
//! reaches comments and quoted bodies without ever ending them.
//!
//! Generated names are `straddle_<purpose>_<readable>_<hash>`: the readable part is the
//! table and column names reduced to ASCII letters, digits and `_`, cut to fit; the hash
//! is over the purpose and the *unreduced* names, each length-prefixed, so that
//! `order.item_total` and `order_item.total` — or two names that differ only in a
//! character the readable part drops — never share a name. Every name fits every
//! engine's limit ([`MAX_GENERATED`] bytes).

use crate::dialect::Dialect;
use sha2::{Digest, Sha256};

/// The longest generated name: within PostgreSQL's 63 bytes and MySQL's 64 characters.
pub const MAX_GENERATED: usize = 63;

/// Hex digits of the hash in a generated name (40 bits).
const HASH_HEX: usize = 10;

/// The name of an object Straddle owns, for `purpose` (`sync`, `nn`, `new`, …) and the
/// names it belongs to (table, column, …): unique for its inputs, at most
/// [`MAX_GENERATED`] bytes of ASCII.
pub fn object_name(purpose: &str, parts: &[&str]) -> String {
    let hash = short_hash(purpose, parts);
    let readable: String = parts
        .iter()
        .map(|p| {
            p.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_");
    let prefix = format!("straddle_{purpose}_");
    let room = MAX_GENERATED - prefix.len() - 1 - HASH_HEX;
    let readable = &readable[..readable.len().min(room)];
    let readable = readable.trim_end_matches('_');
    if readable.is_empty() {
        format!("{prefix}{hash}")
    } else {
        format!("{prefix}{readable}_{hash}")
    }
}

/// A short hash (10 hex digits) of `purpose` and `parts`, each length-prefixed: no two
/// distinct inputs give the same text to hash.
pub fn short_hash(purpose: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in std::iter::once(purpose).chain(parts.iter().copied()) {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    h.finalize()
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why `name` cannot be an identifier on `dialect`, if it cannot: empty, a control
/// character (a newline would end a comment in any SQL text that shows it), over the
/// engine's limit (PostgreSQL truncates silently at 63 bytes; MySQL refuses over 64
/// characters), or what MySQL refuses (a trailing space, characters outside the Basic
/// Multilingual Plane).
pub fn identifier_problem(dialect: Dialect, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an empty name".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!(
            "a control character ({}): it would end a comment or a line in the SQL that shows the name",
            c.escape_default()
        ));
    }
    match dialect {
        Dialect::Postgres if name.len() > 63 => Some(format!(
            "{} bytes: PostgreSQL keeps 63 and silently drops the rest",
            name.len()
        )),
        Dialect::MySql if name.chars().count() > 64 => Some(format!(
            "{} characters: MySQL/MariaDB accept 64",
            name.chars().count()
        )),
        Dialect::MySql if name.ends_with(' ') => Some("a trailing space: MySQL/MariaDB refuse it".into()),
        Dialect::MySql if name.chars().any(|c| c as u32 > 0xFFFF) => Some(
            "a character outside the Basic Multilingual Plane: MySQL/MariaDB identifiers cannot hold it"
                .into(),
        ),
        _ => None,
    }
}

/// `text` as SQL comment lines (`-- …`), each line of it commented, other control
/// characters shown escaped: no text, whatever it holds, ends the comment.
pub fn comment(text: &str) -> String {
    text.split('\n')
        .map(|line| {
            let shown: String = line
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\t' {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            format!("-- {shown}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A PostgreSQL dollar-quote tag (`$straddle$`, `$straddle_1$`, …) that does not occur in
/// `body`, so the body — identifiers and user expressions included — cannot end it.
pub fn dollar_tag(body: &str) -> String {
    (0..)
        .map(|n| {
            if n == 0 {
                "$straddle$".to_string()
            } else {
                format!("$straddle_{n}$")
            }
        })
        .find(|tag| !body.contains(tag.as_str()))
        .expect("some tag does not occur in a finite body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_where_the_plain_join_would_collide() {
        let a = object_name("sync", &["order", "item_total"]);
        let b = object_name("sync", &["order_item", "total"]);
        assert_ne!(a, b);
        assert!(a.starts_with("straddle_sync_order_item_total_"), "{a}");
        // Characters the readable part drops still tell names apart.
        assert_ne!(
            object_name("sync", &["t", "a b"]),
            object_name("sync", &["t", "a_b"])
        );
        assert_ne!(object_name("sync", &["t", "ab"]), object_name("nn", &["t", "ab"]));
    }

    #[test]
    fn names_fit_every_engine_and_are_plain_ascii() {
        let long = "é".repeat(80);
        for parts in [
            vec!["t".repeat(200), "c".repeat(200)],
            vec![long.clone(), "\"`$x".into()],
            vec![String::new(), String::new()],
        ] {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let n = object_name("sync_ins", &refs);
            assert!(n.len() <= MAX_GENERATED, "{n}");
            assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{n}");
            for d in Dialect::ALL {
                assert_eq!(identifier_problem(d, &n), None);
            }
        }
    }

    #[test]
    fn identifiers_engines_refuse_or_truncate_are_problems() {
        assert!(identifier_problem(Dialect::Postgres, &"a".repeat(64)).is_some());
        assert!(identifier_problem(Dialect::Postgres, &"a".repeat(63)).is_none());
        // 32 two-byte characters: 64 bytes.
        assert!(identifier_problem(Dialect::Postgres, &"é".repeat(32)).is_some());
        assert!(identifier_problem(Dialect::MySql, &"é".repeat(64)).is_none());
        assert!(identifier_problem(Dialect::MySql, &"a".repeat(65)).is_some());
        assert!(identifier_problem(Dialect::MySql, "a ").is_some());
        assert!(identifier_problem(Dialect::MySql, "a😀").is_some());
        for d in Dialect::ALL {
            assert!(identifier_problem(d, "norm\nDELETE FROM audit; --").is_some());
            assert!(identifier_problem(d, "").is_some());
            assert!(identifier_problem(d, "we\"ird `$straddle$' names").is_none());
        }
    }

    #[test]
    fn comments_cannot_be_ended_by_their_text() {
        assert_eq!(comment("a\nDROP TABLE x; --"), "-- a\n-- DROP TABLE x; --");
        assert_eq!(comment("a\rb"), "-- a\\rb");
    }

    #[test]
    fn dollar_tags_avoid_the_body() {
        assert_eq!(dollar_tag("BEGIN END"), "$straddle$");
        assert_eq!(dollar_tag("x $straddle$ y"), "$straddle_1$");
        assert_eq!(dollar_tag("$straddle$ $straddle_1$"), "$straddle_2$");
    }

    use proptest::prelude::*;

    /// Names built from the characters that end quotes, comments and dollar quotes, and
    /// from letters, at any length up to PostgreSQL's limit.
    fn identifier() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range('a', 'z'),
                Just('_'),
                Just('"'),
                Just('`'),
                Just('\''),
                Just('$'),
                Just('\\'),
                Just('-'),
                Just(' '),
                Just('é'),
                Just('日'),
            ],
            1..40,
        )
        .prop_map(|cs| cs.into_iter().collect::<String>())
        .prop_filter("a valid identifier", |s| {
            Dialect::ALL.iter().all(|d| identifier_problem(*d, s).is_none())
        })
    }

    proptest! {
        #[test]
        fn generated_names_never_collide_and_fit(
            t1 in identifier(), c1 in identifier(), t2 in identifier(), c2 in identifier(),
            purpose in prop_oneof![Just("sync"), Just("sync_ins"), Just("nn"), Just("new")],
        ) {
            let a = object_name(purpose, &[&t1, &c1]);
            let b = object_name(purpose, &[&t2, &c2]);
            prop_assert!(a.len() <= MAX_GENERATED && b.len() <= MAX_GENERATED);
            prop_assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if (t1.as_str(), c1.as_str()) != (t2.as_str(), c2.as_str()) {
                prop_assert_ne!(a, b);
            } else {
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn joined_names_that_read_alike_still_differ(base in "[a-z]{1,20}", split in 1usize..20) {
            // `order` + `item_total` against `order_item` + `total`: the same plain join.
            let whole = format!("{base}_x{base}");
            let cut = split.min(whole.len() - 1);
            let (t, c) = whole.split_at(cut);
            let (t2, c2) = (format!("{t}_"), c.trim_start_matches('_').to_string());
            prop_assume!(t != t2 || c != c2);
            prop_assert_ne!(object_name("sync", &[t, c]), object_name("sync", &[&t2, &c2]));
        }
    }
}
