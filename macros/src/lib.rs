#![warn(missing_docs)]
//! `#[derive(straddle::Model)]`: a thin shim over `straddle-core`'s parser and checks.
//! Use it through the `straddle` crate, which documents the attribute grammar.

use proc_macro::TokenStream;
use quote::quote;
use straddle_core::Dialect;
use straddle_core::lock::LockFile;

/// Declare a table model and the schema changes in flight on it. See the `straddle`
/// crate documentation for the attribute grammar.
#[proc_macro_derive(Model, attributes(straddle))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand(&input).into()
}

/// Embed the crate's `migrations/` folder (or the folder given, relative to the crate
/// root) in the binary: `static MIGRATIONS: straddle::Migrations = straddle::migrations!();`
/// Every file is `include_str!`-tracked, so editing one rebuilds.
#[proc_macro]
pub fn migrations(input: TokenStream) -> TokenStream {
    let rel = if input.is_empty() {
        "migrations".to_string()
    } else {
        match syn::parse::<syn::LitStr>(input) {
            Ok(lit) => lit.value(),
            Err(e) => return e.to_compile_error().into(),
        }
    };
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let dir = root.join(&rel);
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "sql") {
                let key = path
                    .strip_prefix(&dir)
                    .expect("inside the folder")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((key, path.to_string_lossy().into_owned()));
            }
        }
    }
    files.sort();
    let entries = files
        .iter()
        .map(|(key, abs)| quote! { (#key, ::std::include_str!(#abs)) });
    let folder = dir.to_string_lossy().into_owned();
    quote! { ::straddle::Migrations::embedded(#folder, &[#(#entries),*]) }.into()
}

/// The dialects enabled through the `straddle` crate's features.
fn enabled_dialects() -> Vec<Dialect> {
    let mut out = Vec::new();
    if cfg!(feature = "postgres") {
        out.push(Dialect::Postgres);
    }
    if cfg!(feature = "mysql") {
        out.push(Dialect::MySql);
    }
    if cfg!(feature = "sqlite") {
        out.push(Dialect::Sqlite);
    }
    out
}

/// The shipped history: `straddle.lock` at the crate root, or where `lock = "…"` says.
/// Returns the lock (if any), an error to report, and the file to track for rebuilds.
fn load_lock(input: &syn::DeriveInput) -> (Option<LockFile>, Option<syn::Error>, Option<String>) {
    let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") else {
        return (None, None, None);
    };
    let explicit = straddle_core::syntax::lock_path(input);
    let path =
        std::path::Path::new(&root).join(explicit.as_deref().unwrap_or(straddle_core::lock::FILE_NAME));
    let shown = std::fs::canonicalize(&path)
        .unwrap_or(path.clone())
        .display()
        .to_string();
    match LockFile::read(&path) {
        Ok(Some(lock)) => (Some(lock), None, Some(shown)),
        // No lock: a fresh project, nothing has shipped.
        Ok(None) if explicit.is_none() => (None, None, None),
        Ok(None) => (
            None,
            Some(syn::Error::new_spanned(
                &input.ident,
                format!("no lock file at {shown}"),
            )),
            None,
        ),
        Err(e) => (
            None,
            Some(syn::Error::new_spanned(&input.ident, format!("{e} ({shown})"))),
            Some(shown),
        ),
    }
}

fn expand(input: &syn::DeriveInput) -> proc_macro2::TokenStream {
    let ident = &input.ident;
    let (lock, lock_error, tracked) = load_lock(input);
    // Editing the lock re-runs this derive.
    let track = tracked.map(|path| quote! { const _: &[u8] = ::std::include_bytes!(#path); });
    let parsed = match lock_error {
        Some(e) => Err(vec![e]),
        None => straddle_core::syntax::parse_model(input, &enabled_dialects(), lock.as_ref()),
    };
    // The definition is a static beside the impl, registered for the fleet registry
    // (`straddle::linked_models`) by address: no function per model to compile for it.
    let (model_body, linked, errors) = match parsed {
        Ok(model) => {
            let json = model.to_json();
            (
                quote! { MODEL.get() },
                Some(quote! {
                    static MODEL: ::straddle::__private::LazyModel = ::straddle::__private::LazyModel::new(#json);
                    ::straddle::__private::inventory::submit! {
                        ::straddle::__private::ModelEntry(&MODEL)
                    }
                }),
                Vec::new(),
            )
        }
        // Fallback expansion: the trait impls still exist, so code using the model
        // reports only the declaration's errors, not a cascade of missing impls.
        Err(errors) => (quote! { ::std::unreachable!() }, None, errors),
    };
    let errors = errors.iter().map(syn::Error::to_compile_error);

    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(named),
        ..
    }) = &input.data
    else {
        return quote! { #(#errors)* };
    };
    if !input.generics.params.is_empty() {
        return quote! { #(#errors)* };
    }
    let fields: Vec<&syn::Ident> = named.named.iter().filter_map(|f| f.ident.as_ref()).collect();
    let names: Vec<String> = fields
        .iter()
        .map(|f| f.to_string().trim_start_matches("r#").to_string())
        .collect();
    let types: Vec<&syn::Type> = named.named.iter().map(|f| &f.ty).collect();
    let (refs_type, refs) = nested(
        fields
            .iter()
            .zip(&types)
            .map(|(field, ty)| (quote! { &'a #ty }, quote! { &self.#field })),
    );
    let bindings: Vec<syn::Ident> = (0..fields.len())
        .map(|i| quote::format_ident!("__field{i}"))
        .collect();
    let (cols_type, cols_pattern) = nested(bindings.iter().zip(&types).map(|(binding, ty)| {
        (
            quote! { ::straddle::__private::Col<#ty> },
            quote! { ::straddle::__private::Col(#binding) },
        )
    }));

    quote! {
        #(#errors)*
        #track

        const _: () = {
            #linked

            impl ::straddle::Model for #ident {
                #[inline]
                fn definition() -> &'static ::straddle::ir::Model {
                    #model_body
                }
            }

            impl ::straddle::Fields for #ident {
                type Refs<'a> = #refs_type;
                #[inline]
                fn field_refs(&self) -> Self::Refs<'_> {
                    #refs
                }
            }

            impl<'r, R: ::straddle::sqlx::Row> ::straddle::sqlx::FromRow<'r, R> for #ident
            where
                #cols_type: ::straddle::__private::DecodeFields<'r, R>,
            {
                fn from_row(row: &'r R) -> ::std::result::Result<Self, ::straddle::sqlx::Error> {
                    let #cols_pattern =
                        <#cols_type as ::straddle::__private::DecodeFields<'r, R>>::decode(row, &[#(#names),*])?;
                    ::std::result::Result::Ok(Self { #( #fields: #bindings, )* })
                }
            }
        };
    }
}

/// A tuple type and its value (expression or pattern) from one (type, value) per field,
/// in declaration order, nested in tuples of at most `GROUP` elements: the largest tuple
/// the runtime implements `BindRefs` and `DecodeFields` for.
fn nested(
    leaves: impl Iterator<Item = (proc_macro2::TokenStream, proc_macro2::TokenStream)>,
) -> (proc_macro2::TokenStream, proc_macro2::TokenStream) {
    const GROUP: usize = 12;
    let mut level: Vec<(proc_macro2::TokenStream, proc_macro2::TokenStream)> = leaves.collect();
    while level.len() > GROUP {
        level = level
            .chunks(GROUP)
            .map(|chunk| {
                let (tys, values): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
                (quote! { (#(#tys,)*) }, quote! { (#(#values,)*) })
            })
            .collect();
    }
    let (tys, values): (Vec<_>, Vec<_>) = level.into_iter().unzip();
    (quote! { (#(#tys,)*) }, quote! { (#(#values,)*) })
}
