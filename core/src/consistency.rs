//! Several structs may map one table (a narrow read model beside the full one). During a
//! rollout they must describe the same physical table (and none may keep the old name of
//! a table another renames): a column one of them renames away
//! from, retires or changes must not be an ordinary column — or a differently changing
//! one — in another, or the plans would contradict each other (one drops a column the
//! other still indexes). And no two changes may share a ledger key: a column and an
//! index of one name, or `a.b`'s column `c` and `a`'s column `b.c`, would read each
//! other's ledger rows as their own. Checked by the runner before it applies anything and
//! by `straddle check`.

use crate::model::{Column, Model};

fn describe(c: &Column) -> String {
    let ty = if c.nullable {
        format!("Option<{}>", c.ty.rust)
    } else {
        c.ty.rust.clone()
    };
    match &c.change {
        Some(ch) => format!("{ty}, {} at {}", ch.kind(), ch.phase()),
        None => ty,
    }
}

/// Every contradiction between models that map the same table, as messages naming the
/// structs and the column.
pub fn conflicts(models: &[&Model]) -> Vec<String> {
    let mut out = shared_keys(models);
    // A table renamed away by one struct must not be mapped under its old name by another:
    // that one's queries would fail once contract renames it.
    for x in models {
        let Some(r) = &x.renamed else { continue };
        for y in models.iter().filter(|y| y.table == r.from) {
            out.push(format!(
                "`{}` renames table `{}` to `{}`, but `{}` still maps `{}`: its queries would fail after the rename's \
                 contract — map it to `{}` with its own `renamed(from = \"{}\", …)`",
                x.rust_name, r.from, x.table, y.rust_name, r.from, x.table, r.from
            ));
        }
    }
    for (i, a) in models.iter().enumerate() {
        for b in models[i + 1..].iter().filter(|b| b.table == a.table) {
            for ca in &a.columns {
                if let Some(cb) = b.column(&ca.name)
                    && describe(ca) != describe(cb)
                {
                    out.push(format!(
                        "`{}.{}` is `{}` in `{}` but `{}` in `{}`: structs mapping one table must declare its columns \
                         alike",
                        a.table,
                        ca.name,
                        describe(ca),
                        a.rust_name,
                        describe(cb),
                        b.rust_name
                    ));
                }
            }
            for (x, y) in [(a, b), (b, a)] {
                for c in &x.columns {
                    let Some(gone) = c.change.as_ref().and_then(|ch| ch.renamed_from()) else {
                        continue;
                    };
                    if y.column(gone).is_some() {
                        out.push(format!(
                            "`{}` renames `{}.{gone}` to `{}`, but `{}` still declares `{gone}`: its contract would \
                             drop a column `{}` uses",
                            x.rust_name, x.table, c.name, y.rust_name, y.rust_name
                        ));
                    }
                    for index in y
                        .indexes
                        .iter()
                        .filter(|i| i.columns.iter().any(|col| col == gone))
                    {
                        out.push(format!(
                            "`{}` renames `{}.{gone}` away, but `{}` indexes it (`{}`)",
                            x.rust_name, x.table, y.rust_name, index.name
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Changes of different objects whose ledger keys are equal, as messages naming both.
fn shared_keys(models: &[&Model]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, (String, crate::plan::Subject, &str)> =
        Default::default();
    let mut out = Vec::new();
    for m in models {
        for plan in crate::plan::plan_model(m) {
            match seen.get(&plan.id) {
                Some((table, subject, owner)) if (table, subject) != (&plan.table, &plan.subject) => {
                    out.push(format!(
                        "the {} `{}` of table `{}` (in `{}`) and the {} `{}` of table `{}` (in `{}`) would share the \
                         ledger key `{}`: each would read the other's ledger rows as its own — rename one of them",
                        subject.kind(),
                        subject.name(),
                        table,
                        owner,
                        plan.subject.kind(),
                        plan.subject.name(),
                        plan.table,
                        m.rust_name,
                        plan.id
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(
                        plan.id.clone(),
                        (plan.table.clone(), plan.subject.clone(), &m.rust_name),
                    );
                }
            }
        }
    }
    out
}
