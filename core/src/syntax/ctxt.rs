//! Error accumulation (serde_derive's `Ctxt`): every stage reports into one context so
//! the user sees all problems of a declaration at once, each on its own span.

use quote::ToTokens;
use std::cell::RefCell;
use std::fmt::Display;

#[derive(Default)]
/// Where every stage reports its errors.
pub struct Ctxt {
    errors: RefCell<Option<Vec<syn::Error>>>,
    /// While above zero, errors are dropped (see [`Ctxt::muted`]).
    muted: std::cell::Cell<u32>,
    /// The keys mistyped keys most likely meant, in order (see [`Ctxt::meant`]).
    meant: RefCell<Vec<String>>,
}

impl Ctxt {
    /// An empty context.
    pub fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
            muted: std::cell::Cell::new(0),
            meant: RefCell::new(Vec::new()),
        }
    }

    /// Report an error spanning the tokens of `obj`.
    pub fn error_spanned_by<A: ToTokens, T: Display>(&self, obj: A, msg: T) {
        self.push(syn::Error::new_spanned(obj.into_token_stream(), msg));
    }

    /// Report an error at `span`.
    pub fn error_at<T: Display>(&self, span: proc_macro2::Span, msg: T) {
        self.push(syn::Error::new(span, msg));
    }

    /// Report a `syn` error.
    pub fn syn_error(&self, err: syn::Error) {
        self.push(err);
    }

    /// Run `f` with its errors dropped: checks of a declaration whose attribute was
    /// already reported malformed would only add knock-on errors (one mistake, one error).
    pub fn muted<R>(&self, f: impl FnOnce() -> R) -> R {
        self.muted.set(self.muted.get() + 1);
        let out = f();
        self.muted.set(self.muted.get() - 1);
        out
    }

    /// Record the key an unknown one most likely meant: a check that would report the
    /// absence of that key (no `table`, no `primary_key`) stays quiet.
    pub fn meant(&self, key: &str) {
        self.meant.borrow_mut().push(key.to_string());
    }

    /// The keys recorded with [`Ctxt::meant`] since `from` (a count from [`Ctxt::meant_count`]).
    pub fn meant_since(&self, from: usize) -> Vec<String> {
        self.meant.borrow()[from..].to_vec()
    }

    /// How many keys were recorded with [`Ctxt::meant`].
    pub fn meant_count(&self) -> usize {
        self.meant.borrow().len()
    }

    /// How many errors were reported so far.
    pub fn error_count(&self) -> usize {
        self.errors.borrow().as_ref().map_or(0, Vec::len)
    }

    fn push(&self, err: syn::Error) {
        if self.muted.get() > 0 {
            return;
        }
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt used after check()")
            .push(err);
    }

    /// Whether any error was reported.
    pub fn has_errors(&self) -> bool {
        self.errors.borrow().as_ref().is_some_and(|e| !e.is_empty())
    }

    /// Consume the context: `Err` with every error reported, in order.
    pub fn check(self) -> Result<(), Vec<syn::Error>> {
        let errors = self.errors.borrow_mut().take().expect("Ctxt checked twice");
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors");
        }
    }
}
