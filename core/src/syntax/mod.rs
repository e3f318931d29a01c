//! Parse and validate a `#[derive(Model)]` input (feature `syntax`): syn → [`ast`] →
//! [`check`] → [`crate::model::Model`], with every error accumulated in a [`ctxt::Ctxt`].
//! The derive and the build-time generator both call [`parse_model`]: one parser.

pub mod ast;
pub mod attr;
pub mod check;
pub mod ctxt;
pub mod history;
mod index_params;
pub mod sql;
pub mod sql_step;

use crate::dialect::Dialect;
use crate::lock::LockFile;
use crate::model::Model;

/// Parse and validate a model for the dialects enabled by the caller's features
/// (narrowed by `#[straddle(dialects(...))]`), and against the shipped history when a
/// lock is given. Every error is returned, each spanned.
pub fn parse_model(
    input: &syn::DeriveInput,
    enabled: &[Dialect],
    lock: Option<&LockFile>,
) -> Result<Model, Vec<syn::Error>> {
    let cx = ctxt::Ctxt::new();
    let model = ast::from_input(&cx, input).and_then(|decl| {
        let mut model = check::check(&cx, &decl, enabled)?;
        if let Some(lock) = lock {
            history::check(&cx, &decl, &model, lock);
            model.rollouts = lock.rollouts(&model);
        }
        Some(model)
    });
    cx.check()?;
    Ok(model.expect("no errors means a model was built"))
}

/// The `lock = "…"` container attribute, if any (a path relative to the crate root).
pub fn lock_path(input: &syn::DeriveInput) -> Option<String> {
    let cx = ctxt::Ctxt::new();
    let attrs = attr::parse_container(&cx, &input.attrs);
    let _ = cx.check();
    attrs.lock.map(|(_, p)| p)
}
