//! An index's operator classes (`opclass(col = "text_pattern_ops")`) and storage
//! parameters (`with = "fillfactor = 70"`), checked at compile time: PostgreSQL's only
//! (elsewhere a compile error), an operator class per indexed column, and only the storage
//! parameters the index method has, with values of their kind — both are spliced into the
//! `CREATE INDEX`, so nothing else may reach it.

use super::attr::IndexAttr;
use super::ctxt::Ctxt;
use crate::dialect::Dialect;
use std::collections::BTreeMap;

/// The storage parameters of each PostgreSQL index method, with the kind of value each
/// takes.
fn parameters(method: &str) -> &'static [(&'static str, Kind)] {
    match method {
        "btree" => &[("fillfactor", Kind::Percent), ("deduplicate_items", Kind::Bool)],
        "hash" | "spgist" => &[("fillfactor", Kind::Percent)],
        "gist" => &[("fillfactor", Kind::Percent), ("buffering", Kind::Buffering)],
        "gin" => &[
            ("fastupdate", Kind::Bool),
            ("gin_pending_list_limit", Kind::Count),
        ],
        "brin" => &[("pages_per_range", Kind::Count), ("autosummarize", Kind::Bool)],
        _ => &[],
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// 10 to 100.
    Percent,
    /// A positive integer.
    Count,
    /// `on`, `off`, `true`, `false`.
    Bool,
    /// `on`, `off`, `auto`.
    Buffering,
}

impl Kind {
    fn accepts(self, value: &str) -> bool {
        match self {
            Kind::Percent => value.parse::<u32>().is_ok_and(|n| (10..=100).contains(&n)),
            Kind::Count => value.parse::<u32>().is_ok_and(|n| n >= 1),
            Kind::Bool => ["on", "off", "true", "false"].contains(&value),
            Kind::Buffering => ["on", "off", "auto"].contains(&value),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Percent => "a percentage from 10 to 100",
            Kind::Count => "a positive integer",
            Kind::Bool => "`on` or `off`",
            Kind::Buffering => "`on`, `off` or `auto`",
        }
    }
}

/// `attr`'s operator classes (by column name, each column one of `on`, resolved to column
/// names by `resolve`) and storage parameters for an index of `method` (b-tree when none).
pub(super) fn check(
    cx: &Ctxt,
    attr: &IndexAttr,
    on: &[String],
    resolve: impl Fn(&str) -> Option<String>,
    method: Option<&str>,
    dialects: &[Dialect],
    ok: &mut bool,
) -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let fine = std::cell::Cell::new(true);
    let refuse = |span: proc_macro2::Span, message: String| {
        cx.error_at(span, message);
        fine.set(false);
    };
    let mut opclass = BTreeMap::new();
    if let Some((span, given)) = &attr.opclass {
        if !super::check::engines_have(
            cx,
            *span,
            "operator classes (`opclass`)",
            &[Dialect::Postgres],
            dialects,
        ) {
            fine.set(false);
        }
        if let Some(s) = attr.constraint {
            refuse(
                s,
                "a UNIQUE constraint's index takes the default operator classes: drop `opclass`, or `constraint` (a \
                 unique index enforces the rule as well)"
                    .to_string(),
            );
        }
        for (column, class) in given {
            let name = class.value();
            match resolve(column) {
                Some(c) if on.contains(&c) => {
                    if operator_class_name(&name) {
                        opclass.insert(c, name);
                    } else {
                        refuse(
                            class.span(),
                            format!(
                                "`{}` is not an operator class name: lowercase letters, digits and `_`, optionally \
                                 schema-qualified (`text_pattern_ops`, `public.my_ops`)",
                                name.escape_debug()
                            ),
                        );
                    }
                }
                _ => refuse(
                    class.span(),
                    format!(
                        "`opclass` names `{column}`, which is not one of the index's columns (`on(...)`)"
                    ),
                ),
            }
        }
    }
    let mut with = Vec::new();
    if let Some(text) = &attr.with {
        if !super::check::engines_have(
            cx,
            text.span(),
            "index storage parameters (`with`)",
            &[Dialect::Postgres],
            dialects,
        ) {
            fine.set(false);
        }
        let method = method.unwrap_or("btree");
        let known = parameters(method);
        for item in text.value().split(',') {
            let Some((name, value)) = item.split_once('=') else {
                refuse(
                    text.span(),
                    format!(
                        "`with` lists `name = value` pairs, comma-separated (`fillfactor = 70`), not `{}`",
                        item.trim()
                    ),
                );
                continue;
            };
            let (name, value) = (
                name.trim().to_ascii_lowercase(),
                value.trim().to_ascii_lowercase(),
            );
            match known.iter().find(|(n, _)| *n == name) {
                None => refuse(
                    text.span(),
                    format!(
                        "a {method} index has no storage parameter `{name}`; it has {}",
                        known
                            .iter()
                            .map(|(n, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some((_, kind)) if !kind.accepts(&value) => refuse(
                    text.span(),
                    format!("`{name}` takes {}, not `{value}`", kind.expected()),
                ),
                Some(_) if with.iter().any(|(n, _)| *n == name) => {
                    refuse(text.span(), format!("`{name}` is given twice"))
                }
                Some(_) => with.push((name, value)),
            }
        }
    }
    *ok &= fine.get();
    (opclass, with)
}

/// `text_pattern_ops`, `public.my_ops`: what may be spliced (quoted) as an operator class.
fn operator_class_name(name: &str) -> bool {
    let part = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    match name.split_once('.') {
        Some((schema, class)) => part(schema) && part(class),
        None => part(name),
    }
}
