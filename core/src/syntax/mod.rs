//! Parse and validate a `#[derive(Model)]` input (feature `syntax`): syn → [`ast`] →
//! [`check`] → [`crate::model::Model`], with every error accumulated in a [`ctxt::Ctxt`].
//! The derive and the build-time generator both call [`parse_model`]: one parser.

pub mod ast;
pub mod attr;
pub mod check;
pub mod ctxt;
pub mod sql;

use crate::dialect::Dialect;
use crate::model::Model;

/// Parse and validate a model for the dialects enabled by the caller's features
/// (narrowed by `#[straddle(dialects(...))]`). Every error is returned, each spanned.
pub fn parse_model(input: &syn::DeriveInput, enabled: &[Dialect]) -> Result<Model, Vec<syn::Error>> {
    let cx = ctxt::Ctxt::new();
    let model = ast::from_input(&cx, input).and_then(|decl| check::check(&cx, &decl, enabled));
    cx.check()?;
    Ok(model.expect("no errors means a model was built"))
}
