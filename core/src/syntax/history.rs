//! Checks against `straddle.lock`, the shipped history: a declaration may move each
//! change one phase forward per release, and may not lose, rename or retype a shipped
//! column behind the database's back.

use super::ast::Decl;
use super::ctxt::Ctxt;
use crate::lock::{LockFile, LockedColumn};
use crate::model::{Model, Phase};

fn shipped_type(c: &crate::model::Column) -> String {
    if c.nullable {
        format!("Option<{}>", c.ty.rust)
    } else {
        c.ty.rust.clone()
    }
}

pub fn check(cx: &Ctxt, decl: &Decl<'_>, model: &Model, lock: &LockFile) {
    let Some(table) = lock.tables.get(&model.table) else {
        return; // a table new in this release: nothing has shipped
    };
    let lock_name = crate::lock::FILE_NAME;
    let unlocked: Vec<usize> = (0..model.columns.len())
        .filter(|&i| !table.columns.contains_key(&model.columns[i].name))
        .collect();

    // With several models on one table, a column may belong to another of them: only a
    // table this struct alone maps can tell that a column vanished.
    let sole = table.model == model.rust_name;
    for (name, locked) in table.columns.iter().filter(|_| sole) {
        if model.column(name).is_some() {
            continue;
        }
        let renamed = unlocked
            .iter()
            .find(|&&i| shipped_type(&model.columns[i]) == locked.rust_type);
        match renamed {
            Some(&i) => cx.error_spanned_by(
                decl.fields[i].ident,
                format!(
                    "`{}.{name}` has shipped ({lock_name}) and `{}` looks like it renamed: renaming the field renames \
                     the column, which breaks the running version\nhelp: keep the column under the new field name with \
                     `#[straddle(column = \"{name}\")]`",
                    model.table, model.columns[i].field
                ),
            ),
            None => cx.error_spanned_by(
                decl.ident,
                format!(
                    "`{}.{name}` has shipped ({lock_name}) but `{}` has no field for it: the running version still reads \
                     and writes it\nhelp: keep the field; a column leaves the model only after a release that retires it",
                    model.table, model.rust_name
                ),
            ),
        }
    }

    for (i, column) in model.columns.iter().enumerate() {
        let field = &decl.fields[i];
        let phase_span = field
            .attrs
            .added
            .as_ref()
            .and_then(|(s, a)| a.phase.as_ref().map(|(ps, _)| *ps).or(Some(*s)));
        let declared = column.change.as_ref().map(|c| c.phase());
        match table.columns.get(&column.name) {
            None => {
                if renamed_from_locked(model, table, column) {
                    continue; // reported on the vanished column
                }
                match declared {
                    None => cx.error_spanned_by(
                        field.ident,
                        format!(
                            "`{}.{}` is not in {lock_name}: a column added to a shipped table must be declared\n\
                             help: `#[straddle(added(phase = expand, …))]`",
                            model.table, column.name
                        ),
                    ),
                    Some(p) if p != Phase::Expand => cx.error_at(
                        phase_span.expect("declared change has a span"),
                        format!(
                            "`{}.{}` has not shipped yet: its first release is `phase = expand`, not `{p}` — each phase \
                             needs its own release so the running version is never two steps behind",
                            model.table, column.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
            Some(locked) => {
                if shipped_type(column) != locked.rust_type {
                    cx.error_spanned_by(
                        field.ty,
                        format!(
                            "the type of `{}.{}` changed from `{}` ({lock_name}) to `{}` with no declared conversion: \
                             the column keeps its type and the running version still uses it\nhelp: keep the type; to \
                             change it, add a new column and backfill it with a conversion",
                            model.table,
                            column.name,
                            locked.rust_type,
                            shipped_type(column)
                        ),
                    );
                }
                check_phase(cx, model, column, locked, declared, phase_span, field.ident);
            }
        }
    }
}

fn renamed_from_locked(
    model: &Model,
    table: &crate::lock::LockedTable,
    column: &crate::model::Column,
) -> bool {
    table
        .columns
        .iter()
        .any(|(name, locked)| model.column(name).is_none() && locked.rust_type == shipped_type(column))
}

fn check_phase(
    cx: &Ctxt,
    model: &Model,
    column: &crate::model::Column,
    locked: &LockedColumn,
    declared: Option<Phase>,
    phase_span: Option<proc_macro2::Span>,
    ident: &syn::Ident,
) {
    let lock_name = crate::lock::FILE_NAME;
    let id = format!("{}.{}", model.table, column.name);
    match (locked.phase, declared) {
        (None, None) => {}
        (Some(Phase::Contract), None) => {} // settled: `added` may go
        (Some(shipped), None) => cx.error_spanned_by(
            ident,
            format!(
                "`{id}` is rolling out ({lock_name}: {shipped} shipped): keep its `added(...)` declaration until \
                 contract ships"
            ),
        ),
        (None, Some(p)) => cx.error_at(
            phase_span.expect("declared change has a span"),
            format!("`{id}` is an ordinary column in {lock_name}: it cannot be `added` (phase = {p}) again"),
        ),
        (Some(shipped), Some(p)) if p < shipped => cx.error_at(
            phase_span.expect("declared change has a span"),
            format!(
                "`{id}` goes back from {shipped} ({lock_name}) to {p}: the database is already past it\nhelp: declare \
                 `phase = {shipped}`; to undo the rollout, run `straddle down` and then change the declaration"
            ),
        ),
        (Some(shipped), Some(p)) if (p as usize) > (shipped as usize) + 1 => {
            let next = Phase::ALL[shipped as usize + 1];
            cx.error_at(
                phase_span.expect("declared change has a span"),
                format!(
                    "`{id}` jumps from {shipped} ({lock_name}) to {p}: each phase needs its own release, or the version \
                     still running is two steps behind the schema\nhelp: ship `phase = {next}` first"
                ),
            )
        }
        (Some(_), Some(_)) => {}
    }
}
