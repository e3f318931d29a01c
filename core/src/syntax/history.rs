//! Checks against `straddle.lock`, the shipped history: a declaration may move each
//! change one phase forward per release, and may not lose, rename or retype a shipped
//! column behind the database's back. Renames and retirements are the declared ways for
//! a column to change name or to leave the model.

use super::ast::Decl;
use super::ctxt::Ctxt;
use crate::lock::{
    LockFile, LockedColumn, LockedTable, check_change, check_definition, foreign_key_change,
    foreign_key_definition, index_change, index_definition,
};
use crate::model::{Change, ChangeKind, Column, Model, Phase};
use proc_macro2::Span;

fn shipped_type(c: &Column) -> String {
    if c.nullable {
        format!("Option<{}>", c.ty.rust)
    } else {
        c.ty.rust.clone()
    }
}

/// Where a field's change is declared: its `phase = …` key, else the attribute.
fn phase_span(decl: &Decl<'_>, i: usize) -> Option<Span> {
    let a = &decl.fields[i].attrs;
    let pick = |attr: Span, phase: Option<Span>| Some(phase.unwrap_or(attr));
    if let Some((s, x)) = &a.added {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.not_null {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.renamed {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.retired {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.retyped {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.nullable {
        return pick(*s, x.as_ref().map(|p| p.0));
    }
    if let Some((s, x)) = &a.default_changed {
        return pick(*s, x.phase.as_ref().map(|p| p.0));
    }
    None
}

/// Check the declaration against the shipped history in the lock (errors into `cx`).
pub fn check(cx: &Ctxt, decl: &Decl<'_>, model: &Model, lock: &LockFile) {
    check_renamed(cx, decl, model, lock);
    // A rename's first release finds the table under its previous name.
    let shipped = lock.tables.get(&model.table).or_else(|| {
        let from = &model.renamed.as_ref()?.from;
        lock.tables.get(from)
    });
    let Some(table) = shipped else {
        if let (Some(_), Some((span, r))) = (model.retired, &decl.attrs.retired) {
            cx.error_at(
                r.phase.as_ref().map(|p| p.0).unwrap_or(*span),
                format!(
                    "table `{}` is not in {}: there is nothing shipped to retire",
                    model.table,
                    crate::lock::FILE_NAME
                ),
            );
        }
        // A table new in this release: nothing of it has shipped.
        if let (Some(p), Some((span, phase))) = (model.created, &decl.attrs.created)
            && p != Phase::Expand
        {
            cx.error_at(
                phase.as_ref().map(|p| p.0).unwrap_or(*span),
                format!(
                    "table `{}` has not shipped yet: its first release is `created(phase = expand)`, not `{p}`",
                    model.table
                ),
            );
        }
        return;
    };
    check_created(cx, decl, model, table);
    let lock_name = crate::lock::FILE_NAME;
    let renamed_from = |name: &str| {
        model
            .columns
            .iter()
            .any(|c| c.change.as_ref().and_then(Change::renamed_from) == Some(name))
    };
    // Columns not in the lock that are not a declared rename: candidates for an
    // undeclared one.
    let unlocked: Vec<usize> = (0..model.columns.len())
        .filter(|&i| {
            let c = &model.columns[i];
            !table.columns.contains_key(&c.name) && !matches!(c.change, Some(Change::Rename(_)))
        })
        .collect();

    // With several models on one table, a column may belong to another of them: only a
    // table this struct alone maps can tell that a column vanished.
    let sole = table.model == model.rust_name;
    for (name, locked) in table.columns.iter().filter(|_| sole) {
        if model.column(name).is_some() || renamed_from(name) {
            continue;
        }
        match locked.shipped() {
            Some((ChangeKind::Retired, Phase::Contract)) => continue, // dropped: the field may go
            Some((ChangeKind::Retired, shipped)) => {
                cx.error_spanned_by(
                    decl.ident,
                    format!(
                        "`{}.{name}` is being retired ({lock_name}: {shipped} shipped) but `{}` has no field for it: \
                         keep the field, `retired(phase = …)`, until contract ships",
                        model.table, model.rust_name
                    ),
                );
                continue;
            }
            _ => {}
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
                     `#[straddle(column = \"{name}\")]`, or rename the column in phases with \
                     `#[straddle(renamed(from = \"{name}\", phase = expand))]`",
                    model.table, model.columns[i].field
                ),
            ),
            None => cx.error_spanned_by(
                decl.ident,
                format!(
                    "`{}.{name}` has shipped ({lock_name}) but `{}` has no field for it: the running version still reads \
                     and writes it\nhelp: keep the field and mark it `#[straddle(retired(phase = expand))]`; it leaves \
                     the model after its contract ships",
                    model.table, model.rust_name
                ),
            ),
        }
    }

    check_indexes_and_checks(cx, decl, model, table, sole);

    for (i, column) in model.columns.iter().enumerate() {
        let field = &decl.fields[i];
        let at = phase_span(decl, i);
        match table.columns.get(&column.name) {
            None => {
                if unlocked.contains(&i) && renamed_from_locked(model, table, column, sole) {
                    continue; // reported on the vanished column
                }
                match &column.change {
                    None => cx.error_spanned_by(
                        field.ident,
                        format!(
                            "`{}.{}` is not in {lock_name}: a column added to a shipped table must be declared\n\
                             help: `#[straddle(added(phase = expand, …))]`",
                            model.table, column.name
                        ),
                    ),
                    Some(Change::Retire(_)) => cx.error_at(
                        at.expect("declared change has a span"),
                        format!(
                            "`{}.{}` has not shipped ({lock_name}): there is nothing to retire — remove the field",
                            model.table, column.name
                        ),
                    ),
                    Some(ch @ (Change::Nullable(_) | Change::NotNull(_) | Change::DefaultChanged(_) | Change::CommentChanged(_))) => cx.error_at(
                        at.expect("declared change has a span"),
                        format!(
                            "`{}.{}` has not shipped ({lock_name}): it has no previous release to stay compatible \
                             with — declare it as it should be, without `{}`",
                            model.table,
                            column.name,
                            ch.kind()
                        ),
                    ),
                    Some(ch) if ch.phase() != Phase::Expand => cx.error_at(
                        at.expect("declared change has a span"),
                        format!(
                            "`{}.{}` has not shipped yet: its first release is `phase = expand`, not `{}` — each \
                             phase needs its own release so the running version is never two steps behind",
                            model.table,
                            column.name,
                            ch.phase()
                        ),
                    ),
                    Some(Change::Rename(r)) => check_rename_source(cx, model, table, column, &r.from, at),
                    Some(_) => {}
                }
            }
            Some(locked) => {
                // Retiring or making a column nullable turns `T` into `Option<T>`.
                let loosened = matches!(column.change, Some(Change::Retire(_) | Change::Nullable(_)));
                // A declared type change: the lock has the previous type until it ships.
                let declared_retype = match &column.change {
                    Some(Change::Retype(r)) => {
                        check_retype_source(cx, model, column, locked, r, at);
                        true
                    }
                    _ => false,
                };
                // Making a column NOT NULL turns `Option<T>` into `T`.
                let tightened = matches!(column.change, Some(Change::NotNull(_)))
                    && locked.rust_type == format!("Option<{}>", shipped_type(column));
                let loosened = loosened && format!("Option<{}>", locked.rust_type) == shipped_type(column);
                let retyped =
                    shipped_type(column) != locked.rust_type && !(declared_retype || tightened || loosened);
                if retyped {
                    cx.error_spanned_by(
                        field.ty,
                        format!(
                            "the type of `{}.{}` changed from `{}` ({lock_name}) to `{}` with no declared conversion: \
                             the column keeps its type and the running version still uses it\nhelp: {}",
                            model.table,
                            column.name,
                            locked.rust_type,
                            shipped_type(column),
                            type_change_help(&locked.rust_type, column)
                        ),
                    );
                }
                check_phase(cx, model, column, locked, at, field.ident);
                check_key_and_sql_type(cx, model, column, locked, field, lock.version, declared_retype);
                // The retirement's first release: the lock still has the column's own type.
                // (A retirement declared while another change is in flight is reported above.)
                let first_retire = matches!(locked.shipped(), None | Some((_, Phase::Contract)));
                if let (Some(Change::NotNull(_)), true) = (&column.change, first_retire)
                    && !locked.rust_type.starts_with("Option<")
                {
                    cx.error_at(
                        at.expect("declared change has a span"),
                        format!(
                            "`{}.{}` is NOT NULL already (`{}` in {})",
                            model.table,
                            column.name,
                            locked.rust_type,
                            crate::lock::FILE_NAME
                        ),
                    );
                }
                if let (Some(Change::Nullable(_)), true) = (&column.change, first_retire)
                    && locked.rust_type.starts_with("Option<")
                {
                    cx.error_at(
                        at.expect("declared change has a span"),
                        format!(
                            "`{}.{}` is nullable already (`{}` in {})",
                            model.table,
                            column.name,
                            locked.rust_type,
                            crate::lock::FILE_NAME
                        ),
                    );
                }
                if let (Some(Change::Retire(r)), true) = (&column.change, first_retire) {
                    check_retire_default(cx, model, column, locked, r.default.is_some(), at);
                }
            }
        }
    }
}

/// The table's rename: it starts at expand from a table that shipped under `from`, moves
/// one phase per release with the same `from`, and stays declared until its contract
/// shipped.
fn check_renamed(cx: &Ctxt, decl: &Decl<'_>, model: &Model, lock: &LockFile) {
    let lock_name = crate::lock::FILE_NAME;
    let at = decl
        .attrs
        .renamed
        .as_ref()
        .map(|(span, r)| r.phase.as_ref().map(|p| p.0).unwrap_or(*span));
    let under_new = lock.tables.get(&model.table);
    let shipped = under_new.and_then(|t| Some((t.renamed?, t.renamed_from.clone()?)));
    match (&model.renamed, shipped) {
        (None, Some((phase, from))) if phase != Phase::Contract => cx.error_spanned_by(
            decl.ident,
            format!(
                "table `{}` is being renamed from `{from}` ({lock_name}: {phase} shipped): keep `renamed(...)` until \
                 contract ships",
                model.table
            ),
        ),
        (Some(r), Some((phase, from))) if phase != Phase::Contract || r.from == from => {
            if r.from != from {
                cx.error_at(
                    at.expect("declared"),
                    format!(
                        "table `{}` shipped as renamed from `{from}` ({lock_name}: {phase} shipped): `from` cannot \
                         change mid-rollout",
                        model.table
                    ),
                );
            } else {
                check_progression(cx, &model.table, phase, r.phase, at.expect("declared"));
            }
        }
        (Some(r), _) => {
            let at = at.expect("declared");
            if under_new.is_some() {
                cx.error_at(
                    at,
                    format!(
                        "table `{}` exists in {lock_name} already: it cannot be the new name of `{}`",
                        model.table, r.from
                    ),
                );
            } else if !lock.tables.contains_key(&r.from) {
                cx.error_at(
                    at,
                    format!(
                        "table `{}` is not in {lock_name}: `{}` can only be renamed from a table that has shipped",
                        r.from, model.table
                    ),
                );
            } else if r.phase != Phase::Expand {
                cx.error_at(
                    at,
                    format!(
                        "renaming `{}` to `{}` starts at `phase = expand`, not `{}`",
                        r.from, model.table, r.phase
                    ),
                );
            }
        }
        _ => {}
    }
}

/// The table's own creation: one phase per release, declared until its contract shipped,
/// and only for a table Straddle created.
fn check_created(cx: &Ctxt, decl: &Decl<'_>, model: &Model, table: &LockedTable) {
    let lock_name = crate::lock::FILE_NAME;
    let at = decl
        .attrs
        .created
        .as_ref()
        .map(|(span, phase)| phase.as_ref().map(|p| p.0).unwrap_or(*span));
    if let (Some(p), Some((span, r))) = (model.retired, &decl.attrs.retired) {
        let at = r.phase.as_ref().map(|p| p.0).unwrap_or(*span);
        match table.retired {
            Some(shipped) => check_progression(cx, &model.table, shipped, p, at),
            None if p != Phase::Expand => cx.error_at(
                at,
                format!(
                    "retiring table `{}` starts at `phase = expand`, not `{p}`",
                    model.table
                ),
            ),
            None => {}
        }
    }
    match (table.created, model.created) {
        (Some(shipped), None) if shipped != Phase::Contract => cx.error_spanned_by(
            decl.ident,
            format!(
                "table `{}` is being created ({lock_name}: {shipped} shipped): keep `created(...)` until contract ships",
                model.table
            ),
        ),
        (None, Some(_)) => cx.error_at(
            at.expect("declared"),
            format!("table `{}` has shipped already ({lock_name}): it cannot be `created` again", model.table),
        ),
        (Some(shipped), Some(p)) => check_progression(cx, &model.table, shipped, p, at.expect("declared")),
        _ => {}
    }
}

/// A table-level object (index, check) as the lock has it or as the code declares it.
struct Object<'a> {
    name: &'a str,
    /// What it is, comparably: e.g. `added unique index on (email)`.
    definition: String,
    phase: Phase,
}

/// Table-level objects: each moves one phase per release, keeps its definition while in
/// flight, and keeps its declaration until its contract shipped.
fn check_objects(
    cx: &Ctxt,
    decl: &Decl<'_>,
    model: &Model,
    shipped: &[Object<'_>],
    declared: &[(Object<'_>, Span)],
    sole: bool,
) {
    let lock_name = crate::lock::FILE_NAME;
    for locked in shipped.iter().filter(|_| sole) {
        if locked.phase != Phase::Contract && !declared.iter().any(|(d, _)| d.name == locked.name) {
            cx.error_spanned_by(
                decl.ident,
                format!(
                    "`{}.{}` ({}) is rolling out ({lock_name}: {} shipped) but `{}` no longer declares it: keep its \
                     declaration until contract ships",
                    model.table, locked.name, locked.definition, locked.phase, model.rust_name
                ),
            );
        }
    }
    for (object, at) in declared {
        let id = format!("{}.{}", model.table, object.name);
        match shipped.iter().find(|l| l.name == object.name) {
            None if object.phase != Phase::Expand => cx.error_at(
                *at,
                format!(
                    "`{id}` has not shipped yet: its first release is `phase = expand`, not `{}`",
                    object.phase
                ),
            ),
            None => {}
            Some(locked) if locked.definition != object.definition => {
                if locked.phase != Phase::Contract {
                    cx.error_at(
                        *at,
                        format!(
                            "`{id}` shipped as {} ({lock_name}: {} shipped): its declaration cannot change \
                             mid-rollout",
                            locked.definition, locked.phase
                        ),
                    );
                } else if object.phase != Phase::Expand {
                    cx.error_at(
                        *at,
                        format!("`{id}` starts a new change: its first release is `phase = expand`"),
                    );
                }
            }
            Some(locked) => check_progression(cx, &id, locked.phase, object.phase, *at),
        }
    }
}

fn check_indexes_and_checks(cx: &Ctxt, decl: &Decl<'_>, model: &Model, table: &LockedTable, sole: bool) {
    let mut shipped: Vec<Object<'_>> = table
        .indexes
        .iter()
        .map(|(name, i)| Object {
            name,
            definition: index_change(
                i.change,
                i.unique,
                i.constraint,
                &i.columns,
                &i.options,
                i.from.as_deref(),
            ),
            phase: i.phase,
        })
        .collect();
    shipped.extend(table.checks.iter().map(|(name, c)| Object {
        name,
        definition: check_change(&c.expr, c.dropped, c.from.as_deref(), c.fix.as_deref()),
        phase: c.phase,
    }));
    shipped.extend(table.foreign_keys.iter().map(|(name, f)| Object {
        name,
        definition: foreign_key_change(&f.definition, f.dropped, f.from.as_deref(), f.fix.as_deref()),
        phase: f.phase,
    }));
    shipped.extend(table.sql.iter().map(|(name, s)| Object {
        name,
        definition: s.definition.clone(),
        phase: s.phase,
    }));
    let mut declared: Vec<(Object<'_>, Span)> = model
        .indexes
        .iter()
        .zip(&decl.attrs.indexes)
        .map(|(i, (span, attr))| {
            (
                Object {
                    name: &i.name,
                    definition: index_change(
                        i.kind(),
                        i.unique,
                        i.constraint,
                        &i.columns,
                        &crate::lock::IndexOptions::of(i),
                        i.renamed_from.as_deref(),
                    ),
                    phase: i.phase,
                },
                attr.phase.as_ref().map(|p| p.0).unwrap_or(*span),
            )
        })
        .collect();
    declared.extend(
        model
            .checks
            .iter()
            .zip(&decl.attrs.checks)
            .map(|(c, (span, attr))| {
                (
                    Object {
                        name: &c.name,
                        definition: check_change(
                            &c.expr.text,
                            c.dropped,
                            c.renamed_from.as_deref(),
                            c.fix_text().as_deref(),
                        ),
                        phase: c.phase,
                    },
                    attr.phase.as_ref().map(|p| p.0).unwrap_or(*span),
                )
            }),
    );
    declared.extend(
        model
            .foreign_keys
            .iter()
            .zip(&decl.attrs.foreign_keys)
            .map(|(f, (span, attr))| {
                (
                    Object {
                        name: &f.name,
                        definition: foreign_key_change(
                            &f.definition(),
                            f.dropped,
                            f.renamed_from.as_deref(),
                            f.fix_text().as_deref(),
                        ),
                        phase: f.phase,
                    },
                    attr.phase.as_ref().map(|p| p.0).unwrap_or(*span),
                )
            }),
    );
    declared.extend(
        model
            .sql_steps
            .iter()
            .zip(&decl.attrs.sql_steps)
            .map(|(s, (span, attr))| {
                (
                    Object {
                        name: &s.name,
                        definition: s.signature(),
                        phase: s.phase,
                    },
                    attr.phase.as_ref().map(|p| p.0).unwrap_or(*span),
                )
            }),
    );
    check_objects(cx, decl, model, &shipped, &declared, sole);
    check_dropped_as_added(cx, decl, model, table);
    check_constraint_drops(cx, decl, model, table);
}

/// A CHECK or foreign key being dropped or renamed is declared as it was added: going
/// down re-adds (or gives its name back to) what the declaration says, and that must be
/// what was there.
fn check_constraint_drops(cx: &Ctxt, decl: &Decl<'_>, model: &Model, table: &LockedTable) {
    let report = |span: Span, name: &str, renamed: bool, added: String, declared: String| {
        let what = if renamed { "rename" } else { "drop" };
        if added != declared {
            cx.error_at(
                span,
                format!(
                    "`{}.{name}` shipped as `{added}` ({}), but its {what} declares `{declared}`: declare it as it \
                     was added, so that going down restores it",
                    model.table,
                    crate::lock::FILE_NAME
                ),
            );
        }
    };
    // A renamed one is looked up under its previous name, and declared as it is too.
    for (c, (span, _)) in model.checks.iter().zip(&decl.attrs.checks) {
        let Some(name) = c.renamed_from.as_ref().or(c.dropped.then_some(&c.name)) else {
            continue;
        };
        let shipped = table
            .checks
            .get(name)
            .filter(|l| !l.dropped && l.from.is_none())
            .map(|l| check_definition(&l.expr, false, None));
        if let Some(added) = constraint_as_added(shipped, table.completed.checks.get(name)) {
            report(
                *span,
                name,
                c.renamed_from.is_some(),
                added,
                check_definition(&c.expr.text, false, None),
            );
        }
    }
    for (f, (span, _)) in model.foreign_keys.iter().zip(&decl.attrs.foreign_keys) {
        let Some(name) = f.renamed_from.as_ref().or(f.dropped.then_some(&f.name)) else {
            continue;
        };
        let shipped = table
            .foreign_keys
            .get(name)
            .filter(|l| !l.dropped && l.from.is_none())
            .map(|l| foreign_key_definition(&l.definition, false, None));
        if let Some(added) = constraint_as_added(shipped, table.completed.foreign_keys.get(name)) {
            report(
                *span,
                name,
                f.renamed_from.is_some(),
                added,
                foreign_key_definition(&f.definition(), false, None),
            );
        }
    }
}

/// How the lock has an object added: its shipped addition (in flight, or settled and still
/// declared), else its newest completed rollout when that one added it (not a drop or a
/// rename).
fn as_added(shipped: Option<String>, completed: Option<&Vec<String>>) -> Option<String> {
    shipped.or_else(|| {
        completed
            .and_then(|r| r.last())
            .filter(|d| !d.starts_with("dropped ") && !d.starts_with("renamed "))
            .cloned()
    })
}

/// How the lock has a CHECK or foreign key added: as [`as_added`], and where its newest
/// completed rollout renamed it, the definition it was renamed with (`renamed CHECK (…)
/// from old` → `CHECK (…)`): a constraint keeps its definition through a rename.
fn constraint_as_added(shipped: Option<String>, completed: Option<&Vec<String>>) -> Option<String> {
    let added = shipped.or_else(|| {
        let last = completed?.last()?;
        match last.strip_prefix("renamed ") {
            Some(renamed) => renamed.rsplit_once(" from ").map(|(d, _)| d.to_string()),
            None => as_added(None, completed),
        }
    })?;
    // How it was added, not how its violations were fixed then.
    Some(match added.split_once(crate::lock::FIXING) {
        Some((definition, _)) => definition.to_string(),
        None => added,
    })
}

/// An index being dropped is declared the way it was added: a UNIQUE constraint's index
/// with `unique, constraint` (PostgreSQL refuses to drop the index a constraint owns; the
/// constraint is dropped, and going down it is restored), a unique index with `unique`.
fn check_dropped_as_added(cx: &Ctxt, decl: &Decl<'_>, model: &Model, table: &LockedTable) {
    for (i, (span, _)) in model.indexes.iter().zip(&decl.attrs.indexes) {
        if !i.dropped {
            continue;
        }
        let shipped = table
            .indexes
            .get(&i.name)
            .filter(|l| l.change == ChangeKind::Added)
            .map(|l| index_definition(ChangeKind::Added, l.unique, l.constraint, &l.columns));
        let shipped_key = table
            .indexes
            .get(&i.name)
            .filter(|l| l.change == ChangeKind::Added)
            .is_some_and(|l| l.options.primary_key);
        let Some(added) = as_added(shipped, table.completed.indexes.get(&i.name)) else {
            continue;
        };
        if shipped_key || added.contains(" as the primary key") {
            cx.error_at(
                *span,
                format!(
                    "`{}.{}` shipped as the table's primary key ({}): Straddle has no phased path that drops a \
                     primary key, and the running version finds its rows by it",
                    model.table,
                    i.name,
                    crate::lock::FILE_NAME
                ),
            );
            continue;
        }
        // Options (`including (…)`, …) may follow: the flags are read where they stand.
        let (unique, constraint) = (
            added.contains(" unique index "),
            added.contains(" as a constraint"),
        );
        if (unique, constraint) != (i.unique, i.constraint) {
            let wanted = match (unique, constraint) {
                (true, true) => "`unique, constraint`",
                (true, false) => "`unique` (without `constraint`)",
                _ => "neither `unique` nor `constraint`",
            };
            cx.error_at(
                *span,
                format!(
                    "`{}.{}` shipped as `{added}` ({}): declare its drop with {wanted}, as it was added",
                    model.table,
                    i.name,
                    crate::lock::FILE_NAME
                ),
            );
        }
    }
}

/// One phase forward per release, never back.
fn check_progression(cx: &Ctxt, id: &str, shipped: Phase, p: Phase, at: Span) {
    let lock_name = crate::lock::FILE_NAME;
    if p < shipped {
        cx.error_at(
            at,
            format!(
                "`{id}` goes back from {shipped} ({lock_name}) to {p}: the database is already past it\nhelp: declare \
                 `phase = {shipped}`; to undo the rollout, run `straddle down` and then change the declaration"
            ),
        )
    } else if (p as usize) > (shipped as usize) + 1 {
        let next = Phase::ALL[shipped as usize + 1];
        cx.error_at(
            at,
            format!(
                "`{id}` jumps from {shipped} ({lock_name}) to {p}: each phase needs its own release, or the version \
                 still running is two steps behind the schema\nhelp: ship `phase = {next}` first"
            ),
        )
    }
}

/// A rename's first release: the old column must have shipped, with the same type.
fn check_rename_source(
    cx: &Ctxt,
    model: &Model,
    table: &LockedTable,
    column: &Column,
    from: &str,
    at: Option<Span>,
) {
    let lock_name = crate::lock::FILE_NAME;
    let at = at.expect("declared change has a span");
    match table.columns.get(from) {
        None => cx.error_at(
            at,
            format!(
                "`{}.{from}` is not in {lock_name}: `{}` can only be renamed from a column that has shipped",
                model.table, column.name
            ),
        ),
        Some(old) if old.rust_type != shipped_type(column) => cx.error_at(
            at,
            format!(
                "`{}.{from}` is `{}` ({lock_name}) but `{}` is `{}`: a rename keeps the type (change the type in a \
                 release of its own)",
                model.table,
                old.rust_type,
                column.name,
                shipped_type(column)
            ),
        ),
        Some(_) => {}
    }
}

/// The declared way to get from the shipped type to the field's.
fn type_change_help(locked: &str, column: &Column) -> String {
    let inner = |t: &str| {
        t.strip_prefix("Option<")
            .and_then(|t| t.strip_suffix('>'))
            .map(str::to_string)
            .unwrap_or_else(|| t.to_string())
    };
    let was_nullable = locked.starts_with("Option<");
    match (inner(locked) == column.ty.rust, was_nullable, column.nullable) {
        (true, false, true) => {
            "make it nullable in phases with `#[straddle(nullable(phase = expand))]`".to_string()
        }
        (true, _, _) => {
            format!("keep `{locked}`: enforcing NOT NULL on a shipped column is not a declared change yet")
        }
        (false, a, b) if a == b => format!(
            "change it in phases with `#[straddle(retyped(from = \"{}\", phase = expand))]` (add `up`/`down` for \
             a conversion of your own)",
            inner(locked)
        ),
        (false, _, _) => format!(
            "change the type first, keeping `{locked}`'s nullability, with `#[straddle(retyped(from = \"{}\", \
             phase = expand))]`, and the nullability in a later change",
            inner(locked)
        ),
    }
}

/// A type change: its first release starts from the type the lock has (`from`, with the
/// column's nullability); later releases find the new type there, with the same `from`.
fn check_retype_source(
    cx: &Ctxt,
    model: &Model,
    column: &Column,
    locked: &LockedColumn,
    r: &crate::model::RetypeColumn,
    at: Option<Span>,
) {
    let lock_name = crate::lock::FILE_NAME;
    let from = if column.nullable {
        format!("Option<{}>", r.from.rust)
    } else {
        r.from.rust.clone()
    };
    let in_flight = matches!(locked.shipped(), Some((ChangeKind::Retyped, p)) if p != Phase::Contract);
    let expected = if in_flight {
        shipped_type(column)
    } else {
        from.clone()
    };
    if locked.rust_type != expected {
        cx.error_at(
            at.expect("declared change has a span"),
            format!(
                "`{}.{}` is `{}` ({lock_name}), but the declaration retypes it from `{from}` to `{}`: `from` is the \
                 type that shipped, and a retyped column keeps its nullability",
                model.table,
                column.name,
                locked.rust_type,
                shipped_type(column)
            ),
        );
    }
}

/// A retirement's first release: a NOT NULL column needs a default (rows this release
/// inserts must stay readable by the previous one); a nullable one must not get one.
fn check_retire_default(
    cx: &Ctxt,
    model: &Model,
    column: &Column,
    locked: &LockedColumn,
    has_default: bool,
    at: Option<Span>,
) {
    let lock_name = crate::lock::FILE_NAME;
    let at = at.expect("declared change has a span");
    let nullable = locked.rust_type.starts_with("Option<");
    if !nullable && !has_default {
        cx.error_at(
            at,
            format!(
                "`{}.{}` is NOT NULL (`{}` in {lock_name}): rows this release inserts without it would fail, and the \
                 running version cannot read them without a value\nhelp: give it a default for the retirement: \
                 `retired(phase = expand, default = …)`",
                model.table, column.name, locked.rust_type
            ),
        );
    } else if nullable && has_default {
        cx.error_at(
            at,
            format!(
                "`{}.{}` is nullable (`{}` in {lock_name}): rows written without it read as NULL, so it needs no \
                 default — remove `default`",
                model.table, column.name, locked.rust_type
            ),
        );
    }
}

fn renamed_from_locked(model: &Model, table: &LockedTable, column: &Column, sole: bool) -> bool {
    sole && table
        .columns
        .iter()
        .any(|(name, locked)| model.column(name).is_none() && locked.rust_type == shipped_type(column))
}

fn check_phase(
    cx: &Ctxt,
    model: &Model,
    column: &Column,
    locked: &LockedColumn,
    at: Option<Span>,
    ident: &syn::Ident,
) {
    let lock_name = crate::lock::FILE_NAME;
    let id = format!("{}.{}", model.table, column.name);
    let declared = column.change.as_ref().map(|c| (c.kind(), c.phase()));
    let at = || at.expect("declared change has a span");
    let declared_from = column.change.as_ref().and_then(Change::from_key);
    // The declaration continues the shipped change (same kind, same rename source or
    // previous type).
    let continues = |lk: ChangeKind, k: ChangeKind| {
        lk == k
            && (!matches!(k, ChangeKind::Renamed | ChangeKind::Retyped)
                || locked.from.as_deref() == declared_from)
    };
    match (locked.shipped(), declared) {
        (None, None) => {}
        (Some((_, Phase::Contract)), None) => {} // settled: the declaration may go
        (Some((kind, shipped)), None) => cx.error_spanned_by(
            ident,
            format!(
                "`{id}` is rolling out ({lock_name}: {kind} {shipped} shipped): keep its `{kind}(...)` declaration \
                 until contract ships"
            ),
        ),
        (Some((lk, shipped)), Some((k, p))) if continues(lk, k) => check_progression(cx, &id, shipped, p, at()),
        (Some((lk, shipped)), Some((k, _))) if shipped != Phase::Contract => {
            let what = if lk == k {
                format!(
                    "`{id}` shipped as {k} from `{}` ({lock_name}: {shipped} shipped): `from` cannot change \
                     mid-rollout",
                    locked.from.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "`{id}` is being {lk} ({lock_name}: {shipped} shipped): it cannot be {k} until that change's \
                     contract ships"
                )
            };
            cx.error_at(at(), what)
        }
        // A new change on an ordinary or settled column.
        (_, Some((ChangeKind::Added, p))) => cx.error_at(
            at(),
            format!("`{id}` exists in {lock_name}: it cannot be `added` (phase = {p}) again"),
        ),
        (_, Some((k, p))) if p != Phase::Expand => cx.error_at(
            at(),
            format!(
                "`{id}` starts being {k} in this release: its first release is `phase = expand`, not `{p}` — each \
                 phase needs its own release"
            ),
        ),
        (_, Some(_)) => {}
    }
}

/// A shipped column's primary key membership and declared column type (`sql_type`) stay as
/// they shipped unless a change says otherwise: no phased path changes a primary key, and
/// a column type changes through `retyped(from_sql_type = …)`. (Version 1 locks did not
/// record declared types: those are checked once `straddle generate` has rewritten it.)
fn check_key_and_sql_type(
    cx: &Ctxt,
    model: &Model,
    column: &crate::model::Column,
    locked: &crate::lock::LockedColumn,
    field: &crate::syntax::ast::FieldDecl<'_>,
    lock_version: u32,
    declared_retype: bool,
) {
    let lock_name = crate::lock::FILE_NAME;
    if locked.primary_key != column.primary_key {
        cx.error_spanned_by(
            field.ident,
            format!(
                "`{}.{}` {} part of the primary key, and {} when it shipped ({lock_name}): Straddle has no phased \
                 path for changing a table's primary key, and the running version keys its rows by the old one\n\
                 help: {} `primary_key` on this field",
                model.table,
                column.name,
                if column.primary_key { "is now" } else { "is no longer" },
                if locked.primary_key { "was" } else { "was not" },
                if column.primary_key { "remove" } else { "put back" },
            ),
        );
    }
    if locked.identity != column.identity {
        cx.error_spanned_by(
            field.ident,
            format!(
                "`{}.{}` {} `identity`, and {} when it shipped ({lock_name}): whether the database generates the key \
                 is what the table has — the running version inserts by it — and Straddle has no phased path that \
                 changes it\nhelp: {} `identity` on this field",
                model.table,
                column.name,
                if column.identity { "is now" } else { "is no longer" },
                if locked.identity { "was" } else { "was not" },
                if column.identity { "remove" } else { "put back" },
            ),
        );
    }
    if lock_version < 2 || declared_retype {
        return;
    }
    let now = crate::lock::declared_sql_types(column);
    for dialect in column.ty.sql.keys() {
        let key = dialect.key();
        let (was, is) = (locked.sql_type.get(key), now.get(key));
        if was == is {
            continue;
        }
        let shown = |t: Option<&String>| match t {
            Some(t) => format!("`{t}`"),
            None => format!(
                "the default for `{}` (`{}`)",
                column.ty.rust,
                crate::types::sql_type(*dialect, &column.ty.rust).unwrap_or("?")
            ),
        };
        let from = was
            .cloned()
            .or_else(|| crate::types::sql_type(*dialect, &column.ty.rust).map(str::to_string))
            .unwrap_or_default();
        cx.error_spanned_by(
            field.ident,
            format!(
                "the column type of `{}.{}` on {} changed from {} ({lock_name}) to {} with no declared conversion: \
                 the column keeps its type in the database and the running version still uses it\n\
                 help: change it in phases with `#[straddle(retyped(from_sql_type({key} = \"{from}\"), phase = \
                 expand))]`, or put the previous `sql_type` back",
                model.table,
                column.name,
                dialect,
                shown(was),
                shown(is),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lock::LockFile;

    /// A UNIQUE constraint's index that also stores a column (`include`) was added as a
    /// constraint: dropping it as one is accepted, dropping it as a plain unique index is
    /// not (the lock's signature carries the option after `as a constraint`).
    #[test]
    fn a_constraint_index_with_options_is_dropped_as_it_was_added() {
        let lock = LockFile::parse(
            "version = 1\n[tables.users]\nmodel = \"User\"\n\
             [tables.users.columns.id]\ntype = \"i64\"\nprimary_key = true\n\
             [tables.users.columns.email]\ntype = \"String\"\n\
             [tables.users.columns.bio]\ntype = \"String\"\n\
             [tables.users.completed.indexes]\n\
             users_email_key = [\"added unique index on (email) as a constraint including (bio)\"]\n",
        )
        .unwrap();
        let as_constraint: syn::DeriveInput = syn::parse_quote! {
            #[straddle(
                table = "users",
                dialects(postgres),
                dropped_index(name = "users_email_key", on(email), unique, constraint, include(bio), phase = expand)
            )]
            struct User {
                #[straddle(primary_key)]
                id: i64,
                email: String,
                bio: String,
            }
        };
        let parsed = crate::syntax::parse_model(&as_constraint, &[Dialect::Postgres], Some(&lock));
        assert!(
            parsed.is_ok(),
            "{:?}",
            parsed
                .err()
                .map(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        );
        let as_plain: syn::DeriveInput = syn::parse_quote! {
            #[straddle(
                table = "users",
                dialects(postgres),
                dropped_index(name = "users_email_key", on(email), unique, include(bio), phase = expand)
            )]
            struct User {
                #[straddle(primary_key)]
                id: i64,
                email: String,
                bio: String,
            }
        };
        let errors = crate::syntax::parse_model(&as_plain, &[Dialect::Postgres], Some(&lock)).unwrap_err();
        assert!(
            errors[0]
                .to_string()
                .contains("declare its drop with `unique, constraint`"),
            "{}",
            errors[0]
        );
    }

    /// A CHECK renamed in a completed rollout is dropped, later, as it was added under its
    /// old name: the definition carries through the rename.
    #[test]
    fn a_renamed_check_is_dropped_as_it_was_added() {
        let lock = LockFile::parse(
            "version = 2\n[tables.orders]\nmodel = \"Order\"\n\
             [tables.orders.columns.id]\ntype = \"i64\"\nprimary_key = true\n\
             [tables.orders.columns.amount]\ntype = \"i64\"\n\
             [tables.orders.completed.checks]\n\
             orders_amount_min = [\"renamed CHECK (amount >= 0) from orders_amount_check\"]\n",
        )
        .unwrap();
        let drop = |expr: &str| -> Result<crate::model::Model, Vec<syn::Error>> {
            let input: syn::DeriveInput = syn::parse_str(&format!(
                "#[straddle(table = \"orders\", dialects(postgres), \
                 dropped_check(name = \"orders_amount_min\", expr = \"{expr}\", phase = expand))] \
                 struct Order {{ #[straddle(primary_key)] id: i64, amount: i64 }}"
            ))
            .unwrap();
            crate::syntax::parse_model(&input, &[Dialect::Postgres], Some(&lock))
        };
        assert!(drop("amount >= 0").is_ok());
        let errors: Vec<String> = drop("amount > 0")
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("shipped as `CHECK (amount >= 0)`")),
            "{errors:?}"
        );
    }
}
